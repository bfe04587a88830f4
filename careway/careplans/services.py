"""Every write to care plans, as named use cases (each one transaction with its audit event).

Callers (pages, the JSON API, imports, the demo) check access first with careway.patients.access
and pass the plan or the row they were given. Each change to a plan's content makes a new
revision, kept whole with its author, time, summary and reason (careway/careplans/revisions.py);
changing a row names the version the person edited, and a stale one is a conflict (VersionConflict)
that writes nothing. Adding a row never conflicts: two people adding goals both keep theirs.

A goal's achievement is computed here from the chart's evidence: when the goal is set and each
time the evidence changes (`recompute_goals_for`, the listener careway.patients.evidence calls),
and for a whole agency by the background task of careway/careplans/tasks.py (a goal falls due, a
reading grows stale, without anything new on the chart).
"""

from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import date, timedelta
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import Organization, User
from careway.core.writes import service
from careway.patients import history
from careway.patients import services as patient_services
from careway.patients.display import plain_name
from careway.patients.models import (
    CareTeamMember,
    Condition,
    Encounter,
    EpisodeOfCare,
    Patient,
    PatientFlag,
    RelatedPerson,
    Task,
)
from careway.patients.services import assign_fields, save_versioned, validate_record

from . import agency_content, evidence, measures, plan_templates, revisions, suggestions
from .frequency import FrequencyError, parse
from .models import (
    AgencyTemplate,
    CarePlan,
    CarePlanRevision,
    DisciplineFrequency,
    Goal,
    Intervention,
    Problem,
    Suggestion,
)

OPEN_EPISODE = (
    EpisodeOfCare.Status.REFERRED,
    EpisodeOfCare.Status.ACTIVE,
    EpisodeOfCare.Status.ON_HOLD,
)
CLOSED_PLAN = (
    CarePlan.Status.COMPLETED,
    CarePlan.Status.REVOKED,
    CarePlan.Status.ENTERED_IN_ERROR,
)
# Goals whose achievement is followed (a proposed goal is too: the team sees how it would go).
FOLLOWED_GOALS = (Goal.Lifecycle.PROPOSED, Goal.Lifecycle.ACTIVE)
# The recertification assessment is due in days 56 to 60 of a 60-day episode (42 CFR 484.55(d)):
# the plan's review falls due at its start.
REVIEW_DAY = 56
REASON_LIMIT = 2000


# --- the plan ------------------------------------------------------------------------------------


@service
def start_plan(
    actor: audit.Actor,
    patient: Patient,
    *,
    episode: EpisodeOfCare | None = None,
    data: Mapping[str, Any] | None = None,
    reason: str = "",
) -> CarePlan:
    """Start the care plan of the patient's current episode (a draft, revision 1)."""
    episode = episode or current_episode(patient)
    if episode is None or episode.patient_id != patient.pk:
        raise ValidationError({"episode": "The patient has no open episode of care to plan for."})
    if CarePlan.objects.filter(episode=episode).exclude(status=CarePlan.Status.ENTERED_IN_ERROR):
        raise ValidationError({"episode": "This episode has a care plan already: revise it."})
    plan = CarePlan(
        organization_id=patient.organization_id,
        patient=patient,
        episode=episode,
        created_by=actor.user,
        review_due=_review_day(episode),
        review_reason=RECERTIFICATION,
    )
    assign_fields(plan, dict(data or {}))
    validate_record(plan)
    plan.save(force_insert=True)
    audit.record(actor, "careplan.create", patient_id=patient.pk, obj=plan)
    _revise(actor, plan, "Plan started", reason)
    return plan


def current_episode(patient: Patient) -> EpisodeOfCare | None:
    """The patient's open episode (the latest, should there be more than one)."""
    return (
        EpisodeOfCare.objects.filter(patient=patient, status__in=OPEN_EPISODE)
        .order_by("-start_of_care", "-created_at")
        .first()
    )


def _review_day(episode: EpisodeOfCare) -> date:
    start = episode.start_of_care or timezone.localdate()
    return start + timedelta(days=REVIEW_DAY - 1)


@service
def update_plan(
    actor: audit.Actor,
    plan: CarePlan,
    data: Mapping[str, Any],
    expected_version: int,
    reason: str = "",
) -> CarePlan:
    """Change the plan's title, status or review date. Putting a plan in effect makes its
    proposed goals active; entered in error needs a reason."""
    reason = _reason(reason)
    if data.get("status") == CarePlan.Status.ENTERED_IN_ERROR and not reason:
        raise ValidationError({"reason": "Say why this plan was entered in error."})
    if set(data) - {"title", "status", "review_due"}:
        raise ValidationError({f: "This field cannot be set here." for f in data})
    changed = save_versioned(
        actor, plan, data, expected_version, "careplan.update", plan.patient_id, reason=reason
    )
    if data.get("status") == CarePlan.Status.ACTIVE:
        Goal.objects.filter(plan=changed, lifecycle_status=Goal.Lifecycle.PROPOSED).update(
            lifecycle_status=Goal.Lifecycle.ACTIVE, updated_at=timezone.now()
        )
    summary = f"Plan {changed.get_status_display().lower()}" if "status" in data else "Plan edited"
    _revise(actor, changed, summary, reason)
    return changed


def _revise(actor: audit.Actor, plan: CarePlan, summary: str, reason: str) -> CarePlanRevision:
    """Keep the plan as it now stands as its next revision (the plan row is locked, so two
    people's changes get two numbers, in order)."""
    locked = CarePlan.objects.select_for_update().get(pk=plan.pk)
    locked.revision += 1
    locked.updated_at = timezone.now()
    locked.save(update_fields=["revision", "updated_at"])
    plan.revision, plan.updated_at = locked.revision, locked.updated_at
    revision = CarePlanRevision.objects.create(
        organization_id=locked.organization_id,
        patient_id=locked.patient_id,
        plan=locked,
        number=locked.revision,
        author=actor.user,
        summary=summary[:300],
        reason=reason,
        content=revisions.content_of(locked),
    )
    audit.record(
        actor,
        "careplan.revise",
        patient_id=locked.patient_id,
        obj=locked,
        reason=reason,
        detail={"revision": revision.number, "summary": revision.summary},
    )
    return revision


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) > REASON_LIMIT:
        raise ValidationError({"reason": f"Keep the reason under {REASON_LIMIT} characters."})
    return reason


def _open(plan: CarePlan) -> None:
    if plan.status in CLOSED_PLAN:
        raise ValidationError(
            {"plan": f"This plan is {plan.get_status_display().lower()}; it cannot be revised."}
        )


def _add(actor: audit.Actor, model: type[Any], plan: CarePlan, data: Mapping[str, Any]) -> Any:
    _open(plan)
    row = model(organization_id=plan.organization_id, patient_id=plan.patient_id, plan=plan)
    assign_fields(row, _without(data, "plan"))
    return row


def _without(data: Mapping[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        if name in data or f"{name}_id" in data:
            raise ValidationError({name: "This field cannot be set."})
    return dict(data)


def _update(
    actor: audit.Actor,
    row: Any,
    data: Mapping[str, Any],
    expected_version: int,
    noun: str,
    check: Any,
    reason: str,
) -> Any:
    plan = row.plan
    _open(plan)
    reason = _reason(reason)
    if data.get("status", data.get("lifecycle_status")) == "entered-in-error" and not reason:
        raise ValidationError({"reason": f"Say why this {noun} was entered in error."})
    locked = type(row)._default_manager.select_for_update().get(pk=row.pk)
    if locked.version != expected_version:
        raise VersionConflict(locked, expected_version)
    if "entered-in-error" in (
        getattr(locked, "status", ""),
        getattr(locked, "lifecycle_status", ""),
    ):
        raise ValidationError(f"This {noun} was entered in error; it cannot be changed.")
    before = history.snapshot(locked)
    fields = assign_fields(locked, _without(data, "plan"))
    check(locked)
    if fields:
        history.keep([before])
        locked.version += 1
        locked.updated_at = timezone.now()
        locked.save()
        audit.record(
            actor,
            f"careplan.{noun}.update",
            patient_id=locked.patient_id,
            obj=locked,
            reason=reason,
            detail={"fields": sorted(fields), "version": locked.version},
        )
    return locked


# --- problems ------------------------------------------------------------------------------------


@service
def add_problem(
    actor: audit.Actor, plan: CarePlan, data: Mapping[str, Any], reason: str = ""
) -> Problem:
    """A problem written freely, or linked to a condition, a flag or an assessment finding of the
    patient (its words are the linked record's unless given)."""
    problem = _add(actor, Problem, plan, data)
    _check_problem(problem)
    problem.position = Problem.objects.filter(plan=plan).count()
    problem.save(force_insert=True)
    audit.record(actor, "careplan.problem.create", patient_id=plan.patient_id, obj=problem)
    _revise(actor, plan, f"Problem added: {problem.text}", _reason(reason))
    return problem


def _check_problem(problem: Problem) -> None:
    links = [
        (Problem.Source.CONDITION, problem.condition_id, Condition),
        (Problem.Source.FLAG, problem.flag_id, PatientFlag),
        (Problem.Source.FINDING, problem.finding_id, _finding_model()),
    ]
    given = [(source, pk, model) for source, pk, model in links if pk is not None]
    if len(given) > 1:
        raise ValidationError({"source": "Link a problem to one record of the chart at most."})
    if given:
        source, pk, model = given[0]
        record = model.objects.filter(pk=pk, patient_id=problem.patient_id).first()
        if record is None:
            raise ValidationError({source: "Choose a record of this patient's chart."})
        problem.source = source
        if not problem.text.strip():
            # A condition's words without a SNOMED CT tag ("Heart failure", not "... (disorder)").
            problem.text = plain_name(str(getattr(record, "label", "") or record))[:300]
        if source == Problem.Source.CONDITION and not problem.code:
            problem.code_system, problem.code = record.code_system, record.code
    elif problem.source not in (Problem.Source.WRITTEN, Problem.Source.TEMPLATE):
        raise ValidationError({"source": "Choose the record the problem comes from."})
    problem.text = problem.text.strip()
    validate_record(problem)


def _finding_model() -> Any:
    from careway.assessments.models import Finding

    return Finding


@service
def update_problem(
    actor: audit.Actor,
    problem: Problem,
    data: Mapping[str, Any],
    expected_version: int,
    reason: str = "",
) -> Problem:
    changed = _update(actor, problem, data, expected_version, "problem", _check_problem, reason)
    _revise(actor, changed.plan, f"Problem changed: {changed.text}", _reason(reason))
    return changed


# --- goals ---------------------------------------------------------------------------------------


@service
def add_goal(actor: audit.Actor, plan: CarePlan, data: Mapping[str, Any], reason: str = "") -> Goal:
    """A goal in the patient's words and/or as a measurable target on a measure of the chart;
    its achievement is worked out at once from what the chart holds."""
    goal = _add(actor, Goal, plan, _without(data, *COMPUTED))
    if plan.status == CarePlan.Status.DRAFT and "lifecycle_status" not in data:
        goal.lifecycle_status = Goal.Lifecycle.PROPOSED
    _check_goal(goal)
    goal.position = Goal.objects.filter(plan=plan).count()
    _apply_verdicts([goal])
    goal.save(force_insert=True)
    audit.record(actor, "careplan.goal.create", patient_id=plan.patient_id, obj=goal)
    _revise(actor, plan, f"Goal added: {goal.description}", _reason(reason))
    return goal


OVERRIDE_FIELDS = ("override", "override_reason", "override_at", "override_by")
# Set by Careway, never by a person's data.
COMPUTED = ("achievement", "achievement_rule", "evaluated_at", "override_by", "override_at")


def _check_goal(goal: Goal) -> None:
    goal.description = goal.description.strip() or goal.patient_words.strip()
    goal.patient_words = goal.patient_words.strip()
    errors: dict[str, str] = {}
    if not goal.description:
        errors["description"] = "Say what the goal is, in the patient's words or the team's."
    if goal.problem_id and not Problem.objects.filter(pk=goal.problem_id, plan_id=goal.plan_id):
        errors["problem"] = "Choose a problem of this plan."
    if goal.due_date and goal.start_date and goal.due_date < goal.start_date:
        errors["due_date"] = "The due date is before the start."
    errors.update(_teaching_errors(goal) or _target_errors(goal))
    if errors:
        raise ValidationError(errors)
    validate_record(goal)


def _teaching_errors(goal: Goal) -> dict[str, str]:
    """A goal with a teaching topic is measured by its teach-back (measure `teach-back`, set
    for it when no measure was chosen), on one of the agency's topics (careway/careplans/
    handouts.py); the teach-back measure needs a topic."""
    goal.teaching_topic = (goal.teaching_topic or "").strip()
    if not goal.teaching_topic:
        if goal.measure == measures.TEACH_BACK:
            return {"teaching_topic": "Choose the teaching topic whose teach-back meets this goal."}
        return {}
    if not _topic_offered(goal, Goal):
        return {"teaching_topic": "Choose one of the agency's teaching topics."}
    if goal.measure not in ("", measures.TEACH_BACK):
        return {
            "teaching_topic": "A goal met by teaching is measured by its teach-back: leave "
            "“Measured by” blank (or choose the teach-back), or clear the topic."
        }
    goal.measure = measures.TEACH_BACK
    goal.target_low = goal.target_high = goal.target_days = None
    goal.task = None
    return {}


def _topic_offered(row: Goal | Intervention, model: type[Goal] | type[Intervention]) -> bool:
    """A topic of the agency's handout library, or the one the row has kept since the agency
    retired it (so that the row's other fields can still be changed)."""
    from .handouts import handouts_for

    if row.teaching_topic in handouts_for(row.organization_id):
        return True
    return model._default_manager.filter(pk=row.pk, teaching_topic=row.teaching_topic).exists()


def _target_errors(goal: Goal) -> dict[str, str]:
    if not goal.measure:
        if goal.target_low is not None or goal.target_high is not None or goal.target_days:
            return {"measure": "Choose what the target is measured by."}
        return {}
    measure = measures.measure_of(goal.measure)
    if measure is None:
        return {"measure": "Choose one of the measures offered."}
    if measure.takes_range:
        if goal.target_low is None and goal.target_high is None:
            return {"target_high": f"Give the lowest or the highest {measure.measure}, or both."}
        if (
            goal.target_low is not None
            and goal.target_high is not None
            and goal.target_low > goal.target_high
        ):
            return {"target_low": "The lowest value is above the highest."}
        return _readings_errors(goal, measure)
    elif measure.kind == measures.EVENT and not goal.target_days:
        return {"target_days": f"Say for how many days without a {measure.measure}."}
    elif measure.kind == measures.TASK:
        if not goal.task_id:
            return {"task": "Choose the task that achieves this goal."}
        if not Task.objects.filter(pk=goal.task_id, patient_id=goal.patient_id).exists():
            return {"task": "Choose a task of this patient."}
    return {}


def _readings_errors(goal: Goal, measure: measures.Measure) -> dict[str, str]:
    # Either number may be left to the measure's default, so compare what the rule will use.
    needed, window = goal.needed or measure.needed, goal.window or measure.window
    if needed > window:
        field = "needed" if goal.needed else "window"
        return {
            field: f"The readings needed ({needed}) cannot be more than the readings counted "
            f"({window})."
        }
    return {}


@service
def update_goal(
    actor: audit.Actor,
    goal: Goal,
    data: Mapping[str, Any],
    expected_version: int,
    reason: str = "",
) -> Goal:
    """Change a goal; its achievement is worked out again against the new target."""
    changed = _update(
        actor, goal, _without(data, *COMPUTED), expected_version, "goal", _check_goal, reason
    )
    _apply_verdicts([changed])
    # A later reading lifts an override whole: its reason, author and time go with it.
    changed.save(update_fields=[*COMPUTED[:3], *OVERRIDE_FIELDS])
    _revise(actor, changed.plan, f"Goal changed: {changed.description}", _reason(reason))
    return changed


@service
def override_achievement(
    actor: audit.Actor, goal: Goal, status: str, reason: str, expected_version: int
) -> Goal:
    """A person's judgement over the computed status, with a reason; it holds until the next
    reading of the goal's measure dated after the day it was set arrives (a reading taken at
    the same visit does not lift it). An empty status gives the computed one back."""
    reason = _reason(reason)
    valid = {value for value, _label in Goal._meta.get_field("override").choices or []}
    if status and status not in valid:
        raise ValidationError({"status": "Choose one of the statuses offered."})
    if status and not reason:
        raise ValidationError({"reason": "Say why the computed status does not hold."})
    data = {
        "override": status,
        "override_reason": reason if status else "",
        "override_by": actor.user.pk if status and actor.user else None,
        "override_at": timezone.now() if status else None,
    }
    changed = save_versioned(
        actor,
        goal,
        data,
        expected_version,
        "careplan.goal.override",
        goal.patient_id,
        reason=reason,
        detail={"status": status, "computed": goal.achievement},
    )
    said = f"set to {changed.get_override_display().lower()}" if status else "back to computed"
    _revise(actor, changed.plan, f"Goal status {said}: {changed.description}", reason)
    return changed


def _apply_verdicts(goals: list[Goal], today: date | None = None) -> list[Goal]:
    """Set each goal's computed achievement; return those whose status or rule changed. An
    override ends when a reading of a later day than it has arrived. Days are the agency's
    (a reading at 11 pm in New York is that day's, whatever the server's zone)."""
    if not goals:
        return []
    with timezone.override(agency_zone(goals[0].organization_id)):
        return _apply_verdicts_here(goals, today or timezone.localdate())


def agency_zone(organization_id: int) -> ZoneInfo:
    name = Organization.objects.filter(pk=organization_id).values_list("timezone", flat=True)
    try:
        return ZoneInfo(name.first() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _apply_verdicts_here(goals: list[Goal], today: date) -> list[Goal]:
    verdicts = evidence.evaluate_goals(goals, today)
    now = timezone.now()
    changed = []
    for goal in goals:
        verdict = verdicts.get(goal.pk)
        if verdict is None:
            status, rule = "in-progress", ""
        else:
            status, rule = verdict.status.value, verdict.rule[:300]
        newer = verdict is not None and any(
            goal.override_at is not None and r.when > timezone.localtime(goal.override_at).date()
            for r in verdict.evidence
        )
        if status != goal.achievement or rule != goal.achievement_rule or (goal.override and newer):
            changed.append(goal)
        goal.achievement, goal.achievement_rule, goal.evaluated_at = status, rule, now
        if goal.override and newer:
            goal.override, goal.override_reason, goal.override_at = "", "", None
            goal.override_by = None
    return changed


@service
def recompute_goals_for(
    actor: audit.Actor, patient_ids: Collection[Any], today: date | None = None
) -> int:
    """Work out again the achievement of every followed goal of these patients (the chart's
    evidence changed, or a day has passed); returns how many goals changed status. Each change
    is audited, in one statement for the batch."""
    goals = list(
        Goal.objects.filter(
            patient_id__in=list(patient_ids), lifecycle_status__in=FOLLOWED_GOALS
        ).exclude(Q(measure="") | Q(plan__status__in=CLOSED_PLAN))
    )
    if not goals:
        return 0
    before = {g.pk: g.shown_achievement for g in goals}
    overridden = {g.pk for g in goals if g.override}
    changed = _apply_verdicts(goals, today)
    if not changed:
        return 0
    _save_verdicts(changed)
    lifted = [g.pk for g in changed if g.pk in overridden and not g.override]
    if lifted:
        Goal.objects.filter(pk__in=lifted).update(
            override="", override_reason="", override_at=None, override_by=None
        )
    moved = [g for g in changed if g.shown_achievement != before[g.pk]]
    transitions: dict[tuple[str, str], list[Goal]] = defaultdict(list)
    for goal in moved:
        transitions[(before[goal.pk], goal.shown_achievement)].append(goal)
    for (was, now), those in transitions.items():
        audit.record_many(
            actor,
            "careplan.goal.evaluate",
            [g.patient_id for g in those],
            object_type=Goal._meta.label_lower,
            object_ids=[g.pk for g in those],
            detail={"from": was, "to": now},
        )
    return len(moved)


VERDICT_BATCH = 500


def _save_verdicts(goals: list[Goal]) -> None:
    """Write the goals' computed status, rule and time: one UPDATE from a list of values for
    each 500 goals. (bulk_update's CASE expressions, a When per field per goal, took 11 of the 16 s
    of recomputing 2,000 patients of the benchmark agency: docs/benchmarks.md.)"""
    table = connection.ops.quote_name(Goal._meta.db_table)
    pk = Goal._meta.pk
    fields = [Goal._meta.get_field(name) for name in COMPUTED[:3]]
    columns = [connection.ops.quote_name(f.column) for f in fields]  # type: ignore[union-attr,arg-type]
    evaluated_at = fields[2].get_db_prep_value(goals[0].evaluated_at, connection)  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        for start in range(0, len(goals), VERDICT_BATCH):
            part = goals[start : start + VERDICT_BATCH]
            values = [
                value
                for goal in part
                for value in (
                    pk.get_db_prep_value(goal.pk, connection),  # type: ignore[union-attr]
                    goal.achievement,
                    goal.achievement_rule,
                )
            ]
            rows = ", ".join(["(%s, %s, %s)"] * len(part))
            cursor.execute(
                f"UPDATE {table} SET {columns[0]} = v.column2, {columns[1]} = v.column3, "  # noqa: S608 (names from the model; values are parameters)
                f"{columns[2]} = %s FROM (VALUES {rows}) AS v WHERE {table}.id = v.column1",
                [evaluated_at, *values],
            )


# --- visit frequencies ---------------------------------------------------------------------------


@service
def set_frequency(
    actor: audit.Actor, plan: CarePlan, data: Mapping[str, Any], reason: str = ""
) -> DisciplineFrequency:
    """How often one discipline visits (one active frequency per discipline)."""
    row = _add(actor, DisciplineFrequency, plan, data)
    if row.start_date is None:
        row.start_date = plan.episode.start_of_care or timezone.localdate()
    _check_frequency(row)
    row.save(force_insert=True)
    audit.record(actor, "careplan.frequency.create", patient_id=plan.patient_id, obj=row)
    summary = f"Visit frequency set: {row.get_discipline_display()} {row.frequency}"
    _revise(actor, plan, summary, _reason(reason))
    return row


def _check_frequency(row: DisciplineFrequency) -> None:
    row.frequency = normalized_frequency(row.frequency, "frequency", required=True)
    if row.end_date is None or row.end_date < row.start_date:
        if row.end_date is not None:
            raise ValidationError({"end_date": "The end is before the start."})
        periods = parse(row.frequency).periods(row.start_date)
        row.end_date = max(p.end for p in periods)
    clash = DisciplineFrequency.objects.filter(
        plan_id=row.plan_id, discipline=row.discipline, status=DisciplineFrequency.Status.ACTIVE
    ).exclude(pk=row.pk)
    if row.status == DisciplineFrequency.Status.ACTIVE and clash.exists():
        raise ValidationError(
            {"discipline": "This discipline has a visit frequency already: change that one."}
        )
    validate_record(row, exclude=["plan"])


def normalized_frequency(text: str, field: str, *, required: bool) -> str:
    """The notation as Careway writes it ('3W1,2w4' -> '3w1, 2w4'), or a message naming the
    part that is wrong."""
    text = (text or "").strip()
    if not text:
        if required:
            raise ValidationError({field: "Write the frequency, for example 3w1, 2w4."})
        return ""
    try:
        return str(parse(text))
    except FrequencyError as error:
        raise ValidationError({field: str(error)}) from error


@service
def update_frequency(
    actor: audit.Actor,
    row: DisciplineFrequency,
    data: Mapping[str, Any],
    expected_version: int,
    reason: str = "",
) -> DisciplineFrequency:
    data = dict(data)
    if "frequency" in data and "end_date" not in data:
        data["end_date"] = None  # worked out again from the new frequency
    changed = _update(actor, row, data, expected_version, "frequency", _check_frequency, reason)
    summary = f"Visit frequency changed: {changed.get_discipline_display()} {changed.frequency}"
    _revise(actor, changed.plan, summary, _reason(reason))
    return changed


# --- interventions -------------------------------------------------------------------------------


@service
def add_intervention(
    actor: audit.Actor, plan: CarePlan, data: Mapping[str, Any], reason: str = ""
) -> Intervention:
    """What will be done, by whom (a discipline, a named clinician, a family caregiver, who
    joins the care team, or the patient themself: `by_patient`, alone), at which discipline's
    visits and, where it differs, how often."""
    row = _add(actor, Intervention, plan, data)
    _check_intervention(row)
    row.position = Intervention.objects.filter(plan=plan).count()
    row.save(force_insert=True)
    _caregiver_on_team(actor, row)
    audit.record(actor, "careplan.intervention.create", patient_id=plan.patient_id, obj=row)
    _revise(actor, plan, f"Intervention added: {row.text}", _reason(reason))
    return row


def _check_intervention(row: Intervention) -> None:
    row.text = row.text.strip()
    row.frequency = normalized_frequency(row.frequency, "frequency", required=False)
    errors: dict[str, str] = {}
    if row.by_patient:
        # One kind of someone: the team's part of the same work is an intervention of its own.
        others = {
            "discipline": row.discipline,
            "clinician": row.clinician_id,
            "caregiver": row.caregiver_id,
        }
        for name, value in others.items():
            if value:
                errors[name] = (
                    "The patient does this one: add what the team or a caregiver does as an "
                    "intervention of its own."
                )
    elif not (row.discipline or row.clinician_id or row.caregiver_id):
        errors["discipline"] = (
            "Say who carries it out: a discipline, a clinician, a caregiver or the patient."
        )
    if row.goal_id and not Goal.objects.filter(pk=row.goal_id, plan_id=row.plan_id).exists():
        errors["goal"] = "Choose a goal of this plan."
    if row.problem_id and not Problem.objects.filter(pk=row.problem_id, plan_id=row.plan_id):
        errors["problem"] = "Choose a problem of this plan."
    if (
        row.clinician_id
        and not User.objects.filter(
            pk=row.clinician_id, organization_id=row.organization_id, is_active=True
        ).exists()
    ):
        errors["clinician"] = "Choose a clinician of this agency."
    if (
        row.caregiver_id
        and not RelatedPerson.objects.filter(
            pk=row.caregiver_id, patient_id=row.patient_id, active=True
        ).exists()
    ):
        errors["caregiver"] = "Choose one of the patient's family or caregivers."
    if row.end_date and row.start_date and row.end_date < row.start_date:
        errors["end_date"] = "The end is before the start."
    row.teaching_topic = (row.teaching_topic or "").strip()
    if row.teaching_topic and not _topic_offered(row, Intervention):
        errors["teaching_topic"] = "Choose one of the agency's teaching topics."
    if errors:
        raise ValidationError(errors)
    validate_record(row)


def _caregiver_on_team(actor: audit.Actor, row: Intervention) -> None:
    """A family caregiver given an intervention is a member of the team, with their tasks."""
    if not row.caregiver_id:
        return
    plan = row.plan
    if CareTeamMember.objects.filter(
        episode_id=plan.episode_id, related_person_id=row.caregiver_id, active=True
    ).exists():
        return
    patient_services.add_care_team_member(
        actor,
        plan.episode,
        role=CareTeamMember.TeamRole.CAREGIVER,
        related_person=row.caregiver,
    )


@service
def update_intervention(
    actor: audit.Actor,
    row: Intervention,
    data: Mapping[str, Any],
    expected_version: int,
    reason: str = "",
) -> Intervention:
    changed = _update(
        actor, row, data, expected_version, "intervention", _check_intervention, reason
    )
    _caregiver_on_team(actor, changed)
    _revise(actor, changed.plan, f"Intervention changed: {changed.text}", _reason(reason))
    return changed


@service
def raise_intervention_task(
    actor: audit.Actor,
    row: Intervention,
    *,
    due_date: date | None = None,
    detail: str = "",
    assigned_to: User | None = None,
) -> Task:
    """Put the intervention on someone's list: the named clinician, else the given person, else
    the patient's primary case manager (a caregiver's task is followed up by them)."""
    if row.status != Intervention.Status.ACTIVE:
        raise ValidationError({"intervention": "Only an active intervention raises tasks."})
    person = row.clinician or assigned_to or _primary_case_manager(row.plan) or actor.user
    who = revisions.who_of(row)
    return patient_services.add_task(
        actor,
        row.plan.patient,
        {
            "assigned_to": person.pk if person else None,
            "title": f"{row.get_kind_display()}: {row.text}"[:200],
            "detail": detail.strip() or f"From the care plan. Carried out by: {who}.",
            "due_date": due_date or timezone.localdate(timezone=agency_zone(row.organization_id)),
            "source": f"careplan.intervention:{row.pk}",
        },
    )


def _primary_case_manager(plan: CarePlan) -> User | None:
    member = (
        CareTeamMember.objects.filter(
            episode_id=plan.episode_id, is_primary_case_manager=True, active=True
        )
        .select_related("user")
        .first()
    )
    return member.user if member else None


# --- plan reviews --------------------------------------------------------------------------------

RECERTIFICATION = "Recertification: day 56 of the 60-day period"
RECENT_STAY_DAYS = 30
EPISODE_DAYS = 60


def next_recertification(episode: EpisodeOfCare, after: date) -> date:
    """The first recertification review day (day 56 of a 60-day period) later than `after`."""
    first = _review_day(episode)
    if first > after:
        return first
    periods = (after - first).days // EPISODE_DAYS + 1
    return first + timedelta(days=EPISODE_DAYS * periods)


@service
def review_plan(actor: audit.Actor, plan: CarePlan, note: str, expected_version: int) -> CarePlan:
    """The plan was reviewed with the patient: the next review falls at the next
    recertification, unless a change brings it forward again. A revision records the review."""
    _open(plan)
    note = _reason(note)
    if not note:
        raise ValidationError({"note": "Say what the review found or changed."})
    today = timezone.localdate(timezone=agency_zone(plan.organization_id))
    data = {
        "reviewed_at": timezone.now(),
        "review_due": next_recertification(plan.episode, today),
        "review_reason": RECERTIFICATION,
    }
    changed = save_versioned(
        actor, plan, data, expected_version, "careplan.review", plan.patient_id, reason=note
    )
    _revise(actor, changed, "Plan reviewed with the patient", note)
    return changed


@service
def bring_reviews_forward(actor: audit.Actor, patient_ids: Collection[Any]) -> int:
    """A significant change makes the plan due for review at once (42 CFR 484.60(c)): a hospital
    stay, a new urgent flag, a resumption of care, since the plan was last reviewed (or made).
    Returns how many plans' review dates moved; each move is audited with its reason. Four
    queries whatever the number of plans (an import's batch calls it for many patients)."""
    plans = list(
        CarePlan.objects.filter(
            patient_id__in=list(patient_ids), episode__status__in=OPEN_EPISODE
        ).exclude(status__in=CLOSED_PLAN)
    )
    if not plans:
        return 0
    changes = _significant_changes(plans)
    moved = 0
    for plan in plans:
        change = changes.get(plan.pk)
        if change is None:
            continue
        day, why = change
        due = plan.review_due
        if due is not None and (due < day or (due == day and plan.review_reason == why)):
            continue
        CarePlan.objects.filter(pk=plan.pk).update(review_due=day, review_reason=why[:300])
        audit.record(
            actor,
            "careplan.review_due",
            patient_id=plan.patient_id,
            obj=plan,
            detail={"review_due": day.isoformat(), "why": why[:300]},
        )
        moved += 1
    return moved


def _significant_changes(plans: list[CarePlan]) -> dict[Any, tuple[date, str]]:
    """Each plan's earliest change since its last review that calls for another, and its words:
    the candidates of all the plans' patients read in one query per kind, then picked per plan."""
    from careway.assessments.models import Assessment

    since = {plan.patient_id: plan.reviewed_at or plan.created_at for plan in plans}
    earliest = min(since.values())
    zone = agency_zone(plans[0].organization_id)
    found: dict[Any, list[tuple[date, str]]] = defaultdict(list)
    # A stay that began since, or one recorded since that began in the month before (told on
    # return home); an old stay imported from another record is history, not a change.
    stays = Encounter.objects.filter(
        patient_id__in=list(since),
        kind=Encounter.Kind.INPATIENT,
        period_start__gte=earliest - timedelta(days=RECENT_STAY_DAYS),
    ).exclude(status__in=(Encounter.Status.ENTERED_IN_ERROR, Encounter.Status.CANCELLED))
    for stay in stays.only("patient_id", "period_start", "created_at"):
        last = since[stay.patient_id]
        recent = stay.period_start >= last - timedelta(days=RECENT_STAY_DAYS)
        if stay.period_start > last or (stay.created_at > last and recent):
            day = timezone.localdate(stay.period_start, timezone=zone)
            found[stay.patient_id].append((day, f"Hospital stay from {day.isoformat()}"))
    flags = PatientFlag.objects.filter(
        patient_id__in=list(since),
        severity=PatientFlag.Severity.URGENT,
        active=True,
        raised_at__gt=earliest,
    )
    for flag in flags.only("patient_id", "raised_at", "label"):
        if flag.raised_at > since[flag.patient_id]:
            day = timezone.localdate(flag.raised_at, timezone=zone)
            found[flag.patient_id].append(
                (day, f"New urgent flag on {day.isoformat()}: {flag.label}")
            )
    resumptions = Assessment.objects.filter(
        patient_id__in=list(since),
        time_point=Assessment.TimePoint.RESUMPTION,
        status=Assessment.Status.SIGNED,
        signed_at__gt=earliest,
    )
    for row in resumptions.only("patient_id", "signed_at", "visit_date"):
        if row.signed_at is not None and row.signed_at > since[row.patient_id]:
            words = f"Resumption of care on {row.visit_date.isoformat()}"
            found[row.patient_id].append((row.visit_date, words))
    return {plan.pk: min(found[plan.patient_id]) for plan in plans if found[plan.patient_id]}


# --- suggestions ---------------------------------------------------------------------------------


@service
def refresh_suggestions(
    actor: audit.Actor, patient_ids: Collection[Any], today: date | None = None
) -> int:
    """Bring these patients' suggestions in step with their charts (the evidence changed, or a
    day passed): new ones open, those the chart no longer supports lapse, and a rejected one
    whose evidence changed is open again, saying what changed. Returns how many changed.
    Patients without an open episode get none. Each change is audited, a statement per kind."""
    ids = list(
        EpisodeOfCare.objects.filter(patient_id__in=list(patient_ids), status__in=OPEN_EPISODE)
        .values_list("patient_id", flat=True)
        .distinct()
    )
    if not ids:
        return 0
    by_agency: dict[int, list[Any]] = defaultdict(list)
    for pid, organization_id in Patient.objects.filter(pk__in=ids).values_list(
        "pk", "organization_id"
    ):
        by_agency[organization_id].append(pid)
    return sum(
        _refresh_agency(actor, organization_id, pids, today)
        for organization_id, pids in by_agency.items()
    )


def _refresh_agency(
    actor: audit.Actor, organization_id: int, patient_ids: list[Any], today: date | None
) -> int:
    zone = agency_zone(organization_id)
    today = today or timezone.localdate(timezone=zone)
    with timezone.override(zone):
        charts = suggestions.charts_for(patient_ids, today)
    templates = plan_templates.templates_for(organization_id)
    stored: dict[tuple[Any, str, str], Suggestion] = {
        (s.patient_id, s.template, s.item): s
        for s in Suggestion.objects.filter(patient_id__in=patient_ids)
    }
    change = _SuggestionChanges()
    for pid, chart in charts.items():
        proposals = suggestions.proposals_for(chart, templates)
        for position, ((template_key, item_key), proposal) in enumerate(proposals.items()):
            row = stored.pop((pid, template_key, item_key), None)
            change.propose(organization_id, pid, position, proposal, row)
    for row in stored.values():
        change.lapse(row)
    return change.save(actor)


class _SuggestionChanges:
    """What one refresh changes, written in a few statements at the end."""

    FIELDS = (
        "template_version",
        "text",
        "rules",
        "reasons",
        "evidence",
        "recommendation",
        "preventive",
        "status",
        "what_changed",
        "position",
        "updated_at",
    )

    def __init__(self) -> None:
        self.created: list[Suggestion] = []
        self.updated: list[Suggestion] = []
        self.revived: list[Suggestion] = []
        self.lapsed: list[Suggestion] = []
        self.now = timezone.now()

    def propose(
        self,
        organization_id: int,
        patient_id: Any,
        position: int,
        proposal: suggestions.Proposal,
        row: Suggestion | None,
    ) -> None:
        if row is None:
            row = Suggestion(
                organization_id=organization_id,
                patient_id=patient_id,
                template=proposal.template.key,
                item=proposal.key,
                kind=proposal.item.kind,
                created_at=self.now,
            )
            _fill(row, proposal, position, self.now)
            self.created.append(row)
            return
        if row.status == Suggestion.Status.ACCEPTED:
            return
        if row.status == Suggestion.Status.REJECTED:
            if sorted(proposal.facts) == sorted(row.rejected_evidence.get("facts", [])):
                return
            row.what_changed = _what_changed(row, proposal)
            row.status = Suggestion.Status.OPEN
            _fill(row, proposal, position, self.now)
            self.revived.append(row)
            return
        was = (row.status, row.text, row.reasons, row.evidence, row.template_version, row.position)
        if row.status == Suggestion.Status.LAPSED:
            row.what_changed = ""
        row.status = Suggestion.Status.OPEN
        _fill(row, proposal, position, self.now)
        now = (row.status, row.text, row.reasons, row.evidence, row.template_version, row.position)
        if now != was:
            self.updated.append(row)

    def lapse(self, row: Suggestion) -> None:
        if row.status == Suggestion.Status.OPEN:
            row.status, row.updated_at = Suggestion.Status.LAPSED, self.now
            self.lapsed.append(row)

    def save(self, actor: audit.Actor) -> int:
        Suggestion.objects.bulk_create(self.created, batch_size=500)
        changed = self.updated + self.revived + self.lapsed
        if changed:
            Suggestion.objects.bulk_update(changed, list(self.FIELDS), batch_size=500)
        for action, rows in (
            ("careplan.suggestion.create", self.created),
            ("careplan.suggestion.revive", self.revived),
            ("careplan.suggestion.lapse", self.lapsed),
        ):
            if rows:
                audit.record_many(
                    actor,
                    action,
                    [r.patient_id for r in rows],
                    object_type=Suggestion._meta.label_lower,
                    object_ids=[r.pk for r in rows],
                )
        return len(self.created) + len(changed)


def _fill(row: Suggestion, proposal: suggestions.Proposal, position: int, now: Any) -> None:
    row.template_version = proposal.template.version[:40]
    row.text = proposal.text[:300]
    row.rules = list(proposal.rules)
    row.reasons = list(proposal.reasons)
    row.evidence = sorted(proposal.facts)
    row.recommendation = proposal.recommendation
    row.preventive = proposal.preventive
    row.position = position
    row.updated_at = now


def _what_changed(row: Suggestion, proposal: suggestions.Proposal) -> str:
    before = row.rejected_evidence.get("reasons", [])
    new = [r for r in proposal.reasons if r not in before]
    gone = [r for r in before if r not in proposal.reasons]
    day = timezone.localdate(row.decided_at) if row.decided_at else None
    parts = [f"Rejected on {day.isoformat()}" if day else "Rejected earlier"]
    parts[0] += f" ({row.decision_reason})" if row.decision_reason else ""
    if new:
        parts.append("now: " + "; ".join(new))
    if gone:
        parts.append("no longer: " + "; ".join(gone))
    if len(parts) == 1:
        parts.append("the evidence behind it changed")
    return "; ".join(parts)[:2000]


def _deciding(suggestion: Suggestion, *allowed: str) -> Suggestion:
    locked = Suggestion.objects.select_for_update().get(pk=suggestion.pk)
    if locked.status not in allowed:
        raise ValidationError(
            {"suggestion": f"This suggestion is {locked.get_status_display().lower()} already."}
        )
    return locked


@service
def reject_suggestion(actor: audit.Actor, suggestion: Suggestion, reason: str) -> Suggestion:
    """Not for this patient: it stays rejected, with the reason, until its evidence changes."""
    reason = _reason(reason)
    if not reason:
        raise ValidationError(
            {
                "reason": "Say why it does not fit this patient (it stays rejected until the chart "
                "changes)."
            }
        )
    row = _deciding(suggestion, Suggestion.Status.OPEN)
    row.status = Suggestion.Status.REJECTED
    row.decided_by, row.decided_at, row.decision_reason = actor.user, timezone.now(), reason
    row.rejected_evidence = {"facts": list(row.evidence), "reasons": list(row.reasons)}
    row.what_changed = ""
    row.version += 1
    row.updated_at = row.decided_at
    row.save()
    audit.record(
        actor, "careplan.suggestion.reject", patient_id=row.patient_id, obj=row, reason=reason
    )
    return row


# What a person may change in a suggestion before accepting it, by kind of row.
ACCEPT_EDITS = {
    "problem": ("text",),
    "goal": (
        "description",
        "patient_words",
        "due_date",
        "target_low",
        "target_high",
        "target_days",
    ),
    "intervention": ("text", "discipline", "frequency"),
}


@service
def accept_suggestion(
    actor: audit.Actor,
    suggestion: Suggestion,
    edits: Mapping[str, Any] | None = None,
    reason: str = "",
) -> Any:
    """Put the suggested row into the patient's plan (started as a draft if there is none), as
    suggested or as edited (a goal put in the patient's words); a goal or intervention brings
    its problem with it when the plan does not have it yet. Returns the plan row made."""
    edits = dict(edits or {})
    allowed = ACCEPT_EDITS[suggestion.kind]
    wrong = {
        name: "This cannot be changed when accepting." for name in edits if name not in allowed
    }
    if wrong:
        raise ValidationError(wrong)
    row = _deciding(suggestion, Suggestion.Status.OPEN, Suggestion.Status.REJECTED)
    template = plan_templates.templates_for(row.organization_id).get(row.template)
    item = template.items.get(row.item.split(":")[0]) if template else None
    if template is None or item is None:
        raise ValidationError(
            {"suggestion": "The template this came from is no longer in use; add it by hand."}
        )
    plan = _plan_for(actor, row.patient)
    why = _reason(reason) or "Accepted a suggestion: " + "; ".join(row.reasons)[:1500]
    made = _accept_row(actor, plan, row, template, item, edits, why)
    _mark_accepted(actor, row, made, reason)
    return made


def _plan_for(actor: audit.Actor, patient: Patient) -> CarePlan:
    episode = current_episode(patient)
    plan = (
        CarePlan.objects.filter(episode=episode).exclude(status__in=CLOSED_PLAN).first()
        if episode
        else None
    )
    if (
        plan is None
        and episode is not None
        and CarePlan.objects.filter(episode=episode)
        .exclude(status=CarePlan.Status.ENTERED_IN_ERROR)
        .exists()
    ):
        raise ValidationError({"plan": "This episode's plan is closed; suggestions cannot go in."})
    return plan or start_plan(actor, patient)


def _accept_row(
    actor: audit.Actor,
    plan: CarePlan,
    row: Suggestion,
    template: plan_templates.PlanTemplate,
    item: plan_templates.TemplateItem,
    edits: dict[str, Any],
    why: str,
) -> Any:
    if item.kind == plan_templates.PROBLEM:
        return add_problem(actor, plan, _problem_data(item, edits), why)
    problem = _problem_in_plan(actor, plan, row, template, item.problem, why)
    if item.kind == plan_templates.GOAL:
        data: dict[str, Any] = {
            "problem": problem.pk,
            "description": item.text,
            **{k: v for k, v in item.fields.items() if v not in (None, "")},
        }
        if item.due_in_days:
            today = timezone.localdate(timezone=agency_zone(plan.organization_id))
            data["due_date"] = today + timedelta(days=item.due_in_days)
        data.update(edits)
        return add_goal(actor, plan, data, why)
    goal = _goal_in_plan(plan, row, item.goal)
    data = {
        "problem": problem.pk,
        "goal": goal.pk if goal else None,
        "text": row.text,
        "kind": item.fields["kind"],
        "discipline": item.fields["discipline"],
        "by_patient": bool(item.fields.get("by_patient")),
        "frequency": item.fields.get("frequency", ""),
        **edits,
    }
    # Who, changed when accepting: a discipline, or the patient ("patient", as templates say it).
    if edits.get("discipline") == plan_templates.WHO_PATIENT:
        data.update(discipline="", by_patient=True)
    elif edits.get("discipline"):
        data["by_patient"] = False
    return add_intervention(actor, plan, data, why)


def _problem_data(item: plan_templates.TemplateItem, edits: dict[str, Any]) -> dict[str, Any]:
    return {"text": item.text, "source": Problem.Source.TEMPLATE, **item.fields, **edits}


def _accepted_row(plan: CarePlan, row: Suggestion, item_key: str, model: type[Any]) -> Any:
    made = (
        Suggestion.objects.filter(
            patient_id=row.patient_id,
            template=row.template,
            item=item_key,
            status=Suggestion.Status.ACCEPTED,
        )
        .values_list("accepted_as", flat=True)
        .first()
    )
    if not made:
        return None
    live = (
        Q(status=Problem.Status.ACTIVE)
        if model is Problem
        else Q(lifecycle_status__in=FOLLOWED_GOALS)
    )
    return model.objects.filter(live, pk=made, plan=plan).first()


def _problem_in_plan(
    actor: audit.Actor,
    plan: CarePlan,
    row: Suggestion,
    template: plan_templates.PlanTemplate,
    problem_key: str,
    why: str,
) -> Problem:
    """The plan's row for the template's problem: the one accepted before, else a problem of the
    plan with the same code, else the template's problem, added now (and its suggestion marked
    accepted with it)."""
    found = _accepted_row(plan, row, problem_key, Problem)
    item = template.items[problem_key]
    if found is None and item.fields.get("code"):
        found = Problem.objects.filter(
            plan=plan,
            status=Problem.Status.ACTIVE,
            code_system=item.fields["code_system"],
            code=item.fields["code"],
        ).first()
    if found is not None:
        return found
    problem = add_problem(actor, plan, _problem_data(item, {}), why)
    own = Suggestion.objects.filter(
        patient_id=row.patient_id,
        template=row.template,
        item=problem_key,
        status__in=(Suggestion.Status.OPEN, Suggestion.Status.REJECTED, Suggestion.Status.LAPSED),
    ).first()
    if own is not None:
        _mark_accepted(actor, own, problem, f"Added with: {row.text}")
    return problem


def _goal_in_plan(plan: CarePlan, row: Suggestion, goal_key: str) -> Goal | None:
    return _accepted_row(plan, row, goal_key, Goal) if goal_key else None


def _mark_accepted(actor: audit.Actor, row: Suggestion, made: Any, reason: str) -> None:
    row.status = Suggestion.Status.ACCEPTED
    row.decided_by, row.decided_at = actor.user, timezone.now()
    row.decision_reason, row.accepted_as = (reason or "").strip()[:2000], str(made.pk)
    row.what_changed = ""
    row.version += 1
    row.updated_at = row.decided_at
    row.save()
    audit.record(
        actor,
        "careplan.suggestion.accept",
        patient_id=row.patient_id,
        obj=row,
        detail={"made": made._meta.label_lower, "id": str(made.pk)},
    )


# --- agency templates ----------------------------------------------------------------------------
# An agency's care plan templates (careway/careplans/plan_templates.py), written as every kind of
# the agency's versioned content is (careway/careplans/agency_content.py): a copy of a shipped one
# (used in its place, for this agency only) or one of its own, each change a new AgencyTemplate
# row, so the versions a suggestion names stay readable.


def _read_template(content: Any) -> tuple[plan_templates.PlanTemplate | None, dict[str, str]]:
    try:
        return plan_templates.parse_template(content, shipped=False), {}
    except plan_templates.TemplateError as error:
        return None, error.errors


def _template_extra_errors(content: dict[str, Any], found: Mapping[str, str]) -> dict[str, str]:
    """What parse_template leaves to whoever stores a template: the title's length, and goal
    targets that can be met (a lowest value above the highest is refused)."""
    errors: dict[str, str] = {}
    title = content.get("title")
    limit = agency_content.TITLE_LIMIT
    if isinstance(title, str) and len(title.strip()) > limit:
        errors["title"] = f"At most {limit} characters (this has {len(title.strip())})."
    sources = content.get("sources")
    for index, source in enumerate(sources if isinstance(sources, list) else []):
        if isinstance(source, str) and not source.strip() and "sources" not in found:
            errors[f"sources[{index}]"] = "Cite the source: its authors, title, year and address."
    goals = content.get("goals")
    for index, goal in enumerate(goals if isinstance(goals, list) else []):
        where = f"goals[{index}].target_high"
        if not isinstance(goal, dict) or where in found:
            continue
        low, high = goal.get("target_low"), goal.get("target_high")
        if _number(low) and _number(high) and low > high:
            errors[where] = "At least the lowest value (target_low)."
    return errors


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


TEMPLATES: agency_content.ContentKind[AgencyTemplate, plan_templates.PlanTemplate] = (
    agency_content.ContentKind(
        noun="template",
        model=AgencyTemplate,
        audit_prefix="careplan.template",
        shipped=plan_templates.shipped,
        read=_read_template,
        title=lambda template: template.title,
        # A retired copy of a shipped template gives Careway's template back to the agency's
        # suggestions (a handout's hides Careway's: careway/careplans/handout_services.py).
        retired_copy_hides_shipped=False,
        retired_words="Not used: retired",
        more_errors=_template_extra_errors,
    )
)


@service
def copy_template(actor: audit.Actor, organization: Organization, key: str) -> AgencyTemplate:
    """A shipped template copied as the agency's version 1, used in place of the shipped one
    from now on. Refused (naming `key`) when the agency already has its own of that key."""
    return agency_content.copy(TEMPLATES, actor, organization, key)


@service
def create_template(
    actor: audit.Actor, organization: Organization, content: Any, note: str = ""
) -> AgencyTemplate:
    """A template of the agency's own, version 1, under the key its content names: a key no
    shipped template and none of the agency's already has."""
    return agency_content.create(TEMPLATES, actor, organization, content, note)


@service
def save_template(
    actor: audit.Actor,
    organization: Organization,
    key: str,
    content: Any,
    expected_version: int,
    note: str = "",
) -> AgencyTemplate:
    """The agency's template `key` changed: its next version, checked whole by
    plan_templates.parse_template (a refusal names every field at fault, as "goals[2].measure",
    and writes nothing). A stale `expected_version` raises VersionConflict. Content equal to
    what is saved writes nothing and returns the current version."""
    return agency_content.save(TEMPLATES, actor, organization, key, content, expected_version, note)


@service
def retire_template(
    actor: audit.Actor,
    organization: Organization,
    key: str,
    expected_version: int,
    note: str = "",
) -> AgencyTemplate:
    """The agency's template no longer used (a new version, inactive): a retired copy of a
    shipped template gives the shipped one back; a retired own template suggests nothing."""
    return agency_content.set_active(
        TEMPLATES, actor, organization, key, expected_version, False, note
    )


@service
def restore_template(
    actor: audit.Actor,
    organization: Organization,
    key: str,
    expected_version: int,
    note: str = "",
) -> AgencyTemplate:
    """A retired template used again (a new version, active)."""
    return agency_content.set_active(
        TEMPLATES, actor, organization, key, expected_version, True, note
    )

"""Care plans as JSON, under /api/v1: the plan of a patient's current episode whole, its
revisions and what changed between two, and every change a team makes to it (start it, revise
the plan, add and change its problems, goals, interventions and visit frequencies, override a
goal's computed status, raise an intervention's task).

The same rules as the patient endpoints (careway/patients/api.py): token or session, the patient
decided by careway.patients.access (404 for a plan or row that is not the caller's to see, 403
to change one they may only read: changing needs careplans.edit), reads audited in their
transaction, writes through careway/careplans/services.py, which audits them and keeps each
change as a revision with its optional `reason`. Collections hang under their parent
(/patients/{id}/care-plan, /care-plans/{id}/goals) and each row is addressed by its own id
(/care-plan-goals/{id}), as assessments are. Every row carries its version: a change names the
version it was made against (If-Match or `version` in the body) and a stale one answers 412
with the current version; adding rows never conflicts, so two people adding goals both keep
theirs. A goal's override is its own resource (PUT /care-plan-goals/{id}/override: set it, or
clear it with an empty status), as POST here always makes something new.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Schema, Status

from careway.core import audit
from careway.core.models import User
from careway.patients import access
from careway.patients.access import Action
from careway.patients.models import CareTeamMember, Task
from careway.toolkit.api import (
    IF_MATCH,
    READ_ERRORS,
    UPDATE_ERRORS,
    WRITE_ERRORS,
    PageParams,
    etag,
    expected_version,
    operation,
    paginate,
    problem,
)
from careway.toolkit.auth import READ, WRITE, actor_for

from . import measures, queries, revisions, services
from .models import (
    CarePlan,
    CarePlanRecord,
    CarePlanRevision,
    DisciplineFrequency,
    Goal,
    Intervention,
    Problem,
)
from .permissions import CAREPLANS_EDIT
from .plan_of_care_api import router as plan_of_care_router
from .schemas import (
    MAX_REVISION,
    AchievementOverride,
    CarePlanOut,
    DifferenceRange,
    DifferencesOut,
    FrequencyCreate,
    FrequencyOut,
    FrequencyPatch,
    GoalCreate,
    GoalOut,
    GoalPatch,
    InterventionCreate,
    InterventionOut,
    InterventionPatch,
    PlanPatch,
    PlanStart,
    ProblemCreate,
    ProblemOut,
    ProblemPatch,
    RevisionContentOut,
    RevisionPage,
    TaskCreate,
    TaskOut,
)
from .suggestion_api import router as suggestion_router
from .teaching_api import router as teaching_router

router = Router(tags=["care plans"])
# The plan's suggestions and its review (suggestion_api.py) answer beside the plan.
router.add_router("/", suggestion_router)
# The physician's plan of care and verbal orders (plan_of_care_api.py).
router.add_router("/", plan_of_care_router)
# Teaching and the patient's agreement (teaching_api.py) answer beside the plan too.
router.add_router("/", teaching_router)
R = TypeVar("R", bound=CarePlanRecord)

SECTION = "careplan"
# The rows a client links by id (`goal_id`); the services name them by their model field.
LINKS = ("problem", "goal", "condition", "flag", "finding", "task", "clinician", "caregiver")

CURRENT_PLAN = "/patients/{patient_id}/care-plan"
PLAN = "/care-plans/{plan_id}"
PROBLEM = "/care-plan-problems/{problem_id}"
GOAL = "/care-plan-goals/{goal_id}"
INTERVENTION = "/care-plan-interventions/{intervention_id}"
FREQUENCY = "/care-plan-frequencies/{frequency_id}"


def _plan_for(actor: audit.Actor, plan_id: uuid.UUID, action: Action) -> CarePlan:
    """The plan, if `actor` may `action` its patient: else 404 or 403, audited."""
    rows = CarePlan.objects.select_related("created_by")
    return access.get_record_for(actor, CarePlan, plan_id, action, rows)


def _row_for(actor: audit.Actor, model: type[R], row_id: uuid.UUID, action: Action) -> R:
    """A problem, goal, intervention or frequency of a plan, as _plan_for decides."""
    rows = model._default_manager.select_related("plan")
    return access.get_record_for(actor, model, row_id, action, rows)


def _service_data(payload: Schema) -> dict[str, Any]:
    """What the client set, as the service takes it: linked rows by their model field, and
    without the version and reason, which the service takes on their own."""
    data = payload.model_dump(exclude={"version", "reason"}, exclude_unset=True)
    return {_model_name(name): value for name, value in data.items()}


def _model_name(name: str) -> str:
    linked = name.removesuffix("_id")
    return linked if linked in LINKS else name


@contextmanager
def _fields_as_sent() -> Iterator[None]:
    """A service's refusal names a linked row by its model field (`caregiver`); the problem body
    names the field the client sent (`caregiver_id`)."""
    try:
        yield
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        sent = {f"{k}_id" if k in LINKS else k: v for k, v in error.error_dict.items()}
        raise ValidationError(sent) from error


def _expected(payload: Any, if_match: str | None) -> int:
    return expected_version(if_match, payload.version)


# --- the plan -----------------------------------------------------------------------------------


@router.get(CURRENT_PLAN, **operation(READ, {200: CarePlanOut}, READ_ERRORS))
def get_current_plan(
    request: HttpRequest, patient_id: uuid.UUID, response: HttpResponse
) -> dict[str, Any] | HttpResponse:
    """The care plan of the patient's current episode, whole: its problems, goals (with their
    target and how each is going), interventions, visit frequencies and team. 404 with a
    problem saying so when the episode has no plan yet."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id)
    plan = queries.current_plan(patient)
    with transaction.atomic():
        audit.record(
            actor, "patient.view", patient_id=patient.pk, obj=plan, detail={"section": SECTION}
        )
        if plan is None:
            return problem(
                404,
                "This patient's current episode of care has no care plan yet: start one with "
                f"POST /api/v1/patients/{patient.pk}/care-plan.",
            )
        body = _whole(plan)
    response["ETag"] = etag(plan.version)
    return body


@router.post(CURRENT_PLAN, **operation(WRITE, {201: CarePlanOut}, WRITE_ERRORS))
def start_plan(
    request: HttpRequest, patient_id: uuid.UUID, payload: PlanStart, response: HttpResponse
) -> Status:
    """Start the care plan of the patient's current episode: a draft, revision 1. An episode
    has one plan; a second answers 422 naming `episode`."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id, Action.EDIT, CAREPLANS_EDIT)
    plan = services.start_plan(actor, patient, data=_service_data(payload), reason=payload.reason)
    response["ETag"] = etag(plan.version)
    response["Location"] = f"/api/v1/care-plans/{plan.pk}"
    return Status(201, _whole(plan))


@router.get(PLAN, **operation(READ, {200: CarePlanOut}, READ_ERRORS))
def get_plan(request: HttpRequest, plan_id: uuid.UUID, response: HttpResponse) -> dict[str, Any]:
    """One care plan whole, this episode's or an earlier one's. The ETag header is the version
    to send with a change of the plan itself."""
    actor = actor_for(request)
    plan = _plan_for(actor, plan_id, Action.VIEW)
    with transaction.atomic():
        body = _whole(plan)
        _audit_read(actor, plan)
    response["ETag"] = etag(plan.version)
    return body


def _audit_read(actor: audit.Actor, plan: CarePlan, **detail: Any) -> None:
    audit.record(
        actor,
        "patient.view",
        patient_id=plan.patient_id,
        obj=plan,
        detail={"section": SECTION, **detail},
    )


@router.patch(PLAN, **operation(WRITE, {200: CarePlanOut}, UPDATE_ERRORS))
def patch_plan(
    request: HttpRequest,
    plan_id: uuid.UUID,
    payload: PlanPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """Change the plan's title, status or review date. Putting it in effect (active) makes its
    proposed goals active; entered in error needs a reason."""
    actor = actor_for(request)
    plan = _plan_for(actor, plan_id, Action.EDIT)
    expected = _expected(payload, if_match)
    changed = services.update_plan(
        actor, plan, _service_data(payload), expected, reason=payload.reason
    )
    response["ETag"] = etag(changed.version)
    return _whole(changed)


# --- revisions ----------------------------------------------------------------------------------


@router.get(f"{PLAN}/revisions", **operation(READ, {200: RevisionPage}, READ_ERRORS))
def list_revisions(
    request: HttpRequest, plan_id: uuid.UUID, page: Query[PageParams]
) -> dict[str, Any]:
    """The plan's revisions, the newest first: who changed what, when and why."""
    actor = actor_for(request)
    plan = _plan_for(actor, plan_id, Action.VIEW)
    rows = (
        CarePlanRevision.objects.filter(plan=plan)
        .select_related("author")
        .defer("content")
        .order_by("-number")
    )
    with transaction.atomic():
        result = paginate(request, rows, page)
        result["items"] = [_revision(r) for r in result["items"]]
        _audit_read(actor, plan, revisions="list")
    return result


@router.get(
    f"{PLAN}/revisions/{{number}}", **operation(READ, {200: RevisionContentOut}, READ_ERRORS)
)
def get_revision(
    request: HttpRequest,
    plan_id: uuid.UUID,
    number: int = Path(..., ge=1, le=MAX_REVISION, description="The revision's number."),
) -> dict[str, Any] | HttpResponse:
    """One revision: the whole plan as it stood after that change."""
    actor = actor_for(request)
    plan = _plan_for(actor, plan_id, Action.VIEW)
    revision = queries.revision(plan, number)
    if revision is None:
        return problem(404, f"This plan has no revision {number}; {_kept(plan)}.")
    with transaction.atomic():
        _audit_read(actor, plan, revision=number)
    return {**_revision(revision), "content": revision.content}


def _kept(plan: CarePlan) -> str:
    return f"its revisions are 1 to {plan.revision}" if plan.revision else "it has none yet"


@router.get(f"{PLAN}/differences", **operation(READ, {200: DifferencesOut}, READ_ERRORS))
def get_differences(
    request: HttpRequest, plan_id: uuid.UUID, between: Query[DifferenceRange]
) -> dict[str, Any]:
    """What changed from revision `from` to revision `to`, part by part and field by field
    (by default, in the newest revision)."""
    actor = actor_for(request)
    plan = _plan_for(actor, plan_id, Action.VIEW)
    newer = between.to or plan.revision
    older = between.from_ if between.from_ is not None else max(newer - 1, 1)
    contents = dict(
        CarePlanRevision.objects.filter(plan=plan, number__in=[older, newer]).values_list(
            "number", "content"
        )
    )
    missing = {
        name: f"This plan has no revision {number}; {_kept(plan)}."
        for name, number in (("from", older), ("to", newer))
        if number not in contents
    }
    if missing:
        raise ValidationError(missing)
    with transaction.atomic():
        changes = revisions.differences(contents[older], contents[newer])
        _audit_read(actor, plan, differences=[older, newer])
    return {
        "from_revision": older,
        "to_revision": newer,
        "changes": [
            {
                "what": c.what,
                "how": c.how,
                "name": c.name,
                "fields": [vars(f) for f in c.fields],
            }
            for c in changes
        ],
    }


# --- problems -----------------------------------------------------------------------------------


@router.post(f"{PLAN}/problems", **operation(WRITE, {201: ProblemOut}, WRITE_ERRORS))
def add_problem(request: HttpRequest, plan_id: uuid.UUID, payload: ProblemCreate) -> Status:
    """A problem written freely, or linked to a condition, a flag or an assessment finding of
    the patient's chart (its words are the record's unless given)."""
    actor = actor_for(request)
    plan = _plan_for(actor, plan_id, Action.EDIT)
    with _fields_as_sent():
        row = services.add_problem(actor, plan, _service_data(payload), payload.reason)
    return Status(201, _problem(row))


@router.patch(PROBLEM, **operation(WRITE, {200: ProblemOut}, UPDATE_ERRORS))
def patch_problem(
    request: HttpRequest,
    problem_id: uuid.UUID,
    payload: ProblemPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """Change a problem's words, code or status (resolved, no longer addressed, ...)."""
    actor = actor_for(request)
    row = _row_for(actor, Problem, problem_id, Action.EDIT)
    expected = _expected(payload, if_match)
    with _fields_as_sent():
        row = services.update_problem(actor, row, _service_data(payload), expected, payload.reason)
    response["ETag"] = etag(row.version)
    return _problem(row)


# --- goals --------------------------------------------------------------------------------------


@router.post(f"{PLAN}/goals", **operation(WRITE, {201: GoalOut}, WRITE_ERRORS))
def add_goal(request: HttpRequest, plan_id: uuid.UUID, payload: GoalCreate) -> Status:
    """A goal in the patient's words and/or as a measurable target on a measure of the chart;
    how it is going is worked out at once from what the chart holds."""
    actor = actor_for(request)
    plan = _plan_for(actor, plan_id, Action.EDIT)
    with _fields_as_sent():
        row = services.add_goal(actor, plan, _service_data(payload), payload.reason)
    return Status(201, _goal(row))


@router.patch(GOAL, **operation(WRITE, {200: GoalOut}, UPDATE_ERRORS))
def patch_goal(
    request: HttpRequest,
    goal_id: uuid.UUID,
    payload: GoalPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """Change a goal; how it is going is worked out again against the new target."""
    actor = actor_for(request)
    row = _row_for(actor, Goal, goal_id, Action.EDIT)
    expected = _expected(payload, if_match)
    with _fields_as_sent():
        row = services.update_goal(actor, row, _service_data(payload), expected, payload.reason)
    response["ETag"] = etag(row.version)
    return _goal(row)


@router.put(f"{GOAL}/override", **operation(WRITE, {200: GoalOut}, UPDATE_ERRORS))
def override_achievement(
    request: HttpRequest,
    goal_id: uuid.UUID,
    payload: AchievementOverride,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """Set how the goal is going by judgement, with a reason, over the computed status; it
    holds until a reading newer than it arrives. An empty status gives the computed one back."""
    actor = actor_for(request)
    row = _row_for(actor, Goal, goal_id, Action.EDIT)
    expected = _expected(payload, if_match)
    row = services.override_achievement(actor, row, payload.status, payload.reason, expected)
    response["ETag"] = etag(row.version)
    return _goal(row)


# --- visit frequencies --------------------------------------------------------------------------


@router.post(f"{PLAN}/frequencies", **operation(WRITE, {201: FrequencyOut}, WRITE_ERRORS))
def set_frequency(request: HttpRequest, plan_id: uuid.UUID, payload: FrequencyCreate) -> Status:
    """How often one discipline visits (one active frequency per discipline: change that one
    rather than adding a second)."""
    actor = actor_for(request)
    plan = _plan_for(actor, plan_id, Action.EDIT)
    row = services.set_frequency(actor, plan, _service_data(payload), payload.reason)
    return Status(201, _frequency(row))


@router.patch(FREQUENCY, **operation(WRITE, {200: FrequencyOut}, UPDATE_ERRORS))
def patch_frequency(
    request: HttpRequest,
    frequency_id: uuid.UUID,
    payload: FrequencyPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """Change a visit frequency; a new frequency without an end date ends with its last period."""
    actor = actor_for(request)
    row = _row_for(actor, DisciplineFrequency, frequency_id, Action.EDIT)
    expected = _expected(payload, if_match)
    row = services.update_frequency(actor, row, _service_data(payload), expected, payload.reason)
    response["ETag"] = etag(row.version)
    return _frequency(row)


# --- interventions ------------------------------------------------------------------------------


@router.post(f"{PLAN}/interventions", **operation(WRITE, {201: InterventionOut}, WRITE_ERRORS))
def add_intervention(
    request: HttpRequest, plan_id: uuid.UUID, payload: InterventionCreate
) -> Status:
    """What will be done and by whom: a discipline, a named clinician of the agency, or a family
    caregiver of the patient (who joins the care team)."""
    actor = actor_for(request)
    plan = _plan_for(actor, plan_id, Action.EDIT)
    with _fields_as_sent():
        row = services.add_intervention(actor, plan, _service_data(payload), payload.reason)
    return Status(201, _intervention(row))


@router.patch(INTERVENTION, **operation(WRITE, {200: InterventionOut}, UPDATE_ERRORS))
def patch_intervention(
    request: HttpRequest,
    intervention_id: uuid.UUID,
    payload: InterventionPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """Change an intervention: what, who, when, how often, its status."""
    actor = actor_for(request)
    row = _row_for(actor, Intervention, intervention_id, Action.EDIT)
    expected = _expected(payload, if_match)
    with _fields_as_sent():
        row = services.update_intervention(
            actor, row, _service_data(payload), expected, payload.reason
        )
    response["ETag"] = etag(row.version)
    return _intervention(row)


@router.post(f"{INTERVENTION}/tasks", **operation(WRITE, {201: TaskOut}, WRITE_ERRORS))
def raise_task(request: HttpRequest, intervention_id: uuid.UUID, payload: TaskCreate) -> Status:
    """Put an active intervention on someone's list (their Today). A task is not plan content,
    so it makes no revision."""
    actor = actor_for(request)
    row = _row_for(actor, Intervention, intervention_id, Action.EDIT)
    task = services.raise_intervention_task(
        actor,
        row,
        due_date=payload.due_date,
        detail=payload.detail,
        assigned_to=_colleague(row.organization_id, payload.assigned_to_id),
    )
    return Status(201, _task(task))


def _colleague(organization_id: int, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, organization_id=organization_id, is_active=True).first()
    if user is None:
        raise ValidationError({"assigned_to_id": "Choose a person of your agency."})
    return user


# --- shapes -------------------------------------------------------------------------------------


def _whole(plan: CarePlan) -> dict[str, Any]:
    """The plan with every row of it, in a fixed number of queries. Rows entered in error are
    served with that status (the plan page leaves them out): a client holding a copy of one
    learns that it was withdrawn."""
    problems = Problem.objects.filter(plan=plan)
    goals = Goal.objects.filter(plan=plan).select_related("task", "override_by")
    interventions = Intervention.objects.filter(plan=plan).select_related("clinician", "caregiver")
    frequencies = DisciplineFrequency.objects.filter(plan=plan)
    team = CareTeamMember.objects.filter(episode_id=plan.episode_id).select_related(
        "user", "related_person"
    )
    return {
        "id": plan.pk,
        "version": plan.version,
        "patient_id": plan.patient_id,
        "episode_id": plan.episode_id,
        "title": plan.title,
        "status": plan.status,
        "review_due": plan.review_due,
        "review_reason": plan.review_reason,
        "reviewed_at": plan.reviewed_at,
        "revision": plan.revision,
        "created_by": _name(plan.created_by),
        "created_at": plan.created_at,
        "updated_at": plan.updated_at,
        "problems": [_problem(p) for p in problems],
        "goals": [_goal(g) for g in goals],
        "interventions": [_intervention(i) for i in interventions],
        "frequencies": [_frequency(f) for f in frequencies],
        "team": [_team_member(m) for m in team.order_by("start_date", "pk")],
    }


def _name(user: User | None) -> str | None:
    return user.display_name if user is not None else None


def _problem(row: Problem) -> dict[str, Any]:
    return {
        "id": row.pk,
        "version": row.version,
        "text": row.text,
        "source": row.source,
        "condition_id": row.condition_id,
        "flag_id": row.flag_id,
        "finding_id": row.finding_id,
        "code_system": row.code_system,
        "code": row.code,
        "status": row.status,
    }


def _goal(row: Goal) -> dict[str, Any]:
    override = None
    if row.override:
        override = {
            "status": row.override,
            "reason": row.override_reason,
            "by": _name(row.override_by),
            "at": row.override_at,
        }
    return {
        "id": row.pk,
        "version": row.version,
        "problem_id": row.problem_id,
        "patient_words": row.patient_words,
        "description": row.description,
        "lifecycle_status": row.lifecycle_status,
        "start_date": row.start_date,
        "due_date": row.due_date,
        "measure": row.measure,
        "target_low": row.target_low,
        "target_high": row.target_high,
        "target_days": row.target_days,
        "task_id": row.task_id,
        "teaching_topic": row.teaching_topic,
        "needed": row.needed,
        "window": row.window,
        "target": measures.target_in_words(row),
        "achievement": row.shown_achievement,
        "computed_achievement": row.achievement,
        "achievement_rule": row.achievement_rule,
        "evaluated_at": row.evaluated_at,
        "override": override,
    }


def _intervention(row: Intervention) -> dict[str, Any]:
    return {
        "id": row.pk,
        "version": row.version,
        "goal_id": row.goal_id,
        "problem_id": row.problem_id,
        "kind": row.kind,
        "text": row.text,
        "discipline": row.discipline,
        "clinician_id": row.clinician_id,
        "caregiver_id": row.caregiver_id,
        "by_patient": row.by_patient,
        "who": revisions.who_of(row),
        "at_visits_of": row.at_visits_of,
        "frequency": row.frequency,
        "frequency_in_words": queries.words_of_frequency(row.frequency),
        "teaching_topic": row.teaching_topic,
        "start_date": row.start_date,
        "end_date": row.end_date,
        "status": row.status,
    }


def _frequency(row: DisciplineFrequency) -> dict[str, Any]:
    return {
        "id": row.pk,
        "version": row.version,
        "discipline": row.discipline,
        "frequency": row.frequency,
        "in_words": queries.words_of_frequency(row.frequency),
        "start_date": row.start_date,
        "end_date": row.end_date,
        "status": row.status,
    }


def _team_member(member: CareTeamMember) -> dict[str, Any]:
    return {
        "id": member.pk,
        "version": member.version,
        "name": member.member_name,
        "role": member.role,
        "role_label": member.get_role_display(),
        "user_id": member.user_id,
        "related_person_id": member.related_person_id,
        "is_primary_case_manager": member.is_primary_case_manager,
        "active": member.active,
    }


def _task(task: Task) -> dict[str, Any]:
    return {
        "id": task.pk,
        "version": task.version,
        "title": task.title,
        "detail": task.detail,
        "due_date": task.due_date,
        "status": task.status,
        "assigned_to_id": task.assigned_to_id,
        "source": task.source,
    }


def _revision(revision: CarePlanRevision) -> dict[str, Any]:
    return {
        "number": revision.number,
        "made_at": revision.made_at,
        "author": _name(revision.author),
        "summary": revision.summary,
        "reason": revision.reason,
    }

"""Goal <- careway.careplans.Goal: a goal of Careway's own care plan, written only; shaped after
US Core Goal and the MCC eCare Plan guide's MCCGoal (no profile is claimed in meta.profile:
Careway checks its resources against R4, not against the profiles).

Served as Goal beside the goals from other settings (careway.patients.PastGoal, careplan.py):
registered with `also=True`, read and searched with them, exported after them. Ids: the goal's
UUID (a past goal's are numbers, so the two never meet).

- extension care-plan (Careway's): the CarePlan it belongs to, since R4's Goal cannot say so;
  extension achievement-rule: the rule the computed status came from ("3 of the last 4 weights
  within target"), so a reader can check it as a nurse would.
- lifecycleStatus: as stored (its codes are R4's). achievementStatus (goal-achievement): the
  status shown, a person's override over the computed one; the override's reason and who set it
  is a note ("Status set by hand: ...").
- description.text: the measurable goal as the team writes it. The patient's own words are a
  note whose authorReference is the Patient, and expressedBy is the Patient: MCCGoal's examples
  carry who expressed the goal in expressedBy, and an Annotation by the patient keeps their exact
  words where every reader shows notes (an extension would be lost on most).
- startDate; target (one): measure coded by its standard code (LOINC for a reading, SNOMED CT
  1912002 for falls, v3-ActCode IMP or EMER for hospital stays and emergency visits, the score's
  code as the score Observations write it, urn:careway:fhir:CodeSystem:score `phq-9/total`) and
  always Careway's measure key (urn:careway:fhir:CodeSystem:goal-measure), so the goal comes back
  to the same measure; detailRange (both bounds) or detailQuantity with comparator >= or <= (one
  bound), in UCUM; for "no fall for 30 days", detailQuantity 0 and the extension days-without
  (a Duration in days); a task done, detailBoolean true and the task's title as measure text;
  the rule's readings needed and counted, where the goal sets its own, as extensions; dueDate.
- addresses: the problem's Condition, or the problem in words (plan_common.problem_reference).
meta.versionId is the goal's version (vread serves earlier ones). A computed status that changes
with new evidence does not make a new version: it is evidence, not the goal as agreed.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from careway.careplans import measures
from careway.careplans.models import ACHIEVEMENT_CHOICES, Goal
from careway.fhir import codes, search

from . import Export, ResourceDeclaration, changed_after, patient_rows, register
from . import common as c
from . import plan_common as pc
from .score import questionnaire_id

EXT_RULE = codes.careway_extension("achievement-rule")
EXT_DAYS_WITHOUT = codes.careway_extension("days-without")
EXT_NEEDED = codes.careway_extension("readings-needed")
EXT_WINDOW = codes.careway_extension("readings-counted")
ACHIEVEMENT_LABELS = dict(ACHIEVEMENT_CHOICES)
# The units goal_measures.json keeps readings in, as UCUM codes.
UCUM_CODES = {"lb": "[lb_av]", "mmHg": "mm[Hg]", "/min": "/min", "%": "%"}
EVENT_CODES = {
    "falls": (codes.SNOMED, "1912002", "Fall"),
    "hospital-stays": (codes.ACT_CODE, "IMP", "inpatient encounter"),
    "er-visits": (codes.ACT_CODE, "EMER", "emergency"),
}


def goal_to_fhir(goal: Goal) -> dict[str, Any]:
    subject = c.patient_ref(goal)
    extensions = [{"url": pc.EXT_CARE_PLAN, "valueReference": pc.plan_reference(goal.plan_id)}]
    if goal.achievement_rule:
        extensions.append({"url": EXT_RULE, "valueString": goal.achievement_rule})
    shown = goal.shown_achievement
    notes = [{"authorReference": subject, "text": goal.patient_words}] if goal.patient_words else []
    if goal.override:
        said = f"Status set by hand: {ACHIEVEMENT_LABELS[goal.override].lower()}. "
        notes.append(
            c.drop_empty(
                {
                    "authorString": goal.override_by.display_name if goal.override_by else None,
                    "time": c.instant(goal.override_at) if goal.override_at else None,
                    "text": said + goal.override_reason,
                }
            )
        )
    return c.drop_empty(
        {
            "resourceType": "Goal",
            "id": str(goal.pk),
            "meta": c.meta(goal, "updated_at"),
            "extension": extensions,
            "lifecycleStatus": goal.lifecycle_status,
            "achievementStatus": {
                "coding": [c.coding(codes.GOAL_ACHIEVEMENT, shown, ACHIEVEMENT_LABELS[shown])],
                "text": ACHIEVEMENT_LABELS[shown],
            },
            "description": {"text": goal.description},
            "subject": subject,
            "startDate": c.day(goal.start_date),
            "target": _targets(goal),
            "addresses": [pc.problem_reference(goal.problem)] if goal.problem else [],
            "expressedBy": subject if goal.patient_words else None,
            "note": notes,
        }
    )


def _targets(goal: Goal) -> list[dict[str, Any]]:
    due = {"dueDate": c.day(goal.due_date)} if goal.due_date else {}
    measure = measures.measure_of(goal.measure)
    if measure is None:
        return [due] if due else []
    target: dict[str, Any] = {"measure": _measure(goal, measure), **_detail(goal, measure), **due}
    extensions = []
    if goal.needed:
        extensions.append({"url": EXT_NEEDED, "valuePositiveInt": goal.needed})
    if goal.window:
        extensions.append({"url": EXT_WINDOW, "valuePositiveInt": goal.window})
    if measure.kind == measures.EVENT and goal.target_days:
        days = {"value": goal.target_days, "unit": "days", "system": codes.UCUM, "code": "d"}
        extensions.append({"url": EXT_DAYS_WITHOUT, "valueDuration": days})
    return [c.drop_empty({"extension": extensions, **target})]


def _measure(goal: Goal, measure: measures.Measure) -> dict[str, Any]:
    careway = c.coding(pc.GOAL_MEASURE, measure.key, measure.label)
    standard: list[dict[str, Any]] = []
    if measure.kind == measures.OBSERVATION:
        standard = [c.coding(measure.code_system or codes.LOINC, measure.code, measure.label)]
    elif measure.kind == measures.SCORE:
        ident = questionnaire_id(goal.organization_id, measure.questionnaire)
        standard = [c.coding(codes.SCORE, f"{ident}/{measure.score}", measure.label)]
    elif measure.key in EVENT_CODES:
        standard = [c.coding(*EVENT_CODES[measure.key])]
    text = measure.label
    if measure.kind == measures.TASK:
        text = f"Task done: {goal.task.title}" if goal.task is not None else "A task done"
    return {"coding": [*standard, careway], "text": text}


def _detail(goal: Goal, measure: measures.Measure) -> dict[str, Any]:
    if measure.kind == measures.TASK:
        return {"detailBoolean": True}
    if measure.kind == measures.EVENT:
        return {"detailQuantity": {"value": 0}}
    unit = _unit(measure)
    low, high = goal.target_low, goal.target_high
    if low is not None and high is not None:
        return {"detailRange": {"low": {"value": low, **unit}, "high": {"value": high, **unit}}}
    if low is not None:
        return {"detailQuantity": {"value": low, "comparator": ">=", **unit}}
    if high is not None:
        return {"detailQuantity": {"value": high, "comparator": "<=", **unit}}
    return {}


def _unit(measure: measures.Measure) -> dict[str, Any]:
    if measure.kind == measures.SCORE:
        return {"unit": codes.UCUM_SCORE, "system": codes.UCUM, "code": codes.UCUM_SCORE}
    code = UCUM_CODES.get(measure.unit)
    return {"unit": measure.unit, "system": codes.UCUM, "code": code} if code else {}


# --- search and export ---------------------------------------------------------------------------


def with_links(rows: QuerySet) -> QuerySet:
    return rows.select_related("problem", "task", "override_by")


def locate_goal(ident: str) -> Q | None:
    pk = search.uuid_id(ident)
    return Q(pk=pk) if pk is not None and str(pk) == ident else None


@dataclass(frozen=True)
class ShownAchievementParam(search.TokenParam):
    """achievement-status: the status shown, a person's override over the computed one."""

    def _one(self, name: str, value: str) -> Q:
        system, code = search.split_token(value)
        if system not in (None, codes.GOAL_ACHIEVEMENT):
            return search.MATCH_NONE
        assert self.codes is not None
        if code not in self.codes:
            choices = ", ".join(self.codes)
            raise search.SearchError(
                name, f"{name}: {code!r} is not one of {choices}.", "code-invalid"
            )
        return Q(override=code) | Q(override="", achievement=code)


# R4's goal-achievement codes; Careway computes the first seven, another system may send any.
ACHIEVEMENT_CODES = (
    *ACHIEVEMENT_LABELS,
    *(code for code in ("no-progress", "not-attainable") if code not in ACHIEVEMENT_LABELS),
)
LIFECYCLE_CODES = search.value_set(
    *search.stored_as_is(*Goal.Lifecycle.values),
    *search.not_stored("planned", "accepted", "rejected"),
)


def _goals_of(patient_ids: list[Any]) -> QuerySet:
    goals = patient_rows(Goal)(patient_ids)
    return with_links(pc.in_plan_order(goals, "position", "created_at"))


SEARCH = search.SearchDeclaration(
    order=("-created_at", "-id"),
    locate=locate_goal,
    scope=with_links,
    includes=("patient", "subject"),
    sort_description="most recently set first",
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=locate_goal),
            "lifecycle-status": search.TokenParam(
                "lifecycle_status", codes=LIFECYCLE_CODES, description="The goal's lifecycle."
            ),
            "achievement-status": ShownAchievementParam(
                "achievement",
                codes=search.value_set(*search.stored_as_is(*ACHIEVEMENT_CODES)),
                description="How the goal is going (goal-achievement).",
            ),
        }
    ),
)

register(
    ResourceDeclaration(
        "Goal",
        Goal,
        to_fhir=goal_to_fhir,
        search=SEARCH,
        export=Export(rows=_goals_of, changed_since=changed_after("updated_at")),
        notes=(
            "The goals of Careway's own care plans (ids are UUIDs) are served with those from "
            "other settings (numbered): read, searched and exported, never written here.",
        ),
        read_only_because="a goal of a Careway care plan; change it in Careway's plan",
    ),
    also=True,
)

"""CarePlan <-> careway.patients.PastCarePlan, and Goal <-> careway.patients.PastGoal.

These are plans and goals from another setting, kept as history. Careway's own care plans and
goals are served as CarePlan and Goal too, beside these (care_plan.py and plan_goal.py, declared
`also=True`): the API reads and searches both together (patient, subject, _id, and CarePlan
status, Goal lifecycle-status and achievement-status), export writes these first. Ids tell them
apart: these are numbers, Careway's own are UUIDs. Every CarePlan and Goal imported is kept here
as history, as it came; careplan_draft.py may also take a plan Careway wrote in as a draft of the
patient's own plan. Both go out again exactly as they came in.

CarePlan:
- category[0] (SNOMED CT first) <-> code_system / code / display. Without a category, the title
  (else "Care plan") is the display.
- status, intent <-> status, intent (the FHIR codes; both required by R4, written "unknown" and
  "plan" when Careway has none).
- title, period, created <-> title, period_start / period_end, recorded_at.
- activity[].detail.code and .status <-> activities [{code, system, display, status}]; an
  activity that only refers to a request keeps that reference's display as its words (one with
  no words at all has nothing to keep). At most MAX_ACTIVITIES.
- addresses (references to conditions) <-> addresses, in words: a reference's display, or, when
  there is none, "" in its place and `references["addresses.N"]` for the importer to replace
  with the referenced condition's words. Written as references with a display only. At most
  MAX_ADDRESSES.
- description and note <-> note (the description first). Goal references are not kept: each Goal
  comes in as its own PastGoal.

Goal:
- description (SNOMED CT first) <-> code_system / code / display; required.
- lifecycleStatus <-> lifecycle_status (required by R4); achievementStatus (goal-achievement
  code, else the first coding's) <-> achievement_status.
- startDate <-> start_date; target[0].dueDate <-> target_date; note <-> note.
"""

from typing import Any

from careway.fhir import codes, search
from careway.patients.models import PastCarePlan, PastGoal

from . import (
    Export,
    Incoming,
    Invalid,
    ResourceDeclaration,
    changed_after,
    patient_rows,
    register,
)
from . import common as c

PLAN = "CarePlan"
# Each is an entry of a list the plan keeps (and each address, a reference to look up); a plan
# from another setting lists a handful.
MAX_ACTIVITIES = 100
MAX_ADDRESSES = 50
GOAL = "Goal"
PLAN_LIMITS = c.limits(PastCarePlan)
GOAL_LIMITS = c.limits(PastGoal)
PLAN_ELEMENTS = {
    "code": "CarePlan.category.coding.code",
    "code_system": "CarePlan.category.coding.system",
    "display": "CarePlan.category",
    "title": "CarePlan.title",
}
GOAL_ELEMENTS = {
    "code": "Goal.description.coding.code",
    "code_system": "Goal.description.coding.system",
    "display": "Goal.description",
    "achievement_status": "Goal.achievementStatus",
}
PLAN_STATUSES = frozenset(
    {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
)
INTENTS = frozenset({"proposal", "plan", "order", "option"})
ACTIVITY_STATUSES = frozenset(
    {"not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled", "stopped",
     "unknown", "entered-in-error"}
)  # fmt: skip
LIFECYCLE = frozenset(
    {"proposed", "planned", "accepted", "active", "on-hold", "completed", "cancelled",
     "entered-in-error", "rejected"}
)  # fmt: skip


# --- CarePlan ------------------------------------------------------------------------------------


def careplan_to_fhir(plan: PastCarePlan) -> dict[str, Any]:
    return c.drop_empty(
        {
            "resourceType": "CarePlan",
            "id": str(plan.pk),
            "meta": c.meta(plan, "recorded_at"),
            "status": plan.status or "unknown",
            "intent": plan.intent or "plan",
            "category": [c.coded(plan.code_system, plan.code, plan.display)],
            "title": plan.title,
            "subject": c.patient_ref(plan),
            "period": c.drop_empty(
                {
                    "start": c.instant(plan.period_start) if plan.period_start else None,
                    "end": c.instant(plan.period_end) if plan.period_end else None,
                }
            ),
            "created": c.instant(plan.recorded_at) if plan.recorded_at else None,
            "addresses": [{"display": words} for words in plan.addresses or [] if words],
            "activity": [_activity_out(a) for a in plan.activities or []],
            "note": c.annotation(plan.note),
        }
    )


def _activity_out(activity: dict[str, Any]) -> dict[str, Any]:
    return {
        "detail": c.drop_empty(
            {
                "code": c.coded(
                    activity.get("system", ""),
                    activity.get("code", ""),
                    activity.get("display", ""),
                ),
                "status": activity.get("status") or "unknown",
            }
        )
    }


def careplan_from_fhir(resource: dict[str, Any]) -> Incoming:
    for key in ("status", "intent"):
        if key not in resource:
            raise Invalid(f"CarePlan.{key}", f"missing: R4 requires the {key}")
    categories = c.objects(resource, "category", PLAN)
    system, code, display = c.concept(
        categories[0] if categories else None, "CarePlan.category[0]", (codes.SNOMED,)
    )
    title = c.text(resource, "title", PLAN)
    period = c.obj(resource, "period", PLAN)
    references: dict[str, str] = {}
    row: dict[str, Any] = {
        "code_system": system,
        "code": code,
        "display": display or code or title or "Care plan",
        "status": c.code_in(resource, "status", PLAN, PLAN_STATUSES, "unknown"),
        "intent": c.code_in(resource, "intent", PLAN, INTENTS, "plan"),
        "title": title,
        "period_start": c.optional_datetime(period, "start", "CarePlan.period"),
        "period_end": c.optional_datetime(period, "end", "CarePlan.period"),
        "activities": _activities_in(resource),
        "addresses": _addresses_in(resource, references),
        "note": "\n\n".join(
            p for p in (c.text(resource, "description", PLAN), c.notes(resource, PLAN)) if p
        ),
    }
    created = c.optional_datetime(resource, "created", PLAN)
    if created is not None:
        row["recorded_at"] = created
    c.check_lengths(row, PLAN_LIMITS, PLAN_ELEMENTS)
    return Incoming(
        resource_type=PLAN,
        model=PastCarePlan,
        rows=[row],
        subject=c.reference(resource, "subject", PLAN),
        references=references,
        source_id=c.text(resource, "id", PLAN),
        identifiers=c.identifiers(resource, PLAN),
    )


def _activities_in(resource: dict[str, Any]) -> list[dict[str, str]]:
    activities = []
    for index, activity in enumerate(c.objects(resource, "activity", PLAN, MAX_ACTIVITIES)):
        where = f"CarePlan.activity[{index}]"
        detail = c.obj(activity, "detail", where)
        system, code, display = c.concept(
            detail.get("code"), f"{where}.detail.code", (codes.SNOMED,)
        )
        if not code and not display:
            display = c.text(c.obj(activity, "reference", where), "display", f"{where}.reference")
        if not code and not display:
            continue
        status = c.code_in(detail, "status", f"{where}.detail", ACTIVITY_STATUSES, "")
        activities.append({"code": code, "system": system, "display": display, "status": status})
    return activities


def _addresses_in(resource: dict[str, Any], references: dict[str, str]) -> list[str]:
    words = []
    for index, target in enumerate(c.objects(resource, "addresses", PLAN, MAX_ADDRESSES)):
        where = f"CarePlan.addresses[{index}]"
        words.append(c.text(target, "display", where))
        if not words[-1]:
            references[f"addresses.{index}"] = c.text(target, "reference", where)
    return words


# --- Goal ----------------------------------------------------------------------------------------


def goal_to_fhir(goal: PastGoal) -> dict[str, Any]:
    return c.drop_empty(
        {
            "resourceType": "Goal",
            "id": str(goal.pk),
            "meta": c.meta(goal, "recorded_at"),
            "lifecycleStatus": goal.lifecycle_status or "active",
            "achievementStatus": (
                c.category(codes.GOAL_ACHIEVEMENT, goal.achievement_status)
                if goal.achievement_status
                else None
            ),
            "description": c.coded(goal.code_system, goal.code, goal.display),
            "subject": c.patient_ref(goal),
            "startDate": c.day(goal.start_date) if goal.start_date else None,
            "target": [{"dueDate": c.day(goal.target_date)}] if goal.target_date else [],
            "note": c.annotation(goal.note),
        }
    )


def goal_from_fhir(resource: dict[str, Any]) -> Incoming:
    system, code, display = c.concept(
        resource.get("description"), "Goal.description", (codes.SNOMED,)
    )
    if not code and not display:
        raise Invalid("Goal.description", "missing: Careway needs the goal in words")
    if "lifecycleStatus" not in resource:
        raise Invalid("Goal.lifecycleStatus", "missing: R4 requires the lifecycle status")
    achievement = resource.get("achievementStatus")
    row: dict[str, Any] = {
        "code_system": system,
        "code": code,
        "display": display or code,
        "lifecycle_status": c.code_in(resource, "lifecycleStatus", GOAL, LIFECYCLE, "active"),
        "achievement_status": (
            c.coding_code(achievement, codes.GOAL_ACHIEVEMENT, "Goal.achievementStatus")
            or c.concept(achievement, "Goal.achievementStatus")[1]
        ),
        "start_date": c.optional_date(resource, "startDate", GOAL),
        "target_date": None,
        "note": c.notes(resource, GOAL),
    }
    for index, target in enumerate(c.objects(resource, "target", GOAL)):
        row["target_date"] = c.optional_date(target, "dueDate", f"Goal.target[{index}]")
        if row["target_date"]:
            break
    c.check_lengths(row, GOAL_LIMITS, GOAL_ELEMENTS)
    return Incoming(
        resource_type=GOAL,
        model=PastGoal,
        rows=[row],
        subject=c.reference(resource, "subject", GOAL),
        source_id=c.text(resource, "id", GOAL),
        identifiers=c.identifiers(resource, GOAL),
    )


PLAN_STATUS_CODES = search.value_set(
    *search.stored_as_is(*sorted(PLAN_STATUSES - {"unknown"})),
    ("unknown", "unknown"),
    ("unknown", ""),
)
LIFECYCLE_CODES = search.value_set(
    *search.stored_as_is(*sorted(LIFECYCLE - {"active"})), ("active", "active"), ("active", "")
)
ACHIEVEMENT_CODES = search.value_set(
    *search.stored_as_is(
        "in-progress", "improving", "worsening", "no-change", "achieved", "sustaining",
        "not-achieved", "no-progress", "not-attainable",
    )
)  # fmt: skip

# The same parameters and order (-time, -id) as Careway's own plans and goals, so that one page
# can take rows from both.
PLAN_SEARCH = search.SearchDeclaration(
    order=("-recorded_at", "-id"),
    includes=("patient", "subject"),
    sort_description="most recently started first",
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=search.locate_by_int),
            "status": search.TokenParam(
                "status", codes=PLAN_STATUS_CODES, description="The plan's status."
            ),
        }
    ),
)
GOAL_SEARCH = search.SearchDeclaration(
    order=("-recorded_at", "-id"),
    includes=("patient", "subject"),
    sort_description="most recently set first",
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=search.locate_by_int),
            "lifecycle-status": search.TokenParam(
                "lifecycle_status", codes=LIFECYCLE_CODES, description="The goal's lifecycle."
            ),
            "achievement-status": search.TokenParam(
                "achievement_status",
                system=codes.GOAL_ACHIEVEMENT,
                codes=ACHIEVEMENT_CODES,
                description="How the goal is going (goal-achievement).",
            ),
        }
    ),
)

register(
    ResourceDeclaration(
        "CarePlan",
        PastCarePlan,
        from_fhir=careplan_from_fhir,
        to_fhir=careplan_to_fhir,
        search=PLAN_SEARCH,
        elements=PLAN_ELEMENTS,
        export=Export(rows=patient_rows(PastCarePlan), changed_since=changed_after("recorded_at")),
        notes=("Plans from other settings, kept as history (ids are numbers).",),
    )
)
register(
    ResourceDeclaration(
        "Goal",
        PastGoal,
        from_fhir=goal_from_fhir,
        to_fhir=goal_to_fhir,
        search=GOAL_SEARCH,
        elements=GOAL_ELEMENTS,
        export=Export(rows=patient_rows(PastGoal), changed_since=changed_after("recorded_at")),
        notes=("Goals from other settings, kept as history (ids are numbers).",),
    )
)

"""CarePlan <- careway.careplans.CarePlan: Careway's own living plan of an episode, written only;
shaped after US Core CarePlan and the MCC eCare Plan guide's MCCCarePlan (no profile is claimed
in meta.profile: Careway checks its resources against R4, not against the profiles).

Served as CarePlan beside the plans from other settings (careway.patients.PastCarePlan,
careplan.py): registered with `also=True`, read and searched with them, exported after them.
Ids: the plan's UUID (a past plan's are numbers). How a plan comes back in: careplan_draft.py.

- identifier: system urn:careway:fhir:care-plan, value the plan's id: how an import knows a plan
  Careway wrote (careplan_draft.py), wherever it has travelled.
- text (US Core requires it, status and div): generated from the plan, its title, status,
  problems, goals, visit frequencies and interventions.
- status: as stored (R4 request-status codes); intent `plan`.
- category: US Core's `assess-plan` (http://hl7.org/fhir/us/core/CodeSystem/careplan-category)
  and SNOMED CT 734163000 Care plan, as MCCCarePlan's example codes it.
- title; subject; period: the episode's start of care to its discharge; created: when the plan
  was started; author: who started it, by name (Careway serves no Practitioner).
- careTeam: the episode's CareTeam (CareTeam/<episode id>: family caregivers are participants
  with a RelatedPerson reference, episode.py).
- addresses: each active problem, as a reference to its Condition (a problem linked to one) or
  as its words alone, a display-only Reference (a problem written by the team, from a flag or an
  assessment finding: `addresses` takes only References, and dressing such a problem up as a
  contained Condition would make a diagnosis of it). Resolved problems are left out: the plan no
  longer addresses them.
- goal: each goal (entered in error aside), in the plan's order.
- activity: a reference to each ServiceRequest of its visit frequencies, then of its
  interventions, each part of a frequency in order (service_request.py).
- extension review-due (Careway's): when the plan is next reviewed with the patient.
meta.versionId is the plan's revision number: each change to the plan or its parts is a revision
kept whole, so the number changes exactly when the plan does. Earlier revisions are not served as
FHIR (vread): a revision keeps the plan in words for its readers, not the rows a resource is
written from; Careway's plan pages show them and what changed.
"""

from collections.abc import Iterator
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from careway.careplans.models import CarePlan, DisciplineFrequency, Goal, Intervention, Problem
from careway.fhir import codes, search

from . import Export, ResourceDeclaration, changed_after, patient_rows, register
from . import common as c
from . import plan_common as pc

US_CORE_CAREPLAN_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category"
CATEGORY = {
    "coding": [
        c.coding(US_CORE_CAREPLAN_CATEGORY, "assess-plan", "Assessment and Plan of Treatment"),
        c.coding(codes.SNOMED, "734163000", "Care plan"),
    ],
    "text": "Home health plan of care",
}
EXT_REVIEW_DUE = codes.careway_extension("review-due")
IN_ERROR = "entered-in-error"


def careplan_to_fhir(plan: CarePlan) -> dict[str, Any]:
    problems = [p for p in plan.problems.all() if p.status == Problem.Status.ACTIVE]
    goals = [g for g in plan.goals.all() if g.lifecycle_status != IN_ERROR]
    frequencies = [f for f in plan.frequencies.all() if f.status != IN_ERROR]
    interventions = [i for i in plan.interventions.all() if i.status != IN_ERROR]
    episode = plan.episode
    return c.drop_empty(
        {
            "resourceType": "CarePlan",
            "id": str(plan.pk),
            "meta": {"versionId": str(plan.revision), "lastUpdated": c.instant(plan.updated_at)},
            "text": _narrative(plan, problems, goals, frequencies, interventions),
            "extension": (
                [{"url": EXT_REVIEW_DUE, "valueDate": c.day(plan.review_due)}]
                if plan.review_due
                else []
            ),
            "identifier": [{"system": pc.PLAN_IDENTIFIER, "value": str(plan.pk)}],
            "status": plan.status,
            "intent": "plan",
            "category": [CATEGORY],
            "title": plan.title,
            "subject": c.patient_ref(plan),
            "period": c.drop_empty(
                {
                    "start": c.day(episode.start_of_care) if episode.start_of_care else None,
                    "end": c.day(episode.discharge_date) if episode.discharge_date else None,
                }
            ),
            "created": c.instant(plan.created_at),
            "author": {"display": plan.created_by.display_name} if plan.created_by else None,
            "careTeam": [{"reference": f"CareTeam/{plan.episode_id}"}],
            "addresses": [pc.problem_reference(p) for p in problems],
            "goal": [{"reference": f"Goal/{g.pk}", "display": g.description} for g in goals],
            "activity": [
                *(a for f in frequencies for a in _activity(pc.FREQUENCY_PREFIX, f, _words(f))),
                *(a for i in interventions for a in _activity(pc.INTERVENTION_PREFIX, i, i.text)),
            ],
        }
    )


def _words(row: DisciplineFrequency) -> str:
    return f"{pc.DISCIPLINES.get(row.discipline, row.discipline)} visits {row.frequency}"


def _activity(prefix: str, row: Any, words: str) -> Iterator[dict[str, Any]]:
    """One activity entry per part of the row's frequency (one, without a frequency)."""
    count = pc.part_count(row.frequency)
    for part in range(1, count + 1):
        said = words if count == 1 else f"{words} (part {part} of {count})"
        ident = pc.request_id(prefix, row.pk, part)
        yield {"reference": {"reference": f"ServiceRequest/{ident}", "display": said}}


def _narrative(
    plan: CarePlan,
    problems: list[Problem],
    goals: list[Goal],
    frequencies: list[DisciplineFrequency],
    interventions: list[Intervention],
) -> dict[str, Any]:
    status = plan.get_status_display()
    return pc.narrative(
        f"{plan.title} ({status.lower()})",
        [
            ("Problems", [p.text for p in problems]),
            ("Goals", [_goal_words(g) for g in goals]),
            ("Visit frequencies", [_words(f) for f in frequencies]),
            ("Interventions", [f"{i.get_kind_display()}: {i.text}" for i in interventions]),
        ],
    )


def _goal_words(goal: Goal) -> str:
    if goal.patient_words and goal.patient_words != goal.description:
        return f'{goal.description} (in the patient\'s words: "{goal.patient_words}")'
    return goal.description


# --- search and export ---------------------------------------------------------------------------


def with_parts(plans: QuerySet) -> QuerySet:
    """Plans with what writing them reads, in a fixed number of queries (a search, an export)."""
    return plans.select_related("episode", "created_by").prefetch_related(
        "problems",
        "goals",
        Prefetch("frequencies", queryset=DisciplineFrequency.objects.order_by("discipline")),
        "interventions",
    )


def locate_plan(ident: str) -> Q | None:
    pk = search.uuid_id(ident)
    return Q(pk=pk) if pk is not None and str(pk) == ident else None


STATUS_CODES = search.value_set(
    *search.stored_as_is(*CarePlan.Status.values), *search.not_stored("unknown")
)


def _plans_of(patient_ids: list[Any]) -> QuerySet:
    return with_parts(patient_rows(CarePlan)(patient_ids))


SEARCH = search.SearchDeclaration(
    order=("-created_at", "-id"),
    locate=locate_plan,
    scope=with_parts,
    includes=("patient", "subject"),
    sort_description="most recently started first",
    versioned=False,
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=locate_plan),
            "status": search.TokenParam(
                "status", codes=STATUS_CODES, description="The plan's status."
            ),
        }
    ),
)

register(
    ResourceDeclaration(
        "CarePlan",
        CarePlan,
        to_fhir=careplan_to_fhir,
        search=SEARCH,
        export=Export(rows=_plans_of, changed_since=changed_after("updated_at")),
        notes=(
            "Careway's own care plans (ids are UUIDs, identifier system "
            f"{pc.PLAN_IDENTIFIER}) are served with the plans from other settings (numbered): "
            "read, searched and exported, never written here; meta.versionId is the plan's "
            "revision, and its earlier revisions are not served as FHIR.",
        ),
        read_only_because="a Careway care plan; revise it in Careway",
    ),
    also=True,
)

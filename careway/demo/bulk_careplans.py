"""Care plans for the benchmark agency (`careway demo --patients N`), built as rows in bulk.

Every patient gets a plan like the ones the care plan services make: the plans of
content/careplans.json for their scenario, varied (3 to 6 goals, 5 to 10 interventions, two or
three visiting disciplines with their frequencies), with one revision holding the whole plan in
the shape careway/careplans/revisions.py gives it, and the family caregiver who carries an
intervention on the care team. Goals' statuses are computed by the same rules the services use
(careway/careplans/achievement.py on the patient's readings, as careway/careplans/evidence.py
reads them: vital signs, A1c results, the start-of-care assessment's scores and pain reading);
tests/demo/test_bulk.py checks that the services compute the same and that the
revision equals `revisions.content_of` of the plan.
"""

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any

from django.db import connection
from django.utils import timezone
from psycopg.types.json import Jsonb

from careway.careplans import measures, services
from careway.careplans.achievement import FreeOfTarget, Reading, Target, evaluate, evaluate_free_of
from careway.careplans.frequency import parse
from careway.careplans.models import (
    CarePlan,
    CarePlanRevision,
    DisciplineFrequency,
    Goal,
    Intervention,
    Problem,
)
from careway.careplans.revisions import PATIENT_WORDS
from careway.core.roles import Discipline
from careway.core.tables import TableShape
from careway.patients.models import CareTeamMember, RelatedPerson

from . import careplans as demo_plans

PLAN_MODELS = (CarePlan, CarePlanRevision, Problem, Goal, Intervention, DisciplineFrequency)
DISCIPLINE_CHOICES = (("RN", "PT", "HHA"), ("RN", "PT"), ("RN", "HHA"))
DRAFT_SHARE = 0.05
EARLY_REVIEW_SHARE = 0.1
# Goals a plan may add to its scenario's, each with the intervention that works towards it.
EXTRA_GOALS: tuple[tuple[dict[str, Any], dict[str, Any]], ...] = (
    (
        {
            "patient_words": "Keep my blood pressure down",
            "description": "Systolic pressure below 140 mmHg",
            "measure": "systolic",
            "target": {"high": 139},
            "due_day": 45,
        },
        {"kind": "monitor", "text": "Check blood pressure at each visit", "who": "RN"},
    ),
    (
        {
            "patient_words": "Hurt less",
            "description": "Pain at most 3 of 10",
            "measure": "pain",
            "target": {"high": 3},
            "due_day": 30,
        },
        {"kind": "monitor", "text": "Ask about pain and how the medicine works", "who": "RN"},
    ),
    (
        {
            "patient_words": "Keep my weight steady",
            "description": "Weight within 3 lb of usual",
            "measure": "weight",
            "target": {"from_baseline": "weight", "low": -3, "high": 3},
            "due_day": 45,
        },
        {"kind": "monitor", "text": "Weigh at each visit and compare with the log", "who": "RN"},
    ),
    (
        {
            "patient_words": "Not fall",
            "description": "No fall for 30 days",
            "measure": "falls",
            "target": {"days": 30},
            "due_day": 59,
        },
        {"kind": "teach", "text": "Teach safe transfers and clear walkways", "who": "PT"},
    ),
)
PAIN_CODE = "72514-3"  # LOINC pain severity, the chart's pain vital sign
PAIN_READINGS = 5
PAIN_EVERY_DAYS = 3
DISCIPLINE_NAMES = dict(Discipline.choices)
ROLE_NAMES = dict(CareTeamMember.TeamRole.choices)
RELATIONSHIP_NAMES = dict(RelatedPerson.Relationship.choices)
LABELS: dict[str, dict[str, str]] = {
    "plan": dict(CarePlan.Status.choices),
    "source": dict(Problem.Source.choices),
    "problem": dict(Problem.Status.choices),
    "goal": dict(Goal.Lifecycle.choices),
    "kind": dict(Intervention.Kind.choices),
    "intervention": dict(Intervention.Status.choices),
    "frequency": dict(DisciplineFrequency.Status.choices),
}
PLAN_TITLE = CarePlan._meta.get_field("title").get_default()


@dataclass
class TeamMember:
    id: int
    name: str
    role: str
    user_id: int | None = None


@dataclass
class Caregiver:
    id: int
    name: str
    relationship: str
    lives_with: bool = False


@dataclass
class PatientFacts:
    """What the plan needs to know of one patient the loader has built."""

    number: int
    patient_id: uuid.UUID
    episode_id: int
    start_of_care: date
    scenario: str
    case: dict[str, Any]
    primary_problem: str
    # The primary case manager first.
    team: list[TeamMember]
    caregiver: Caregiver | None
    # Reserved for the caregiver's place on the team, should an intervention put them there.
    caregiver_member_id: int
    # LOINC code -> (when taken, value), from the loader's own observation rows; and an
    # instrument's score (`score_key`) -> (when observed, value), from the signed assessment.
    readings: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    # The demo's keys of the conditions on the chart (content/codes.json), the number of
    # medicines, and the birth date: what the assessment and the preventive history draw on.
    conditions: list[str] = field(default_factory=list)
    medications: int = 0
    birth_date: date | None = None


def score_key(questionnaire_url: str, key: str) -> str:
    """How an instrument's score is named among a patient's readings."""
    return f"{questionnaire_url}#{key}"


@dataclass
class PlanRows:
    """The rows of one batch, by model, and the care team members the plans add."""

    rows: dict[type, list[tuple]] = field(default_factory=lambda: defaultdict(list))
    caregivers_on_team: list[dict[str, Any]] = field(default_factory=list)
    pain_readings: list[tuple[uuid.UUID, datetime, float]] = field(default_factory=list)


class BulkPlans:
    """Builds each patient's plan rows in memory (no query): see the module's docstring."""

    def __init__(self, organization_id: int, today: date, seed: int, zone: Any):
        self.organization_id, self.today, self.seed, self.zone = organization_id, today, seed, zone
        self.content = demo_plans.plans_content()
        self.shapes = {model: TableShape(model) for model in PLAN_MODELS}
        self.now = timezone.now()
        self.json = Jsonb if connection.vendor == "postgresql" else _as_is

    def plan_rows(self, facts: PatientFacts, out: PlanRows) -> None:
        rng = random.Random(f"careplan-{self.seed}-{facts.number}")
        family = self.content["families"][self.content["scenario_families"][facts.scenario]]
        builder = _OnePlan(self, facts, rng)
        builder.build(family)
        builder.emit(out)


class _OnePlan:
    """One patient's plan. Its rows are dicts of column values (model instances cost more than
    the rest of the plan), named as the models name their fields."""

    def __init__(self, bulk: BulkPlans, facts: PatientFacts, rng: random.Random):
        self.bulk, self.facts, self.rng = bulk, facts, rng
        self.common = {"organization_id": bulk.organization_id, "patient_id": facts.patient_id}
        self.plan_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        self.status = (
            CarePlan.Status.DRAFT if rng.random() < DRAFT_SHARE else CarePlan.Status.ACTIVE
        )
        self.disciplines = rng.choice(DISCIPLINE_CHOICES)
        self.problems: list[dict[str, Any]] = []
        self.goals: list[dict[str, Any]] = []
        self.interventions: list[dict[str, Any]] = []
        self.frequencies: list[dict[str, Any]] = []
        self.pain_series: list[tuple[datetime, float]] = []
        self.readings: dict[str, list[tuple[datetime, float]]] = dict(facts.readings)

    # --- content ----------------------------------------------------------------------------

    def build(self, family: dict[str, Any]) -> None:
        problems = family["problems"]
        extra = [e for e in EXTRA_GOALS if not self._has_measure(family, e[0]["measure"])]
        extra = self.rng.sample(extra, k=self.rng.randint(0, min(2, len(extra))))
        for index, spec in enumerate(problems):
            problem = self._problem(spec, index)
            goal_specs = list(spec["goals"]) + ([g for g, _ in extra] if index == 0 else [])
            goals = [self._goal(g, problem) for g in goal_specs]
            interventions = list(spec["interventions"])
            if index == 0:
                interventions += [
                    i | {"goal": len(spec["goals"]) + n} for n, (_, i) in enumerate(extra)
                ]
            for intervention in interventions:
                self._intervention(intervention, problem, goals)
        for discipline in self.disciplines:
            self._frequency(discipline)
        self._evaluate_goals()

    @staticmethod
    def _has_measure(family: dict[str, Any], measure: str) -> bool:
        return any(g.get("measure") == measure for p in family["problems"] for g in p["goals"])

    def _row(self, **values: Any) -> dict[str, Any]:
        return {
            **self.common,
            "id": uuid.UUID(int=self.rng.getrandbits(128), version=4),
            "plan_id": self.plan_id,
            **values,
        }

    def _problem(self, spec: dict[str, Any], index: int) -> dict[str, Any]:
        # The bulk loader does not link conditions: the team writes the diagnosis as the problem.
        problem = self._row(
            text=spec.get("text") or self.facts.primary_problem,
            source=Problem.Source.WRITTEN,
            status=Problem.Status.ACTIVE,
            position=index,
        )
        self.problems.append(problem)
        return problem

    def _goal(self, spec: dict[str, Any], problem: dict[str, Any]) -> dict[str, Any]:
        start = self.facts.start_of_care
        draft = self.status == CarePlan.Status.DRAFT
        goal = self._row(
            problem_id=problem["id"],
            patient_words=spec["patient_words"],
            description=spec["description"],
            lifecycle_status=Goal.Lifecycle.PROPOSED if draft else Goal.Lifecycle.ACTIVE,
            start_date=start,
            due_date=start + timedelta(days=spec["due_day"] + self.rng.choice((-7, 0, 0, 14))),
            measure=spec.get("measure", ""),
            target_low=None,
            target_high=None,
            target_days=None,
            needed=None,
            window=None,
            task_id=None,
            position=len(self.goals),
        )
        if goal["measure"]:
            self._set_target(goal, spec["target"])
        self.goals.append(goal)
        return goal

    def _set_target(self, goal: dict[str, Any], target: dict[str, Any]) -> None:
        if "days" in target:
            goal["target_days"] = target["days"]
            return
        base = self.facts.case["vitals"].get(target.get("from_baseline", ""), 0)
        # Teams set targets a little differently for each patient.
        nudge = self.rng.choice((0, 0, 1, 2)) if goal["measure"] in ("systolic", "weight") else 0
        if "low" in target:
            goal["target_low"] = base + target["low"] - nudge
        if "high" in target:
            goal["target_high"] = base + target["high"] + nudge
        if goal["measure"] == "pain":
            self._pain_readings()

    def _pain_readings(self) -> None:
        """Pain scores from the last visits, easing, steady or getting worse, from where the
        start-of-care assessment found it (3 to 8)."""
        if self.pain_series:
            return
        earlier = self.readings.get(PAIN_CODE, [])
        level = min(8, max(3, round(earlier[-1][1]))) if earlier else self.rng.randint(3, 8)
        slope = self.rng.choice((-1.0, -0.5, 0.0, 0.5))
        series = []
        for n in range(PAIN_READINGS):
            day = self.bulk.today - timedelta(days=1 + PAIN_EVERY_DAYS * (PAIN_READINGS - 1 - n))
            taken = datetime(day.year, day.month, day.day, 10, 0, tzinfo=self.bulk.zone)
            value = min(10.0, max(0.0, round(level + slope * n + self.rng.choice((-1, 0, 0, 1)))))
            series.append((taken, value))
        self.pain_series = series
        self.readings[PAIN_CODE] = sorted([*earlier, *series], key=lambda reading: reading[0])

    def _intervention(
        self, spec: dict[str, Any], problem: dict[str, Any], goals: list[dict[str, Any]]
    ) -> None:
        who = spec["who"]
        if who == "caregiver" and self.facts.caregiver is None:
            return
        is_discipline = who not in ("caregiver", "case_manager", "patient")
        self.interventions.append(
            self._row(
                problem_id=problem["id"],
                goal_id=goals[spec["goal"]]["id"] if "goal" in spec else None,
                kind=spec["kind"],
                text=spec["text"],
                discipline=who if is_discipline else "",
                clinician_id=self.facts.team[0].user_id if who == "case_manager" else None,
                caregiver_id=self.facts.caregiver.id if who == "caregiver" else None,  # type: ignore[union-attr]
                by_patient=who == "patient",
                at_visits_of=who if is_discipline and who in self.disciplines else "",
                frequency=spec.get("frequency", ""),
                start_date=self.facts.start_of_care,
                status=Intervention.Status.ACTIVE,
                position=len(self.interventions),
            )
        )

    def _frequency(self, discipline: str) -> None:
        start = self.facts.start_of_care
        frequency = self.bulk.content["frequencies"][discipline]
        self.frequencies.append(
            self._row(
                discipline=discipline,
                frequency=frequency,
                start_date=start,
                end_date=_last_day(frequency, start),
                status=DisciplineFrequency.Status.ACTIVE,
            )
        )

    # --- goal status, as the services compute it ------------------------------------------

    def _evaluate_goals(self) -> None:
        days: dict[datetime, date] = {}
        for goal in self.goals:
            goal["evaluated_at"] = self.bulk.now
            verdict = self._verdict(goal, days)
            status, rule = (
                ("in-progress", "")
                if verdict is None
                else (verdict.status.value, verdict.rule[:300])
            )
            goal["achievement"], goal["achievement_rule"] = status, rule

    def _verdict(self, goal: dict[str, Any], days: dict[datetime, date]) -> Any:
        measure = measures.measure_of(goal["measure"])
        target = measures.target_of(SimpleNamespace(**goal))
        if measure is None or target is None:
            return None
        if isinstance(target, FreeOfTarget):
            return evaluate_free_of(target, [], self.bulk.today)  # no falls or stays loaded
        assert isinstance(target, Target)
        taken: list[tuple[datetime, float]] = []
        if measure.kind == measures.OBSERVATION:
            taken = self.readings.get(measure.code, [])
        elif measure.kind == measures.SCORE:
            taken = self.readings.get(score_key(measure.questionnaire, measure.score), [])
        readings = []
        for at, value in taken:
            if at not in days:
                days[at] = at.astimezone(self.bulk.zone).date()  # the agency's day, as evidence
            readings.append(Reading(days[at], value))
        return evaluate(target, readings, self.bulk.today)

    # --- rows -------------------------------------------------------------------------------

    def emit(self, out: PlanRows) -> None:
        shapes, rows = self.bulk.shapes, out.rows
        team = list(self.facts.team)
        caregiver = self.facts.caregiver
        if caregiver is not None and any(i["caregiver_id"] for i in self.interventions):
            # A caregiver given an intervention joins the team (services._caregiver_on_team).
            team.append(TeamMember(self.facts.caregiver_member_id, caregiver.name, "caregiver"))
            out.caregivers_on_team.append(
                {
                    **self.common,
                    "id": self.facts.caregiver_member_id,
                    "episode_id": self.facts.episode_id,
                    "related_person_id": caregiver.id,
                    "role": CareTeamMember.TeamRole.CAREGIVER,
                }
            )
        review_due = self._review_due()
        case_manager = self.facts.team[0].user_id
        rows[CarePlan].append(
            shapes[CarePlan].row(
                {
                    **self.common,
                    "id": self.plan_id,
                    "episode_id": self.facts.episode_id,
                    "status": self.status,
                    "review_due": review_due,
                    "created_by_id": case_manager,
                    "revision": 1,
                }
            )
        )
        for model, items in (
            (Problem, self.problems),
            (Goal, self.goals),
            (Intervention, self.interventions),
            (DisciplineFrequency, self.frequencies),
        ):
            shape = shapes[model]
            rows[model] += [shape.row(item) for item in items]
        rows[CarePlanRevision].append(
            shapes[CarePlanRevision].row(
                {
                    **self.common,
                    "plan_id": self.plan_id,
                    "number": 1,
                    "author_id": case_manager,
                    "made_at": self.bulk.now,
                    "summary": "Plan started with its problems, goals, interventions and "
                    "visit frequencies",
                    "reason": "Loaded by the benchmark loader.",
                    "content": self.bulk.json(self._content(review_due, team)),
                }
            )
        )
        for at, value in self.pain_series:
            out.pain_readings.append((self.facts.patient_id, at, value))

    def _review_due(self) -> date:
        start = self.facts.start_of_care
        if self.rng.random() < EARLY_REVIEW_SHARE:
            return start + timedelta(days=self.bulk.content["review_after_days"])
        return start + timedelta(days=services.REVIEW_DAY - 1)

    def _content(self, review_due: date, team: list[TeamMember]) -> dict[str, Any]:
        """The plan as revisions.content_of gives it (tests/demo/test_bulk.py compares them)."""
        problems = {p["id"]: p["text"] for p in self.problems}
        goals = {g["id"]: g["description"] for g in self.goals}
        return {
            "plan": {
                str(self.plan_id): {
                    "title": PLAN_TITLE,
                    "status": LABELS["plan"][self.status],
                    "review_due": review_due.isoformat(),
                }
            },
            "problems": {
                str(p["id"]): {
                    "text": p["text"],
                    "source": LABELS["source"][p["source"]],
                    "linked": "",
                    "status": LABELS["problem"][p["status"]],
                }
                for p in self.problems
            },
            "goals": {
                str(g["id"]): {
                    "description": g["description"],
                    "patient_words": g["patient_words"],
                    "problem": problems.get(g["problem_id"], ""),
                    "target": measures.target_in_words(SimpleNamespace(**g)),
                    "lifecycle_status": LABELS["goal"][g["lifecycle_status"]],
                    "start_date": _day(g["start_date"]),
                    "due_date": _day(g["due_date"]),
                    "override": "",
                }
                for g in self.goals
            },
            "interventions": {
                str(i["id"]): {
                    "text": i["text"],
                    "kind": LABELS["kind"][i["kind"]],
                    "who": self._who(i),
                    "at_visits_of": DISCIPLINE_NAMES.get(i["at_visits_of"], ""),
                    "frequency": i["frequency"],
                    "goal": goals.get(i["goal_id"], ""),
                    "teaching_topic": "",  # the bulk demo's interventions name no topic
                    "start_date": _day(i["start_date"]),
                    "end_date": "",
                    "status": LABELS["intervention"][i["status"]],
                }
                for i in self.interventions
            },
            "frequencies": {
                str(f["id"]): {
                    "discipline": DISCIPLINE_NAMES[f["discipline"]],
                    "frequency": f["frequency"],
                    "start_date": _day(f["start_date"]),
                    "end_date": _day(f["end_date"]),
                    "status": LABELS["frequency"][f["status"]],
                }
                for f in self.frequencies
            },
            "team": {
                str(m.id): {"name": m.name, "role": ROLE_NAMES[m.role], "status": "Active"}
                for m in team
            },
        }

    def _who(self, intervention: dict[str, Any]) -> str:
        if intervention.get("by_patient"):
            return PATIENT_WORDS
        if intervention["clinician_id"]:
            return self.facts.team[0].name
        caregiver = self.facts.caregiver
        if intervention["caregiver_id"] and caregiver is not None:
            return f"{caregiver.name} ({RELATIONSHIP_NAMES[caregiver.relationship].lower()})"
        return DISCIPLINE_NAMES[intervention["discipline"]]


@cache
def _last_day(frequency: str, start: date) -> date:
    return max(p.end for p in parse(frequency).periods(start))


def _as_is(value: Any) -> Any:
    return value


def _day(day: date | None) -> str:
    return day.isoformat() if day else ""

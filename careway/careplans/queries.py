"""Reads of a care plan for its pages: the plan as the chart shows it, its revisions, the chart
records a problem can come from, and the plans of other settings kept as history.

Each read is a fixed number of queries whatever the plan holds (the plan page is asserted in
tests/careplans/test_views_plan.py). Goal and caseload reads live in goal_queries.py.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from careway.core.models import User
from careway.patients.models import (
    CareTeamMember,
    Condition,
    PastCarePlan,
    PastGoal,
    Patient,
    PatientFlag,
    RelatedPerson,
    Task,
)

from . import measures, services
from .achievement import Achievement
from .frequency import FrequencyError, parse
from .models import (
    CarePlan,
    CarePlanRevision,
    DisciplineFrequency,
    Goal,
    Intervention,
    Problem,
    TeachingRecord,
)
from .revisions import linked_record, who_of

ENTERED_IN_ERROR = "entered-in-error"
# How a goal's achievement looks: the word is always shown, the colour only adds to it.
ACHIEVEMENT_TONES = {
    Achievement.ACHIEVED: "ok",
    Achievement.SUSTAINING: "ok",
    Achievement.IMPROVING: "info",
    Achievement.IN_PROGRESS: "info",
    Achievement.NO_CHANGE: "soon",
    Achievement.WORSENING: "urgent",
    Achievement.NOT_ACHIEVED: "urgent",
}
ACTIVE_CONDITIONS = (
    Condition.ClinicalStatus.ACTIVE,
    Condition.ClinicalStatus.RECURRENCE,
    Condition.ClinicalStatus.RELAPSE,
)
# A plan's history is a few dozen revisions; the bound keeps a runaway import off the page.
REVISION_LIMIT = 500
HISTORY_LIMIT = 50


def current_plan(patient: Patient) -> CarePlan | None:
    """The care plan of the patient's open episode, if it has one."""
    episode = services.current_episode(patient)
    if episode is None:
        return None
    return (
        CarePlan.objects.filter(episode=episode)
        .exclude(status=CarePlan.Status.ENTERED_IN_ERROR)
        .select_related("episode", "created_by")
        .first()
    )


def words_of_frequency(notation: str) -> str:
    """A frequency in words; an empty string for a notation that cannot be read (imported)."""
    if not notation:
        return ""
    try:
        return parse(notation).in_words()
    except FrequencyError:
        return ""


@dataclass
class ShownProblem:
    problem: Problem
    linked: str


@dataclass
class ShownGoal:
    goal: Goal
    target: str
    status_word: str
    tone: str
    overridden: bool


@dataclass
class ShownIntervention:
    intervention: Intervention
    who: str
    frequency_words: str
    # A teaching intervention's latest teach-back on its topic (careway/careplans/teaching.py).
    teach_back: TeachingRecord | None = None


@dataclass
class ShownFrequency:
    row: DisciplineFrequency
    words: str


@dataclass
class PlanParts:
    """What the plan page shows of one plan, rows entered in error left out (they stay in the
    revisions)."""

    plan: CarePlan
    problems: list[ShownProblem]
    goals: list[ShownGoal]
    interventions: list[ShownIntervention]
    frequencies: list[ShownFrequency]
    team: list[CareTeamMember]
    entered_in_error: int = 0


def plan_parts(plan: CarePlan) -> PlanParts:
    """The plan's parts for its page, in six queries (seven when an intervention has a teaching
    topic: its latest teach-back)."""
    problems = list(
        Problem.objects.filter(plan=plan).select_related("condition", "flag", "finding")
    )
    goals = list(Goal.objects.filter(plan=plan).select_related("task", "problem"))
    interventions = list(
        Intervention.objects.filter(plan=plan).select_related("clinician", "caregiver", "goal")
    )
    frequencies = list(DisciplineFrequency.objects.filter(plan=plan))
    team = list(
        CareTeamMember.objects.filter(episode_id=plan.episode_id, active=True)
        .select_related("user", "related_person")
        .order_by("-is_primary_case_manager", "role", "pk")
    )
    topics = sorted({i.teaching_topic for i in interventions if i.teaching_topic})
    taught = _latest_teach_backs(plan.patient_id, topics) if topics else {}
    rows: list[Any] = [*problems, *goals, *interventions, *frequencies]
    wrong = sum(1 for row in rows if _status_of(row) == ENTERED_IN_ERROR)
    return PlanParts(
        plan=plan,
        problems=[
            ShownProblem(p, linked_record(p)) for p in problems if p.status != ENTERED_IN_ERROR
        ],
        goals=[_shown_goal(g) for g in goals if g.lifecycle_status != ENTERED_IN_ERROR],
        interventions=[
            ShownIntervention(
                i, who_of(i), words_of_frequency(i.frequency), taught.get(i.teaching_topic)
            )
            for i in interventions
            if i.status != ENTERED_IN_ERROR
        ],
        frequencies=[
            ShownFrequency(f, words_of_frequency(f.frequency))
            for f in sorted(frequencies, key=lambda f: (f.status != "active", f.discipline))
            if f.status != ENTERED_IN_ERROR
        ],
        team=team,
        entered_in_error=wrong,
    )


def _latest_teach_backs(patient_id: Any, topics: list[str]) -> dict[str, TeachingRecord]:
    """The latest teaching record (not entered in error) of each topic, by topic."""
    rows = (
        TeachingRecord.objects.filter(patient_id=patient_id, topic__in=topics)
        .exclude(status=ENTERED_IN_ERROR)
        .order_by("-taught_at", "-created_at")
    )
    found: dict[str, TeachingRecord] = {}
    for row in rows:
        found.setdefault(row.topic, row)
    return found


def _status_of(row: Any) -> str:
    return getattr(row, "lifecycle_status", None) or row.status


def _shown_goal(goal: Goal) -> ShownGoal:
    status = Achievement(goal.shown_achievement)
    return ShownGoal(
        goal=goal,
        target=measures.target_in_words(goal),
        status_word=status.value.replace("-", " ").capitalize(),
        tone=ACHIEVEMENT_TONES[status],
        overridden=bool(goal.override),
    )


# --- what a problem, a goal or an intervention can be linked to ------------------------------


@dataclass(frozen=True)
class ChartRecords:
    conditions: list[Condition]
    flags: list[PatientFlag]
    findings: list[Any]


def chart_records_for_problems(patient: Patient) -> ChartRecords:
    """The patient's active conditions, active flags and the findings of signed assessments."""
    from careway.assessments.models import Assessment, Finding

    conditions = (
        Condition.objects.filter(patient=patient, clinical_status__in=ACTIVE_CONDITIONS)
        .exclude(verification_status=ENTERED_IN_ERROR)
        .order_by("-is_primary", "display")
    )
    flags = PatientFlag.objects.filter(patient=patient, active=True).order_by("-raised_at")
    findings = (
        Finding.objects.filter(patient=patient, assessment__status=Assessment.Status.SIGNED)
        .select_related("assessment")
        .order_by("-found_at")
    )
    return ChartRecords(list(conditions), list(flags), list(findings[:HISTORY_LIMIT]))


def open_tasks(patient: Patient) -> QuerySet[Task]:
    return Task.objects.filter(patient=patient, status=Task.Status.OPEN).order_by("due_date", "pk")


def clinicians_on_team(plan: CarePlan) -> list[User]:
    """The agency's people on the episode's care team, who can carry an intervention out."""
    members = (
        CareTeamMember.objects.filter(episode_id=plan.episode_id, active=True, user__isnull=False)
        .select_related("user")
        .order_by("user__last_name", "user__first_name")
    )
    return [m.user for m in members if m.user is not None]


def caregivers_of(patient: Patient) -> QuerySet[RelatedPerson]:
    return RelatedPerson.objects.filter(patient=patient, active=True).order_by("name")


def problems_of(plan: CarePlan) -> QuerySet[Problem]:
    return Problem.objects.filter(plan=plan).exclude(status=ENTERED_IN_ERROR)


def goals_of(plan: CarePlan) -> QuerySet[Goal]:
    return Goal.objects.filter(plan=plan).exclude(lifecycle_status=ENTERED_IN_ERROR)


def interventions_of(plan: CarePlan) -> QuerySet[Intervention]:
    return Intervention.objects.filter(plan=plan).exclude(status=ENTERED_IN_ERROR)


# --- revisions -------------------------------------------------------------------------------


def revisions_of(plan: CarePlan) -> list[CarePlanRevision]:
    """The plan's revisions, newest first, with their authors (the content is left unread)."""
    return list(
        CarePlanRevision.objects.filter(plan=plan)
        .select_related("author")
        .defer("content")
        .order_by("-number")[:REVISION_LIMIT]
    )


def revision(plan: CarePlan, number: int) -> CarePlanRevision | None:
    return (
        CarePlanRevision.objects.filter(plan=plan, number=number).select_related("author").first()
    )


# --- plans from other settings ---------------------------------------------------------------


@dataclass(frozen=True)
class PastPlans:
    plans: list[PastCarePlan]
    goals: list[PastGoal]

    def __bool__(self) -> bool:
        return bool(self.plans or self.goals)


def past_plans(patient: Patient) -> PastPlans:
    """Plans and goals imported from other settings (a hospital, a practice), newest first."""
    plans = PastCarePlan.objects.filter(patient=patient).order_by("-period_start", "-pk")
    goals = PastGoal.objects.filter(patient=patient).order_by("-start_date", "-pk")
    return PastPlans(list(plans[:HISTORY_LIMIT]), list(goals[:HISTORY_LIMIT]))

"""Reads of how goals are going: one goal's progress page, the caseload's care plan columns and
Today's lists of goals off track and plans due for review.

A goal's shown status is a person's override when there is one, else the status computed from
the chart (services.recompute_goals_for keeps it current). A goal is off track when its shown
status is worsening or not achieved. Lists read in a fixed number of queries whatever the number
of patients: the caseload's columns are subqueries of the caseload's own query.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf
from django.urls import reverse
from django.utils import timezone

from careway.core.models import User
from careway.patients.models import Patient, Task
from careway.patients.queries import TODAY_LIMIT
from careway.patients.today import TodayRow
from careway.toolkit import trend_charts

from . import evidence, measures
from .achievement import Achievement, Reading, Target
from .models import ACHIEVEMENT_CHOICES, CarePlan, Goal
from .services import CLOSED_PLAN, FOLLOWED_GOALS, OPEN_EPISODE

# The chart section that shows the plan (its pages are under /patients/<id>/care-plan/).
PLAN_SECTION = "care-plan"
OFF_TRACK = (Achievement.WORSENING.value, Achievement.NOT_ACHIEVED.value)
ACHIEVEMENT_LABELS = dict(ACHIEVEMENT_CHOICES)
# Each status's colour, always shown with its word.
STATUS_CLASSES = {
    Achievement.ACHIEVED.value: "status-ok",
    Achievement.SUSTAINING.value: "status-ok",
    Achievement.IMPROVING.value: "status-ok",
    Achievement.IN_PROGRESS.value: "status-info",
    Achievement.NO_CHANGE.value: "status-info",
    Achievement.WORSENING.value: "status-warning",
    Achievement.NOT_ACHIEVED.value: "status-urgent",
}
# The caseload warns of a plan's review this many days before it falls due.
REVIEW_SOON = timedelta(days=7)
# The page draws a year of readings and lists the latest of them.
CHART_DAYS = 365
TABLE_ROWS = 30


def plan_url(patient_id: Any) -> str:
    return reverse("chart_section", args=[patient_id, PLAN_SECTION])


def goal_url(goal: Goal) -> str:
    return reverse("careplans:goal", kwargs={"patient_id": goal.patient_id, "goal_id": goal.pk})


def shown_status() -> Coalesce:
    """The goal's shown status in SQL: the override, else the computed achievement."""
    return Coalesce(NullIf(F("override"), Value("")), F("achievement"), output_field=CharField())


def followed_goals() -> QuerySet[Goal]:
    """Goals whose achievement is followed, on plans that are not closed, with `shown`."""
    return (
        Goal.objects.filter(lifecycle_status__in=FOLLOWED_GOALS)
        .exclude(plan__status__in=CLOSED_PLAN)
        .annotate(shown=shown_status())
    )


# --- one goal's page -----------------------------------------------------------------------------


def goal_rows(patient_id: Any) -> QuerySet[Goal]:
    """Where the page looks for a goal: this patient's, with what the page shows beside it."""
    return Goal.objects.filter(patient_id=patient_id).select_related(
        "plan", "problem", "task", "override_by"
    )


@dataclass(frozen=True)
class ShownReading:
    when: date
    value: str
    on_target: bool


@dataclass(frozen=True)
class ShownEvent:
    when: date
    counted: bool  # on or after the goal's start (earlier ones do not count against it)


@dataclass
class Progress:
    goal: Goal
    measure: measures.Measure | None
    target: str
    status: str
    status_label: str
    status_class: str
    computed_label: str
    chart: str = ""
    readings: list[ShownReading] | None = None
    reading_count: int = 0
    events: list[ShownEvent] | None = None
    days_counted: int | None = None
    task: Task | None = None

    @property
    def overridden(self) -> bool:
        return bool(self.goal.override)

    @property
    def kind(self) -> str:
        return self.measure.kind if self.measure else ""


def progress_of(goal: Goal, now: datetime) -> Progress:
    """What the goal's page shows: the status and its rule, and the evidence behind it."""
    measure = measures.measure_of(goal.measure)
    status = goal.shown_achievement
    progress = Progress(
        goal=goal,
        measure=measure,
        target=measures.target_in_words(goal),
        status=status,
        status_label=ACHIEVEMENT_LABELS.get(status, status),
        status_class=STATUS_CLASSES.get(status, "status-info"),
        computed_label=ACHIEVEMENT_LABELS.get(goal.achievement, goal.achievement),
    )
    if measure is None:
        return progress
    if measure.kind == measures.TASK:
        progress.task = goal.task
    elif measure.kind == measures.TEACHING:
        pass  # the rule names the latest teach-back; the Care plan's Teaching card lists them
    elif measure.kind == measures.EVENT:
        _add_events(progress, timezone.localtime(now).date())
    else:
        _add_readings(progress, measure, now)
    return progress


def _add_readings(progress: Progress, measure: measures.Measure, now: datetime) -> None:
    goal = progress.goal
    since = timezone.localtime(now).date() - timedelta(days=CHART_DAYS)
    readings = [r for r in evidence.readings_for(goal) if r.when >= since]
    target = measures.target_of(goal)
    on_target = target.met_by if isinstance(target, Target) else (lambda value: False)
    progress.reading_count = len(readings)
    progress.readings = [
        ShownReading(r.when, _number(r.value, measure.decimals), on_target(r.value))
        for r in reversed(readings[-TABLE_ROWS:])
    ]
    progress.chart = _chart(goal, measure, target, readings, now)


def _chart(
    goal: Goal,
    measure: measures.Measure,
    target: Any,
    readings: list[Reading],
    now: datetime,
) -> str:
    met = target.met_by if isinstance(target, Target) else (lambda value: True)
    points = [
        trend_charts.Point(_at_noon(r.when), r.value, out_of_range=not met(r.value))
        for r in readings
    ]
    series = [trend_charts.Series(measure.label, points)]
    bands = []
    if isinstance(target, Target):
        low = target.low if target.low is not None else float("-inf")
        high = target.high if target.high is not None else float("inf")
        bands.append(trend_charts.Band(low, high, f"Target: {target.in_words()}"))
    start, end = trend_charts.fitted_window(series, timezone.localtime(now))
    return trend_charts.trend_chart_svg(
        series,
        title=f"{measure.label}: the trend beside the target",
        description=_chart_description(measure, target, readings),
        unit=measure.unit,
        start=start,
        end=end,
        bands=bands,
        chart_id=f"goal-{goal.pk}",
    )


def _chart_description(measure: measures.Measure, target: Any, readings: list[Reading]) -> str:
    if not readings:
        return f"No {measure.measure} recorded in the last year."
    latest = readings[-1]
    unit = f" {measure.unit}" if measure.unit else ""
    plural = measure.measure if len(readings) == 1 else f"{measure.measure}s"
    text = (
        f"{len(readings)} {plural} from {_day(readings[0].when)} to {_day(latest.when)}; "
        f"the latest {_number(latest.value, measure.decimals)}{unit}."
    )
    if isinstance(target, Target):
        text += f" Shaded: the target, {target.in_words()}. Diamonds: readings outside it."
    return text


def _add_events(progress: Progress, today: date) -> None:
    goal = progress.goal
    days = [day for day in evidence.events_for(goal) if day <= today]
    progress.events = [ShownEvent(day, day >= goal.start_date) for day in reversed(days)]
    counted = [day for day in days if day >= goal.start_date]
    # As achievement.evaluate_free_of counts: from the day after the last event since the start.
    free_since = counted[-1] + timedelta(days=1) if counted else goal.start_date
    progress.days_counted = max((today - free_since).days + 1, 0)


def _at_noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)))


def _number(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{value:.0f}"


def _day(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


# --- the caseload's columns ----------------------------------------------------------------------

# The care plan column's order, the most pressing first.
PLAN_RANK = {"review-overdue": 0, "no-plan": 1, "review-due": 2, "draft": 3, "in-effect": 4}
CLOSED_RANK = 5


def with_care_plan(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """The care plan column's order: `care_plan_rank` (review overdue, no plan, review due soon,
    draft, in effect, closed) and `care_plan_review_due`, subqueries of the caseload's query.
    What the cell shows is read for the page's rows only, by `add_care_plans` (five subqueries
    per row cost the 60-patient caseload 45 ms: docs/benchmarks.md)."""
    today = timezone.localdate()
    rank = Case(
        When(status__in=CLOSED_PLAN, then=Value(CLOSED_RANK)),
        When(review_due__lt=today, then=Value(PLAN_RANK["review-overdue"])),
        When(review_due__lte=today + REVIEW_SOON, then=Value(PLAN_RANK["review-due"])),
        When(status=CarePlan.Status.DRAFT, then=Value(PLAN_RANK["draft"])),
        default=Value(PLAN_RANK["in-effect"]),
        output_field=IntegerField(),
    )
    return patients.annotate(
        care_plan_rank=Coalesce(
            Subquery(_current_plan().annotate(rank=rank).values("rank")[:1]),
            Value(PLAN_RANK["no-plan"]),
        ),
        # The longest overdue first within a rank.
        care_plan_review_due=Subquery(_current_plan().values("review_due")[:1]),
    )


def _current_plan() -> QuerySet[CarePlan]:
    return CarePlan.objects.filter(episode_id=OuterRef("current_episode_id")).exclude(
        status=CarePlan.Status.ENTERED_IN_ERROR
    )


def add_care_plans(patients: list[Patient], today: date) -> None:
    """Set each row's `care_plan_status`, `care_plan_revision`, `care_plan_review_due` and
    `care_plan_review` ("overdue", "due" within a week, or ""), in one query for the page."""
    episodes = [getattr(p, "current_episode_id", None) for p in patients]
    plans: dict[Any, dict[str, Any]] = {
        row["episode_id"]: dict(row)
        for row in CarePlan.objects.filter(episode_id__in=[e for e in episodes if e])
        .exclude(status=CarePlan.Status.ENTERED_IN_ERROR)
        .values("episode_id", "status", "revision", "review_due")
    }
    for patient, episode in zip(patients, episodes, strict=True):
        plan: dict[str, Any] = plans.get(episode, {}) if episode else {}
        due = plan.get("review_due")
        review = ""
        if plan and plan["status"] not in CLOSED_PLAN and due is not None:
            review = "overdue" if due < today else "due" if due <= today + REVIEW_SOON else ""
        patient.care_plan_status = plan.get("status")  # type: ignore[attr-defined]
        patient.care_plan_revision = plan.get("revision")  # type: ignore[attr-defined]
        patient.care_plan_review_due = due  # type: ignore[attr-defined]
        patient.care_plan_review = review  # type: ignore[attr-defined]


def with_goals_off_track(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """The goals off track column: `goals_off_track`, how many followed goals of the current
    episode's plan show worsening or not achieved; a subquery of the caseload's query."""
    counted = (
        followed_goals()
        .filter(patient_id=OuterRef("pk"), plan__episode_id=OuterRef("current_episode_id"))
        .filter(Q(shown__in=OFF_TRACK))  # an annotation: Q, which the type checker leaves alone
        .order_by()
        .values("patient_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return patients.annotate(goals_off_track=Coalesce(Subquery(counted), Value(0)))


# --- Today ---------------------------------------------------------------------------------------


def goals_off_track_rows(user: User, patients: QuerySet[Patient], today: date) -> list[TodayRow]:
    """The followed goals of these patients that are worsening or not achieved: not achieved
    and past due first, then not achieved, then worsening; by due date within each. One query."""
    pressing = Case(
        When(Q(shown=Achievement.NOT_ACHIEVED.value, due_date__lt=today), then=Value(0)),
        When(shown=Achievement.NOT_ACHIEVED.value, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    goals = (
        followed_goals()
        .filter(Q(shown__in=OFF_TRACK), patient__in=patients)
        .select_related("override_by")
        .annotate(pressing=pressing)
        .order_by("pressing", F("due_date").asc(nulls_last=True), "-evaluated_at", "pk")
    )
    return [_goal_row(goal, today) for goal in goals[:TODAY_LIMIT]]


def _goal_row(goal: Any, today: date) -> TodayRow:
    overdue = goal.pressing == 0
    return TodayRow(
        patient_id=goal.patient_id,
        title=_goal_title(goal),
        reason=_why_off_track(goal),
        urgency="overdue" if overdue else "warning",
        url=goal_url(goal),
        item=goal,
    )


def _goal_title(goal: Goal) -> str:
    return f"“{goal.patient_words}”" if goal.patient_words else goal.description


def _why_off_track(goal: Goal) -> str:
    label = ACHIEVEMENT_LABELS.get(goal.shown_achievement, goal.shown_achievement)
    if goal.override:
        who = goal.override_by.display_name if goal.override_by else "someone"
        return f"{label}, set by {who}: {goal.override_reason}"
    return f"{label}: {goal.achievement_rule or 'no rule applied yet.'}"


def plans_due_rows(user: User, patients: QuerySet[Patient], today: date) -> list[TodayRow]:
    """Plans of open episodes whose review date has come, the longest overdue first. One query."""
    plans = (
        CarePlan.objects.filter(
            patient__in=patients, review_due__lte=today, episode__status__in=OPEN_EPISODE
        )
        .exclude(status__in=CLOSED_PLAN)
        .order_by("review_due", "pk")
    )
    return [
        TodayRow(
            patient_id=plan.patient_id,
            title="Care plan review",
            reason=_review_reason(plan, today),
            urgency="due" if plan.review_due == today else "overdue",
            url=plan_url(plan.patient_id),
            item=plan,
        )
        for plan in plans[:TODAY_LIMIT]
    ]


def _review_reason(plan: CarePlan, today: date) -> str:
    assert plan.review_due is not None  # the query asks for one
    plan_words = f"The plan ({plan.get_status_display().lower()}, revision {plan.revision})"
    why = f" {plan.review_reason}." if plan.review_reason else ""
    if plan.review_due == today:
        return f"{plan_words} is due for review with the patient today.{why}"
    return f"{plan_words} was due for review with the patient on {_day(plan.review_due)}.{why}"

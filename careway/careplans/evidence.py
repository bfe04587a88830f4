"""The chart's evidence for goals: readings, scores, events and tasks, read for many goals at once.

`evaluate_goals(goals, today)` gives each goal's Verdict (careway/careplans/achievement.py) in a
fixed number of queries whatever the number of goals: one per kind of measure in use. Readings
entered in error are not evidence; an amended score counts only as amended. A teaching goal's
evidence is the teach-back on its topic (careway/careplans/teaching.py): met when the latest,
by the patient or a caregiver, is "understood".
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from careway.assessments.models import Score
from careway.patients.models import Encounter, Observation, Task

from . import measures
from .achievement import (
    Achievement,
    FreeOfTarget,
    Reading,
    Target,
    Verdict,
    evaluate,
    evaluate_free_of,
)
from .measures import EVENT, OBSERVATION, SCORE, TASK, TEACHING, Measure
from .models import TeachingRecord

Key = tuple[Any, str]  # (patient id, measure key)


def evaluate_goals(goals: Sequence[Any], today: date) -> dict[Any, Verdict]:
    """Each goal's verdict by goal id (goals in words only are left out)."""
    by_kind: dict[str, list[Any]] = defaultdict(list)
    for goal in goals:
        measure = measures.measure_of(goal.measure)
        if measure is not None:
            by_kind[measure.kind].append(goal)
    readings = _readings(by_kind.get(OBSERVATION, []) + by_kind.get(SCORE, []))
    events = _events(by_kind.get(EVENT, []))
    tasks = _tasks(by_kind.get(TASK, []))
    taught = _teach_backs(by_kind.get(TEACHING, []))
    verdicts: dict[Any, Verdict] = {}
    for goal in goals:
        measure = measures.measure_of(goal.measure)
        if measure is None:
            continue
        key = (goal.patient_id, measure.key)
        if measure.kind == TASK:
            verdicts[goal.pk] = _task_verdict(goal, tasks.get(goal.task_id), today)
            continue
        if measure.kind == TEACHING:
            found = taught.get((goal.patient_id, goal.teaching_topic), [])
            verdicts[goal.pk] = _teaching_verdict(goal, found, today)
            continue
        target = measures.target_of(goal)
        if isinstance(target, FreeOfTarget):
            verdicts[goal.pk] = evaluate_free_of(target, events.get(key, []), today)
        elif isinstance(target, Target):
            verdicts[goal.pk] = evaluate(target, readings.get(key, []), today)
    return verdicts


def readings_for(goal: Any) -> list[Reading]:
    """One goal's readings, oldest first (for its trend)."""
    return sorted(_readings([goal]).get((goal.patient_id, goal.measure), []), key=lambda r: r.when)


def events_for(goal: Any) -> list[date]:
    """The days one event goal's event happened (any day, oldest first), for its page."""
    return sorted(_events([goal]).get((goal.patient_id, goal.measure), []))


def _readings(goals: Sequence[Any]) -> dict[Key, list[Reading]]:
    found: dict[Key, list[Reading]] = defaultdict(list)
    if not goals:
        return found
    used = {measures.measure_of(g.measure) for g in goals}
    patients = {g.patient_id for g in goals}
    observed = [m for m in used if m is not None and m.kind == OBSERVATION]
    scored = [m for m in used if m is not None and m.kind == SCORE]
    if observed:
        by_code = {m.code: m for m in observed}
        observations = (
            Observation.objects.filter(
                patient_id__in=patients, code__in=list(by_code), value__isnull=False
            )
            .exclude(status=Observation.Status.ENTERED_IN_ERROR)
            # In time order: two readings of one day count in the order they were taken (the
            # achievement rules sort by day, keeping this order within it).
            .order_by("effective_at")
            .values_list("patient_id", "code", "effective_at", "value")
        )
        for patient_id, code, at, value in observations:
            if value is not None:
                found[(patient_id, by_code[code].key)].append(Reading(_local_day(at), value))
    if scored:
        by_source = {(m.questionnaire, m.score): m for m in scored}
        scores = (
            Score.objects.filter(
                patient_id__in=patients,
                questionnaire_url__in=[m.questionnaire for m in scored],
                key__in=[m.score for m in scored],
                current=True,
            )
            .order_by("observed_at")
            .values_list("patient_id", "questionnaire_url", "key", "observed_at", "value")
        )
        for patient_id, url, key, at, value in scores:
            measure = by_source.get((url, key))
            if measure is not None:
                found[(patient_id, measure.key)].append(Reading(_local_day(at), value))
    return found


def _events(goals: Sequence[Any]) -> dict[Key, list[date]]:
    found: dict[Key, list[date]] = defaultdict(list)
    used: Iterable[Measure | None] = {measures.measure_of(g.measure) for g in goals}
    patients = {g.patient_id for g in goals}
    for measure in used:
        if measure is None:
            continue
        rows: Iterable[tuple[Any, datetime]]
        if measure.encounter:
            rows = (
                Encounter.objects.filter(patient_id__in=patients, kind=measure.encounter)
                .exclude(status__in=[Encounter.Status.ENTERED_IN_ERROR, Encounter.Status.CANCELLED])
                .values_list("patient_id", "period_start")
            )
        else:
            rows = (
                Observation.objects.filter(
                    patient_id__in=patients, code_system=measure.code_system, code=measure.code
                )
                .exclude(status=Observation.Status.ENTERED_IN_ERROR)
                .values_list("patient_id", "effective_at")
            )
        for patient_id, at in rows:
            found[(patient_id, measure.key)].append(_local_day(at))
    return found


def _tasks(goals: Sequence[Any]) -> dict[Any, tuple[str, datetime | None, str]]:
    ids = [g.task_id for g in goals if g.task_id]
    if not ids:
        return {}
    rows = Task.objects.filter(pk__in=ids).values_list("pk", "status", "completed_at", "title")
    return {pk: (status, done, title) for pk, status, done, title in rows}


def _task_verdict(goal: Any, task: tuple[str, datetime | None, str] | None, today: date) -> Verdict:
    if task is None:
        return Verdict(Achievement.IN_PROGRESS, "No task is linked to this goal yet.")
    status, done, title = task
    if status == Task.Status.DONE and done is not None:
        day = _local_day(done)
        return Verdict(Achievement.ACHIEVED, f"Task done on {day:%b} {day.day}: {title}.")
    if goal.due_date is not None and today > goal.due_date:
        due = goal.due_date
        return Verdict(Achievement.NOT_ACHIEVED, f"Due {due:%b} {due.day}: the task is not done.")
    if status == Task.Status.CANCELLED:
        return Verdict(Achievement.NO_CHANGE, f"The task was cancelled: {title}.")
    return Verdict(Achievement.IN_PROGRESS, f"The task is open: {title}.")


# A teach-back's result as a number, to say whether the latest is better or worse than the one
# before: understood is the target.
TEACH_BACK_RANK: dict[str, int] = {
    TeachingRecord.Result.NOT_UNDERSTOOD: 0,
    TeachingRecord.Result.REINFORCE: 1,
    TeachingRecord.Result.UNDERSTOOD: 2,
}


@dataclass(frozen=True)
class TeachBack:
    when: date
    result: str
    label: str
    whom: str


def _teach_backs(goals: Sequence[Any]) -> dict[Key, list[TeachBack]]:
    """The teach-backs (not entered in error) of the goals' topics, oldest first."""
    found: dict[Key, list[TeachBack]] = defaultdict(list)
    topics = {g.teaching_topic for g in goals if g.teaching_topic}
    if not topics:
        return found
    labels = dict(TeachingRecord.Result.choices)
    rows = (
        TeachingRecord.objects.filter(
            patient_id__in={g.patient_id for g in goals}, topic__in=topics
        )
        .exclude(status=TeachingRecord.Status.ENTERED_IN_ERROR)
        .order_by("taught_at", "created_at")
        .values_list("patient_id", "topic", "taught_at", "result", "audience", "caregiver__name")
    )
    for patient_id, topic, at, result, audience, caregiver in rows:
        whom = (
            f"the caregiver, {caregiver}"
            if audience == "caregiver" and caregiver
            else "the patient"
        )
        found[(patient_id, topic)].append(
            TeachBack(_local_day(at), result, labels.get(result, result).lower(), whom)
        )
    return found


def _teaching_verdict(goal: Any, found: list[TeachBack], today: date) -> Verdict:
    known = [t for t in found if t.when <= today]
    topic = measures.topic_words(goal.teaching_topic)
    if not known:
        if goal.due_date is not None and today > goal.due_date:
            return Verdict(
                Achievement.NOT_ACHIEVED, f"Due {_md(goal.due_date)}: {topic} was not taught."
            )
        return Verdict(Achievement.IN_PROGRESS, f"No teach-back on {topic} recorded yet.")
    latest = known[-1]
    said = f"Teach-back on {_md(latest.when)} by {latest.whom}: {latest.label}"
    evidence = (Reading(latest.when, TEACH_BACK_RANK.get(latest.result, 0)),)
    if latest.result == TeachingRecord.Result.UNDERSTOOD:
        again = len(known) > 1 and known[-2].result == TeachingRecord.Result.UNDERSTOOD
        status = Achievement.SUSTAINING if again else Achievement.ACHIEVED
        return Verdict(status, f"{said}.", evidence)
    if goal.due_date is not None and today > goal.due_date:
        return Verdict(Achievement.NOT_ACHIEVED, f"Due {_md(goal.due_date)}: {said}.", evidence)
    if len(known) < 2:
        return Verdict(Achievement.IN_PROGRESS, f"{said}.", evidence)
    before = TEACH_BACK_RANK.get(known[-2].result, 0)
    now = TEACH_BACK_RANK.get(latest.result, 0)
    status = (
        Achievement.IMPROVING
        if now > before
        else Achievement.WORSENING
        if now < before
        else Achievement.NO_CHANGE
    )
    return Verdict(status, f"{said} (the one before: {known[-2].label}).", evidence)


def _md(day: date) -> str:
    return f"{day:%b} {day.day}"


def _local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()

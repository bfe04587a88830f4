"""What a measurable goal can be measured by (content/goal_measures.json), and a goal's target
in the terms of careway/careplans/achievement.py.

A measure is an observation (a LOINC-coded reading), a score (an instrument's total), an event
(counted for goals of going without it: falls, hospital stays), a task done, or teaching (the
latest teach-back on the goal's teaching topic understood: careway/careplans/teaching.py). The
readings themselves are read by careway/careplans/evidence.py.
"""

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from .achievement import FreeOfTarget, Target

CONTENT_FILE = Path(__file__).parent / "content" / "goal_measures.json"

OBSERVATION, SCORE, EVENT, TASK = "observation", "score", "event", "task"
TEACHING = "teaching"
# The one measure of kind teaching: a goal with a teaching topic is measured by it.
TEACH_BACK = "teach-back"


@dataclass(frozen=True)
class Measure:
    key: str
    kind: str
    label: str
    # What one reading is called in the rule's words ("3 of the last 4 weights ...").
    measure: str
    unit: str = ""
    decimals: int = 1
    code_system: str = ""
    code: str = ""
    questionnaire: str = ""
    score: str = ""
    encounter: str = ""
    # The rule's defaults for this measure (a goal may set its own needed and window).
    needed: int = 3
    window: int = 4
    stale_after_days: int = 30

    @property
    def takes_range(self) -> bool:
        return self.kind in (OBSERVATION, SCORE)


@cache
def measures() -> dict[str, Measure]:
    content = json.loads(CONTENT_FILE.read_text(encoding="utf-8"))
    return {entry["key"]: Measure(**entry) for entry in content["measures"]}


def measure_of(key: str) -> Measure | None:
    return measures().get(key) if key else None


def choices() -> list[tuple[str, str]]:
    return [(m.key, m.label) for m in measures().values()]


def target_of(goal: Any) -> Target | FreeOfTarget | None:
    """The goal's target for achievement.py; None for a goal in words only, a task goal or a
    teaching goal."""
    measure = measure_of(goal.measure)
    if measure is None or measure.kind in (TASK, TEACHING):
        return None
    if measure.kind == EVENT:
        if not goal.target_days:
            return None
        return FreeOfTarget(
            days=goal.target_days, since=goal.start_date, event=measure.measure, due=goal.due_date
        )
    if goal.target_low is None and goal.target_high is None:
        return None
    return Target(
        low=goal.target_low,
        high=goal.target_high,
        due=goal.due_date,
        needed=goal.needed or measure.needed,
        window=goal.window or measure.window,
        stale_after_days=measure.stale_after_days,
        measure=measure.measure,
        unit=measure.unit,
    )


def target_in_words(goal: Any) -> str:
    """'at most 140 mmHg by Jan 31', 'no fall for 30 days', 'Task done: ...'; '' without one."""
    measure = measure_of(goal.measure)
    if measure is None:
        return ""
    due = f" by {_day(goal.due_date)}" if goal.due_date else ""
    if measure.kind == TASK:
        title = goal.task.title if goal.task_id else "the task"
        return f"{title}: done{due}"
    if measure.kind == TEACHING:
        return f"Teach-back understood: {topic_words(goal.teaching_topic)}{due}"
    target = target_of(goal)
    if isinstance(target, FreeOfTarget):
        return f"no {measure.measure} for {target.days} days{due}"
    if isinstance(target, Target):
        return f"{measure.label}: {target.in_words()}{due}"
    return ""


def topic_words(key: str) -> str:
    """A teaching topic's key in words ('heart-failure-zones': 'Heart failure zones'), where the
    handout's own title is not at hand (it is on each teaching record)."""
    words = key.replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else "the topic"


def _day(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"

"""How a measurable goal is going, computed from the chart's readings (issue 17).

A target is a value or a range on one measure (an observation such as weight or systolic
pressure, or a score such as the PHQ-9 total), with a due date. Given the readings of that
measure, `evaluate` gives FHIR Goal.achievementStatus and the rule it applied, in words a nurse
can check against the chart:

- no reading yet, or the latest is older than `stale_after_days`: in progress, saying so;
- at least `needed` of the last `window` readings within the target: achieved, or sustaining
  when the readings before the latest already met the rule;
- past the due date without that: not achieved;
- otherwise the latest reading's distance from the target against the average distance of the
  (up to three) readings before it: improving, worsening, or no change within `tolerance`.

A goal of going without an event ("no falls for 30 days", `FreeOfTarget`) is counted from the
goal's start by `evaluate_free_of`: achieved after that many days without one (sustaining after
twice as long), in progress until then, not achieved when the due date passes too soon after one.

Plain Python, no Django: the care plan services give it rows from the chart, and the page and
the background recomputation show what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Achievement(StrEnum):
    """FHIR R4 goal-achievement codes (http://terminology.hl7.org/CodeSystem/goal-achievement)."""

    IN_PROGRESS = "in-progress"
    IMPROVING = "improving"
    WORSENING = "worsening"
    NO_CHANGE = "no-change"
    ACHIEVED = "achieved"
    SUSTAINING = "sustaining"
    NOT_ACHIEVED = "not-achieved"


@dataclass(frozen=True)
class Target:
    low: float | None = None
    high: float | None = None
    due: date | None = None
    needed: int = 3
    window: int = 4
    stale_after_days: int = 30
    tolerance: float = 0.0
    measure: str = "reading"  # what each reading is, for the rule's words ("weight")
    unit: str = ""

    def __post_init__(self) -> None:
        if self.low is None and self.high is None:
            raise ValueError("A target needs a lowest value, a highest value, or both.")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError("A target's lowest value is above its highest.")
        if not 1 <= self.needed <= self.window:
            raise ValueError("A target needs 1 to `window` readings within it.")

    def met_by(self, value: float) -> bool:
        return self.distance(value) == 0

    def distance(self, value: float) -> float:
        """How far `value` is outside the target (0 inside it)."""
        if self.low is not None and value < self.low:
            return self.low - value
        if self.high is not None and value > self.high:
            return value - self.high
        return 0.0

    def in_words(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.low is not None and self.high is not None:
            return f"{_n(self.low)} to {_n(self.high)}{unit}"
        if self.high is not None:
            return f"at most {_n(self.high)}{unit}"
        return f"at least {_n(self.low or 0)}{unit}"


@dataclass(frozen=True)
class Reading:
    when: date
    value: float


@dataclass(frozen=True)
class Verdict:
    status: Achievement
    rule: str
    evidence: tuple[Reading, ...] = ()


def evaluate(target: Target, readings: list[Reading], today: date) -> Verdict:
    """The goal's achievement from `readings` (any order; readings after `today` are ignored)."""
    known = sorted((r for r in readings if r.when <= today), key=lambda r: r.when)
    plural = f"{target.measure}s"
    if not known:
        return Verdict(Achievement.IN_PROGRESS, f"No {target.measure} recorded yet.")
    latest = known[-1]
    age = (today - latest.when).days
    if age > target.stale_after_days:
        status = _past_due(target, today) or Achievement.IN_PROGRESS
        return Verdict(
            status,
            f"The latest {target.measure} is {age} days old ({latest.when:%b} {latest.when.day}):"
            f" no recent evidence.",
            (latest,),
        )
    recent = known[-target.window :]
    met = sum(target.met_by(r.value) for r in recent)
    counted = f"{met} of the last {len(recent)} {plural} within {target.in_words()}"
    if met >= target.needed:
        before = known[-target.window - 1 : -1]
        sustained = len(before) >= target.needed and (
            sum(target.met_by(r.value) for r in before) >= target.needed
        )
        status = Achievement.SUSTAINING if sustained else Achievement.ACHIEVED
        return Verdict(status, f"{counted}.", tuple(recent))
    if past := _past_due(target, today):
        due = target.due or today
        return Verdict(past, f"Due {due:%b} {due.day}: only {counted}.", tuple(recent))
    return _trend(target, known, counted)


def _past_due(target: Target, today: date) -> Achievement | None:
    return Achievement.NOT_ACHIEVED if target.due is not None and today > target.due else None


def _trend(target: Target, known: list[Reading], counted: str) -> Verdict:
    latest = known[-1]
    gap = target.distance(latest.value)
    unit = f" {target.unit}" if target.unit else ""
    where = "within the target" if gap == 0 else f"{_n(gap)}{unit} from the target"
    earlier = known[-4:-1]
    if not earlier:
        return Verdict(
            Achievement.IN_PROGRESS,
            f"One {target.measure} so far, {where}; {counted}.",
            (latest,),
        )
    baseline = sum(target.distance(r.value) for r in earlier) / len(earlier)
    if gap == 0 and baseline == 0:
        # On target every time, but not yet as often as the rule asks.
        return Verdict(
            Achievement.IN_PROGRESS,
            f"{counted[:1].upper()}{counted[1:]}; {target.needed} are needed.",
            (*earlier, latest),
        )
    change = baseline - gap
    if change > target.tolerance:
        status, how = Achievement.IMPROVING, f"{_n(change)}{unit} closer than"
    elif -change > target.tolerance:
        status, how = Achievement.WORSENING, f"{_n(-change)}{unit} further than"
    else:
        status, how = Achievement.NO_CHANGE, "about as far as"
    before = f"the {len(earlier)} before" if len(earlier) > 1 else "the one before"
    rule = f"Latest {target.measure} {where}, {how} {before} on average; {counted}."
    return Verdict(status, rule, (*earlier, latest))


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class FreeOfTarget:
    """A goal of going without an event ("no falls for 30 days"), counted from `since` (the
    goal's start), never from before it."""

    days: int
    since: date
    event: str = "event"  # what is counted, for the rule's words ("fall")
    due: date | None = None

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("A goal of going without an event needs at least one day.")


def evaluate_free_of(target: FreeOfTarget, events: list[date], today: date) -> Verdict:
    """Achieved after `days` without the event (sustaining after twice as long), in progress
    until then, not achieved when the due date passes with one inside the last `days`."""
    counted = sorted(day for day in events if target.since <= day <= today)
    last = counted[-1] if counted else None
    free_since = last + timedelta(days=1) if last else target.since
    free_days = (today - free_since).days + 1
    need = f"{target.days} are needed"
    if free_days >= target.days:
        status = Achievement.SUSTAINING if free_days >= 2 * target.days else Achievement.ACHIEVED
        return Verdict(status, f"No {target.event} for {_days(free_days)} ({need}).")
    if past := _past_due_free(target, today):
        return Verdict(
            past,
            f"Due {_day(target.due or today)}: only {_days(free_days)} without a "
            f"{target.event} ({need}).",
        )
    if last is None:
        return Verdict(
            Achievement.IN_PROGRESS,
            f"No {target.event} in the {_days(free_days)} since the goal began; {need}.",
        )
    return Verdict(
        Achievement.IN_PROGRESS,
        f"A {target.event} on {_day(last)}, {_days(free_days)} without one since; {need}.",
    )


def _past_due_free(target: FreeOfTarget, today: date) -> Achievement | None:
    return Achievement.NOT_ACHIEVED if target.due is not None and today > target.due else None


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _day(day: date) -> str:
    return f"{day:%b} {day.day}"

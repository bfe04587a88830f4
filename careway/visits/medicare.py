"""Medicare's visit timing rules, read from data (content/medicare_visit_rules.json, with its
sources), and what one patient's schedule owes them.

`obligations(case, today, through)` lists every obligation the rules put on the case up to the
day `through` (the end of the schedule being built), each with its window, the visit that meets
it if any, and its state:

- "met": a visit that was made meets it;
- "scheduled": a visit planned for today or later meets it;
- "at risk": its window is still open (or opens later) and no visit meets it yet: the scheduler
  has something to place;
- "missed": its window has closed and no visit made met it.

`at_risk(...)` is the ones to flag on the schedule (at risk or missed). Plain Python, no Django:
the visits domain gives it the facts from the chart and the schedule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

RULES_FILE = Path(__file__).resolve().parent / "content" / "medicare_visit_rules.json"

MET = "met"
SCHEDULED = "scheduled"
AT_RISK = "at risk"
MISSED = "missed"
FLAGGED = (AT_RISK, MISSED)


@dataclass(frozen=True)
class Visit:
    """A visit made or planned: its day, the discipline making it, what it is for (a rule's
    purpose, such as "start-of-care", or "routine") and whether it was made."""

    day: date
    discipline: str
    purpose: str = "routine"
    done: bool = False


@dataclass(frozen=True)
class Case:
    """The facts of one episode the rules read. `ordered_start` is the start of care date the
    physician ordered, if any; `start_of_care` the day care started (None before the first
    visit); `returns_home` the days the patient came home from a hospital stay of 24 hours or
    more; `low_utilization` the agency's visit threshold for each 30-day period (None when not
    entered: the count is then not checked); `discharged` the day care ended."""

    referral: date
    ordered_start: date | None = None
    start_of_care: date | None = None
    returns_home: tuple[date, ...] = ()
    low_utilization: int | None = None
    discharged: date | None = None
    visits: tuple[Visit, ...] = ()


@dataclass(frozen=True)
class Obligation:
    """One thing a rule asks of the schedule: a visit of `purpose` by one of `disciplines` in
    [opens, due] (both days included), or for a count rule `needed` visits in the period."""

    rule: str
    title: str
    opens: date
    due: date
    state: str
    says: str
    source: str
    purpose: str = ""
    disciplines: tuple[str, ...] = ()
    visit: Visit | None = None
    needed: int = 0
    counted: int = 0

    @property
    def message(self) -> str:
        """What a scheduler reads beside the flag."""
        when = f"{self.opens:%b %-d} to {self.due:%b %-d}"
        if self.needed:
            return (
                f"{self.title}: {self.counted} of {self.needed} visits in the period {when}"
                f" ({self.state})."
            )
        if self.state in (MET, SCHEDULED) and self.visit is not None:
            made = "made" if self.state == MET else "scheduled"
            return f"{self.title}: {made} on {self.visit.day:%b %-d} (due {when})."
        who = " or ".join(self.disciplines)
        return f"{self.title}: {self.state}. A {who} visit is due {when}."


@cache
def rules() -> dict[str, Any]:
    """The rules file, read once."""
    return json.loads(RULES_FILE.read_text())  # type: ignore[no-any-return]


def obligations(case: Case, today: date, through: date) -> list[Obligation]:
    """Every obligation on the case from its referral up to `through`, in the order of the
    rules file, each by its window."""
    data = rules()
    found: list[Obligation] = []
    for rule in data["rules"]:
        kind = rule["kind"]
        if kind == "after-referral":
            found.extend(_start_of_care(rule, case, today))
        elif kind == "after-return-home":
            found.extend(_resumptions(rule, case, today))
        elif kind == "period-window":
            found.extend(_period_windows(rule, case, today, through))
        elif kind == "every":
            found.extend(_supervision(rule, case, today, through, data))
        elif kind == "count-per-period":
            found.extend(_counts(rule, case, today, through))
        else:  # pragma: no cover - the file's own test reads every kind
            raise ValueError(f"{RULES_FILE.name}: rule {rule['id']}: unknown kind {kind!r}")
    return found


def at_risk(case: Case, today: date, through: date) -> list[Obligation]:
    """The obligations to flag on the schedule: at risk or missed."""
    return [o for o in obligations(case, today, through) if o.state in FLAGGED]


# ---------------------------------------------------------------------------------------------


def _made_and_planned(visits: list[Visit], today: date) -> tuple[list[Visit], list[Visit]]:
    """The visits made, and those planned for today or later (a planned visit gone by without
    being made counts for nothing)."""
    return [v for v in visits if v.done], [v for v in visits if not v.done and v.day >= today]


def _state(made: bool, planned: bool, today: date, due: date) -> str:
    """An obligation's state: met by what was made, else scheduled by what is planned, else
    missed once its last day has gone by, else at risk."""
    if made:
        return MET
    if planned:
        return SCHEDULED
    return MISSED if today > due else AT_RISK


def _window(
    rule: dict[str, Any],
    case: Case,
    today: date,
    opens: date,
    due: date,
    disciplines: tuple[str, ...],
    purpose: str | None = None,
) -> Obligation:
    """The obligation of a visit of the rule's purpose in [opens, due], and its state."""
    purpose = purpose or rule["purpose"]
    fits = sorted(
        (
            v
            for v in case.visits
            if v.purpose == purpose and v.discipline in disciplines and opens <= v.day <= due
        ),
        key=lambda v: v.day,
    )
    made, planned = _made_and_planned(fits, today)
    state = _state(bool(made), bool(planned), today, due)
    visit = made[-1] if made else planned[0] if planned else None
    return Obligation(
        rule=rule["id"],
        title=rule["title"],
        opens=opens,
        due=due,
        state=state,
        says=rule["says"],
        source=rule["source"],
        purpose=purpose,
        disciplines=disciplines,
        visit=visit,
    )


def _start_of_care(rule: dict[str, Any], case: Case, today: date) -> list[Obligation]:
    due = case.ordered_start or case.referral + timedelta(days=rule["within_days"])
    return [_window(rule, case, today, case.referral, due, tuple(rule["disciplines"]))]


def _resumptions(rule: dict[str, Any], case: Case, today: date) -> list[Obligation]:
    out = []
    for back in sorted(case.returns_home):
        if case.discharged is not None and back > case.discharged:
            continue
        due = back + timedelta(days=rule["within_days"])
        out.append(_window(rule, case, today, back, due, tuple(rule["disciplines"])))
    return out


def _period_windows(
    rule: dict[str, Any], case: Case, today: date, through: date
) -> list[Obligation]:
    """One window a period (days window_first_day to window_last_day of each period_days from
    the start of care) for each period whose window opens by `through` and before discharge."""
    if case.start_of_care is None:
        return []
    out = []
    first = case.start_of_care
    end = min(through, case.discharged) if case.discharged else through
    while True:
        opens = first + timedelta(days=rule["window_first_day"] - 1)
        if opens > end:
            break
        due = first + timedelta(days=rule["window_last_day"] - 1)
        out.append(_window(rule, case, today, opens, due, tuple(rule["disciplines"])))
        first += timedelta(days=rule["period_days"])
    return out


def _supervision(
    rule: dict[str, Any], case: Case, today: date, through: date, data: dict[str, Any]
) -> list[Obligation]:
    """While an aide visits: a supervisory visit within each `every` days, counted from the
    first aide visit and then from the visit that met the one before (the last made, or the
    first planned). The chain
    stops at the first obligation no visit meets (the next depends on when that one is made),
    and when no aide visit comes after the last supervision."""
    aide = sorted(v.day for v in case.visits if v.discipline in data["aide_disciplines"])
    if not aide:
        return []
    # skilled services are the skilled disciplines' own visits, not their supervisory ones
    skilled = any(
        v.discipline in data["skilled_disciplines"] and v.purpose != rule["purpose"]
        for v in case.visits
    )
    every = rule["every_days_when_skilled"] if skilled else rule["every_days_when_aide_only"]
    who = tuple(rule["disciplines_when_skilled"] if skilled else rule["disciplines_when_aide_only"])
    out = []
    anchor = aide[0]
    while True:
        opens, due = anchor + timedelta(days=1), anchor + timedelta(days=every)
        if opens > through:
            break
        found = _window(rule, case, today, opens, due, who)
        out.append(found)
        if found.visit is None:
            break
        anchor = found.visit.day
        if not any(day > anchor for day in aide):
            break
    return out


def _counts(rule: dict[str, Any], case: Case, today: date, through: date) -> list[Obligation]:
    """For each 30-day period from the start of care that has begun by `through`: the visits
    made or planned in it against the agency's threshold."""
    if case.start_of_care is None or case.low_utilization is None:
        return []
    out = []
    first = case.start_of_care
    end = min(through, case.discharged) if case.discharged else through
    needed = case.low_utilization
    while first <= end:
        last = first + timedelta(days=rule["period_days"] - 1)
        made, planned = _made_and_planned([v for v in case.visits if first <= v.day <= last], today)
        counted = len(made) + len(planned)
        state = _state(len(made) >= needed, counted >= needed, today, last)
        out.append(
            Obligation(
                rule=rule["id"],
                title=rule["title"],
                opens=first,
                due=last,
                state=state,
                says=rule["says"],
                source=rule["source"],
                needed=needed,
                counted=counted,
            )
        )
        first = last + timedelta(days=1)
    return out

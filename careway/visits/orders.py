"""Which of an order's visits fall due in a calendar week.

A scheduler builds the agency's week by the calendar (`--week 2026-W51`, Monday to Sunday), but
an order counts its weeks from its own start date (careway/careplans/frequency.py: `3w1` is
three visits in the start date and the six days after it). So a calendar week meets one or two
of an order's periods, and each of those periods owes its visits across its own days, some of
which fall in the week before or after. `due_in_week` gives, for each period that meets the
week, the visits it asks and the days of it that are in the week (and in the order's dates):
the scheduler spreads the period's visits over all its open days and places those that land in
the week. Plain Python, no Django.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from careway.careplans.frequency import Frequency

_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.I)


def iso_week(text: str) -> tuple[date, date]:
    """The Monday and Sunday of an ISO week written as 2026-W51; ValueError naming `week`
    otherwise."""
    match = _WEEK.match(text or "")
    if match is None:
        raise ValueError(f"week: write the ISO week as 2026-W51, not {text!r}")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"week: {year} has no week {number}") from None
    return monday, monday + timedelta(days=6)


@dataclass(frozen=True)
class Due:
    """One period of an order that meets the week: its dates, the visits it asks (a maximum
    for an as-needed period) and its days within the week and the order's dates."""

    start: date
    end: date
    visits: int
    days: tuple[date, ...]
    as_needed: bool = False


def due_in_week(frequency: Frequency, start: date, end: date | None, monday: date) -> list[Due]:
    """The order's periods (from `start`; none after `end`, the order's last day) that share a
    day with the week beginning `monday`."""
    if monday.weekday() != 0:
        raise ValueError(f"monday: {monday} is a {monday:%A}")
    sunday = monday + timedelta(days=6)
    out = []
    for period in frequency.periods(start):
        last = min(period.end, end) if end is not None else period.end
        if period.start > last:
            continue
        first_day, last_day = max(period.start, monday), min(last, sunday)
        if first_day > last_day:
            continue
        days = tuple(first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1))
        out.append(Due(period.start, last, period.visits, days, period.as_needed))
    return out

"""Home health visit frequency notation: one parser for the whole product (issue 17).

A frequency is parts separated by commas, taken in order, each beginning when the one before it
ends:

    3w1, 2w4       three times a week for one week, then twice a week for four weeks
    1m2            once a month for two months
    qd x5          daily for five days
    PRN x2 for dyspnea
                   as needed, up to two visits, for dyspnea

Weeks are counted from the order's start date, as agencies count them: week 1 is the start date
and the six days after it, not a calendar week. Months are counted the same way, from the start
date's day of the month. An as-needed (PRN) part counts toward its own maximum, never toward a
week's total, and runs beside the scheduled parts rather than after them.

`parse(text)` gives a `Frequency` or raises `FrequencyError` naming the part that is wrong;
`str(frequency)` writes the notation back (`parse(str(f)) == f`), `frequency.in_words()` says it
as a nurse would, and `frequency.periods(start)` gives the dated periods with their visits.

Plain Python: no Django, so visits, care plans and the FHIR adapter all read the same value.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

MAX_PER_WEEK = 14  # twice a day, every day
MAX_WEEKS = 52
MAX_PER_MONTH = 31
MAX_MONTHS = 12
MAX_DAYS = 60  # a certification period
MAX_PRN = 20

NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]


class FrequencyError(ValueError):
    """A frequency that cannot be read: `part` is the text of the part that is wrong (empty when
    the whole is), and the message says what is wrong with it and how to write it."""

    def __init__(self, message: str, part: str = "") -> None:
        super().__init__(message)
        self.part = part


@dataclass(frozen=True)
class Weekly:
    per_week: int
    weeks: int

    def __str__(self) -> str:
        return f"{self.per_week}w{self.weeks}"

    def in_words(self) -> str:
        return f"{_times(self.per_week)} a week for {_count(self.weeks, 'week')}"


@dataclass(frozen=True)
class Monthly:
    per_month: int
    months: int

    def __str__(self) -> str:
        return f"{self.per_month}m{self.months}"

    def in_words(self) -> str:
        return f"{_times(self.per_month)} a month for {_count(self.months, 'month')}"


@dataclass(frozen=True)
class Daily:
    days: int

    def __str__(self) -> str:
        return f"qd x{self.days}"

    def in_words(self) -> str:
        return f"daily for {_count(self.days, 'day')}"


@dataclass(frozen=True)
class AsNeeded:
    most: int
    reason: str = ""

    def __str__(self) -> str:
        return f"PRN x{self.most}" + (f" for {self.reason}" if self.reason else "")

    def in_words(self) -> str:
        visits = "one visit" if self.most == 1 else f"{_number(self.most)} visits"
        return f"as needed, up to {visits}" + (f", for {self.reason}" if self.reason else "")


Part = Weekly | Monthly | Daily | AsNeeded


@dataclass(frozen=True)
class Period:
    """Dates (both included) and the visits due in them; `as_needed` periods hold a maximum."""

    start: date
    end: date
    visits: int
    as_needed: bool = False


@dataclass(frozen=True)
class Frequency:
    parts: tuple[Part, ...]

    def __str__(self) -> str:
        return ", ".join(str(part) for part in self.parts)

    def in_words(self) -> str:
        scheduled = [part.in_words() for part in self.parts if not isinstance(part, AsNeeded)]
        said = ", then ".join(scheduled)
        for part in self.parts:
            if isinstance(part, AsNeeded):
                said = f"{said}; and {part.in_words()}" if said else part.in_words()
        return said[:1].upper() + said[1:]

    @property
    def scheduled(self) -> tuple[Part, ...]:
        return tuple(part for part in self.parts if not isinstance(part, AsNeeded))

    def periods(self, start: date) -> list[Period]:
        """Each week, month or day of the scheduled parts in order from `start` (week 1 is the
        start date and the six days after it), then the as-needed maximums over the whole span
        (or from `start` for one week when nothing is scheduled)."""
        found: list[Period] = []
        begin = start
        for part in self.scheduled:
            if isinstance(part, Weekly):
                for _ in range(part.weeks):
                    found.append(Period(begin, begin + timedelta(days=6), part.per_week))
                    begin += timedelta(days=7)
            elif isinstance(part, Monthly):
                for _ in range(part.months):
                    following = add_months(begin, 1)
                    found.append(Period(begin, following - timedelta(days=1), part.per_month))
                    begin = following
            elif isinstance(part, Daily):
                for _ in range(part.days):
                    found.append(Period(begin, begin, 1))
                    begin += timedelta(days=1)
        end = found[-1].end if found else start + timedelta(days=6)
        for part in self.parts:
            if isinstance(part, AsNeeded):
                found.append(Period(start, end, part.most, as_needed=True))
        return found

    def scheduled_visits(self) -> int:
        """Visits the scheduled parts call for (as-needed visits never count here)."""
        return sum(p.visits for p in self.periods(date(2000, 1, 1)) if not p.as_needed)


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, or that month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# ---------------------------------------------------------------------------------------------
# Reading the notation.

_WEEKLY = re.compile(r"(\d+)\s*w\s*(\d+)", re.I)
_MONTHLY = re.compile(r"(\d+)\s*m\s*(\d+)", re.I)
_DAILY = re.compile(r"qd\s*x\s*(\d+)", re.I)
_PRN = re.compile(r"prn\s*x\s*(\d+)(?:\s+for\s+(.+))?", re.I)
HOW_TO_WRITE = (
    "write visits a week and weeks as 3w1, visits a month and months as 1m2, daily visits as "
    "qd x5, or as-needed visits as PRN x2 for dyspnea"
)


def parse(text: str) -> Frequency:
    """Read a frequency such as "3w1, 2w4" (see the module's docstring)."""
    if not text or not text.strip():
        raise FrequencyError(f"Give a frequency: {HOW_TO_WRITE}.")
    raw_parts = [part.strip() for part in text.split(",")]
    if any(not part for part in raw_parts):
        raise FrequencyError("A comma has no part after it (or before it): remove it.", "")
    parts = tuple(_part(part) for part in raw_parts)
    if sum(isinstance(part, AsNeeded) for part in parts) > 1:
        raise FrequencyError("Give one PRN part, with the most visits for all its reasons.")
    return Frequency(parts)


def _part(text: str) -> Part:
    if match := _WEEKLY.fullmatch(text):
        per_week, weeks = int(match[1]), int(match[2])
        _within(text, per_week, 1, MAX_PER_WEEK, "visits a week")
        _within(text, weeks, 1, MAX_WEEKS, "weeks")
        return Weekly(per_week, weeks)
    if match := _MONTHLY.fullmatch(text):
        per_month, months = int(match[1]), int(match[2])
        _within(text, per_month, 1, MAX_PER_MONTH, "visits a month")
        _within(text, months, 1, MAX_MONTHS, "months")
        return Monthly(per_month, months)
    if match := _DAILY.fullmatch(text):
        days = int(match[1])
        _within(text, days, 1, MAX_DAYS, "days")
        return Daily(days)
    if match := _PRN.fullmatch(text):
        most = int(match[1])
        _within(text, most, 1, MAX_PRN, "as-needed visits")
        return AsNeeded(most, " ".join((match[2] or "").split()))
    if re.fullmatch(r"prn(\s+for\s+.*)?", text, re.I):
        raise FrequencyError(
            f'"{text}" gives no most visits: write PRN x2 (up to two visits as needed).', text
        )
    raise FrequencyError(f'"{text}" is not a frequency: {HOW_TO_WRITE}.', text)


def _within(text: str, value: int, low: int, high: int, what: str) -> None:
    if not low <= value <= high:
        raise FrequencyError(f'"{text}" asks for {value} {what}: give {low} to {high}.', text)


def _number(n: int) -> str:
    return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{_number(n)} times")


def _count(n: int, unit: str) -> str:
    return f"{_number(n)} {unit}" + ("" if n == 1 else "s")

"""When each assessment of a home health episode is due, by the Medicare rules (42 CFR 484.55).

Pure Python, no database: the caller passes the episode's dates, the inpatient stays that ended
during it, and the assessments already signed, and gets back what is due, with a status the
caseload shows as a word and a colour.

- Start of care: completed no later than 5 calendar days after the start-of-care date.
- Resumption of care: within 2 calendar days of the return home from an inpatient stay of
  24 hours or more (the facility discharge date).
- Recertification: in the last 5 days of each 60-day period (days 56 to 60), for as long as the
  episode stays open.

Status: done (a signed assessment of that time point covers it), overdue (past the due date),
due (inside its window), due soon (the window opens within DUE_SOON_DAYS), or upcoming.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

START_OF_CARE = "start-of-care"
RESUMPTION = "resumption-of-care"
RECERTIFICATION = "recertification"

SOC_DAYS = 5
ROC_DAYS = 2
PERIOD_DAYS = 60
RECERT_WINDOW_DAYS = 5
INPATIENT_MINIMUM = timedelta(hours=24)
DUE_SOON_DAYS = 7

OVERDUE, DUE, DUE_SOON, UPCOMING, DONE = "overdue", "due", "due-soon", "upcoming", "done"
STATUS_LABELS = {
    OVERDUE: "Overdue",
    DUE: "Due",
    DUE_SOON: "Due soon",
    UPCOMING: "Upcoming",
    DONE: "Done",
}
URGENCY = {OVERDUE: 0, DUE: 1, DUE_SOON: 2, UPCOMING: 3, DONE: 4}
TIME_POINT_LABELS = {
    START_OF_CARE: "Start of care",
    RESUMPTION: "Resumption of care",
    RECERTIFICATION: "Recertification",
}


@dataclass(frozen=True)
class Stay:
    """An inpatient stay: admitted and discharged (None while still inpatient)."""

    admitted: datetime
    discharged: datetime | None


@dataclass(frozen=True)
class Signed:
    """A signed assessment: its time point and the day it was done (the visit date)."""

    time_point: str
    on: date


@dataclass(frozen=True)
class Due:
    time_point: str
    opens: date
    due: date
    status: str
    reason: str
    done_on: date | None = None

    @property
    def label(self) -> str:
        return TIME_POINT_LABELS.get(self.time_point, self.time_point)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def open(self) -> bool:
        return self.status != DONE


def due_assessments(
    start_of_care: date | None,
    end: date | None,
    stays: list[Stay],
    signed: list[Signed],
    today: date,
) -> list[Due]:
    """Every assessment the episode has called for up to now and the next one coming, in date
    order. `end` is the discharge date of a closed episode (nothing falls due after it)."""
    if start_of_care is None:
        return []
    found = [_start_of_care(start_of_care, signed, today)]
    found += _resumptions(start_of_care, end, stays, signed, today)
    found += _recertifications(start_of_care, end, signed, today)
    return sorted(found, key=lambda d: (d.due, d.time_point))


def most_pressing(items: list[Due]) -> Due | None:
    """The one the caseload shows: the most urgent open item, the earliest first."""
    pending = [d for d in items if d.open]
    return min(pending, key=lambda d: (URGENCY[d.status], d.due), default=None)


def _status(opens: date, due: date, done_on: date | None, today: date) -> str:
    if done_on is not None:
        return DONE
    if today > due:
        return OVERDUE
    if today >= opens:
        return DUE
    if (opens - today).days <= DUE_SOON_DAYS:
        return DUE_SOON
    return UPCOMING


def _done(signed: list[Signed], time_point: str, opens: date, until: date | None) -> date | None:
    """The first signed assessment of this time point done on or after the window opened (and
    before the next window of the same kind, when given)."""
    days = sorted(
        s.on
        for s in signed
        if s.time_point == time_point and s.on >= opens and (until is None or s.on < until)
    )
    return days[0] if days else None


def _start_of_care(soc: date, signed: list[Signed], today: date) -> Due:
    due = soc + timedelta(days=SOC_DAYS)
    # A start-of-care assessment may be done from the referral on, so any signed one counts.
    done_on = _done(signed, START_OF_CARE, date.min, None)
    return Due(
        START_OF_CARE,
        soc,
        due,
        _status(soc, due, done_on, today),
        f"within {SOC_DAYS} days of the start of care ({soc:%b} {soc.day})",
        done_on,
    )


def _resumptions(
    soc: date, end: date | None, stays: list[Stay], signed: list[Signed], today: date
) -> list[Due]:
    homecomings = sorted(
        stay.discharged.date()
        for stay in stays
        if stay.discharged is not None
        and stay.discharged - stay.admitted >= INPATIENT_MINIMUM
        and soc <= stay.discharged.date()
        and (end is None or stay.discharged.date() <= end)
    )
    found = []
    for index, home in enumerate(homecomings):
        until = homecomings[index + 1] if index + 1 < len(homecomings) else None
        due = home + timedelta(days=ROC_DAYS)
        done_on = _done(signed, RESUMPTION, home, until)
        reason = f"within {ROC_DAYS} days of the return home on {home:%b} {home.day}"
        found.append(
            Due(RESUMPTION, home, due, _status(home, due, done_on, today), reason, done_on)
        )
    return found


def _recertifications(soc: date, end: date | None, signed: list[Signed], today: date) -> list[Due]:
    found = []
    period = 1
    while True:
        last_day = soc + timedelta(days=PERIOD_DAYS * period - 1)
        opens = last_day - timedelta(days=RECERT_WINDOW_DAYS - 1)
        if end is not None and end < opens:
            break
        done_on = _done(signed, RECERTIFICATION, opens, last_day + timedelta(days=1))
        reason = f"in the last {RECERT_WINDOW_DAYS} days of 60-day period {period}"
        found.append(
            Due(
                RECERTIFICATION,
                opens,
                last_day,
                _status(opens, last_day, done_on, today),
                reason,
                done_on,
            )
        )
        # Show every period up to now and the next one coming, no further.
        if opens > today:
            break
        period += 1
    return found

"""The week: each ordered visit given a day and a clinician.

`schedule_week(monday, orders, patients, clinicians, existing)` places the visits each order asks
in the calendar week beginning `monday`:

1. For each order, the periods that meet the week (orders.py). A period's visits already on the
   books (made, pinned, or scheduled in a neighbouring week) count against what it asks; the rest
   are spread (spread.py) over the period's open days: the days the patient can be seen (none
   they avoid, within the order's dates) on which some clinician who may make the visit works.
   The patient's preferred weekdays break ties. Of the days chosen, those in this week are
   placed.
2. Each placed visit is given a clinician, the most constrained visits first (fewest possible
   clinicians): one of the order's discipline, with its skills, speaking the patient's language
   when they have one, working that day and not off, under their most visits a day. The
   patient's usual clinician for the discipline is taken when able (continuity); else the one
   with the fewest visits that week so far (workload balanced within the discipline), then the
   fewest that day, then by id. When nobody can take a visit on its day, another open day of its
   period in the week without a visit of the order is tried; failing that it is left out with the
   reason.
3. Existing visits never move; a period left short of or over its order is reported.

Plain Python, no Django: the visits domain gives it the orders, availability and visits it
reads from the database, and saves what it returns.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from careway.careplans.frequency import parse

from .orders import due_in_week
from .spread import spread


@dataclass(frozen=True)
class Clinician:
    """A clinician as scheduling and routing read them: what they may do, when they work, and
    where their day starts and ends (their home base: latitude, longitude)."""

    id: str
    discipline: str
    skills: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset({"en"})
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday 0
    off: frozenset[date] = frozenset()
    most_a_day: int = 6
    home: tuple[float, float] | None = None
    shift: tuple[int, int] = (8 * 60, 17 * 60)  # minutes from midnight
    lunch: tuple[int, int, int] | None = None  # earliest start, latest start, minutes

    def works(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.off


def may_make(clinician: Clinician, discipline: str, skills: Iterable[str], language: str) -> bool:
    """Whether the clinician may make a visit: its discipline, every skill it needs, and the
    patient's language (when they have one)."""
    return (
        clinician.discipline == discipline
        and set(skills) <= clinician.skills
        and (not language or language in clinician.languages)
    )


@dataclass(frozen=True)
class Patient:
    id: str
    language: str = "en"
    preferred: frozenset[int] = frozenset()  # weekdays they would rather be seen
    avoid: frozenset[date] = frozenset()
    usual: dict[str, str] = field(default_factory=dict)  # discipline: clinician id

    def __hash__(self) -> int:
        return hash(self.id)


@dataclass(frozen=True)
class Order:
    id: str
    patient: str
    discipline: str
    frequency: str  # the care plan's notation, e.g. "3w1, 2w4"
    start: date
    end: date | None = None
    skills: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Booked:
    """A visit already on the books: made, pinned, or scheduled before; never moved."""

    order: str
    day: date
    clinician: str
    done: bool = False
    pinned: bool = False


@dataclass(frozen=True)
class Placed:
    order: str
    patient: str
    day: date
    clinician: str


@dataclass(frozen=True)
class Problem:
    """Something the week could not do: `kind` is "short" (a period has fewer visits than its
    order asks), "over" (more) or "unplaced" (a visit no clinician could take)."""

    kind: str
    order: str
    patient: str
    period_start: date
    period_end: date
    message: str
    day: date | None = None


@dataclass(frozen=True)
class Week:
    placed: tuple[Placed, ...]
    problems: tuple[Problem, ...]


def schedule_week(
    monday: date,
    orders: Iterable[Order],
    patients: Iterable[Patient],
    clinicians: Iterable[Clinician],
    existing: Iterable[Booked] = (),
    today: date | None = None,
) -> Week:
    """The week's new visits and what could not be done (see the module doc). With `today`
    (a day of the week: re-scheduling once it has begun, after a missed or cancelled visit,
    which the caller leaves out of `existing`), nothing is placed before it."""
    sunday = monday + timedelta(days=6)
    first_open = max(monday, today) if today is not None else monday
    who = {p.id: p for p in patients}
    staff = sorted(clinicians, key=lambda c: c.id)
    booked = list(existing)
    booked_by_order: dict[str, list[Booked]] = defaultdict(list)
    for b in booked:
        booked_by_order[b.order].append(b)
    problems: list[Problem] = []
    wanted: list[tuple[Order, Patient, date, tuple[date, ...], date, date]] = []
    for order in sorted(orders, key=lambda o: o.id):
        patient = who.get(order.patient)
        if patient is None:
            raise ValueError(f"orders: order {order.id} is for patient {order.patient}, not given")
        able = [c for c in staff if _may_make(c, order, patient)]
        for due in due_in_week(parse(order.frequency), order.start, order.end, monday):
            if due.as_needed:
                continue  # as-needed visits are booked when needed, not by the week
            on_books = [b for b in booked_by_order[order.id] if due.start <= b.day <= due.end]
            taken = {b.day for b in on_books}
            period_days = [
                due.start + timedelta(days=i) for i in range((due.end - due.start).days + 1)
            ]
            open_days = [
                d
                for d in period_days
                if d not in patient.avoid and d not in taken and any(c.works(d) for c in able)
            ]
            # only days from this week (or today) on can still be given visits
            open_days = [d for d in open_days if d >= first_open]
            remaining = due.visits - len(on_books)
            if remaining < 0:
                problems.append(
                    _problem(
                        "over",
                        order,
                        due.start,
                        due.end,
                        f"{len(on_books)} visits booked for {due.visits} ordered",
                    )
                )
                continue
            chosen = spread(remaining, due.start, due.end, open_days, patient.preferred)
            in_week = tuple(d for d in chosen.days if monday <= d <= sunday)
            if chosen.short:
                problems.append(
                    _problem(
                        "short",
                        order,
                        due.start,
                        due.end,
                        f"{due.visits - chosen.short} of {due.visits} visits: "
                        f"no open day for {chosen.short} (days avoided, or nobody who may make "
                        "the visit works)",
                    )
                )
            spare = tuple(d for d in open_days if monday <= d <= sunday and d not in in_week)
            for day in in_week:
                wanted.append((order, patient, day, spare, due.start, due.end))
    return _assign(wanted, staff, booked, problems)


def _may_make(clinician: Clinician, order: Order, patient: Patient) -> bool:
    return may_make(clinician, order.discipline, order.skills, patient.language)


def _problem(
    kind: str, order: Order, start: date, end: date, message: str, day: date | None = None
) -> Problem:
    return Problem(kind, order.id, order.patient, start, end, message, day)


def _assign(
    wanted: list[tuple[Order, Patient, date, tuple[date, ...], date, date]],
    staff: list[Clinician],
    booked: list[Booked],
    problems: list[Problem],
) -> Week:
    per_day: Counter[tuple[str, date]] = Counter((b.clinician, b.day) for b in booked)
    per_week: Counter[str] = Counter(b.clinician for b in booked)
    order_days: dict[str, set[date]] = defaultdict(set)
    for order, _, day, *_ in wanted:
        order_days[order.id].add(day)

    def candidates(order: Order, patient: Patient, day: date) -> list[Clinician]:
        return [
            c
            for c in staff
            if _may_make(c, order, patient) and c.works(day) and per_day[(c.id, day)] < c.most_a_day
        ]

    # the most constrained first: fewest clinicians able on the day, then by order and day
    wanted.sort(key=lambda w: (len(candidates(w[0], w[1], w[2])), w[0].id, w[2]))
    placed: list[Placed] = []
    for order, patient, day, spare, start, end in wanted:
        for when in (day, *(d for d in spare if d not in order_days[order.id])):
            able = candidates(order, patient, when)
            if able:
                break
        else:
            problems.append(
                _problem(
                    "unplaced",
                    order,
                    start,
                    end,
                    f"no {order.discipline} who may make this visit is free on "
                    f"{day:%a %b %-d} or another open day of its week",
                    day,
                )
            )
            continue
        if when != day:
            order_days[order.id].discard(day)
            order_days[order.id].add(when)
        usual = patient.usual.get(order.discipline)
        chosen = next((c for c in able if c.id == usual), None) or min(
            able, key=lambda c: (per_week[c.id], per_day[(c.id, when)], c.id)
        )
        per_day[(chosen.id, when)] += 1
        per_week[chosen.id] += 1
        placed.append(Placed(order.id, patient.id, when, chosen.id))
    placed.sort(key=lambda p: (p.day, p.clinician, p.order))
    return Week(tuple(placed), tuple(problems))

"""Realistic agency days, made up but shaped like real ones: for benchmarks, tests and demos.

Both days are made by one machinery (`_day`) from a `Shape`: where the offices are, how far
patients and clinicians live from them, the disciplines (share of the staff, visit minutes, visits
a day at most), how many clinicians leave from an office, the travel. What they share: nurses,
therapists, a social worker and aides; visits sized by discipline; time windows as patients give
them (a two-hour slot, a morning or afternoon, any time); some windows hard (a dialysis run, an
insulin time); a 30-minute lunch break between 11:30 and 13:30; a quarter of the staff starting
at 9; two-person visits (a bariatric transfer: a nurse and an aide together) and ordered pairs
(the nurse assesses, then the aide bathes 30 to 90 minutes later); and most patients with the
clinician they know. Deterministic for a seed. Both return the JSON format of
docs/routing/problem.schema.json, so a day can be saved and solved from the command line.

`agency_day`: an agency around Burlington, Vermont, about 25 km across, one office, 40
clinicians and 300 visits by default (benchmarks/routing_agency_day.py).

`metro_day`: an agency in Columbus, Ohio, with five branch offices (downtown, Dublin,
Westerville, Reynoldsburg, Grove City). Patients and clinicians' homes lie within about 8 km
north-south and east-west of their branch, so the day spans about 43 km north-south and 41 km
east-west, denser downtown (28% of staff and patients; 18% at each suburban branch). 85% of
clinicians leave from home. A patient's preferred clinician is one of their branch's. Travel:
roads about 1.3 times the straight line (a street grid) at 35 km/h door to door (lights,
parking, some freeway). 1,000 visits for 120 clinicians is 8.3 visits each, above what home
health agencies typically ask of their skilled staff (5 to 6 a day), so the metro staff leans on
the disciplines whose visits are short:
- aides (45% of the staff): personal care (a bath, dressing, a medication reminder) in 30
  minutes, 12 a day at most: 6 hours of care and 10 minutes a leg in an 8-hour day;
- LPNs (15%): an injection, a dressing, a medication set-up in 30 minutes, 10 a day;
- RNs (22%): 40 minutes, 8 a day; PT 45 minutes, 8 a day; OT 45, 7; SLP 45, 6; MSW 50, 5.
The limits add up to 1,191 visits for 120 clinicians, so 1,000 visits fill 84% of them: the
generator, which fills each discipline to 85% of its limits before any goes further, never has
to go further, and the 200 paired visits (100 nurse, 100 aide) fit in the nurses' and aides'
share.

The rule for both days: no discipline is booked past what its clinicians' visit limits can make,
unless the whole staff cannot make the day (more visits than all their limits add up to).

A visit left out costs `unassigned` (10,000 on the agency day). On the metro day it is
1,000,000: far more than the whole day's travel, lateness, overtime and continuity breaks
together come to (seed 1: about 12,000 in the first plan with every visit, 7,800 after 10 s;
10,000 would not be), so the objective reads as visits left out times a million plus the rest,
and a plan's objective under 1,000,000 means every visit is in it (benchmarks/routing_metro.py
reads the anytime progress that way).
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DAY_START, DAY_END = 480, 990  # 08:00 to 16:30
UTILISATION = 0.85


@dataclass(frozen=True)
class Office:
    id: str
    lat: float
    lon: float
    share: float  # of the staff and of the patients


@dataclass(frozen=True)
class Shape:
    """What sets one kind of agency day apart from another."""

    name: str
    offices: tuple[Office, ...]
    spread_degrees: tuple[float, float]  # homes within this of their office (lat, lon)
    # Discipline: (share of clinicians, visit minutes, visits a day at most)
    disciplines: dict[str, tuple[float, int, int]]
    from_office: float  # the share of clinicians who leave from their office, not from home
    detour: float
    speed_kmh: float
    unassigned: float  # the weight of a visit left out


CENTRE = (44.4759, -73.2121)  # the Burlington office
SPREAD_DEGREES = (0.09, 0.12)  # about 10 km north-south and east-west either side
DISCIPLINES: dict[str, tuple[float, int, int]] = {
    "RN": (0.30, 40, 8),
    "LPN": (0.10, 35, 8),
    "PT": (0.15, 45, 8),
    "OT": (0.08, 45, 8),
    "SLP": (0.02, 45, 7),
    "MSW": (0.05, 50, 6),
    "HHA": (0.30, 45, 8),
}
AGENCY = Shape(
    name="Agency day",
    offices=(Office("office", CENTRE[0], CENTRE[1], 1.0),),
    spread_degrees=SPREAD_DEGREES,
    disciplines=DISCIPLINES,
    from_office=0.3,
    detour=1.35,
    speed_kmh=40,
    unassigned=10_000,
)

METRO = Shape(
    name="Metro day (Columbus, Ohio)",
    offices=(
        Office("office-downtown", 39.9612, -82.9988, 0.28),
        Office("office-dublin", 40.0992, -83.1141, 0.18),
        Office("office-westerville", 40.1262, -82.9291, 0.18),
        Office("office-reynoldsburg", 39.9548, -82.8121, 0.18),
        Office("office-grove-city", 39.8815, -83.0930, 0.18),
    ),
    spread_degrees=(0.07, 0.09),  # 7.8 km north-south, 7.7 km east-west either side
    disciplines={
        "RN": (0.22, 40, 8),
        "LPN": (0.15, 30, 10),
        "PT": (0.09, 45, 8),
        "OT": (0.04, 45, 7),
        "SLP": (0.02, 45, 6),
        "MSW": (0.03, 50, 5),
        "HHA": (0.45, 30, 12),
    },
    from_office=0.15,
    detour=1.3,
    speed_kmh=35,
    unassigned=1_000_000,
)


def agency_day(
    clinicians: int = 40,
    visits: int = 300,
    *,
    two_person: float = 0.10,
    ordered: float = 0.10,
    continuity: float = 0.6,
    seed: int = 1,
) -> dict[str, Any]:
    """A day of `visits` visits for `clinicians` clinicians around Burlington. `two_person` and
    `ordered` are the shares of visits in simultaneous and in ordered pairs; `continuity` the
    share of visits whose patient has a preferred clinician."""
    return _day(AGENCY, clinicians, visits, two_person, ordered, continuity, seed)


def metro_day(
    seed: int = 1,
    clinicians: int = 120,
    visits: int = 1000,
    *,
    two_person: float = 0.10,
    ordered: float = 0.10,
    continuity: float = 0.6,
) -> dict[str, Any]:
    """A metro agency's day in Columbus, Ohio: five branches, 120 clinicians, 1,000 visits by
    default; the shares as in `agency_day`."""
    return _day(METRO, clinicians, visits, two_person, ordered, continuity, seed)


def _day(
    shape: Shape,
    clinicians: int,
    visits: int,
    two_person: float,
    ordered: float,
    continuity: float,
    seed: int,
) -> dict[str, Any]:
    rng = random.Random(seed)
    disciplines = shape.disciplines
    locations: list[dict[str, Any]] = [
        {"id": o.id, "lat": o.lat, "lon": o.lon} for o in shape.offices
    ]

    def place(name: str, office: Office) -> str:
        lat = office.lat + rng.uniform(-1, 1) * shape.spread_degrees[0]
        lon = office.lon + rng.uniform(-1, 1) * shape.spread_degrees[1]
        locations.append({"id": name, "lat": round(lat, 5), "lon": round(lon, 5)})
        return name

    staff, branch = _staff(shape, clinicians, rng, place)
    by_skill: dict[str, list[str]] = {}
    local: dict[tuple[str, str], list[str]] = {}  # (office, skill) -> the branch's clinicians
    for c in staff:
        by_skill.setdefault(c["skills"][0], []).append(c["id"])
        local.setdefault((branch[c["id"]], c["skills"][0]), []).append(c["id"])

    out: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    n_pairs_together = round(visits * two_person / 2)
    n_pairs_ordered = round(visits * ordered / 2)
    home = 0
    shares = [o.share for o in shape.offices]

    def patient() -> tuple[str, Office]:
        nonlocal home
        home += 1
        office = shape.offices[0]
        if len(shape.offices) > 1:
            office = rng.choices(shape.offices, shares)[0]
        return place(f"home-{home}", office), office

    def visit(ident: str, at: tuple[str, Office], skill: str, window: list[float | None]) -> Any:
        where, office = at
        pool = local.get((office.id, skill)) or by_skill.get(skill, [])
        return _visit(ident, where, skill, disciplines[skill][1], window, rng, pool, continuity)

    for i in range(n_pairs_together):
        at = patient()
        window = _window(rng)
        a = visit(f"transfer-{i + 1}-rn", at, "RN", window)
        b = visit(f"transfer-{i + 1}-hha", at, "HHA", window)
        out += [a, b]
        links.append({"type": "simultaneous", "visits": [a["id"], b["id"]]})
    for i in range(n_pairs_ordered):
        at = patient()
        window = _window(rng)
        a = visit(f"care-{i + 1}-rn", at, "RN", window)
        opens, closes = window
        assert opens is not None  # a window always opens
        later: list[float | None] = [opens + 30, None if closes is None else closes + 90]
        b = visit(f"care-{i + 1}-hha", at, "HHA", later)
        out += [a, b]
        links.append(
            {"type": "ordered", "visits": [a["id"], b["id"]], "min_gap": 30, "max_gap": 90}
        )

    # The rest by discipline in proportion to the room each discipline has left at 85% of its
    # clinicians' visit limits; once every discipline is that full, in proportion to the room
    # left at 100%. No discipline is booked past what its clinicians can make unless the whole
    # staff cannot make the day (more visits than their limits add up to); then the surplus
    # goes by share, and the plan leaves it out with the reason.
    def left(share: float) -> dict[str, float]:
        return {
            s: share * disciplines[s][2] * len(ids) - sum(v["skill"] == s for v in out)
            for s, ids in by_skill.items()
        }

    room, full = left(UTILISATION), left(1.0)
    while len(out) < visits:
        weights = {s: r for s, r in room.items() if r >= 1} or {
            s: r for s, r in full.items() if r >= 1
        }
        if not weights:
            weights = {s: float(len(ids)) for s, ids in by_skill.items()}
        skill = rng.choices(list(weights), list(weights.values()))[0]
        room[skill] -= 1
        full[skill] -= 1
        out.append(visit(f"visit-{len(out) + 1}", patient(), skill, _window(rng)))
    return {
        "name": f"{shape.name}: {clinicians} clinicians, {len(out)} visits (seed {seed})",
        "locations": locations,
        "travel": {"detour_factor": shape.detour, "speed_kmh": shape.speed_kmh},
        "clinicians": staff,
        "visits": out,
        "links": links,
        "weights": {
            "travel": 1,
            "total_lateness": 1,
            "max_lateness": 1,
            "continuity": 10,
            "overtime": 2,
            "unassigned": shape.unassigned,
        },
    }


def _staff(
    shape: Shape, count: int, rng: random.Random, place: Callable[[str, Office], str]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The clinicians, and the office each belongs to: each discipline spread over the offices
    by their shares, in order (the first clinicians of a discipline at the first office)."""
    disciplines = shape.disciplines
    skills = list(disciplines)
    numbers = {s: max(1, round(count * disciplines[s][0])) for s in skills}
    while sum(numbers.values()) > count:  # rounding: take from the largest
        numbers[max(numbers, key=lambda s: numbers[s])] -= 1
    while sum(numbers.values()) < count:
        numbers["RN"] += 1
    staff = []
    branch: dict[str, str] = {}
    for skill in skills:
        for n in range(numbers[skill]):
            ident = f"{skill.lower()}-{n + 1}"
            office = _office_of(shape.offices, (n + 0.5) / numbers[skill])
            branch[ident] = office.id
            start = (
                office.id if rng.random() < shape.from_office else place(f"{ident}-home", office)
            )
            late = rng.random() < 0.25  # some start at 9
            staff.append(
                {
                    "id": ident,
                    "start": start,
                    "shift": [DAY_START + (60 if late else 0), DAY_END + (60 if late else 0)],
                    "skills": [skill, "LPN"] if skill == "RN" else [skill],
                    "max_visits": disciplines[skill][2],
                    "break": {"window": [690, 810], "duration": 30},
                }
            )
    return staff, branch


def _office_of(offices: tuple[Office, ...], position: float) -> Office:
    """The office whose stretch of the cumulative shares holds `position` (0 to 1)."""
    total = sum(o.share for o in offices)
    upto = 0.0
    for office in offices:
        upto += office.share / total
        if position < upto:
            return office
    return offices[-1]


def _window(rng: random.Random) -> list[float | None]:
    kind = rng.random()
    if kind < 0.4:  # a two-hour slot
        opens = rng.randrange(DAY_START, DAY_END - 150, 30)
        return [opens, opens + 120]
    if kind < 0.8:  # the morning or the afternoon
        return [DAY_START, 720] if rng.random() < 0.5 else [720, DAY_END - 30]
    return [DAY_START, None]  # any time


def _visit(
    ident: str,
    where: str,
    skill: str,
    duration: int,
    window: list[float | None],
    rng: random.Random,
    pool: list[str],
    continuity: float,
) -> dict[str, Any]:
    visit: dict[str, Any] = {
        "id": ident,
        "location": where,
        "duration": duration,
        "skill": skill,
        "window": list(window),
    }
    if window[1] is not None and rng.random() < 0.1:
        visit["window_close"] = "hard"
    if rng.random() < continuity and pool:
        visit["preferred"] = rng.choice(pool)
    return visit

"""A branch's day as a routing problem for the engine (careway/routing), and its plan.

`day_problem(clinicians, visits, pairs)` writes the day in the engine's problem format
(docs/routing/README.md) and reads it back through the engine's own reader, so a day the
engine would refuse is refused here with the engine's message naming the field:

- places: each patient's place (places.py) and each clinician's home base, as latitude and
  longitude; travel is the engine's straight line times a detour factor at a speed (both
  settable), or an uploaded travel-time matrix instead;
- who may make a visit: the engine knows one requirement a visit, so each visit's discipline,
  extra skills and the patient's language are made one requirement ("RN|wound|lang:es"), and each
  clinician is given every requirement of the day they meet;
- windows in minutes from midnight (soft unless the visit says hard), durations, shifts, a
  lunch break, the most visits a day, the usual clinician (continuity, weighted), visits pinned
  to a clinician (under way or done: never moved), two-person visits (simultaneous) and
  ordered pairs with their gap.

`route_day(problem, seconds, on_progress)` runs the engine and returns its result: every route
in order with start times, the validator's report, and why any visit was left out. Plain
Python, no Django.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from careway.routing.model import ORDERED, SIMULTANEOUS, Problem, ProblemError, Weights
from careway.routing.solve import Result, solve

from .places import Place
from .week import Clinician, may_make

# A day's objective, in the units of the metro day of the routing benchmarks (generate.py):
# kilometres travelled, plus minutes late, a visit by someone other than the patient's usual
# clinician as 10 km, a minute of overtime as 2 km; a visit left out outweighs all of them.
DAY_WEIGHTS = Weights(
    travel=1.0,
    total_lateness=1.0,
    max_lateness=0.0,
    continuity=10.0,
    overtime=2.0,
    unassigned=1_000_000.0,
)


@dataclass(frozen=True)
class DayVisit:
    id: str
    patient: str
    place: Place
    discipline: str
    minutes: int
    window: tuple[int, int] | None = None  # minutes from midnight; None: any time
    hard_window: bool = False
    skills: frozenset[str] = frozenset()
    language: str = "en"
    usual: str | None = None  # the patient's usual clinician for this discipline
    pinned_to: str | None = None  # under way or done: stays with this clinician
    pinned_position: int | None = None


@dataclass(frozen=True)
class Pair:
    """Two visits tied together: "simultaneous" (two people at once) or "ordered" (the second
    starts between min_gap and max_gap minutes after the first ends: wound care, then the
    aide's bath)."""

    kind: str
    first: str
    second: str
    min_gap: int = 0
    max_gap: int = 0


def requirement(discipline: str, skills: Iterable[str], language: str) -> str:
    """The one requirement the engine checks: discipline, extra skills, language."""
    parts = [discipline, *sorted(skills)]
    if language:
        parts.append(f"lang:{language}")
    return "|".join(parts)


def day_problem(
    clinicians: Sequence[Clinician],
    visits: Sequence[DayVisit],
    pairs: Sequence[Pair] = (),
    detour: float = 1.35,
    speed_kmh: float = 35.0,
    travel_minutes: Sequence[Sequence[float]] | None = None,
    name: str = "",
) -> Problem:
    """The engine's problem for the day (see the module doc). With `travel_minutes`, a matrix
    over the locations in the order this function lists them (clinicians' homes, then each
    patient's place in the order first visited), travel is read from it instead."""
    locations: list[dict[str, Any]] = []
    where: dict[str, str] = {}
    for i, c in enumerate(clinicians):
        if c.home is None:
            raise ProblemError(f"clinicians[{i}].home", f"{c.id} has no home base to start from")
        key = f"home:{c.id}"
        where[key] = key
        locations.append({"id": key, "lat": c.home[0], "lon": c.home[1]})
    for v in visits:
        key = f"patient:{v.patient}"
        if key not in where:
            where[key] = key
            locations.append({"id": key, "lat": v.place.latitude, "lon": v.place.longitude})
    needs = {v.id: requirement(v.discipline, v.skills, v.language) for v in visits}
    wanted = {(v.discipline, v.skills, v.language) for v in visits}
    raw_clinicians = []
    for c in clinicians:
        row: dict[str, Any] = {
            "id": c.id,
            "start": f"home:{c.id}",
            "shift": list(c.shift),
            "skills": sorted(requirement(*w) for w in wanted if may_make(c, *w)),
            "max_visits": c.most_a_day,
        }
        if c.lunch is not None:
            row["break"] = {"window": [c.lunch[0], c.lunch[1]], "duration": c.lunch[2]}
        raw_clinicians.append(row)
    raw_visits = []
    for v in visits:
        row = {
            "id": v.id,
            "location": f"patient:{v.patient}",
            "duration": v.minutes,
            "skill": needs[v.id],
        }
        if v.window is not None:
            row["window"] = list(v.window)
            row["window_close"] = "hard" if v.hard_window else "soft"
        if v.usual is not None and any(c.id == v.usual for c in clinicians):
            row["preferred"] = v.usual
        if v.pinned_to is not None:
            row["pinned"] = {"clinician": v.pinned_to}
            if v.pinned_position is not None:
                row["pinned"]["position"] = v.pinned_position
        raw_visits.append(row)
    links = []
    minutes = {v.id: v.minutes for v in visits}
    for i, p in enumerate(pairs):
        if p.kind not in (SIMULTANEOUS, ORDERED):
            raise ProblemError(f"pairs[{i}]", f"{p.kind!r}: a pair is 'simultaneous' or 'ordered'")
        link: dict[str, Any] = {"type": p.kind, "visits": [p.first, p.second]}
        if p.kind == ORDERED:
            # the engine's gaps run from start to start; a pair's from the first one's end
            first = minutes.get(p.first, 0)
            link["min_gap"], link["max_gap"] = p.min_gap + first, p.max_gap + first
        links.append(link)
    travel: dict[str, Any] = {"detour_factor": detour, "speed_kmh": speed_kmh}
    if travel_minutes is not None:
        travel = {"time_matrix": [list(row) for row in travel_minutes]}
    data = {
        "name": name,
        "locations": locations,
        "travel": travel,
        "clinicians": raw_clinicians,
        "visits": raw_visits,
        "links": links,
        "weights": {k: getattr(DAY_WEIGHTS, k) for k in DAY_WEIGHTS.__dataclass_fields__},
    }
    return Problem.from_json(data)


def route_day(
    problem: Problem,
    seconds: float,
    on_progress: Callable[[float, float], None] | None = None,
    seed: int = 0,
) -> Result:
    """The engine's plan of the day within `seconds` (checked by its validator)."""
    return solve(problem, seconds, seed, on_progress=on_progress)

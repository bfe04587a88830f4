"""The routing problem and its solution: one model for every kind of day Careway plans.

Plain data, no Django: clinicians with their shift, skills and optional break; visits with a
duration, a required skill and a time window whose opening is hard and whose closing is soft (late
at a cost) or hard; links between two visits (simultaneous: two clinicians start together;
ordered: the second starts between a minimum and a maximum gap after the first); a preferred
clinician per visit (continuity) and pinned visits; and travel between locations, as matrices or
worked out from coordinates. Times are minutes from the start of the day, in floats.

`Problem.from_json` reads the documented JSON format (docs/routing-problem.schema.json) and
raises ProblemError naming the element at fault; `Solution` is what a solver returns and what the
validator (careway/routing/validate.py) checks.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DETOUR_FACTOR = 1.35  # straight-line distance times this is the road distance, by default
EARTH_RADIUS_KM = 6371.0088
SIMULTANEOUS = "simultaneous"
ORDERED = "ordered"
BREAK = "break"  # the break's place in a route's sequence of visit ids


class ProblemError(ValueError):
    """A problem (or a solution) that cannot be read: `where` names the element, as a path."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True)
class Break:
    """A break of `duration` minutes, to start between `earliest` and `latest` (both hard), taken
    where the clinician is, between two visits."""

    earliest: float
    latest: float
    duration: float


@dataclass(frozen=True)
class Clinician:
    id: str
    start: int  # location index the day starts from
    end: int  # location index the day ends at
    shift_start: float = 0.0
    shift_end: float = math.inf  # working past it is overtime, weighted in the objective
    skills: frozenset[str] = frozenset()
    max_visits: int | None = None
    break_: Break | None = None
    capacity: float | None = None  # what the vehicle carries (VRPTW benchmarks); None: no limit


@dataclass(frozen=True)
class Visit:
    id: str
    location: int
    duration: float
    skill: str | None = None  # None: anyone may make the visit
    window_open: float = 0.0  # hard: a visit never starts before it
    window_close: float = math.inf
    hard_close: bool = False  # False: starting later is lateness, at a cost
    preferred: str | None = None  # the clinician the patient knows (continuity)
    pinned_to: str | None = None  # a clinician the visit must stay with
    pinned_position: int | None = None  # and, optionally, its place in that route (0 first)
    demand: float = 0.0  # load it takes from the vehicle (VRPTW benchmarks; 0 for home visits)
    previous: str | None = None  # re-planning: the clinician it had in the plan being changed


@dataclass(frozen=True)
class Link:
    """Two visits tied in time. Simultaneous: both start at the same moment (two clinicians).
    Ordered: `second` starts between `min_gap` and `max_gap` minutes after `first` starts."""

    kind: str
    first: str
    second: str
    min_gap: float = 0.0
    max_gap: float = 0.0


@dataclass(frozen=True)
class Weights:
    """The objective: each term times its weight, summed. The published benchmark objectives
    are settings of these (Mankowska: travel, total and maximum lateness, each 1/3)."""

    travel: float = 1.0
    total_lateness: float = 1.0
    max_lateness: float = 0.0
    continuity: float = 0.0  # per visit made by someone other than its preferred clinician
    overtime: float = 1.0  # per minute past a shift's end
    unassigned: float = 10_000.0  # per visit left out
    reassigned: float = 0.0  # re-planning: per visit made by someone other than `previous`


@dataclass
class Problem:
    clinicians: list[Clinician]
    visits: list[Visit]
    travel_time: np.ndarray  # minutes, [from location, to location]
    distance: np.ndarray  # travel cost units (km, or the instance's own), same shape
    links: list[Link] = field(default_factory=list)
    weights: Weights = field(default_factory=Weights)
    location_ids: list[str] = field(default_factory=list)
    name: str = ""

    def __post_init__(self) -> None:
        self.visit_index = {v.id: i for i, v in enumerate(self.visits)}
        self.clinician_index = {c.id: i for i, c in enumerate(self.clinicians)}

    def visit(self, visit_id: str) -> Visit:
        return self.visits[self.visit_index[visit_id]]

    def clinician(self, clinician_id: str) -> Clinician:
        return self.clinicians[self.clinician_index[clinician_id]]

    def can_make(self, clinician: Clinician, visit: Visit) -> bool:
        """Skill and pin: whether `clinician` may make `visit` at all."""
        if visit.pinned_to is not None and visit.pinned_to != clinician.id:
            return False
        return visit.skill is None or visit.skill in clinician.skills

    def without(self, visit_ids: Iterable[str]) -> "Problem":
        """The same problem without these visits (and the links that touch them)."""
        gone = set(visit_ids)
        return Problem(
            clinicians=self.clinicians,
            visits=[v for v in self.visits if v.id not in gone],
            travel_time=self.travel_time,
            distance=self.distance,
            links=[k for k in self.links if not {k.first, k.second} & gone],
            weights=self.weights,
            location_ids=self.location_ids,
            name=self.name,
        )

    @classmethod
    def from_json(cls, data: Any) -> "Problem":
        return _read_problem(data)


@dataclass
class Route:
    """One clinician's day: the visits in order, and when each starts (None: not yet worked
    out; the validator then works out the earliest times itself). `break_start` is when the
    break begins, for a clinician who has one; BREAK in `visits` marks where it falls, and
    `starts` has one time per visit, the BREAK marker not counted."""

    clinician: str
    visits: list[str]
    starts: list[float] | None = None
    break_start: float | None = None


@dataclass
class Solution:
    routes: list[Route]
    unassigned: dict[str, str] = field(default_factory=dict)  # visit id -> why

    @classmethod
    def from_json(cls, data: Any) -> "Solution":
        return _read_solution(data)

    def to_json(self) -> dict[str, Any]:
        return {
            "routes": [
                {
                    "clinician": r.clinician,
                    "visits": list(r.visits),
                    **({"starts": list(r.starts)} if r.starts is not None else {}),
                    **({"break_start": r.break_start} if r.break_start is not None else {}),
                }
                for r in self.routes
            ],
            "unassigned": [{"visit": v, "reason": why} for v, why in self.unassigned.items()],
        }


# --- travel --------------------------------------------------------------------------------------


def planar_matrix(points: Sequence[tuple[float, float]], detour: float = 1.0) -> np.ndarray:
    """Straight-line distances between (x, y) points, times `detour`."""
    xy = np.asarray(points, dtype=float).reshape(-1, 2)
    diff = xy[:, None, :] - xy[None, :, :]
    return np.sqrt((diff**2).sum(axis=2)) * detour


def geographic_matrix(points: Sequence[tuple[float, float]], detour: float) -> np.ndarray:
    """Great-circle kilometres between (latitude, longitude) points, times `detour`."""
    rad = np.radians(np.asarray(points, dtype=float).reshape(-1, 2))
    lat, lon = rad[:, 0][:, None], rad[:, 1][:, None]
    a = (
        np.sin((lat - lat.T) / 2) ** 2
        + np.cos(lat) * np.cos(lat.T) * np.sin((lon - lon.T) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1))) * detour


# --- reading the JSON format ---------------------------------------------------------------------


def _read_problem(data: Any) -> Problem:
    if not isinstance(data, Mapping):
        raise ProblemError("problem", "must be a JSON object")
    locations = _list(data, "locations", "problem")
    if not locations:
        raise ProblemError("locations", "must list at least one place (the office)")
    location_ids: list[str] = []
    points: list[tuple[float, float]] = []
    geographic = None
    for i, raw in enumerate(locations):
        where = f"locations[{i}]"
        _object(raw, where)
        location_ids.append(_id(raw, where))
        if "lat" in raw or "lon" in raw:
            pair = (_number(raw, "lat", where, -90, 90), _number(raw, "lon", where, -180, 180))
            kind = True
        elif "x" in raw or "y" in raw:
            pair = (_number(raw, "x", where), _number(raw, "y", where))
            kind = False
        else:
            pair, kind = (math.nan, math.nan), None
        if kind is not None:
            if geographic is not None and geographic != kind:
                raise ProblemError(where, "mixes lat/lon with x/y: use one kind of coordinates")
            geographic = kind
        points.append(pair)
    _unique(location_ids, "locations")
    where_loc = {loc: i for i, loc in enumerate(location_ids)}
    time, dist = _travel(data.get("travel", {}), points, geographic, len(location_ids))

    clinicians = [
        _clinician(raw, f"clinicians[{i}]", where_loc)
        for i, raw in enumerate(_list(data, "clinicians", "problem"))
    ]
    _unique([c.id for c in clinicians], "clinicians")
    visits = [
        _visit(raw, f"visits[{i}]", where_loc)
        for i, raw in enumerate(_list(data, "visits", "problem"))
    ]
    _unique([v.id for v in visits], "visits")
    known_clinicians = {c.id for c in clinicians}
    for i, v in enumerate(visits):
        for name, value in (("preferred", v.preferred), ("pinned.clinician", v.pinned_to)):
            if value is not None and value not in known_clinicians:
                raise ProblemError(f"visits[{i}].{name}", f"no clinician {value!r}")
    ids = {v.id for v in visits}
    links = [_link(raw, f"links[{i}]", ids) for i, raw in enumerate(data.get("links", []) or [])]
    linked: dict[str, int] = {}
    for i, link in enumerate(links):
        for vid in (link.first, link.second):
            if vid in linked:
                raise ProblemError(
                    f"links[{i}]",
                    f"visit {vid!r} is already in links[{linked[vid]}]: one link a visit",
                )
            linked[vid] = i
    weights = _weights(data.get("weights", {}) or {})
    return Problem(
        clinicians=clinicians,
        visits=visits,
        travel_time=time,
        distance=dist,
        links=links,
        weights=weights,
        location_ids=location_ids,
        name=str(data.get("name", "")),
    )


def _travel(
    raw: Any, points: list[tuple[float, float]], geographic: bool | None, n: int
) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(raw, Mapping):
        raise ProblemError("travel", "must be an object")
    if "time_matrix" in raw or "distance_matrix" in raw:
        time = _matrix(raw.get("time_matrix", raw.get("distance_matrix")), "travel.time_matrix", n)
        dist = _matrix(
            raw.get("distance_matrix", raw.get("time_matrix")), "travel.distance_matrix", n
        )
        return time, dist
    if geographic is None or any(math.isnan(p[0]) for p in points):
        missing = next((i for i, p in enumerate(points) if math.isnan(p[0])), 0)
        raise ProblemError(
            f"locations[{missing}]",
            "no coordinates and no travel matrix: give x/y or lat/lon, or travel.time_matrix",
        )
    detour = _number(raw, "detour_factor", "travel", 1.0, 10.0, default=DETOUR_FACTOR)
    if geographic:
        km = geographic_matrix(points, detour)
        speed = _number(raw, "speed_kmh", "travel", 1.0, 200.0, default=40.0)
        return km / speed * 60.0, km
    units = planar_matrix(points, detour)
    speed = _number(raw, "speed", "travel", 1e-9, 1e9, default=1.0)  # units a minute
    return units / speed, units


def _matrix(raw: Any, where: str, n: int) -> np.ndarray:
    if not isinstance(raw, list) or len(raw) != n:
        raise ProblemError(where, f"must be a list of {n} rows, one per location")
    for i, row in enumerate(raw):
        if not isinstance(row, list) or len(row) != n:
            raise ProblemError(f"{where}[{i}]", f"must be a list of {n} numbers")
        for j, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ProblemError(f"{where}[{i}][{j}]", "must be a number, 0 or more")
    return np.asarray(raw, dtype=float)


def _clinician(raw: Any, where: str, locations: dict[str, int]) -> Clinician:
    _object(raw, where)
    start = _location(raw, "start", where, locations)
    end = _location(raw, "end", where, locations) if "end" in raw else start
    shift = raw.get("shift", [0, None])
    shift_start, shift_end = _window(shift, f"{where}.shift")
    skills = raw.get("skills", [])
    if not isinstance(skills, list) or not all(isinstance(s, str) for s in skills):
        raise ProblemError(f"{where}.skills", "must be a list of skill names")
    max_visits = raw.get("max_visits")
    if max_visits is not None and (
        isinstance(max_visits, bool) or not isinstance(max_visits, int) or max_visits < 0
    ):
        raise ProblemError(f"{where}.max_visits", "must be a whole number, 0 or more")
    capacity = raw.get("capacity")
    if capacity is not None and (not _is_number(capacity) or capacity < 0):
        raise ProblemError(f"{where}.capacity", "must be a number, 0 or more")
    brk = None
    if raw.get("break") is not None:
        b = raw["break"]
        _object(b, f"{where}.break")
        earliest, latest = _window(b.get("window"), f"{where}.break.window")
        duration = _number(b, "duration", f"{where}.break", 0, 24 * 60)
        brk = Break(earliest, latest, duration)
    return Clinician(
        id=_id(raw, where),
        start=start,
        end=end,
        shift_start=shift_start,
        shift_end=shift_end,
        skills=frozenset(skills),
        max_visits=max_visits,
        break_=brk,
        capacity=float(capacity) if capacity is not None else None,
    )


def _visit(raw: Any, where: str, locations: dict[str, int]) -> Visit:
    _object(raw, where)
    window_open, window_close = _window(raw.get("window", [0, None]), f"{where}.window")
    close = raw.get("window_close", "soft")
    if close not in ("soft", "hard"):
        raise ProblemError(f"{where}.window_close", "must be 'soft' (late at a cost) or 'hard'")
    skill = raw.get("skill")
    if skill is not None and not isinstance(skill, str):
        raise ProblemError(f"{where}.skill", "must be a skill name")
    preferred = raw.get("preferred")
    if preferred is not None and not isinstance(preferred, str):
        raise ProblemError(f"{where}.preferred", "must be a clinician id")
    pinned_to, position = None, None
    if raw.get("pinned") is not None:
        pin = raw["pinned"]
        _object(pin, f"{where}.pinned")
        pinned_to = pin.get("clinician")
        if not isinstance(pinned_to, str):
            raise ProblemError(f"{where}.pinned.clinician", "must be a clinician id")
        position = pin.get("position")
        if position is not None and (
            isinstance(position, bool) or not isinstance(position, int) or position < 0
        ):
            raise ProblemError(f"{where}.pinned.position", "must be a whole number, 0 or more")
    return Visit(
        id=_id(raw, where),
        location=_location(raw, "location", where, locations),
        duration=_number(raw, "duration", where, 0, 24 * 60),
        skill=skill,
        window_open=window_open,
        window_close=window_close,
        hard_close=close == "hard",
        preferred=preferred,
        pinned_to=pinned_to,
        pinned_position=position,
        demand=_number(raw, "demand", where, 0, 1e12, default=0.0),
    )


def _link(raw: Any, where: str, visit_ids: set[str]) -> Link:
    _object(raw, where)
    kind = raw.get("type")
    if kind not in (SIMULTANEOUS, ORDERED):
        raise ProblemError(f"{where}.type", "must be 'simultaneous' or 'ordered'")
    pair = raw.get("visits")
    if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(v, str) for v in pair):
        raise ProblemError(f"{where}.visits", "must be two visit ids")
    for i, vid in enumerate(pair):
        if vid not in visit_ids:
            raise ProblemError(f"{where}.visits[{i}]", f"no visit {vid!r}")
    if pair[0] == pair[1]:
        raise ProblemError(f"{where}.visits", "links a visit to itself")
    low, high = 0.0, 0.0
    if kind == ORDERED:
        low = _number(raw, "min_gap", where, 0, 24 * 60)
        high = _number(raw, "max_gap", where, 0, 24 * 60)
        if high < low:
            raise ProblemError(f"{where}.max_gap", f"{high:g} is less than min_gap {low:g}")
    return Link(kind, pair[0], pair[1], low, high)


def _weights(raw: Any) -> Weights:
    if not isinstance(raw, Mapping):
        raise ProblemError("weights", "must be an object")
    known = Weights.__dataclass_fields__
    for key in raw:
        if key not in known:
            raise ProblemError(f"weights.{key}", f"unknown; the terms are {', '.join(known)}")
    values = {key: _number(raw, key, "weights", 0, 1e12) for key in raw}
    return Weights(**values)


def _read_solution(data: Any) -> Solution:
    if not isinstance(data, Mapping):
        raise ProblemError("solution", "must be a JSON object")
    routes = []
    for i, raw in enumerate(_list(data, "routes", "solution")):
        where = f"routes[{i}]"
        _object(raw, where)
        clinician = raw.get("clinician")
        if not isinstance(clinician, str):
            raise ProblemError(f"{where}.clinician", "must be a clinician id")
        visits = raw.get("visits")
        if not isinstance(visits, list) or not all(isinstance(v, str) for v in visits):
            raise ProblemError(f"{where}.visits", "must be a list of visit ids")
        starts = raw.get("starts")
        if starts is not None and (
            not isinstance(starts, list)
            or len(starts) != sum(1 for v in visits if v != BREAK)
            or not all(_is_number(s) for s in starts)
        ):
            raise ProblemError(f"{where}.starts", "must be one number per visit (not the break)")
        brk = raw.get("break_start")
        if brk is not None and not _is_number(brk):
            raise ProblemError(f"{where}.break_start", "must be a number")
        routes.append(
            Route(
                clinician,
                list(visits),
                [float(s) for s in starts] if starts is not None else None,
                float(brk) if brk is not None else None,
            )
        )
    unassigned: dict[str, str] = {}
    for i, raw in enumerate(data.get("unassigned", []) or []):
        if isinstance(raw, str):
            unassigned[raw] = ""
        elif isinstance(raw, Mapping) and isinstance(raw.get("visit"), str):
            unassigned[raw["visit"]] = str(raw.get("reason", ""))
        else:
            raise ProblemError(f"unassigned[{i}]", "must be a visit id or {visit, reason}")
    return Solution(routes, unassigned)


# --- small readers -------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _object(raw: Any, where: str) -> None:
    if not isinstance(raw, Mapping):
        raise ProblemError(where, "must be an object")


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise ProblemError(f"{where}.{key}" if where != "problem" else key, "must be a list")
    return value


def _id(raw: Mapping[str, Any], where: str) -> str:
    value = raw.get("id")
    if not isinstance(value, str) or not value:
        raise ProblemError(f"{where}.id", "must be a non-empty string")
    return value


def _unique(ids: Iterable[str], where: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(ids):
        if value in seen:
            raise ProblemError(f"{where}[{i}].id", f"{value!r} is used twice")
        seen.add(value)


def _location(raw: Mapping[str, Any], key: str, where: str, locations: dict[str, int]) -> int:
    value = raw.get(key)
    if value not in locations:
        raise ProblemError(f"{where}.{key}", f"no location {value!r}")
    return locations[value]


def _number(
    raw: Mapping[str, Any],
    key: str,
    where: str,
    low: float = -math.inf,
    high: float = math.inf,
    default: float | None = None,
) -> float:
    value = raw.get(key, default)
    if not _is_number(value):
        raise ProblemError(f"{where}.{key}", "must be a number")
    if not low <= float(value) <= high:
        raise ProblemError(f"{where}.{key}", f"{value:g} is outside {low:g} to {high:g}")
    return float(value)


def _window(raw: Any, where: str) -> tuple[float, float]:
    if (
        not isinstance(raw, list)
        or len(raw) != 2
        or not _is_number(raw[0])
        or not (raw[1] is None or _is_number(raw[1]))
    ):
        raise ProblemError(where, "must be [opens, closes] in minutes (closes may be null)")
    opens = float(raw[0])
    closes = math.inf if raw[1] is None else float(raw[1])
    if closes < opens:
        raise ProblemError(where, f"closes at {closes:g}, before it opens at {opens:g}")
    return opens, closes

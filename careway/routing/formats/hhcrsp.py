"""The home health care routing and scheduling benchmarks of Mankowska, Gayraud and Lamy (2014),
in the JSON format of Ceschia, Di Gaspero, Rosati and Schaerf (angelicanatl/hhcrsp, MIT).

Instance (`read_instance`): `patients` (id, location, `time_window` [open, close] in minutes,
`required_caregivers`: one or two {service, duration}, and for two a `synchronization` of type
`simultaneous`, or `sequential` with `distance` [min gap, max gap]); `services` (id,
`default_duration`, used where a patient gives no duration); `caregivers` (id, `abilities`);
`central_offices`; `distances`, a square matrix, offices first, then patients in order.

As a Careway problem: one Visit per (patient, required service), id "<patient>:<service>", the
service as its skill, the patient's window as a soft window (late at a cost, never early); the
two visits of a double-service patient linked (simultaneous, or ordered with the gap, the first
listed service first); each caregiver a clinician with the abilities as skills, starting and
ending at the (first) office at time 0 with no shift end; the distance matrix both the travel
time and the distance; the objective (distance + total tardiness + maximum tardiness) / 3, and
every visit must be made (a large weight on unassigned visits).

Solution (`read_solution`, `write_solution`): {"routes": [{"caregiver_id", "locations":
[{"patient", "service", "arrival_time", "departure_time"}]}], "global_ordering": [patients]},
as the published solution files; `arrival_time` is when the service starts (waiting before it
is not shown) and `departure_time` when it ends. A caregiver with nothing to do has no
`locations`. The README of that repository spells the keys `patient_id` and `service_id`: both
spellings are read.
"""

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..model import (
    BREAK,
    ORDERED,
    SIMULTANEOUS,
    Clinician,
    Link,
    Problem,
    ProblemError,
    Route,
    Solution,
    Visit,
    Weights,
)
from ..validate import Report

THIRD = 1.0 / 3.0
WEIGHTS = Weights(
    travel=THIRD,
    total_lateness=THIRD,
    max_lateness=THIRD,
    continuity=0.0,
    overtime=0.0,
    unassigned=10_000.0,
)
DURATION_TOLERANCE = 1e-3  # departure minus arrival may differ from the duration by this much


def visit_id(patient: str, service: str) -> str:
    return f"{patient}:{service}"


def read_instance(data_or_path: Any) -> Problem:
    """The instance (a parsed JSON object, or the path of a file) as a Problem; ProblemError
    naming the element for anything malformed."""
    data, name = _load(data_or_path, "instance")
    if not isinstance(data, Mapping):
        raise ProblemError("instance", "must be a JSON object")
    offices = _list(data, "central_offices", "instance")
    if not offices:
        raise ProblemError("central_offices", "must list at least one office")
    office_ids = [_id(raw, f"central_offices[{i}]") for i, raw in enumerate(offices)]

    services: dict[str, float] = {}
    for i, raw in enumerate(_list(data, "services", "instance")):
        where = f"services[{i}]"
        sid = _id(raw, where)
        if sid in services:
            raise ProblemError(f"{where}.id", f"{sid!r} is used twice")
        services[sid] = _number(raw, "default_duration", where, optional=True)

    patients = _list(data, "patients", "instance")
    n = len(offices) + len(patients)
    matrix = _matrix(data.get("distances"), n, len(offices))

    location_ids = list(office_ids)
    visits: list[Visit] = []
    links: list[Link] = []
    seen: set[str] = set(office_ids)
    for i, raw in enumerate(patients):
        where = f"patients[{i}]"
        pid = _id(raw, where)
        if pid in seen:
            raise ProblemError(f"{where}.id", f"{pid!r} is used twice")
        seen.add(pid)
        location_ids.append(pid)
        opens, closes = _window(raw.get("time_window"), f"{where}.time_window")
        required = raw.get("required_caregivers")
        if not isinstance(required, list) or not 1 <= len(required) <= 2:
            raise ProblemError(
                f"{where}.required_caregivers", "must list one or two services (a list)"
            )
        ids: list[str] = []
        for j, need in enumerate(required):
            at = f"{where}.required_caregivers[{j}]"
            if not isinstance(need, Mapping):
                raise ProblemError(at, "must be an object")
            service = need.get("service")
            if service not in services:
                raise ProblemError(f"{at}.service", f"no service {service!r} in services")
            duration = _number(need, "duration", at, optional=True)
            if math.isnan(duration):
                duration = services[service]
                if math.isnan(duration):
                    raise ProblemError(
                        f"{at}.duration", f"not given, and {service} has no default_duration"
                    )
            vid = visit_id(pid, service)
            if vid in ids:
                raise ProblemError(f"{at}.service", f"{service} is required twice")
            ids.append(vid)
            visits.append(
                Visit(
                    id=vid,
                    location=len(location_ids) - 1,
                    duration=duration,
                    skill=service,
                    window_open=opens,
                    window_close=closes,
                )
            )
        sync = raw.get("synchronization")
        if sync is not None:
            links.append(_link(sync, f"{where}.synchronization", ids))

    clinicians = []
    names: set[str] = set()
    for i, raw in enumerate(_list(data, "caregivers", "instance")):
        where = f"caregivers[{i}]"
        cid = _id(raw, where)
        if cid in names:
            raise ProblemError(f"{where}.id", f"{cid!r} is used twice")
        names.add(cid)
        abilities = raw.get("abilities")
        if not isinstance(abilities, list) or not all(isinstance(a, str) for a in abilities):
            raise ProblemError(f"{where}.abilities", "must be a list of service ids")
        clinicians.append(Clinician(id=cid, start=0, end=0, skills=frozenset(abilities)))

    return Problem(
        clinicians=clinicians,
        visits=visits,
        travel_time=matrix,
        distance=matrix,
        links=links,
        weights=WEIGHTS,
        location_ids=location_ids,
        name=name,
    )


def read_solution(problem: Problem, data_or_path: Any, times: bool = True) -> Solution:
    """A solution file as a Solution: each `arrival_time` is the start of the service. With
    `times=False` the times are dropped and the validator works out the earliest ones. A visit
    the problem lacks is kept (the validator reports it); a departure that does not match the
    service's duration raises ProblemError, since the file then contradicts the instance."""
    data, _ = _load(data_or_path, "solution")
    if not isinstance(data, Mapping):
        raise ProblemError("solution", "must be a JSON object")
    routes: list[Route] = []
    for r, raw in enumerate(_list(data, "routes", "solution")):
        where = f"routes[{r}]"
        if not isinstance(raw, Mapping):
            raise ProblemError(where, "must be an object")
        caregiver = raw.get("caregiver_id", raw.get("caregiver"))
        if not isinstance(caregiver, str):
            raise ProblemError(f"{where}.caregiver_id", "must be a caregiver id")
        stops = raw.get("locations", [])
        if not isinstance(stops, list):
            raise ProblemError(f"{where}.locations", "must be a list")
        ids: list[str] = []
        starts: list[float] = []
        for j, stop in enumerate(stops):
            at = f"{where}.locations[{j}]"
            if not isinstance(stop, Mapping):
                raise ProblemError(at, "must be an object")
            patient = stop.get("patient", stop.get("patient_id"))
            service = stop.get("service", stop.get("service_id"))
            if not isinstance(patient, str):
                raise ProblemError(f"{at}.patient", "must be a patient id")
            if not isinstance(service, str):
                raise ProblemError(f"{at}.service", "must be a service id")
            arrival = _number(stop, "arrival_time", at)
            departure = _number(stop, "departure_time", at)
            vid = visit_id(patient, service)
            if vid in problem.visit_index:
                duration = problem.visit(vid).duration
                if abs(departure - arrival - duration) > DURATION_TOLERANCE:
                    raise ProblemError(
                        f"{at}.departure_time",
                        f"{departure:g} - {arrival:g} is not the {duration:g} minutes "
                        f"{service} takes at {patient}",
                    )
            ids.append(vid)
            starts.append(arrival)
        routes.append(Route(caregiver, ids, starts if times else None))
    return Solution(routes)


def write_solution(problem: Problem, solution: Solution, report: Report) -> dict[str, Any]:
    """The solution in the format of the published files: a route for every caregiver (in the
    instance's order; none has `locations` if it makes no visit), the start and end of each
    service from the validator's report, and `global_ordering`, the patients in the order their
    first service starts. Visits left unassigned (never in a published file) are listed under
    `unassigned` with the reason, only when there are some."""
    by_clinician: dict[str, list[str]] = {}
    for route in solution.routes:
        by_clinician.setdefault(route.clinician, []).extend(v for v in route.visits if v != BREAK)
    first_start: dict[str, float] = {}
    routes: list[dict[str, Any]] = []
    for clinician in problem.clinicians:
        locations = []
        for vid in by_clinician.get(clinician.id, []):
            if vid not in problem.visit_index or vid not in report.starts:
                continue
            patient, service = _patient_service(problem, vid)
            start = report.starts[vid]
            locations.append(
                {
                    "arrival_time": start,
                    "departure_time": start + problem.visit(vid).duration,
                    "patient": patient,
                    "service": service,
                }
            )
            first_start[patient] = min(first_start.get(patient, math.inf), start)
        routes.append(
            {"caregiver_id": clinician.id, **({"locations": locations} if locations else {})}
        )
    ordering = sorted(first_start, key=lambda p: (first_start[p], p))
    data: dict[str, Any] = {"global_ordering": ordering, "routes": routes}
    if solution.unassigned:
        left: list[dict[str, str]] = []
        for vid, why in solution.unassigned.items():
            if vid in problem.visit_index:
                patient, service = _patient_service(problem, vid)
                left.append({"patient": patient, "service": service, "reason": why})
            else:
                left.append({"visit": vid, "reason": why})
        data["unassigned"] = left
    return data


# --- helpers -------------------------------------------------------------------------------------


def _patient_service(problem: Problem, vid: str) -> tuple[str, str]:
    visit = problem.visit(vid)
    if problem.location_ids and visit.skill is not None:
        return problem.location_ids[visit.location], visit.skill
    patient, _, service = vid.rpartition(":")
    return patient, service


def _load(data_or_path: Any, what: str) -> tuple[Any, str]:
    if isinstance(data_or_path, (str, Path)):
        path = Path(data_or_path)
        try:
            return json.loads(path.read_text()), path.stem
        except ValueError as error:
            raise ProblemError(str(path), f"not valid JSON ({error})") from None
    name = data_or_path.get("name", "") if isinstance(data_or_path, Mapping) else ""
    return data_or_path, str(name)


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise ProblemError(
            key if where in ("instance", "solution") else f"{where}.{key}", "must be a list"
        )
    return value


def _id(raw: Any, where: str) -> str:
    if not isinstance(raw, Mapping):
        raise ProblemError(where, "must be an object")
    value = raw.get("id")
    if not isinstance(value, str) or not value:
        raise ProblemError(f"{where}.id", "must be a non-empty string")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number(raw: Mapping[str, Any], key: str, where: str, optional: bool = False) -> float:
    """A finite number, 0 or more; NaN for a missing optional one."""
    if optional and raw.get(key) is None:
        return math.nan
    value: Any = raw.get(key)
    if not _is_number(value) or value < 0:
        raise ProblemError(f"{where}.{key}", "must be a number, 0 or more")
    return float(value)


def _window(raw: Any, where: str) -> tuple[float, float]:
    if not isinstance(raw, list) or len(raw) != 2 or not all(_is_number(x) for x in raw):
        raise ProblemError(where, "must be [opens, closes] in minutes")
    opens, closes = float(raw[0]), float(raw[1])
    if closes < opens:
        raise ProblemError(where, f"closes at {closes:g}, before it opens at {opens:g}")
    return opens, closes


def _matrix(raw: Any, n: int, offices: int) -> np.ndarray:
    where = "distances"
    if not isinstance(raw, list) or len(raw) != n:
        raise ProblemError(
            where, f"must be {n} rows: {offices} office(s), then {n - offices} patients"
        )
    for i, row in enumerate(raw):
        if not isinstance(row, list) or len(row) != n:
            raise ProblemError(f"{where}[{i}]", f"must be a list of {n} numbers")
        for j, value in enumerate(row):
            if not _is_number(value) or value < 0:
                raise ProblemError(f"{where}[{i}][{j}]", "must be a number, 0 or more")
    return np.asarray(raw, dtype=float)


def _link(raw: Any, where: str, ids: list[str]) -> Link:
    if not isinstance(raw, Mapping):
        raise ProblemError(where, "must be an object")
    if len(ids) != 2:
        raise ProblemError(where, "synchronizes two services; the patient requires one")
    kind = raw.get("type")
    if kind == "simultaneous":
        return Link(SIMULTANEOUS, ids[0], ids[1])
    if kind == "sequential":
        gap = raw.get("distance")
        if not isinstance(gap, list) or len(gap) != 2 or not all(_is_number(g) for g in gap):
            raise ProblemError(f"{where}.distance", "must be [min gap, max gap] in minutes")
        low, high = float(gap[0]), float(gap[1])
        if low < 0 or high < low:
            raise ProblemError(f"{where}.distance", f"[{low:g}, {high:g}] is not a gap range")
        return Link(ORDERED, ids[0], ids[1], low, high)
    raise ProblemError(f"{where}.type", "must be 'simultaneous' or 'sequential'")

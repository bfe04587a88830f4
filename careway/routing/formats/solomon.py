"""Solomon's VRPTW text format: the 56 benchmark instances in ../shared/data/vrptw/solomon.

A file is the instance name, a VEHICLE section (number of vehicles, capacity) and a CUSTOMER
section, one row per customer: number, x, y, demand, ready time, due date, service time. The
first row is the depot.

It becomes a `Problem` (the mapping agreed for the engine):
- one clinician per vehicle, `vehicle-1` ... `vehicle-K`, each starting and ending at the depot,
  with the depot's window as shift and the vehicle capacity;
- one visit per customer, its id the customer number, with hard windows (`hard_close`), the
  service time as duration and the demand;
- Euclidean distances in double precision (no detour factor), travel time = distance;
- the objective is distance alone (travel weight 1, unassigned visits heavily weighted, the
  other terms 0).

A malformed file raises ProblemError naming the file, the line and the field.
"""

import math
from pathlib import Path
from typing import Any

from ..model import Clinician, Problem, ProblemError, Solution, Visit, Weights, planar_matrix

FIELDS = ("CUST NO.", "XCOORD.", "YCOORD.", "DEMAND", "READY TIME", "DUE DATE", "SERVICE TIME")
# Large enough that leaving a customer out never pays: more than any route's length.
UNASSIGNED_WEIGHT = 100_000.0


def read_instance(path: str | Path) -> Problem:
    """The instance in `path` as a Problem (see the module docstring for the mapping)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ProblemError(str(path), f"cannot be read: {exc.strerror or exc}") from None
    return parse(text, path.name)


def parse(text: str, source: str = "instance") -> Problem:
    """The instance in `text`; `source` names it in error messages."""
    lines = text.splitlines()
    numbered = [(i + 1, line.strip()) for i, line in enumerate(lines)]
    content = [(n, line) for n, line in numbered if line]
    if not content:
        raise ProblemError(source, "is empty: expected a Solomon VRPTW instance")
    name = content[0][1]

    vehicle_at = _section(content, "VEHICLE", source)
    customer_at = _section(content, "CUSTOMER", source)
    if customer_at < vehicle_at:
        raise ProblemError(source, "the CUSTOMER section comes before the VEHICLE section")

    # VEHICLE: a header line (NUMBER CAPACITY), then the two numbers.
    fleet = [
        (n, line)
        for n, line in content[vehicle_at + 1 : customer_at]
        if not line.upper().startswith("NUMBER")
    ]
    if not fleet:
        raise ProblemError(f"{source} VEHICLE", "no line with the number of vehicles and capacity")
    n, line = fleet[0]
    parts = line.split()
    if len(parts) != 2:
        raise ProblemError(
            f"{source} line {n}", f"expected NUMBER and CAPACITY, found {len(parts)} fields"
        )
    vehicles = _whole(parts[0], f"{source} line {n}", "NUMBER (of vehicles)")
    capacity = _value(parts[1], f"{source} line {n}", "CAPACITY")
    if vehicles < 1:
        raise ProblemError(f"{source} line {n}", "NUMBER (of vehicles) must be 1 or more")

    rows: list[tuple[int, list[float]]] = []
    for n, line in content[customer_at + 1 :]:
        if line.upper().startswith("CUST"):
            continue  # the column header
        parts = line.split()
        where = f"{source} line {n}"
        if len(parts) != len(FIELDS):
            raise ProblemError(
                where, f"expected {len(FIELDS)} fields ({', '.join(FIELDS)}), found {len(parts)}"
            )
        rows.append((n, [_value(p, where, field) for p, field in zip(parts, FIELDS, strict=True)]))
    if len(rows) < 2:
        raise ProblemError(f"{source} CUSTOMER", "needs the depot row and at least one customer")

    seen: dict[int, int] = {}
    for n, row in rows:
        where = f"{source} line {n}"
        number, _, _, demand, ready, due, service = row
        if number != int(number) or number < 0:
            raise ProblemError(where, f"CUST NO.: {number:g} is not a whole number, 0 or more")
        if int(number) in seen:
            raise ProblemError(
                where, f"CUST NO.: {int(number)} is already used on line {seen[int(number)]}"
            )
        seen[int(number)] = n
        for field, value in (("DEMAND", demand), ("READY TIME", ready), ("SERVICE TIME", service)):
            if value < 0:
                raise ProblemError(where, f"{field}: {value:g} is negative")
        if due < ready:
            raise ProblemError(where, f"DUE DATE: {due:g} is before READY TIME {ready:g}")
        if demand > capacity:
            raise ProblemError(
                where, f"DEMAND: {demand:g} is more than a vehicle carries (CAPACITY {capacity:g})"
            )

    depot = rows[0][1]
    customers = rows[1:]
    points = [(row[1], row[2]) for _, row in rows]
    matrix = planar_matrix(points)
    clinicians = [
        Clinician(
            id=f"vehicle-{k + 1}",
            start=0,
            end=0,
            shift_start=depot[4],
            shift_end=depot[5],
            capacity=capacity,
        )
        for k in range(vehicles)
    ]
    visits = [
        Visit(
            id=str(int(row[0])),
            location=i + 1,
            duration=row[6],
            window_open=row[4],
            window_close=row[5],
            hard_close=True,
            demand=row[3],
        )
        for i, (_, row) in enumerate(customers)
    ]
    return Problem(
        clinicians=clinicians,
        visits=visits,
        travel_time=matrix,
        distance=matrix.copy(),
        weights=Weights(
            travel=1.0,
            total_lateness=0.0,
            max_lateness=0.0,
            continuity=0.0,
            overtime=0.0,
            unassigned=UNASSIGNED_WEIGHT,
        ),
        location_ids=[str(int(row[0])) for _, row in rows],
        name=name,
    )


def solution_json(problem: Problem, solution: Solution) -> dict[str, Any]:
    """`{"routes": [[customer numbers in visiting order], ...]}`, empty routes left out."""
    routes = []
    for route in solution.routes:
        numbers = [int(v) for v in route.visits if v in problem.visit_index]
        if numbers:
            routes.append(numbers)
    return {"routes": routes}


def _section(content: list[tuple[int, str]], title: str, source: str) -> int:
    for i, (_, line) in enumerate(content):
        if line.upper() == title:
            return i
    raise ProblemError(source, f"no {title} section: is this a Solomon VRPTW instance?")


def _value(text: str, where: str, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ProblemError(where, f"{field}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ProblemError(where, f"{field}: {text!r} is not a finite number")
    return value


def _whole(text: str, where: str, field: str) -> int:
    value = _value(text, where, field)
    if value != int(value):
        raise ProblemError(where, f"{field}: {text!r} is not a whole number")
    return int(value)

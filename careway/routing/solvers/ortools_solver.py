"""OR-Tools routing (https://developers.google.com/optimization/routing, 9.15) with the model's
constraints written exactly, for comparison with Careway's own solvers.

The model, one vehicle per clinician, one node per visit (plus one per start or end place):
- travel: arc costs of travel weight x distance, plus, for continuity, the continuity weight on
  every arc into a visit whose preferred clinician is someone else (per-vehicle arc costs: a visit
  is entered exactly once, so this is exactly the continuity term);
- a time dimension, transit = the visit's duration + travel time, waiting allowed (slack): the
  window opening is a hard lower bound on the start; a hard close a hard upper bound; a soft
  close a soft upper bound costing the total-lateness weight a minute (SetCumulVarSoftUpperBound);
  the shift start a lower bound on the route start (the clinician may leave later); the shift end
  a soft upper bound on the route end costing the overtime weight a minute;
- skills and pinned clinicians: the vehicles barred are removed from the visit's vehicle
  variable (nobody allowed: only -1, unperformed, is left);
- capacity and max_visits: dimensions with a capacity per vehicle; a pinned position: the visit
  count dimension's cumul at the visit equals the position;
- linked visits: constraints on the time cumul variables (simultaneous: equal starts, different
  vehicles; ordered: min_gap <= start(second) - start(first) <= max_gap), both visits active or
  both inactive;
- breaks: an interval on the vehicle (SetBreakIntervalsOfVehicle) that may not overlap a visit,
  performed when the vehicle is used;
- unassigned visits: a disjunction per visit costing the unassigned weight.

Maximum lateness is NOT in the objective: OR-Tools' cost is a sum over arcs and cumul bounds, and
the maximum over visits is none of these (a global max variable would be a constraint the local
search cannot price). Its value is recomputed by the validator on the plan that comes back.

OR-Tools works in integers: times are scaled by TIME_SCALE and rounded so that a plan feasible
for OR-Tools is feasible in double precision (transits and opens rounded up, hard closes and
maximum gaps rounded down, minimum gaps up); costs are scaled by COST_SCALE. The starts that come
back are worked out again in double precision from the route order (earliest starts), keeping
OR-Tools' times for linked visits, which it minimises in its finalizer.
"""

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from ..model import BREAK, ORDERED, SIMULTANEOUS, Problem, Route, Solution

Progress = Callable[[float, float], None]

TIME_SCALE = 1000  # integer units a minute
COST_SCALE = 1000 * TIME_SCALE  # integer units a unit of objective
NOT_PLACED = "no room in any route (OR-Tools left it out)"


def _up(value: float) -> int:
    return math.ceil(value * TIME_SCALE - 1e-6)


def _down(value: float) -> int:
    return math.floor(value * TIME_SCALE + 1e-6)


def _horizon(problem: Problem) -> int:
    finite = [0.0]
    for c in problem.clinicians:
        finite.append(c.shift_start)
        if math.isfinite(c.shift_end):
            finite.append(c.shift_end)
        if c.break_ is not None:
            finite.append(c.break_.latest + c.break_.duration)
    for v in problem.visits:
        finite.append(v.window_open)
        if math.isfinite(v.window_close):
            finite.append(v.window_close)
    longest = float(problem.travel_time.max(initial=0.0)) if problem.travel_time.size else 0.0
    extra = sum(v.duration for v in problem.visits) + (len(problem.visits) + 2) * longest
    extra += sum(c.break_.duration for c in problem.clinicians if c.break_ is not None)
    return _up(max(finite) + extra + 1.0)


def solve(
    problem: Problem, seconds: float, seed: int = 0, on_progress: Progress | None = None
) -> Solution:
    """The best plan OR-Tools finds in `seconds` (PATH_CHEAPEST_ARC, then guided local search).

    OR-Tools' routing search is single-threaded and deterministic: `seed` is accepted for a
    common signature and not used. The same problem gives the same plan when the search is not
    cut short by the clock.
    """
    del seed
    began = time.perf_counter()
    if not problem.visits:
        return Solution(routes=[])
    if not problem.clinicians:
        return Solution(routes=[], unassigned={v.id: "no clinicians" for v in problem.visits})
    weights = problem.weights
    clinicians = problem.clinicians
    visits = problem.visits
    n, k = len(visits), len(clinicians)

    # Nodes: the places a clinician starts or ends at, then one node per visit.
    depot_places = sorted({c.start for c in clinicians} | {c.end for c in clinicians})
    depot_node = {place: i for i, place in enumerate(depot_places)}
    d = len(depot_places)
    places = np.array(depot_places + [v.location for v in visits], dtype=np.intp)
    travel = problem.travel_time[np.ix_(places, places)]
    distance = problem.distance[np.ix_(places, places)]
    manager = pywrapcp.RoutingIndexManager(
        d + n, k, [depot_node[c.start] for c in clinicians], [depot_node[c.end] for c in clinicians]
    )
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()
    # RegisterTransitMatrix and RegisterUnaryTransitVector look values up by node (the manager's
    # IndexToNode of the routing index), so they are given per node.

    def as_ints(node_matrix: np.ndarray) -> list[list[int]]:
        return node_matrix.astype(np.int64).tolist()

    # Arc costs, per group of clinicians alike for continuity.
    base = np.rint(distance * weights.travel * COST_SCALE)
    continuity = weights.continuity > 0 and any(v.preferred is not None for v in visits)
    charge = round(weights.continuity * COST_SCALE)
    cost_callbacks: dict[frozenset[int], int] = {}
    for vehicle, c in enumerate(clinicians):
        preferred = (
            frozenset(i for i, v in enumerate(visits) if v.preferred == c.id)
            if continuity
            else frozenset()
        )
        if preferred not in cost_callbacks:
            matrix = base.copy()
            if continuity:
                for i, v in enumerate(visits):
                    if v.preferred is not None and i not in preferred:
                        matrix[:, d + i] += charge
            cost_callbacks[preferred] = routing.RegisterTransitMatrix(as_ints(matrix))
        routing.SetArcCostEvaluatorOfVehicle(cost_callbacks[preferred], vehicle)

    # Time.
    service = np.zeros(d + n)
    service[d:] = [v.duration for v in visits]
    transit = np.ceil((travel + service[:, None]) * TIME_SCALE - 1e-6)
    np.fill_diagonal(transit, 0)
    horizon = _horizon(problem)
    time_callback = routing.RegisterTransitMatrix(as_ints(transit))
    routing.AddDimension(time_callback, horizon, horizon, False, "time")
    clock = routing.GetDimensionOrDie("time")
    late_coefficient = round(weights.total_lateness * COST_SCALE / TIME_SCALE)
    overtime_coefficient = round(weights.overtime * COST_SCALE / TIME_SCALE)
    index_of = [manager.NodeToIndex(d + i) for i in range(n)]
    for i, v in enumerate(visits):
        cumul = clock.CumulVar(index_of[i])
        cumul.SetMin(max(0, _up(v.window_open)))
        if math.isfinite(v.window_close):
            if v.hard_close:
                cumul.SetMax(max(_down(v.window_close), _up(v.window_open)))
            elif late_coefficient > 0:
                clock.SetCumulVarSoftUpperBound(
                    index_of[i], max(0, _down(v.window_close)), late_coefficient
                )
    for vehicle, c in enumerate(clinicians):
        clock.CumulVar(routing.Start(vehicle)).SetMin(max(0, _up(c.shift_start)))
        if math.isfinite(c.shift_end) and overtime_coefficient > 0:
            clock.SetCumulVarSoftUpperBound(
                routing.End(vehicle), max(0, _down(c.shift_end)), overtime_coefficient
            )
        routing.AddVariableMinimizedByFinalizer(clock.CumulVar(routing.End(vehicle)))

    # Who may make each visit; unassigned at a cost.
    penalty = max(1, round(weights.unassigned * COST_SCALE))
    for i, v in enumerate(visits):
        barred = [j for j, c in enumerate(clinicians) if not problem.can_make(c, v)]
        if barred:
            # SetAllowedVehiclesForIndex would say it better, but its SWIG wrapper in 9.15
            # accepts no Python sequence (absl::Span), and an empty list there means anyone.
            routing.VehicleVar(index_of[i]).RemoveValues(barred)
        routing.AddDisjunction([index_of[i]], penalty)

    # Capacity, visit count and pinned positions.
    demands = [v.demand for v in visits]
    if any(c.capacity is not None for c in clinicians) and any(demands):
        whole = all(float(x).is_integer() for x in demands)
        scale = 1 if whole else 1000
        load = [0] * d + [math.ceil(x * scale - 1e-9) for x in demands]
        total = sum(load)
        caps = [
            total if c.capacity is None else math.floor(c.capacity * scale + 1e-9)
            for c in clinicians
        ]
        load_callback = routing.RegisterUnaryTransitVector(load)
        routing.AddDimensionWithVehicleCapacity(load_callback, 0, caps, True, "load")
    limited = any(c.max_visits is not None for c in clinicians)
    pinned = any(v.pinned_position is not None for v in visits)
    if limited or pinned:
        ones = [0] * d + [1] * n
        count_callback = routing.RegisterUnaryTransitVector(ones)
        caps = [n if c.max_visits is None else c.max_visits for c in clinicians]
        routing.AddDimensionWithVehicleCapacity(count_callback, 0, caps, True, "count")
        count = routing.GetDimensionOrDie("count")
        for i, v in enumerate(visits):
            if v.pinned_position is not None:
                count.CumulVar(index_of[i]).SetValue(v.pinned_position)

    # Linked visits.
    linked: set[int] = set()
    for link in problem.links:
        a, b = (index_of[problem.visit_index[x]] for x in (link.first, link.second))
        linked.update((a, b))
        start_a, start_b = clock.CumulVar(a), clock.CumulVar(b)
        solver.Add(routing.ActiveVar(a) == routing.ActiveVar(b))
        if link.kind == SIMULTANEOUS:
            solver.Add(start_a == start_b)
            apart = solver.IsDifferentVar(routing.VehicleVar(a), routing.VehicleVar(b))
            solver.Add(apart + 1 - routing.ActiveVar(a) >= 1)
        elif link.kind == ORDERED:
            solver.Add(start_b - start_a >= _up(link.min_gap))
            solver.Add(start_b - start_a <= _down(link.max_gap))
    for index in sorted(linked):
        routing.AddVariableMinimizedByFinalizer(clock.CumulVar(index))

    # Breaks.
    breaks: dict[int, Any] = {}
    visit_transits = [  # by routing index, as SetBreakIntervalsOfVehicle wants
        math.ceil(service[manager.IndexToNode(i)] * TIME_SCALE - 1e-6)
        for i in range(routing.Size())
    ]
    for vehicle, c in enumerate(clinicians):
        if c.break_ is None:
            continue
        brk = c.break_
        interval = solver.FixedDurationIntervalVar(
            max(0, _up(brk.earliest)),
            max(_up(brk.earliest), _down(brk.latest)),
            _up(brk.duration),
            True,
            f"break {c.id}",
        )
        solver.Add(interval.PerformedExpr() == routing.ActiveVehicleVar(vehicle))
        clock.SetBreakIntervalsOfVehicle([interval], vehicle, visit_transits)
        breaks[vehicle] = interval

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    left = max(0.01, seconds - (time.perf_counter() - began) - 0.05)
    params.time_limit.FromMilliseconds(int(left * 1000))

    if on_progress is not None:
        best = [math.inf]

        def progress() -> None:
            value = routing.CostVar().Value() / COST_SCALE
            if value < best[0]:
                best[0] = value
                on_progress(time.perf_counter() - began, value)

        routing.AddAtSolutionCallback(progress)

    assignment = routing.SolveWithParameters(params)
    if assignment is None:
        return Solution(
            routes=[],
            unassigned={v.id: "OR-Tools found no plan in the time given" for v in visits},
        )
    return _decode(problem, manager, routing, clock, assignment, breaks, d, linked)


def _decode(
    problem: Problem,
    manager: Any,
    routing: Any,
    clock: Any,
    assignment: Any,
    breaks: dict[int, Any],
    d: int,
    linked: set[int],
) -> Solution:
    routes: list[Route] = []
    placed: set[str] = set()
    performed = {
        assignment.IntervalVarContainer()
        .Element(i)
        .Var()
        .Name(): assignment.IntervalVarContainer().Element(i)
        for i in range(assignment.IntervalVarContainer().Size())
    }
    for vehicle, clinician in enumerate(problem.clinicians):
        order: list[str] = []
        fixed: dict[str, float] = {}
        ends: list[int] = []  # scaled end of each visit's service, per OR-Tools
        index = routing.Start(vehicle)
        index = assignment.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            visit = problem.visits[node - d]
            order.append(visit.id)
            value = assignment.Value(clock.CumulVar(index))
            ends.append(value + _up(visit.duration))
            if index in linked:
                fixed[visit.id] = value / TIME_SCALE
            index = assignment.Value(routing.NextVar(index))
        if not order:
            continue
        break_at: int | None = None
        if vehicle in breaks:
            element = performed.get(breaks[vehicle].Name())
            if element is not None and element.PerformedValue() == 1:
                begin = element.StartValue()
                break_at = sum(1 for e in ends if e <= begin)
        visits, starts, break_start = _times(problem, vehicle, order, fixed, break_at)
        routes.append(Route(clinician.id, visits, starts, break_start))
        placed.update(order)
    unassigned = {v.id: NOT_PLACED for v in problem.visits if v.id not in placed}
    return Solution(routes=routes, unassigned=unassigned)


def _times(
    problem: Problem,
    vehicle: int,
    order: list[str],
    fixed: dict[str, float],
    break_at: int | None,
) -> tuple[list[str], list[float], float | None]:
    """Earliest starts in double precision for `order`, linked visits at OR-Tools' times, the
    break (if any) before the visit at position `break_at`."""
    clinician = problem.clinicians[vehicle]
    brk = clinician.break_
    place, free = clinician.start, clinician.shift_start
    visits: list[str] = []
    starts: list[float] = []
    break_start: float | None = None
    for position, visit_id in enumerate([*order, ""]):
        if brk is not None and break_at == position:
            break_start = max(free, brk.earliest)
            free = break_start + brk.duration
            visits.append(BREAK)
        if not visit_id:
            break
        visit = problem.visit(visit_id)
        arrival = free + float(problem.travel_time[place, visit.location])
        start = max(arrival, visit.window_open, fixed.get(visit_id, -math.inf))
        visits.append(visit_id)
        starts.append(start)
        place, free = visit.location, start + visit.duration
    return visits, starts, break_start

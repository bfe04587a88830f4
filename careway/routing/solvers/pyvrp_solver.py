"""PyVRP (https://pyvrp.org, 0.14) for the days it can express exactly: no linked visits.

`fits(problem)` says whether PyVRP can solve a problem as the model means it (None), or why not.
What PyVRP 0.14 expresses, and how the model maps onto it:

- hard time windows: `Client.tw_early` / `tw_late` bound the start of service, waiting allowed
  (docs: pyvrp.org/setup/concepts.html). A soft window close with no lateness weight is no
  window at all. A soft close WITH a lateness weight is not expressible: PyVRP's time warp is
  infeasibility, penalised only during the search, never a cost in a feasible solution.
- shift start: `VehicleType.tw_early`. Shift end and overtime: PyVRP's overtime is on route
  duration (`shift_duration`, `max_overtime`, `unit_overtime_cost`, an integer cost per unit);
  fixing the start at the shift start (`start_late = tw_early`) makes duration = return time -
  shift start, so the overtime is exactly max(0, return - shift end). A clinician may leave
  later in the model, but leaving at the shift start and waiting gives the same visit times.
- skills and pinned clinicians: one routing profile per group of clinicians allowed the same
  visits (pyvrp.org/notebooks/profiles.html, the access-restriction example; PyVRP issue #329
  settles vehicle-client restrictions this way). Edges into a visit a profile may not make get a
  distance larger than the profile's `max_distance`, so any route using one is infeasible.
- continuity: in each profile, every edge into a visit whose preferred clinician is not that
  profile's clinician costs the continuity weight more. A visit is entered exactly once, so the
  extra cost is exactly the continuity term.
- capacity: a load dimension; `max_visits`: a second load dimension where each visit weighs one.
- unassigned visits: every visit is an optional client whose prize is the unassigned weight;
  PyVRP's uncollected prizes are then exactly the unassigned term.

Not expressible (fits() names which): linked visits (simultaneous or ordered), soft windows with
a lateness or maximum-lateness weight, breaks, pinned positions, and overtime weights that are
not a whole multiple of 1/100 (PyVRP's costs are integers).

PyVRP works in integers. Times are scaled by TIME_SCALE and rounded so that a plan PyVRP finds
feasible is feasible in double precision too (travel, durations and window opens rounded up,
hard closes rounded down); costs are scaled by COST_SCALE and rounded to nearest. The routes that
come back are timed again in double precision from their order (`schedule`), and a visit that
does not fit there after all (PyVRP returned an infeasible plan because the time ran out) is
taken out and reported unassigned with the reason.
"""

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyvrp
from pyvrp.search import NeighbourhoodParams
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from ..model import Clinician, Problem, Route, Solution, Visit

Progress = Callable[[float, float], None]

TIME_SCALE = 10_000  # integer units a minute
COST_SCALE = TIME_SCALE  # integer units a unit of objective (times the overtime multiplier)
EPS = 1e-9
TOLERANCE = 1e-6  # how far past a hard close, in minutes, double precision may drift
MAX_VALUE = int(pyvrp.constants.MAX_VALUE)  # PyVRP's largest safe matrix entry
INT_MAX = int(np.iinfo(np.int64).max)
# Search settings, measured on the Solomon instances at 10 s (benchmarks/routing_vrptw.py; two
# seeds each on R1 and RC1, one on R2 and RC2): 30 granular neighbours instead of PyVRP's 50
# brought the RC1 mean gap from about 0.68% to 0.27-0.42% and left R1, R2 and RC2 as they were;
# a late-acceptance history of 100 instead of 300 made no difference beyond the noise.
NEIGHBOURS = 30
HISTORY = 100
NO_ROOM = "no room in any route (PyVRP left it out: it fits nowhere, or leaving it out cost less)"


# --- what PyVRP can express ----------------------------------------------------------------------


def fits(problem: Problem) -> str | None:
    """None when PyVRP can solve `problem` exactly as the model means it, else the reason."""
    if problem.links:
        return (
            f"{len(problem.links)} linked visit pair(s): PyVRP cannot tie two visits' start "
            "times together (simultaneous or ordered)"
        )
    broken = [c.id for c in problem.clinicians if c.break_ is not None]
    if broken:
        return f"clinician {broken[0]} has a break: PyVRP has no break taken between visits"
    pinned = [v.id for v in problem.visits if v.pinned_position is not None]
    if pinned:
        return f"visit {pinned[0]} is pinned to a position: PyVRP cannot fix a visit's position"
    weights = problem.weights
    if weights.total_lateness > 0 or weights.max_lateness > 0:
        soft = [v.id for v in problem.visits if not v.hard_close and math.isfinite(v.window_close)]
        if soft:
            return (
                f"visit {soft[0]} has a soft window close with a lateness cost: PyVRP's time "
                "windows are hard (lateness is infeasible, never a cost)"
            )
    try:
        _scales(problem)
    except _Unscalable as exc:
        return str(exc)
    return None


class _Unscalable(Exception):
    pass


@dataclass(frozen=True)
class _Scales:
    time: int  # integer time units a minute
    cost: int  # integer cost units a unit of objective
    overtime: int  # PyVRP's unit_overtime_cost: cost units a time unit of overtime


def _overtime_used(problem: Problem) -> bool:
    return problem.weights.overtime > 0 and any(
        math.isfinite(c.shift_end) for c in problem.clinicians
    )


def _scales(problem: Problem) -> _Scales:
    multiplier, unit = 1, 0
    if _overtime_used(problem):
        # unit_overtime_cost = weight * cost scale / time scale must be a whole number.
        weight = problem.weights.overtime
        for k in range(1, 101):
            if abs(weight * k - round(weight * k)) <= 1e-9 * max(1.0, weight * k):
                multiplier, unit = k, round(weight * k)
                break
        else:
            raise _Unscalable(
                f"overtime weight {weight:g} is not a multiple of 1/100 or less: PyVRP's overtime "
                "cost is a whole number per time unit"
            )
    return _Scales(time=TIME_SCALE, cost=COST_SCALE * multiplier, overtime=unit)


# --- building PyVRP's data -----------------------------------------------------------------------


@dataclass
class _Built:
    data: pyvrp.ProblemData
    type_clinicians: list[list[Clinician]]  # per vehicle type, the clinicians it stands for
    scales: _Scales


def _up(value: float, scale: int) -> int:
    """`value` scaled and rounded up (never less than the true value, but for float noise)."""
    return math.ceil(value * scale - 1e-6)


def _down(value: float, scale: int) -> int:
    return math.floor(value * scale + 1e-6)


def build(problem: Problem) -> _Built:
    """PyVRP's ProblemData for `problem` (which `fits`)."""
    scales = _scales(problem)
    s_time, s_cost = scales.time, scales.cost
    weights = problem.weights
    visits = problem.visits
    n = len(visits)

    # Locations: one per depot (a place a clinician starts or ends), then one per visit, so that
    # a profile can forbid or charge the edges into one visit without touching another visit at
    # the same place.
    depot_places = sorted(
        {c.start for c in problem.clinicians} | {c.end for c in problem.clinicians}
    )
    depot_of = {place: i for i, place in enumerate(depot_places)}
    places = np.array(depot_places + [v.location for v in visits], dtype=np.intp)
    n_depots = len(depot_places)
    locations = [pyvrp.Location(x=float(i), y=0.0) for i in range(len(places))]

    travel = problem.travel_time[np.ix_(places, places)]
    duration = np.ceil(travel * s_time - 1e-6).astype(np.int64)
    duration = np.maximum(duration, 0)
    np.fill_diagonal(duration, 0)
    base = np.rint(problem.distance[np.ix_(places, places)] * weights.travel * s_cost)
    base = base.astype(np.int64)
    np.fill_diagonal(base, 0)
    service = [_up(v.duration, s_time) for v in visits]
    if int(duration.max(initial=0)) > MAX_VALUE:
        raise _Unscalable("travel times too large for PyVRP's integers")

    # Load dimensions: capacity (when a clinician has one and a visit has a demand), and the
    # number of visits (when a clinician has a maximum). Loads are scaled like costs so that
    # PyVRP's penalty for excess load weighs as much as for time warp.
    dims: list[str] = []
    if any(c.capacity is not None for c in problem.clinicians) and any(
        v.demand > 0 for v in visits
    ):
        dims.append("capacity")
    if any(c.max_visits is not None for c in problem.clinicians):
        dims.append("count")
    big_load = MAX_VALUE

    def delivery(v: Visit) -> list[int]:
        return [_up(v.demand, s_cost) if d == "capacity" else s_cost for d in dims]

    def capacity(c: Clinician) -> list[int]:
        out = []
        for d in dims:
            limit = c.capacity if d == "capacity" else c.max_visits
            out.append(big_load if limit is None else min(big_load, _down(limit, s_cost)))
        return out

    # Profiles: clinicians who may make the same visits and are preferred by the same visits
    # share one (a single profile when nothing differs).
    continuity = weights.continuity > 0 and any(v.preferred is not None for v in visits)
    charge = round(weights.continuity * s_cost)

    def profile_key(c: Clinician) -> tuple[frozenset[int], frozenset[int]]:
        allowed = frozenset(i for i, v in enumerate(visits) if problem.can_make(c, v))
        preferred = (
            frozenset(i for i, v in enumerate(visits) if v.preferred == c.id)
            if continuity
            else frozenset()
        )
        return allowed, preferred

    keys: list[tuple[frozenset[int], frozenset[int]]] = []
    key_of: dict[str, int] = {}
    for c in problem.clinicians:
        key = profile_key(c)
        if key not in keys:
            keys.append(key)
        key_of[c.id] = keys.index(key)

    everyone = frozenset(range(n))
    restricted = any(allowed != everyone for allowed, _ in keys)
    max_route = int(base.max(initial=0)) * (n + 1) + (charge * n if continuity else 0)
    forbidden = max_route + 1
    if restricted and forbidden > MAX_VALUE:
        raise _Unscalable("distances too large for PyVRP's integers with skill restrictions")
    distances = []
    for allowed, preferred in keys:
        matrix = base.copy()
        if continuity:
            for i, v in enumerate(visits):
                if v.preferred is not None and i not in preferred:
                    column = n_depots + i
                    matrix[:, column] += charge
                    matrix[column, column] = 0
        for i in everyone - allowed:
            column = n_depots + i
            matrix[:, column] = forbidden
            matrix[column, column] = 0
        distances.append(matrix)

    clients = []
    for i, v in enumerate(visits):
        opens = max(0, _up(v.window_open, s_time))
        close = INT_MAX
        if v.hard_close and math.isfinite(v.window_close):
            # A window narrower than a time unit may round to close < open: PyVRP refuses that,
            # so it gets one unit; `schedule` then checks the start in double precision.
            close = max(opens, _down(v.window_close, s_time))
        clients.append(
            pyvrp.Client(
                location=n_depots + i,
                delivery=delivery(v),
                service_duration=service[i],
                tw_early=opens,
                tw_late=close,
                required=False,
                prize=min(MAX_VALUE, round(weights.unassigned * s_cost)),
                name=v.id,
            )
        )
    depots = [
        pyvrp.Depot(location=i, name=problem.location_ids[p] if problem.location_ids else "")
        for i, p in enumerate(depot_places)
    ]

    # Vehicle types: clinicians alike in every respect PyVRP sees share one.
    overtime = _overtime_used(problem)
    groups: dict[tuple[object, ...], list[Clinician]] = {}
    for c in problem.clinicians:
        key2 = (c.start, c.end, c.shift_start, c.shift_end, c.capacity, c.max_visits, key_of[c.id])
        groups.setdefault(key2, []).append(c)
    vehicle_types = []
    type_clinicians = []
    for members in groups.values():
        first = members[0]
        early = max(0, _up(first.shift_start, s_time))
        start_late: int | None = None
        shift_duration, max_overtime = INT_MAX, 0
        if overtime and math.isfinite(first.shift_end):
            start_late = early
            shift_duration = max(0, _down(first.shift_end - first.shift_start, s_time))
            max_overtime = MAX_VALUE
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=len(members),
                capacity=capacity(first),
                start_depot=depot_of[first.start],
                end_depot=depot_of[first.end],
                tw_early=early,
                shift_duration=shift_duration,
                max_distance=max_route if restricted else INT_MAX,
                profile=key_of[first.id],
                start_late=start_late,
                max_overtime=max_overtime,
                unit_overtime_cost=scales.overtime if start_late is not None else 0,
                name=",".join(c.id for c in members),
            )
        )
        type_clinicians.append(members)
    data = pyvrp.ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=vehicle_types,
        distance_matrices=distances,  # type: ignore[arg-type]  # the stub's ndarray[int]
        duration_matrices=[duration] * len(distances),  # type: ignore[list-item]
    )
    return _Built(data, type_clinicians, scales)


# --- solving -------------------------------------------------------------------------------------


class _OnBest(pyvrp.IteratedLocalSearchCallbacks):
    def __init__(self, began: float, cost_scale: int, report: Progress | None):
        self.began, self.cost_scale, self.report = began, cost_scale, report
        self.last = math.inf

    def on_best(self, best: pyvrp.Solution) -> None:
        if self.report is None or not best.is_feasible():
            return
        cost = (
            best.distance_cost()
            + best.duration_cost()
            + best.fixed_vehicle_cost()
            + best.uncollected_prizes()
        ) / self.cost_scale
        if cost < self.last - EPS:
            self.last = cost
            self.report(time.perf_counter() - self.began, cost)


def solve(
    problem: Problem,
    seconds: float,
    seed: int = 0,
    on_progress: Progress | None = None,
    iterations: int | None = None,
) -> Solution:
    """The best plan PyVRP finds in `seconds` (or `iterations`, whichever comes first).

    Deterministic for a seed when the search stops on `iterations`, or when it finds its final
    best before the clock stops it. `on_progress(seconds, objective)` is called as the best
    feasible plan improves (PyVRP's integer objective, unscaled); it returns within `seconds`
    plus the time to time the routes again.
    """
    began = time.perf_counter()
    why = fits(problem)
    if why is not None:
        raise ValueError(f"PyVRP cannot solve this problem exactly: {why}")
    if not problem.visits:
        return Solution(routes=[])
    if not problem.clinicians:
        return Solution(routes=[], unassigned={v.id: "no clinicians" for v in problem.visits})
    built = build(problem)
    callbacks = _OnBest(began, built.scales.cost, on_progress)
    params = pyvrp.SolveParams(
        ils=pyvrp.IteratedLocalSearchParams(history_length=HISTORY, callbacks=callbacks),
        neighbourhood=NeighbourhoodParams(num_neighbours=NEIGHBOURS),
        display_interval=3600.0,
    )
    # PyVRP's clock starts at the first iteration, after it has built and improved its
    # starting plan: give it what is left, less a margin for timing the routes afterwards.
    left = seconds - (time.perf_counter() - began) - 0.05 - 0.0002 * len(problem.visits)
    stops: list[StoppingCriterion] = [MaxRuntime(max(0.0, left))]
    if iterations is not None:
        stops.append(MaxIterations(iterations))
    result = pyvrp.solve(
        built.data,
        MultipleCriteria(stops),
        seed=seed,
        collect_stats=False,
        display=False,
        params=params,
    )
    solution = _decode(problem, built, result.best)
    if on_progress is not None and callbacks.last == math.inf:
        on_progress(time.perf_counter() - began, objective(problem, solution))
    return solution


def _decode(problem: Problem, built: _Built, best: pyvrp.Solution) -> Solution:
    pool = [list(members) for members in built.type_clinicians]
    routes: list[Route] = []
    placed: set[str] = set()
    dropped: dict[str, str] = {}
    for pyvrp_route in best.routes():
        clinician = pool[pyvrp_route.vehicle_type()].pop(0)
        order = [problem.visits[a.idx].id for a in pyvrp_route.schedule() if a.is_client()]
        kept, starts, out = schedule(problem, clinician, order)
        dropped.update(out)
        if kept:
            routes.append(Route(clinician.id, kept, starts))
            placed.update(kept)
    unassigned = {v.id: NO_ROOM for v in problem.visits if v.id not in placed}
    unassigned.update(dropped)
    return Solution(routes=routes, unassigned=unassigned)


def schedule(
    problem: Problem, clinician: Clinician, order: Sequence[str]
) -> tuple[list[str], list[float], dict[str, str]]:
    """Times `order` for `clinician` in double precision, earliest starts. A visit that breaks a
    hard rule there (window closed, load or visit count over, a visit they may not make) is
    left out with the reason: (visits kept, their starts, {left out: why})."""
    travel = problem.travel_time
    place, free = clinician.start, clinician.shift_start
    load = 0.0
    kept: list[str] = []
    starts: list[float] = []
    out: dict[str, str] = {}
    for visit_id in order:
        visit = problem.visit(visit_id)
        start = max(free + float(travel[place, visit.location]), visit.window_open)
        why = None
        if not problem.can_make(clinician, visit):
            why = f"{clinician.id} may not make it (skill or pin)"
        elif visit.hard_close and start > visit.window_close + TOLERANCE:
            why = f"{NO_ROOM}: its window closes before {clinician.id} can get there"
        elif clinician.capacity is not None and load + visit.demand > clinician.capacity + EPS:
            why = f"{NO_ROOM}: {clinician.id}'s capacity is used up"
        elif clinician.max_visits is not None and len(kept) >= clinician.max_visits:
            why = f"{NO_ROOM}: {clinician.id} already makes max_visits visits"
        if why is not None:
            out[visit_id] = why
            continue
        kept.append(visit_id)
        starts.append(start)
        load += visit.demand
        place, free = visit.location, start + visit.duration
    return kept, starts, out


def objective(problem: Problem, solution: Solution) -> float:
    """The model's objective of a plan this module returns (no links, no breaks), in double
    precision; careway/routing/validate.py is the independent check."""
    w = problem.weights
    total = w.unassigned * len(solution.unassigned)
    for route in solution.routes:
        clinician = problem.clinician(route.clinician)
        place, end = clinician.start, clinician.shift_start
        starts = route.starts or schedule(problem, clinician, route.visits)[1]
        for visit_id, start in zip(route.visits, starts, strict=True):
            visit = problem.visit(visit_id)
            total += w.travel * float(problem.distance[place, visit.location])
            total += w.total_lateness * max(0.0, start - visit.window_close)
            if visit.preferred is not None and visit.preferred != clinician.id:
                total += w.continuity
            place, end = visit.location, start + visit.duration
        if route.visits:
            total += w.travel * float(problem.distance[place, clinician.end])
            end += float(problem.travel_time[place, clinician.end])
            total += w.overtime * max(0.0, end - clinician.shift_end)
    return total

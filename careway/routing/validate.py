"""The independent validator: given a problem and routes alone, check every constraint and
recompute every term of the objective.

It shares no code with any solver, so a solver's mistake cannot hide in it. Given a `Solution`
it reports each broken rule as a `Violation` (what kind, where in the solution, a sentence) and
the objective terms:

- travel: distance over the legs travelled (start -> v1 -> ... -> vk -> end; an empty route
  travels nothing; a break is taken where the clinician is);
- total_lateness and max_lateness: lateness of a visit is max(0, start - window_close);
- continuity: visits with a preferred clinician made by someone else;
- overtime: per route, max(0, return to the end location - shift_end);
- unassigned: visits of the problem no known clinician's route makes;
- reassigned: when re-planning, visits made by someone other than the clinician they had in the
  plan being changed (`Visit.previous`);

and the objective, the sum of weight times term (model.Weights).

Times. A route with `starts` is checked as given (tolerance `TOLERANCE`); a route without them
is timed here: each visit at its earliest possible start, the least fixed point of

    start(v) >= window_open(v)
    start(first visit) >= shift_start + travel(start location, v)
    start(next) >= start(prev) + duration(prev) + travel(prev, next)
    break start >= max(break earliest, when the clinician is free there)
    start(after break) >= break start + break duration + travel(where the break was, next)
    simultaneous: start(a) >= start(b) and start(b) >= start(a)
    ordered: start(second) >= start(first) + min_gap, start(first) >= start(second) - max_gap

found Bellman-Ford style (longest paths over these difference constraints, given starts held
fixed). The least solution is the pointwise earliest one, so if it misses a hard upper bound
(a hard window close, a break's latest start, a maximum gap) every schedule does. A positive
cycle (two simultaneous pairs made in crossed orders, a pair in one route) means no schedule
exists at all: it is reported as a `no-schedule` violation naming the visits, never a loop.

The validator never raises on a Solution whose fields have the right types: unknown ids,
repeated visits, a starts list of the wrong length and the like are violations.

Violation kinds: unknown-clinician, duplicate-route, unknown-visit, duplicate-visit,
missing-visit, skill, pinned, max-visits, capacity, malformed, window-open, hard-close, time,
no-schedule, link-simultaneous, link-ordered, link-same-clinician, link-half-assigned,
break-missing, break-extra, break-window, break-overlap.
"""

import math
from dataclasses import dataclass, field

from .model import BREAK, ORDERED, SIMULTANEOUS, Clinician, Problem, Route, Solution, Weights

TOLERANCE = 1e-6  # minutes: a given time may be this much early or late without a violation
_RISE = 1e-9  # a relaxation must raise a time by more than this to count as a change

TERMS = (
    "travel",
    "total_lateness",
    "max_lateness",
    "continuity",
    "overtime",
    "unassigned",
    "reassigned",
)


@dataclass(frozen=True)
class Violation:
    kind: str
    where: str  # a path into the solution (routes[0].visits[2]) or the problem (links[1])
    message: str


@dataclass
class Report:
    feasible: bool
    violations: list[Violation]
    terms: dict[str, float]
    objective: float
    starts: dict[str, float]  # visit id -> the start time checked (given or worked out)
    break_starts: dict[str, float] = field(default_factory=dict)  # clinician id -> break start

    def kinds(self) -> set[str]:
        """The kinds of violation found (handy in tests and logs)."""
        return {v.kind for v in self.violations}


def objective(weights: Weights, terms: dict[str, float]) -> float:
    """Sum of weight times term, over the terms of the objective."""
    return sum(float(getattr(weights, name)) * terms[name] for name in TERMS)


def validate(problem: Problem, solution: Solution, tolerance: float = TOLERANCE) -> Report:
    """Check `solution` against `problem` and recompute the objective (see the module doc)."""
    return _Validation(problem, solution, tolerance).run()


# --- the work ------------------------------------------------------------------------------------


@dataclass
class _Stop:
    """A visit or a break in a route, as the timing sees it."""

    node: int  # index into the timing graph
    visit_id: str | None  # None: the break
    where: str
    location: int  # where it is made (a break: where the clinician already is)
    duration: float


@dataclass
class _Edge:
    """start(target) >= start(source) + weight; when broken, a violation of `kind`."""

    source: int
    target: int
    weight: float
    kind: str
    where: str
    text: str  # says what the bound is, for the message
    pair: tuple[int, int] | None = None  # a link's (first, second), named in that order


@dataclass
class _Node:
    """A visit's start or a break's start: its constant lower bounds (value, kind, where, text)
    and the time the solution gives it, if any."""

    label: str  # a visit id, or "the break of <clinician>"
    where: str
    given: float | None = None
    lower: list[tuple[float, str, str, str]] = field(default_factory=list)


class _Validation:
    def __init__(self, problem: Problem, solution: Solution, tolerance: float):
        self.problem = problem
        self.solution = solution
        self.tol = tolerance
        self.violations: list[Violation] = []
        self.nodes: list[_Node] = []
        self.edges: list[_Edge] = []
        self.timed: list[tuple[Clinician, list[_Stop]]] = []  # each known route's stops in order
        self.assigned: dict[str, tuple[str, str]] = {}  # visit id -> (clinician id, where)
        self.node_of: dict[str, int] = {}  # visit id -> node

    def flag(self, kind: str, where: str, message: str) -> None:
        self.violations.append(Violation(kind, where, message))

    def run(self) -> Report:
        seen_routes: dict[str, int] = {}
        seen_visits: dict[str, str] = {}  # visit id -> where first placed
        for r, route in enumerate(self.solution.routes):
            self._route(r, route, seen_routes, seen_visits)
        self._unassigned(seen_visits)
        self._links()
        times = self._schedule()
        self._check(times)
        terms, starts, break_starts = self._terms(times)
        return Report(
            feasible=not self.violations,
            violations=self.violations,
            terms=terms,
            objective=objective(self.problem.weights, terms),
            starts=starts,
            break_starts=break_starts,
        )

    # --- structure of each route ---------------------------------------------------------------

    def _route(
        self, r: int, route: Route, seen_routes: dict[str, int], seen_visits: dict[str, str]
    ) -> None:
        problem, where_route = self.problem, f"routes[{r}]"
        clinician = None
        if route.clinician in problem.clinician_index:
            clinician = problem.clinician(route.clinician)
            if route.clinician in seen_routes:
                self.flag(
                    "duplicate-route",
                    where_route,
                    f"{route.clinician} already has routes[{seen_routes[route.clinician]}]",
                )
            seen_routes.setdefault(route.clinician, r)
        else:
            self.flag("unknown-clinician", where_route, f"no clinician {route.clinician!r}")

        given = route.starts
        n_visits = sum(1 for v in route.visits if v != BREAK)
        if given is not None and len(given) != n_visits:
            self.flag(
                "malformed",
                f"{where_route}.starts",
                f"{len(given)} start times for {n_visits} visits; the times are worked out instead",
            )
            given = None

        stops: list[_Stop] = []
        position = -1  # index among the route's visits, the break not counted
        breaks = 0
        load = 0.0
        for j, visit_id in enumerate(route.visits):
            where = f"{where_route}.visits[{j}]"
            if visit_id == BREAK:
                breaks += 1
                if clinician is None:
                    continue
                if clinician.break_ is None:
                    self.flag("break-extra", where, f"{clinician.id} has no break to take")
                    continue
                if breaks > 1:
                    self.flag("break-extra", where, f"{clinician.id}'s break is in the route twice")
                    continue
                stops.append(self._break_stop(clinician, route, where, stops))
                continue
            position += 1
            start = given[position] if given is not None else None
            if visit_id not in problem.visit_index:
                self.flag("unknown-visit", where, f"no visit {visit_id!r}")
                continue
            if visit_id in seen_visits:
                self.flag(
                    "duplicate-visit", where, f"{visit_id} is already at {seen_visits[visit_id]}"
                )
                continue
            seen_visits[visit_id] = where
            if clinician is None:
                continue
            visit = problem.visit(visit_id)
            self.assigned[visit_id] = (clinician.id, where)
            load += visit.demand
            if visit.skill is not None and visit.skill not in clinician.skills:
                self.flag(
                    "skill", where, f"{visit_id} needs {visit.skill!r}, which {clinician.id} lacks"
                )
            if visit.pinned_to is not None and visit.pinned_to != clinician.id:
                self.flag(
                    "pinned",
                    where,
                    f"{visit_id} is pinned to {visit.pinned_to}, not {clinician.id}",
                )
            elif visit.pinned_position is not None and visit.pinned_position != position:
                self.flag(
                    "pinned",
                    where,
                    f"{visit_id} is pinned to place {visit.pinned_position} in the route, "
                    f"not {position}",
                )
            if start is not None and not _finite(start):
                self.flag("malformed", f"{where_route}.starts[{position}]", "not a finite time")
                start = None
            node = self._node(visit_id, where, start)
            self.node_of[visit_id] = node
            stops.append(_Stop(node, visit_id, where, visit.location, visit.duration))
            self.nodes[node].lower.append(
                (
                    visit.window_open,
                    "window-open",
                    where,
                    f"its window opens at {visit.window_open:g}",
                )
            )

        if clinician is None:
            return
        if clinician.max_visits is not None and n_visits > clinician.max_visits:
            self.flag(
                "max-visits",
                where_route,
                f"{clinician.id} makes {n_visits} visits, at most {clinician.max_visits}",
            )
        if clinician.capacity is not None and load > clinician.capacity + self.tol:
            self.flag(
                "capacity",
                where_route,
                f"{clinician.id} carries {load:g}, capacity {clinician.capacity:g}",
            )
        has_visits = any(s.visit_id is not None for s in stops)
        if clinician.break_ is not None and has_visits and not breaks:
            self.flag("break-missing", where_route, f"{clinician.id} has visits but no break")
        self._chain(clinician, stops)
        self.timed.append((clinician, stops))

    def _node(self, label: str, where: str, given: float | None) -> int:
        self.nodes.append(_Node(label, where, given))
        return len(self.nodes) - 1

    def _break_stop(
        self, clinician: Clinician, route: Route, where: str, before: list[_Stop]
    ) -> _Stop:
        assert clinician.break_ is not None
        given = route.break_start
        if given is not None and not _finite(given):
            self.flag("malformed", f"{where}", "the break start is not a finite time")
            given = None
        node = self._node(f"the break of {clinician.id}", where, given)
        brk = clinician.break_
        self.nodes[node].lower.append(
            (brk.earliest, "break-window", where, f"the break may start at {brk.earliest:g}")
        )
        location = before[-1].location if before else clinician.start
        return _Stop(node, None, where, location, brk.duration)

    def _chain(self, clinician: Clinician, stops: list[_Stop]) -> None:
        """The route's order as bounds: each stop after the one before it."""
        travel = self.problem.travel_time
        previous: _Stop | None = None
        for stop in stops:
            # a break is taken where the clinician is: no way to go
            here = clinician.start if previous is None else previous.location
            leg = 0.0 if stop.visit_id is None else float(travel[here, stop.location])
            if previous is None:
                self.nodes[stop.node].lower.append(
                    (
                        clinician.shift_start + leg,
                        "time" if stop.visit_id is not None else "break-overlap",
                        stop.where,
                        f"the shift starts at {clinician.shift_start:g} and the way there takes "
                        f"{leg:g}",
                    )
                )
            else:
                what = previous.visit_id or "the break"
                self.edges.append(
                    _Edge(
                        previous.node,
                        stop.node,
                        previous.duration + leg,
                        "time"
                        if None not in (previous.visit_id, stop.visit_id)
                        else "break-overlap",
                        stop.where,
                        f"{what} takes {previous.duration:g} and the way from it {leg:g}",
                    )
                )
            previous = stop

    # --- the visits not routed ------------------------------------------------------------------

    def _unassigned(self, seen_visits: dict[str, str]) -> None:
        for visit_id in self.solution.unassigned:
            where = f"unassigned[{visit_id!r}]"
            if visit_id not in self.problem.visit_index:
                self.flag("unknown-visit", where, f"no visit {visit_id!r}")
            elif visit_id in seen_visits:
                self.flag(
                    "duplicate-visit",
                    where,
                    f"{visit_id} is listed unassigned but routed at {seen_visits[visit_id]}",
                )
        for i, visit in enumerate(self.problem.visits):
            if visit.id not in seen_visits and visit.id not in self.solution.unassigned:
                self.flag(
                    "missing-visit",
                    f"visits[{i}]",
                    f"{visit.id} is neither in a route nor listed unassigned",
                )

    # --- links ------------------------------------------------------------------------------------

    def _links(self) -> None:
        for k, link in enumerate(self.problem.links):
            where = f"links[{k}]"
            a, b = self.assigned.get(link.first), self.assigned.get(link.second)
            if a is None or b is None:
                if a is not None or b is not None:
                    made, left = (link.first, link.second) if a else (link.second, link.first)
                    self.flag(
                        "link-half-assigned",
                        where,
                        f"{made} is routed but its linked visit {left} is not",
                    )
                continue
            first, second = self.node_of[link.first], self.node_of[link.second]
            if link.kind == SIMULTANEOUS:
                if a[0] == b[0]:
                    self.flag(
                        "link-same-clinician",
                        where,
                        f"{link.first} and {link.second} must be made together by two "
                        f"clinicians, both are with {a[0]}",
                    )
                text, pair = "they must start together", (first, second)
                self.edges.append(_Edge(first, second, 0.0, "link-simultaneous", where, text, pair))
                self.edges.append(_Edge(second, first, 0.0, "link-simultaneous", where, text, pair))
            elif link.kind == ORDERED:
                self.edges.append(
                    _Edge(
                        first,
                        second,
                        link.min_gap,
                        "link-ordered",
                        where,
                        f"{link.second} must start at least {link.min_gap:g} after {link.first}",
                        (first, second),
                    )
                )
                self.edges.append(
                    _Edge(
                        second,
                        first,
                        -link.max_gap,
                        "link-ordered",
                        where,
                        f"{link.second} must start at most {link.max_gap:g} after {link.first}",
                        (first, second),
                    )
                )

    # --- times ------------------------------------------------------------------------------------

    def _schedule(self) -> list[float]:
        """Each node's time: given, or the earliest the bounds allow (least fixed point)."""
        nodes = self.nodes
        times = [
            n.given if n.given is not None else max((b[0] for b in n.lower), default=0.0)
            for n in nodes
        ]
        free = [i for i, n in enumerate(nodes) if n.given is None]
        if not free:
            return times
        incoming: list[list[_Edge]] = [[] for _ in nodes]
        for edge in self.edges:
            incoming[edge.target].append(edge)
        base = list(times)
        cause: list[int | None] = [None] * len(nodes)  # the node that last raised this one
        changed: list[int] = []
        for _ in range(len(free) + 1):
            changed = []
            for i in free:  # route order: a route's chain settles in one sweep
                best, why = base[i], None
                for edge in incoming[i]:
                    value = times[edge.source] + edge.weight
                    if value > best:
                        best, why = value, edge.source
                if best > times[i] + _RISE:
                    times[i], cause[i] = best, why
                    changed.append(i)
            if not changed:
                return times
        cycle = self._cycle(changed, cause)
        names = ", ".join(nodes[i].label for i in cycle)
        self.flag(
            "no-schedule",
            nodes[cycle[0]].where,
            f"no start times keep the route order and the links together: {names} wait on "
            "one another in a circle",
        )
        return times

    def _cycle(self, changed: list[int], cause: list[int | None]) -> list[int]:
        """The nodes of a positive cycle, walking back from a node still rising."""
        node: int | None = changed[0]
        for _ in range(len(self.nodes)):
            parent = cause[node] if node is not None else None
            if parent is None:
                return sorted(set(changed))
            node = parent
        assert node is not None
        cycle, walk = [node], cause[node]
        while walk is not None and walk != node and len(cycle) <= len(self.nodes):
            cycle.append(walk)
            walk = cause[walk]
        return list(reversed(cycle))

    def _check(self, times: list[float]) -> None:
        tol = self.tol
        for i, node in enumerate(self.nodes):
            for value, kind, where, text in node.lower:
                if times[i] < value - tol:
                    self.flag(
                        kind,
                        where,
                        f"{node.label} starts at {times[i]:g}, before {value:g}: {text}",
                    )
        for edge in self.edges:
            bound = times[edge.source] + edge.weight
            if times[edge.target] < bound - tol:
                source, target = self.nodes[edge.source], self.nodes[edge.target]
                if edge.pair is not None:
                    one, two = edge.pair
                    message = (
                        f"{self.nodes[one].label} starts at {times[one]:g} and "
                        f"{self.nodes[two].label} at {times[two]:g}: {edge.text}"
                    )
                else:
                    message = (
                        f"{target.label} starts at {times[edge.target]:g}, before {bound:g}: "
                        f"{source.label} starts at {times[edge.source]:g}, {edge.text}"
                    )
                self.flag(edge.kind, edge.where, message)
        for clinician, stops in self.timed:
            for stop in stops:
                t = times[stop.node]
                if stop.visit_id is None:
                    assert clinician.break_ is not None
                    if t > clinician.break_.latest + tol:
                        self.flag(
                            "break-window",
                            stop.where,
                            f"{clinician.id}'s break starts at {t:g}, after its latest start "
                            f"{clinician.break_.latest:g}",
                        )
                    continue
                visit = self.problem.visit(stop.visit_id)
                if visit.hard_close and t > visit.window_close + tol:
                    self.flag(
                        "hard-close",
                        stop.where,
                        f"{visit.id} starts at {t:g}, after its window closes at "
                        f"{visit.window_close:g} (hard)",
                    )

    # --- the objective ------------------------------------------------------------------------

    def _terms(
        self, times: list[float]
    ) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
        problem = self.problem
        travel = lateness = worst = overtime = 0.0
        continuity = reassigned = 0
        starts: dict[str, float] = {}
        break_starts: dict[str, float] = {}
        for clinician, stops in self.timed:
            place, free = clinician.start, clinician.shift_start
            moved = False
            for stop in stops:
                t = times[stop.node]
                if stop.visit_id is None:
                    break_starts[clinician.id] = t
                    free = t + stop.duration
                    continue
                visit = problem.visit(stop.visit_id)
                travel += float(problem.distance[place, stop.location])
                moved = True
                starts[visit.id] = t
                late = max(0.0, t - visit.window_close)
                lateness += late
                worst = max(worst, late)
                if visit.preferred is not None and visit.preferred != clinician.id:
                    continuity += 1
                if visit.previous is not None and visit.previous != clinician.id:
                    reassigned += 1
                place, free = stop.location, t + stop.duration
            if moved:
                travel += float(problem.distance[place, clinician.end])
                back = free + float(problem.travel_time[place, clinician.end])
            else:
                back = free
            overtime += max(0.0, back - clinician.shift_end)
        unassigned = sum(1 for v in problem.visits if v.id not in starts)
        terms = {
            "travel": travel,
            "total_lateness": lateness,
            "max_lateness": worst,
            "continuity": float(continuity),
            "overtime": overtime,
            "unassigned": float(unassigned),
            "reassigned": float(reassigned),
        }
        return terms, starts, break_starts


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

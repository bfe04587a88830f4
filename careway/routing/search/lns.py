"""The search loop: large neighbourhood search with simulated annealing.

Each iteration copies the current plan, removes a few units with a destroy operator
(destroy.py), re-times the rest, puts every unplaced unit back (repair.py), re-times the plan
from scratch (the exact least fixed point, evaluate.State.schedule) and accepts it by the
simulated-annealing rule. The temperature falls geometrically from `t_start` to `t_end`
(times the average cost of a visit in the best plan so far) over a planned number of
iterations, then the search restarts from the best plan with the temperature raised again.
A short run of a large day gets one cycle longer than the run instead (`cycle_length`), and
stays warm. `cycle_per_visit` (off by default) makes a cycle span at least that many
iterations a visit: a setting of the study behind that rule (docs/benchmarks.md, Routing 7).
The destroy operator is drawn by adaptive weights (each operator's weight moves towards a
score for what its last use gave: a new best, a better plan, an accepted one, a rejected one).
The search stops at the time limit, after `iterations` iterations if given, or once
max(10000, 500 n) iterations (n visits) have passed without a better plan (a small day is
solved long before its time is up).

Determinism. Every decision comes from one `random.Random(seed)`; the clock is read only to
stop. The planned number of iterations is a function of the problem size and `seconds` alone
(`planned_iterations`), not of the machine's speed, so the same seed, problem and `seconds`
give the same sequence of plans, and the result is the same whenever the same number of
iterations runs. Pass `iterations` to fix that number (tests do) and get an identical result
on any machine, as long as the time limit does not cut the run short.
"""

import math
import random
import time
from collections.abc import Callable
from typing import Any

from .. import feasibility
from ..model import Problem, Solution
from . import destroy, repair
from .construct import construct, order_units
from .evaluate import Data, State, compile_problem

Progress = Callable[[float, float], None]

DEFAULTS: dict[str, Any] = {
    "t_start": 5.0,  # times the average cost of a visit in the best plan so far
    "t_end": 0.03,
    "q_min": 2,
    "q_max": 20,  # at most this many units, and at most q_frac of them
    "q_frac": 0.3,
    "blink": 0.01,
    "regret": 0.0,  # the share of repairs by regret insertion (the rest: greedy)
    "decay": 0.9,  # operator weights: w = decay * w + (1 - decay) * score of the outcome
    "scores": (25.0, 5.0, 1.0, 0.0),  # new best, better than current, accepted, rejected
    "adaptive": 1,
    "floor": 0.0,  # no operator's weight falls below this
    "rate": 120000.0,  # planned iterations a second, times visits ** -1.33: see below
    "rate_pure": 120000.0,  # the same for the pure-Python evaluation
    "cycle_per_visit": 0,  # a cooling cycle spans at least this many iterations a visit
    "warm_below": 7.0,  # a planned cycle of fewer iterations a visit than this is too short:
    "warm_factor": 32.0,  # it is made this many times as long (see cycle_length)
}


def rate(cfg: dict[str, Any], native: bool) -> float:
    """The planned rate for the evaluation in use: the C loops run `rate`, the pure-Python
    reference `rate_pure` (both measured on the reference machine, docs/benchmarks.md)."""
    return float(cfg["rate"] if native else cfg["rate_pure"])


def planned_iterations(n_visits: int, seconds: float, rate: float) -> int:
    """How many iterations the temperature schedule spans: about what this search manages in
    `seconds` on the reference machine (measured: `rate` / n ** 1.33 a second, n visits)."""
    return max(200, int(seconds * rate / max(1, n_visits) ** 1.33))


def cycle_length(n_visits: int, seconds: float, cfg: dict[str, Any], native: bool) -> int:
    """The iterations of one cooling cycle: the planned iterations, or `warm_factor` times as
    many when they come to fewer than `warm_below` a visit. Such a cycle (a short run of a large
    day: 300 patients in 10 to 60 s) is too short to do more than quench a plan again and again;
    made longer than the run, the temperature falls only to about one visit's cost by the end,
    which measured 1.5 points better at 300 patients in 10 s (30 runs each), the same within
    the noise at 300 in 60 s and at 200 in 10 s (docs/benchmarks.md, Routing 7). Longer runs
    and smaller days, where a cycle spans more, are unchanged. `warm_below` 0 turns it off."""
    plan = planned_iterations(n_visits, seconds, rate(cfg, native))
    if cfg["warm_below"] and plan < cfg["warm_below"] * max(1, n_visits):
        plan = int(plan * cfg["warm_factor"])
    return plan


def solve(
    problem: Problem,
    seconds: float,
    seed: int = 0,
    on_progress: Progress | None = None,
    initial: Solution | None = None,
    *,
    iterations: int | None = None,
    stats: dict[str, Any] | None = None,
    processes: int = 1,
    **params: Any,
) -> Solution:
    """The best plan found in `seconds` (returned within a fraction of a second more), or in
    `iterations` iterations if that comes first. Visits no plan can include come back
    unassigned with the reason (feasibility.unplaceable); so does a visit the search could not
    fit. `initial`: a plan to start from (what is invalid in it is dropped and re-inserted).
    `stats`, if given, receives counts (iterations, the final operator weights).
    `processes` > 1 runs that many searches at once with different seeds, sharing the best plan
    every `sync` iterations (parallel.py). Other keyword arguments override DEFAULTS."""
    if processes > 1:
        from .parallel import solve_parallel

        return solve_parallel(
            problem,
            seconds,
            seed,
            on_progress,
            initial,
            iterations=iterations,
            stats=stats,
            processes=processes,
            **params,
        )
    search = Search(problem, seconds, seed, on_progress, initial, iterations=iterations, **params)
    search.run()
    if stats is not None:
        stats.update(search.stats())
    return search.result()


class Search:
    """One run of the search, resumable: `run(until)` goes on to iteration `until` (or to the
    end), so that searches in several processes can share their best plans at fixed counts."""

    def __init__(
        self,
        problem: Problem,
        seconds: float,
        seed: int | str = 0,
        on_progress: Progress | None = None,
        initial: Solution | None = None,
        *,
        iterations: int | None = None,
        began: float | None = None,
        **params: Any,
    ):
        self.began = time.perf_counter() if began is None else began
        self.deadline = self.began + max(0.0, seconds)
        self.cfg = cfg = {**DEFAULTS, **params}
        self.rng = random.Random(seed)
        self.on_progress = on_progress
        self.iterations = iterations
        self.d = d = compile_problem(problem)
        why = feasibility.unplaceable(problem)
        self.reasons = {problem.visit_index[vid]: text for vid, text in why.items()}
        self.skip = {d.unit_of[v] for v in self.reasons}
        self.ctx = destroy.Context(d)
        if initial is not None:
            current = _from_solution(d, initial, self.skip, self.deadline)
        else:
            current = construct(d, self.skip, self.rng, self.deadline)
        if time.perf_counter() > self.deadline:  # too little time even to place every visit
            for v in current.unassigned_visits():
                self.reasons.setdefault(
                    v, "not placed: the time limit ran out before the search got to it"
                )
        self.current, self.current_cost = current, current.cost()
        self.best, self.best_cost = current.copy(), self.current_cost
        self.initial_cost = self.best_cost
        self._report()
        self.placeable = [u for u in range(len(d.units)) if u not in self.skip]
        n_place = sum(len(d.units[u]) for u in self.placeable)
        self.per_visit = 1.0 / max(1, n_place)
        self.plan = iterations or max(
            cycle_length(d.n, seconds, cfg, d.native is not None),
            int(cfg["cycle_per_visit"] * n_place),
        )
        self.ops = list(destroy.OPERATORS.values())
        self.has_breaks = any(b >= 0 for b in d.brk)
        self.weights = [1.0] * len(self.ops)
        self.q_cap = max(cfg["q_min"], min(cfg["q_max"], int(cfg["q_frac"] * len(self.placeable))))
        self.patience = max(10000, 500 * n_place)
        self.it = 0
        self.cycle_start = 0
        self.last_best = 0
        self.done = not self.placeable
        self.trace: list[tuple[int, float, float, float]] = []

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(time.perf_counter() - self.began, self.best.objective())

    def run(self, until: int | None = None) -> bool:
        """Iterate to iteration `until` (or until the search ends); returns whether it ended
        (the iteration count, no better plan for too long, or the time limit)."""
        d, cfg, rng = self.d, self.cfg, self.rng
        t_hi, t_lo = cfg["t_start"], cfg["t_end"]
        scores, decay = cfg["scores"], cfg["decay"]
        ops, weights = self.ops, self.weights
        while not self.done:
            if until is not None and self.it >= until:
                return False
            if self.iterations is not None and self.it >= self.iterations:
                self.done = True
                break
            if self.it - self.last_best > self.patience:
                self.done = True
                break
            if time.perf_counter() >= self.deadline:
                self.done = True
                break
            frac = (self.it - self.cycle_start) / self.plan
            if frac >= 1.0:  # restart from the best with the temperature raised again
                self.cycle_start = self.it
                frac = 0.0
                self.current, self.current_cost = self.best.copy(), self.best_cost
            # the temperature is relative to the best plan's cost of a visit (without the
            # penalty for visits left out)
            temperature = t_hi * (t_lo / t_hi) ** frac * _soft_cost(self.best) * self.per_visit
            self.it += 1
            candidate = self.current.copy()
            if cfg["adaptive"]:
                pick = rng.random() * sum(weights)
                o = 0
                while o < len(ops) - 1 and pick >= weights[o]:
                    pick -= weights[o]
                    o += 1
            else:
                o = rng.randrange(len(ops))
            op = ops[o]
            q = rng.randint(min(cfg["q_min"], self.q_cap), self.q_cap)
            units = op(candidate, rng, q, self.ctx)
            visits = [v for u in units for v in d.units[u]]
            avoid: frozenset[int] = frozenset()
            touched = {candidate.rk[v] for v in visits}
            candidate.remove(visits)
            if op is destroy.routes:  # empty the routes, and keep them empty if possible
                avoid = frozenset(k for k in touched if candidate.nreal_of(k) == 0)
            if not candidate.schedule() and not candidate.place_breaks(sorted(touched)):
                continue  # taking visits out before a break moved it too far: no schedule
            todo = [u for u in self.placeable if not candidate.rk[d.units[u][0]] >= 0]
            todo = _order(d, todo, rng)
            if rng.random() < cfg["regret"]:
                repair.regret(candidate, [d.units[u] for u in todo], rng, cfg["blink"], avoid)
            else:
                repair.greedy(candidate, [d.units[u] for u in todo], rng, cfg["blink"], avoid)
            if not candidate.schedule():
                continue  # pragma: no cover - insertions keep a schedule
            cost = candidate.cost()
            outcome = 3
            current_cost = self.current_cost
            if cost < current_cost - 1e-9 or rng.random() < math.exp(
                (current_cost - cost) / max(temperature, 1e-12)
            ):
                outcome = 1 if cost < current_cost - 1e-9 else 2
                self.current, self.current_cost = candidate, cost
                if cost < self.best_cost - 1e-9:
                    outcome = 0
                    if self.has_breaks:  # a new best: try its changed routes' breaks elsewhere
                        changed = touched | {candidate.rk[v] for u in todo for v in d.units[u]}
                        changed.discard(-1)
                        candidate.place_breaks(sorted(changed))
                        self.current_cost = candidate.cost()
                    self.best, self.best_cost = candidate.copy(), self.current_cost
                    self.last_best = self.it
                    self._report()
            weights[o] = max(cfg["floor"], decay * weights[o] + (1 - decay) * scores[outcome])
            if self.it % 500 == 0:
                self.trace.append((self.it, temperature, self.current_cost, self.best_cost))
        return True

    def best_routes(self) -> list[list[int]]:
        return [list(r) for r in self.best.R]

    def adopt(self, routes: list[list[int]]) -> None:
        """Take a better plan found elsewhere (another process) as the best and the current."""
        state = State(self.d)
        state.R = [list(r) for r in routes]
        for k, nodes in enumerate(state.R):
            for x in nodes:
                state.rk[x] = k
        state.schedule()
        cost = state.cost()
        if cost < self.best_cost - 1e-9:
            self.best, self.best_cost = state, cost
            self.current, self.current_cost = state.copy(), cost
            self.last_best = self.it

    def stats(self) -> dict[str, Any]:
        return {
            "initial": self.initial_cost,
            "iterations": self.it,
            "best": self.best_cost,
            "weights": dict(zip(destroy.OPERATORS, self.weights, strict=True)),
            "trace": list(self.trace),
        }

    def result(self) -> Solution:
        return _finish(self.best, self.reasons)


def _soft_cost(state: State) -> float:
    """The plan's cost without the penalties for visits left out or out of place."""
    return state.cost() - state.d.w_unassigned * (state.unassigned + state.pins)


def _order(d: Data, units: list[int], rng: random.Random) -> list[int]:
    """The order to put units back: one of several, at random (SISR's idea)."""
    r = rng.random()
    if r < 0.4:
        rng.shuffle(units)
        return units
    if r < 0.6:
        return order_units(d, units, rng)
    if r < 0.8:
        return sorted(units, key=lambda u: (-max(d.D[0][d.loc[v]] for v in d.units[u]), u))
    return sorted(units, key=lambda u: (-(d.close[d.units[u][0]] - d.open[d.units[u][0]]), u))


def _from_solution(d: Data, solution: Solution, skip: set[int], deadline: float) -> State:
    """A plan from a given solution: its routes as far as they are valid, the rest inserted."""
    problem = d.problem
    state = State(d)
    for route in solution.routes:
        if route.clinician not in problem.clinician_index:
            continue
        k = problem.clinician_index[route.clinician]
        for vid in route.visits:
            v = problem.visit_index.get(vid)
            if v is None or d.unit_of[v] in skip or state.rk[v] >= 0 or not d.can[v][k]:
                continue
            state.R[k].append(v)
            state.rk[v] = k
        if d.brk[k] >= 0:
            state.R[k].remove(d.brk[k])
            at = len(state.R[k])
            if "break" in route.visits:
                at = min(
                    at,
                    sum(
                        1
                        for x in route.visits[: route.visits.index("break")]
                        if x in problem.visit_index
                    ),
                )
            state.R[k].insert(at, d.brk[k])
    # a pair must be whole, simultaneous on two clinicians
    for a in range(d.n):
        b = d.partner[a]
        if (b >= 0 and (state.rk[a] < 0) != (state.rk[b] < 0)) or (
            b >= 0 and d.simultaneous[a] and state.rk[a] >= 0 and state.rk[a] == state.rk[b]
        ):
            state.remove([a, b])
    if not state.schedule():  # keep the visits pinned in place (re-planning: the past), if
        pinned = [v for v in range(d.n) if state.rk[v] >= 0 and d.pin_pos[v] >= 0]
        state.remove([v for v in range(d.n) if state.rk[v] >= 0 and d.pin_pos[v] < 0])
        partial = [v for v in pinned if d.partner[v] >= 0 and state.rk[d.partner[v]] < 0]
        state.remove([*partial, *(d.partner[v] for v in partial)])
        if not state.schedule():  # and failing that, start afresh
            state = State(d)
    placeable = [u for u in range(len(d.units)) if u not in skip and state.rk[d.units[u][0]] < 0]
    repair.greedy(state, [d.units[u] for u in order_units(d, placeable)], deadline=deadline)
    state.schedule()
    return state


def _finish(state: State, reasons: dict[int, str]) -> Solution:
    """The plan as a Solution; a visit still out of its pinned place is left out instead."""
    d = state.d
    reasons = dict(reasons)
    if d.has_pins:
        while True:
            out = []
            for k in range(d.m):
                real = state.real(k)
                for i, v in enumerate(real):
                    if d.pin_pos[v] >= 0 and d.pin_pos[v] != i:
                        out.append(v)
            if not out:
                break
            for v in list(out):
                if d.partner[v] >= 0:
                    out.append(d.partner[v])
            for v in out:
                reasons.setdefault(v, "could not be placed at its pinned position")
            _take_out(state, out, reasons)
    for v in range(d.n):
        if state.rk[v] < 0 and v not in reasons:
            reasons[v] = "no room in any route without breaking a hard rule"
    return state.to_solution(reasons)


def _take_out(state: State, visits: list[int], reasons: dict[int, str]) -> None:
    """Remove visits and re-time. Taking a visit out before a break moves the break (it is
    taken where the clinician is), which can leave no schedule: then the breaks are moved,
    and failing that the routes concerned are emptied, until a schedule exists."""
    d = state.d
    touched = {state.rk[v] for v in visits if state.rk[v] >= 0}
    state.remove(visits)
    while not state.schedule() and not state.place_breaks(sorted(touched)):
        more = [x for k in touched for v in state.real(k) for x in d.units[d.unit_of[v]]]
        for v in more:
            reasons.setdefault(v, "left out: its route had no schedule once a pinned visit went")
        touched = {state.rk[v] for v in more if state.rk[v] >= 0}
        state.remove(more)

"""`solve`: one entry point for every problem, choosing the solver the benchmarks chose.

1. Visits no plan can include (careway/routing/feasibility.py) are set aside with their reasons.
2. A day PyVRP can express exactly (no linked visits, hard windows, travel as the only cost:
   the VRPTW benchmarks and many plain days) goes to PyVRP, the state of the art there.
3. Everything else goes to Careway's pair-aware large neighbourhood search
   (careway/routing/search/), which moves a linked pair as one unit.
4. The independent validator (careway/routing/validate.py) checks the result and recomputes the
   objective: what `solve` reports as feasible is what the validator accepts.

`solve` is anytime: `on_progress(seconds, best_objective)` is called as the best improves, and it
returns within `seconds` plus one second. The same seed gives the same plan when the search is
not cut short by the clock (see `iterations` in the search).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import feasibility
from .model import BREAK, Problem, Solution
from .search.evaluate import evaluator
from .validate import Report, validate

Progress = Callable[[float, float], None]


@dataclass
class Result:
    solution: Solution
    report: Report
    solver: str
    seconds: float
    progress: list[tuple[float, float]] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return self.report.feasible


def choose_solver(problem: Problem) -> tuple[str, str]:
    """(solver name, why): PyVRP when it can express the problem exactly, else the search."""
    from .solvers import pyvrp_solver

    why_not = pyvrp_solver.fits(problem)
    if why_not is None:
        return "pyvrp", "no linked visits and nothing PyVRP cannot express"
    return "lns", why_not


def solve(
    problem: Problem,
    seconds: float,
    seed: int = 0,
    on_progress: Progress | None = None,
    solver: str | None = None,
    processes: int = 1,
) -> Result:
    """The best plan found within `seconds` (plus at most one), checked by the validator.
    `processes` > 1 runs the pair-aware search on that many processes (search/parallel.py);
    PyVRP and OR-Tools run on one."""
    began = time.perf_counter()
    progress: list[tuple[float, float]] = []

    def report(at: float, best: float) -> None:
        progress.append((at, best))
        if on_progress is not None:
            on_progress(at, best)

    set_aside = feasibility.unplaceable(problem)
    placeable = problem.without(set_aside) if set_aside else problem
    name = solver or choose_solver(placeable)[0]
    remaining = max(0.0, seconds - (time.perf_counter() - began))
    solution = _run(name, placeable, remaining, seed, report, processes)
    solution.unassigned = {**set_aside, **solution.unassigned}
    checked = validate(problem, solution)
    return Result(solution, checked, name, time.perf_counter() - began, progress)


def _run(
    name: str, problem: Problem, seconds: float, seed: int, report: Progress, processes: int = 1
) -> Solution:
    if not problem.visits:
        return Solution(routes=[])
    if name == "pyvrp":
        from .solvers import pyvrp_solver

        return pyvrp_solver.solve(problem, seconds, seed, report)
    if name == "lns":
        from .search import lns

        return lns.solve(problem, seconds, seed, report, processes=processes)
    if name == "ortools":
        from .solvers import ortools_solver

        return ortools_solver.solve(problem, seconds, seed)
    raise ValueError(f"no solver {name!r}: pyvrp, lns or ortools")


def describe(problem: Problem, result: Result) -> dict[str, Any]:
    """The plan as JSON: each route with arrival, start and end of every visit, the unassigned
    visits with reasons, each objective term, and whether the validator accepts it."""
    routes = []
    for route in result.solution.routes:
        clinician = problem.clinician(route.clinician)
        brk = route.break_start
        if brk is None:
            brk = result.report.break_starts.get(route.clinician)
        place, free = clinician.start, clinician.shift_start
        stops = []
        for visit_id in route.visits:
            if visit_id == BREAK:
                if brk is not None and clinician.break_ is not None:
                    free = brk + clinician.break_.duration
                continue
            visit = problem.visit(visit_id)
            start = result.report.starts.get(visit_id)
            arrival = free + float(problem.travel_time[place, visit.location])
            # Full precision: a plan printed here must pass `route check` as it stands.
            stops.append(
                {
                    "visit": visit_id,
                    "arrival": arrival,
                    "start": start,
                    "end": None if start is None else start + visit.duration,
                }
            )
            place, free = visit.location, (arrival if start is None else start) + visit.duration
        routes.append(
            {
                "clinician": route.clinician,
                "visits": list(route.visits),
                "starts": [s["start"] for s in stops],
                "stops": stops,
                **({"break_start": brk} if brk is not None else {}),
            }
        )
    return {
        "problem": problem.name,
        "solver": result.solver,
        **({"evaluator": evaluator()} if result.solver == "lns" else {}),
        "seconds": round(result.seconds, 3),
        "feasible": result.feasible,
        "objective": round(result.report.objective, 6),
        "terms": {k: round(v, 6) for k, v in result.report.terms.items()},
        "violations": [v.message for v in result.report.violations],
        "routes": routes,
        "unassigned": [
            {"visit": v, "reason": why} for v, why in result.solution.unassigned.items()
        ],
    }

"""`solve`, the one entry point: the solver it picks, and what it promises whichever it picks."""

import math
import random
import time
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careway.routing.solve import solve
from careway.routing.validate import validate

from .test_search import random_day


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.booleans(), st.booleans())
def test_any_day_gives_a_plan_the_validator_accepts_every_visit_placed_or_explained(
    seed, links, extras
):
    rng = random.Random(seed)
    problem = random_day(rng, rng.randint(2, 12), rng.randint(1, 4), links=links, extras=extras)
    began = time.perf_counter()
    result = solve(problem, 0.3, seed % 7)
    assert time.perf_counter() - began < 0.3 + 1.0
    report = validate(problem, result.solution)
    assert report.feasible, (result.solver, [v.message for v in report.violations])
    assert result.feasible and result.report.objective == report.objective
    assert set(result.solution.unassigned) | set(report.starts) == {v.id for v in problem.visits}
    assert all(result.solution.unassigned.values())


def test_linked_visits_or_soft_windows_go_to_the_pair_aware_search_a_plain_day_to_pyvrp():
    linked = next(
        day
        for seed in range(100)
        if (day := random_day(random.Random(seed), 10, 3, links=True, extras=False)).links
    )
    soft = random_day(random.Random(3), 10, 3, links=False, extras=False)
    assert any(not v.hard_close and math.isfinite(v.window_close) for v in soft.visits)
    plain = replace(soft, visits=[replace(v, hard_close=True) for v in soft.visits])
    assert solve(linked, 0.3, 0).solver == "lns"
    assert solve(soft, 0.3, 0).solver == "lns"  # lateness is a cost PyVRP cannot price
    assert solve(plain, 0.3, 0).solver == "pyvrp"

"""The search on several processes (careway/routing/search/parallel.py): the same plan for a
seed and a number of processes when bounded by iterations, plans the validator accepts, the best
of all the processes returned, and the time limit kept."""

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careway.routing.search import lns, parallel
from careway.routing.validate import validate

from .test_search import random_day


def test_a_run_bounded_by_iterations_repeats_for_a_seed_and_a_process_count():
    problem = random_day(random.Random(11), 24, 4)
    runs = []
    for _ in range(2):
        stats: dict = {}
        solution = lns.solve(problem, 120, 5, iterations=120, processes=3, stats=stats, sync=25)
        runs.append((solution.to_json(), stats["per_process"], stats["shares"]))
    assert runs[0] == runs[1]
    assert runs[0][1] == [120, 120, 120]  # every process ran its iterations


def test_the_processes_search_differently_and_the_best_of_them_comes_back():
    problem = random_day(random.Random(3), 30, 4, extras=False)  # no pins: the best is the plan
    stats: dict = {}
    solution = lns.solve(problem, 120, 1, iterations=200, processes=2, stats=stats, sync=40)
    assert parallel.seed_for(1, 0) == 1 and parallel.seed_for(1, 1) != 1
    report = validate(problem, solution)
    assert report.feasible
    assert report.objective == pytest.approx(min(stats["bests"]), abs=1e-6)
    # process 0 runs the seed itself: alone, it is the plain search
    alone = lns.solve(problem, 120, 1, iterations=40)
    shared = lns.solve(problem, 120, 1, iterations=40, processes=2, sync=40)
    assert validate(problem, shared).objective <= validate(problem, alone).objective + 1e-6


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9))
def test_plans_from_several_processes_are_valid(seed):
    problem = random_day(random.Random(seed), random.Random(seed).randint(4, 14), 3)
    solution = lns.solve(problem, 60, seed % 5, iterations=30, processes=2, sync=10)
    report = validate(problem, solution)
    assert report.feasible, [v.message for v in report.violations]
    assert set(solution.unassigned) | set(report.starts) == {v.id for v in problem.visits}


def test_the_time_limit_holds_on_several_processes():
    problem = random_day(random.Random(7), 60, 6)
    began = time.perf_counter()
    solution = lns.solve(problem, 1.5, 0, processes=2)
    assert time.perf_counter() - began < 4.0
    assert validate(problem, solution).feasible

"""PyVRP for days with no linked visits: what it can express, and that it finds the optimum.

The small cases are solved by brute force here (every split of the visits among the clinicians,
every order of each clinician's visits) and PyVRP must reach that optimum; every plan it returns
is checked by the independent validator.
"""

import itertools
import math
import random
import time

import numpy as np
import pytest

from careway.routing.model import (
    Break,
    Clinician,
    Link,
    Problem,
    Visit,
    Weights,
    planar_matrix,
)
from careway.routing.solvers import pyvrp_solver
from careway.routing.validate import validate

# --- an exhaustive solver for a handful of visits, with no links and no breaks ------------------


def route_cost(problem: Problem, clinician: Clinician, order: tuple[int, ...]) -> float | None:
    """The objective of one route (travel, lateness, continuity, overtime), or None when it
    breaks a hard rule. Written here from the model's semantics, not taken from the solver."""
    w = problem.weights
    if clinician.max_visits is not None and len(order) > clinician.max_visits:
        return None
    visits = [problem.visits[i] for i in order]
    if clinician.capacity is not None and sum(v.demand for v in visits) > clinician.capacity:
        return None
    if not visits:
        return 0.0
    cost, place, free = 0.0, clinician.start, clinician.shift_start
    for v in visits:
        if not problem.can_make(clinician, v):
            return None
        start = max(free + problem.travel_time[place, v.location], v.window_open)
        if v.hard_close and start > v.window_close + 1e-9:
            return None
        cost += w.travel * problem.distance[place, v.location]
        cost += w.total_lateness * max(0.0, start - v.window_close)
        cost += w.continuity * (v.preferred is not None and v.preferred != clinician.id)
        place, free = v.location, start + v.duration
    cost += w.travel * problem.distance[place, clinician.end]
    back = free + problem.travel_time[place, clinician.end]
    return cost + w.overtime * max(0.0, back - clinician.shift_end)


def brute_force(problem: Problem) -> float:
    """The optimum over every plan (each visit to a clinician or left out)."""
    n, k = len(problem.visits), len(problem.clinicians)
    best_route: dict[tuple[int, frozenset[int]], float] = {}
    for c_index, clinician in enumerate(problem.clinicians):
        for size in range(n + 1):
            for subset in itertools.combinations(range(n), size):
                costs = [route_cost(problem, clinician, p) for p in itertools.permutations(subset)]
                feasible = [c for c in costs if c is not None]
                best_route[(c_index, frozenset(subset))] = min(feasible, default=math.inf)
    best = math.inf
    for owners in itertools.product(range(k + 1), repeat=n):  # k: left out
        total = problem.weights.unassigned * owners.count(k)
        for c_index in range(k):
            total += best_route[(c_index, frozenset(i for i in range(n) if owners[i] == c_index))]
        best = min(best, total)
    return best


# --- problems --------------------------------------------------------------------------------


def vrptw(seed: int, customers: int = 7, vehicles: int = 2) -> Problem:
    """A small VRPTW like Solomon's: hard windows, capacity, distance only."""
    rng = random.Random(seed)
    points = [(50.0, 50.0)] + [(rng.uniform(0, 100), rng.uniform(0, 100)) for _ in range(customers)]
    matrix = planar_matrix(points)
    visits = []
    for i in range(1, customers + 1):
        earliest = matrix[0, i]
        opens = rng.uniform(0, 250)
        width = rng.choice([30.0, 60.0, 120.0])
        visits.append(
            Visit(
                id=str(i),
                location=i,
                duration=10.0,
                window_open=opens,
                window_close=max(opens + width, earliest + 1),
                hard_close=True,
                demand=float(rng.randint(5, 25)),
            )
        )
    clinicians = [
        Clinician(id=f"v{j}", start=0, end=0, shift_start=0, shift_end=1000, capacity=60)
        for j in range(vehicles)
    ]
    return Problem(
        clinicians,
        visits,
        matrix,
        matrix.copy(),
        weights=Weights(travel=1, total_lateness=0, overtime=0, unassigned=10_000),
    )


def home_day() -> Problem:
    """No links, but skills, a pin, continuity, max visits, overtime and a clinician who ends
    somewhere else: what fits() claims PyVRP expresses exactly."""
    points = [(0, 0), (40, 0), (10, 10), (20, -5), (30, 15), (5, -20), (35, -10), (25, 25)]
    matrix = planar_matrix(points) * 1.35
    rn = Clinician("rn", start=0, end=0, shift_start=480, shift_end=640, skills=frozenset({"RN"}))
    hha = Clinician(
        "hha", start=1, end=0, shift_start=480, shift_end=700, skills=frozenset({"HHA"}),
        max_visits=2,
    )  # fmt: skip
    visits = [
        Visit("a", 2, 30, skill="RN", window_open=500, window_close=560, hard_close=True),
        Visit("b", 3, 45, preferred="hha"),
        Visit("c", 4, 30, skill="HHA", preferred="hha"),
        Visit("d", 5, 40, window_open=540, window_close=600, hard_close=True, preferred="rn"),
        Visit("e", 6, 30, pinned_to="rn"),
        Visit("f", 7, 45, skill="HHA", window_open=480, window_close=720),  # soft, weight 0
    ]
    weights = Weights(
        travel=1, total_lateness=0, max_lateness=0, continuity=7, overtime=2, unassigned=500
    )
    return Problem([rn, hha], visits, matrix, matrix / 1.35, weights=weights)


def big_day(visits: int = 100, seed: int = 5) -> Problem:
    rng = random.Random(seed)
    points = [(50.0, 50.0)] + [(rng.uniform(0, 100), rng.uniform(0, 100)) for _ in range(visits)]
    matrix = planar_matrix(points)
    out = []
    for i in range(1, visits + 1):
        opens = rng.uniform(0, 800)
        out.append(Visit(str(i), i, 10.0, window_open=opens, window_close=opens + 120,
                         hard_close=True, demand=10.0))  # fmt: skip
    fleet = [Clinician(f"v{j}", 0, 0, 0, 1200, capacity=200) for j in range(20)]
    return Problem(fleet, out, matrix, matrix.copy(), weights=Weights(1, 0, 0, 0, 0, 10_000))


# --- what PyVRP can express ----------------------------------------------------------------------


def test_fits_takes_vrptw_and_plain_home_days():
    assert pyvrp_solver.fits(vrptw(1)) is None
    assert pyvrp_solver.fits(home_day()) is None


def test_fits_refuses_what_pyvrp_cannot_express_with_the_reason():
    day = home_day()
    linked = Problem(day.clinicians, day.visits, day.travel_time, day.distance,
                     links=[Link("simultaneous", "b", "e")], weights=day.weights)  # fmt: skip
    assert "linked visit" in (pyvrp_solver.fits(linked) or "")

    late = Weights(travel=1, total_lateness=1)
    soft = Problem(day.clinicians, day.visits, day.travel_time, day.distance, weights=late)
    assert "visit f has a soft window close with a lateness cost" in (pyvrp_solver.fits(soft) or "")
    worst = Weights(travel=1, total_lateness=0, max_lateness=1)
    soft_worst = Problem(day.clinicians, day.visits, day.travel_time, day.distance, weights=worst)
    assert "soft window" in (pyvrp_solver.fits(soft_worst) or "")

    resting = [day.clinicians[0], Clinician("hha", 1, 0, 480, 700, break_=Break(600, 660, 30))]
    with_break = Problem(resting, day.visits, day.travel_time, day.distance, weights=day.weights)
    assert "clinician hha has a break" in (pyvrp_solver.fits(with_break) or "")

    placed = [*day.visits[:-1], Visit("f", 7, 45, pinned_to="hha", pinned_position=0)]
    positioned = Problem(day.clinicians, placed, day.travel_time, day.distance, weights=day.weights)
    assert "visit f is pinned to a position" in (pyvrp_solver.fits(positioned) or "")

    odd = Weights(travel=1, total_lateness=0, overtime=0.1234)
    uneven = Problem(day.clinicians, day.visits, day.travel_time, day.distance, weights=odd)
    assert "overtime weight" in (pyvrp_solver.fits(uneven) or "")
    with pytest.raises(ValueError, match="linked visit"):
        pyvrp_solver.solve(linked, 1, 0)


# --- the solver ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pyvrp_reaches_the_brute_force_optimum_of_a_small_vrptw(seed):
    problem = vrptw(seed)
    optimum = brute_force(problem)
    assert optimum < 10_000  # every customer placed
    solution = pyvrp_solver.solve(problem, 1.0, seed=0, iterations=3000)
    report = validate(problem, solution)
    assert report.feasible, report.violations
    assert not solution.unassigned
    assert report.objective == pytest.approx(optimum, abs=1e-6)


def test_pyvrp_reaches_the_optimum_of_a_home_day_with_skills_pins_continuity_and_overtime():
    problem = home_day()
    optimum = brute_force(problem)
    solution = pyvrp_solver.solve(problem, 1.0, seed=0, iterations=3000)
    report = validate(problem, solution)
    assert report.feasible, report.violations
    assert report.objective == pytest.approx(optimum, abs=1e-6)
    made_by = {v: r.clinician for r in solution.routes for v in r.visits}
    assert made_by.get("e", "rn") == "rn"  # pinned
    assert made_by.get("a", "rn") == "rn" and made_by.get("c", "hha") == "hha"  # skills
    assert sum(1 for v in made_by.values() if v == "hha") <= 2  # max_visits
    # The aide is full, so the nurse makes b, which the aide's patient would rather not.
    assert report.terms["continuity"] >= 1 and report.terms["overtime"] > 0


def test_starts_are_the_earliest_in_double_precision():
    problem = vrptw(2)
    solution = pyvrp_solver.solve(problem, 1.0, seed=0, iterations=500)
    for route in solution.routes:
        assert route.starts is not None
        place, free = 0, 0.0
        for visit_id, start in zip(route.visits, route.starts, strict=True):
            visit = problem.visit(visit_id)
            assert start == max(
                free + problem.travel_time[place, visit.location], visit.window_open
            )
            assert start <= visit.window_close
            place, free = visit.location, start + visit.duration


def test_a_visit_that_fits_nowhere_comes_back_unassigned_with_the_reason():
    # One nurse; two visits that must both start at minute 100, 60 apart: one is left out.
    matrix = planar_matrix([(0, 0), (30, 0), (-30, 0)])
    visits = [
        Visit(v, i, 20, window_open=100, window_close=100, hard_close=True)
        for i, v in ((1, "east"), (2, "west"))
    ]
    problem = Problem([Clinician("rn", 0, 0, 0, 600)], visits, matrix, matrix.copy(),
                      weights=Weights(travel=1, unassigned=1000))  # fmt: skip
    solution = pyvrp_solver.solve(problem, 1.0, seed=0, iterations=500)
    report = validate(problem, solution)
    assert report.feasible
    assert len(solution.unassigned) == 1
    assert "no room" in next(iter(solution.unassigned.values()))
    assert report.objective == pytest.approx(60 + 1000)


def test_the_same_seed_gives_the_same_plan():
    problem = big_day(60)
    plans = [pyvrp_solver.solve(problem, 5.0, seed=4, iterations=400) for _ in range(2)]
    assert [(r.clinician, r.visits) for r in plans[0].routes] == [
        (r.clinician, r.visits) for r in plans[1].routes
    ]


def test_progress_is_reported_as_the_best_improves():
    problem = big_day(60)
    seen: list[tuple[float, float]] = []
    solution = pyvrp_solver.solve(
        problem, 1.0, seed=1, on_progress=lambda t, c: seen.append((t, c))
    )
    assert seen
    times, costs = zip(*seen, strict=True)
    assert list(times) == sorted(times) and all(t <= 1.5 for t in times)
    assert all(later < earlier for earlier, later in itertools.pairwise(costs))
    # PyVRP's integer objective, unscaled, is the validator's to within the rounding.
    assert costs[-1] == pytest.approx(validate(problem, solution).objective, rel=1e-4)


def test_the_time_limit_is_respected():
    problem = big_day(100)
    began = time.perf_counter()
    solution = pyvrp_solver.solve(problem, 1.0, seed=0)
    assert time.perf_counter() - began < 2.0
    assert validate(problem, solution).feasible


def test_no_visits_no_routes():
    empty = Problem([Clinician("rn", 0, 0)], [], np.zeros((1, 1)), np.zeros((1, 1)))
    assert pyvrp_solver.solve(empty, 1.0).routes == []
    nobody = Problem([], [Visit("a", 0, 30)], np.zeros((1, 1)), np.zeros((1, 1)))
    assert pyvrp_solver.solve(nobody, 1.0).unassigned == {"a": "no clinicians"}

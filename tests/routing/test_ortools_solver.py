"""OR-Tools routing with the model written exactly: the comparison solver of the benchmarks.

Every plan is checked by the independent validator: linked visits keep their link, skills,
pins, breaks and visit counts hold.
"""

import random
import time

import pytest

from careway.routing.model import (
    BREAK,
    Break,
    Clinician,
    Link,
    Problem,
    Visit,
    Weights,
    planar_matrix,
)
from careway.routing.solvers import ortools_solver
from careway.routing.validate import validate


def two_person_day(links: list[Link]) -> Problem:
    """A nurse and an aide, five homes; soft windows (late at a cost)."""
    points = [(0, 0), (10, 0), (20, 5), (5, 15), (-10, 5), (0, -12)]
    matrix = planar_matrix(points)
    nurse = Clinician("rn", 0, 0, 480, 900, skills=frozenset({"RN", "HHA"}))
    aide = Clinician("hha", 0, 0, 480, 900, skills=frozenset({"HHA"}))
    visits = [
        Visit("transfer-rn", 1, 30, skill="RN", window_open=540, window_close=600),
        Visit("transfer-hha", 1, 30, skill="HHA", window_open=540, window_close=600),
        Visit("assess", 2, 40, skill="RN", window_open=480, window_close=720),
        Visit("bath", 2, 45, skill="HHA", window_open=480, window_close=800),
        Visit("wound", 3, 30, skill="RN", window_open=600, window_close=660),
        Visit("meds", 4, 20, window_open=480, window_close=540),
        Visit("check", 5, 20),
    ]
    weights = Weights(travel=1, total_lateness=1, max_lateness=0, unassigned=1000)
    return Problem([nurse, aide], visits, matrix, matrix.copy(), links=links, weights=weights)


def solved(problem: Problem, seconds: float = 0.5):
    solution = ortools_solver.solve(problem, seconds)
    report = validate(problem, solution)
    assert report.feasible, [v.message for v in report.violations]
    return solution, report


def clinician_of(solution, visit_id):
    return next(r.clinician for r in solution.routes if visit_id in r.visits)


def test_a_simultaneous_pair_starts_together_with_two_clinicians():
    problem = two_person_day([Link("simultaneous", "transfer-rn", "transfer-hha")])
    solution, report = solved(problem)
    assert not solution.unassigned
    assert report.starts["transfer-rn"] == pytest.approx(report.starts["transfer-hha"], abs=1e-6)
    assert clinician_of(solution, "transfer-rn") != clinician_of(solution, "transfer-hha")
    assert clinician_of(solution, "transfer-rn") == "rn"  # the only one with the skill
    assert clinician_of(solution, "bath") in {"rn", "hha"}


def test_an_ordered_pair_keeps_its_gap():
    problem = two_person_day([Link("ordered", "assess", "bath", min_gap=30, max_gap=90)])
    solution, report = solved(problem)
    gap = report.starts["bath"] - report.starts["assess"]
    assert 30 - 1e-6 <= gap <= 90 + 1e-6
    assert not solution.unassigned


def test_skills_pins_positions_max_visits_and_a_break_hold():
    day = two_person_day([])
    nurse = Clinician("rn", 0, 0, 480, 900, skills=frozenset({"RN", "HHA"}),
                      break_=Break(600, 660, 30))  # fmt: skip
    aide = Clinician("hha", 0, 0, 480, 900, skills=frozenset({"HHA"}), max_visits=3)
    visits = [
        Visit("check", 5, 20, pinned_to="hha", pinned_position=0) if v.id == "check" else v
        for v in day.visits
    ]
    problem = Problem([nurse, aide], visits, day.travel_time, day.distance, weights=day.weights)
    solution, _ = solved(problem)
    routes = {r.clinician: r for r in solution.routes}
    assert routes["hha"].visits[0] == "check"
    assert len([v for v in routes["hha"].visits if v != BREAK]) <= 3
    assert BREAK in routes["rn"].visits
    assert 600 - 1e-6 <= (routes["rn"].break_start or 0) <= 660 + 1e-6
    for r in solution.routes:
        for v in r.visits:
            if v != BREAK and problem.visit(v).skill is not None:
                assert problem.visit(v).skill in problem.clinician(r.clinician).skills


def test_a_small_vrptw_is_solved_feasibly():
    rng = random.Random(3)
    points = [(50.0, 50.0)] + [(rng.uniform(0, 100), rng.uniform(0, 100)) for _ in range(12)]
    matrix = planar_matrix(points)
    visits = []
    for i in range(1, 13):
        opens = rng.uniform(0, 300)
        visits.append(Visit(str(i), i, 10, window_open=opens, window_close=opens + 150,
                            hard_close=True, demand=10))  # fmt: skip
    fleet = [Clinician(f"v{j}", 0, 0, 0, 1000, capacity=40) for j in range(4)]
    problem = Problem(fleet, visits, matrix, matrix.copy(), weights=Weights(1, 0, 0, 0, 0, 10_000))
    solution, _ = solved(problem)
    assert not solution.unassigned
    for r in solution.routes:
        assert sum(problem.visit(v).demand for v in r.visits) <= 40


def test_the_same_problem_gives_the_same_plan_and_the_time_limit_holds():
    rng = random.Random(8)
    points = [(50.0, 50.0)] + [(rng.uniform(0, 100), rng.uniform(0, 100)) for _ in range(100)]
    matrix = planar_matrix(points)
    visits = [Visit(str(i), i, 10, window_open=(o := rng.uniform(0, 800)), window_close=o + 120,
                    hard_close=True) for i in range(1, 101)]  # fmt: skip
    fleet = [Clinician(f"v{j}", 0, 0, 0, 1200) for j in range(20)]
    problem = Problem(fleet, visits, matrix, matrix.copy(), weights=Weights(1, 0, 0, 0, 0, 10_000))
    began = time.perf_counter()
    solution = ortools_solver.solve(problem, 1.0)
    assert time.perf_counter() - began < 2.0
    assert validate(problem, solution).feasible
    small = two_person_day([Link("simultaneous", "transfer-rn", "transfer-hha")])
    first, second = ortools_solver.solve(small, 0.5), ortools_solver.solve(small, 0.5)
    assert [(r.clinician, r.visits) for r in first.routes] == [
        (r.clinician, r.visits) for r in second.routes
    ]


def test_its_own_cost_is_the_validators_objective_with_several_start_places():
    # Clinicians leaving from home (three different places, two sharing one), continuity
    # charged: what OR-Tools minimises must be what the validator scores.
    points = [(0, 0), (30, 0), (-20, 10), (5, 5), (25, 10), (-15, -5), (10, -10), (20, 20)]
    matrix = planar_matrix(points)
    fleet = [
        Clinician("a", 0, 0, 480, 1200),
        Clinician("b", 1, 0, 480, 1200),
        Clinician("c", 2, 2, 480, 1200),
        Clinician("d", 1, 1, 480, 1200),
    ]
    visits = [
        Visit(f"v{i}", i, 20, preferred="abcd"[i % 4] if i % 2 else None) for i in range(3, 8)
    ]
    weights = Weights(travel=1, total_lateness=0, continuity=15, overtime=0, unassigned=1000)
    problem = Problem(fleet, visits, matrix, matrix.copy(), weights=weights)
    seen: list[float] = []
    solution = ortools_solver.solve(problem, 0.5, on_progress=lambda t, c: seen.append(c))
    report = validate(problem, solution)
    assert report.feasible
    assert seen and seen[-1] == pytest.approx(report.objective, abs=1e-3)

"""Re-planning a day under way (careway/routing/replan.py): the past never moves, the plan is
one the validator accepts, visits the change did not touch keep their clinician when that is
worth it, every move has a reason, and bad changes are named."""

import dataclasses
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careway.routing.model import BREAK, Problem
from careway.routing.replan import Change, ChangeError, changed_day, replan
from careway.routing.search import lns
from careway.routing.validate import validate

from .test_cli import EXAMPLES, run
from .test_search import random_day


def placed(solution):
    """visit -> (clinician, place among the route's visits)"""
    out = {}
    for route in solution.routes:
        real = [x for x in route.visits if x != BREAK]
        for i, vid in enumerate(real):
            out[vid] = (route.clinician, i)
    return out


def a_change(rng, problem, plan, report):
    """A random change at a random moment of a random day: one of each kind, or several."""
    starts = sorted(report.starts.values()) or [0.0]
    at = rng.choice(starts) + rng.choice([-1.0, 0.0, 1.0, 30.0])
    done = {vid for vid, t in report.starts.items() if t < at}
    kinds = rng.sample(["cancel", "lost", "new", "gain"], rng.randint(1, 2))
    change = Change(at=at)
    if "cancel" in kinds:
        free = [v.id for v in problem.visits if v.id not in done]
        change.cancel = rng.sample(free, min(len(free), rng.randint(1, 2)))
    if "lost" in kinds:
        change.lost = [rng.choice(problem.clinicians).id]
    if "new" in kinds:
        v = rng.choice(problem.visits)
        change.visits = [
            dataclasses.replace(v, id="new-1", window_open=at + 10, window_close=at + 200)
        ]
    if "gain" in kinds:
        c = rng.choice(problem.clinicians)
        change.clinicians = [dataclasses.replace(c, id="extra-1")]
    return change


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9))
def test_the_past_never_moves_and_the_new_plan_is_valid(seed):
    rng = random.Random(seed)
    problem = random_day(rng, rng.randint(4, 14), rng.randint(2, 4))
    plan = lns.solve(problem, 30, seed % 3, iterations=30)
    report = validate(problem, plan)
    change = a_change(rng, problem, plan, report)
    result = replan(problem, plan, change, 30, seed % 5, iterations=60)
    day = result.problem
    assert result.report.feasible, [v.message for v in result.report.violations]
    # every visit of the changed day is placed, or left out with a reason
    after = placed(result.solution)
    assert set(after) | set(result.solution.unassigned) == {v.id for v in day.visits}
    assert all(result.solution.unassigned.values())
    before = placed(plan)
    for vid in result.fixed:  # done or under way: same clinician, same place, same start
        assert report.starts[vid] < change.at
        assert after[vid] == before[vid]
        assert result.report.starts[vid] == pytest.approx(report.starts[vid], abs=1e-6)
    for vid, t in result.report.starts.items():  # nothing else starts before the change
        if vid not in result.fixed:
            assert t >= change.at - 1e-6
    assert not set(change.cancel) & set(after)
    for cid in change.lost:  # a lost clinician makes only what they had begun
        route = next(r for r in result.solution.routes if r.clinician == cid)
        assert {x for x in route.visits if x != BREAK} <= set(result.fixed)
    # the objective without the stability term is the day's own
    plain = dataclasses.replace(day, weights=dataclasses.replace(day.weights, reassigned=0))
    assert validate(plain, result.solution).objective == pytest.approx(result.objective)


def test_a_replan_bounded_by_iterations_gives_the_same_plan_for_a_seed():
    rng = random.Random(7)
    problem = random_day(rng, 12, 3)
    plan = lns.solve(problem, 30, 0, iterations=30)
    change = a_change(rng, problem, plan, validate(problem, plan))
    runs = [replan(problem, plan, change, 30, 4, iterations=80) for _ in range(2)]
    assert runs[0].solution.routes == runs[1].solution.routes
    assert runs[0].solution.unassigned == runs[1].solution.unassigned


def test_a_replan_polishes_with_short_cooling_cycles(monkeypatch):
    """A re-plan starts from a good plan: the long warm cycle that a short run of a large day
    gets from scratch (lns.cycle_length) would wander away from it, so it keeps short ones."""
    from careway.routing.generate import agency_day

    problem = Problem.from_json(agency_day(40, 300, seed=3))
    plan = lns.solve(problem, 30, 0, iterations=1)
    assert lns.Search(problem, 1.0, 0).plan > lns.DEFAULTS["warm_below"] * len(problem.visits)
    cycles = []
    run = lns.Search.run
    monkeypatch.setattr(
        lns.Search, "run", lambda self, until=None: [cycles.append(self.plan), run(self, until)][1]
    )
    report = validate(problem, plan)
    victim = max(report.starts, key=report.starts.get)
    replan(problem, plan, Change(at=min(report.starts.values()) + 1, cancel=[victim]), 1.0)
    assert cycles and cycles[0] < lns.DEFAULTS["warm_below"] * len(problem.visits)


def agency_plan():
    from careway.routing.generate import agency_day

    problem = Problem.from_json(agency_day(8, 40, seed=3))
    return problem, lns.solve(problem, 60, 0, iterations=400)


@pytest.fixture(scope="module")
def agency():
    return agency_plan()


def test_visits_the_change_did_not_touch_keep_their_clinician_when_moving_costs(agency):
    problem, plan = agency
    report = validate(problem, plan)
    first = min(report.starts.values())
    victim = next(v.id for v in problem.visits if report.starts.get(v.id, 0) > first + 60)
    change = Change(at=first + 1, cancel=[victim])
    firm = replan(problem, plan, change, 2.0, stability=1e5)
    assert firm.report.feasible and firm.untouched > 0
    assert firm.kept == firm.untouched
    assert [m.why for m in firm.moved if m.visit == victim] == [f"cancelled at {clock(first + 1)}"]


def test_a_lost_clinicians_visits_go_elsewhere_and_each_move_says_why(agency):
    problem, plan = agency
    report = validate(problem, plan)
    busiest = max(plan.routes, key=lambda r: len(r.visits))
    at = min(report.starts[v] for v in busiest.visits if v != BREAK) - 5
    result = replan(problem, plan, Change(at=at, lost=[busiest.clinician]), 2.0)
    assert result.report.feasible
    orphans = [v for v in busiest.visits if v != BREAK]
    assert set(result.touched) == set(orphans)
    reasons = {m.visit: m.why for m in result.moved}
    for vid in orphans:
        assert (
            f"its clinician {busiest.clinician} is not available from {clock(at)}" in reasons[vid]
            or vid in result.solution.unassigned
        )
    assert all(m.why for m in result.moved)
    # the default stability: the old plan's mean cost of a visit
    assert result.stability == pytest.approx(
        (report.objective - problem.weights.unassigned * report.terms["unassigned"])
        / len(report.starts)
    )


def clock(minutes):
    whole = round(minutes)
    return f"{whole // 60:02d}:{whole % 60:02d}"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ([], "change: must be a JSON object"),
        ({"cancel": []}, "change.at"),
        ({"at": "soon"}, "change.at"),
        ({"at": 500, "when": 1}, "change.when: not a field"),
        ({"at": 500, "cancel": ["nobody"]}, "change.cancel[0]: no visit 'nobody'"),
        ({"at": 500, "cancel": "v1"}, "change.cancel: must be a list"),
        ({"at": 500, "lost": ["ghost"]}, "change.lost[0]: no clinician 'ghost'"),
        (
            {"at": 500, "new_visits": [{"id": "x", "location": "mars", "duration": 5}]},
            "change.new_visits[0].location",
        ),
        (
            {"at": 500, "new_links": [{"type": "simultaneous", "visits": ["a", "b"]}]},
            "change.new_links[0].visits[0]",
        ),
    ],
)
def test_a_bad_change_is_named(agency, raw, words):
    problem, plan = agency
    with pytest.raises(ChangeError, match=None) as caught:
        change = Change.from_json(raw, problem)
        changed_day(problem, plan, change)
    assert words in str(caught.value)


def test_a_visit_already_begun_cannot_be_cancelled(agency):
    problem, plan = agency
    report = validate(problem, plan)
    vid, t = min(report.starts.items(), key=lambda e: e[1])
    with pytest.raises(ChangeError, match=r"change.cancel\[0\]: visit .* is done or under way"):
        changed_day(problem, plan, Change(at=t + 1, cancel=[vid]))
    partial = dataclasses.replace(plan, routes=plan.routes[:1])  # visits neither in nor out
    with pytest.raises(ChangeError, match=r"^plan: not valid for this day \(visits\["):
        changed_day(problem, partial, Change(at=t + 1))


def test_the_command_prints_the_new_plan_and_what_moved(capsys, tmp_path):
    example = EXAMPLES / "small-day.json"
    status, out, _ = run(capsys, "route", "solve", str(example), "--seconds", "2")
    assert status == 0
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(out)
    plan = json.loads(out)
    busy = next(r for r in plan["routes"] if r["stops"])
    first = busy["stops"][0]
    change = {"at": first["start"] - 10, "lost": [busy["clinician"]]}
    change_path = tmp_path / "change.json"
    change_path.write_text(json.dumps(change))
    status, out, err = run(
        capsys, "route", "replan", str(example), str(plan_path), str(change_path), "--seconds", "2"
    )
    assert status == 0, err
    again = json.loads(out)
    assert again["feasible"]
    assert again["replan"]["touched"] == sorted(s["visit"] for s in busy["stops"])
    moved = {m["visit"]: m for m in again["replan"]["moved"]}
    assert set(again["replan"]["touched"]) <= set(moved)
    assert all(moved[v]["before"] == busy["clinician"] for v in again["replan"]["touched"])
    assert all("is not available from" in moved[v]["why"] for v in again["replan"]["touched"])
    assert not any(r["visits"] for r in again["routes"] if r["clinician"] == busy["clinician"])


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("{not json", "not valid JSON"),
        ('{"at": 600, "cancel": ["nobody"]}', "change.cancel[0]: no visit 'nobody'"),
        ('{"at": 600, "lost": ["x"], "extra": 1}', "change.extra: not a field"),
    ],
)
def test_the_command_names_a_bad_change_in_one_line(capsys, tmp_path, change, words):
    example = EXAMPLES / "small-day.json"
    status, out, _ = run(capsys, "route", "solve", str(example), "--seconds", "1")
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(out)
    change_path = tmp_path / "change.json"
    change_path.write_text(change)
    status, out, err = run(
        capsys, "route", "replan", str(example), str(plan_path), str(change_path)
    )
    assert status == 2 and out == "" and "Traceback" not in err
    assert words in err and len(err.strip().splitlines()) == 1


def test_the_command_refuses_a_plan_of_another_day(capsys, tmp_path):
    example = EXAMPLES / "small-day.json"
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps({"routes": [{"clinician": "nobody", "visits": ["x"]}]}))
    change_path = tmp_path / "change.json"
    change_path.write_text('{"at": 500}')
    status, out, err = run(
        capsys, "route", "replan", str(example), str(plan_path), str(change_path)
    )
    assert status == 2 and out == "" and "plan: not valid for this day" in err


def test_the_documented_change_matches_its_schema_and_replans(capsys, tmp_path):
    import jsonschema_rs

    docs = EXAMPLES.parent
    change = docs / "changes" / "small-day-nurse-sick.json"
    jsonschema_rs.validate(
        json.loads((docs / "change.schema.json").read_text()), json.loads(change.read_text())
    )
    example = EXAMPLES / "small-day.json"
    status, out, _ = run(capsys, "route", "solve", str(example), "--seconds", "2")
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(out)
    status, out, err = run(capsys, "route", "replan", str(example), str(plan_path), str(change))
    assert status == 0, err
    again = json.loads(out)
    moved = {m["visit"]: m for m in again["replan"]["moved"]}
    # the nurse's visits go to the float nurse who joined, but the one pinned to her cannot
    assert moved["pham-rn"]["after"] is None and "pinned to rn-rivera" in moved["pham-rn"]["why"]
    assert moved["pham-urgent"]["after"] == "rn-float"
    assert {m["after"] for v, m in moved.items() if m["before"] == "rn-rivera"} <= {
        "rn-float",
        None,
    }
    assert not any(r["visits"] for r in again["routes"] if r["clinician"] == "rn-rivera")

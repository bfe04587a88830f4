"""Mankowska's home health instances (JSON of Ceschia et al.): read as a Careway problem, and
every published best solution re-scored by the validator to its row of mankowska_best.md."""

import copy
import json

import pytest

from careway.routing.formats import hhcrsp
from careway.routing.model import ORDERED, SIMULTANEOUS, ProblemError, Route, Solution
from careway.routing.validate import validate
from tests.conftest import SHARED_DATA

DATA = SHARED_DATA / "hhcrsp"
TABLE = DATA / "mankowska_best.md"


def published_rows():
    """(instance, distance, max tardiness, total tardiness, total cost, solution file) per row."""
    if not TABLE.is_file():
        return [pytest.param(None, id="no-data")]
    rows = []
    for line in TABLE.read_text().splitlines()[2:]:  # past the header and its rule
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        instance, distance, worst, total, cost, solution = cells
        numbers = tuple(float(x) for x in (distance, worst, total, cost))
        rows.append(pytest.param((instance, *numbers, solution), id=instance.removesuffix(".json")))
    return rows


@pytest.mark.parametrize("row", published_rows())
def test_every_published_solution_rescores_to_its_row(row, shared_data):
    shared_data("hhcrsp", "mankowska_best.md")
    instance, distance, worst, total, cost, solution = row
    problem = hhcrsp.read_instance(DATA / "mankowska" / instance)
    path = DATA / "solutions" / "mankowska" / solution
    # As published (each service's start time given), and with the times dropped so that the
    # validator works out the earliest schedule itself: both give the published row.
    for times in (True, False):
        report = validate(problem, hhcrsp.read_solution(problem, path, times=times))
        assert report.feasible, report.violations[:5]
        assert report.terms["travel"] == pytest.approx(distance, abs=0.01)
        assert report.terms["max_lateness"] == pytest.approx(worst, abs=0.01)
        assert report.terms["total_lateness"] == pytest.approx(total, abs=0.01)
        assert report.objective == pytest.approx(cost, abs=0.01)
        assert report.terms["unassigned"] == 0


def test_a_written_solution_reads_back_to_the_same_plan(shared_data):
    shared_data("hhcrsp", "mankowska_best.md")
    instance, solution = (
        "InstanzCPLEX_HCSRP_25_1.json",
        "sol-InstanzCPLEX_HCSRP_25_1-594983811.json",
    )
    problem = hhcrsp.read_instance(DATA / "mankowska" / instance)
    original = json.loads((DATA / "solutions" / "mankowska" / solution).read_text())
    plan = hhcrsp.read_solution(problem, original, times=False)
    report = validate(problem, plan)
    written = hhcrsp.write_solution(problem, plan, report)
    assert set(written) == set(original)
    assert [r["caregiver_id"] for r in written["routes"]] == [
        r["caregiver_id"] for r in original["routes"]
    ]
    for mine, theirs in zip(written["routes"], original["routes"], strict=True):
        assert [(s["patient"], s["service"]) for s in mine.get("locations", [])] == [
            (s["patient"], s["service"]) for s in theirs.get("locations", [])
        ]
        for s, t in zip(mine.get("locations", []), theirs.get("locations", []), strict=True):
            assert s["arrival_time"] == pytest.approx(t["arrival_time"], abs=2e-3)
    again = validate(problem, hhcrsp.read_solution(problem, written))
    assert again.feasible and again.objective == pytest.approx(report.objective, abs=1e-9)


# --- the mapping, on a small instance of our own ---------------------------------------------

SMALL = {
    "patients": [
        {
            "id": "p1",
            "location": [0, 10],
            "time_window": [60, 120],
            "required_caregivers": [{"service": "s1", "duration": 20}],
        },
        {
            "id": "p2",
            "location": [10, 10],
            "time_window": [90, 150],
            "required_caregivers": [{"service": "s1"}, {"service": "s2", "duration": 15}],
            "synchronization": {"type": "simultaneous"},
        },
        {
            "id": "p3",
            "location": [10, 0],
            "time_window": [0, 30],
            "required_caregivers": [{"service": "s2", "duration": 10}, {"service": "s1"}],
            "synchronization": {"type": "sequential", "distance": [20, 40]},
        },
    ],
    "services": [{"id": "s1", "default_duration": 25}, {"id": "s2", "default_duration": 5}],
    "caregivers": [{"id": "c1", "abilities": ["s1"]}, {"id": "c2", "abilities": ["s1", "s2"]}],
    "central_offices": [{"id": "d", "location": [0, 0]}],
    "distances": [
        [0, 10, 14.142, 10],
        [10, 0, 10, 14.142],
        [14.142, 10, 0, 10],
        [10, 14.142, 10, 0],
    ],
}


def test_each_required_service_is_a_visit_and_a_double_service_a_link():
    problem = hhcrsp.read_instance(SMALL)
    assert [v.id for v in problem.visits] == ["p1:s1", "p2:s1", "p2:s2", "p3:s2", "p3:s1"]
    p2 = problem.visit("p2:s1")
    assert (p2.skill, p2.duration, p2.location) == ("s1", 25, 2)  # default duration of s1
    assert (p2.window_open, p2.window_close, p2.hard_close) == (90, 150, False)
    assert problem.links[0].kind == SIMULTANEOUS
    assert (problem.links[0].first, problem.links[0].second) == ("p2:s1", "p2:s2")
    seq = problem.links[1]
    assert (seq.kind, seq.first, seq.second, seq.min_gap, seq.max_gap) == (
        ORDERED,
        "p3:s2",  # the first listed service comes first
        "p3:s1",
        20,
        40,
    )
    c2 = problem.clinician("c2")
    assert (c2.start, c2.end, c2.shift_start, c2.skills) == (0, 0, 0, {"s1", "s2"})
    assert problem.travel_time[0, 2] == problem.distance[0, 2] == 14.142
    w = problem.weights
    assert w.travel == w.total_lateness == w.max_lateness == pytest.approx(1 / 3)
    assert w.continuity == w.overtime == 0 and w.unassigned > 1000


def test_a_small_plan_scored_by_hand():
    data = copy.deepcopy(SMALL)
    data["patients"][1]["time_window"] = [90, 95]
    problem = hhcrsp.read_instance(data)
    plan = Solution([Route("c1", ["p3:s1", "p1:s1", "p2:s1"]), Route("c2", ["p3:s2", "p2:s2"])])
    report = validate(problem, plan)
    assert report.feasible, report.violations
    # c2: p3:s2 at 10 (10 away), 10 long. c1 is at p3 at 10 too, but p3:s1 must wait 20 after
    # p3:s2: 30, 25 long (s1's default), then 14.142 to p1: 69.142 (opens 60), ends 89.142,
    # 10 to p2: 99.142. c2 waits at p2 (there at 30) to start p2:s2 with c1 at 99.142.
    assert report.starts == pytest.approx(
        {"p3:s2": 10, "p3:s1": 30, "p1:s1": 69.142, "p2:s1": 99.142, "p2:s2": 99.142}
    )
    # p2 closes at 95: both services 4.142 late.
    assert report.terms["total_lateness"] == pytest.approx(8.284)
    assert report.terms["max_lateness"] == pytest.approx(4.142)
    # c1: 10 + 14.142 + 10 + 14.142 back; c2: 10 + 10 + 14.142 back.
    assert report.terms["travel"] == pytest.approx(82.426)
    assert report.objective == pytest.approx((82.426 + 8.284 + 4.142) / 3)


def test_a_plan_whose_gap_cannot_be_kept_has_no_schedule():
    problem = hhcrsp.read_instance(SMALL)
    # c2 makes p3:s2, then p2:s2 (at least 10 + 10 + 15 + 10 = 45 later back at p3) before
    # p3:s1, which must start at most 40 after p3:s2.
    plan = Solution([Route("c1", ["p1:s1", "p2:s1"]), Route("c2", ["p3:s2", "p2:s2", "p3:s1"])])
    report = validate(problem, plan)
    (v,) = [v for v in report.violations if v.kind == "no-schedule"]
    assert all(name in v.message for name in ("p3:s2", "p2:s2", "p3:s1"))


def test_the_solution_file_reads_either_key_spelling_and_checks_durations():
    problem = hhcrsp.read_instance(SMALL)
    data = {
        "routes": [
            {
                "caregiver_id": "c1",
                "locations": [
                    {
                        "patient_id": "p1",
                        "service_id": "s1",
                        "arrival_time": 60,
                        "departure_time": 80,
                    },
                ],
            },
            {"caregiver_id": "c2"},
        ]
    }
    plan = hhcrsp.read_solution(problem, data)
    assert plan.routes[0] == Route("c1", ["p1:s1"], [60.0])
    assert plan.routes[1] == Route("c2", [], [])
    wrong = copy.deepcopy(data)
    wrong["routes"][0]["locations"][0]["departure_time"] = 95
    with pytest.raises(ProblemError) as error:
        hhcrsp.read_solution(problem, wrong)
    assert error.value.where == "routes[0].locations[0].departure_time"


def test_a_patient_or_service_the_instance_lacks_is_a_violation_not_a_crash():
    problem = hhcrsp.read_instance(SMALL)
    data = {
        "routes": [
            {
                "caregiver_id": "c9",
                "locations": [
                    {"patient": "p9", "service": "s1", "arrival_time": 1, "departure_time": 2}
                ],
            }
        ]
    }
    report = validate(problem, hhcrsp.read_solution(problem, data))
    assert {"unknown-clinician", "missing-visit"} <= {v.kind for v in report.violations}


def test_write_solution_lists_every_caregiver_and_unassigned_visits():
    problem = hhcrsp.read_instance(SMALL)
    plan = Solution(
        [Route("c2", ["p1:s1"])],
        {v.id: "no room" for v in problem.visits if v.id != "p1:s1"},
    )
    written = hhcrsp.write_solution(problem, plan, validate(problem, plan))
    assert written["routes"] == [
        {"caregiver_id": "c1"},
        {
            "caregiver_id": "c2",
            "locations": [
                {"arrival_time": 60.0, "departure_time": 80.0, "patient": "p1", "service": "s1"}
            ],
        },
    ]
    assert written["global_ordering"] == ["p1"]
    assert {"patient": "p2", "service": "s2", "reason": "no room"} in written["unassigned"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.pop("patients"), "patients"),
        (lambda d: d["patients"][1].update(time_window=[150, 90]), "patients[1].time_window"),
        (
            lambda d: d["patients"][0]["required_caregivers"][0].update(service="s7"),
            "patients[0].required_caregivers[0].service",
        ),
        (
            lambda d: d["patients"][2]["synchronization"].update(type="later"),
            "patients[2].synchronization.type",
        ),
        (
            lambda d: d["patients"][2]["synchronization"].update(distance=[40, 20]),
            "patients[2].synchronization.distance",
        ),
        (
            lambda d: d["patients"][0].update(synchronization={"type": "simultaneous"}),
            "patients[0].synchronization",
        ),
        (lambda d: d["distances"].pop(), "distances"),
        (lambda d: d["distances"][1].__setitem__(2, -1), "distances[1][2]"),
        (lambda d: d["caregivers"][0].update(abilities="s1"), "caregivers[0].abilities"),
        (lambda d: d["caregivers"][1].update(id="c1"), "caregivers[1].id"),
        (
            lambda d: d["services"][0].pop("default_duration"),
            "patients[1].required_caregivers[0].duration",
        ),
        (lambda d: d.update(central_offices=[]), "central_offices"),
    ],
)
def test_a_malformed_instance_names_the_element(change, where):
    data = copy.deepcopy(SMALL)
    change(data)
    with pytest.raises(ProblemError) as error:
        hhcrsp.read_instance(data)
    assert error.value.where == where


def test_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ProblemError, match="not valid JSON"):
        hhcrsp.read_instance(path)

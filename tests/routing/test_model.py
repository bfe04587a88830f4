"""The problem format: what it reads, and a message naming the element for what it cannot."""

import copy
import json
import math
from pathlib import Path

import jsonschema_rs
import pytest

from careway.routing.model import BREAK, Problem, ProblemError, Solution

DOCS = Path(__file__).parents[2] / "docs" / "routing"
EXAMPLES = sorted((DOCS / "examples").glob("*.json"))

BASE = {
    "locations": [{"id": "office", "x": 0, "y": 0}, {"id": "home", "x": 3, "y": 4}],
    "travel": {"detour_factor": 1.0},
    "clinicians": [{"id": "rn", "start": "office", "skills": ["RN"]}],
    "visits": [{"id": "v", "location": "home", "duration": 30, "skill": "RN", "window": [60, 90]}],
}


def problem(**changes):
    data = copy.deepcopy(BASE)
    data.update(changes)
    return Problem.from_json(data)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_matches_the_schema_and_reads(path):
    schema = json.loads((DOCS / "problem.schema.json").read_text())
    data = json.loads(path.read_text())
    jsonschema_rs.validate(schema, data)
    assert Problem.from_json(data).visits


def test_planar_coordinates_give_straight_line_times_at_the_speed():
    p = problem(travel={"detour_factor": 1.0, "speed": 0.5})
    assert p.distance[0, 1] == pytest.approx(5.0)
    assert p.travel_time[0, 1] == pytest.approx(10.0)  # 5 units at half a unit a minute


def test_the_default_detour_is_one_point_three_five():
    p = problem(travel={})
    assert p.distance[0, 1] == pytest.approx(5.0 * 1.35)


def test_geographic_coordinates_give_kilometres_and_minutes():
    # Burlington VT to Montpelier VT: about 53.5 km as the crow flies.
    p = problem(
        locations=[
            {"id": "office", "lat": 44.4759, "lon": -73.2121},
            {"id": "home", "lat": 44.2601, "lon": -72.5754},
        ],
        travel={"detour_factor": 1.0, "speed_kmh": 60},
    )
    assert p.distance[0, 1] == pytest.approx(55.3, abs=1.0)
    assert p.travel_time[0, 1] == pytest.approx(p.distance[0, 1])  # 60 km/h: a km a minute


def test_matrices_are_taken_as_given():
    p = problem(
        locations=[{"id": "office"}, {"id": "home"}],
        travel={"time_matrix": [[0, 12], [14, 0]], "distance_matrix": [[0, 7], [8, 0]]},
    )
    assert (p.travel_time[0, 1], p.travel_time[1, 0], p.distance[1, 0]) == (12, 14, 8)


def test_a_window_without_a_close_and_defaults():
    p = problem(visits=[{"id": "v", "location": "home", "duration": 10}])
    v = p.visits[0]
    assert (v.window_open, v.window_close, v.hard_close, v.skill) == (0, math.inf, False, None)
    assert p.clinicians[0].end == p.clinicians[0].start


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        ({"locations": []}, "locations", "at least one"),
        (
            {"locations": [{"id": "office", "x": 0, "y": 0}, {"id": "office", "x": 1, "y": 1}]},
            "locations[1].id",
            "used twice",
        ),
        (
            {"locations": [{"id": "office", "x": 0, "y": 0}, {"id": "home", "lat": 1, "lon": 2}]},
            "locations[1]",
            "mixes",
        ),
        ({"locations": [{"id": "office"}, {"id": "home"}]}, "locations[0]", "no coordinates"),
        ({"travel": {"time_matrix": [[0, 1]]}}, "travel.time_matrix", "2 rows"),
        ({"travel": {"time_matrix": [[0, 1], [1, -1]]}}, "travel.time_matrix[1][1]", "0 or more"),
        ({"clinicians": [{"id": "rn", "start": "nowhere"}]}, "clinicians[0].start", "nowhere"),
        (
            {"clinicians": [{"id": "rn", "start": "office", "shift": [600, 480]}]},
            "clinicians[0].shift",
            "before it opens",
        ),
        (
            {"clinicians": [{"id": "rn", "start": "office", "max_visits": -1}]},
            "clinicians[0].max_visits",
            "0 or more",
        ),
        (
            {"visits": [{"id": "v", "location": "home", "duration": "long"}]},
            "visits[0].duration",
            "number",
        ),
        (
            {"visits": [{"id": "v", "location": "home", "duration": 5, "window": [9, 3]}]},
            "visits[0].window",
            "before it opens",
        ),
        (
            {"visits": [{"id": "v", "location": "home", "duration": 5, "window_close": "firm"}]},
            "visits[0].window_close",
            "soft",
        ),
        (
            {"visits": [{"id": "v", "location": "home", "duration": 5, "preferred": "ghost"}]},
            "visits[0].preferred",
            "ghost",
        ),
        ({"links": [{"type": "together", "visits": ["v", "v"]}]}, "links[0].type", "simultaneous"),
        ({"links": [{"type": "ordered", "visits": ["v", "w"]}]}, "links[0].visits[1]", "no visit"),
        ({"weights": {"speed": 1}}, "weights.speed", "unknown"),
    ],
)
def test_bad_input_names_the_element(change, where, words):
    with pytest.raises(ProblemError) as caught:
        problem(**change)
    assert caught.value.where == where
    assert words in caught.value.message


def test_a_visit_in_two_links_is_refused():
    visits = [{"id": i, "location": "home", "duration": 5} for i in ("a", "b", "c")]
    links = [
        {"type": "simultaneous", "visits": ["a", "b"]},
        {"type": "ordered", "visits": ["b", "c"], "min_gap": 0, "max_gap": 5},
    ]
    with pytest.raises(ProblemError, match="already in links"):
        problem(visits=visits, links=links)


def test_an_ordered_gap_that_closes_before_it_opens_is_refused():
    visits = [{"id": i, "location": "home", "duration": 5} for i in ("a", "b")]
    links = [{"type": "ordered", "visits": ["a", "b"], "min_gap": 30, "max_gap": 10}]
    with pytest.raises(ProblemError) as caught:
        problem(visits=visits, links=links)
    assert caught.value.where == "links[0].max_gap"


def test_a_solution_reads_with_its_break_and_refuses_starts_that_do_not_line_up():
    data = {
        "routes": [
            {"clinician": "rn", "visits": ["a", BREAK, "b"], "starts": [10, 90], "break_start": 60}
        ],
        "unassigned": [{"visit": "c", "reason": "no room"}, "d"],
    }
    solution = Solution.from_json(data)
    assert solution.routes[0].break_start == 60
    assert solution.unassigned == {"c": "no room", "d": ""}
    assert Solution.from_json(solution.to_json()).to_json() == solution.to_json()
    data["routes"][0]["starts"] = [10, 60, 90]
    with pytest.raises(ProblemError, match="one number per visit"):
        Solution.from_json(data)


def test_without_drops_the_visits_and_their_links():
    visits = [{"id": i, "location": "home", "duration": 5} for i in ("a", "b", "c")]
    p = problem(visits=visits, links=[{"type": "simultaneous", "visits": ["a", "b"]}])
    smaller = p.without(["a"])
    assert [v.id for v in smaller.visits] == ["b", "c"] and smaller.links == []
    assert smaller.visit_index == {"b": 0, "c": 1}

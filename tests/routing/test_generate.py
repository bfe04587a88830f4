"""The realistic agency and metro days of careway/routing/generate.py: days the staff can make."""

import collections
import hashlib
import json
import math
from pathlib import Path

import jsonschema_rs
import pytest

from careway.routing import feasibility
from careway.routing.generate import agency_day, metro_day
from careway.routing.model import Problem
from careway.routing.search import lns
from careway.routing.solve import solve
from careway.routing.validate import validate

SCHEMA = Path(__file__).parents[2] / "docs" / "routing" / "problem.schema.json"


def booked_and_room(day):
    """Visits needing each clinician's first skill, and what those clinicians can make."""
    room = collections.Counter()
    for c in day["clinicians"]:
        room[c["skills"][0]] += c["max_visits"]
    booked = collections.Counter(v["skill"] for v in day["visits"])
    booked["RN"] += booked.pop("LPN", 0)  # an RN can make an LPN's visit
    room["RN"] += room.pop("LPN", 0)
    return booked, room


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_the_standard_day_books_no_discipline_past_what_its_clinicians_can_make(seed):
    booked, room = booked_and_room(agency_day(40, 300, seed=seed))
    assert sum(booked.values()) == 300
    for skill, count in booked.items():
        assert count <= room[skill], (skill, count, room[skill])


def test_the_day_has_the_shares_asked_for_and_matches_the_schema():
    day = agency_day(40, 300, seed=1)
    assert len(day["clinicians"]) == 40
    kinds = collections.Counter(link["type"] for link in day["links"])
    assert kinds == {"simultaneous": 15, "ordered": 15}  # 10% of visits each, two a pair
    preferred = sum("preferred" in v for v in day["visits"]) / len(day["visits"])
    assert 0.5 < preferred < 0.7
    jsonschema_rs.validate(json.loads(SCHEMA.read_text()), day)
    assert len(Problem.from_json(day).visits) == 300


def test_the_same_seed_gives_the_same_day_and_another_seed_another():
    assert agency_day(10, 60, seed=3) == agency_day(10, 60, seed=3)
    assert agency_day(10, 60, seed=3) != agency_day(10, 60, seed=4)


def test_a_small_day_is_planned_whole():
    problem = Problem.from_json(agency_day(8, 50, seed=2))
    result = solve(problem, 5, seed=0)
    assert result.feasible
    assert result.solution.unassigned == {}


def test_the_agency_day_is_the_one_the_benchmarks_were_run_on():
    """benchmarks/routing_agency_day.py and docs/benchmarks.md refer to the 40/300 day of seed 1:
    generalising the generator must not change it."""
    day = json.dumps(agency_day(40, 300, seed=1), sort_keys=True).encode()
    assert hashlib.sha256(day).hexdigest() == (
        "6feaab08dfdf18fcd3271476b8a41d4bb08a073b5c185f8f8c9efa55c2e59292"
    )


def km(a, b):
    """Great-circle kilometres between two locations of a day."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def test_the_metro_day_has_the_size_and_shares_asked_for_and_matches_the_schema():
    day = metro_day(seed=1)
    assert len(day["visits"]) == 1000
    assert len(day["clinicians"]) == 120
    kinds = collections.Counter(link["type"] for link in day["links"])
    assert kinds == {"simultaneous": 50, "ordered": 50}  # 10% of visits each, two a pair
    in_pairs = {v for link in day["links"] for v in link["visits"]}
    assert len(in_pairs) == 200
    preferred = sum("preferred" in v for v in day["visits"]) / len(day["visits"])
    assert 0.55 < preferred < 0.65
    jsonschema_rs.validate(json.loads(SCHEMA.read_text()), day)
    problem = Problem.from_json(day)
    assert (len(problem.visits), len(problem.clinicians), len(problem.links)) == (1000, 120, 100)


def test_the_metro_day_is_shaped_like_a_metro_agency():
    day = metro_day(seed=1)
    places = {loc["id"]: loc for loc in day["locations"]}
    offices = [loc for loc in day["locations"] if loc["id"].startswith("office")]
    assert len(offices) == 5
    lats = [loc["lat"] for loc in day["locations"]]
    lons = [loc["lon"] for loc in day["locations"]]
    mid_lat = (min(lats) + max(lats)) / 2
    north_south = km({"lat": min(lats), "lon": lons[0]}, {"lat": max(lats), "lon": lons[0]})
    east_west = km({"lat": mid_lat, "lon": min(lons)}, {"lat": mid_lat, "lon": max(lons)})
    assert 35 < north_south < 50 and 35 < east_west < 50, (north_south, east_west)
    from_home = [c for c in day["clinicians"] if not c["start"].startswith("office")]
    assert len(from_home) >= 0.75 * len(day["clinicians"])  # mostly from home
    assert all(c["break"] == {"window": [690, 810], "duration": 30} for c in day["clinicians"])
    hard = sum(v.get("window_close") == "hard" for v in day["visits"])
    assert 30 < hard < 150
    # a preferred clinician has the visit's skill and is one of the patient's branch: their day
    # starts nearer the patient than the day of a clinician of that skill at large
    staff = {c["id"]: c for c in day["clinicians"]}
    near, at_large = [], []
    for visit in day["visits"]:
        if "preferred" in visit:
            clinician = staff[visit["preferred"]]
            assert visit["skill"] in clinician["skills"]
            near.append(km(places[visit["location"]], places[clinician["start"]]))
            at_large += [
                km(places[visit["location"]], places[c["start"]])
                for c in day["clinicians"]
                if c["skills"][0] == visit["skill"]
            ]
    assert sum(near) / len(near) < 0.6 * sum(at_large) / len(at_large)
    # aides and LPNs make shorter visits and more of them than nurses and therapists
    minutes = {v["skill"]: v["duration"] for v in day["visits"]}
    limit = {c["skills"][0]: c["max_visits"] for c in day["clinicians"]}
    for short in ("HHA", "LPN"):
        for long in ("RN", "PT", "OT"):
            assert minutes[short] < minutes[long] and limit[short] > limit[long]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_the_metro_day_books_no_discipline_past_its_limits_and_every_visit_can_be_placed(seed):
    day = metro_day(seed=seed)
    booked, room = booked_and_room(day)
    assert sum(booked.values()) == 1000
    for skill, count in booked.items():
        # within 85% of the limits: the staff can make the day with room to spare
        assert count <= 0.85 * room[skill], (skill, count, room[skill])
    assert feasibility.unplaceable(Problem.from_json(day)) == {}


def test_a_fuller_metro_day_still_books_no_discipline_past_its_limits():
    """1,150 visits for limits that add up to 1,191: past 85% of every discipline's limits, the
    rest goes by the room left at 100%."""
    booked, room = booked_and_room(metro_day(seed=1, visits=1150))
    assert sum(booked.values()) == 1150
    assert sum(room.values()) == 1191
    for skill, count in booked.items():
        assert count <= room[skill], (skill, count, room[skill])
    assert any(count > 0.85 * room[skill] for skill, count in booked.items())


def test_the_same_seed_gives_the_same_metro_day_and_another_seed_another():
    assert metro_day(seed=2) == metro_day(seed=2)
    assert metro_day(seed=2) != metro_day(seed=3)


def test_the_first_plan_of_the_metro_day_has_every_visit_and_the_validator_accepts_it():
    """Only the search's construction (no iterations after it): the day is one the staff can
    make, and a plan with every visit is found before any search."""
    problem = Problem.from_json(metro_day(seed=1))
    solution = lns.solve(problem, 60, seed=0, iterations=0)
    assert solution.unassigned == {}
    report = validate(problem, solution)
    assert report.feasible, report.violations[:3]
    # the penalty for a visit left out is more than the rest of the plan comes to
    assert report.objective < problem.weights.unassigned

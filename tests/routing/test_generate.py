"""The realistic agency day of careway/routing/generate.py: a day the staff can make."""

import collections
import json
from pathlib import Path

import jsonschema_rs
import pytest

from careway.routing.generate import agency_day
from careway.routing.model import Problem
from careway.routing.solve import solve

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

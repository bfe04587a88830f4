"""A day routed by the engine: who may make each visit (discipline, skills, language), the
usual clinician, two-person and ordered visits, pinned visits kept; and a day the engine
cannot take answered with its reason, never a crash."""

import pytest

from careway.routing.model import ProblemError
from careway.visits.day import DayVisit, Pair, day_problem, route_day
from careway.visits.places import ADDRESS, Place
from careway.visits.week import Clinician

OFFICE = (39.9612, -82.9988)  # Columbus, Ohio


def at(dlat, dlon):
    return Place(OFFICE[0] + dlat, OFFICE[1] + dlon, ADDRESS)


STAFF = [
    Clinician("ann", "RN", skills=frozenset({"wound"}), home=OFFICE),
    Clinician("cruz", "RN", languages=frozenset({"en", "es"}), home=(39.99, -83.02)),
    Clinician("hal", "HHA", home=OFFICE, lunch=(12 * 60, 13 * 60, 30)),
    Clinician("ivy", "HHA", home=(39.93, -82.97)),
]


def day():
    visits = [
        DayVisit(
            "wound",
            "p1",
            at(0.01, 0.01),
            "RN",
            45,
            window=(9 * 60, 11 * 60),
            skills=frozenset({"wound"}),
        ),
        DayVisit("bath", "p1", at(0.01, 0.01), "HHA", 60),
        DayVisit("spanish", "p2", at(-0.02, 0.03), "RN", 30, language="es"),
        DayVisit("usual", "p3", at(0.03, -0.02), "RN", 30, usual="cruz"),
        DayVisit("lift-1", "p4", at(0.02, 0.02), "HHA", 40),
        DayVisit("lift-2", "p4", at(0.02, 0.02), "HHA", 40),
    ]
    pairs = [
        Pair("ordered", "wound", "bath", min_gap=0, max_gap=120),
        Pair("simultaneous", "lift-1", "lift-2"),
    ]
    return visits, pairs


def test_the_day_is_routed_with_every_rule_kept():
    visits, pairs = day()
    problem = day_problem(STAFF, visits, pairs)
    result = route_day(problem, 3)
    assert result.feasible and result.solution.unassigned == {}  # the validator's word
    who = {v: r.clinician for r in result.solution.routes for v in r.visits}
    assert who["wound"] == "ann"  # the only one with the skill
    assert who["spanish"] == "cruz"  # the only one who speaks Spanish
    assert who["usual"] == "cruz"  # the usual nurse, when nothing stops it
    assert {who["bath"], who["lift-1"], who["lift-2"]} <= {"hal", "ivy"}
    assert who["lift-1"] != who["lift-2"]  # two people at once
    starts = {
        v: s for r in result.solution.routes for v, s in zip(r.visits, r.starts or [], strict=False)
    }
    assert 9 * 60 <= starts["wound"] <= 11 * 60
    gap = starts["bath"] - (starts["wound"] + 45)
    assert 0 <= gap <= 120


def test_a_visit_pinned_to_a_clinician_stays_with_them():
    visits, pairs = day()
    visits = [
        DayVisit("usual", "p3", at(0.03, -0.02), "RN", 30, usual="cruz", pinned_to="ann")
        if v.id == "usual"
        else v
        for v in visits
    ]
    result = route_day(day_problem(STAFF, visits, pairs), 2)
    who = {v: r.clinician for r in result.solution.routes for v in r.visits}
    assert who["usual"] == "ann"


def test_a_visit_nobody_may_make_is_left_out_with_the_engine_s_reason():
    visits, pairs = day()
    visits.append(DayVisit("trach", "p5", at(0.0, 0.04), "RN", 30, skills=frozenset({"trach"})))
    result = route_day(day_problem(STAFF, visits, pairs), 2)
    assert set(result.solution.unassigned) == {"trach"}
    assert "skill" in result.solution.unassigned["trach"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda v: DayVisit(
                v.id, v.patient, v.place, v.discipline, v.minutes, window=(11 * 60, 9 * 60)
            ),
            "visits[0].window",
        ),
        (lambda v: DayVisit(v.id, v.patient, v.place, v.discipline, -5), "visits[0].duration"),
    ],
)
def test_bad_input_is_refused_naming_the_field(change, field):
    visits, pairs = day()
    visits[0] = change(visits[0])
    with pytest.raises(ProblemError) as raised:
        day_problem(STAFF, visits, pairs)
    assert field in str(raised.value)


def test_a_clinician_with_no_home_base_is_refused_naming_the_field():
    visits, pairs = day()
    with pytest.raises(ProblemError) as raised:
        day_problem([*STAFF, Clinician("kim", "RN")], visits, pairs)
    assert "clinicians[4].home" in str(raised.value)

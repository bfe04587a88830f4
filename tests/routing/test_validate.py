"""The independent validator: every constraint broken and kept, every objective term worked out
by hand, the earliest schedule it works out itself, and days with no schedule at all."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careway.routing.model import (
    BREAK,
    ORDERED,
    SIMULTANEOUS,
    Break,
    Clinician,
    Link,
    Problem,
    Route,
    Solution,
    Visit,
    Weights,
)
from careway.routing.validate import TERMS, validate

# Four places on a road, 10 minutes apart: office (0), a (1), b (2), c (3).
LINE = np.abs(np.subtract.outer(np.arange(4), np.arange(4))) * 10.0
OFFICE, A, B, C = 0, 1, 2, 3


def nurse(**changes):
    return Clinician(
        **{"id": "rn", "start": OFFICE, "end": OFFICE, "skills": frozenset({"RN"})} | changes
    )


def aide(**changes):
    return Clinician(
        **{"id": "hha", "start": OFFICE, "end": OFFICE, "skills": frozenset({"HHA"})} | changes
    )


def day(visits, clinicians=None, links=(), weights=None, distance=None):
    return Problem(
        clinicians=clinicians or [nurse(), aide()],
        visits=list(visits),
        travel_time=LINE,
        distance=LINE if distance is None else distance,
        links=list(links),
        weights=weights or Weights(),
    )


def plan(*routes, unassigned=None):
    return Solution([Route(*r) for r in routes], dict(unassigned or {}))


def kinds(report):
    return {v.kind for v in report.violations}


def only(report, kind):
    """The violations of a report that has violations of this kind and no other."""
    assert kinds(report) == {kind}, report.violations
    return [v for v in report.violations if v.kind == kind]


def one(report, kind):
    """The one violation of a report that breaks exactly one rule, of this kind."""
    (violation,) = only(report, kind)
    return violation


V1 = Visit("v1", A, 30, skill="RN")
V2 = Visit("v2", B, 30, skill="RN")
W1 = Visit("w1", C, 20, skill="HHA")


# --- which visits, where ---------------------------------------------------------------------


def test_a_plan_that_keeps_every_rule_is_feasible():
    report = validate(day([V1, V2, W1]), plan(("rn", ["v1", "v2"]), ("hha", ["w1"])))
    assert report.feasible and report.violations == []
    # rn: leaves at 0, v1 at 10 (10 away), ends 40, v2 at 50 (10 on), ends 80. hha: w1 at 30.
    assert report.starts == {"v1": 10, "v2": 50, "w1": 30}


def test_an_unknown_visit_is_reported_not_raised():
    report = validate(day([V1]), plan(("rn", ["v1", "ghost"])))
    v = one(report, "unknown-visit")
    assert v.where == "routes[0].visits[1]" and "ghost" in v.message
    report = validate(day([V1]), plan(("rn", ["v1"]), unassigned={"ghost": "?"}))
    assert one(report, "unknown-visit").where == "unassigned['ghost']"


def test_an_unknown_clinician_is_reported_and_their_visits_count_as_unmade():
    report = validate(day([V1]), plan(("locum", ["v1"])))
    assert one(report, "unknown-clinician").where == "routes[0]"
    assert report.terms["unassigned"] == 1


def test_a_clinician_with_two_routes():
    report = validate(day([V1, V2]), plan(("rn", ["v1"]), ("rn", ["v2"])))
    assert one(report, "duplicate-route").where == "routes[1]"


def test_a_visit_made_twice_or_routed_and_left_out():
    twice = validate(day([V1]), plan(("rn", ["v1", "v1"])))
    assert one(twice, "duplicate-visit").where == "routes[0].visits[1]"
    two_routes = validate(day([V1]), plan(("rn", ["v1"]), ("hha", ["v1"])))
    assert "duplicate-visit" in kinds(two_routes)
    both = validate(day([V1]), plan(("rn", ["v1"]), unassigned={"v1": "no room"}))
    assert "routed at routes[0].visits[0]" in one(both, "duplicate-visit").message


def test_a_visit_neither_routed_nor_listed_unassigned_is_missing():
    report = validate(day([V1, V2]), plan(("rn", ["v1"])))
    v = one(report, "missing-visit")
    assert v.where == "visits[1]" and "v2" in v.message
    listed = validate(day([V1, V2]), plan(("rn", ["v1"]), unassigned={"v2": "no room"}))
    assert listed.feasible and listed.terms["unassigned"] == 1


def test_skill():
    report = validate(day([V1]), plan(("hha", ["v1"])))
    assert "'RN', which hha lacks" in one(report, "skill").message
    anyone = Visit("v", A, 10)  # no skill: anyone may make it
    assert validate(day([anyone]), plan(("hha", ["v"]))).feasible


def test_pinned_to_a_clinician():
    pinned = Visit("v", A, 10, pinned_to="rn")
    assert validate(day([pinned]), plan(("rn", ["v"]))).feasible
    wrong = validate(day([pinned]), plan(("hha", ["v"])))
    assert "pinned to rn, not hha" in one(wrong, "pinned").message


def test_pinned_to_a_place_in_the_route_the_break_not_counted():
    second = Visit("v2", B, 30, skill="RN", pinned_to="rn", pinned_position=1)
    lunch = [nurse(break_=Break(0, 600, 30))]
    # v2 is the second visit: the break before it does not count as a place.
    ok = validate(day([V1, second], lunch), plan(("rn", ["v1", BREAK, "v2"])))
    assert ok.feasible, ok.violations
    wrong = validate(day([V1, second], lunch), plan(("rn", ["v2", BREAK, "v1"])))
    assert "place 1 in the route, not 0" in one(wrong, "pinned").message


def test_max_visits():
    problem = day([V1, V2], [nurse(max_visits=1), aide()])
    report = validate(problem, plan(("rn", ["v1", "v2"])))
    assert "2 visits, at most 1" in one(report, "max-visits").message
    roomy = day([V1, V2], [nurse(max_visits=2), aide()])
    assert validate(roomy, plan(("rn", ["v1", "v2"]))).feasible


def test_capacity():
    loads = [Visit("d1", A, 0, demand=3), Visit("d2", B, 0, demand=4)]
    small = day(loads, [nurse(capacity=5)])
    report = validate(small, plan(("rn", ["d1", "d2"])))
    assert "carries 7, capacity 5" in one(report, "capacity").message
    assert validate(day(loads, [nurse(capacity=7)]), plan(("rn", ["d1", "d2"]))).feasible


def test_a_starts_list_of_the_wrong_length_is_reported_and_the_times_worked_out():
    report = validate(day([V1]), plan(("rn", ["v1"], [10.0, 20.0])))
    assert one(report, "malformed").where == "routes[0].starts"
    assert report.starts == {"v1": 10}


# --- times ---------------------------------------------------------------------------------------


def test_a_visit_never_starts_before_its_window_opens():
    opens_late = Visit("v", A, 30, window_open=100)
    computed = validate(day([opens_late]), plan(("rn", ["v"])))
    assert computed.feasible and computed.starts["v"] == 100  # arrives at 10, waits to 100
    early = validate(day([opens_late]), plan(("rn", ["v"], [99.0])))
    assert "window opens at 100" in one(early, "window-open").message
    assert validate(day([opens_late]), plan(("rn", ["v"], [100.0 - 1e-7]))).feasible  # tolerance


def test_a_hard_close_is_a_violation_a_soft_one_a_cost():
    soft = Visit("v", C, 10, window_close=20)
    hard = Visit("v", C, 10, window_close=20, hard_close=True)
    # C is 30 minutes from the office: the visit cannot start before 30, 10 after closing.
    assert validate(day([soft]), plan(("rn", ["v"]))).terms["total_lateness"] == 10
    assert validate(day([soft]), plan(("rn", ["v"]))).feasible
    report = validate(day([hard]), plan(("rn", ["v"])))
    assert "after its window closes at 20 (hard)" in one(report, "hard-close").message


def test_a_given_start_earlier_than_the_route_allows():
    # v1 at 10 ends at 40; b is 10 on: v2 cannot start before 50.
    report = validate(day([V1, V2]), plan(("rn", ["v1", "v2"], [10.0, 49.0])))
    v = one(report, "time")
    assert v.where == "routes[0].visits[1]" and "before 50" in v.message
    # the first visit: the shift starts at 60 and a is 10 away, so not before 70.
    late_shift = day([V1], [nurse(shift_start=60)])
    assert validate(late_shift, plan(("rn", ["v1"], [70.0]))).feasible
    assert "before 70" in one(validate(late_shift, plan(("rn", ["v1"], [65.0]))), "time").message
    # waiting is free: a later start than needed is fine
    assert validate(day([V1, V2]), plan(("rn", ["v1", "v2"], [10.0, 75.0]))).feasible


def test_a_clinician_may_leave_late_but_never_before_the_shift():
    report = validate(day([V1], [nurse(shift_start=100)]), plan(("rn", ["v1"])))
    assert report.starts["v1"] == 110


# --- links ---------------------------------------------------------------------------------------

PAIR = [Visit("lift-rn", C, 20, skill="RN"), Visit("lift-hha", C, 20, skill="HHA")]
TOGETHER = Link(SIMULTANEOUS, "lift-rn", "lift-hha")


def test_a_simultaneous_pair_starts_together():
    problem = day(PAIR, links=[TOGETHER])
    both = plan(("rn", ["lift-rn"], [30.0]), ("hha", ["lift-hha"], [30.0]))
    assert validate(problem, both).feasible
    apart = validate(problem, plan(("rn", ["lift-rn"], [30.0]), ("hha", ["lift-hha"], [45.0])))
    v = one(apart, "link-simultaneous")
    assert v.where == "links[0]" and "lift-rn starts at 30 and lift-hha at 45" in v.message


def test_a_simultaneous_pair_needs_two_clinicians():
    anyone = [Visit("x", C, 0), Visit("y", C, 0)]  # no duration: the route order allows it
    problem = day(anyone, links=[Link(SIMULTANEOUS, "x", "y")])
    report = validate(problem, plan(("rn", ["x", "y"])))
    assert "both are with rn" in one(report, "link-same-clinician").message


def test_a_pair_half_made():
    problem = day(PAIR, links=[TOGETHER])
    half = validate(problem, plan(("rn", ["lift-rn"]), unassigned={"lift-hha": "no aide"}))
    assert "lift-hha is not" in one(half, "link-half-assigned").message
    neither = plan(unassigned={"lift-rn": "x", "lift-hha": "x"})
    assert validate(problem, neither).feasible


def test_an_ordered_pair_within_its_gap():
    first, second = Visit("rn-visit", A, 30, skill="RN"), Visit("hha-visit", A, 30, skill="HHA")
    problem = day([first, second], links=[Link(ORDERED, "rn-visit", "hha-visit", 30, 90)])

    def at(a, b):
        return validate(problem, plan(("rn", ["rn-visit"], [a]), ("hha", ["hha-visit"], [b])))

    assert at(10.0, 40.0).feasible and at(10.0, 100.0).feasible  # gaps of 30 and 90
    assert "at least 30 after" in one(at(10.0, 39.0), "link-ordered").message
    assert "at most 90 after" in one(at(10.0, 101.0), "link-ordered").message


def test_the_earliest_schedule_with_a_simultaneous_pair_across_two_routes():
    # rn: v1 at a (opens 50, 30 long), then the lift at c; hha: the lift at c, then w at b.
    v1 = Visit("v1", A, 30, skill="RN", window_open=50)
    w = Visit("w", B, 15, skill="HHA")
    problem = day([v1, w, *PAIR], links=[TOGETHER])
    report = validate(problem, plan(("rn", ["v1", "lift-rn"]), ("hha", ["lift-hha", "w"])))
    assert report.feasible, report.violations
    # rn: v1 at 50 (waits from 10), ends 80, 20 to c: 100. hha could be at c by 30 but waits.
    assert report.starts["lift-rn"] == report.starts["lift-hha"] == 100
    # hha: the lift ends at 120, b is 10 away: w at 130.
    assert report.starts["w"] == 130


def test_the_earliest_schedule_with_an_ordered_pair_pushes_the_first_visit_later():
    first = Visit("first", A, 10, skill="RN")
    after = Visit("after", B, 10, skill="RN")
    second = Visit("second", A, 10, skill="HHA", window_open=100)
    problem = day([first, after, second], links=[Link(ORDERED, "first", "second", 30, 60)])
    report = validate(problem, plan(("rn", ["first", "after"]), ("hha", ["second"])))
    assert report.feasible, report.violations
    # second cannot start before 100, so first at no earlier than 100 - 60 = 40 (not 10);
    # after follows first: 40 + 10 long + 10 away = 60.
    assert report.starts == {"first": 40, "second": 100, "after": 60}
    # and with the minimum gap binding: second may open at 0, it starts 30 after first (10).
    early = day(
        [first, after, Visit("second", A, 10, skill="HHA")],
        links=[Link(ORDERED, "first", "second", 30, 60)],
    )
    assert (
        validate(early, plan(("rn", ["first", "after"]), ("hha", ["second"]))).starts["second"]
        == 40
    )


def test_given_times_on_one_route_hold_and_the_other_route_is_timed_around_them():
    problem = day(PAIR, links=[TOGETHER])
    # rn's time is given (80); hha's is worked out: it waits to start with rn.
    report = validate(problem, plan(("rn", ["lift-rn"], [80.0]), ("hha", ["lift-hha"])))
    assert report.feasible and report.starts["lift-hha"] == 80
    # A given time the partner cannot reach (hha starts at 50, 30 from c: not before 80).
    late_aide = day(PAIR, [nurse(), aide(shift_start=50)], links=[TOGETHER])
    report = validate(late_aide, plan(("rn", ["lift-rn"], [30.0]), ("hha", ["lift-hha"])))
    assert kinds(report) == {"link-simultaneous"} and report.starts["lift-hha"] == 80


def test_crossed_pairs_have_no_schedule_and_the_validator_says_which():
    # rn makes p then q; hha makes q' then p': each pair waits for the other forever.
    visits = [
        Visit("p", A, 10, skill="RN"),
        Visit("q", B, 10, skill="RN"),
        Visit("q2", B, 10, skill="HHA"),
        Visit("p2", A, 10, skill="HHA"),
    ]
    links = [Link(SIMULTANEOUS, "p", "p2"), Link(SIMULTANEOUS, "q", "q2")]
    report = validate(day(visits, links=links), plan(("rn", ["p", "q"]), ("hha", ["q2", "p2"])))
    assert not report.feasible
    (v,) = [v for v in report.violations if v.kind == "no-schedule"]
    assert all(name in v.message for name in ("p", "q", "q2", "p2"))
    assert all(math.isfinite(t) for t in report.starts.values())


def test_a_maximum_gap_the_route_cannot_keep_has_no_schedule():
    # Both in rn's route: first at a (30 long), then second at c 20 away: at least 50 apart,
    # but the gap may be at most 40.
    first, second = Visit("first", A, 30), Visit("second", C, 10)
    problem = day([first, second], links=[Link(ORDERED, "first", "second", 0, 40)])
    report = validate(problem, plan(("rn", ["first", "second"])))
    assert "no-schedule" in kinds(report)
    assert "first" in report.violations[0].message and "second" in report.violations[0].message


# --- breaks --------------------------------------------------------------------------------------

LUNCH = Break(earliest=60, latest=90, duration=30)


def test_a_break_where_the_route_places_it():
    problem = day([V1, V2], [nurse(break_=LUNCH)])
    report = validate(problem, plan(("rn", ["v1", BREAK, "v2"])))
    assert report.feasible, report.violations
    # v1 10-40 at a; the break waits for 60, ends 90, at a; then 10 to b: v2 at 100.
    assert report.break_starts == {"rn": 60} and report.starts["v2"] == 100


def test_a_break_is_required_when_the_clinician_has_visits():
    problem = day([V1], [nurse(break_=LUNCH)])
    assert "no break" in one(validate(problem, plan(("rn", ["v1"]))), "break-missing").message
    idle = plan(("rn", []), unassigned={"v1": "left for tomorrow"})
    assert validate(problem, idle).feasible  # no visits, no break needed


def test_a_break_outside_its_window():
    problem = day([V1], [nurse(break_=LUNCH)])
    early = validate(problem, plan(("rn", ["v1", BREAK], [10.0], 50.0)))
    assert "may start at 60" in one(early, "break-window").message
    # a long visit first: v1 ends at 10 + 100 = 110, after the latest start 90.
    long = day([Visit("v1", A, 100, skill="RN")], [nurse(break_=LUNCH)])
    assert (
        "after its latest start 90"
        in one(validate(long, plan(("rn", ["v1", BREAK]))), "break-window").message
    )


def test_a_break_overlapping_a_visit():
    problem = day([V1, V2], [nurse(break_=Break(0, 200, 30))])
    # v1 10-40: a break from 30 overlaps it.
    during = validate(problem, plan(("rn", ["v1", BREAK, "v2"], [10.0, 80.0], 30.0)))
    assert one(during, "break-overlap").where == "routes[0].visits[1]"
    # break 40-70, then 10 to b: v2 at 75 is too soon.
    soon = validate(problem, plan(("rn", ["v1", BREAK, "v2"], [10.0, 75.0], 40.0)))
    assert "before 80" in one(soon, "break-overlap").message
    assert validate(problem, plan(("rn", ["v1", BREAK, "v2"], [10.0, 80.0], 40.0))).feasible


def test_a_break_marker_for_a_clinician_without_a_break():
    report = validate(day([V1]), plan(("rn", [BREAK, "v1"])))
    assert only(report, "break-extra")


# --- the objective, term by term -----------------------------------------------------------------


def test_travel_is_distance_over_the_legs_travelled():
    # Distance is twice the travel time here, to tell them apart.
    problem = day([V1, Visit("far", C, 10, skill="RN")], distance=LINE * 2)
    report = validate(problem, plan(("rn", ["v1", "far"]), ("hha", [])))
    # office->a 20, a->c 40, c->office 60: 120; the empty route travels nothing.
    assert report.terms["travel"] == 120


def test_travel_ends_at_the_end_location():
    problem = day([V1], [nurse(end=C)])
    # office->a 10, a->c 20.
    assert validate(problem, plan(("rn", ["v1"]))).terms["travel"] == 30


def test_total_and_maximum_lateness():
    late = [
        Visit("v1", A, 30, skill="RN", window_close=5),  # starts 10: 5 late
        Visit("v2", B, 30, skill="RN", window_close=35),  # starts 50: 15 late
        Visit("w1", C, 20, skill="HHA"),  # on time
    ]
    report = validate(day(late), plan(("rn", ["v1", "v2"]), ("hha", ["w1"])))
    assert report.terms["total_lateness"] == 20  # 5 + 15
    assert report.terms["max_lateness"] == 15
    assert validate(day([V1]), plan(("rn", ["v1"]))).terms["max_lateness"] == 0


def test_continuity_counts_visits_made_by_someone_else_than_preferred():
    visits = [
        Visit("a1", A, 10, preferred="rn"),  # made by rn: kept
        Visit("a2", B, 10, preferred="rn"),  # made by hha: broken
        Visit("a3", C, 10),  # no preference
    ]
    report = validate(day(visits), plan(("rn", ["a1"]), ("hha", ["a2", "a3"])))
    assert report.terms["continuity"] == 1


def test_overtime_is_time_back_past_the_shift_end():
    problem = day([V1, V2], [nurse(shift_end=60)])
    # v2 ends at 80, back at the office 20 later: 100, 40 past 60.
    assert validate(problem, plan(("rn", ["v1", "v2"]))).terms["overtime"] == 40
    assert (
        validate(
            problem,
            plan(("rn", [])),
        ).terms["overtime"]
        == 0
    )


def test_unassigned_counts_visits_not_made():
    report = validate(day([V1, V2]), plan(("rn", ["v1"]), unassigned={"v2": "no room"}))
    assert report.terms["unassigned"] == 1


def test_the_objective_is_the_weighted_sum():
    weights = Weights(
        travel=2, total_lateness=3, max_lateness=5, continuity=7, overtime=11, unassigned=13
    )
    visits = [
        Visit("v1", A, 30, skill="RN", window_close=5, preferred="hha"),
        Visit("v2", B, 30, skill="RN"),
    ]
    problem = day(visits, [nurse(shift_end=50), aide()], weights=weights)
    report = validate(problem, plan(("rn", ["v1"]), unassigned={"v2": "no room"}))
    # travel 10 + 10 = 20; v1 at 10, 5 late; continuity 1; back at 50: no overtime; 1 left out.
    assert report.terms == {
        "travel": 20,
        "total_lateness": 5,
        "max_lateness": 5,
        "continuity": 1,
        "overtime": 0,
        "unassigned": 1,
        "reassigned": 0,
    }
    assert report.objective == 2 * 20 + 3 * 5 + 5 * 5 + 7 * 1 + 11 * 0 + 13 * 1


# --- random days ---------------------------------------------------------------------------------

SKILLS = [None, None, "RN", "HHA"]  # mostly anyone: more plans keep every rule


@st.composite
def days(draw, loose=False):
    """A random small day and a random plan for it. `loose`: no skills, breaks, visit limits or
    hard windows, every visit routed and more links, so that only the times can go wrong."""
    n_places = draw(st.integers(2, 5))
    rows = draw(
        st.lists(
            st.lists(st.integers(0, 60), min_size=n_places, max_size=n_places),
            min_size=n_places,
            max_size=n_places,
        )
    )
    matrix = np.array(rows, dtype=float)
    np.fill_diagonal(matrix, 0)
    clinicians = []
    for i in range(draw(st.integers(2 if loose else 1, 3))):
        brk = None
        if not loose and draw(st.booleans()):
            earliest = draw(st.integers(0, 300))
            brk = Break(earliest, earliest + draw(st.integers(0, 600)), draw(st.integers(0, 45)))
        clinicians.append(
            Clinician(
                id=f"c{i}",
                start=draw(st.integers(0, n_places - 1)),
                end=draw(st.integers(0, n_places - 1)),
                shift_start=draw(st.integers(0, 60)),
                shift_end=draw(st.sampled_from([math.inf, 240, 480])),
                skills=frozenset(draw(st.lists(st.sampled_from(["RN", "HHA"]), max_size=2))),
                max_visits=None if loose else draw(st.sampled_from([None, None, 1, 3])),
                break_=brk,
            )
        )
    visits = []
    for i in range(draw(st.integers(0, 7))):
        opens = draw(st.integers(0, 400))
        visits.append(
            Visit(
                id=f"v{i}",
                location=draw(st.integers(0, n_places - 1)),
                duration=draw(st.integers(0, 60)),
                skill=None if loose else draw(st.sampled_from(SKILLS)),
                window_open=opens,
                window_close=opens + draw(st.sampled_from([0, 30, 120, math.inf])),
                hard_close=not loose and draw(st.integers(0, 3)) == 0,
                preferred=draw(st.sampled_from([None, *(c.id for c in clinicians)])),
            )
        )
    ids = [v.id for v in visits]
    links = []
    free = list(ids)
    while len(free) >= 2 and (loose or draw(st.booleans())):
        a, b = free.pop(), free.pop()
        if draw(st.booleans()):
            links.append(Link(SIMULTANEOUS, a, b))
        else:
            low = draw(st.integers(0, 90))
            links.append(Link(ORDERED, a, b, low, low + draw(st.integers(0, 90))))
    problem = Problem(clinicians, visits, matrix, matrix * 1.5, links)

    # A random plan: each visit to a random clinician (or unassigned), in random order, with the
    # break marker at a random place; sometimes an unknown visit or a repeat.
    routes = {c.id: [] for c in clinicians}
    unassigned = {}
    for visit_id in draw(st.permutations(ids)):
        owner = draw(st.sampled_from([*routes] if loose else [None, *routes]))
        if owner is None:
            unassigned[visit_id] = "left out"
        else:
            routes[owner].append(visit_id)
    for c in clinicians:
        if c.break_ is not None and draw(st.integers(0, 4)) > 0:
            routes[c.id].insert(draw(st.integers(0, len(routes[c.id]))), BREAK)
    if ids and not loose and draw(st.integers(0, 9)) == 0:
        routes[clinicians[0].id].append(draw(st.sampled_from([*ids, "ghost"])))
    return problem, Solution([Route(c, vs) for c, vs in routes.items()], unassigned)


def with_the_times(solution, report):
    """The same plan with the validator's own times written in."""
    return Solution(
        [
            Route(
                r.clinician,
                r.visits,
                [report.starts.get(v, 0.0) for v in r.visits if v != BREAK],
                report.break_starts.get(r.clinician),
            )
            for r in solution.routes
        ],
        solution.unassigned,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days())
def test_random_days(case):
    problem, solution = case
    report = validate(problem, solution)
    assert all(report.terms[t] >= 0 for t in TERMS)
    assert report.objective == pytest.approx(
        sum(getattr(problem.weights, t) * report.terms[t] for t in TERMS)
    )
    assert report.feasible == (report.violations == [])
    if "no-schedule" in kinds(report):
        return
    # The worked-out times keep every rule the validator checks: given back as the plan's own
    # times, they draw the same violations (none about time that were not there) and terms.
    again = validate(problem, with_the_times(solution, report))
    assert {(v.kind, v.where) for v in again.violations} == {
        (v.kind, v.where) for v in report.violations
    }
    assert again.terms == pytest.approx(report.terms)
    if report.feasible:
        timing = {"window-open", "time", "link-simultaneous", "link-ordered", "break-overlap"}
        assert not timing & kinds(again)


TIMING = {"window-open", "time", "link-simultaneous", "link-ordered", "break-overlap"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days(loose=True), st.data())
def test_random_linked_days_fail_only_on_their_links(case, data):
    problem, solution = case
    report = validate(problem, solution)
    if "no-schedule" in kinds(report):
        assert problem.links  # without links a route's times always exist
        return
    # Nothing else can go wrong: the worked-out times keep every bound.
    assert kinds(report) <= {"link-same-clinician"}
    # And they are the earliest: each start is held up by some bound, so starting any visit a
    # little earlier, all else the same, breaks one.
    if report.starts:
        visit_id = data.draw(st.sampled_from(sorted(report.starts)))
        earlier = with_the_times(solution, report)
        for route in earlier.routes:
            timed = [v for v in route.visits if v != BREAK]
            if visit_id in timed:
                route.starts[timed.index(visit_id)] -= 0.01
        assert TIMING & kinds(validate(problem, earlier))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["rn", "hha", "locum"]),
            st.lists(st.sampled_from(["v1", "v2", "w1", "ghost", BREAK]), max_size=6),
            st.booleans(),
            st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
        ),
        max_size=4,
    ),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=6, max_size=6),
)
def test_any_plan_of_the_right_shape_gets_a_report_not_an_exception(routes, times):
    problem = day([V1, V2, W1], [nurse(break_=LUNCH), aide()])
    solution = Solution(
        [
            Route(c, vs, times[: sum(v != BREAK for v in vs)] if timed else None, brk)
            for c, vs, timed, brk in routes
        ]
    )
    report = validate(problem, solution)
    assert report.feasible == (not report.violations)
    assert all(report.terms[t] >= 0 for t in TERMS)

"""The week scheduled on hand-built cases whose best answer is known: visits spread across the
week, each with a clinician who may make it (discipline, skills, language, working days, time
off, most visits a day), the usual clinician kept, the work shared out, visits on the books never
moved, and what could not be done said."""

from datetime import date, timedelta

import pytest

from careway.visits.week import Booked, Clinician, Order, Patient, schedule_week

MON = date(2026, 12, 14)
DAY = {
    name: MON + timedelta(days=i)
    for i, name in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
}


def rn(id_, **kw):
    return Clinician(id_, "RN", **kw)


def visits(week):
    return [(p.order, p.day.strftime("%a"), p.clinician) for p in week.placed]


def test_three_a_week_with_one_nurse_is_monday_wednesday_friday():
    week = schedule_week(MON, [Order("o1", "p1", "RN", "3w1", MON)], [Patient("p1")], [rn("ann")])
    assert visits(week) == [("o1", "Mon", "ann"), ("o1", "Wed", "ann"), ("o1", "Fri", "ann")]
    assert week.problems == ()


def test_the_usual_clinician_is_kept_and_the_rest_is_shared_out():
    patients = [Patient(f"p{i}", usual={"RN": "bea"} if i == 0 else {}) for i in range(4)]
    orders = [Order(f"o{i}", f"p{i}", "RN", "1w1", MON) for i in range(4)]
    week = schedule_week(MON, orders, patients, [rn("ann"), rn("bea")])
    by = {p.order: p.clinician for p in week.placed}
    assert by["o0"] == "bea"
    load = {c: list(by.values()).count(c) for c in ("ann", "bea")}
    assert load == {"ann": 2, "bea": 2}


def test_discipline_skills_and_language_decide_who_may_go():
    staff = [
        rn("ann"),
        rn("bea", skills=frozenset({"wound"})),
        rn("cruz", languages=frozenset({"en", "es"})),
        Clinician("dan", "PT"),
    ]
    orders = [
        Order("wound", "p1", "RN", "1w1", MON, skills=frozenset({"wound"})),
        Order("spanish", "p2", "RN", "1w1", MON),
        Order("therapy", "p1", "PT", "1w1", MON),
    ]
    week = schedule_week(MON, orders, [Patient("p1"), Patient("p2", language="es")], staff)
    assert {p.order: p.clinician for p in week.placed} == {
        "wound": "bea",
        "spanish": "cruz",
        "therapy": "dan",
    }


def test_working_days_time_off_and_the_most_visits_a_day():
    # ann works Monday to Wednesday and is off Wednesday; bea takes at most one visit a day
    staff = [
        rn("ann", weekdays=frozenset({0, 1, 2}), off=frozenset({DAY["Wed"]})),
        rn("bea", most_a_day=1),
    ]
    orders = [Order(f"o{i}", f"p{i}", "RN", "1w1", MON) for i in range(3)]
    patients = [Patient(f"p{i}", preferred=frozenset({2})) for i in range(3)]  # all like Wednesday
    week = schedule_week(MON, orders, patients, staff)
    for p in week.placed:
        if p.clinician == "ann":
            assert p.day.weekday() in (0, 1)
    per_day = {}
    for p in week.placed:
        if p.clinician == "bea":
            per_day[p.day] = per_day.get(p.day, 0) + 1
    assert all(n <= 1 for n in per_day.values())
    assert len(week.placed) == 3 and week.problems == ()


def test_a_visit_nobody_can_take_is_reported_not_placed():
    week = schedule_week(
        MON,
        [Order("o1", "p1", "RN", "1w1", MON, skills=frozenset({"trach"}))],
        [Patient("p1")],
        [rn("ann")],
    )
    assert week.placed == ()
    assert [(p.kind, p.order) for p in week.problems] == [("short", "o1")]
    assert "no open day" in week.problems[0].message


def test_a_full_day_moves_the_visit_to_another_open_day_of_its_week():
    # both patients can only be seen Monday or Tuesday; ann takes one visit a day
    staff = [rn("ann", weekdays=frozenset({0, 1}), most_a_day=1)]
    orders = [Order("o1", "p1", "RN", "1w1", MON), Order("o2", "p2", "RN", "1w1", MON)]
    avoid = frozenset(DAY[d] for d in ("Wed", "Thu", "Fri", "Sat", "Sun"))
    week = schedule_week(
        MON, orders, [Patient("p1", avoid=avoid), Patient("p2", avoid=avoid)], staff
    )
    assert sorted(p.day.strftime("%a") for p in week.placed) == ["Mon", "Tue"]
    assert week.problems == ()


def test_booked_visits_never_move_and_count_against_the_order():
    booked = [Booked("o1", DAY["Tue"], "bea", pinned=True)]
    week = schedule_week(
        MON, [Order("o1", "p1", "RN", "2w1", MON)], [Patient("p1")], [rn("ann"), rn("bea")], booked
    )
    assert len(week.placed) == 1 and week.placed[0].day != DAY["Tue"]
    over = schedule_week(
        MON,
        [Order("o1", "p1", "RN", "1w1", MON)],
        [Patient("p1")],
        [rn("ann")],
        [Booked("o1", DAY["Mon"], "ann", done=True), Booked("o1", DAY["Thu"], "ann")],
    )
    assert over.placed == ()
    assert [(p.kind, p.message) for p in over.problems] == [
        ("over", "2 visits booked for 1 ordered")
    ]


def test_an_order_week_that_straddles_the_calendar_week_places_only_this_week_s_days():
    # an order starting the Thursday before: its first period runs Thursday to Wednesday
    start = MON - timedelta(days=4)
    booked = [Booked("o1", start, "ann", done=True)]  # made last Thursday
    week = schedule_week(
        MON, [Order("o1", "p1", "RN", "3w2", start)], [Patient("p1")], [rn("ann")], booked
    )
    days = [p.day for p in week.placed]
    assert all(MON <= d <= MON + timedelta(days=6) for d in days)
    # the first period (Thu to Wed) owes two more; the second (Thu to Wed) starts on Thursday
    first = [d for d in days if d <= DAY["Wed"]]
    assert len(first) == 2


def test_an_order_for_a_patient_not_given_names_the_field():
    with pytest.raises(ValueError, match="orders: "):
        schedule_week(MON, [Order("o1", "nobody", "RN", "1w1", MON)], [], [rn("ann")])


def test_a_missed_visit_is_rescheduled_later_in_its_week_never_in_the_past():
    # Monday's visit was missed (not home): it is left out of what is booked, and the week is
    # scheduled again from Tuesday on; Wednesday's visit stays
    order = Order("o1", "p1", "RN", "2w1", MON)
    kept = [Booked("o1", DAY["Thu"], "ann")]
    again = schedule_week(MON, [order], [Patient("p1")], [rn("ann")], kept, today=DAY["Tue"])
    assert len(again.placed) == 1
    assert DAY["Tue"] <= again.placed[0].day <= DAY["Sun"] and again.placed[0].day != DAY["Thu"]
    # on Sunday with nobody working there is no day left: the week is short
    late = schedule_week(MON, [order], [Patient("p1")], [rn("ann")], kept, today=DAY["Sun"])
    assert late.placed == () and [p.kind for p in late.problems] == ["short"]

"""Due dates of the assessments of a home health episode (42 CFR 484.55), at their edges."""

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from careway.assessments import schedule
from careway.assessments.schedule import Signed, Stay

SOC = date(2026, 3, 2)


def kinds(items):
    return [(d.time_point, d.opens, d.due, d.status) for d in items]


def first_recert(items):
    return next(d for d in items if d.time_point == "recertification")


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_start_of_care_is_due_within_five_days_of_the_start_of_care_date():
    items = schedule.due_assessments(SOC, None, [], [], today=SOC)
    soc = items[0]
    assert (soc.time_point, soc.opens, soc.due) == ("start-of-care", SOC, date(2026, 3, 7))
    assert soc.status == "due"
    assert schedule.due_assessments(SOC, None, [], [], SOC + timedelta(days=5))[0].status == "due"
    assert (
        schedule.due_assessments(SOC, None, [], [], SOC + timedelta(days=6))[0].status == "overdue"
    )


def test_a_start_of_care_date_a_week_away_is_due_soon_and_further_is_upcoming():
    assert schedule.due_assessments(SOC, None, [], [], SOC - timedelta(days=7))[0].status == (
        "due-soon"
    )
    assert schedule.due_assessments(SOC, None, [], [], SOC - timedelta(days=8))[0].status == (
        "upcoming"
    )


def test_a_signed_start_of_care_assessment_makes_it_done():
    items = schedule.due_assessments(
        SOC, None, [], [Signed("start-of-care", SOC + timedelta(days=2))], SOC + timedelta(days=30)
    )
    assert items[0].status == "done"
    assert items[0].done_on == SOC + timedelta(days=2)


def test_recertification_falls_in_the_last_five_days_of_each_sixty_day_period():
    # Day 1 is the start of care; days 56 to 60 are the window; day 60 is SOC + 59.
    today = SOC + timedelta(days=54)  # day 55: the window opens tomorrow
    recert = [
        d
        for d in schedule.due_assessments(SOC, None, [], [], today)
        if d.time_point == ("recertification")
    ]
    assert [(d.opens, d.due) for d in recert] == [(SOC + timedelta(days=55), SOC + timedelta(59))]
    assert recert[0].status == "due-soon"
    on_day_56 = schedule.due_assessments(SOC, None, [], [], SOC + timedelta(days=55))
    assert first_recert(on_day_56).status == "due"
    on_day_61 = schedule.due_assessments(SOC, None, [], [], SOC + timedelta(days=60))
    assert first_recert(on_day_61).status == "overdue"


def test_the_second_period_is_shown_once_the_first_window_has_opened():
    today = SOC + timedelta(days=70)
    signed = [Signed("start-of-care", SOC), Signed("recertification", SOC + timedelta(days=57))]
    recert = [
        d
        for d in schedule.due_assessments(SOC, None, [], signed, today)
        if d.time_point == "recertification"
    ]
    assert [(d.due, d.status) for d in recert] == [
        (SOC + timedelta(days=59), "done"),
        (SOC + timedelta(days=119), "upcoming"),
    ]


def test_a_recertification_done_before_its_window_does_not_count():
    signed = [Signed("recertification", SOC + timedelta(days=50))]
    items = schedule.due_assessments(SOC, None, [], signed, SOC + timedelta(days=56))
    assert first_recert(items).status == "due"


def test_resumption_is_due_within_two_days_of_coming_home_from_a_stay_of_24_hours_or_more():
    stay = Stay(at(SOC + timedelta(days=10), 8), at(SOC + timedelta(days=13), 14))
    home = SOC + timedelta(days=13)
    items = schedule.due_assessments(SOC, None, [stay], [Signed("start-of-care", SOC)], home)
    roc = [d for d in items if d.time_point == "resumption-of-care"]
    assert [(d.opens, d.due, d.status) for d in roc] == [(home, home + timedelta(2), "due")]
    later = schedule.due_assessments(SOC, None, [stay], [], home + timedelta(days=3))
    assert [d.status for d in later if d.time_point == "resumption-of-care"] == ["overdue"]
    done = schedule.due_assessments(
        SOC, None, [stay], [Signed("resumption-of-care", home + timedelta(1))], home + timedelta(5)
    )
    assert [d.status for d in done if d.time_point == "resumption-of-care"] == ["done"]


def test_a_stay_shorter_than_24_hours_or_still_going_calls_for_no_resumption():
    short = Stay(at(SOC + timedelta(days=10), 8), at(SOC + timedelta(days=11), 7))
    ongoing = Stay(at(SOC + timedelta(days=20)), None)
    exactly = Stay(at(SOC + timedelta(days=30), 8), at(SOC + timedelta(days=31), 8))
    items = schedule.due_assessments(SOC, None, [short, ongoing, exactly], [], SOC + timedelta(31))
    assert [d.opens for d in items if d.time_point == "resumption-of-care"] == [
        SOC + timedelta(days=31)
    ]


def test_one_resumption_assessment_covers_only_its_own_return_home():
    first = Stay(at(SOC + timedelta(days=5)), at(SOC + timedelta(days=8)))
    second = Stay(at(SOC + timedelta(days=20)), at(SOC + timedelta(days=25)))
    signed = [Signed("resumption-of-care", SOC + timedelta(days=9))]
    items = schedule.due_assessments(SOC, None, [first, second], signed, SOC + timedelta(days=26))
    assert [d.status for d in items if d.time_point == "resumption-of-care"] == ["done", "due"]


def test_nothing_falls_due_after_discharge_and_nothing_without_a_start_of_care():
    end = SOC + timedelta(days=40)
    items = schedule.due_assessments(
        SOC, end, [], [Signed("start-of-care", SOC)], SOC + timedelta(100)
    )
    assert [d.time_point for d in items] == ["start-of-care"]
    assert schedule.due_assessments(None, None, [], [], SOC) == []


def test_the_caseload_shows_the_most_urgent_open_item():
    stay = Stay(at(SOC + timedelta(days=10)), at(SOC + timedelta(days=12)))
    items = schedule.due_assessments(SOC, None, [stay], [], SOC + timedelta(days=13))
    pressing = schedule.most_pressing(items)
    assert (pressing.time_point, pressing.status) == ("start-of-care", "overdue")
    done = [Signed("start-of-care", SOC), Signed("resumption-of-care", SOC + timedelta(13))]
    assert (
        schedule.most_pressing(
            schedule.due_assessments(SOC, None, [stay], done, SOC + timedelta(days=13))
        ).time_point
        == "recertification"
    )


@given(st.integers(min_value=-30, max_value=400))
def test_every_item_opens_on_or_before_its_due_date_and_only_one_future_recert(offset):
    today = SOC + timedelta(days=offset)
    items = schedule.due_assessments(SOC, None, [], [], today)
    assert all(d.opens <= d.due for d in items)
    future = [d for d in items if d.time_point == "recertification" and d.opens > today]
    assert len(future) <= 1
    overdue = [d for d in items if d.status == "overdue"]
    assert all(d.due < today for d in overdue)

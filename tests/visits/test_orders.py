"""An order's visits in a calendar week: its periods count from the order's start, so a week
meets one or two of them, each with the visits it asks and its days in the week."""

from datetime import date, timedelta

import pytest

from careway.careplans.frequency import parse
from careway.visits.orders import due_in_week, iso_week

W51 = date(2026, 12, 14)  # Monday of 2026-W51


def test_iso_weeks_and_bad_ones_name_the_field():
    assert iso_week("2026-W51") == (W51, date(2026, 12, 20))
    assert iso_week("2026w01") == (date(2025, 12, 29), date(2026, 1, 4))  # week 1 holds Jan 4
    for bad, says in [("2026-51", "2026-W51"), ("", "2026-W51"), ("2025-W53", "no week 53")]:
        with pytest.raises(ValueError, match="week: ") as raised:
            iso_week(bad)
        assert says in str(raised.value)


def test_an_order_starting_on_a_monday_fills_the_week_with_one_period():
    due = due_in_week(parse("3w1, 2w4"), W51, None, W51)
    assert [(d.start, d.visits, len(d.days)) for d in due] == [(W51, 3, 7)]
    following = due_in_week(parse("3w1, 2w4"), W51, None, W51 + timedelta(days=7))
    assert [(d.start, d.visits) for d in following] == [(W51 + timedelta(days=7), 2)]


def test_an_order_starting_midweek_meets_the_week_in_two_periods():
    wednesday = date(2026, 12, 9)  # order weeks run Wednesday to Tuesday
    due = due_in_week(parse("3w1, 2w4"), wednesday, None, W51)
    assert [(d.start, d.end, d.visits) for d in due] == [
        (wednesday, date(2026, 12, 15), 3),
        (date(2026, 12, 16), date(2026, 12, 22), 2),
    ]
    assert due[0].days == (W51, date(2026, 12, 15))  # Monday and Tuesday of W51
    assert due[1].days[0] == date(2026, 12, 16) and due[1].days[-1] == date(2026, 12, 20)


def test_nothing_before_the_start_or_after_the_end():
    assert due_in_week(parse("2w2"), date(2027, 1, 4), None, W51) == []
    assert due_in_week(parse("2w8"), date(2026, 11, 2), date(2026, 12, 10), W51) == []
    # an order ending mid-period keeps the period's days up to its end
    cut = due_in_week(parse("2w8"), date(2026, 11, 30), date(2026, 12, 16), W51)
    assert [(d.start, d.end, d.days[-1]) for d in cut] == [
        (date(2026, 12, 14), date(2026, 12, 16), date(2026, 12, 16))
    ]


def test_as_needed_visits_are_a_maximum_beside_the_schedule():
    due = due_in_week(parse("1w2, PRN x2 for dyspnea"), W51, None, W51)
    assert [(d.visits, d.as_needed) for d in due] == [(1, False), (2, True)]


def test_the_week_must_start_on_a_monday():
    with pytest.raises(ValueError, match="monday: "):
        due_in_week(parse("1w1"), W51, None, W51 + timedelta(days=1))

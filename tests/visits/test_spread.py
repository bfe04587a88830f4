"""The days of an order period's visits: spread as far apart as the open days allow (the next
period's first visit counted), the patient's preferred days among equals, never more than the
open days hold."""

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careway.visits.spread import spread

MONDAY = date(2026, 12, 14)  # a Monday
WEEK = [MONDAY + timedelta(days=i) for i in range(7)]
WEEKDAYS = WEEK[:5]


def names(days):
    return [d.strftime("%a") for d in days]


def test_three_a_week_on_weekdays_is_monday_wednesday_friday():
    got = spread(3, MONDAY, WEEK[-1], WEEKDAYS)
    assert names(got.days) == ["Mon", "Wed", "Fri"]
    assert got.short == 0


def test_twice_a_week_is_three_or_four_days_apart():
    assert names(spread(2, MONDAY, WEEK[-1], WEEK).days) == ["Mon", "Thu"]


def test_an_order_week_counts_from_its_start_not_the_calendar_week():
    # week 1 of an order started on a Wednesday runs Wednesday to Tuesday
    start = date(2026, 12, 16)
    open_days = [d for d in (start + timedelta(days=i) for i in range(7)) if d.weekday() < 5]
    assert names(spread(3, start, start + timedelta(days=6), open_days).days) == [
        "Wed",
        "Fri",
        "Mon",
    ]


def test_preferred_days_break_ties_but_never_bunch_visits():
    assert names(spread(1, MONDAY, WEEK[-1], WEEKDAYS, preferred=[3]).days) == ["Thu"]
    # Tuesday and Thursday are only two days apart: Monday and Thursday keep three
    assert names(spread(2, MONDAY, WEEK[-1], WEEKDAYS, preferred=[1, 3]).days) == ["Mon", "Thu"]
    # at the same spacing the preferred days win over the earliest (Monday and Thursday)
    assert names(spread(2, MONDAY, WEEK[-1], WEEK, preferred=[1, 4]).days) == ["Tue", "Fri"]


def test_fewer_open_days_than_visits_takes_them_all_and_says_how_many_are_short():
    got = spread(3, MONDAY, WEEK[-1], [WEEK[1], WEEK[3]])
    assert names(got.days) == ["Tue", "Thu"]
    assert got.short == 1
    nothing = spread(2, MONDAY, WEEK[-1], [])
    assert nothing.days == () and nothing.short == 2


def test_days_outside_the_period_are_not_used():
    got = spread(
        2, MONDAY, WEEK[-1], [MONDAY - timedelta(days=1), WEEK[2], WEEK[7 - 1] + timedelta(days=1)]
    )
    assert got.days == (WEEK[2],) and got.short == 1


def test_a_month_s_visits_are_about_a_week_apart():
    start = date(2026, 12, 1)
    end = date(2026, 12, 31)
    days = [start + timedelta(days=i) for i in range(31)]
    got = spread(4, start, end, days)
    gaps = [(b - a).days for a, b in itertools.pairwise(got.days)]
    assert len(got.days) == 4 and min(gaps) >= 7
    assert (got.days[0] + timedelta(days=31) - got.days[-1]).days >= 7


def test_bad_input_names_the_field():
    with pytest.raises(ValueError, match="count"):
        spread(-1, MONDAY, WEEK[-1], WEEK)
    with pytest.raises(ValueError, match="end"):
        spread(1, MONDAY, MONDAY - timedelta(days=1), WEEK)


def cyclic_gap(offsets, length):
    if len(offsets) < 2:
        return length
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    return min([*gaps, offsets[0] + length - offsets[-1]])


@settings(max_examples=300, deadline=None)
@given(
    open_mask=st.lists(st.booleans(), min_size=7, max_size=7),
    count=st.integers(1, 7),
    liked=st.sets(st.integers(0, 6), max_size=3),
)
def test_the_choice_is_the_best_of_every_choice(open_mask, count, liked):
    # against every subset of the week's open days: the longest shortest gap, then the most
    # preferred days
    open_days = [d for d, is_open in zip(WEEK, open_mask, strict=True) if is_open]
    got = spread(count, MONDAY, WEEK[-1], open_days, preferred=liked)
    offsets = [(d - MONDAY).days for d in open_days]
    if count >= len(offsets):
        assert list(got.days) == open_days and got.short == count - len(offsets)
        return
    assert got.short == 0 and len(got.days) == count
    assert list(got.days) == sorted(set(got.days)) and set(got.days) <= set(open_days)
    best = max(
        (cyclic_gap(list(c), 7), sum((MONDAY + timedelta(o)).weekday() in liked for o in c))
        for c in itertools.combinations(offsets, count)
    )
    chosen = [(d - MONDAY).days for d in got.days]
    assert (cyclic_gap(chosen, 7), sum(d.weekday() in liked for d in got.days)) == best

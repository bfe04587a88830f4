"""The frequency notation: what agencies write, read into a value, said in words, dated from the
order's start, and refused with a message naming the part that is wrong."""

from datetime import date
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careway.careplans.frequency import (
    AsNeeded,
    Daily,
    Frequency,
    FrequencyError,
    Monthly,
    Weekly,
    add_months,
    parse,
)


@pytest.mark.parametrize(
    ("text", "parts", "words"),
    [
        (
            "3w1, 2w4",
            (Weekly(3, 1), Weekly(2, 4)),
            "Three times a week for one week, then twice a week for four weeks",
        ),
        ("1m2", (Monthly(1, 2),), "Once a month for two months"),
        ("qd x5", (Daily(5),), "Daily for five days"),
        (
            "PRN x2 for dyspnea",
            (AsNeeded(2, "dyspnea"),),
            "As needed, up to two visits, for dyspnea",
        ),
        (
            " 2W3 ,prn X1 ",
            (Weekly(2, 3), AsNeeded(1)),
            "Twice a week for three weeks; and as needed, up to one visit",
        ),
        ("1w1", (Weekly(1, 1),), "Once a week for one week"),
        ("14w52", (Weekly(14, 52),), "Fourteen times a week for 52 weeks"),
    ],
)
def test_what_agencies_write_is_read_and_said_in_words(text, parts, words):
    frequency = parse(text)
    assert frequency.parts == parts
    assert frequency.in_words() == words
    assert parse(str(frequency)) == frequency


@pytest.mark.parametrize(
    ("text", "part", "says"),
    [
        ("3x1", "3x1", '"3x1" is not a frequency'),
        ("3w1, 2x4", "2x4", '"2x4" is not a frequency'),
        ("0w2", "0w2", "asks for 0 visits a week: give 1 to 14"),
        ("3w0", "3w0", "asks for 0 weeks: give 1 to 52"),
        ("15w1", "15w1", "asks for 15 visits a week"),
        ("1m13", "1m13", "asks for 13 months"),
        ("qd x61", "qd x61", "asks for 61 days"),
        ("PRN", "PRN", "gives no most visits"),
        ("PRN for pain", "PRN for pain", "gives no most visits"),
        ("3w1,", "", "A comma has no part"),
        ("", "", "Give a frequency"),
        ("PRN x1, PRN x2", "", "Give one PRN part"),
    ],
)
def test_a_wrong_frequency_is_refused_naming_the_part(text, part, says):
    with pytest.raises(FrequencyError) as refused:
        parse(text)
    assert refused.value.part == part
    assert says in str(refused.value)


def test_weeks_are_counted_from_the_start_date_not_the_calendar():
    # A Thursday start: week 1 is Thursday and the six days after it.
    periods = parse("3w1, 2w2").periods(date(2026, 12, 3))
    assert [(p.start, p.end, p.visits) for p in periods] == [
        (date(2026, 12, 3), date(2026, 12, 9), 3),
        (date(2026, 12, 10), date(2026, 12, 16), 2),
        (date(2026, 12, 17), date(2026, 12, 23), 2),
    ]


def test_months_follow_the_start_dates_day_and_a_short_month_takes_its_last_day():
    periods = parse("1m3").periods(date(2026, 11, 30))
    assert [(p.start, p.end) for p in periods] == [
        (date(2026, 11, 30), date(2026, 12, 29)),
        (date(2026, 12, 30), date(2027, 1, 29)),
        (date(2027, 1, 30), date(2027, 2, 27)),
    ]
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)


def test_as_needed_visits_count_toward_their_own_maximum_never_a_weeks_total():
    frequency = parse("2w2, PRN x3 for wound dressing changes")
    periods = frequency.periods(date(2026, 12, 1))
    scheduled = [p for p in periods if not p.as_needed]
    assert [p.visits for p in scheduled] == [2, 2]
    (prn,) = [p for p in periods if p.as_needed]
    assert (prn.start, prn.end, prn.visits) == (date(2026, 12, 1), date(2026, 12, 14), 3)
    assert frequency.scheduled_visits() == 4


def test_daily_visits_are_one_a_day():
    periods = parse("qd x3, 3w1").periods(date(2026, 12, 1))
    assert [(p.start, p.visits) for p in periods] == [
        (date(2026, 12, 1), 1),
        (date(2026, 12, 2), 1),
        (date(2026, 12, 3), 1),
        (date(2026, 12, 4), 3),
    ]


scheduled_parts = st.one_of(
    st.builds(Weekly, st.integers(1, 14), st.integers(1, 52)),
    st.builds(Monthly, st.integers(1, 31), st.integers(1, 12)),
    st.builds(Daily, st.integers(1, 60)),
)
reasons = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", max_size=30).map(
    lambda t: " ".join(t.split())
)
frequencies = st.builds(
    lambda parts, prn: Frequency(tuple(parts) + ((prn,) if prn else ())),
    st.lists(scheduled_parts, min_size=1, max_size=4),
    st.none() | st.builds(AsNeeded, st.integers(1, 20), reasons),
)


@given(frequencies)
def test_any_frequency_is_written_and_read_back_the_same(frequency):
    assert parse(str(frequency)) == frequency
    assert not frequency.in_words()[0].islower()


@given(frequencies, st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)))
def test_the_periods_follow_each_other_without_a_gap_from_the_start(frequency, start):
    scheduled = [p for p in frequency.periods(start) if not p.as_needed]
    assert scheduled[0].start == start
    for before, after in pairwise(scheduled):
        assert (after.start - before.end).days == 1

"""A goal's achievement from constructed series of readings: each rule, its edges, missing and
stale data, and the words that say which rule was used."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careway.careplans.achievement import (
    Achievement,
    FreeOfTarget,
    Reading,
    Target,
    evaluate,
    evaluate_free_of,
)

TODAY = date(2026, 12, 6)
SYSTOLIC = Target(high=140, measure="systolic pressure", unit="mmHg", due=date(2027, 1, 31))
DRY_WEIGHT = Target(low=69, high=71, measure="weight", unit="kg", tolerance=0.2)


def series(*values: float, last: date = TODAY, every: int = 2) -> list[Reading]:
    """Readings every `every` days, the last on `last`."""
    start = last - timedelta(days=every * (len(values) - 1))
    return [Reading(start + timedelta(days=every * i), v) for i, v in enumerate(values)]


def test_no_reading_is_in_progress_and_says_so():
    verdict = evaluate(SYSTOLIC, [], TODAY)
    assert verdict.status == Achievement.IN_PROGRESS
    assert verdict.rule == "No systolic pressure recorded yet."


def test_three_of_the_last_four_within_target_is_achieved_and_says_which_rule():
    verdict = evaluate(SYSTOLIC, series(150, 138, 152, 136, 139), TODAY)
    assert verdict.status == Achievement.ACHIEVED
    assert verdict.rule == "3 of the last 4 systolic pressures within at most 140 mmHg."
    assert [r.value for r in verdict.evidence] == [138, 152, 136, 139]


def test_two_of_the_last_four_is_not_yet_achieved():
    verdict = evaluate(SYSTOLIC, series(138, 152, 150, 136), TODAY)
    assert verdict.status != Achievement.ACHIEVED


def test_met_before_the_latest_and_still_met_is_sustaining():
    verdict = evaluate(SYSTOLIC, series(130, 132, 150, 128, 131), TODAY)
    assert verdict.status == Achievement.SUSTAINING


def test_the_target_edge_counts_as_within():
    assert evaluate(SYSTOLIC, series(140, 140, 140), TODAY).status == Achievement.ACHIEVED
    assert evaluate(SYSTOLIC, series(140.5, 140.5, 140.5), TODAY).status != Achievement.ACHIEVED


def test_a_stale_latest_reading_is_no_evidence():
    old = series(130, 131, 129, last=TODAY - timedelta(days=31))
    verdict = evaluate(SYSTOLIC, old, TODAY)
    assert verdict.status == Achievement.IN_PROGRESS
    assert (
        verdict.rule == "The latest systolic pressure is 31 days old (Nov 5): no recent evidence."
    )
    # 30 days old is still recent.
    recent = series(130, 131, 129, last=TODAY - timedelta(days=30))
    assert evaluate(SYSTOLIC, recent, TODAY).status == Achievement.ACHIEVED


def test_readings_after_today_are_not_evidence_yet():
    future = [*series(150, 151), Reading(TODAY + timedelta(days=1), 120)]
    assert evaluate(SYSTOLIC, future, TODAY).evidence[-1].when <= TODAY


def test_past_the_due_date_without_the_rule_met_is_not_achieved():
    due = Target(high=140, measure="systolic pressure", due=TODAY - timedelta(days=1))
    verdict = evaluate(due, series(150, 138, 152, 149), TODAY)
    assert verdict.status == Achievement.NOT_ACHIEVED
    assert verdict.rule.startswith("Due Dec 5: only 1 of the last 4 systolic pressures")
    # On the due date itself there is still time.
    on_the_day = Target(high=140, measure="systolic pressure", due=TODAY)
    assert evaluate(on_the_day, series(150, 138, 152, 149), TODAY).status != (
        Achievement.NOT_ACHIEVED
    )


def test_a_weight_moving_away_from_dry_weight_is_worsening():
    verdict = evaluate(DRY_WEIGHT, series(71.5, 71.8, 71.6, 73.4), TODAY)
    assert verdict.status == Achievement.WORSENING
    assert verdict.rule.startswith("Latest weight 2.4 kg from the target, 1.8 kg further than")


def test_a_weight_coming_back_is_improving_and_a_small_move_is_no_change():
    assert evaluate(DRY_WEIGHT, series(74, 73.8, 74.1, 72.0), TODAY).status == (
        Achievement.IMPROVING
    )
    assert evaluate(DRY_WEIGHT, series(72.0, 72.1, 71.9, 72.1), TODAY).status == (
        Achievement.NO_CHANGE
    )


def test_one_reading_is_in_progress_saying_how_far():
    verdict = evaluate(DRY_WEIGHT, series(72.5), TODAY)
    assert verdict.status == Achievement.IN_PROGRESS
    assert verdict.rule.startswith("One weight so far, 1.5 kg from the target")


def test_on_target_but_fewer_readings_than_the_rule_needs_is_in_progress():
    verdict = evaluate(SYSTOLIC, series(130, 131), TODAY)
    assert verdict.status == Achievement.IN_PROGRESS
    assert (
        verdict.rule == "2 of the last 2 systolic pressures within at most 140 mmHg; 3 are needed."
    )


def test_a_lower_bound_target_phq9_below_10_and_a_floor():
    phq9 = Target(high=9, measure="PHQ-9 total")
    assert evaluate(phq9, series(14, 11, 8, 7, 6), TODAY).status == Achievement.ACHIEVED
    spo2 = Target(low=92, measure="SpO2", unit="%")
    assert evaluate(spo2, series(88, 89, 90, 93), TODAY).status == Achievement.IMPROVING


@pytest.mark.parametrize("bad", [{}, {"low": 5, "high": 4}, {"high": 1, "needed": 5, "window": 4}])
def test_a_target_that_cannot_be_met_is_refused(bad):
    with pytest.raises(ValueError):
        Target(**bad)


values = st.floats(min_value=50, max_value=250, allow_nan=False)


@given(st.lists(values, max_size=12))
def test_achieved_exactly_when_enough_recent_readings_are_within(readings):
    verdict = evaluate(SYSTOLIC, series(*readings), TODAY)
    met = sum(v <= 140 for v in readings[-4:])
    assert (verdict.status in (Achievement.ACHIEVED, Achievement.SUSTAINING)) == (met >= 3)
    assert verdict.rule


BEGAN = date(2026, 10, 1)
NO_FALLS = FreeOfTarget(days=30, since=BEGAN, event="fall")


def test_thirty_days_without_a_fall_is_achieved_and_sixty_sustaining():
    assert evaluate_free_of(NO_FALLS, [], BEGAN + timedelta(days=29)).status == (
        Achievement.ACHIEVED
    )
    verdict = evaluate_free_of(NO_FALLS, [date(2026, 10, 20)], date(2026, 11, 19))
    assert verdict.status == Achievement.ACHIEVED
    assert verdict.rule == "No fall for 30 days (30 are needed)."
    assert evaluate_free_of(NO_FALLS, [], BEGAN + timedelta(days=59)).status == (
        Achievement.SUSTAINING
    )


def test_a_fall_starts_the_count_again_and_is_named():
    verdict = evaluate_free_of(NO_FALLS, [date(2026, 11, 30)], TODAY)
    assert verdict.status == Achievement.IN_PROGRESS
    assert verdict.rule == "A fall on Nov 30, 6 days without one since; 30 are needed."


def test_a_young_goal_without_a_fall_is_in_progress_and_falls_before_it_do_not_count():
    young = FreeOfTarget(days=30, since=TODAY - timedelta(days=11), event="fall")
    verdict = evaluate_free_of(young, [TODAY - timedelta(days=40)], TODAY)
    assert verdict.status == Achievement.IN_PROGRESS
    assert verdict.rule == "No fall in the 12 days since the goal began; 30 are needed."


def test_past_due_with_a_recent_fall_is_not_achieved():
    due = FreeOfTarget(days=30, since=BEGAN, event="fall", due=TODAY - timedelta(days=1))
    verdict = evaluate_free_of(due, [TODAY - timedelta(days=3)], TODAY)
    assert verdict.status == Achievement.NOT_ACHIEVED
    assert verdict.rule == "Due Dec 5: only 3 days without a fall (30 are needed)."


@given(
    st.lists(st.integers(0, 90), max_size=6),
    st.integers(1, 45),
)
def test_achieved_exactly_when_the_last_days_hold_no_event(days_after_start, need):
    today = BEGAN + timedelta(days=90)
    events = [BEGAN + timedelta(days=d) for d in days_after_start]
    verdict = evaluate_free_of(FreeOfTarget(days=need, since=BEGAN), events, today)
    window = [e for e in events if (today - e).days < need]
    assert (verdict.status in (Achievement.ACHIEVED, Achievement.SUSTAINING)) == (not window)

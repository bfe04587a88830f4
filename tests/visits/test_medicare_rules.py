"""Medicare's visit timing rules (careway/visits/content/medicare_visit_rules.json) at their
edges: the last day a visit meets a rule and the first day it does not, who may make it, and
the state a scheduler sees (met, scheduled, at risk, missed)."""

from datetime import date, timedelta

import pytest

from careway.visits import medicare
from careway.visits.medicare import AT_RISK, MET, MISSED, SCHEDULED, Case, Visit

REFERRAL = date(2026, 12, 7)


def one(case, rule, today, through=None):
    found = [o for o in medicare.obligations(case, today, through or today) if o.rule == rule]
    assert len(found) == 1, found
    return found[0]


def test_every_rule_cites_its_source_and_has_a_kind_the_code_reads():
    data = medicare.rules()
    assert data["sources"] and all("CFR" in s for s in data["sources"])
    kinds = {"after-referral", "after-return-home", "period-window", "every", "count-per-period"}
    for rule in data["rules"]:
        assert rule["kind"] in kinds and rule["source"] and rule["says"] and rule["title"]


def test_the_recertification_window_is_the_care_plans_one():
    # the same days 56-60 of each 60-day period as the plan of care's certification periods
    from careway.careplans import certification

    rule = next(r for r in medicare.rules()["rules"] if r["id"] == "recertification")
    assert rule["period_days"] == certification.PERIOD_DAYS
    assert (
        rule["window_last_day"] - rule["window_first_day"] + 1 == certification.RECERT_WINDOW_DAYS
    )


@pytest.mark.parametrize(("offset", "state"), [(0, SCHEDULED), (2, SCHEDULED), (3, AT_RISK)])
def test_start_of_care_within_two_days_of_the_referral(offset, state):
    visit = Visit(REFERRAL + timedelta(days=offset), "RN", "start-of-care")
    assert one(Case(REFERRAL, visits=(visit,)), "start-of-care", REFERRAL).state == state


def test_start_of_care_states_over_time_and_who_may_open_the_case():
    made = Visit(REFERRAL + timedelta(days=1), "RN", "start-of-care", done=True)
    assert (
        one(Case(REFERRAL, visits=(made,)), "start-of-care", REFERRAL + timedelta(days=5)).state
        == MET
    )
    late = REFERRAL + timedelta(days=3)
    nothing = one(Case(REFERRAL), "start-of-care", late)
    assert nothing.state == MISSED and nothing.due == REFERRAL + timedelta(days=2)
    assert "RN or PT or SLP" in nothing.message
    # an LPN's visit, or a planned visit that was never made, does not open the case
    lpn = Visit(REFERRAL + timedelta(days=1), "LPN", "start-of-care", done=True)
    assert one(Case(REFERRAL, visits=(lpn,)), "start-of-care", late).state == MISSED
    not_made = Visit(REFERRAL + timedelta(days=1), "RN", "start-of-care")
    assert one(Case(REFERRAL, visits=(not_made,)), "start-of-care", late).state == MISSED


def test_start_of_care_by_the_physician_s_date():
    ordered = REFERRAL + timedelta(days=7)
    on_time = Visit(ordered, "PT", "start-of-care")
    after = Visit(ordered + timedelta(days=1), "PT", "start-of-care")
    case = Case(REFERRAL, ordered_start=ordered)
    assert one(case, "start-of-care", REFERRAL).due == ordered
    assert (
        one(Case(REFERRAL, ordered, visits=(on_time,)), "start-of-care", REFERRAL).state
        == SCHEDULED
    )
    assert one(Case(REFERRAL, ordered, visits=(after,)), "start-of-care", REFERRAL).state == AT_RISK


def test_resumption_of_care_within_two_days_of_each_return_home():
    back = date(2027, 1, 10)
    case = Case(
        REFERRAL,
        start_of_care=REFERRAL,
        returns_home=(back, date(2027, 1, 30)),
        visits=(Visit(back + timedelta(days=2), "RN", "resumption", done=True),),
    )
    first, second = [
        o
        for o in medicare.obligations(case, date(2027, 2, 2), date(2027, 2, 2))
        if o.rule == "resumption-of-care"
    ]
    assert (first.state, first.opens, first.due) == (MET, back, back + timedelta(days=2))
    assert second.state == MISSED
    day_three = Case(
        REFERRAL,
        returns_home=(back,),
        visits=(Visit(back + timedelta(days=3), "RN", "resumption", done=True),),
    )
    assert one(day_three, "resumption-of-care", back + timedelta(days=4)).state == MISSED


def test_recertification_in_days_56_to_60_of_each_period():
    soc = date(2027, 1, 1)
    day56, day60 = date(2027, 2, 25), date(2027, 3, 1)
    for day, state in [
        (day56 - timedelta(days=1), AT_RISK),
        (day56, SCHEDULED),
        (day60, SCHEDULED),
        (day60 + timedelta(days=1), AT_RISK),
    ]:
        case = Case(soc, start_of_care=soc, visits=(Visit(day, "RN", "recertification"),))
        found = one(case, "recertification", soc, through=day60)
        assert (found.opens, found.due, found.state) == (day56, day60, state), day
    # the next period's window, once the schedule reaches it; none after discharge
    periods = [
        o
        for o in medicare.obligations(Case(soc, start_of_care=soc), soc, date(2027, 4, 26))
        if o.rule == "recertification"
    ]
    assert [(o.opens, o.due) for o in periods] == [
        (day56, day60),
        (date(2027, 4, 26), date(2027, 4, 30)),
    ]
    gone = Case(soc, start_of_care=soc, discharged=date(2027, 2, 1))
    assert [
        o for o in medicare.obligations(gone, soc, date(2027, 4, 30)) if o.rule == "recertification"
    ] == []


def aide_visits(first, days, step=2):
    return tuple(Visit(first + timedelta(days=i), "HHA", done=True) for i in range(0, days, step))


def test_aide_supervision_every_14_days_when_skilled_services_continue():
    start = date(2027, 1, 4)
    skilled = (Visit(start, "RN", "start-of-care", done=True),)
    on_day_14 = Visit(start + timedelta(days=14), "PT", "aide-supervision", done=True)
    case = Case(start, start_of_care=start, visits=skilled + aide_visits(start, 30) + (on_day_14,))
    first, second = [
        o
        for o in medicare.obligations(case, start + timedelta(days=30), start + timedelta(days=30))
        if o.rule == "aide-supervision"
    ]
    assert (first.state, first.due) == (MET, start + timedelta(days=14))
    # the next is counted from the supervisory visit made
    assert (second.opens, second.due, second.state) == (
        start + timedelta(days=15),
        start + timedelta(days=28),
        MISSED,
    )
    day_15 = Visit(start + timedelta(days=15), "RN", "aide-supervision", done=True)
    case = Case(start, start_of_care=start, visits=skilled + aide_visits(start, 30) + (day_15,))
    assert (
        one(case, "aide-supervision", start + timedelta(days=20), start + timedelta(days=20)).state
        == MISSED
    )


def test_aide_supervision_every_60_days_by_a_nurse_when_aide_services_are_all():
    start = date(2027, 1, 4)
    through = start + timedelta(days=60)
    aide = aide_visits(start, 90, step=7)
    by_pt = Case(
        start, start_of_care=start, visits=(*aide, Visit(through, "PT", "aide-supervision"))
    )
    found = one(by_pt, "aide-supervision", start, through)
    assert (found.due, found.state, found.disciplines) == (through, AT_RISK, ("RN",))
    by_rn = Case(
        start, start_of_care=start, visits=(*aide, Visit(through, "RN", "aide-supervision"))
    )
    assert one(by_rn, "aide-supervision", start, through).state == SCHEDULED
    # no aide, no supervision
    assert [
        o
        for o in medicare.obligations(
            Case(start, start_of_care=start), start, start + timedelta(days=90)
        )
        if o.rule == "aide-supervision"
    ] == []


def test_each_30_day_period_s_visits_against_the_agency_s_threshold():
    soc = date(2027, 1, 1)
    made = tuple(Visit(soc + timedelta(days=d), "RN", done=True) for d in (0, 7, 14))
    planned = (Visit(soc + timedelta(days=21), "RN"),)
    last = soc + timedelta(days=29)
    assert (
        one(
            Case(soc, start_of_care=soc, low_utilization=4, visits=made + planned),
            "low-utilization",
            soc + timedelta(days=15),
        ).state
        == SCHEDULED
    )
    short = one(
        Case(soc, start_of_care=soc, low_utilization=4, visits=made),
        "low-utilization",
        soc + timedelta(days=15),
    )
    assert (short.state, short.counted, short.needed, short.due) == (AT_RISK, 3, 4, last)
    assert "3 of 4 visits" in short.message
    assert (
        one(
            Case(soc, start_of_care=soc, low_utilization=4, visits=made),
            "low-utilization",
            last + timedelta(days=1),
            last,
        ).state
        == MISSED
    )
    assert (
        one(
            Case(soc, start_of_care=soc, low_utilization=3, visits=made), "low-utilization", last
        ).state
        == MET
    )
    # no threshold entered: nothing counted
    assert [
        o
        for o in medicare.obligations(Case(soc, start_of_care=soc, visits=made), soc, last)
        if o.rule == "low-utilization"
    ] == []


def test_at_risk_keeps_only_what_to_flag():
    soc = REFERRAL
    case = Case(REFERRAL, start_of_care=soc, visits=(Visit(soc, "RN", "start-of-care", done=True),))
    flagged = medicare.at_risk(case, soc + timedelta(days=58), soc + timedelta(days=58))
    assert [o.rule for o in flagged] == ["recertification"]
    assert flagged[0].state == AT_RISK

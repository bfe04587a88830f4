"""Every shipped rule, table-driven: it fires on the evidence it names and not without it, and
each preventive rule at its age and interval edges (careway/careplans/content/rules/).

The charts are built from each rule's own condition tree, so a rule added to the files is tested
here without a line of test code: `satisfy` writes the evidence each leaf asks for.
"""

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from careway.careplans import rules
from careway.careplans.plan_templates import shipped
from careway.careplans.rules import Chart, Coded, FindingFact, FlagFact, ScoreFact

TODAY = date(2026, 12, 7)
RULES = rules.rules()
PREVENTIVE = [r for r in RULES if r.preventive]


def _first_code(groups: list[dict[str, Any]]) -> tuple[str, str]:
    group = groups[0]
    if group.get("codes"):
        return group["system"], group["codes"][0]
    return group["system"], group["prefixes"][0]


def _born(age: int) -> date:
    return date(TODAY.year - age, TODAY.month, TODAY.day)


def satisfy(node: dict[str, Any], chart: Chart, skip: Any = None) -> None:
    """Add to the chart what the tree needs to fire (`not` needs nothing: the chart is bare),
    leaving out the evidence of the leaf `skip`."""
    ((kind, spec),) = node.items()
    if node is skip:
        return
    if kind == "all":
        for child in spec:
            satisfy(child, chart, skip)
    elif kind == "any":
        satisfy(spec[0], chart, skip)
    elif kind == "not":
        return
    elif kind == "condition":
        system, code = _first_code(spec["codes"])
        chart.conditions.append(Coded(system, code, "A condition", TODAY))
    elif kind == "score":
        value = spec.get("at_least", spec.get("at_most", 0))
        chart.scores[(spec["questionnaire"], spec.get("key", "total"))] = ScoreFact(
            "A score", value, TODAY
        )
    elif kind == "finding":
        chart.findings.append(
            FindingFact(
                1, spec["kind"], "Found", "Fix it", "item-1", TODAY, spec.get("questionnaire", "")
            )
        )
    elif kind == "flag":
        chart.flags.append(FlagFact(spec["kind"], spec.get("severity", "warning"), "Flag", TODAY))
    elif kind == "age":
        chart.birth_date = _born(spec.get("at_least", spec.get("at_most", 70)))
    elif kind == "sex":
        chart.sex = spec
    else:
        system, code = _first_code(spec["codes"])
        value = spec.get("at_least", spec.get("at_most"))
        records = getattr(chart, rules.RECORDS[kind])
        for _ in range(int(spec.get("count_at_least", 1))):
            records.append(Coded(system, code, "A record", TODAY, value))


def positive_leaves(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The leaves that must hold for the rule to fire (under `all`, the first branch of `any`)."""
    ((kind, spec),) = node.items()
    if kind == "all":
        return [leaf for child in spec for leaf in positive_leaves(child)]
    if kind == "any":
        return positive_leaves(spec[0])  # the branch `satisfy` takes
    if kind == "not":
        return []
    return [node]


def negated_leaves(node: dict[str, Any]) -> list[dict[str, Any]]:
    ((kind, spec),) = node.items()
    if kind == "all":
        return [leaf for child in spec for leaf in negated_leaves(child)]
    if kind == "not":
        return positive_leaves(spec)
    return []


def fired_chart(rule: rules.Rule) -> Chart:
    chart = Chart(today=TODAY)
    satisfy(rule.when, chart)
    return chart


def test_the_files_hold_rules_for_every_template_and_every_preventive_gap():
    templates = shipped()
    assert {r.template for r in RULES} - set(templates) == set()
    assert {r.template for r in RULES if not r.preventive} == set(templates) - {"preventive-care"}
    gaps = {item for r in PREVENTIVE for item in r.items} - {"preventive"}
    assert gaps == {
        "flu-vaccine",
        "pneumococcal-vaccine",
        "zoster-vaccine",
        "covid-vaccine",
        "td-tdap-vaccine",
        "colorectal-screening",
        "diabetic-eye-exam",
        "diabetic-foot-exam",
        "a1c-test",
    }
    for rule in RULES:
        assert set(rule.items) <= set(templates[rule.template].items), rule.id


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_a_rule_fires_on_its_evidence_with_reasons(rule):
    fired = rules.evaluate(rule.when, fired_chart(rule), rule)
    assert fired is not None, f"{rule.id} did not fire on the evidence it names"
    assert fired.facts, rule.id
    assert fired.reasons, f"{rule.id} fired without a reason in words"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_a_rule_does_not_fire_on_a_bare_chart(rule):
    assert rules.evaluate(rule.when, Chart(today=TODAY), rule) is None


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_a_rule_does_not_fire_without_each_piece_of_its_evidence(rule):
    for leaf in positive_leaves(rule.when):
        chart = Chart(today=TODAY)
        satisfy(rule.when, chart, skip=leaf)
        assert rules.evaluate(rule.when, chart, rule) is None, (rule.id, leaf)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_a_rule_does_not_fire_when_the_record_already_shows_it_done(rule):
    for leaf in negated_leaves(rule.when):
        chart = fired_chart(rule)
        satisfy(leaf, chart)
        assert rules.evaluate(rule.when, chart, rule) is None, (rule.id, leaf)


def _age_leaves(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [leaf["age"] for leaf in positive_leaves(node) if "age" in leaf]


AGED = [r for r in PREVENTIVE if _age_leaves(r.when)]


@pytest.mark.parametrize("rule", AGED, ids=lambda r: r.id)
def test_a_preventive_rule_at_its_age_edges(rule):
    chart = fired_chart(rule)
    (band,) = _age_leaves(rule.when)
    if "at_least" in band:
        young = band["at_least"]
        assert rules.evaluate(rule.when, replace(chart, birth_date=_born(young)), rule)
        day_before = _born(young) + timedelta(days=1)  # a birthday tomorrow: one year younger
        assert rules.evaluate(rule.when, replace(chart, birth_date=day_before), rule) is None
    if "at_most" in band:
        old = band["at_most"]
        assert rules.evaluate(rule.when, replace(chart, birth_date=_born(old)), rule)
        assert rules.evaluate(rule.when, replace(chart, birth_date=_born(old + 1)), rule) is None


def _windows(rule: rules.Rule) -> list[tuple[str, dict[str, Any]]]:
    return [
        (kind, spec)
        for leaf in negated_leaves(rule.when)
        for kind, spec in leaf.items()
        if "within_days" in spec or "since_season" in spec
    ]


WINDOWED = [r for r in PREVENTIVE if _windows(r)]


@pytest.mark.parametrize("rule", WINDOWED, ids=lambda r: r.id)
def test_a_preventive_rule_at_its_interval_edges(rule):
    """A record on the first day that counts closes the gap; one a day earlier leaves it open."""
    for kind, spec in _windows(rule):
        if "within_days" in spec:
            first = TODAY - timedelta(days=spec["within_days"])
        else:
            month, day = (int(p) for p in spec["since_season"].split("-"))
            first = date(TODAY.year, month, day)
            first = first if first <= TODAY else date(TODAY.year - 1, month, day)
        for when, closed in ((first, True), (first - timedelta(days=1), False)):
            chart = fired_chart(rule)
            system, code = _first_code(spec["codes"])
            value = spec.get("at_least", spec.get("at_most"))
            records = getattr(chart, rules.RECORDS[kind])
            records.extend(
                Coded(system, code, "A record", when, value)
                for _ in range(int(spec.get("count_at_least", 1)))
            )
            fired = rules.evaluate(rule.when, chart, rule)
            assert (fired is None) is closed, (rule.id, kind, when)


def test_a_series_not_yet_complete_names_what_the_record_holds_and_its_fact_follows_it():
    (rule,) = [r for r in PREVENTIVE if r.id == "pneumococcal-vaccine"]
    chart = Chart(today=TODAY, birth_date=_born(70))
    cvx = "http://hl7.org/fhir/sid/cvx"
    chart.immunizations.append(
        Coded(cvx, "133", "Pneumococcal conjugate PCV 13", TODAY - timedelta(days=800))
    )
    fired = rules.evaluate(rule.when, chart, rule)
    assert fired is not None
    assert any("on the record: Pneumococcal conjugate PCV 13" in r for r in fired.reasons)
    later = replace(chart, immunizations=[*chart.immunizations])
    later.immunizations.append(
        Coded(cvx, "33", "Pneumococcal polysaccharide PPSV23", TODAY - timedelta(days=10))
    )
    again = rules.evaluate(rule.when, later, rule)
    # A new dose changes the facts (a rejection comes back), or completes the series.
    assert again is None or set(again.facts) != set(fired.facts)

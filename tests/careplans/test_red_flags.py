"""Red flags (issue 19: "whom to call and when (the red flags for their conditions)"): the file is
read and checked naming each wrong field by its path; every group matches the same codes as the
suggestion rules for its condition; a patient gets the general group and one group per matching
condition group, in file order, in their language (English where there is no translation)."""

import copy
import json

import pytest

from careway.careplans import red_flags, rules
from careway.careplans.handouts import HandoutError
from careway.core import audit
from careway.patients import services as patient_services

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
EXPECTED_GROUPS = {
    "general",
    "heart-failure",
    "copd",
    "diabetes",
    "hypertension",
    "stroke",
    "hip-fracture-joint-replacement",
    "dementia",
    "depression",
    "wounds",
}


def raw_file() -> dict:
    return json.loads(red_flags.FILE.read_text(encoding="utf-8"))


def test_the_file_has_the_general_group_first_and_one_group_per_condition():
    keys = [group.key for group in red_flags.groups()]
    assert keys[0] == "general" and set(keys) == EXPECTED_GROUPS
    for group in red_flags.groups():
        assert group.call_911["en"] and group.call_agency["en"], group.key
        assert len(group.call_911["es"]) == len(group.call_911["en"]), group.key
        assert len(group.call_agency["es"]) == len(group.call_agency["en"]), group.key
    text = red_flags.groups()[-1].text_in("en") + red_flags.groups()[0].text_in("es")
    assert text
    depression = next(g for g in red_flags.groups() if g.key == "depression")
    assert any("988" in line for line in depression.call_911["en"])
    assert any("988" in line for line in depression.call_911["es"])


def test_every_condition_group_uses_the_code_lists_of_its_suggestion_rules():
    by_id = {rule.id: rule for rule in rules.rules()}
    for group in red_flags.groups()[1:]:
        assert group.same_as_rules, group.key
        trees = [by_id[rule_id].when for rule_id in group.same_as_rules]
        assert group.when == (trees[0] if len(trees) == 1 else {"any": trees}), group.key


def test_a_wrong_file_is_refused_naming_every_field_by_its_path():
    raw = raw_file()
    broken = copy.deepcopy(raw)
    del broken["groups"][1]["call_911"]["es"]
    broken["groups"][2]["call_agency"]["en"][1] = " "
    broken["groups"][3]["when"] = {"diagnosis": {}}
    broken["groups"][4]["title"] = "Heart"
    broken["groups"][0]["when"] = {"age": {"at_least": 65}}
    with pytest.raises(HandoutError) as refused:
        red_flags.parse_red_flags(broken)
    assert set(refused.value.errors) == {
        "groups[1].call_911.es",
        "groups[2].call_agency.en[1]",
        "groups[3].when",
        "groups[4].title",
        "groups[0].when",
    }
    swapped = copy.deepcopy(raw)
    swapped["groups"] = swapped["groups"][1:] + swapped["groups"][:1]
    with pytest.raises(HandoutError) as first:
        red_flags.parse_red_flags(swapped)
    assert "groups[0].key" in first.value.errors


def chart_with(*codes: tuple[str, str]) -> rules.Chart:
    chart = rules.Chart(today=rules.date(2026, 12, 7))
    chart.conditions.extend(rules.Coded(system, code, "", None) for system, code in codes)
    return chart


@pytest.mark.parametrize(
    ("system", "code", "group"),
    [
        (SNOMED, "84114007", "heart-failure"),
        (ICD10CM, "I50.9", "heart-failure"),
        (SNOMED, "185086009", "copd"),
        (ICD10CM, "J44.1", "copd"),
        (SNOMED, "44054006", "diabetes"),
        (ICD10CM, "E11.9", "diabetes"),
        (SNOMED, "59621000", "hypertension"),
        (ICD10CM, "I10", "hypertension"),
        (SNOMED, "230690007", "stroke"),
        (ICD10CM, "I63.9", "stroke"),
        (ICD10CM, "S72.001A", "hip-fracture-joint-replacement"),
        (ICD10CM, "Z96.641", "hip-fracture-joint-replacement"),
        (SNOMED, "26929004", "dementia"),
        (ICD10CM, "F03.90", "dementia"),
        (SNOMED, "370143000", "depression"),
        (ICD10CM, "F32.A", "depression"),
        (SNOMED, "399912005", "wounds"),
        (ICD10CM, "L89.153", "wounds"),
    ],
)
def test_each_condition_brings_its_group_after_the_general_one(system, code, group):
    keys = [g.key for g in red_flags.groups_matching(chart_with((system, code)))]
    assert keys == ["general", group]


def test_prediabetes_and_a_chart_with_nothing_get_only_the_general_group():
    assert [g.key for g in red_flags.groups_matching(chart_with())] == ["general"]
    prediabetes = chart_with((SNOMED, "15777000"), (ICD10CM, "R73.03"))
    assert [g.key for g in red_flags.groups_matching(prediabetes)] == ["general"]


def test_a_positive_depression_screen_or_a_self_harm_answer_brings_the_988_line():
    today = rules.date(2026, 12, 7)
    phq9 = ("urn:careway:fhir:Questionnaire:phq-9", "total")
    screened = chart_with()
    screened.scores[phq9] = rules.ScoreFact("PHQ-9 total", 12, today)
    assert [g.key for g in red_flags.groups_matching(screened)] == ["general", "depression"]
    mild = chart_with()
    mild.scores[phq9] = rules.ScoreFact("PHQ-9 total", 6, today)
    assert [g.key for g in red_flags.groups_matching(mild)] == ["general"]
    answered = chart_with()
    answered.findings.append(
        rules.FindingFact(1, "self-harm-risk", "Thoughts of self-harm", "", "a1", today)
    )
    assert [g.key for g in red_flags.groups_matching(answered)] == ["general", "depression"]


def test_several_conditions_come_in_file_order():
    chart = chart_with((ICD10CM, "F32.9"), (SNOMED, "84114007"), (ICD10CM, "E11.9"))
    keys = [g.key for g in red_flags.groups_matching(chart)]
    assert keys == ["general", "heart-failure", "diabetes", "depression"]


@pytest.mark.django_db
def test_red_flags_for_a_patient_read_their_chart_in_their_language(world):
    actor = audit.Actor(user=world.cm)
    patient_services.add_condition(
        actor,
        world.patient,
        {"code_system": SNOMED, "code": "84114007", "display": "Heart failure (disorder)"},
    )
    english = red_flags.red_flags_for(world.patient, "en")
    assert [g.key for g in english] == ["general", "heart-failure"]
    assert english[1].title == "Heart failure"
    assert any("2 to 3 pounds" in line for line in english[1].call_agency)
    spanish = red_flags.red_flags_for(world.patient, "es")
    assert spanish[1].title == "Insuficiencia cardiaca"
    assert spanish[0].call_911[0].startswith("Tiene dolor")
    # A language with no translation is shown in English.
    assert red_flags.red_flags_for(world.patient, "vi") == english
    # Another patient's chart is their own.
    assert [g.key for g in red_flags.red_flags_for(world.outsider_patient, "en")] == ["general"]

"""The comprehensive assessment as data (content/templates/comprehensive.json, template.py) and
Careway's own section questionnaires (content/soc-*.json): every part is a questionnaire that
loads, sections come in the issue's order, each time point asks the sections it should, a bad
template is refused with the place named, and the vital signs are coded as the chart codes them."""

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from careway.assessments import engine, form, instruments, template
from careway.assessments.answers import parse
from careway.assessments.models import Assessment, Finding, Response
from careway.assessments.questionnaires import missing_required
from careway.patients import vitals
from careway.patients.models import PatientFlag

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
CAREWAY = "urn:careway:fhir:StructureDefinition:"
FINDING = CAREWAY + "finding"

# Issue 4, "The comprehensive assessment": reason for care and history, active problems,
# medications, vital signs, function, cognition and mood, falls, skin, pain, nutrition, home
# environment and safety, social needs, caregivers and support, advance care planning, goals.
ISSUE_ORDER = [
    "history", "problems", "medications", "vitals", "function", "cognition-mood", "falls",
    "skin", "pain", "nutrition", "home", "social-needs", "caregivers", "advance-care", "goals",
]  # fmt: skip
OURS = [
    "soc-history", "soc-problems", "soc-medications", "soc-vitals", "soc-nutrition", "soc-skin",
    "soc-pain", "soc-home", "soc-caregivers", "soc-advance-care", "soc-goals",
]  # fmt: skip
# The item types the assessment's form draws.
RENDERED_TYPES = {
    "group", "display", "boolean", "choice", "open-choice", "integer", "decimal", "string",
    "text", "date", "dateTime", "quantity",
}  # fmt: skip


def questionnaire(qid: str) -> dict[str, Any]:
    return instruments.shipped()[qid]


def every_item(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every item in document order, groups and display items included."""
    found = []
    for item in items:
        found.append(item)
        found += every_item(item.get("item", []))
    return found


def extension(element: dict[str, Any], url: str) -> dict[str, Any] | None:
    return next((e for e in element.get("extension", []) if e.get("url") == url), None)


def findings_of(qid: str) -> list[tuple[str, dict[str, str]]]:
    """(linkId, {flag, label, fix, severity}) of every answer that carries a finding."""
    found = []
    for item in every_item(questionnaire(qid)["item"]):
        for option in item.get("answerOption", []):
            coding = option.get("valueCoding", {})
            ext = extension(coding, FINDING) or extension(option, FINDING)
            if ext:
                parts = {p["url"]: next(v for k, v in p.items() if k.startswith("value"))
                         for p in ext["extension"]}  # fmt: skip
                found.append((item["linkId"], parts))
    return found


def response(system: str, answers: dict[str, Any]) -> dict[str, Any]:
    """A QuestionnaireResponse: a str answer is a code of `system`, anything else a value."""
    items = []
    for link, value in answers.items():
        values = value if isinstance(value, list) else [value]
        answer = []
        for one in values:
            if isinstance(one, str):
                answer.append({"valueCoding": {"system": system, "code": one}})
            elif isinstance(one, bool):
                answer.append({"valueBoolean": one})
            else:
                answer.append({"valueInteger": one})
        items.append({"linkId": link, "answer": answer})
    return {"resourceType": "QuestionnaireResponse", "item": items}


def comprehensive_data() -> dict[str, Any]:
    return json.loads(template.COMPREHENSIVE.read_text(encoding="utf-8"))


# --- Careway's own section questionnaires --------------------------------------------------------


def test_each_soc_file_is_one_of_the_section_questionnaires():
    files = sorted(path.stem for path in instruments.CONTENT.glob("soc-*.json"))
    assert files == sorted(OURS)


@pytest.mark.parametrize("qid", OURS)
def test_section_questionnaire_loads_and_says_careway_wrote_it(qid):
    q = questionnaire(qid)
    loaded = engine.load(q)
    assert q["id"] == qid
    assert q["url"] == f"urn:careway:fhir:Questionnaire:{qid}"
    assert loaded.title == q["title"]
    source = extension(q, CAREWAY + "source")["valueString"]
    assert "Careway-authored" in source
    assert "42 CFR" in source  # the regulation it follows is cited
    assert extension(q, CAREWAY + "wording")["valueString"].startswith("Careway's own wording")
    assert "Careway" in q["copyright"]


@pytest.mark.parametrize("qid", OURS)
def test_link_ids_are_unique_and_types_are_ones_the_form_draws(qid):
    items = every_item(questionnaire(qid)["item"])
    links = [item["linkId"] for item in items]
    assert len(links) == len(set(links))
    assert {item["type"] for item in items} <= RENDERED_TYPES
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", link) for link in links)


@pytest.mark.parametrize("qid", OURS)
def test_conditional_items_depend_on_an_earlier_question_and_a_real_answer(qid):
    items = every_item(questionnaire(qid)["item"])
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        for condition in item.get("enableWhen", []):
            asked = seen.get(condition["question"])
            assert asked is not None, f"{item['linkId']} depends on a later or unknown question"
            if "answerCoding" in condition:
                codes = {o["valueCoding"]["code"] for o in asked.get("answerOption", [])}
                assert condition["answerCoding"]["code"] in codes, item["linkId"]
            if "answerBoolean" in condition:
                assert asked["type"] == "boolean", item["linkId"]
        seen[item["linkId"]] = item


@pytest.mark.parametrize(
    ("qid", "must"),
    [
        ("soc-history", {"reason", "primary-diagnosis", "inpatient-stay", "ed-visits"}),
        ("soc-problems", {"reviewed"}),
        ("soc-medications", {"list-reviewed", "discrepancies", "managed-by", "high-risk"}),
        (
            "soc-vitals",
            {
                "systolic",
                "diastolic",
                "heart-rate",
                "respiratory-rate",
                "temperature",
                "oxygen-saturation",
            },
        ),
        ("soc-nutrition", {"weight-loss", "appetite", "meals", "enough-food"}),
        ("soc-skin", {"wounds"}),
        ("soc-pain", {"has-pain"}),
        ("soc-home", {"smoke-alarm", "co-alarm", "emergency-plan", "oxygen"}),
        ("soc-caregivers", {"has-caregiver", "living-arrangement"}),
        ("soc-advance-care", {"advance-directive", "code-status"}),
        ("soc-goals", {"what-matters"}),
    ],
)
def test_what_a_signed_assessment_must_have_is_required(qid, must):
    required = {i["linkId"] for i in every_item(questionnaire(qid)["item"]) if i.get("required")}
    assert must <= required


@pytest.mark.parametrize("qid", OURS)
def test_the_section_page_draws_every_item(qid):
    q = questionnaire(qid)
    drawn = [f.link_id for f in form.flat_fields(form.form_fields(q, {}, "q0"))]
    assert drawn == [item["linkId"] for item in every_item(q["item"])]


def test_stay_details_are_missing_for_signature_only_after_a_stay():
    history = questionnaire("soc-history")
    without = {link for link, _ in missing_required(history, {"inpatient-stay": [False]})}
    with_stay = {link for link, _ in missing_required(history, {"inpatient-stay": [True]})}
    details = {"admission-date", "discharge-date", "emergent-admission"}
    assert not details & without
    assert details <= with_stay
    assert {"reason", "primary-diagnosis", "homebound", "ed-visits"} <= without


def test_a_typing_slip_in_a_reading_is_caught_and_the_rest_kept():
    vitals_form = questionnaire("soc-vitals")
    posted = {
        form.field_name("q0", "systolic"): "1300",
        form.field_name("q0", "temperature"): "98.6",
    }
    parsed = parse(vitals_form, posted, "q0")
    assert "40 to 280" in parsed.errors["systolic"]
    assert "systolic" not in parsed.answers
    assert parsed.answers["temperature"] == [{"valueDecimal": 98.6}]


@pytest.mark.parametrize("qid", OURS)
def test_findings_fit_the_flags_they_raise(qid):
    kind_limit = PatientFlag._meta.get_field("kind").max_length
    label_limit = PatientFlag._meta.get_field("label").max_length
    fix_limit = Finding._meta.get_field("fix").max_length
    for link, parts in findings_of(qid):
        assert parts["severity"] in PatientFlag.Severity.values, link
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", parts["flag"]) and len(parts["flag"]) <= kind_limit
        # Room for the " (+2 more)" a flag adds when a kind collects several findings.
        assert len(parts["label"]) <= label_limit - 12, link
        assert len(parts.get("fix", "")) <= fix_limit, link


def test_every_home_finding_is_a_hazard_with_its_fix():
    found = findings_of("soc-home")
    assert {link for link, _ in found} >= {
        "smoke-alarm", "co-alarm", "heating-cooling", "water", "phone", "emergency-plan",
        "oxygen-flame", "oxygen-storage", "firearm-storage",
    }  # fmt: skip
    assert all(parts["flag"] == "home-hazard" and parts["fix"] for _, parts in found)
    smoking = next(parts for link, parts in found if link == "oxygen-flame")
    assert smoking["severity"] == "urgent"


def test_findings_in_the_engine_result_name_the_hazard_and_its_fix():
    home = engine.load(questionnaire("soc-home"))
    system = "urn:careway:fhir:soc-home"
    result = engine.score(
        home,
        response(
            system, {"smoke-alarm": "no", "co-alarm": "yes", "oxygen": True, "oxygen-flame": "yes"}
        ),
    )
    by_label = {f.label: f for f in result.findings}
    assert by_label["No working smoke alarm"].kind == "home-hazard"
    assert "every level" in by_label["No working smoke alarm"].fix
    assert by_label["Smoking or open flame near home oxygen"].severity == "urgent"
    assert not any(f.label.startswith("No carbon monoxide") for f in result.findings)


# --- the malnutrition screen in soc-nutrition ---------------------------------------------------

# Ferguson et al., Nutrition 1999;15:458-464: weight loss (no 0, unsure 2, 1-5 kg 1, 6-10 kg 2,
# 11-15 kg 3, >15 kg 4, unsure how much 2) plus poor appetite (no 0, yes 1); 2 or more is at risk.
MST_CASES = [
    ("no", "no", 0, "Not at risk"),
    ("1-5kg", "no", 1, "Not at risk"),
    ("no", "yes", 1, "Not at risk"),
    ("unsure", "no", 2, "At risk of malnutrition"),
    ("1-5kg", "yes", 2, "At risk of malnutrition"),
    ("6-10kg", "no", 2, "At risk of malnutrition"),
    ("yes-unsure-amount", "yes", 3, "At risk of malnutrition"),
    ("11-15kg", "yes", 4, "At risk of malnutrition"),
    ("over-15kg", "yes", 5, "At risk of malnutrition"),
]


@pytest.mark.parametrize(("weight", "appetite", "total", "band"), MST_CASES)
def test_malnutrition_screen_scores_as_published(weight, appetite, total, band):
    nutrition = engine.load(questionnaire("soc-nutrition"))
    answers = {"weight-loss": weight, "appetite": appetite}
    result = engine.score(nutrition, response("urn:careway:fhir:soc-nutrition", answers))
    mst = result.scores["mst"]
    assert (mst.value, mst.minimum, mst.maximum) == (total, 0, 5)
    assert mst.band.label == band
    assert ("nutrition-risk" in result.flags) == (total >= 2)


def test_malnutrition_screen_needs_both_answers():
    nutrition = engine.load(questionnaire("soc-nutrition"))
    result = engine.score(nutrition, response("urn:careway:fhir:soc-nutrition", {"appetite": "no"}))
    assert result.scores["mst"].value is None
    assert "weight-loss" in result.scores["mst"].why_not


# --- vital signs: the codes and units the chart uses ---------------------------------------------


def vitals_items() -> dict[str, dict[str, Any]]:
    """soc-vitals items by each LOINC code they carry."""
    return {
        coding["code"]: item
        for item in every_item(questionnaire("soc-vitals")["item"])
        for coding in item.get("code", [])
        if coding["system"] == LOINC
    }


# Pain is a charted sign too, but its 0-10 rating is the pain-nrs instrument.
MEASURED = [sign for sign in vitals.vital_signs() if sign.key != "pain"]


@pytest.mark.parametrize("sign", MEASURED, ids=lambda sign: sign.key)
def test_vital_sign_item_uses_the_charted_code_unit_and_entry_limits(sign):
    items = vitals_items()
    assert sign.code in items  # signing charts a reading by the sign's own code
    item = items[sign.code]
    codes = {c["code"] for c in item["code"]}
    assert codes <= set(sign.codes)
    assert extension(item, UNIT)["valueCoding"] == {
        "system": UCUM,
        "code": sign.unit,
        "display": sign.unit_display,
    }
    assert item["type"] == ("integer" if sign.decimals == 0 else "decimal")
    value = "valueInteger" if item["type"] == "integer" else "valueDecimal"
    assert extension(item, MIN_VALUE)[value] == sign.entry_min
    assert extension(item, MAX_VALUE)[value] == sign.entry_max


def test_blood_pressure_is_the_panel_careway_charts():
    groups = [i for i in every_item(questionnaire("soc-vitals")["item"]) if i["type"] == "group"]
    (panel,) = groups
    panel_code = panel["code"][0]["code"]
    members = [c["code"] for child in panel["item"] for c in child.get("code", [])]
    assert tuple(members) == vitals.PANELS[panel_code]
    assert all(vitals.panel_of(code) == panel_code for code in members)


def test_readings_careway_does_not_chart_are_only_height_and_oxygen_flow():
    charted = set(vitals.all_codes()) | set(vitals.PANELS)
    assert set(vitals_items()) - charted == {"8302-2", "3151-8"}
    height = vitals_items()["8302-2"]
    assert extension(height, UNIT)["valueCoding"]["code"] == "[in_i]"


def test_pain_section_rates_pain_with_the_charted_pain_code():
    pain_sign = next(sign for sign in vitals.vital_signs() if sign.key == "pain")
    rating = questionnaire("pain-nrs")["item"][0]
    assert pain_sign.code in {c["code"] for c in rating["code"]}
    pain = template.comprehensive().section("pain")
    assert [p.questionnaire for p in pain.parts] == ["pain-nrs", "soc-pain"]


# --- the template --------------------------------------------------------------------------------


def test_every_part_is_a_shipped_questionnaire_that_loads():
    shipped = instruments.shipped()
    comprehensive = template.comprehensive()
    for section in comprehensive.sections:
        assert section.parts, section.key
        for part in section.parts:
            assert part.questionnaire in shipped, f"{section.key}: {part.questionnaire}"
            assert engine.load(shipped[part.questionnaire]).title
    assert set(OURS) <= set(comprehensive.questionnaires())


def test_sections_follow_the_issue():
    comprehensive = template.comprehensive()
    assert [s.key for s in comprehensive.sections] == ISSUE_ORDER
    assert comprehensive.id == "comprehensive"
    assert "42 CFR 484.55" in comprehensive.source
    assert all(section.title and section.purpose for section in comprehensive.sections)


def test_sections_reuse_the_published_instruments():
    parts = {
        s.key: {p.questionnaire: p.required for p in s.parts}
        for s in template.comprehensive().sections
    }
    assert parts["function"] == {"katz-adl": True, "lawton-iadl": True}
    assert parts["cognition-mood"]["mini-cog"] and parts["cognition-mood"]["phq-2"]
    assert parts["cognition-mood"]["phq-9"] is False
    assert parts["falls"] == {"mahc-10": True, "tug": False, "morse-fall-scale": False}
    assert parts["skin"] == {"soc-skin": True, "braden-scale": True}
    assert parts["home"] == {"steadi-home-safety": True, "soc-home": True}
    assert parts["social-needs"] == {"ahc-hrsn": True}
    assert parts["caregivers"] == {"soc-caregivers": True, "mcsi": False}
    assert parts["history"]["lace"] is False


def test_optional_parts_say_when_to_use_them():
    for section in template.comprehensive().sections:
        for part in section.parts:
            assert part.required or part.note, f"{section.key}: {part.questionnaire}"
    phq9 = next(p for p in template.comprehensive().section("cognition-mood").parts
                if p.questionnaire == "phq-9")  # fmt: skip
    assert "PHQ-2" in phq9.note and "3 or more" in phq9.note


def test_each_section_shows_the_chart_list_it_is_reviewed_against():
    charts = {s.key: s.chart for s in template.comprehensive().sections}
    assert charts["medications"] == "medications"
    assert charts["problems"] == "conditions"
    assert charts["vitals"] == "vitals"
    assert set(charts.values()) <= set(template.CHARTS)


def test_time_points_are_the_assessments_time_points_with_their_labels():
    points = template.comprehensive().time_points
    assert [(p.code, p.label) for p in points] == list(Assessment.TimePoint.choices)
    assert all(p.why for p in points)


@pytest.mark.parametrize("code", ["start-of-care", "resumption-of-care"])
def test_start_and_resumption_of_care_ask_every_section(code):
    comprehensive = template.comprehensive()
    assert comprehensive.sections_for(code) == list(comprehensive.sections)


def test_updates_ask_fewer_sections_in_the_same_order():
    comprehensive = template.comprehensive()
    everything = [s.key for s in comprehensive.sections]
    for code in ("recertification", "follow-up", "transfer", "discharge"):
        keys = [s.key for s in comprehensive.sections_for(code)]
        assert keys == [k for k in everything if k in keys], code  # template order kept
        assert len(keys) < len(everything), code
        assert "medications" in keys, code  # every update reviews the medicines
    recert = {s.key for s in comprehensive.sections_for("recertification")}
    assert recert == {s.key for s in comprehensive.sections_for("follow-up")}
    assert {"history", "vitals", "function", "falls", "skin", "pain", "goals"} <= recert
    assert {"home", "social-needs", "advance-care"}.isdisjoint(recert)
    transfer = [s.key for s in comprehensive.sections_for("transfer")]
    assert transfer == ["problems", "medications", "advance-care"]
    discharge = {s.key for s in comprehensive.sections_for("discharge")}
    assert {"function", "cognition-mood", "advance-care", "goals"} <= discharge
    assert "history" not in discharge


def test_keys_fit_where_assessments_keep_them():
    comprehensive = template.comprehensive()
    section_limit = Response._meta.get_field("section").max_length
    assert all(len(s.key) <= section_limit for s in comprehensive.sections)
    assert len(comprehensive.id) <= Assessment._meta.get_field("template").max_length
    assert len(comprehensive.version) <= Assessment._meta.get_field("template_version").max_length


def test_lookups_by_key_and_code():
    comprehensive = template.comprehensive()
    assert comprehensive.section("skin").title == "Skin"
    assert comprehensive.time_point("discharge").label == "Discharge"
    with pytest.raises(KeyError, match="no section 'teeth'"):
        comprehensive.section("teeth")
    with pytest.raises(KeyError, match="no time point 'admission'"):
        comprehensive.sections_for("admission")
    assert template.comprehensive() is comprehensive  # read once


def test_a_template_loads_from_a_file_as_from_its_data(tmp_path):
    path = tmp_path / "copy.json"
    path.write_text(json.dumps(comprehensive_data()), encoding="utf-8")
    assert template.load_template(path) == template.comprehensive()
    assert template.load_template(str(path)) == template.load_template(comprehensive_data())


# --- a bad template is refused, naming the place -------------------------------------------------


def falls_index(data: dict[str, Any]) -> int:
    return next(i for i, s in enumerate(data["sections"]) if s["key"] == "falls")


def test_an_unknown_questionnaire_names_its_section_and_part():
    data = comprehensive_data()
    index = falls_index(data)
    data["sections"][index]["parts"][1]["questionnaire"] = "tug-v2"
    with pytest.raises(template.TemplateError) as caught:
        template.load_template(data)
    assert caught.value.where == f"sections[{index}] 'falls'.parts[1] 'tug-v2'"
    assert "no shipped questionnaire has the id 'tug-v2'" in str(caught.value)


def test_a_repeated_section_key_is_refused():
    data = comprehensive_data()
    data["sections"][3]["key"] = "medications"
    with pytest.raises(template.TemplateError, match=r"sections\[3\]\.key: 'medications' is used "
                       r"twice \(also sections\[2\]\)"):  # fmt: skip
        template.load_template(data)


def test_a_questionnaire_twice_in_one_section_is_refused():
    data = comprehensive_data()
    index = falls_index(data)
    data["sections"][index]["parts"].append({"questionnaire": "mahc-10", "required": False})
    with pytest.raises(template.TemplateError, match="already a part of the section") as caught:
        template.load_template(data)
    assert caught.value.where.startswith(f"sections[{index}] 'falls'.parts[3]")


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        (lambda d: d["sections"][0].update(chart="labs"), "sections[0] 'history'.chart",
         "'labs' is not one of"),
        (lambda d: d["sections"][1]["parts"][0].update(required="yes"),
         "sections[1] 'problems'.parts[0] 'soc-problems'.required", "true or false"),
        (lambda d: d["sections"][2].update(key="Medications!"), "sections[2].key",
         "lower-case words"),
        (lambda d: d["sections"][4].update(parts=[]), "sections[4] 'function'.parts",
         "non-empty list"),
        (lambda d: d["time_points"][4].update(sections=["problems", "wounds"]),
         "time_points[4] 'transfer'.sections", "'wounds' is not a section"),
        (lambda d: d["time_points"][4].update(sections=["medications", "problems"]),
         "time_points[4] 'transfer'.sections", "in the template's order"),
        (lambda d: d["time_points"][5].update(code="transfer"), "time_points[5].code",
         "'transfer' is used twice"),
        (lambda d: d.update(version="2026-11-24-draft-for-review"), "template.version",
         "longer than 20"),
        (lambda d: d.pop("title"), "template.title", "non-empty string"),
    ],
    ids=["chart", "required", "key", "no-parts", "unknown-section", "order", "time-point-twice",
         "version", "title"],
)  # fmt: skip
def test_a_bad_template_names_the_place(change, where, reason):
    data = comprehensive_data()
    change(data)
    with pytest.raises(template.TemplateError) as caught:
        template.load_template(data)
    assert caught.value.where == where
    assert reason in caught.value.reason


def test_a_questionnaire_that_does_not_load_is_named(monkeypatch):
    broken = copy.deepcopy(questionnaire("soc-goals"))
    broken["item"].append(copy.deepcopy(broken["item"][0]))  # the same linkId twice
    shipped = {**instruments.shipped(), "soc-goals": broken}
    monkeypatch.setattr(instruments, "shipped", lambda: shipped)
    with pytest.raises(
        template.TemplateError, match=r"does not load: .*'what-matters' is used twice"
    ) as caught:
        template.load_template(comprehensive_data())
    assert caught.value.where == "sections[14] 'goals'.parts[0] 'soc-goals'"


def test_a_file_that_is_not_json_is_named(tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text("{ not json", encoding="utf-8")
    with pytest.raises(template.TemplateError, match="is not valid JSON") as caught:
        template.load_template(path)
    assert caught.value.where == str(path)
    with pytest.raises(template.TemplateError, match="cannot be read"):
        template.load_template(tmp_path / "missing.json")

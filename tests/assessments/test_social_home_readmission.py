"""MAHC-10 fall risk, the AHC social needs screen, the CDC STEADI home checklist and the LACE
readmission index as shipped: range, every band edge, worked examples computed by the published
scoring rules (sources cited in each content file), the findings each raises, and LACE filled in
from the record (careway/assessments/lace.py)."""

import json
from datetime import date, datetime

import pytest
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from careway.assessments import engine, instruments, lace
from tests.assessments import fill

LOINC = "http://loinc.org"
ICD = lace.ICD10CM
SCT = lace.SNOMED


def choose(system: str, answers: dict[str, str | list[str]]) -> dict:
    items = []
    for link, codes in answers.items():
        chosen = codes if isinstance(codes, list) else [codes]
        items.append(
            {
                "linkId": link,
                "answer": [{"valueCoding": {"system": system, "code": c}} for c in chosen],
            }
        )
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}


# --- MAHC-10 ------------------------------------------------------------------------------------

MAHC = ["age", "diagnoses", "falls", "incontinence", "vision", "mobility", "environment",
        "polypharmacy", "pain", "cognition"]  # fmt: skip


def mahc(yes: list[bool]) -> engine.Result:
    answers = {link: "yes" if y else "no" for link, y in zip(MAHC, yes, strict=True)}
    return engine.score(
        instruments.instrument("mahc-10"), choose("urn:careway:fhir:mahc-10", answers)
    )


@pytest.mark.parametrize("total", range(11))
def test_mahc10_four_or_more_is_at_risk_for_falling(total):
    # MAHC-10: one point per core element answered yes; "a score of 4 or more is considered at
    # risk for falling".
    result = mahc([True] * total + [False] * (10 - total))
    score = result.scores["total"]
    assert (score.value, score.minimum, score.maximum) == (total, 0, 10)
    at_risk = total >= 4
    assert score.band.label == ("At risk for falling" if at_risk else "Below the risk threshold")
    assert result.flags == (["high-fall-risk"] if at_risk else [])
    assert [(f.label, f.severity) for f in result.findings] == (
        [("MAHC-10 total: At risk for falling", "warning")] if at_risk else []
    )


def test_mahc10_worked_example():
    # An 82-year-old (1) with diabetes, heart failure and arthritis on record (1), who fell last
    # month (1) and takes six prescriptions (1), sees well with glasses, is continent, walks
    # without help, has no hazards, pain or confusion: 4, at risk.
    yes = {"age", "diagnoses", "falls", "polypharmacy"}
    result = mahc([link in yes for link in MAHC])
    assert result.scores["total"].value == 4 and result.flags == ["high-fall-risk"]
    # Without the fall: 3, below the threshold.
    assert mahc([link in yes - {"falls"} for link in MAHC]).flags == []


@given(st.lists(st.booleans(), min_size=10, max_size=10), st.integers(0, 9))
def test_mahc10_stays_in_range_and_never_falls_when_an_element_is_found(yes, which):
    before = mahc(yes).scores["total"].value
    assert 0 <= before <= 10 and before == sum(yes)
    worse = list(yes)
    worse[which] = True
    after = mahc(worse).scores["total"].value
    assert after == before + (0 if yes[which] else 1)


def test_mahc10_keeps_its_name_words_and_credit_as_its_terms_require():
    questionnaire = instruments.shipped()["mahc-10"]
    assert "MAHC-10" in questionnaire["title"]
    assert "Missouri Alliance for Home Care" in questionnaire["copyright"]
    items = fill.items_of(questionnaire)
    assert [i["linkId"] for i in items] == MAHC
    assert items[0]["text"] == "Age 65+"
    assert [o["valueCoding"]["display"] for o in items[0]["answerOption"]] == ["No", "Yes"]


# --- AHC Health-Related Social Needs screening --------------------------------------------------

FREQUENCY = {1: "LA6270-8", 2: "LA10066-1", 3: "LA10082-8", 4: "LA16644-9", 5: "LA6482-9"}
SAFETY = ["hurt", "insult", "threaten", "scream"]
CALM = {
    "living-situation": "LA31993-1",
    "housing-problems": "LA9-3",
    "food-worry": "LA28398-8",
    "food-ran-out": "LA28398-8",
    "transportation": "LA32-8",
    "utilities": "LA32-8",
}


def ahc(safety: list[int] | None = None, **answers: str | list[str]) -> engine.Result:
    chosen: dict[str, str | list[str]] = {**CALM, **answers}
    for link, points in zip(SAFETY, safety or [1, 1, 1, 1], strict=True):
        chosen[link] = FREQUENCY[points]
    return engine.score(instruments.instrument("ahc-hrsn"), choose(LOINC, chosen))


@pytest.mark.parametrize(
    ("safety", "total", "positive"),
    [([1, 1, 1, 1], 4, False), ([4, 2, 2, 2], 10, False), ([3, 2, 4, 2], 11, True),
     ([5, 3, 2, 1], 11, True), ([5, 5, 5, 5], 20, True)],
)  # fmt: skip
def test_ahc_interpersonal_safety_is_positive_above_ten(safety, total, positive):
    # CMS AHC guide: Never 1 ... Frequently 5 on questions 7-10; a sum greater than 10 is a
    # positive screen for interpersonal safety.
    result = ahc(safety)
    score = result.scores["safety"]
    assert (score.value, score.minimum, score.maximum) == (total, 4, 20)
    assert score.band.label == ("Positive screen" if positive else "Negative screen")
    safety_findings = [
        (f.kind, f.severity, f.label) for f in result.findings if f.kind == "interpersonal-safety"
    ]
    assert safety_findings == (
        [("interpersonal-safety", "urgent", "Interpersonal safety: Positive screen")]
        if positive
        else []
    )


@given(st.lists(st.integers(1, 5), min_size=4, max_size=4), st.integers(0, 3))
def test_ahc_safety_subscore_stays_in_range_and_never_falls_when_an_answer_worsens(safety, which):
    before = ahc(safety).scores["safety"]
    assert 4 <= before.value <= 20 and before.value == sum(safety)
    assert (before.band.flag == "interpersonal-safety") is (sum(safety) > 10)
    worse = list(safety)
    worse[which] = min(5, worse[which] + 1)
    assert ahc(worse).scores["safety"].value >= before.value


def test_ahc_a_calm_screen_finds_nothing():
    result = ahc()
    assert result.findings == [] and result.flags == []
    assert result.scores["safety"].value == 4


@pytest.mark.parametrize(
    ("answers", "kinds"),
    [
        ({"living-situation": "LA31994-9"}, ["housing-instability"]),
        ({"living-situation": "LA31995-6"}, ["housing-instability"]),
        ({"housing-problems": ["LA28580-1", "LA31998-0"]}, ["housing-quality", "housing-quality"]),
        ({"food-worry": "LA6729-3"}, ["food-insecurity"]),
        ({"food-ran-out": "LA28397-0"}, ["food-insecurity"]),
        ({"food-worry": "LA28397-0", "food-ran-out": "LA6729-3"},
         ["food-insecurity", "food-insecurity"]),
        ({"transportation": "LA33-6"}, ["transportation-need"]),
        ({"utilities": "LA33-6"}, ["utility-need"]),
        ({"utilities": "LA32002-0"}, ["utility-need"]),
    ],
)  # fmt: skip
def test_ahc_each_positive_answer_is_a_domain_finding(answers, kinds):
    # CMS AHC guide: the positive answers of each domain (housing, food: "often" or "sometimes
    # true" to either question, transportation, utilities).
    result = ahc(**answers)
    assert [f.kind for f in result.findings] == kinds
    assert all(f.fix and f.severity == "warning" for f in result.findings)
    assert result.flags == list(dict.fromkeys(kinds))


def test_ahc_worked_example_every_need_at_once():
    # Worried about losing the flat, mold, food running out "sometimes", missed appointments for
    # want of transport, the power already cut off, and safety answers Sometimes, Rarely,
    # Fairly often, Rarely (3 + 2 + 4 + 2 = 11): every domain positive.
    result = ahc([3, 2, 4, 2], **{"living-situation": "LA31994-9",
                                  "housing-problems": ["LA28580-1"],
                                  "food-ran-out": "LA6729-3", "transportation": "LA33-6",
                                  "utilities": "LA32002-0"})  # fmt: skip
    assert result.flags == ["interpersonal-safety", "housing-instability", "housing-quality",
                            "food-insecurity", "transportation-need", "utility-need"]  # fmt: skip
    assert [f.source for f in result.findings] == [
        "safety", "living-situation", "housing-problems", "food-ran-out", "transportation",
        "utilities"]  # fmt: skip


def test_ahc_unanswered_safety_questions_give_no_subscore_but_keep_the_other_findings():
    response = choose(LOINC, {**CALM, "food-worry": "LA28397-0", "hurt": FREQUENCY[5]})
    result = engine.score(instruments.instrument("ahc-hrsn"), response)
    assert result.scores["safety"].value is None
    assert "insult, threaten, scream not answered" in result.scores["safety"].why_not
    assert [f.kind for f in result.findings] == ["food-insecurity"]


def test_ahc_codes_are_loinc_and_every_answer_orders_least_need_first():
    questionnaire = instruments.shipped()["ahc-hrsn"]
    assert questionnaire["code"][0]["code"] == "96777-8"
    for item in fill.items_of(questionnaire):
        assert item["code"][0]["system"] == LOINC
        options = item["answerOption"]
        assert all(o["valueCoding"]["system"] == LOINC for o in options)
        # The first answer finds nothing (the demo and the tests pick answers by position).
        first = options[0]["valueCoding"].get("extension", [])
        assert not [ext for ext in first if ext["url"] == engine.FINDING]


# --- CDC STEADI home safety checklist ----------------------------------------------------------

STEADI = instruments.shipped()["steadi-home-safety"]
HAZARDS = [i["linkId"] for i in fill.items_of(STEADI) if i["linkId"] != "has-stairs"]
STAIRS = [link for link in HAZARDS if link.startswith("stairs-")]


def steadi(found: set[str], stairs: bool = True) -> engine.Result:
    answers = {link: "yes" if link in found else "no" for link in HAZARDS}
    answers["has-stairs"] = "yes" if stairs else "no"
    system = "urn:careway:fhir:steadi-home-safety"
    return engine.score(instruments.instrument("steadi-home-safety"), choose(system, answers))


def test_steadi_asks_about_every_room_of_the_checklist():
    rooms = [group["linkId"] for group in STEADI["item"]]
    assert rooms == ["floors", "stairs", "kitchen", "bedrooms", "bathrooms"]
    assert len(HAZARDS) == 17 and len(STAIRS) == 7


@pytest.mark.parametrize("link", HAZARDS)
def test_steadi_each_hazard_found_is_listed_with_its_fix(link):
    result = steadi({link})
    (finding,) = result.findings
    assert (finding.kind, finding.source, finding.severity) == ("home-hazard", link, "warning")
    assert finding.label and len(finding.fix) > 20
    assert result.scores["hazards"].value == 1 and result.flags == ["home-hazard"]


@pytest.mark.parametrize(
    ("found", "total", "band"),
    [(set(), 0, "No hazards found"), ({"floor-rugs"}, 1, "Hazards found"),
     (set(HAZARDS), 17, "Hazards found")],
)  # fmt: skip
def test_steadi_counts_the_hazards_found(found, total, band):
    score = steadi(found).scores["hazards"]
    assert (score.value, score.minimum, score.maximum, score.band.label) == (total, 0, 17, band)
    assert score.band.flag == ""  # each hazard raises its own flag


def test_steadi_without_stairs_the_stair_questions_are_neither_asked_nor_counted():
    result = steadi({"floor-rugs", *STAIRS}, stairs=False)
    assert [f.source for f in result.findings] == ["floor-rugs"]
    score = result.scores["hazards"]
    assert (score.value, score.maximum) == (1, 10)
    system = "urn:careway:fhir:steadi-home-safety"
    for stairs, asked in (("no", False), ("yes", True)):
        empty = choose(system, {"has-stairs": stairs})
        unanswered = engine.score(instruments.instrument("steadi-home-safety"), empty).unanswered
        assert "floor-rugs" in unanswered
        assert (set(STAIRS) <= set(unanswered)) is asked


@given(st.sets(st.sampled_from(HAZARDS)), st.sampled_from(HAZARDS))
def test_steadi_count_and_findings_follow_the_hazards_and_never_fall_when_one_is_found(found, one):
    result = steadi(found)
    assert result.scores["hazards"].value == len(found)
    assert {f.source for f in result.findings} == found
    assert steadi(found | {one}).scores["hazards"].value >= len(found)


def test_steadi_fixes_are_unique_to_their_hazard():
    fixes = [f.fix for f in steadi(set(HAZARDS)).findings]
    labels = [f.label for f in steadi(set(HAZARDS)).findings]
    assert len(set(fixes)) == len(fixes) == 17 and len(set(labels)) == 17


# --- LACE index ----------------------------------------------------------------------------------


def lace_score(days=0, emergent=False, charlson=0, ed=0) -> engine.Result:
    answers = {
        lace.LENGTH_OF_STAY: [{"valueInteger": days}],
        lace.EMERGENT: [
            {"valueCoding": {"system": lace.SYSTEM, "code": "yes" if emergent else "no"}}
        ],
        lace.CHARLSON: [{"valueInteger": charlson}],
        lace.ED_VISITS: [{"valueInteger": ed}],
    }
    if emergent:
        answers[lace.EMERGENT][0]["valueCoding"]["code"] = "yes"
    return engine.score(instruments.instrument("lace"), lace.response_from(answers))


@pytest.mark.parametrize(
    ("days", "points"),
    [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (6, 4), (7, 5), (13, 5), (14, 7), (365, 7)],
)
def test_lace_length_of_stay_points(days, points):
    # van Walraven 2010: <1 day 0, 1 1, 2 2, 3 3, 4-6 4, 7-13 5, 14 or more 7.
    assert lace_score(days=days).scores["total"].value == points


@pytest.mark.parametrize(
    ("charlson", "points"), [(0, 0), (1, 1), (2, 2), (3, 3), (4, 5), (5, 5), (33, 5)]
)
def test_lace_charlson_points(charlson, points):
    # Charlson 0-3 as is, 4 or more 5 points.
    assert lace_score(charlson=charlson).scores["total"].value == points


@pytest.mark.parametrize(("visits", "points"), [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (99, 4)])
def test_lace_emergency_visit_points(visits, points):
    # One point a visit in the previous 6 months, at most 4.
    assert lace_score(ed=visits).scores["total"].value == points


def test_lace_an_acute_admission_is_three_points():
    assert lace_score(emergent=True).scores["total"].value == 3


@pytest.mark.parametrize(
    ("inputs", "total", "band"),
    [
        ({}, 0, "Low risk"),
        ({"days": 1, "emergent": True}, 4, "Low risk"),
        ({"days": 2, "emergent": True}, 5, "Moderate risk"),
        ({"days": 4, "charlson": 2, "ed": 3}, 9, "Moderate risk"),
        ({"days": 4, "charlson": 3, "ed": 3}, 10, "High risk"),
        ({"days": 20, "emergent": True, "charlson": 6, "ed": 5}, 19, "High risk"),
    ],
)
def test_lace_every_band_edge(inputs, total, band):
    # 0-4 low, 5-9 moderate, 10 or more high (see the content file for the source of the bands).
    result = lace_score(**inputs)
    score = result.scores["total"]
    assert (score.value, score.minimum, score.maximum, score.band.label) == (total, 0, 19, band)
    assert result.flags == (["high-readmission-risk"] if total >= 10 else [])


def test_lace_worked_example():
    # A 5-day acute stay (4 + 3), Charlson 5 (5 points), 2 ED visits (2): 14, high risk.
    result = lace_score(days=5, emergent=True, charlson=5, ed=2)
    assert result.scores["total"].value == 14
    assert [(f.kind, f.label) for f in result.findings] == [
        ("high-readmission-risk", "LACE index: High risk")
    ]


def test_lace_a_number_outside_every_range_is_named_not_guessed():
    score = lace_score(days=-1).scores["total"]
    assert score.value is None and "length-of-stay carries no points" in score.why_not


LACE_INPUTS = st.fixed_dictionaries(
    {"days": st.integers(0, 365), "emergent": st.booleans(), "charlson": st.integers(0, 40),
     "ed": st.integers(0, 99)}
)  # fmt: skip


@given(LACE_INPUTS, st.sampled_from(["days", "emergent", "charlson", "ed"]), st.integers(1, 30))
def test_lace_stays_in_range_and_never_falls_when_an_input_worsens(inputs, which, more):
    before = lace_score(**inputs).scores["total"].value
    assert 0 <= before <= 19
    worse = dict(inputs)
    worse[which] = True if which == "emergent" else worse[which] + more
    assert lace_score(**worse).scores["total"].value >= before


# --- LACE from the record -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "score", "conditions"),
    [
        ([(ICD, "I21.4")], 1, ["mi"]),
        ([(ICD, "I63.9")], 1, ["cerebrovascular"]),
        ([(ICD, "I70.213")], 1, ["pvd"]),
        ([(ICD, "E11.9")], 1, ["diabetes"]),
        ([(ICD, "I50.22")], 2, ["chf"]),
        ([(ICD, "E11.22")], 2, ["diabetes-complicated"]),
        ([(ICD, "J44.1")], 2, ["pulmonary"]),
        ([(ICD, "K74.60")], 2, ["liver-mild"]),
        ([(ICD, "N18.30")], 2, ["renal-mild"]),
        ([(ICD, "C34.90")], 2, ["cancer"]),
        ([(ICD, "G30.9")], 3, ["dementia"]),
        ([(ICD, "M05.79")], 3, ["connective-tissue"]),
        ([(ICD, "B20")], 4, ["aids"]),
        ([(ICD, "K72.10")], 4, ["liver-severe"]),
        ([(ICD, "N18.6")], 4, ["renal-severe"]),
        ([(ICD, "Z99.2")], 4, ["renal-severe"]),
        ([(ICD, "C78.7")], 6, ["metastatic"]),
        # The more severe form counts instead of the milder one.
        ([(ICD, "E11.9"), (ICD, "E11.22")], 2, ["diabetes-complicated"]),
        ([(ICD, "C18.9"), (ICD, "C78.7")], 6, ["metastatic"]),
        ([(ICD, "N18.30"), (ICD, "N18.5")], 4, ["renal-severe"]),
        # Charlson conditions LACE does not weigh, and conditions Charlson does not count.
        ([(ICD, "K25.9"), (ICD, "G81.90"), (ICD, "I10"), (ICD, "E78.5")], 0, []),
        # Codes may come with or without the dot, in either case.
        ([(ICD, "i214"), (lace.ICD10, "J44.9")], 3, ["mi", "pulmonary"]),
    ],
)  # fmt: skip
def test_charlson_from_icd10_codes_with_the_lace_weights(codes, score, conditions):
    counted = lace.charlson(codes)
    assert (counted.score, sorted(counted.conditions), counted.unmapped) == (
        score, sorted(conditions), [])  # fmt: skip


def test_charlson_from_the_snomed_codes_synthea_uses():
    codes = [(SCT, "44054006"), (SCT, "422034002"), (SCT, "230690007"), (SCT, "87433001"),
             (SCT, "38341003")]  # fmt: skip
    counted = lace.charlson(codes)
    # Diabetes with retinopathy 2 (not 1 + 2), stroke 1, emphysema 2; hypertension 0.
    assert counted.score == 5 and counted.unmapped == []
    assert "diabetes with end-organ damage 2 (422034002)" in counted.explain()


def test_codes_that_cannot_be_mapped_count_zero_and_are_named():
    counted = lace.charlson(
        [(SCT, "126906006"), (ICD, "not a code"), ("urn:local", "CHF"), (SCT, "88805009")]
    )
    assert counted.score == 2
    assert counted.unmapped == ["126906006", "not a code", "urn:local|CHF"]
    assert "not mapped, counted 0: 126906006" in counted.explain()


ADMITTED = datetime(2024, 3, 10, 22, 15)
HOME = datetime(2024, 3, 15, 11, 0)
RECORD_CONDITIONS = [(ICD, "I50.9"), (ICD, "J44.9"), (ICD, "E11.9")]  # 2 + 2 + 1 = 5


def test_lace_from_a_full_record_needs_nothing_asked():
    visits = [date(2023, 9, 9), date(2023, 9, 10), date(2024, 1, 2), date(2024, 3, 9),
              datetime(2024, 3, 10, 20, 0), date(2024, 3, 20)]  # fmt: skip
    answers, missing, sources = lace.lace_answers(
        lace.Stay(ADMITTED, HOME, True), RECORD_CONDITIONS, visits, date(2024, 3, 18)
    )
    assert missing == []
    assert answers[lace.LENGTH_OF_STAY] == [{"valueInteger": 5}]
    assert answers[lace.EMERGENT][0]["valueCoding"]["code"] == "yes"
    assert answers[lace.CHARLSON] == [{"valueInteger": 5}]
    # 10 September 2023 to 9 March 2024: the 9 September visit is more than 6 months before,
    # the one on the day of admission led to it, the one after discharge is later.
    assert answers[lace.ED_VISITS] == [{"valueInteger": 3}]
    assert "2023-09-10, 2024-01-02, 2024-03-09" in sources[lace.ED_VISITS]
    assert "2024-03-10 to 2024-03-15: 5 days" in sources[lace.LENGTH_OF_STAY]
    assert "congestive heart failure 2 (I50.9)" in sources[lace.CHARLSON]
    result = engine.score(instruments.instrument("lace"), lace.response_from(answers))
    # 5 days 4, acute 3, Charlson 5 -> 5, 3 visits 3: 15.
    assert result.scores["total"].value == 15 and result.flags == ["high-readmission-risk"]


@pytest.mark.parametrize(
    ("stay", "conditions", "visits", "missing"),
    [
        (None, RECORD_CONDITIONS, [], [lace.LENGTH_OF_STAY, lace.EMERGENT]),
        ((ADMITTED, HOME, None), RECORD_CONDITIONS, [], [lace.EMERGENT]),
        ((ADMITTED, None, False), RECORD_CONDITIONS, [], [lace.LENGTH_OF_STAY]),
        ((ADMITTED, HOME, False), None, [], [lace.CHARLSON]),
        ((ADMITTED, HOME, False), RECORD_CONDITIONS, None, [lace.ED_VISITS]),
        (None, None, None, list(lace.LINK_IDS)),
    ],
)
def test_what_the_record_does_not_hold_is_asked(stay, conditions, visits, missing):
    answers, asked, sources = lace.lace_answers(stay, conditions, visits, date(2024, 3, 18))
    assert asked == missing
    assert set(answers) == set(sources) == set(lace.LINK_IDS) - set(missing)
    result = engine.score(instruments.instrument("lace"), lace.response_from(answers))
    assert result.scores["total"].value is None
    assert f"{', '.join(missing)} not answered" in result.scores["total"].why_not


def test_an_empty_problem_list_counts_zero_and_with_no_stay_visits_count_back_from_today():
    answers, _, sources = lace.lace_answers(
        None, [], [date(2023, 9, 17), date(2023, 9, 18), date(2024, 3, 17)], date(2024, 3, 18)
    )
    assert answers[lace.CHARLSON] == [{"valueInteger": 0}]
    assert answers[lace.ED_VISITS] == [{"valueInteger": 2}]
    assert "to the day before today" in sources[lace.ED_VISITS]


def test_a_same_day_discharge_is_zero_days():
    answers, _, _ = lace.lace_answers(
        (datetime(2024, 3, 10, 8), datetime(2024, 3, 10, 18), False), [], [], date(2024, 3, 18)
    )
    assert answers[lace.LENGTH_OF_STAY] == [{"valueInteger": 0}]


def test_the_response_from_the_record_is_a_questionnaire_response_for_lace():
    answers, _, _ = lace.lace_answers(None, [(ICD, "I50.9")], [], date(2024, 3, 18))
    response = lace.response_from(answers)
    assert response["resourceType"] == "QuestionnaireResponse"
    assert response["questionnaire"] == instruments.shipped()["lace"]["url"]
    assert [i["linkId"] for i in response["item"]] == [lace.CHARLSON, lace.ED_VISITS]
    # The answers are each a copy: changing the response leaves the answers as they were.
    response["item"][0]["answer"][0]["valueInteger"] = 9
    assert answers[lace.CHARLSON] == [{"valueInteger": 2}]


def test_lace_worked_example_from_a_synthea_record(shared_data):
    # Luis Miguel Delarosa: active emphysema (2) and colon cancer (2), Charlson 4 (5 points);
    # an inpatient stay of 2 to 3 March 2021 (1 day, 1 point); his only ED visit, in 2016, is
    # outside the 6 months (0). The record does not say whether the admission was acute.
    (path,) = shared_data("synthea").glob("Luis_Miguel_Delarosa_*.json")
    resources = [e["resource"] for e in json.loads(path.read_text())["entry"]]
    active = [
        (r["code"]["coding"][0]["system"], r["code"]["coding"][0]["code"])
        for r in resources
        if r["resourceType"] == "Condition" and r["clinicalStatus"]["coding"][0]["code"] == "active"
    ]
    encounters = [r for r in resources if r["resourceType"] == "Encounter"]
    (stay,) = [e["period"] for e in encounters if e["class"]["code"] == "IMP"]
    visits = [
        datetime.fromisoformat(e["period"]["start"]) for e in encounters
        if e["class"]["code"] == "EMER"
    ]  # fmt: skip
    answers, missing, sources = lace.lace_answers(
        (datetime.fromisoformat(stay["start"]), datetime.fromisoformat(stay["end"]), None),
        active, visits, date(2021, 3, 10),
    )  # fmt: skip
    assert missing == [lace.EMERGENT]
    assert [answers[link][0]["valueInteger"] for link in
            (lace.LENGTH_OF_STAY, lace.CHARLSON, lace.ED_VISITS)] == [1, 4, 0]  # fmt: skip
    assert "not mapped" not in sources[lace.CHARLSON]
    answers[lace.EMERGENT] = [{"valueCoding": {"system": lace.SYSTEM, "code": "yes"}}]
    result = engine.score(instruments.instrument("lace"), lace.response_from(answers))
    assert (result.scores["total"].value, result.scores["total"].band.label) == (9, "Moderate risk")


def test_every_synthea_condition_is_mapped_or_named(shared_data):
    unmapped = set()
    for path in shared_data("synthea").glob("*.json"):
        for entry in json.loads(path.read_text())["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Condition":
                coding = resource["code"]["coding"][0]
                unmapped |= set(lace.charlson([(coding["system"], coding["code"])]).unmapped)
    # "Neoplasm of prostate" may be benign: Careway does not count it as a tumour, and says so.
    assert unmapped <= {"126906006"}


# --- shipped ------------------------------------------------------------------------------------


@pytest.mark.parametrize("qid", ["mahc-10", "ahc-hrsn", "steadi-home-safety", "lace"])
def test_each_file_cites_its_source_wording_and_terms_and_scores_every_answer_set(qid):
    questionnaire = instruments.shipped()[qid]
    urls = {ext["url"] for ext in questionnaire["extension"]}
    assert {engine.CAREWAY + "source", engine.CAREWAY + "wording"} <= urls
    assert questionnaire["copyright"]
    instrument = instruments.instrument(qid)
    assert instrument.scorable
    # The first answers everywhere are the calm ones and the last the worst: minimum and maximum.
    for choice, end in ((0, "minimum"), (-1, "maximum")):
        items = [{"linkId": link, "answer": values}
                 for link, values in fill.answers(questionnaire, choice).items()]  # fmt: skip
        for score in engine.score(instrument, {"item": items}).scores.values():
            assert score.value == getattr(score, end), (qid, choice, score)


def test_the_command_lists_them(capsys):
    call_command("instruments", "list")
    listed = capsys.readouterr().out
    for qid, title in (("mahc-10", "MAHC-10"), ("ahc-hrsn", "Social Needs"),
                       ("steadi-home-safety", "STEADI"), ("lace", "LACE")):  # fmt: skip
        line = next(line for line in listed.splitlines() if line.startswith(qid + " "))
        assert title in line

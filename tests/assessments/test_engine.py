"""The scoring engine on the shipped instruments: every band edge, the item 9 alert, conditional
items, and responses it must refuse to score rather than guess. Worked examples follow the
published scoring (sources cited in each content file)."""

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careway.assessments import engine, instruments

LOINC = "http://loinc.org"
ANSWERS = {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}
QUESTIONNAIRES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "questionnaires"


def response(points: list[int | None], first: int = 1) -> dict:
    items = []
    for number, value in enumerate(points, start=first):
        if value is None:
            continue
        coding = {"system": LOINC, "code": ANSWERS[value]}
        items.append({"linkId": str(number), "answer": [{"valueCoding": coding}]})
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}


def spread(total: int, items: int) -> list[int]:
    """Answers (0-3 each) that add up to `total`."""
    answers = []
    for _ in range(items):
        answers.append(min(3, total))
        total -= answers[-1]
    assert total == 0
    return answers


def total_of(qid: str, answers: list[int | None]) -> engine.Score:
    return engine.score(instruments.instrument(qid), response(answers)).scores["total"]


@pytest.mark.parametrize(
    ("total", "band", "flag"),
    [
        (0, "None to minimal", ""),
        (4, "None to minimal", ""),
        (5, "Mild", "mild-depression"),
        (9, "Mild", "mild-depression"),
        (10, "Moderate", "moderate-depression"),
        (14, "Moderate", "moderate-depression"),
        (15, "Moderately severe", "moderately-severe-depression"),
        (19, "Moderately severe", "moderately-severe-depression"),
        (20, "Severe", "severe-depression"),
        (27, "Severe", "severe-depression"),
    ],
)
def test_phq9_every_band_edge(total, band, flag):
    # Kroenke 2001: 5, 10, 15 and 20 are the cut-points of mild, moderate, moderately severe and
    # severe depression; the total runs from 0 to 27.
    score = total_of("phq-9", spread(total, 9))
    assert (score.value, score.band.label, score.band.flag) == (total, band, flag)
    assert (score.minimum, score.maximum) == (0, 27)
    assert score.code == {"system": LOINC, "code": "44261-6"}


def test_phq9_item_9_raises_an_urgent_alert_whatever_the_total():
    answers = [0, 0, 0, 0, 0, 0, 0, 0, 1]  # a total of 1: "none to minimal"
    result = engine.score(instruments.instrument("phq-9"), response(answers))
    assert result.scores["total"].band.label == "None to minimal"
    (alert,) = result.alerts
    assert (alert.item, alert.severity) == ("9", "urgent")
    assert "safety" in alert.label
    quiet = engine.score(instruments.instrument("phq-9"), response([3] * 8 + [0]))
    assert quiet.alerts == [] and quiet.scores["total"].value == 24


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "Minimal"), (4, "Minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"),
     (14, "Moderate"), (15, "Severe"), (21, "Severe")],
)  # fmt: skip
def test_gad7_every_band_edge(total, band):
    # Spitzer 2006: cut-points 5, 10 and 15; the total runs from 0 to 21.
    score = total_of("gad-7", spread(total, 7))
    assert (score.value, score.band.label, score.maximum) == (total, band, 21)


@pytest.mark.parametrize(("answers", "positive"), [([0, 0], False), ([1, 1], False),
                                                   ([2, 1], True), ([3, 3], True)])  # fmt: skip
def test_phq2_is_positive_from_three(answers, positive):
    # Kroenke 2003: a PHQ-2 of 3 or more is a positive screen.
    score = total_of("phq-2", answers)
    assert (score.band.flag == "positive-depression-screen") is positive
    assert (score.minimum, score.maximum) == (0, 6)


def test_an_unanswered_item_is_named_and_no_total_is_guessed():
    result = engine.score(instruments.instrument("phq-9"), response([1, 2, 0, None, 1, 0, 0, 0, 0]))
    assert result.scores["total"].value is None
    assert "4 not answered" in result.scores["total"].why_not
    assert result.unanswered == ["4"]


def test_an_answer_that_carries_no_points_is_named():
    bad = response([1] * 9)
    bad["item"][0]["answer"][0]["valueCoding"]["code"] = "LA-unknown"
    score = engine.score(instruments.instrument("phq-9"), bad).scores["total"]
    assert score.value is None and "1 carries no points" in score.why_not


@given(st.lists(st.integers(0, 3), min_size=9, max_size=9), st.integers(0, 8))
def test_phq9_stays_in_range_and_rises_when_an_answer_gets_worse(answers, which):
    before = total_of("phq-9", answers).value
    assert 0 <= before <= 27
    worse = list(answers)
    worse[which] = min(3, worse[which] + 1)
    after = total_of("phq-9", worse).value
    assert after == before + (worse[which] - answers[which])


def conditional_questionnaire() -> dict:
    def option(code, points):
        return {"valueCoding": {"code": code, "extension": [
            {"url": engine.ORDINAL, "valueDecimal": points}]}}  # fmt: skip

    return {
        "resourceType": "Questionnaire",
        "item": [
            {"linkId": "fell", "type": "choice", "required": True,
             "answerOption": [option("no", 0), option("yes", 1)]},
            {"linkId": "injured", "type": "choice", "required": True,
             "enableWhen": [{"question": "fell", "operator": "=",
                             "answerCoding": {"code": "yes"}}],
             "answerOption": [option("no", 0), option("yes", 2)]},
            {"linkId": "tug", "type": "decimal", "required": True},
        ],
        "extension": [
            {"url": engine.SCORE, "extension": [
                {"url": "key", "valueString": "falls"},
                {"url": "item", "valueString": "fell"},
                {"url": "item", "valueString": "injured"}]},
            {"url": engine.SCORE, "extension": [
                {"url": "key", "valueString": "tug"},
                {"url": "item", "valueString": "tug"},
                {"url": "band", "extension": [
                    {"url": "min", "valueDecimal": 0}, {"url": "max", "valueDecimal": 11.99},
                    {"url": "label", "valueString": "Within normal limits"}]},
                {"url": "band", "extension": [
                    {"url": "min", "valueDecimal": 12}, {"url": "max", "valueDecimal": 999},
                    {"url": "label", "valueString": "Higher fall risk"},
                    {"url": "flag", "valueCode": "high-fall-risk"}]}]},
        ],
    }  # fmt: skip


def answer(link, **value):
    return {"linkId": link, "answer": [value]}


def test_a_disabled_item_is_neither_required_nor_counted_and_timed_measures_band():
    instrument = engine.load(conditional_questionnaire())
    no_fall = {
        "item": [answer("fell", valueCoding={"code": "no"}), answer("tug", valueDecimal=9.4)]
    }
    result = engine.score(instrument, no_fall)
    assert result.scores["falls"].value == 0 and result.unanswered == []
    assert result.scores["tug"].band.label == "Within normal limits"
    # Seconds have no fixed range: none is claimed.
    assert (result.scores["tug"].minimum, result.scores["tug"].maximum) == (None, None)
    fell = {"item": [answer("fell", valueCoding={"code": "yes"}), answer("tug", valueDecimal=14)]}
    result = engine.score(instrument, fell)
    assert result.unanswered == ["injured"] and result.scores["falls"].value is None
    assert result.flags == ["high-fall-risk"]


@pytest.mark.skipif(not QUESTIONNAIRES.exists(), reason="shared/data/questionnaires is absent")
@pytest.mark.parametrize("name", ["AHC-HRSN-questionnaire.json", "PRAPARE-questionnaire.json"])
def test_questionnaires_written_elsewhere_load_and_say_why_they_cannot_be_scored(name):
    instrument = engine.load(json.loads((QUESTIONNAIRES / name).read_text()))
    assert instrument.items
    result = engine.score(instrument, {"resourceType": "QuestionnaireResponse", "item": []})
    assert not result.as_dict()["scored"]
    assert "defines no score" in result.why_not


@pytest.mark.parametrize(
    ("questionnaire", "where"),
    [
        ({"resourceType": "Patient"}, "resourceType"),
        ({"resourceType": "Questionnaire", "item": [{"type": "choice"}]}, "linkId"),
        ({"resourceType": "Questionnaire", "item": [{"linkId": "a"}, {"linkId": "a"}]}, "linkId"),
        ({"resourceType": "Questionnaire", "item": [{"linkId": "a"}], "extension": [
            {"url": engine.SCORE, "extension": [{"url": "key", "valueString": "t"},
                                                {"url": "item", "valueString": "zz"}]}]}, "item"),
    ],
)  # fmt: skip
def test_a_questionnaire_that_cannot_be_used_names_the_element(questionnaire, where):
    with pytest.raises(engine.InstrumentError) as error:
        engine.load(questionnaire)
    assert where in error.value.where

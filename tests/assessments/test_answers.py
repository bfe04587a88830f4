"""The one check that answers fit their Questionnaire (careway/assessments/answers.py), whichever
way they come: as the page reads them (`check_answers`), as a client sends QuestionnaireResponse
items (`check_items`), or typed into the form (`parse`, which reads and then checks)."""

import pytest
from django.http import QueryDict

from careway.assessments.answers import AnswersRefused, check_answers, check_items, parse
from careway.assessments.questionnaires import answers_from_response
from tests.assessments.every_kind import ALL_ANSWERS, EVERYTHING

PALE = {"valueCoding": {"system": "urn:s", "code": "pale", "display": "Pale"}}


def refusal(check, *args, **kwargs) -> AnswersRefused:
    with pytest.raises(AnswersRefused) as refused:
        check(*args, **kwargs)
    return refused.value


def test_answers_that_fit_come_back_as_items_in_the_questionnaires_shape():
    items = check_answers(EVERYTHING, ALL_ANSWERS)
    assert answers_from_response({"item": items}) == ALL_ANSWERS
    assert [i["linkId"] for i in items][:2] == ["vitals", "smokes"]  # pulse inside its group
    # A choice comes back as the Questionnaire writes the option, whatever the client left out.
    items = check_answers(EVERYTHING, {"color": [{"valueCoding": {"code": "pale"}}]})
    assert items == [{"linkId": "color", "text": "Skin colour", "answer": [PALE]}]


@pytest.mark.parametrize(
    ("answers", "path", "code", "words"),
    [
        (
            {"nope": [{"valueString": "x"}]},
            "item.where(linkId='nope')",
            "value",
            "'nope' is not an item of urn:test:everything",
        ),
        (
            {"color": [{"valueCoding": {"system": "urn:s", "code": "grey"}}]},
            "item.where(linkId='color').answer[0].valueCoding",
            "code-invalid",
            "question color (Skin colour): not one of its answers (pink, pale)",
        ),
        (
            {"pulse": [{"valueInteger": 70}, {"valueInteger": 72}]},
            "item.where(linkId='pulse')",
            "value",
            "give one answer only",
        ),
        (
            {"pulse": [{"valueDecimal": 70.5}]},
            "item.where(linkId='pulse').answer[0].valueDecimal",
            "value",
            "is a integer question: answer it with valueInteger",
        ),
        (
            {"vitals": [{"valueString": "fine"}]},
            "item.where(linkId='vitals').answer[0]",
            "value",
            "is a group: it takes no answer",
        ),
        (
            {"notes": [{"valueString": "a\x00b"}]},
            "item.where(linkId='notes').answer[0].valueString",
            "value",
            "contains a NUL character",
        ),
        (
            {"notes": {"valueString": "x"}},
            "item.where(linkId='notes').answer",
            "structure",
            "must be a list of answers",
        ),
    ],
)
def test_answers_that_do_not_fit_are_refused_naming_the_question(answers, path, code, words):
    refused = refusal(check_answers, EVERYTHING, answers)
    assert (refused.path, refused.code) == (path, code)
    assert words in refused.reason


def test_items_are_refused_by_the_same_rules_naming_the_element_as_sent():
    items = check_answers(EVERYTHING, {"color": [PALE], "pulse": [{"valueInteger": 70}]})
    items[0]["item"][0]["answer"][0] = {"valueString": "seventy"}
    refused = refusal(check_items, EVERYTHING, items, "items")
    assert (refused.path, refused.code) == ("items[0].item[0].answer[0].valueString", "value")
    assert "question pulse (Heart rate) is a integer question" in refused.reason
    refused = refusal(check_items, EVERYTHING, "pulse", "items")
    assert (refused.path, refused.code) == ("items", "structure")


def test_completed_items_must_answer_every_required_question_enable_when_asks():
    smoker = check_answers(
        EVERYTHING, {"pulse": [{"valueInteger": 70}], "smokes": [{"valueBoolean": True}]}
    )
    refused = refusal(check_items, EVERYTHING, smoker, "QuestionnaireResponse.item", completed=True)
    assert refused.path == "QuestionnaireResponse.item.where(linkId='packs')"
    assert (refused.code, refused.reason) == ("required", "required, and not answered: Packs a day")
    # Saved as it goes, a draft need not be complete.
    assert check_items(EVERYTHING, smoker, "items") == smoker


def test_the_form_reader_refuses_what_the_checker_refuses_and_keeps_the_rest():
    post = QueryDict(mutable=True)
    post.update({"q0-notes": "Key under\x00the mat", "q0-born": "1941-02-03"})
    parsed = parse(EVERYTHING, post, "q0")
    assert parsed.errors == {"notes": "Notes: contains a NUL character"}
    assert parsed.answers == {"born": [{"valueDate": "1941-02-03"}]}


def _limited(item: dict) -> dict:
    return {"resourceType": "Questionnaire", "url": "urn:test:limits", "item": [item]}


def _ext(name: str, **value) -> dict:
    return {"url": f"http://hl7.org/fhir/StructureDefinition/{name}", **value}


LIMITS = [
    # (question, an answer that keeps its limits, one that does not, the words of the refusal)
    (
        {"linkId": "n", "type": "integer", "extension": [_ext("minValue", valueInteger=0),
                                                        _ext("maxValue", valueInteger=10)]},
        {"valueInteger": 10}, {"valueInteger": 99}, "enter a number from 0 to 10",
    ),
    (
        {"linkId": "n", "type": "decimal", "extension": [_ext("maxDecimalPlaces", valueInteger=1),
                                                        _ext("minValue", valueDecimal=90.0)]},
        {"valueDecimal": 98.6}, {"valueDecimal": 98.65}, "use at most 1 decimal place",
    ),
    (
        {"linkId": "n", "type": "quantity", "extension": [_ext("maxValue", valueDecimal=500)]},
        {"valueQuantity": {"value": 180}}, {"valueQuantity": {"value": 900}}, "500 or less",
    ),
    (
        {"linkId": "n", "type": "date", "extension": [_ext("minValue", valueDate="2020-01-01")]},
        {"valueDate": "2020-01-01"}, {"valueDate": "1999-12-31"}, "on or after 2020-01-01",
    ),
    (
        {"linkId": "n", "type": "string", "maxLength": 5},
        {"valueString": "short"}, {"valueString": "too long"}, "at most 5 characters",
    ),
    (
        {"linkId": "n", "type": "integer",
         "answerOption": [{"valueInteger": 0}, {"valueInteger": 1}, {"valueInteger": 2}]},
        {"valueInteger": 2}, {"valueInteger": 3}, "not one of its answers (0, 1, 2)",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("question", "fits", "breaks", "words"), LIMITS)
def test_a_questions_own_limits_hold_for_answers_from_any_caller(question, fits, breaks, words):
    questionnaire = _limited(question)
    assert check_items(questionnaire, [{"linkId": "n", "answer": [fits]}], "item")
    refused = refusal(check_items, questionnaire, [{"linkId": "n", "answer": [breaks]}], "item")
    assert refused.path == f"item[0].answer[0].{next(iter(breaks))}"
    assert words in refused.reason

"""The Questionnaire as Careway reads it (careway/assessments/questionnaires.py): answers kept as
QuestionnaireResponse.item in the Questionnaire's shape and read back, and what is still required
before signing."""

from django.http import QueryDict

from careway.assessments import form
from careway.assessments.answers import parse
from careway.assessments.questionnaires import (
    answers_from_response,
    missing_required,
    response_items,
)
from tests.assessments.every_kind import EVERYTHING

# --- required items, for signing -----------------------------------------------------------------


def test_required_is_not_an_error_when_saving_but_is_listed_for_signing():
    parsed = parse(EVERYTHING, QueryDict(), "q0")
    assert (parsed.answers, parsed.errors) == ({}, {})
    missing = missing_required(EVERYTHING, {})
    assert missing == [("pulse", "Heart rate"), ("smokes", "Smokes")]
    # Packs a day is required only of a smoker.
    smoker = {"pulse": [{"valueInteger": 80}], "smokes": [{"valueBoolean": True}]}
    assert missing_required(EVERYTHING, smoker) == [("packs", "Packs a day")]
    assert missing_required(EVERYTHING, {**smoker, "packs": [{"valueDecimal": 1}]}) == []


def test_a_required_group_needs_one_answer_inside():
    questionnaire = {
        "resourceType": "Questionnaire",
        "item": [
            {
                "linkId": "housing",
                "type": "group",
                "text": "Living situation",
                "required": True,
                "item": [{"linkId": "where", "type": "string", "text": "Where"}],
            }
        ],
    }
    assert missing_required(questionnaire, {}) == [("housing", "Living situation")]
    assert missing_required(questionnaire, {"where": [{"valueString": "flat"}]}) == []


# --- answers in, answers out ---------------------------------------------------------------------


def test_response_items_nest_like_the_questionnaire():
    items = response_items(EVERYTHING, {"pulse": [{"valueInteger": 70}], "nope": [1]})
    assert items == [
        {
            "linkId": "vitals",
            "text": "Readings",
            "item": [{"linkId": "pulse", "text": "Heart rate", "answer": [{"valueInteger": 70}]}],
        }
    ]


def test_bare_values_as_the_engine_reads_them_are_accepted_too():
    bare = {"pulse": [72], "temp": [98.6], "smokes": [True], "color": [{"code": "pink"}]}
    items = response_items(EVERYTHING, bare)
    assert answers_from_response({"item": items}) == {
        "pulse": [{"valueInteger": 72}],
        "temp": [{"valueDecimal": 98.6}],
        "smokes": [{"valueBoolean": True}],
        "color": [{"valueCoding": {"code": "pink"}}],
    }
    fields = {f.link_id: f for f in form.flat_fields(form.form_fields(EVERYTHING, bare, "q"))}
    assert [o.checked for o in fields["color"].options] == [True, False]

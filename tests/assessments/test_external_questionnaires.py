"""Questionnaires written elsewhere (../shared/data/questionnaires: the LOINC form of the AHC
social needs screen and PRAPARE) load through the engine, and scoring a response to them says
why it cannot be scored (they carry no scores) instead of guessing. Careway's own AHC screen
uses the same LOINC codes as the LOINC form."""

import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from careway.assessments import engine, instruments
from tests.assessments import fill
from tests.conftest import require_shared_data

EXTERNAL = ["AHC-HRSN-questionnaire.json", "PRAPARE-questionnaire.json"]


def external(name: str) -> dict[str, Any]:
    return json.loads(require_shared_data("questionnaires", name).read_text())


def answered(questionnaire: dict[str, Any], choice: int) -> dict[str, Any]:
    items = [
        {"linkId": link, "answer": values}
        for link, values in fill.answers(questionnaire, choice).items()
    ]
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}


@pytest.mark.parametrize("name", EXTERNAL)
def test_an_external_questionnaire_loads_with_every_item(name):
    questionnaire = external(name)
    instrument = engine.load(questionnaire)
    assert [item["linkId"] for item in fill.items_of(questionnaire)] == list(instrument.items)
    assert instrument.title
    assert not instrument.scorable and "defines no score" in instrument.why_not


@pytest.mark.parametrize("name", EXTERNAL)
@pytest.mark.parametrize("choice", [0, -1], ids=["first-answers", "last-answers"])
def test_a_response_to_it_says_why_it_cannot_be_scored_instead_of_guessing(name, choice):
    questionnaire = external(name)
    result = engine.score(engine.load(questionnaire), answered(questionnaire, choice))
    assert result.scores == {} and result.findings == []
    out = result.as_dict()
    assert out == {"scored": False, "why_not": result.why_not}
    assert "no scoring rules" in result.why_not and "does not guess" in result.why_not


@pytest.mark.parametrize("name", EXTERNAL)
def test_the_command_says_why_it_cannot_score_it(name, tmp_path, capsys):
    questionnaire = external(name)
    response = tmp_path / "response.json"
    response.write_text(json.dumps(answered(questionnaire, -1)))
    with pytest.raises(CommandError, match="Cannot score: the Questionnaire defines no score"):
        path = require_shared_data("questionnaires", name)
        call_command("instruments", "score", str(path), str(response))
    assert json.loads(capsys.readouterr().out)["scored"] is False


def test_careway_ahc_screen_uses_the_loinc_forms_codes_and_answers():
    theirs = {
        item["code"][0]["code"]: item
        for item in fill.items_of(external("AHC-HRSN-questionnaire.json"))
    }
    ours = fill.items_of(instruments.shipped()["ahc-hrsn"])
    assert len(ours) == len(theirs) == 10
    for item in ours:
        code = item["code"][0]["code"]
        assert code in theirs, code
        their_answers = {o["valueCoding"]["code"] for o in theirs[code]["answerOption"]}
        our_answers = {o["valueCoding"]["code"] for o in item["answerOption"]}
        assert our_answers == their_answers, code
        assert bool(item.get("repeats")) == bool(theirs[code].get("repeats")), code

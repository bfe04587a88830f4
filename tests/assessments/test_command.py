"""`careway instruments score Q.json QR.json` prints the scores as JSON, or says why not."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from careway.assessments import instruments
from tests.assessments.test_engine import response


def test_scores_a_response_and_prints_json(tmp_path, capsys):
    q = tmp_path / "phq9.json"
    q.write_text(json.dumps(instruments.shipped()["phq-9"]))
    r = tmp_path / "qr.json"
    r.write_text(json.dumps(response([2, 2, 1, 1, 1, 1, 1, 1, 1])))
    call_command("instruments", "score", str(q), str(r))
    printed = json.loads(capsys.readouterr().out)
    (total,) = printed["scores"]
    assert (total["value"], total["band"]["label"], total["range"]) == (11, "Moderate", [0, 27])
    assert printed["flags"] == ["moderate-depression"]
    assert printed["alerts"][0]["item"] == "9"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"resourceType": "Patient"}', "expected a FHIR"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_bad_files_are_named(tmp_path, content, message):
    q = tmp_path / "q.json"
    q.write_text(content)
    with pytest.raises(CommandError, match=message):
        call_command("instruments", "score", str(q), str(q))


def test_an_unscorable_questionnaire_says_why(tmp_path, capsys):
    q = tmp_path / "q.json"
    q.write_text(json.dumps({"resourceType": "Questionnaire", "item": [{"linkId": "a"}]}))
    r = tmp_path / "r.json"
    r.write_text(json.dumps({"resourceType": "QuestionnaireResponse", "item": []}))
    with pytest.raises(CommandError, match="defines no score"):
        call_command("instruments", "score", str(q), str(r))

"""`careway instruments score QUESTIONNAIRE.json RESPONSE.json`: the scores of a response, as JSON.

Prints the totals, subscores, bands, alerts and findings of a FHIR R4 QuestionnaireResponse
scored by its Questionnaire (any Questionnaire: Careway's own or one written elsewhere), or says
why it cannot be scored. `careway instruments list` names the shipped instruments.
"""

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from careway.assessments import engine, instruments


class Command(BaseCommand):
    help = "Score a FHIR QuestionnaireResponse with its Questionnaire, or list the instruments."

    def add_arguments(self, parser: ArgumentParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        score = commands.add_parser("score", help="Print the scores of a response as JSON.")
        score.add_argument("questionnaire", type=Path)
        score.add_argument("response", type=Path)
        commands.add_parser("list", help="The instruments Careway ships.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for qid, q in instruments.shipped().items():
                self.stdout.write(f"{qid:18} {q.get('title', '')}")
            return
        questionnaire = _json(options["questionnaire"], "Questionnaire")
        response = _json(options["response"], "QuestionnaireResponse")
        try:
            instrument = engine.load(questionnaire)
        except engine.InstrumentError as error:
            raise CommandError(f"{options['questionnaire']}: {error}") from None
        result = engine.score(instrument, response).as_dict()
        self.stdout.write(json.dumps(result, indent=2))
        if not result["scored"]:
            raise CommandError(f"Cannot score: {result['why_not']}")


def _json(path: Path, kind: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise CommandError(f"{path}: cannot read it ({error.strerror})") from None
    except ValueError as error:
        raise CommandError(f"{path}: not valid JSON ({error})") from None
    except RecursionError:
        raise CommandError(f"{path}: nested too deeply to be a FHIR {kind}") from None
    if not isinstance(data, dict) or data.get("resourceType") != kind:
        raise CommandError(f"{path}: expected a FHIR {kind}")
    return data

"""The instruments Careway ships: FHIR R4 Questionnaires in content/, loaded once."""

import json
from functools import cache
from pathlib import Path
from typing import Any

from . import engine

CONTENT = Path(__file__).parent / "content"


@cache
def shipped() -> dict[str, dict[str, Any]]:
    """Each shipped Questionnaire by its id, read from disk once per process (every page of an
    assessment asks for several). Callers read them; none may change them."""
    return {q["id"]: q for q in (_read(p) for p in sorted(CONTENT.glob("*.json")))}


@cache
def instrument(questionnaire_id: str) -> engine.Instrument:
    return engine.load(shipped()[questionnaire_id])


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())

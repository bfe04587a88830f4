"""Answer sets for tests and benchmarks: pick, for any Questionnaire, an answer to every item
(or only the required ones), the way a nurse would fill the form, so a test can reach signing
without knowing each section's questions."""

from datetime import date
from typing import Any

UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"


def items_of(questionnaire: dict[str, Any]) -> list[dict[str, Any]]:
    found = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("type") not in ("group", "display"):
                found.append(item)
            walk(item.get("item", []))

    walk(questionnaire.get("item", []))
    return found


def answer_for(item: dict[str, Any], choice: int = 0) -> dict[str, Any] | None:
    """A valid value[x] for the item; `choice` picks which answer option (0: the first, -1: the
    last, usually the worst)."""
    kind = item.get("type")
    options = item.get("answerOption") or []
    if options:
        option = options[choice]
        return {k: v for k, v in option.items() if k.startswith("value")}
    if kind == "boolean":
        return {"valueBoolean": choice != 0}
    if kind in ("integer", "decimal"):
        low = _bound(item, MIN_VALUE)
        high = _bound(item, MAX_VALUE)
        value = low if low is not None else 0
        if choice != 0 and high is not None:
            value = high
        key = "valueInteger" if kind == "integer" else "valueDecimal"
        return {key: int(value) if kind == "integer" else float(value)}
    if kind in ("string", "text", "open-choice"):
        return {"valueString": "Noted at the visit"}
    if kind == "date":
        return {"valueDate": date.today().isoformat()}
    if kind == "dateTime":
        return {"valueDateTime": f"{date.today().isoformat()}T10:00:00Z"}
    if kind == "time":
        return {"valueTime": "10:00:00"}
    return None


def _bound(item: dict[str, Any], url: str) -> float | None:
    for ext in item.get("extension", []) or []:
        if ext.get("url") == url:
            for key, value in ext.items():
                if key.startswith("value"):
                    return float(value)
    return None


def answers(
    questionnaire: dict[str, Any], choice: int = 0, required_only: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """linkId -> [value[x]] for every item (or every required one). Items hidden by enableWhen
    get answers too; the engine and the services ignore answers to disabled items."""
    found = {}
    for item in items_of(questionnaire):
        if required_only and not item.get("required"):
            continue
        value = answer_for(item, choice)
        if value is not None:
            found[item["linkId"]] = [value]
    return found

"""A FHIR R4 Questionnaire as Careway reads it, whatever then draws it, reads answers to it or
scores them. No database here.

- `tree(items)`: the items as `Node`s, groups keeping their children, each with the engine's
  reading of it (`engine.Item`), so enableWhen means the same here as in scoring;
  `enabled_now(nodes, answers)` says which items enableWhen asks for these answers.
- The extensions a form needs (unit, unit options, minValue and maxValue, item control, hidden,
  entry format) and what they say: `units`, `bound`, `extension_value`, `item_control`,
  `max_length`, `label`.
- Answers are `{linkId: [value[x], ...]}`, each value a FHIR `{"valueX": ...}` dict; `wrapped`
  also takes the bare values the engine reads and `plain` gives them back.
- `response_items(questionnaire, answers)`: QuestionnaireResponse.item nested as the
  Questionnaire nests its groups; `answers_from_response(response)` is the way back.
- `missing_required(questionnaire, answers)`: what is still to answer before signing.
"""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import engine

UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
UNIT_OPTION = "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
MAX_DECIMALS = "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
HIDDEN = "http://hl7.org/fhir/StructureDefinition/questionnaire-hidden"
ENTRY_FORMAT = "http://hl7.org/fhir/StructureDefinition/entryFormat"

VALUE_KEYS = frozenset(
    "value" + kind
    for kind in (
        *("Boolean", "Decimal", "Integer", "Date", "DateTime", "Time", "String", "Uri"),
        *("Attachment", "Coding", "Quantity", "Reference"),
    )
)
VALUE_OF_TYPE = {
    "boolean": "valueBoolean",
    "integer": "valueInteger",
    "decimal": "valueDecimal",
    "date": "valueDate",
    "dateTime": "valueDateTime",
    "time": "valueTime",
    "string": "valueString",
    "text": "valueString",
    "url": "valueUri",
    "quantity": "valueQuantity",
}


# --- the item tree -------------------------------------------------------------------------------


@dataclass
class Node:
    """One item of the Questionnaire: as written (`raw`), as the engine reads it (`rule`), and
    its child items."""

    raw: dict[str, Any]
    rule: engine.Item
    children: list["Node"]

    @property
    def link_id(self) -> str:
        return self.rule.link_id

    @property
    def type(self) -> str:
        return self.rule.type

    @property
    def answerable(self) -> bool:
        return self.type not in ("group", "display")


def tree(items: Any, path: str = "Questionnaire.item") -> list[Node]:
    """The items (Questionnaire.item) as nodes; anything that is not an object is skipped."""
    nodes = []
    for index, raw in enumerate(items or []):
        if not isinstance(raw, dict):
            continue
        here = f"{path}[{index}]"
        # The engine's own reading of the item, so enableWhen means the same here as in scoring.
        rule = engine._item(raw, here)
        nodes.append(Node(raw, rule, tree(raw.get("item"), f"{here}.item")))
    return nodes


def all_nodes(nodes: Iterable[Node]) -> Iterator[Node]:
    """Every node, children after their parent, in the order of the Questionnaire."""
    for node in nodes:
        yield node
        yield from all_nodes(node.children)


def enabled_now(nodes: list[Node], answers: Mapping[str, list[Any]]) -> set[str]:
    """The linkIds enableWhen enables for these answers (plain values, as the engine reads them).

    An item inside a disabled group is disabled, and an answer to a disabled item does not count
    towards another item's condition: repeated until nothing changes."""
    given = {link: list(values) for link, values in answers.items() if values}
    current = given
    enabled: set[str] = set()
    for _ in range(sum(1 for _ in all_nodes(nodes)) + 1):
        enabled = set(_enabled_by(nodes, current, True))
        narrowed = {link: values for link, values in given.items() if link in enabled}
        if narrowed.keys() == current.keys():
            break
        current = narrowed
    return enabled


def _enabled_by(nodes: list[Node], answers: dict[str, list[Any]], parent_on: bool) -> Iterator[str]:
    for node in nodes:
        on = parent_on and engine._enabled(node.rule, answers)
        if on:
            yield node.link_id
        yield from _enabled_by(node.children, answers, on)


# --- values --------------------------------------------------------------------------------------


def value_x(node_type: str, value: Any) -> dict[str, Any]:
    """A value[x] dict, whether `value` already is one or is the bare value the engine reads."""
    if isinstance(value, dict) and value and set(value) <= VALUE_KEYS:
        return value
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, dict):
        return {"valueQuantity" if node_type == "quantity" else "valueCoding": value}
    if isinstance(value, int) and node_type != "decimal":
        return {"valueInteger": value}
    if isinstance(value, int | float):
        return {"valueDecimal": value}
    return {VALUE_OF_TYPE.get(node_type, "valueString"): value}


def bare(value: dict[str, Any]) -> Any:
    """The value inside a value[x] dict (None for an empty one)."""
    return next(iter(value.values())) if value else None


def wrapped(nodes: list[Node], answers: Mapping[str, Iterable[Any]]) -> dict[str, list[dict]]:
    """The answers with every value a value[x] dict."""
    types = {node.link_id: node.type for node in all_nodes(nodes)}
    return {
        str(link): [value_x(types.get(str(link), ""), v) for v in values]
        for link, values in answers.items()
    }


def plain(answers: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[Any]]:
    """The answers as the engine reads them: the bare values."""
    return {link: [bare(v) for v in values] for link, values in answers.items()}


def number_text(value: Any) -> str:
    """A number as a person writes it: 12 rather than 12.0."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def coding_text(coding: dict[str, Any]) -> str:
    return str(coding.get("display") or coding.get("code") or "")


# --- what an item's extensions say ---------------------------------------------------------------


def _extension(raw: dict[str, Any], url: str) -> dict[str, Any] | None:
    for ext in raw.get("extension", []) or []:
        if isinstance(ext, dict) and ext.get("url") == url:
            return ext
    return None


def extension_value(raw: dict[str, Any], url: str) -> Any:
    """The value of the item's first extension with this url (None without one)."""
    ext = _extension(raw, url)
    return bare({k: v for k, v in ext.items() if k.startswith("value")}) if ext else None


def item_control(raw: dict[str, Any]) -> str:
    """The item-control code ("help", ...), "" without one."""
    value = extension_value(raw, ITEM_CONTROL)
    codings = value.get("coding", []) if isinstance(value, dict) else []
    return str(codings[0].get("code", "")) if codings and isinstance(codings[0], dict) else ""


def units(raw: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The unit shown after a number, and, for a quantity, the units to pick from."""
    unit = extension_value(raw, UNIT)
    shown = coding_text(unit) if isinstance(unit, dict) else ""
    options = [
        ext["valueCoding"]
        for ext in raw.get("extension", []) or []
        if isinstance(ext, dict) and ext.get("url") == UNIT_OPTION and ext.get("valueCoding")
    ]
    return shown, options


def bound(raw: dict[str, Any], url: str) -> Any:
    """The item's minValue or maxValue (`url`): a number, a date as text, or None."""
    value = extension_value(raw, url)
    if isinstance(value, dict):  # a valueQuantity bound
        value = value.get("value")
    return None if isinstance(value, bool) else value


def max_length(raw: dict[str, Any]) -> int | None:
    length = raw.get("maxLength")
    return (
        length if isinstance(length, int) and not isinstance(length, bool) and length > 0 else None
    )


def label(raw: dict[str, Any], link_id: str) -> str:
    """The question as shown: its prefix and text (its linkId when it has no text)."""
    text = " ".join(str(raw.get("text") or "").split()) or f"Question {link_id}"
    prefix = str(raw.get("prefix") or "").strip()
    return f"{prefix} {text}" if prefix else text


# --- required items, for signing ----------------------------------------------------------------


def missing_required(
    questionnaire: dict[str, Any], answers: Mapping[str, Iterable[Any]]
) -> list[tuple[str, str]]:
    """(linkId, text) of each required item enableWhen asks for and no answer gives, in the
    order of the form. A required group counts as missing when nothing inside it is answered
    and none of its own required items already says so."""
    nodes = tree(questionnaire.get("item"))
    given = {link for link, values in wrapped(nodes, answers).items() if values}
    enabled = enabled_now(nodes, plain(wrapped(nodes, answers)))
    missing: list[tuple[str, str]] = []

    def answered(node: Node) -> bool:
        return node.link_id in given or any(
            answered(c) for c in node.children if c.link_id in enabled
        )

    def walk(level: list[Node]) -> None:
        for node in level:
            if node.link_id not in enabled:
                continue
            before = len(missing)
            walk(node.children)
            if not node.rule.required or node.type == "display":
                continue
            if node.answerable:
                lacking = node.link_id not in given
            else:  # a group: only when nothing inside already says what is missing
                lacking = not answered(node) and len(missing) == before
            if lacking:
                missing.append((node.link_id, label(node.raw, node.link_id)))

    walk(nodes)
    return missing


# --- QuestionnaireResponse.item ------------------------------------------------------------------


def response_items(
    questionnaire: dict[str, Any], answers: Mapping[str, Iterable[Any]]
) -> list[dict[str, Any]]:
    """QuestionnaireResponse.item for these answers, nested in the Questionnaire's groups, each
    answer a value[x]. Items without an answer (and groups with none inside) are left out, and
    so are linkIds the Questionnaire does not have. Whether enableWhen asks for an item is not
    looked at here: the form reader has already dropped those answers, and the engine ignores
    them."""
    nodes = tree(questionnaire.get("item"))
    given = wrapped(nodes, answers)

    def build(level: list[Node]) -> list[dict[str, Any]]:
        out = []
        for node in level:
            children = build(node.children)
            values = given.get(node.link_id, []) if node.answerable else []
            if not values and not children:
                continue
            item: dict[str, Any] = {"linkId": node.link_id}
            if node.raw.get("text"):
                item["text"] = str(node.raw["text"])
            if values:
                item["answer"] = [dict(v) for v in values]
                if children:  # a question's own sub-questions go under its answer
                    item["answer"][0]["item"] = children
            elif children:
                item["item"] = children
            out.append(item)
        return out

    return build(nodes)


def answers_from_response(response: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """linkId -> [value[x] dict, ...] from a QuestionnaireResponse (or {"item": [...]})."""
    found: dict[str, list[dict[str, Any]]] = {}

    def walk(items: Any) -> None:
        for raw in items or []:
            if not isinstance(raw, dict):
                continue
            for answer in raw.get("answer", []) or []:
                if not isinstance(answer, dict):
                    continue
                value = {k: v for k, v in answer.items() if k.startswith("value")}
                if value:
                    found.setdefault(str(raw.get("linkId")), []).append(value)
                walk(answer.get("item"))
            walk(raw.get("item"))

    walk(response.get("item", []) if isinstance(response, dict) else [])
    return found

"""A FHIR R4 Questionnaire as an HTML form, and a posted form back into answers.

No database here: the section page, the amendment page and the tests all go through the same four
steps, and the scoring engine reads what comes out.

- `form_fields(questionnaire, answers, prefix, errors)`: one `Field` per item, groups keeping
  their children, with the current answers filled in, whether enableWhen enables the item now, and
  the conditions as data for `static/assessments/enable-when.js`.
- `parse(questionnaire, post, prefix)`: the posted form as answers (`{linkId: [value[x], ...]}`,
  each value a FHIR `{"valueX": ...}` dict) and one message per item that could not be read. An
  error never costs the other answers; an answer to an item enableWhen disables is dropped.
  Required items are not errors here (a visit is saved as it goes): `missing_required` says what
  is still missing when the assessment is signed.
- `response_items(questionnaire, answers)`: QuestionnaireResponse.item nested as the
  Questionnaire nests its groups; `answers_from_response(response)` is the way back.

Names in the form: `{prefix}-{linkId}`, where any character of the linkId other than a letter,
digit, `.`, `_` or `-` is written `~{hex}~`; so no two items share a name, and `:` (never in an
encoded linkId) joins the extra inputs of one item (`:other`, `:unit`) and the ids of its parts.
"""

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

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
OTHER = ":other"  # the posted value of open-choice's "Other" radio; never an option's token
INT_RANGE = (-(2**31), 2**31 - 1)  # FHIR integer is 32-bit
INPUT_TYPES = {
    "integer": "number",
    "decimal": "number",
    "date": "date",
    "dateTime": "datetime-local",
    "time": "time",
    "string": "text",
    "url": "url",
}
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
DATE = re.compile(r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?")
INTEGER = re.compile(r"[+-]?\d+")


# --- what the template shows ---------------------------------------------------------------------


@dataclass
class Option:
    """One radio button or checkbox: `value` is what the browser posts."""

    value: str
    label: str
    checked: bool
    id: str


@dataclass
class Entry:
    """One text-like input (a repeating item has several)."""

    id: str
    value: str
    label: str


@dataclass
class Field:
    """One Questionnaire item as the template draws it.

    `widget` says how: group, display, radio (one choice, yes/no), checkbox (several choices),
    input (number, text, date, time; `entries` holds one input, or several when the item
    repeats), lines (a repeating string: one answer a line), textarea, quantity (number and
    unit), unsupported (an answer type this form cannot take). A read-only item (`read_only`)
    shows its answer in words (`shown`) and a hidden one (`hidden`) nothing; both carry their
    answers in hidden inputs, so saving keeps them."""

    link_id: str
    text: str  # the question as shown: the item's prefix and text (its linkId when it has none)
    type: str  # the item's FHIR type
    widget: str
    name: str
    id: str
    required: bool = False
    repeats: bool = False
    read_only: bool = False
    enabled: bool = True
    options: list[Option] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    values: list[str] = field(default_factory=list)  # the posted text of each current answer
    other: str = ""  # open-choice: the answer written in
    unit: str = ""  # shown after a number
    unit_options: list[Option] = field(default_factory=list)  # quantity: the units to pick from
    unit_free: bool = False  # quantity without a declared unit: the unit is typed
    unit_value: str = ""  # the typed unit
    input_type: str = "text"
    inputmode: str = ""
    step: str = ""
    min: str = ""
    max: str = ""
    max_length: int | None = None
    hidden: bool = False  # the questionnaire-hidden extension
    help: str = ""
    error: str = ""
    enable_when: str = ""  # JSON for data-enable-when, "" when always asked
    condition: str = ""  # the same in words, for a page without JavaScript
    shown: str = ""  # readonly: the answers in words
    children: list["Field"] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.text

    @property
    def other_name(self) -> str:
        return f"{self.name}{OTHER}"

    @property
    def other_id(self) -> str:
        return f"{self.id}:other"

    @property
    def unit_name(self) -> str:
        return f"{self.name}:unit"

    @property
    def unit_id(self) -> str:
        return f"{self.id}:unit"

    @property
    def other_option_id(self) -> str:
        return f"{self.id}:other-option"

    @property
    def lines_text(self) -> str:
        """A repeating string's answers, one a line, as its textarea holds them."""
        return "\n".join(self.values)

    @property
    def input_describedby(self) -> str:
        """aria-describedby of the input itself: the field's, and the unit after the number."""
        unit = [self.unit_id] if self.unit and not self.unit_options else []
        return " ".join([*filter(None, [self.describedby]), *unit])

    @property
    def help_id(self) -> str:
        return f"{self.id}:help"

    @property
    def error_id(self) -> str:
        return f"{self.id}:error"

    @property
    def condition_id(self) -> str:
        return f"{self.id}:when"

    @property
    def describedby(self) -> str:
        """The ids of the help, the condition and the error, for aria-describedby."""
        ids = [self.help_id] if self.help else []
        ids += [self.condition_id] if self.condition else []
        ids += [self.error_id] if self.error else []
        return " ".join(ids)

    @property
    def optional(self) -> bool:
        return not self.required and self.widget not in ("group", "display") and not self.carried

    @property
    def is_other_checked(self) -> bool:
        return bool(self.other) and not any(o.checked for o in self.options)

    @property
    def carried(self) -> bool:
        """Shown without inputs (read-only or hidden): its answers ride along in hidden inputs."""
        return self.read_only or self.hidden

    def posted_values(self) -> list[tuple[str, str]]:
        """What a browser posts for this field as it is drawn (children not included)."""
        if self.widget in ("radio", "checkbox"):
            posted = [(self.name, o.value) for o in self.options if o.checked]
            if self.other:
                posted += [] if self.repeats else [(self.name, OTHER)]
                posted.append((self.other_name, self.other))
            return posted
        if self.widget == "quantity":
            if not self.values:
                return []
            unit = [(self.unit_name, o.value) for o in self.unit_options if o.checked]
            if self.unit_free and self.unit_value:
                unit = [(self.unit_name, self.unit_value)]
            return [(self.name, self.values[0]), *unit]
        if self.widget == "lines":
            return [(self.name, "\n".join(self.values))] if self.values else []
        if self.widget in ("input", "textarea"):
            return [(self.name, v) for v in self.values]
        return []


def flat_fields(fields: Iterable[Field]) -> Iterator[Field]:
    """Every field, children after their group, in the order of the form."""
    for one in fields:
        yield one
        yield from flat_fields(one.children)


# --- the Questionnaire as a tree -----------------------------------------------------------------


@dataclass
class _Node:
    raw: dict[str, Any]
    rule: engine.Item
    children: list["_Node"]

    @property
    def link_id(self) -> str:
        return self.rule.link_id

    @property
    def type(self) -> str:
        return self.rule.type

    @property
    def answerable(self) -> bool:
        return self.type not in ("group", "display")


def _tree(items: Any, path: str = "Questionnaire.item") -> list[_Node]:
    nodes = []
    for index, raw in enumerate(items or []):
        if not isinstance(raw, dict):
            continue
        here = f"{path}[{index}]"
        # The engine's own reading of the item, so enableWhen means the same here as in scoring.
        rule = engine._item(raw, here)
        nodes.append(_Node(raw, rule, _tree(raw.get("item"), f"{here}.item")))
    return nodes


def _all(nodes: Iterable[_Node]) -> Iterator[_Node]:
    for node in nodes:
        yield node
        yield from _all(node.children)


def _enabled_now(nodes: list[_Node], answers: Mapping[str, list[Any]]) -> set[str]:
    """The linkIds enableWhen enables for these answers (plain values, as the engine reads them).

    An item inside a disabled group is disabled, and an answer to a disabled item does not count
    towards another item's condition: repeated until nothing changes."""
    given = {link: list(values) for link, values in answers.items() if values}
    current = given
    enabled: set[str] = set()
    for _ in range(sum(1 for _ in _all(nodes)) + 1):
        enabled = set(_enabled_by(nodes, current, True))
        narrowed = {link: values for link, values in given.items() if link in enabled}
        if narrowed.keys() == current.keys():
            break
        current = narrowed
    return enabled


def _enabled_by(
    nodes: list[_Node], answers: dict[str, list[Any]], parent_on: bool
) -> Iterator[str]:
    for node in nodes:
        on = parent_on and engine._enabled(node.rule, answers)
        if on:
            yield node.link_id
        yield from _enabled_by(node.children, answers, on)


# --- names ---------------------------------------------------------------------------------------


def _encode(link_id: str) -> str:
    return "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "._-") else f"~{ord(ch):x}~" for ch in link_id
    )


def field_name(prefix: str, link_id: str) -> str:
    """The HTML name of an item's input: `{prefix}-{linkId}`, safe for any linkId."""
    return f"{prefix}-{_encode(link_id)}"


# --- values --------------------------------------------------------------------------------------


def _value_x(node_type: str, value: Any) -> dict[str, Any]:
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


def _bare(value_x: dict[str, Any]) -> Any:
    return next(iter(value_x.values())) if value_x else None


def _wrapped(nodes: list[_Node], answers: Mapping[str, Iterable[Any]]) -> dict[str, list[dict]]:
    types = {node.link_id: node.type for node in _all(nodes)}
    return {
        str(link): [_value_x(types.get(str(link), ""), v) for v in values]
        for link, values in answers.items()
    }


def _plain(answers: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[Any]]:
    return {link: [_bare(v) for v in values] for link, values in answers.items()}


def _number_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _extension(raw: dict[str, Any], url: str) -> dict[str, Any] | None:
    for ext in raw.get("extension", []) or []:
        if isinstance(ext, dict) and ext.get("url") == url:
            return ext
    return None


def _extension_value(raw: dict[str, Any], url: str) -> Any:
    ext = _extension(raw, url)
    return _bare({k: v for k, v in ext.items() if k.startswith("value")}) if ext else None


def _item_control(raw: dict[str, Any]) -> str:
    value = _extension_value(raw, ITEM_CONTROL)
    codings = value.get("coding", []) if isinstance(value, dict) else []
    return str(codings[0].get("code", "")) if codings and isinstance(codings[0], dict) else ""


def _coding_text(coding: dict[str, Any]) -> str:
    return str(coding.get("display") or coding.get("code") or "")


@dataclass
class _Choice:
    token: str
    label: str
    value_x: dict[str, Any]


def _choices(raw: dict[str, Any]) -> list[_Choice]:
    """The answer options with the token each posts: the code (or the value itself), or the
    option's position when two options would post the same."""
    found = []
    for option in raw.get("answerOption", []) or []:
        if not isinstance(option, dict):
            continue
        value_x = {k: v for k, v in option.items() if k in VALUE_KEYS}
        if not value_x:
            continue
        value = _bare(value_x)
        if isinstance(value, dict):
            token, label = str(value.get("code") or value.get("display") or ""), _coding_text(value)
        else:
            token = label = _number_text(value)
        found.append(_Choice(token, label, value_x))
    tokens = [c.token for c in found]
    if len(set(tokens)) != len(tokens) or any(not t or t == OTHER for t in tokens):
        for index, choice in enumerate(found):
            choice.token = f"#{index}"
    return found


def _same(value_x: dict[str, Any], choice: _Choice) -> bool:
    mine, theirs = _bare(value_x), _bare(choice.value_x)
    if isinstance(mine, dict) and isinstance(theirs, dict):
        if mine.get("code") is None and theirs.get("code") is None:
            return bool(mine.get("display")) and mine.get("display") == theirs.get("display")
        return (mine.get("system"), mine.get("code")) == (
            theirs.get("system"),
            theirs.get("code"),
        ) or (not mine.get("system") and mine.get("code") == theirs.get("code"))
    return (
        not isinstance(mine, dict)
        and str(mine) == str(theirs)
        and set(value_x) == set(choice.value_x)
    )


def _units(raw: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The unit shown after a number, and, for a quantity, the units to pick from."""
    unit = _extension_value(raw, UNIT)
    shown = _coding_text(unit) if isinstance(unit, dict) else ""
    options = [
        ext["valueCoding"]
        for ext in raw.get("extension", []) or []
        if isinstance(ext, dict) and ext.get("url") == UNIT_OPTION and ext.get("valueCoding")
    ]
    return shown, options


def _bound(raw: dict[str, Any], url: str) -> Any:
    value = _extension_value(raw, url)
    if isinstance(value, dict):  # a valueQuantity bound
        value = value.get("value")
    return None if isinstance(value, bool) else value


def _question(raw: dict[str, Any], link_id: str) -> str:
    """The question as an error message names it."""
    text = " ".join(str(raw.get("text") or link_id).split())
    return text if len(text) <= 100 else text[:99].rstrip() + "…"


def _label(raw: dict[str, Any], link_id: str) -> str:
    text = " ".join(str(raw.get("text") or "").split()) or f"Question {link_id}"
    prefix = str(raw.get("prefix") or "").strip()
    return f"{prefix} {text}" if prefix else text


# --- the form ------------------------------------------------------------------------------------


def form_fields(
    questionnaire: dict[str, Any],
    answers: Mapping[str, Iterable[Any]],
    prefix: str,
    errors: Mapping[str, str] | None = None,
    *,
    posted: Mapping[str, Any] | None = None,
) -> list[Field]:
    """The fields of the form, with `answers` (value[x] dicts, or the bare values the engine
    reads) filled in and `errors` (linkId -> message, as `parse` gives) beside their fields.

    `posted` (the request's POST) puts what was typed back into a field with an error, so a
    mistyped number is shown to be corrected rather than blanked."""
    nodes = _tree(questionnaire.get("item"))
    wrapped = _wrapped(nodes, answers)
    enabled = _enabled_now(nodes, _plain(wrapped))
    context = _Context(
        prefix=prefix,
        answers=wrapped,
        errors=dict(errors or {}),
        enabled=enabled,
        nodes={node.link_id: node for node in _all(nodes)},
        posted=posted,
    )
    return [f for node in nodes if (f := _field(node, context)) is not None]


@dataclass
class _Context:
    prefix: str
    answers: dict[str, list[dict[str, Any]]]
    errors: dict[str, str]
    enabled: set[str]
    nodes: dict[str, _Node]
    posted: Mapping[str, Any] | None


def _field(node: _Node, context: _Context) -> Field | None:
    raw, link = node.raw, node.link_id
    if raw.get("type") == "display" and _item_control(raw) == "help":
        return None  # shown as its question's help
    name = field_name(context.prefix, link)
    out = Field(
        link_id=link,
        text=_label(raw, link),
        type=node.type,
        widget=node.type if node.type in ("group", "display") else "input",
        name=name,
        id=f"id_{name}",
        required=bool(raw.get("required")),
        repeats=bool(raw.get("repeats")),
        read_only=bool(raw.get("readOnly")),
        enabled=link in context.enabled,
        error=context.errors.get(link, ""),
    )
    out.enable_when, out.condition = _conditions(node, context)
    helps = [
        str(child.raw.get("text", ""))
        for child in node.children
        if child.type == "display" and _item_control(child.raw) == "help"
    ]
    if entry_format := _extension_value(raw, ENTRY_FORMAT):
        helps.append(f"Format: {entry_format}")
    values = context.answers.get(link, [])
    if node.answerable:
        helps += _fill(out, node, values)
        if out.error and context.posted is not None:
            _refill(out, context.posted)
    out.help = " ".join(h for h in helps if h)
    out.hidden = _extension_value(raw, HIDDEN) is True
    if out.read_only and node.answerable:
        out.shown = _shown(out, values)
    out.children = [f for child in node.children if (f := _field(child, context)) is not None]
    return out


def _fill(out: Field, node: _Node, values: list[dict[str, Any]]) -> list[str]:
    """Set the widget and its current values; return help lines."""
    raw = node.raw
    kind = node.type
    helps: list[str] = []
    if kind == "boolean":
        out.widget = "radio"
        out.options = [
            Option("true", "Yes", any(_bare(v) is True for v in values), f"{out.id}:0"),
            Option("false", "No", any(_bare(v) is False for v in values), f"{out.id}:1"),
        ]
        return helps
    if kind in ("choice", "open-choice"):
        if raw.get("answerValueSet") and not raw.get("answerOption"):
            out.widget, out.input_type = ("lines" if out.repeats else "input"), "text"
            out.values = [_text_of(v) for v in values]
            helps.append(
                "The list of answers for this question (" + str(raw["answerValueSet"]) + ") "
                "cannot be shown here: type the answer" + (", one a line." if out.repeats else ".")
            )
            _entries(out)
            return helps
        return _fill_choice(out, node, values)
    if kind == "quantity":
        return _fill_quantity(out, raw, values)
    if kind == "text":
        out.widget = "textarea"
        out.values = [str(_bare(v)) for v in values if "valueString" in v]
        out.max_length = _max_length(raw)
        _entries(out, blank=out.repeats)
        return helps + _unshown(values, len(out.values))
    if kind == "string" and out.repeats:
        out.widget = "lines"
        out.values = [str(_bare(v)) for v in values if "valueString" in v]
        out.max_length = None  # counted per line when parsed
        if length := _max_length(raw):
            helps.append(f"At most {length} characters a line.")
        return helps + _unshown(values, len(out.values))
    if kind not in INPUT_TYPES:
        out.widget = "unsupported"
        out.shown = _shown(out, values)
        return [f"Answers of the kind '{kind}' cannot be entered on this form."]
    out.input_type = INPUT_TYPES[kind]
    wanted = VALUE_OF_TYPE[kind]
    shown = [_input_text(kind, _bare(v)) for v in values if wanted in v]
    out.values = [s for s in shown if s]
    helps += _unshown(values, len(out.values))
    if kind in ("integer", "decimal"):
        helps += _numeric(out, raw, kind)
    else:
        out.min = _input_text(kind, _bound(raw, MIN_VALUE))
        out.max = _input_text(kind, _bound(raw, MAX_VALUE))
        out.max_length = _max_length(raw) if kind in ("string", "url") else None
    _entries(out, blank=out.repeats)
    return helps


def _numeric(out: Field, raw: dict[str, Any], kind: str) -> list[str]:
    out.inputmode = "numeric" if kind == "integer" else "decimal"
    places = _extension_value(raw, MAX_DECIMALS)
    if kind == "integer":
        out.step = "1"
    elif isinstance(places, int) and not isinstance(places, bool) and places >= 0:
        out.step = _number_text(Decimal(1).scaleb(-places))
    else:
        out.step = "any"
    out.unit, _ = _units(raw)
    low, high = _bound(raw, MIN_VALUE), _bound(raw, MAX_VALUE)
    out.min = _number_text(low) if low is not None else ""
    out.max = _number_text(high) if high is not None else ""
    if out.min and out.max:
        return [f"From {out.min} to {out.max}{' ' + out.unit if out.unit else ''}."]
    return []


def _fill_choice(out: Field, node: _Node, values: list[dict[str, Any]]) -> list[str]:
    choices = _choices(node.raw)
    out.widget = "checkbox" if out.repeats else "radio"
    out.options = [
        Option(c.token, c.label, any(_same(v, c) for v in values), f"{out.id}:{i}")
        for i, c in enumerate(choices)
    ]
    unknown = [v for v in values if not any(_same(v, c) for c in choices)]
    if node.type == "open-choice":
        written = [str(_bare(v)) for v in unknown if "valueString" in v]
        out.other = "\n".join(written) if out.repeats else (written[0] if written else "")
        unknown = [v for v in unknown if "valueString" not in v] + [
            {"valueString": w} for w in written[1:] if not out.repeats
        ]
    if not out.repeats and sum(o.checked for o in out.options) + bool(out.other) > 1:
        # More than one answer recorded for a one-answer question: keep the first visible.
        first = (
            next(o for o in out.options if o.checked)
            if any(o.checked for o in out.options)
            else None
        )
        for option in out.options:
            option.checked = option is first
        out.other = "" if first else out.other
    out.values = [o.value for o in out.options if o.checked]
    return _unshown(unknown, 0)


def _fill_quantity(out: Field, raw: dict[str, Any], values: list[dict[str, Any]]) -> list[str]:
    out.widget, out.input_type, out.inputmode, out.step = "quantity", "number", "decimal", "any"
    out.unit, units = _units(raw)
    quantities = [_bare(v) for v in values if "valueQuantity" in v and isinstance(_bare(v), dict)]
    current = quantities[0] if quantities else {}
    out.unit_options = [
        Option(_unit_token(u, i), _coding_text(u), _unit_matches(current, u), f"{out.id}:unit{i}")
        for i, u in enumerate(units)
    ]
    out.unit_free = not units and not out.unit
    out.unit_value = str(current.get("unit") or current.get("code") or "") if out.unit_free else ""
    number = current.get("value")
    ok = isinstance(number, int | float) and not isinstance(number, bool)
    out.values = [_number_text(number)] if ok else []
    low, high = _bound(raw, MIN_VALUE), _bound(raw, MAX_VALUE)
    out.min = _number_text(low) if low is not None else ""
    out.max = _number_text(high) if high is not None else ""
    _entries(out)
    return _unshown(values, len(out.values))


def _unit_token(unit: dict[str, Any], index: int) -> str:
    return str(unit.get("code") or unit.get("display") or f"#{index}")


def _unit_matches(quantity: dict[str, Any], unit: dict[str, Any]) -> bool:
    if not quantity:
        return False
    if quantity.get("code") and unit.get("code"):
        return bool(quantity.get("code") == unit.get("code"))
    return bool(quantity.get("unit")) and quantity.get("unit") == _coding_text(unit)


def _entries(out: Field, blank: bool = False) -> None:
    """The inputs of a text-like field: one, or one per answer and a blank one to add another."""
    if not out.repeats or out.widget == "lines":
        out.entries = [Entry(out.id, out.values[0] if out.values else "", out.label)]
        return
    texts = list(out.values) + ([""] if blank else [])
    out.entries = [
        Entry(f"{out.id}:{i}", text, f"Answer {i + 1}" if text else "Another answer")
        for i, text in enumerate(texts)
    ]


def _refill(out: Field, posted: Mapping[str, Any]) -> None:
    """What was typed into a field with an error, so it can be corrected rather than retyped."""
    typed = [t for t in _getlist(posted, out.name) if t.strip()]
    if out.widget == "lines":
        out.values = _lines(typed)
    elif out.widget in ("input", "textarea", "quantity"):
        out.values = typed if out.repeats else typed[:1]
        _entries(out, blank=out.repeats)
        if out.unit_free:
            out.unit_value = next(iter(_getlist(posted, out.unit_name)), "")
    if out.type == "open-choice":
        out.other = "\n".join(_getlist(posted, out.other_name))


def _unshown(values: list[dict[str, Any]], shown: int) -> list[str]:
    if len(values) <= shown:
        return []
    lost = [_text_of(v) for v in values]
    return [
        "Recorded before and not one of this form's answers: "
        + "; ".join(t for t in lost if t)
        + ". Saving replaces it."
    ]


def _text_of(value_x: dict[str, Any]) -> str:
    value = _bare(value_x)
    if isinstance(value, dict):
        if "value" in value:
            return f"{_number_text(value.get('value'))} {value.get('unit') or ''}".strip()
        return _coding_text(value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return _number_text(value)


def _shown(out: Field, values: list[dict[str, Any]]) -> str:
    if out.options:
        words = [o.label for o in out.options if o.checked] + ([out.other] if out.other else [])
    else:
        words = [_text_of(v) for v in values]
    if out.unit and words:
        words = [f"{w} {out.unit}" for w in words]
    return "; ".join(words) or "Not answered"


def _max_length(raw: dict[str, Any]) -> int | None:
    length = raw.get("maxLength")
    return (
        length if isinstance(length, int) and not isinstance(length, bool) and length > 0 else None
    )


def _input_text(kind: str, value: Any) -> str:
    """An answer as its input shows it ("" when the input cannot hold it)."""
    if value is None or isinstance(value, bool | dict | list):
        return ""
    if kind == "integer":
        return str(value) if isinstance(value, int) else ""
    if kind == "decimal":
        return _number_text(value) if isinstance(value, int | float | Decimal) else ""
    text = str(value)
    if kind == "date":
        return text if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else ""
    if kind == "time":
        return text[:5] if re.fullmatch(r"\d{2}:\d{2}:00", text) else text
    if kind == "dateTime":
        return _local_datetime_text(text)
    return text


def _local_datetime_text(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None or "T" not in text:
        return ""
    local = timezone.localtime(moment).replace(tzinfo=None, microsecond=0)
    return local.isoformat(timespec="seconds" if local.second else "minutes")


# --- enableWhen for the page ---------------------------------------------------------------------


def _conditions(node: _Node, context: _Context) -> tuple[str, str]:
    """The item's enableWhen for enable-when.js (as JSON), and in words."""
    conditions = node.rule.enable_when
    if not conditions:
        return "", ""
    rules, words = [], []
    for condition in conditions:
        question = context.nodes.get(str(condition.get("question")))
        expected_key = next((k for k in condition if k.startswith("answer")), "")
        expected = condition.get(expected_key)
        operator = str(condition.get("operator", "="))
        rule: dict[str, Any] = {
            "q": field_name(context.prefix, str(condition.get("question"))),
            "op": operator,
        }
        shown, rule["kind"], rule["value"] = _expected(question, expected_key, expected)
        rules.append(rule)
        asked = (
            _label(question.raw, question.link_id) if question else str(condition.get("question"))
        )
        words.append(_in_words(asked, operator, shown, expected))
    joiner = " or " if node.rule.enable_behavior == "any" else " and "
    data = {"behavior": node.rule.enable_behavior, "conditions": rules}
    return json.dumps(data, separators=(",", ":")), "Asked when " + joiner.join(words) + "."


def _expected(question: _Node | None, key: str, expected: Any) -> tuple[str, str, Any]:
    """How the page compares the answer: (the expected answer in words, kind, posted value)."""
    if key == "answerBoolean":
        return ("Yes" if expected else "No"), "token", "true" if expected else "false"
    if key == "answerCoding" and isinstance(expected, dict):
        for choice in _choices(question.raw) if question else []:
            # The engine's comparison, so the page enables what scoring counts.
            if engine._compare(_bare(choice.value_x), "=", expected):
                return choice.label, "token", choice.token
        return _coding_text(expected), "token", str(expected.get("code") or "")
    if key in ("answerInteger", "answerDecimal"):
        return _number_text(expected), "number", expected
    if key == "answerQuantity" and isinstance(expected, dict):
        return _text_of({"valueQuantity": expected}), "number", expected.get("value")
    if question and question.type in ("choice", "open-choice") and key in (
        "answerString", "answerDate", "answerInteger",
    ):  # fmt: skip
        for choice in _choices(question.raw):
            if choice.label == str(expected):
                return choice.label, "token", choice.token
    return (
        str(expected),
        "text",
        _input_text(question.type if question else "", expected) or str(expected),
    )


def _in_words(asked: str, operator: str, shown: str, expected: Any) -> str:
    if operator == "exists":
        return f"“{asked}” is {'answered' if expected else 'not answered'}"
    says = {
        "=": "is",
        "!=": "is not",
        ">": "is more than",
        "<": "is less than",
        ">=": "is at least",
        "<=": "is at most",
    }.get(operator, operator)
    return f"“{asked}” {says} {shown}"


# --- reading the posted form ---------------------------------------------------------------------


@dataclass
class Parsed:
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


class _Bad(ValueError):
    """One item's input could not be read: the message says what to enter."""


def _getlist(post: Mapping[str, Any], name: str) -> list[str]:
    if hasattr(post, "getlist"):
        return [str(v) for v in post.getlist(name)]
    value = post.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def parse(questionnaire: dict[str, Any], post: Mapping[str, Any], prefix: str) -> Parsed:
    """The answers a posted form gives, and what could not be read (linkId -> a message that
    names the question). Blank inputs are no answer; an answer to an item enableWhen disables is
    dropped (unless it hangs on an answer with an error: then it is kept, not lost)."""
    nodes = _tree(questionnaire.get("item"))
    answers: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    for node in _all(nodes):
        if not node.answerable:
            continue
        try:
            values = _read(node, post, field_name(prefix, node.link_id))
        except _Bad as bad:
            errors[node.link_id] = f"{_question(node.raw, node.link_id)}: {bad}"
            continue
        if values:
            answers[node.link_id] = values
    enabled = _enabled_now(nodes, _plain(answers)) | _hanging_on(nodes, set(errors))
    return Parsed(
        answers={link: v for link, v in answers.items() if link in enabled},
        errors={link: message for link, message in errors.items() if link in enabled},
    )


def _hanging_on(nodes: list[_Node], doubtful: set[str]) -> set[str]:
    """Items whose enableWhen depends, directly or not, on an answer that could not be read."""
    found: set[str] = set()
    while more := set(_depending_on(nodes, doubtful | found, False)) - found:
        found |= more
    return found


def _depending_on(nodes: list[_Node], links: set[str], parent: bool) -> Iterator[str]:
    for node in nodes:
        here = parent or bool({str(c.get("question")) for c in node.rule.enable_when} & links)
        if here:
            yield node.link_id
        yield from _depending_on(node.children, links, here)


def _read(node: _Node, post: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    raw, kind = node.raw, node.type
    repeats = bool(raw.get("repeats"))
    typed = [t.replace("\r\n", "\n").replace("\r", "\n").strip() for t in _getlist(post, name)]
    if (
        kind in ("choice", "open-choice")
        and raw.get("answerValueSet")
        and not raw.get("answerOption")
    ):
        texts = _lines(typed) if repeats else [t for t in typed if t]
        _one_only(texts, repeats)
        key = "valueString" if kind == "open-choice" else "valueCoding"
        return [{key: t if key == "valueString" else {"display": t}} for t in texts]
    if kind == "boolean":
        return _read_boolean(typed)
    if kind in ("choice", "open-choice"):
        return _read_choice(node, typed, _getlist(post, f"{name}{OTHER}"), repeats)
    if kind == "quantity":
        return _read_quantity(raw, typed, _getlist(post, f"{name}:unit"))
    if kind == "string" and repeats:
        texts = _lines(typed)
    elif kind in INPUT_TYPES or kind == "text":
        texts = [t for t in typed if t]
    else:
        return []
    _one_only(texts, repeats)
    return [_read_one(raw, kind, text) for text in texts]


def _lines(typed: list[str]) -> list[str]:
    return [line.strip() for text in typed for line in text.split("\n") if line.strip()]


def _one_only(values: list[Any], repeats: bool) -> None:
    if len(values) > 1 and not repeats:
        raise _Bad("give one answer only")


def _read_boolean(typed: list[str]) -> list[dict[str, Any]]:
    given = [t for t in typed if t]
    _one_only(given, False)
    if not given:
        return []
    if given[0] not in ("true", "false"):
        raise _Bad("choose Yes or No")
    return [{"valueBoolean": given[0] == "true"}]


def _read_choice(
    node: _Node, typed: list[str], other: list[str], repeats: bool
) -> list[dict[str, Any]]:
    choices = {c.token: c for c in _choices(node.raw)}
    picked = [t for t in typed if t]
    written = (
        _lines([o.strip() for o in other]) if repeats else [o.strip() for o in other if o.strip()]
    )
    is_open = node.type == "open-choice"
    if not repeats and is_open:
        coded = [t for t in picked if t != OTHER]
        # A picked option wins over words left in the "other" box; the box counts when "Other"
        # is picked or nothing is.
        picked, written = (coded, []) if coded else ([], written)
    unknown = [t for t in picked if t not in choices and not (is_open and t == OTHER)]
    if unknown:
        raise _Bad("choose one of the answers given")
    values = [dict(choices[t].value_x) for t in dict.fromkeys(picked) if t in choices]
    if written and not is_open:
        raise _Bad("choose one of the answers given")
    values += [{"valueString": w} for w in dict.fromkeys(written)]
    if len(values) > 1 and not repeats:
        raise _Bad("choose one answer only")
    for value in values:
        if "valueString" in value:
            _check_length(node.raw, value["valueString"])
    return values


def _read_quantity(raw: dict[str, Any], typed: list[str], units: list[str]) -> list[dict[str, Any]]:
    given = [t for t in typed if t]
    _one_only(given, False)
    if not given:
        return []
    number = _decimal(given[0])
    _check_range(raw, number)
    shown, options = _units(raw)
    unit_text = next((u.strip() for u in units if u.strip()), "")
    quantity: dict[str, Any] = {"value": float(number)}
    if options:
        chosen = next((u for i, u in enumerate(options) if _unit_token(u, i) == unit_text), None)
        if chosen is None:
            raise _Bad("choose the unit")
        quantity |= _quantity_unit(chosen)
    elif shown:
        unit = _extension_value(raw, UNIT)
        quantity |= _quantity_unit(unit) if isinstance(unit, dict) else {"unit": shown}
    elif unit_text:
        quantity["unit"] = unit_text
    return [{"valueQuantity": quantity}]


def _quantity_unit(coding: dict[str, Any]) -> dict[str, Any]:
    out = {"unit": _coding_text(coding)}
    if coding.get("system"):
        out["system"] = coding["system"]
    if coding.get("code"):
        out["code"] = coding["code"]
    return out


def _read_one(raw: dict[str, Any], kind: str, text: str) -> dict[str, Any]:
    if kind == "integer":
        return {"valueInteger": _integer(raw, text)}
    if kind == "decimal":
        number = _decimal(text)
        _check_range(raw, number)
        places = _extension_value(raw, MAX_DECIMALS)
        exponent = number.as_tuple().exponent
        if isinstance(places, int) and isinstance(exponent, int) and -exponent > places > -1:
            raise _Bad(f"use at most {places} decimal place{'s' if places != 1 else ''}")
        return {"valueDecimal": float(number)}
    if kind == "date":
        return {"valueDate": _date(raw, text)}
    if kind == "dateTime":
        return {"valueDateTime": _datetime(text)}
    if kind == "time":
        return {"valueTime": _time(text)}
    if kind == "url":
        _check_length(raw, text)
        if not re.fullmatch(r"\S+", text):
            raise _Bad("enter a web address without spaces")
        return {"valueUri": text}
    _check_length(raw, text)
    return {"valueString": text}


def _integer(raw: dict[str, Any], text: str) -> int:
    number = None
    if INTEGER.fullmatch(text):
        number = int(text)
    else:
        try:
            exact = Decimal(text)
            if exact.is_finite() and exact == exact.to_integral_value():
                number = int(exact)
        except InvalidOperation:
            pass
    if number is None:
        raise _Bad("enter a whole number")
    if not INT_RANGE[0] <= number <= INT_RANGE[1]:
        raise _Bad("enter a smaller number")
    _check_range(raw, Decimal(number))
    return number


def _decimal(text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or not math.isfinite(float(number)):
        raise _Bad("enter a number, such as 12 or 98.6")
    return number


def _check_range(raw: dict[str, Any], number: Decimal) -> None:
    low, high = _bound(raw, MIN_VALUE), _bound(raw, MAX_VALUE)
    low = Decimal(str(low)) if isinstance(low, int | float) else None
    high = Decimal(str(high)) if isinstance(high, int | float) else None
    unit = _units(raw)[0]
    if (low is not None and number < low) or (high is not None and number > high):
        if low is not None and high is not None:
            span = f"from {_number_text(low)} to {_number_text(high)}"
        elif low is not None:
            span = f"of {_number_text(low)} or more"
        else:
            span = f"of {_number_text(high)} or less"
        raise _Bad(f"enter a number {span}{' ' + unit if unit else ''}")


def _check_length(raw: dict[str, Any], text: str) -> None:
    length = _max_length(raw)
    if length is not None and len(text) > length:
        raise _Bad(f"write at most {length} characters (this has {len(text)})")


def _date(raw: dict[str, Any], text: str) -> str:
    valid = bool(DATE.fullmatch(text))
    if valid and len(text) == 10:
        try:
            date.fromisoformat(text)
        except ValueError:
            valid = False
    if not valid:
        raise _Bad("enter a date, such as 2025-03-31")
    low, high = _bound(raw, MIN_VALUE), _bound(raw, MAX_VALUE)
    if isinstance(low, str) and text < low:
        raise _Bad(f"enter a date on or after {low}")
    if isinstance(high, str) and text > high:
        raise _Bad(f"enter a date on or before {high}")
    return text


def _datetime(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _Bad("enter a date and time, such as 2025-03-31 14:30") from None
    if "T" not in text and " " not in text:
        raise _Bad("enter a date and time, such as 2025-03-31 14:30")
    if moment.tzinfo is None:  # what the page's input gives: the agency's local time
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    out = moment.isoformat()
    return out[:-6] + "Z" if out.endswith("+00:00") else out


def _time(text: str) -> str:
    try:
        parsed = time.fromisoformat(text)
    except ValueError:
        raise _Bad("enter a time, such as 14:30") from None
    if parsed.tzinfo is not None:
        raise _Bad("enter a time, such as 14:30")
    return text if len(text) > 5 else f"{text}:00"


# --- required items, for signing ----------------------------------------------------------------


def missing_required(
    questionnaire: dict[str, Any], answers: Mapping[str, Iterable[Any]]
) -> list[tuple[str, str]]:
    """(linkId, text) of each required item enableWhen asks for and no answer gives, in the
    order of the form. A required group counts as missing when nothing inside it is answered
    and none of its own required items already says so."""
    nodes = _tree(questionnaire.get("item"))
    given = {link for link, values in _wrapped(nodes, answers).items() if values}
    enabled = _enabled_now(nodes, _plain(_wrapped(nodes, answers)))
    missing: list[tuple[str, str]] = []

    def answered(node: _Node) -> bool:
        return node.link_id in given or any(
            answered(c) for c in node.children if c.link_id in enabled
        )

    def walk(level: list[_Node]) -> None:
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
                missing.append((node.link_id, _label(node.raw, node.link_id)))

    walk(nodes)
    return missing


# --- QuestionnaireResponse.item ------------------------------------------------------------------


def response_items(
    questionnaire: dict[str, Any], answers: Mapping[str, Iterable[Any]]
) -> list[dict[str, Any]]:
    """QuestionnaireResponse.item for these answers, nested in the Questionnaire's groups, each
    answer a value[x]. Items without an answer (and groups with none inside) are left out, and
    so are linkIds the Questionnaire does not have. Whether enableWhen asks for an item is not
    looked at here: `parse` has already dropped those answers, and the engine ignores them."""
    nodes = _tree(questionnaire.get("item"))
    wrapped = _wrapped(nodes, answers)

    def build(level: list[_Node]) -> list[dict[str, Any]]:
        out = []
        for node in level:
            children = build(node.children)
            values = wrapped.get(node.link_id, []) if node.answerable else []
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

"""A FHIR R4 Questionnaire drawn as an HTML form.

No database here: the section page, the amendment page and the tests all draw through
`form_fields(questionnaire, answers, prefix, errors)`: one `Field` per item, groups keeping their
children, with the current answers filled in, whether enableWhen enables the item now, and the
conditions as data for `static/assessments/enable-when.js`. What the form posts is read back by
careway/assessments/answers.py (`parse`).

Names in the form: `{prefix}-{linkId}`, where any character of the linkId other than a letter,
digit, `.`, `_` or `-` is written `~{hex}~`; so no two items share a name, and `:` (never in an
encoded linkId) joins the extra inputs of one item (`:other`, `:unit`) and the ids of its parts.
An answer option posts its token (`choices`): its code or value, or its position when two
options would post the same.
"""

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from . import engine
from .questionnaires import (
    ENTRY_FORMAT,
    HIDDEN,
    MAX_DECIMALS,
    MAX_VALUE,
    MIN_VALUE,
    VALUE_KEYS,
    VALUE_OF_TYPE,
    Node,
    all_nodes,
    bare,
    bound,
    coding_text,
    enabled_now,
    extension_value,
    item_control,
    label,
    max_length,
    number_text,
    plain,
    tree,
    units,
    wrapped,
)

OTHER = ":other"  # the posted value of open-choice's "Other" radio; never an option's token
INPUT_TYPES = {
    "integer": "number",
    "decimal": "number",
    "date": "date",
    "dateTime": "datetime-local",
    "time": "time",
    "string": "text",
    "url": "url",
}


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


# --- names ---------------------------------------------------------------------------------------


def _encode(link_id: str) -> str:
    return "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "._-") else f"~{ord(ch):x}~" for ch in link_id
    )


def field_name(prefix: str, link_id: str) -> str:
    """The HTML name of an item's input: `{prefix}-{linkId}`, safe for any linkId."""
    return f"{prefix}-{_encode(link_id)}"


# --- answer options and units, as the form posts them --------------------------------------------


@dataclass
class Choice:
    """One answer option: the token its radio button or checkbox posts, its label, and the
    option's value[x] as the Questionnaire writes it."""

    token: str
    label: str
    value_x: dict[str, Any]


def choices(raw: dict[str, Any]) -> list[Choice]:
    """The answer options with the token each posts: the code (or the value itself), or the
    option's position when two options would post the same."""
    found = []
    for option in raw.get("answerOption", []) or []:
        if not isinstance(option, dict):
            continue
        value_x = {k: v for k, v in option.items() if k in VALUE_KEYS}
        if not value_x:
            continue
        value = bare(value_x)
        if isinstance(value, dict):
            token, shown = str(value.get("code") or value.get("display") or ""), coding_text(value)
        else:
            token = shown = number_text(value)
        found.append(Choice(token, shown, value_x))
    tokens = [c.token for c in found]
    if len(set(tokens)) != len(tokens) or any(not t or t == OTHER for t in tokens):
        for index, choice in enumerate(found):
            choice.token = f"#{index}"
    return found


def unit_token(unit: dict[str, Any], index: int) -> str:
    """What a quantity's unit option posts: its code, else its display, else its position."""
    return str(unit.get("code") or unit.get("display") or f"#{index}")


def _same(value_x: dict[str, Any], choice: Choice) -> bool:
    mine, theirs = bare(value_x), bare(choice.value_x)
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
    nodes = tree(questionnaire.get("item"))
    given = wrapped(nodes, answers)
    context = _Context(
        prefix=prefix,
        answers=given,
        errors=dict(errors or {}),
        enabled=enabled_now(nodes, plain(given)),
        nodes={node.link_id: node for node in all_nodes(nodes)},
        posted=posted,
    )
    return [f for node in nodes if (f := _field(node, context)) is not None]


@dataclass
class _Context:
    prefix: str
    answers: dict[str, list[dict[str, Any]]]
    errors: dict[str, str]
    enabled: set[str]
    nodes: dict[str, Node]
    posted: Mapping[str, Any] | None


def _field(node: Node, context: _Context) -> Field | None:
    raw, link = node.raw, node.link_id
    if raw.get("type") == "display" and item_control(raw) == "help":
        return None  # shown as its question's help
    name = field_name(context.prefix, link)
    out = Field(
        link_id=link,
        text=label(raw, link),
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
        if child.type == "display" and item_control(child.raw) == "help"
    ]
    if entry_format := extension_value(raw, ENTRY_FORMAT):
        helps.append(f"Format: {entry_format}")
    values = context.answers.get(link, [])
    if node.answerable:
        helps += _fill(out, node, values)
        if out.error and context.posted is not None:
            _refill(out, context.posted)
    out.help = " ".join(h for h in helps if h)
    out.hidden = extension_value(raw, HIDDEN) is True
    if out.read_only and node.answerable:
        out.shown = _shown(out, values)
    out.children = [f for child in node.children if (f := _field(child, context)) is not None]
    return out


def _fill(out: Field, node: Node, values: list[dict[str, Any]]) -> list[str]:
    """Set the widget and its current values; return help lines."""
    raw = node.raw
    kind = node.type
    helps: list[str] = []
    if kind == "boolean":
        out.widget = "radio"
        out.options = [
            Option("true", "Yes", any(bare(v) is True for v in values), f"{out.id}:0"),
            Option("false", "No", any(bare(v) is False for v in values), f"{out.id}:1"),
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
        out.values = [str(bare(v)) for v in values if "valueString" in v]
        out.max_length = max_length(raw)
        _entries(out, blank=out.repeats)
        return helps + _unshown(values, len(out.values))
    if kind == "string" and out.repeats:
        out.widget = "lines"
        out.values = [str(bare(v)) for v in values if "valueString" in v]
        out.max_length = None  # counted per line when parsed
        if length := max_length(raw):
            helps.append(f"At most {length} characters a line.")
        return helps + _unshown(values, len(out.values))
    if kind not in INPUT_TYPES:
        out.widget = "unsupported"
        out.shown = _shown(out, values)
        return [f"Answers of the kind '{kind}' cannot be entered on this form."]
    out.input_type = INPUT_TYPES[kind]
    wanted = VALUE_OF_TYPE[kind]
    shown = [_input_text(kind, bare(v)) for v in values if wanted in v]
    out.values = [s for s in shown if s]
    helps += _unshown(values, len(out.values))
    if kind in ("integer", "decimal"):
        helps += _numeric(out, raw, kind)
    else:
        out.min = _input_text(kind, bound(raw, MIN_VALUE))
        out.max = _input_text(kind, bound(raw, MAX_VALUE))
        out.max_length = max_length(raw) if kind in ("string", "url") else None
    _entries(out, blank=out.repeats)
    return helps


def _numeric(out: Field, raw: dict[str, Any], kind: str) -> list[str]:
    out.inputmode = "numeric" if kind == "integer" else "decimal"
    places = extension_value(raw, MAX_DECIMALS)
    if kind == "integer":
        out.step = "1"
    elif isinstance(places, int) and not isinstance(places, bool) and places >= 0:
        out.step = number_text(Decimal(1).scaleb(-places))
    else:
        out.step = "any"
    out.unit, _ = units(raw)
    low, high = bound(raw, MIN_VALUE), bound(raw, MAX_VALUE)
    out.min = number_text(low) if low is not None else ""
    out.max = number_text(high) if high is not None else ""
    if out.min and out.max:
        return [f"From {out.min} to {out.max}{' ' + out.unit if out.unit else ''}."]
    return []


def _fill_choice(out: Field, node: Node, values: list[dict[str, Any]]) -> list[str]:
    options = choices(node.raw)
    out.widget = "checkbox" if out.repeats else "radio"
    out.options = [
        Option(c.token, c.label, any(_same(v, c) for v in values), f"{out.id}:{i}")
        for i, c in enumerate(options)
    ]
    unknown = [v for v in values if not any(_same(v, c) for c in options)]
    if node.type == "open-choice":
        written = [str(bare(v)) for v in unknown if "valueString" in v]
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
    out.unit, offered = units(raw)
    quantities = [bare(v) for v in values if "valueQuantity" in v and isinstance(bare(v), dict)]
    current = quantities[0] if quantities else {}
    out.unit_options = [
        Option(unit_token(u, i), coding_text(u), _unit_matches(current, u), f"{out.id}:unit{i}")
        for i, u in enumerate(offered)
    ]
    out.unit_free = not offered and not out.unit
    out.unit_value = str(current.get("unit") or current.get("code") or "") if out.unit_free else ""
    number = current.get("value")
    ok = isinstance(number, int | float) and not isinstance(number, bool)
    out.values = [number_text(number)] if ok else []
    low, high = bound(raw, MIN_VALUE), bound(raw, MAX_VALUE)
    out.min = number_text(low) if low is not None else ""
    out.max = number_text(high) if high is not None else ""
    _entries(out)
    return _unshown(values, len(out.values))


def _unit_matches(quantity: dict[str, Any], unit: dict[str, Any]) -> bool:
    if not quantity:
        return False
    if quantity.get("code") and unit.get("code"):
        return bool(quantity.get("code") == unit.get("code"))
    return bool(quantity.get("unit")) and quantity.get("unit") == coding_text(unit)


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
    typed = [t for t in posted_texts(posted, out.name) if t.strip()]
    if out.widget == "lines":
        out.values = split_lines(typed)
    elif out.widget in ("input", "textarea", "quantity"):
        out.values = typed if out.repeats else typed[:1]
        _entries(out, blank=out.repeats)
        if out.unit_free:
            out.unit_value = next(iter(posted_texts(posted, out.unit_name)), "")
    if out.type == "open-choice":
        out.other = "\n".join(posted_texts(posted, out.other_name))


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
    value = bare(value_x)
    if isinstance(value, dict):
        if "value" in value:
            return f"{number_text(value.get('value'))} {value.get('unit') or ''}".strip()
        return coding_text(value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return number_text(value)


def _shown(out: Field, values: list[dict[str, Any]]) -> str:
    if out.options:
        words = [o.label for o in out.options if o.checked] + ([out.other] if out.other else [])
    else:
        words = [_text_of(v) for v in values]
    if out.unit and words:
        words = [f"{w} {out.unit}" for w in words]
    return "; ".join(words) or "Not answered"


def _input_text(kind: str, value: Any) -> str:
    """An answer as its input shows it ("" when the input cannot hold it)."""
    if value is None or isinstance(value, bool | dict | list):
        return ""
    if kind == "integer":
        return str(value) if isinstance(value, int) else ""
    if kind == "decimal":
        return number_text(value) if isinstance(value, int | float | Decimal) else ""
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


def _conditions(node: Node, context: _Context) -> tuple[str, str]:
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
            label(question.raw, question.link_id) if question else str(condition.get("question"))
        )
        words.append(_in_words(asked, operator, shown, expected))
    joiner = " or " if node.rule.enable_behavior == "any" else " and "
    data = {"behavior": node.rule.enable_behavior, "conditions": rules}
    return json.dumps(data, separators=(",", ":")), "Asked when " + joiner.join(words) + "."


def _expected(question: Node | None, key: str, expected: Any) -> tuple[str, str, Any]:
    """How the page compares the answer: (the expected answer in words, kind, posted value)."""
    if key == "answerBoolean":
        return ("Yes" if expected else "No"), "token", "true" if expected else "false"
    if key == "answerCoding" and isinstance(expected, dict):
        for choice in choices(question.raw) if question else []:
            # The engine's comparison, so the page enables what scoring counts.
            if engine._compare(bare(choice.value_x), "=", expected):
                return choice.label, "token", choice.token
        return coding_text(expected), "token", str(expected.get("code") or "")
    if key in ("answerInteger", "answerDecimal"):
        return number_text(expected), "number", expected
    if key == "answerQuantity" and isinstance(expected, dict):
        return _text_of({"valueQuantity": expected}), "number", expected.get("value")
    if question and question.type in ("choice", "open-choice") and key in (
        "answerString", "answerDate", "answerInteger",
    ):  # fmt: skip
        for choice in choices(question.raw):
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


# --- what a browser posts ------------------------------------------------------------------------


def posted_texts(post: Mapping[str, Any], name: str) -> list[str]:
    """The texts posted under `name`, from a request's POST or a plain dict."""
    if hasattr(post, "getlist"):
        return [str(v) for v in post.getlist(name)]
    value = post.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def split_lines(typed: list[str]) -> list[str]:
    """The lines of what was typed, stripped, blank ones left out: one answer a line."""
    return [line.strip() for text in typed for line in text.split("\n") if line.strip()]

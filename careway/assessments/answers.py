"""Answers to a FHIR R4 Questionnaire: the one check that they fit it, and the posted form read
back into answers. No database here.

The check, whichever way the answers came (the assessment page, the JSON API, a FHIR
QuestionnaireResponse): every answer is to a question of the Questionnaire, of the question's
type, one only unless it repeats, for a choice one of its options (an open choice may be text),
none to a group or display item, and its text one a database can store; with `completed`, every
required question enableWhen asks is answered. `AnswersRefused` names the element at fault and
an OperationOutcome issue type. The answers that pass come back as QuestionnaireResponse.item in
the Questionnaire's shape (its groups, its options as it writes them), so an answer reads the
same whichever way it came.

- `check_items(questionnaire, items, path, completed=)`: QuestionnaireResponse.item as a client
  sends it; a refusal names the element by its path as given (`items[2].answer[0]`).
- `check_answers(questionnaire, answers)`: answers as the page reads them (`{linkId: [value[x],
  ...]}`); a refusal names the question (`item.where(linkId='9').answer[0]`).
- `parse(questionnaire, post, prefix)`: the posted form (careway/assessments/form.py) as answers
  and one message per item that could not be read: what was typed is read (a whole number, a
  date, within minValue and maxValue, at most maxLength characters), then checked as any answers
  are. An error never costs the other answers; an answer to an item enableWhen disables is
  dropped. Required items are not errors here (a visit is saved as it goes): `missing_required`
  (careway/assessments/questionnaires.py) says what is still missing when the assessment is
  signed.
"""

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from .form import INPUT_TYPES, OTHER, choices, field_name, posted_texts, split_lines, unit_token
from .questionnaires import (
    MAX_DECIMALS,
    MAX_VALUE,
    MIN_VALUE,
    UNIT,
    Node,
    all_nodes,
    bound,
    coding_text,
    enabled_now,
    extension_value,
    max_length,
    missing_required,
    number_text,
    plain,
    response_items,
    tree,
    units,
)

ANSWER_KEYS = {
    "boolean": ("valueBoolean",),
    "decimal": ("valueDecimal",),
    "integer": ("valueInteger",),
    "date": ("valueDate",),
    "dateTime": ("valueDateTime",),
    "time": ("valueTime",),
    "string": ("valueString",),
    "text": ("valueString",),
    "url": ("valueUri",),
    "quantity": ("valueQuantity",),
    "attachment": ("valueAttachment",),
    "reference": ("valueReference",),
}
DATE = re.compile(r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?")
TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?")
INTEGER = re.compile(r"[+-]?\d+")
INT32 = (-(2**31), 2**31 - 1)  # FHIR integer is 32-bit


class AnswersRefused(ValueError):
    """Answers that do not fit their Questionnaire: `path` names the element at fault, `reason`
    says why, `code` is the OperationOutcome issue type (structure, value, code-invalid,
    required)."""

    def __init__(self, path: str, reason: str, code: str = "value"):
        self.path, self.reason, self.code = path, reason, code
        super().__init__(f"{path}: {reason}")


# --- answers against their Questionnaire ---------------------------------------------------------


def check_items(
    questionnaire: dict[str, Any], items: Any, path: str, *, completed: bool = False
) -> list[dict[str, Any]]:
    """QuestionnaireResponse.item (`items`, found at `path`) checked against the Questionnaire
    and rebuilt in its shape. AnswersRefused names the first element at fault by its path as
    given (e.g. `QuestionnaireResponse.item[2].answer[0]`)."""
    questions = _questions(questionnaire)
    if not isinstance(items, list):
        raise AnswersRefused(path, "must be a list of items", "structure")
    answers: dict[str, list[dict[str, Any]]] = {}
    for where, link_id, values in _answered(items, path, questions, _title(questionnaire)):
        answers.setdefault(link_id, []).extend(values)
        _check_count(questions[link_id], answers[link_id], where)
    if completed:
        _check_required(questionnaire, answers, path)
    return response_items(questionnaire, answers)


def check_answers(
    questionnaire: dict[str, Any], answers: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Answers as the page reads them (linkId -> [value[x], ...]) checked against the
    Questionnaire, as QuestionnaireResponse.item in its shape. AnswersRefused names the question
    at fault by its linkId: `item.where(linkId='9')`, and below it the answer."""
    questions = _questions(questionnaire)
    checked: dict[str, list[dict[str, Any]]] = {}
    for link_id, given in answers.items():
        where = _where(str(link_id))
        question = questions.get(str(link_id))
        if question is None:
            raise AnswersRefused(
                where, f"{link_id!r} is not an item of {_title(questionnaire)}", "value"
            )
        if not isinstance(given, list | tuple):
            raise AnswersRefused(f"{where}.answer", "must be a list of answers", "structure")
        checked[str(link_id)] = _checked(question, given, where)
    return response_items(questionnaire, checked)


def _questions(questionnaire: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(q.get("linkId")): q for q in _all_questions(questionnaire.get("item"))}


def _all_questions(items: Any) -> Iterator[dict[str, Any]]:
    for item in items or []:
        if isinstance(item, dict):
            yield item
            yield from _all_questions(item.get("item"))


def _title(questionnaire: dict[str, Any]) -> str:
    return str(questionnaire.get("title") or questionnaire.get("url") or "the Questionnaire")


def _where(link_id: str, path: str = "item") -> str:
    """The item of a linkId, in FHIRPath: for answers that come without a place of their own."""
    return f"{path}.where(linkId='{link_id}')"


def _named(question: dict[str, Any]) -> str:
    text = " ".join(str(question.get("text") or "").split())
    shown = text if len(text) <= 80 else text[:79].rstrip() + "\u2026"
    return f"question {question.get('linkId')}" + (f" ({shown})" if shown else "")


def _check_count(question: dict[str, Any], values: list[dict[str, Any]], where: str) -> None:
    if len(values) > 1 and not question.get("repeats"):
        raise AnswersRefused(where, f"{_named(question)}: give one answer only", "value")


def _check_required(
    questionnaire: dict[str, Any], answers: dict[str, list[dict[str, Any]]], path: str
) -> None:
    missing = missing_required(questionnaire, answers)
    if missing:
        link_id, text = missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise AnswersRefused(
            _where(link_id, path), f"required, and not answered: {text}{more}", "required"
        )


def _checked(question: dict[str, Any], given: Any, where: str) -> list[dict[str, Any]]:
    """Each answer given to one question (the item at `where`), checked, as its value[x]."""
    values = [_answer(question, answer, f"{where}.answer[{n}]") for n, answer in enumerate(given)]
    _check_count(question, values, where)
    return values


def _answered(
    items: list[Any], path: str, questions: dict[str, dict[str, Any]], title: str
) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """(path, linkId, value[x] dicts) of every answered item, nested ones included."""
    for index, raw in enumerate(items):
        here = f"{path}[{index}]"
        if not isinstance(raw, dict):
            raise AnswersRefused(here, "must be an object", "structure")
        link_id = raw.get("linkId")
        if not isinstance(link_id, str) or not link_id:
            raise AnswersRefused(
                f"{here}.linkId", "missing: which question is answered?", "required"
            )
        question = questions.get(link_id)
        if question is None:
            raise AnswersRefused(
                f"{here}.linkId", f"{link_id!r} is not an item of {title}", "value"
            )
        answers = raw.get("answer")
        if answers is not None:
            if not isinstance(answers, list):
                raise AnswersRefused(f"{here}.answer", "must be a list of answers", "structure")
            values = []
            for number, answer in enumerate(answers):
                at = f"{here}.answer[{number}]"
                values.append(_answer(question, answer, at))
                if isinstance(answer, dict) and answer.get("item") is not None:
                    nested = answer["item"]
                    if not isinstance(nested, list):
                        raise AnswersRefused(f"{at}.item", "must be a list of items", "structure")
                    yield from _answered(nested, f"{at}.item", questions, title)
            if values:
                yield here, link_id, values
        children = raw.get("item")
        if children is not None:
            if not isinstance(children, list):
                raise AnswersRefused(f"{here}.item", "must be a list of items", "structure")
            yield from _answered(children, f"{here}.item", questions, title)


def _answer(question: dict[str, Any], answer: Any, at: str) -> dict[str, Any]:
    """The answer's value[x], checked against the question (and, for a choice, the option it
    is, as the Questionnaire writes it)."""
    if not isinstance(answer, dict):
        raise AnswersRefused(at, "must be an object", "structure")
    keys = [k for k in answer if k.startswith("value")]
    if len(keys) != 1:
        raise AnswersRefused(at, "give exactly one value[x]", "structure")
    key = keys[0]
    value = answer[key]
    kind = str(question.get("type") or "")
    here = f"{at}.{key}"
    _check_storable(value, here)
    if kind in ("group", "display"):
        raise AnswersRefused(at, f"{_named(question)} is a {kind}: it takes no answer", "value")
    if kind in ("choice", "open-choice"):
        return _choice(question, key, value, here, open_choice=kind == "open-choice")
    expected = ANSWER_KEYS.get(kind)
    if expected is None:
        raise AnswersRefused(here, f"{_named(question)} has a type Careway cannot check", "value")
    if key not in expected:
        raise AnswersRefused(
            here, f"{_named(question)} is a {kind} question: answer it with {expected[0]}", "value"
        )
    _check_value(key, value, here)
    options = _options(question)
    if options:  # an integer, date, time or string question may list its answers too
        return _one_of(question, options, key, value, here)
    broken = limit_broken(question, key, value)
    if broken:
        raise AnswersRefused(here, f"{_named(question)}: {broken}", "value")
    return {key: value}


def limit_broken(question: dict[str, Any], key: str, value: Any) -> str:
    """What an answer of the right type breaks of its question's own limits (minValue, maxValue,
    maxDecimalPlaces, maxLength), in words; "" when it keeps them. The form reader and the JSON
    check both ask here, so an answer refused on the page is refused from any other caller."""
    if key in ("valueInteger", "valueDecimal"):
        number = Decimal(str(value))
        return _out_of_range(question, number) or (
            _too_many_places(question, number) if key == "valueDecimal" else ""
        )
    if key == "valueQuantity":
        return _out_of_range(question, Decimal(str(value["value"])))
    if key == "valueDate":
        return _date_out_of_range(question, value)
    if key in ("valueString", "valueUri"):
        return _too_long(question, value)
    return ""


def _choice(
    question: dict[str, Any], key: str, value: Any, here: str, *, open_choice: bool
) -> dict[str, Any]:
    options = _options(question)
    if open_choice and key == "valueString":
        _check_value(key, value, here)
        return {key: value}
    if not options:
        # Answers from a value set Careway does not expand: any coding is taken as given.
        if key != "valueCoding":
            raise AnswersRefused(here, f"{_named(question)}: answer with a valueCoding", "value")
        _check_value(key, value, here)
        return {key: value}
    kinds = list(dict.fromkeys(k for option in options for k in option))
    if key not in kinds:
        raise AnswersRefused(
            here,
            f"{_named(question)}: answer with {' or '.join(kinds)}, one of its options",
            "value",
        )
    _check_value(key, value, here)
    return _one_of(question, options, key, value, here)


def _options(question: dict[str, Any]) -> list[dict[str, Any]]:
    """The question's answerOption values, each as its value[x]."""
    return [
        {k: v for k, v in option.items() if k.startswith("value")}
        for option in question.get("answerOption") or []
        if isinstance(option, dict)
    ]


def _one_of(
    question: dict[str, Any], options: list[dict[str, Any]], key: str, value: Any, here: str
) -> dict[str, Any]:
    """The option the answer is, as the Questionnaire writes it; refused when it is none."""
    for option in options:
        if key in option and _same_option(key, value, option[key]):
            return dict(option)
    shown = ", ".join(_option_words(o) for o in options[:12])
    raise AnswersRefused(
        here, f"{_named(question)}: not one of its answers ({shown})", "code-invalid"
    )


def _same_option(key: str, given: Any, option: Any) -> bool:
    if key != "valueCoding":
        return bool(given == option and type(given) is type(option))
    if not isinstance(given, dict) or not isinstance(option, dict):
        return False
    if given.get("code") is None and option.get("code") is None:
        return bool(given.get("display")) and given.get("display") == option.get("display")
    systems = (given.get("system"), option.get("system"))
    same_system = systems[0] == systems[1] or None in systems
    return same_system and given.get("code") == option.get("code")


def _option_words(option: dict[str, Any]) -> str:
    value = next(iter(option.values()), "")
    if isinstance(value, dict):
        return str(value.get("code") or value.get("display") or "")
    return str(value)


def _check_value(key: str, value: Any, here: str) -> None:
    """The value is of the JSON type its value[x] needs, and within what FHIR allows."""
    ok = True
    if key == "valueBoolean":
        ok = isinstance(value, bool)
    elif key == "valueInteger":
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok and INT32[0] <= value <= INT32[1]
    elif key == "valueDecimal":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value)
    elif key in ("valueString", "valueUri"):
        ok = isinstance(value, str) and bool(value.strip())
    elif key == "valueDate":
        ok = isinstance(value, str) and _date_ok(value)
    elif key == "valueDateTime":
        ok = isinstance(value, str) and _datetime_ok(value)
    elif key == "valueTime":
        ok = isinstance(value, str) and bool(TIME.fullmatch(value)) and _time_ok(value)
    elif key in ("valueCoding", "valueAttachment", "valueReference"):
        ok = isinstance(value, dict) and bool(value)
        if ok and key == "valueCoding":
            ok = isinstance(value.get("code", ""), str) and isinstance(value.get("system", ""), str)
    elif key == "valueQuantity":
        number = value.get("value") if isinstance(value, dict) else None
        ok = isinstance(number, int | float) and not isinstance(number, bool)
        ok = ok and math.isfinite(number)  # type: ignore[arg-type]
    else:
        ok = False
    if not ok:
        raise AnswersRefused(here, f"not a valid {key}", "value")


def _check_storable(value: Any, here: str) -> None:
    """Text no database column can hold (NUL, unpaired surrogates) is refused, naming where."""
    if isinstance(value, str):
        if "\x00" in value:
            raise AnswersRefused(here, "contains a NUL character", "value")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise AnswersRefused(here, "is not valid Unicode text", "value") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key, here)
            _check_storable(item, f"{here}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{here}[{index}]")


def _date_ok(text: str) -> bool:
    if not DATE.fullmatch(text):
        return False
    if len(text) == 10:
        try:
            date.fromisoformat(text)
        except ValueError:
            return False
    return True


def _datetime_ok(text: str) -> bool:
    if len(text) <= 10:
        return _date_ok(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return moment.tzinfo is not None


def _time_ok(text: str) -> bool:
    try:
        time.fromisoformat(text)
    except ValueError:
        return False
    return True


# --- reading the posted form ---------------------------------------------------------------------


@dataclass
class Parsed:
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


class _Bad(ValueError):
    """One item's input could not be read: the message says what to enter."""


def parse(questionnaire: dict[str, Any], post: Mapping[str, Any], prefix: str) -> Parsed:
    """The answers a posted form gives, and what could not be read (linkId -> a message that
    names the question). Blank inputs are no answer; an answer to an item enableWhen disables is
    dropped (unless it hangs on an answer with an error: then it is kept, not lost)."""
    nodes = tree(questionnaire.get("item"))
    answers: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    for node in all_nodes(nodes):
        if not node.answerable:
            continue
        try:
            values = _posted_answers(node, post, prefix)
        except _Bad as bad:
            errors[node.link_id] = f"{_question(node.raw, node.link_id)}: {bad}"
            continue
        if values:
            answers[node.link_id] = values
    enabled = enabled_now(nodes, plain(answers)) | _hanging_on(nodes, set(errors))
    return Parsed(
        answers={link: v for link, v in answers.items() if link in enabled},
        errors={link: message for link, message in errors.items() if link in enabled},
    )


def _posted_answers(node: Node, post: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """What was typed for the item, read, then checked as any answers are (_Bad if either
    fails)."""
    values = _read(node, post, field_name(prefix, node.link_id))
    try:
        return _checked(node.raw, values, _where(node.link_id))
    except AnswersRefused as refused:
        raise _Bad(refused.reason) from None


def _question(raw: dict[str, Any], link_id: str) -> str:
    """The question as an error message names it."""
    text = " ".join(str(raw.get("text") or link_id).split())
    return text if len(text) <= 100 else text[:99].rstrip() + "…"


def _hanging_on(nodes: list[Node], doubtful: set[str]) -> set[str]:
    """Items whose enableWhen depends, directly or not, on an answer that could not be read."""
    found: set[str] = set()
    while more := set(_depending_on(nodes, doubtful | found, False)) - found:
        found |= more
    return found


def _depending_on(nodes: list[Node], links: set[str], parent: bool) -> Iterator[str]:
    for node in nodes:
        here = parent or bool({str(c.get("question")) for c in node.rule.enable_when} & links)
        if here:
            yield node.link_id
        yield from _depending_on(node.children, links, here)


def _read(node: Node, post: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    raw, kind = node.raw, node.type
    repeats = bool(raw.get("repeats"))
    typed = [t.replace("\r\n", "\n").replace("\r", "\n").strip() for t in posted_texts(post, name)]
    if (
        kind in ("choice", "open-choice")
        and raw.get("answerValueSet")
        and not raw.get("answerOption")
    ):
        texts = split_lines(typed) if repeats else [t for t in typed if t]
        _one_only(texts, repeats)
        key = "valueString" if kind == "open-choice" else "valueCoding"
        return [{key: t if key == "valueString" else {"display": t}} for t in texts]
    if kind == "boolean":
        return _read_boolean(typed)
    if kind in ("choice", "open-choice"):
        return _read_choice(node, typed, posted_texts(post, f"{name}{OTHER}"), repeats)
    if kind == "quantity":
        return _read_quantity(raw, typed, posted_texts(post, f"{name}:unit"))
    if kind == "string" and repeats:
        texts = split_lines(typed)
    elif kind in INPUT_TYPES or kind == "text":
        texts = [t for t in typed if t]
    else:
        return []
    _one_only(texts, repeats)
    return [_read_one(raw, kind, text) for text in texts]


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
    node: Node, typed: list[str], other: list[str], repeats: bool
) -> list[dict[str, Any]]:
    options = {c.token: c for c in choices(node.raw)}
    picked = [t for t in typed if t]
    written = (
        split_lines([o.strip() for o in other])
        if repeats
        else [o.strip() for o in other if o.strip()]
    )
    is_open = node.type == "open-choice"
    if not repeats and is_open:
        coded = [t for t in picked if t != OTHER]
        # A picked option wins over words left in the "other" box; the box counts when "Other"
        # is picked or nothing is.
        picked, written = (coded, []) if coded else ([], written)
    unknown = [t for t in picked if t not in options and not (is_open and t == OTHER)]
    if unknown:
        raise _Bad("choose one of the answers given")
    values = [dict(options[t].value_x) for t in dict.fromkeys(picked) if t in options]
    if written and not is_open:
        raise _Bad("choose one of the answers given")
    values += [{"valueString": w} for w in dict.fromkeys(written)]
    if len(values) > 1 and not repeats:
        raise _Bad("choose one answer only")
    for value in values:
        if "valueString" in value:
            _check_length(node.raw, value["valueString"])
    return values


def _read_quantity(
    raw: dict[str, Any], typed: list[str], unit_texts: list[str]
) -> list[dict[str, Any]]:
    given = [t for t in typed if t]
    _one_only(given, False)
    if not given:
        return []
    number = _decimal(given[0])
    _check_range(raw, number)
    shown, options = units(raw)
    unit_text = next((u.strip() for u in unit_texts if u.strip()), "")
    quantity: dict[str, Any] = {"value": float(number)}
    if options:
        chosen = next((u for i, u in enumerate(options) if unit_token(u, i) == unit_text), None)
        if chosen is None:
            raise _Bad("choose the unit")
        quantity |= _quantity_unit(chosen)
    elif shown:
        unit = extension_value(raw, UNIT)
        quantity |= _quantity_unit(unit) if isinstance(unit, dict) else {"unit": shown}
    elif unit_text:
        quantity["unit"] = unit_text
    return [{"valueQuantity": quantity}]


def _quantity_unit(coding: dict[str, Any]) -> dict[str, Any]:
    out = {"unit": coding_text(coding)}
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
        broken = _out_of_range(raw, number) or _too_many_places(raw, number)
        if broken:
            raise _Bad(broken)
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
    if not INT32[0] <= number <= INT32[1]:
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
    broken = _out_of_range(raw, number)
    if broken:
        raise _Bad(broken)


def _out_of_range(raw: dict[str, Any], number: Decimal) -> str:
    low, high = bound(raw, MIN_VALUE), bound(raw, MAX_VALUE)
    low = Decimal(str(low)) if isinstance(low, int | float) else None
    high = Decimal(str(high)) if isinstance(high, int | float) else None
    unit = units(raw)[0]
    if (low is not None and number < low) or (high is not None and number > high):
        if low is not None and high is not None:
            span = f"from {number_text(low)} to {number_text(high)}"
        elif low is not None:
            span = f"of {number_text(low)} or more"
        else:
            span = f"of {number_text(high)} or less"
        return f"enter a number {span}{' ' + unit if unit else ''}"
    return ""


def _too_many_places(raw: dict[str, Any], number: Decimal) -> str:
    places = extension_value(raw, MAX_DECIMALS)
    exponent = number.as_tuple().exponent
    if isinstance(places, int) and isinstance(exponent, int) and -exponent > places > -1:
        return f"use at most {places} decimal place{'s' if places != 1 else ''}"
    return ""


def _check_length(raw: dict[str, Any], text: str) -> None:
    broken = _too_long(raw, text)
    if broken:
        raise _Bad(broken)


def _too_long(raw: dict[str, Any], text: str) -> str:
    length = max_length(raw)
    if length is not None and len(text) > length:
        return f"write at most {length} characters (this has {len(text)})"
    return ""


def _date_out_of_range(raw: dict[str, Any], text: str) -> str:
    low, high = bound(raw, MIN_VALUE), bound(raw, MAX_VALUE)
    if isinstance(low, str) and text < low:
        return f"enter a date on or after {low}"
    if isinstance(high, str) and text > high:
        return f"enter a date on or before {high}"
    return ""


def _date(raw: dict[str, Any], text: str) -> str:
    if not _date_ok(text):
        raise _Bad("enter a date, such as 2025-03-31")
    broken = _date_out_of_range(raw, text)
    if broken:
        raise _Bad(broken)
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

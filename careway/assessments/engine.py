"""One scoring engine for every instrument: a FHIR R4 Questionnaire in, scores out.

No Django here: the engine reads plain dicts (a Questionnaire and a QuestionnaireResponse) so it
scores the same in a page, an import, the command line and a benchmark.

How a Questionnaire says how it is scored (standard FHIR first, Careway's own where FHIR has none):
- Each answer's points: the `ordinalValue` extension on `answerOption.valueCoding` (R4), or
  `itemWeight` (SDC), or a numeric answer's own value (integer, decimal: a timed measure).
  Reverse-scored items simply give their options reversed points.
- Scores: one `urn:careway:fhir:StructureDefinition:score` extension per score on the
  Questionnaire, with sub-extensions `key` (valueString), `label`, `method` (valueCode: `sum` or
  `mean`), `item` (valueString, repeated: the linkIds it adds up), optional `code` (valueCoding,
  for example LOINC's code of the total), optional `maxMissing` (valueInteger: answers that may be
  missing before the score cannot be given; default 0), and `band` sub-extensions with `min` and
  `max` (valueDecimal, inclusive), `label`, optional `meaning` and `flag` (valueCode: a finding
  to raise on the chart, e.g. moderate-depression).
- Alerts: `urn:careway:fhir:StructureDefinition:alert` extensions with `item`, `above`
  (valueDecimal: raise when the item's points are above it), `label` and `severity` (valueCode).
  An alert is raised whatever the totals (PHQ-9 item 9).
- Conditional items: standard `enableWhen` and `enableBehavior`. An item that is not enabled is
  neither required nor counted.

Where a response cannot be scored (an answer with no points, too many items unanswered) the
score says why instead of guessing.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
CAREWAY = "urn:careway:fhir:StructureDefinition:"
SCORE = CAREWAY + "score"
ALERT = CAREWAY + "alert"
NUMERIC = {"integer", "decimal"}


class InstrumentError(Exception):
    """The Questionnaire cannot be used for scoring: `where` names the element."""

    def __init__(self, where: str, reason: str):
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    label: str
    meaning: str = ""
    flag: str = ""

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class ScoreRule:
    key: str
    label: str
    method: str
    items: tuple[str, ...]
    bands: tuple[Band, ...] = ()
    code: dict[str, str] | None = None
    max_missing: int = 0


@dataclass(frozen=True)
class AlertRule:
    item: str
    above: float
    label: str
    severity: str


@dataclass(frozen=True)
class Item:
    link_id: str
    text: str
    type: str
    required: bool
    points: dict[str, float]  # option code (or display) -> points
    enable_when: tuple[dict[str, Any], ...]
    enable_behavior: str


@dataclass
class Instrument:
    url: str
    title: str
    items: dict[str, Item]
    scores: tuple[ScoreRule, ...]
    alerts: tuple[AlertRule, ...]
    scorable: bool = True
    why_not: str = ""


@dataclass
class Score:
    key: str
    label: str
    value: float | None
    minimum: float | None = None
    maximum: float | None = None
    band: Band | None = None
    code: dict[str, str] | None = None
    why_not: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "label": self.label, "value": self.value}
        if self.value is None:
            out["why_not"] = self.why_not
        else:
            out["range"] = [self.minimum, self.maximum]
        if self.band:
            out["band"] = {"label": self.band.label, "meaning": self.band.meaning}
            if self.band.flag:
                out["band"]["flag"] = self.band.flag
        if self.code:
            out["code"] = self.code
        return out


@dataclass
class Alert:
    item: str
    label: str
    severity: str


@dataclass
class Result:
    scores: dict[str, Score] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    why_not: str = ""

    @property
    def flags(self) -> list[str]:
        return [s.band.flag for s in self.scores.values() if s.band and s.band.flag]

    def as_dict(self) -> dict[str, Any]:
        if self.why_not:
            return {"scored": False, "why_not": self.why_not}
        return {
            "scored": True,
            "scores": [s.as_dict() for s in self.scores.values()],
            "alerts": [a.__dict__ for a in self.alerts],
            "flags": self.flags,
            "unanswered": self.unanswered,
        }


# --- reading a Questionnaire ---------------------------------------------------------------------


def load(questionnaire: dict[str, Any]) -> Instrument:
    """The instrument a Questionnaire describes; InstrumentError naming the element when it is
    not one. A Questionnaire without scoring rules loads too, and says it cannot be scored."""
    if not isinstance(questionnaire, dict) or questionnaire.get("resourceType") != "Questionnaire":
        raise InstrumentError("resourceType", "this is not a FHIR Questionnaire")
    items: dict[str, Item] = {}
    for path, raw in _walk(questionnaire.get("item", []), "Questionnaire.item"):
        item = _item(raw, path)
        if item.link_id in items:
            raise InstrumentError(f"{path}.linkId", f"'{item.link_id}' is used twice")
        items[item.link_id] = item
    scores = tuple(
        _score_rule(ext, f"Questionnaire.extension[{i}]", items)
        for i, ext in enumerate(questionnaire.get("extension", []))
        if isinstance(ext, dict) and ext.get("url") == SCORE
    )
    alerts = tuple(
        _alert_rule(ext, f"Questionnaire.extension[{i}]", items)
        for i, ext in enumerate(questionnaire.get("extension", []))
        if isinstance(ext, dict) and ext.get("url") == ALERT
    )
    instrument = Instrument(
        url=str(questionnaire.get("url", "")),
        title=str(questionnaire.get("title") or questionnaire.get("name") or ""),
        items=items,
        scores=scores,
        alerts=alerts,
    )
    if not scores:
        instrument.scorable = False
        instrument.why_not = (
            "the Questionnaire defines no score: it has no scoring rules, and "
            "Careway does not guess how its answers add up"
        )
    return instrument


def _walk(items: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(items, list):
        raise InstrumentError(path, "must be a list of items")
    for index, raw in enumerate(items):
        here = f"{path}[{index}]"
        if not isinstance(raw, dict):
            raise InstrumentError(here, "must be an object")
        if raw.get("type") != "group" and raw.get("type") != "display":
            yield here, raw
        yield from _walk(raw.get("item", []), f"{here}.item")


def _item(raw: dict[str, Any], path: str) -> Item:
    link_id = raw.get("linkId")
    if not isinstance(link_id, str) or not link_id:
        raise InstrumentError(f"{path}.linkId", "missing")
    points: dict[str, float] = {}
    for index, option in enumerate(raw.get("answerOption", []) or []):
        coding = option.get("valueCoding") if isinstance(option, dict) else None
        if isinstance(coding, dict):
            weight = _points_of(coding) if _points_of(coding) is not None else _points_of(option)
            if weight is not None:
                points[str(coding.get("code") or coding.get("display"))] = weight
        elif isinstance(option, dict) and "valueInteger" in option:
            points[str(option["valueInteger"])] = float(option["valueInteger"])
        elif not isinstance(option, dict):
            raise InstrumentError(f"{path}.answerOption[{index}]", "must be an object")
    return Item(
        link_id=link_id,
        text=str(raw.get("text", "")),
        type=str(raw.get("type", "")),
        required=bool(raw.get("required", False)),
        points=points,
        enable_when=tuple(raw.get("enableWhen", []) or []),
        enable_behavior=str(raw.get("enableBehavior", "all")),
    )


def _points_of(element: dict[str, Any]) -> float | None:
    for ext in element.get("extension", []) or []:
        if isinstance(ext, dict) and ext.get("url") in (ORDINAL, ITEM_WEIGHT):
            value = ext.get("valueDecimal", ext.get("valueInteger"))
            if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
                return float(value)
    return None


def _parts(ext: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in ext.get("extension", []) or [] if isinstance(e, dict)]


def _one(ext: dict[str, Any], url: str, kind: str, path: str, required: bool = True) -> Any:
    for part in _parts(ext):
        if part.get("url") == url:
            return part.get(kind)
    if required:
        raise InstrumentError(f"{path}.extension('{url}')", "missing")
    return None


def _score_rule(ext: dict[str, Any], path: str, items: dict[str, Item]) -> ScoreRule:
    key = _one(ext, "key", "valueString", path)
    method = _one(ext, "method", "valueCode", path, required=False) or "sum"
    if method not in ("sum", "mean"):
        raise InstrumentError(f"{path}.method", f"'{method}' is not a method Careway knows")
    linked = tuple(p.get("valueString") for p in _parts(ext) if p.get("url") == "item")
    unknown = [link for link in linked if link not in items]
    if not linked or unknown:
        raise InstrumentError(f"{path}.item", f"names no item of the Questionnaire: {unknown}")
    bands = []
    for part in _parts(ext):
        if part.get("url") == "band":
            bands.append(
                Band(
                    low=float(_one(part, "min", "valueDecimal", f"{path}.band")),
                    high=float(_one(part, "max", "valueDecimal", f"{path}.band")),
                    label=str(_one(part, "label", "valueString", f"{path}.band")),
                    meaning=str(_one(part, "meaning", "valueString", path, False) or ""),
                    flag=str(_one(part, "flag", "valueCode", path, False) or ""),
                )
            )
    return ScoreRule(
        key=str(key),
        label=str(_one(ext, "label", "valueString", path, required=False) or key),
        method=method,
        items=linked,  # type: ignore[arg-type]
        bands=tuple(bands),
        code=_one(ext, "code", "valueCoding", path, required=False),
        max_missing=int(_one(ext, "maxMissing", "valueInteger", path, required=False) or 0),
    )


def _alert_rule(ext: dict[str, Any], path: str, items: dict[str, Item]) -> AlertRule:
    item = str(_one(ext, "item", "valueString", path))
    if item not in items:
        raise InstrumentError(f"{path}.item", f"names no item of the Questionnaire: {item}")
    return AlertRule(
        item=item,
        above=float(_one(ext, "above", "valueDecimal", path)),
        label=str(_one(ext, "label", "valueString", path)),
        severity=str(_one(ext, "severity", "valueCode", path, required=False) or "urgent"),
    )


# --- scoring a response --------------------------------------------------------------------------


def answers_of(response: dict[str, Any]) -> dict[str, list[Any]]:
    """Each linkId's answer values (the value[x] of each answer), nested groups included."""
    found: dict[str, list[Any]] = {}

    def walk(items: Iterable[Any]) -> None:
        for raw in items or []:
            if not isinstance(raw, dict):
                continue
            values = []
            for answer in raw.get("answer", []) or []:
                if isinstance(answer, dict):
                    values += [v for k, v in answer.items() if k.startswith("value")]
                    walk(answer.get("item", []))
            if values:
                found.setdefault(str(raw.get("linkId")), []).extend(values)
            walk(raw.get("item", []))

    walk(response.get("item", []) if isinstance(response, dict) else [])
    return found


def score(instrument: Instrument, response: dict[str, Any]) -> Result:
    """The scores, band and alerts of one QuestionnaireResponse, or why it cannot be scored."""
    if not instrument.scorable:
        return Result(why_not=instrument.why_not)
    answers = answers_of(response)
    enabled = {link for link, item in instrument.items.items() if _enabled(item, answers)}
    result = Result()
    points: dict[str, float] = {}
    for link in enabled:
        value = _points(instrument.items[link], answers.get(link))
        if value is not None:
            points[link] = value
    result.unanswered = sorted(
        link for link in enabled if instrument.items[link].required and link not in answers
    )
    for rule in instrument.scores:
        result.scores[rule.key] = _apply(rule, instrument, enabled, answers, points)
    for alert in instrument.alerts:
        if alert.item in points and points[alert.item] > alert.above:
            result.alerts.append(Alert(alert.item, alert.label, alert.severity))
    return result


def _points(item: Item, values: list[Any] | None) -> float | None:
    if not values:
        return None
    value = values[0]
    if isinstance(value, dict):  # a Coding
        key = str(value.get("code") or value.get("display"))
        return item.points.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if item.points:
            return item.points.get(str(value))
        return float(value) if item.type in NUMERIC else None
    return None


def _apply(
    rule: ScoreRule,
    instrument: Instrument,
    enabled: set[str],
    answers: dict[str, list[Any]],
    points: dict[str, float],
) -> Score:
    counted = [link for link in rule.items if link in enabled]
    without_points = [link for link in counted if link in answers and link not in points]
    if without_points:
        return Score(rule.key, rule.label, None, code=rule.code, why_not=(
            f"the answer to {', '.join(without_points)} carries no points in this instrument"
        ))  # fmt: skip
    missing = [link for link in counted if link not in points]
    if len(missing) > rule.max_missing:
        return Score(rule.key, rule.label, None, code=rule.code, why_not=(
            f"{', '.join(missing)} not answered"
            + (f" (at most {rule.max_missing} may be missing)" if rule.max_missing else "")
        ))  # fmt: skip
    values = [points[link] for link in counted if link in points]
    # A measured item (seconds, a count) has no fixed range, and then neither has the score.
    bounded = all(instrument.items[link].points for link in counted)
    lows = [min(instrument.items[link].points.values(), default=0.0) for link in counted]
    highs = [max(instrument.items[link].points.values(), default=0.0) for link in counted]
    low: float | None
    high: float | None
    if rule.method == "mean":
        value = sum(values) / len(values) if values else 0.0
        low, high = (min(lows), max(highs)) if counted else (0.0, 0.0)
    else:
        # Missing items (when allowed) are prorated: the mean of the answered ones stands in.
        mean = sum(values) / len(values) if values else 0.0
        value = sum(values) + mean * (len(counted) - len(values))
        low, high = sum(lows), sum(highs)
    if not bounded:
        low = high = None
    value = round(value, 4)
    band = next((b for b in rule.bands if b.holds(value)), None)
    return Score(rule.key, rule.label, value, low, high, band, rule.code)


def _enabled(item: Item, answers: dict[str, list[Any]]) -> bool:
    if not item.enable_when:
        return True
    checks = [_condition(c, answers) for c in item.enable_when]
    return any(checks) if item.enable_behavior == "any" else all(checks)


def _condition(condition: dict[str, Any], answers: dict[str, list[Any]]) -> bool:
    given = answers.get(str(condition.get("question")), [])
    operator = condition.get("operator")
    expected = next((v for k, v in condition.items() if k.startswith("answer")), None)
    if operator == "exists":
        return bool(given) == bool(expected)
    return any(_compare(value, operator, expected) for value in given)


def _compare(value: Any, operator: Any, expected: Any) -> bool:
    if isinstance(value, dict) and isinstance(expected, dict):
        same = (value.get("system"), value.get("code")) == (
            expected.get("system"),
            expected.get("code"),
        ) or (not expected.get("system") and value.get("code") == expected.get("code"))
        return same if operator == "=" else (not same if operator == "!=" else False)
    try:
        if operator == "=":
            return bool(value == expected)
        if operator == "!=":
            return bool(value != expected)
        if operator == ">":
            return bool(value > expected)
        if operator == "<":
            return bool(value < expected)
        if operator == ">=":
            return bool(value >= expected)
        if operator == "<=":
            return bool(value <= expected)
    except TypeError:
        return False
    return False

"""One scoring engine for every instrument: a FHIR R4 Questionnaire in, scores out.

No Django here: the engine reads plain dicts (a Questionnaire and a QuestionnaireResponse) so it
scores the same in a page, an import, the command line and a benchmark.

How a Questionnaire says how it is scored (standard FHIR first, Careway's own where FHIR has none):
- Each answer's points: the `ordinalValue` extension on `answerOption.valueCoding` (R4), or
  `itemWeight` (SDC), or a numeric answer's own value (integer, decimal: a timed measure).
  Reverse-scored items simply give their options reversed points.
- Points by range: a numeric item (days in hospital, a count) may carry
  `urn:careway:fhir:StructureDefinition:points-by-range` extensions, each with optional `min` and
  `max` (valueDecimal or valueInteger, inclusive; a missing end is open) and `points`. The answer
  is the raw number; its points are those of the range that holds it. Ranges may not overlap.
- Scores: one `urn:careway:fhir:StructureDefinition:score` extension per score on the
  Questionnaire, with sub-extensions `key` (valueString), `label`, `method` (valueCode: `sum` or
  `mean`), `item` (valueString, repeated: the linkIds it adds up), optional `code` (valueCoding,
  for example LOINC's code of the total), optional `maxMissing` (valueInteger: answers that may be
  missing before the score cannot be given; default 0), optional `bandsFixed` (valueBoolean:
  the instrument's terms forbid changing its bands, so no agency may), optional `unit`
  (valueString: what the score counts, shown on its trend chart; default "points", a timed
  test says "seconds"), and `band`
  sub-extensions with `min` and `max` (valueDecimal, inclusive), `label`, optional `meaning`,
  `flag` (valueCode: a finding to raise on the chart, e.g. moderate-depression) and `severity`
  (valueCode: info, warning or urgent; default warning). Bands may not overlap.
- Alerts: `urn:careway:fhir:StructureDefinition:alert` extensions with `item`, `above`
  (valueDecimal: raise when the item's points are above it), `label`, `severity` (valueCode) and
  optional `flag` (valueCode: the finding it raises, e.g. self-harm-risk). An alert is raised
  whatever the totals (PHQ-9 item 9).
- Answer findings: an `answerOption` (or its `valueCoding`) may carry
  `urn:careway:fhir:StructureDefinition:finding` with `label` (valueString: what was found),
  optional `flag` (valueCode, kebab-case: the kind, e.g. home-hazard), `fix` (valueString: the
  recommended fix) and `severity` (default warning). Choosing that answer lists the finding.
- Conditional items: standard `enableWhen` and `enableBehavior`. An item that is not enabled is
  neither required nor counted, and its answers raise nothing.

A result's findings gather what the chart should show: each band with a flag ("<score>: <band>"),
each answer finding, and each raised alert with a flag; the same kind and label found twice is
listed once, at its most severe. A Questionnaire without scores still gives its findings.

Where a response cannot be scored (an answer with no points, too many items unanswered) the
score says why instead of guessing.
"""

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import pairwise
from typing import Any

ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
CAREWAY = "urn:careway:fhir:StructureDefinition:"
SCORE = CAREWAY + "score"
ALERT = CAREWAY + "alert"
FINDING = CAREWAY + "finding"
POINTS_BY_RANGE = CAREWAY + "points-by-range"
NUMERIC = {"integer", "decimal"}
# Most severe first.
SEVERITIES = ("urgent", "warning", "info")
DEFAULT_SEVERITY = "warning"
KIND = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


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
    severity: str = DEFAULT_SEVERITY

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
    bands_fixed: bool = False  # the instrument's terms forbid changing its bands
    unit: str = "points"  # what the number counts: a timed test's "seconds"


@dataclass(frozen=True)
class AlertRule:
    item: str
    above: float
    label: str
    severity: str
    flag: str = ""


@dataclass(frozen=True)
class RangePoints:
    """The points of a numeric answer from `low` to `high` (inclusive; None: open)."""

    low: float | None
    high: float | None
    points: float

    def holds(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class AnswerFinding:
    """What choosing one answer finds."""

    kind: str
    label: str
    severity: str = DEFAULT_SEVERITY
    fix: str = ""


@dataclass(frozen=True)
class Item:
    link_id: str
    text: str
    type: str
    required: bool
    points: dict[str, float]  # option code (or display) -> points
    enable_when: tuple[dict[str, Any], ...]
    enable_behavior: str
    ranges: tuple[RangePoints, ...] = ()
    findings: dict[str, AnswerFinding] = field(default_factory=dict)  # option key -> finding

    def point_range(self) -> tuple[float, float] | None:
        """The fewest and most points an answer can carry; None for a measure with no range."""
        if self.points:
            return min(self.points.values()), max(self.points.values())
        if self.ranges:
            return min(r.points for r in self.ranges), max(r.points for r in self.ranges)
        return None


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
                out["band"]["severity"] = self.band.severity
        if self.code:
            out["code"] = self.code
        return out


@dataclass
class Alert:
    item: str
    label: str
    severity: str
    flag: str = ""


@dataclass(frozen=True)
class Finding:
    """One thing the chart should show. `kind` is the flag (empty: listed, raises no flag);
    `source` is the score key (a band) or the linkId (an answer, an alert); `by` says which."""

    kind: str
    label: str
    severity: str
    source: str
    fix: str = ""
    by: str = "answer"  # band | answer | alert

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "severity": self.severity,
            "source": self.source,
            "fix": self.fix,
            "by": self.by,
        }


@dataclass
class Result:
    scores: dict[str, Score] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    why_not: str = ""

    @property
    def flags(self) -> list[str]:
        """The kinds the scores' bands and the answers raise, each once. An alert's flag comes
        with the alert (in `alerts`); every kind, an alert's too, is in `findings`."""
        kinds = [f.kind for f in self.findings if f.kind and f.by != "alert"]
        return list(dict.fromkeys(kinds))

    def as_dict(self) -> dict[str, Any]:
        findings = [f.as_dict() for f in self.findings]
        if self.why_not:
            out: dict[str, Any] = {"scored": False, "why_not": self.why_not}
            if findings or self.alerts:
                out["alerts"] = [a.__dict__ for a in self.alerts]
                out["findings"] = findings
            return out
        return {
            "scored": True,
            "scores": [s.as_dict() for s in self.scores.values()],
            "alerts": [a.__dict__ for a in self.alerts],
            "flags": self.flags,
            "findings": findings,
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
    extensions = questionnaire.get("extension", []) or []
    scores = tuple(
        _score_rule(ext, f"Questionnaire.extension[{i}]", items)
        for i, ext in enumerate(extensions)
        if isinstance(ext, dict) and ext.get("url") == SCORE
    )
    alerts = tuple(
        _alert_rule(ext, f"Questionnaire.extension[{i}]", items)
        for i, ext in enumerate(extensions)
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


MAX_DEPTH = 20  # levels of nested items; real forms use three or four


def _walk(items: Any, path: str, depth: int = 1) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(items, list):
        raise InstrumentError(path, "must be a list of items")
    if items and depth > MAX_DEPTH:
        raise InstrumentError(path, f"items are nested too deeply (more than {MAX_DEPTH} levels)")
    for index, raw in enumerate(items):
        here = f"{path}[{index}]"
        if not isinstance(raw, dict):
            raise InstrumentError(here, "must be an object")
        if raw.get("type") != "group" and raw.get("type") != "display":
            yield here, raw
        yield from _walk(raw.get("item", []), f"{here}.item", depth + 1)


def _item(raw: dict[str, Any], path: str) -> Item:
    link_id = raw.get("linkId")
    if not isinstance(link_id, str) or not link_id:
        raise InstrumentError(f"{path}.linkId", "missing")
    points: dict[str, float] = {}
    findings: dict[str, AnswerFinding] = {}
    for index, option in enumerate(raw.get("answerOption", []) or []):
        here = f"{path}.answerOption[{index}]"
        if not isinstance(option, dict):
            raise InstrumentError(here, "must be an object")
        coding = option.get("valueCoding")
        key = _option_key(option)
        if isinstance(coding, dict):
            weight = _points_of(coding)
            weight = weight if weight is not None else _points_of(option)
            if weight is not None:
                points[str(key)] = weight
        elif "valueInteger" in option:
            points[str(option["valueInteger"])] = float(option["valueInteger"])
        found = _answer_finding(option, here)
        if found is not None and key is not None:
            findings[key] = found
    ranges = _ranges(raw, path)
    if ranges and points:
        raise InstrumentError(
            f"{path}.extension('{POINTS_BY_RANGE}')",
            "an item's points come from its answer options or from ranges, not both",
        )
    return Item(
        link_id=link_id,
        text=str(raw.get("text", "")),
        type=str(raw.get("type", "")),
        required=bool(raw.get("required", False)),
        points=points,
        enable_when=tuple(raw.get("enableWhen", []) or []),
        enable_behavior=str(raw.get("enableBehavior", "all")),
        ranges=ranges,
        findings=findings,
    )


def _option_key(option: dict[str, Any]) -> str | None:
    """How an answer option is known: a Coding by its code (or display), else its value."""
    coding = option.get("valueCoding")
    if isinstance(coding, dict):
        return str(coding.get("code") or coding.get("display"))
    for name, value in option.items():
        if name.startswith("value") and not isinstance(value, dict | list | bool):
            return str(value)
    return None


def _answer_key(value: Any) -> str | None:
    """The option key an answer value matches (see `_option_key`)."""
    if isinstance(value, dict):
        return str(value.get("code") or value.get("display"))
    if isinstance(value, bool | list) or value is None:
        return None
    return str(value)


def _answer_finding(option: dict[str, Any], path: str) -> AnswerFinding | None:
    coding = option.get("valueCoding")
    places = [(coding, f"{path}.valueCoding")] if isinstance(coding, dict) else []
    places.append((option, path))
    for element, where in places:
        for index, ext in enumerate(element.get("extension", []) or []):
            if isinstance(ext, dict) and ext.get("url") == FINDING:
                return _finding_rule(ext, f"{where}.extension[{index}]")
    return None


def _finding_rule(ext: dict[str, Any], path: str) -> AnswerFinding:
    label = _one(ext, "label", "valueString", path)
    if not isinstance(label, str) or not label.strip():
        raise InstrumentError(f"{path}.label", "must say what was found")
    fix = _one(ext, "fix", "valueString", path, required=False) or ""
    return AnswerFinding(
        kind=_kind(_one(ext, "flag", "valueCode", path, required=False), f"{path}.flag"),
        label=label.strip(),
        severity=_severity(_one(ext, "severity", "valueCode", path, False), f"{path}.severity"),
        fix=str(fix).strip(),
    )


def _kind(value: Any, where: str) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not KIND.fullmatch(value):
        raise InstrumentError(where, f"'{value}' is not a kind in kebab-case (e.g. home-hazard)")
    return value


def _severity(value: Any, where: str) -> str:
    if value is None or value == "":
        return DEFAULT_SEVERITY
    if value not in SEVERITIES:
        raise InstrumentError(where, f"'{value}' is not one of {', '.join(SEVERITIES)}")
    return str(value)


def _ranges(raw: dict[str, Any], path: str) -> tuple[RangePoints, ...]:
    ranges = []
    for index, ext in enumerate(raw.get("extension", []) or []):
        if not (isinstance(ext, dict) and ext.get("url") == POINTS_BY_RANGE):
            continue
        here = f"{path}.extension[{index}]"
        points = _number(ext, "points", here)
        assert points is not None  # required
        low = _number(ext, "min", here, required=False)
        high = _number(ext, "max", here, required=False)
        if low is not None and high is not None and low > high:
            raise InstrumentError(here, f"min {low:g} is above max {high:g}")
        ranges.append(RangePoints(low, high, points))
    if not ranges:
        return ()
    if raw.get("type") not in NUMERIC:
        raise InstrumentError(f"{path}.type", "points by range need an integer or decimal item")
    ordered = sorted(ranges, key=lambda r: -math.inf if r.low is None else r.low)
    for before, after in pairwise(ordered):
        if before.high is None or after.low is None or after.low <= before.high:
            raise InstrumentError(
                f"{path}.extension('{POINTS_BY_RANGE}')",
                f"the ranges {_span(before.low, before.high)} and "
                f"{_span(after.low, after.high)} overlap",
            )
    return tuple(ordered)


def _span(low: float | None, high: float | None) -> str:
    return f"{'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}"


def _number(ext: dict[str, Any], url: str, path: str, required: bool = True) -> float | None:
    for part in _parts(ext):
        if part.get("url") == url:
            value = part.get("valueDecimal", part.get("valueInteger"))
            if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
                number = float(value)
                if math.isfinite(number):
                    return number
            raise InstrumentError(f"{path}.{url}", "must be a number (valueDecimal)")
    if required:
        raise InstrumentError(f"{path}.extension('{url}')", "missing")
    return None


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
    linked = tuple(str(p.get("valueString")) for p in _parts(ext) if p.get("url") == "item")
    unknown = [link for link in linked if link not in items]
    if not linked or unknown:
        raise InstrumentError(f"{path}.item", f"names no item of the Questionnaire: {unknown}")
    bands = []
    for index, part in enumerate(p for p in _parts(ext) if p.get("url") == "band"):
        here = f"{path}.band[{index}]"
        low, high = _number(part, "min", here), _number(part, "max", here)
        assert low is not None and high is not None  # required
        bands.append(
            Band(
                low=low,
                high=high,
                label=str(_one(part, "label", "valueString", here)),
                meaning=str(_one(part, "meaning", "valueString", here, False) or ""),
                flag=_kind(_one(part, "flag", "valueCode", here, False), f"{here}.flag"),
                severity=_severity(
                    _one(part, "severity", "valueCode", here, False), f"{here}.severity"
                ),
            )
        )
    rule = ScoreRule(
        key=str(key),
        label=str(_one(ext, "label", "valueString", path, required=False) or key),
        method=method,
        items=linked,
        code=_one(ext, "code", "valueCoding", path, required=False),
        max_missing=int(_one(ext, "maxMissing", "valueInteger", path, required=False) or 0),
        bands_fixed=_one(ext, "bandsFixed", "valueBoolean", path, required=False) is True,
        unit=str(_one(ext, "unit", "valueString", path, required=False) or "points"),
    )
    return replace(rule, bands=_checked_bands(bands, rule, items, f"{path}.band"))


def _alert_rule(ext: dict[str, Any], path: str, items: dict[str, Item]) -> AlertRule:
    item = str(_one(ext, "item", "valueString", path))
    if item not in items:
        raise InstrumentError(f"{path}.item", f"names no item of the Questionnaire: {item}")
    above = _number(ext, "above", path)
    assert above is not None  # required
    return AlertRule(
        item=item,
        above=above,
        label=str(_one(ext, "label", "valueString", path)),
        severity=_severity(
            _one(ext, "severity", "valueCode", path, required=False) or "urgent", f"{path}.severity"
        ),
        flag=_kind(_one(ext, "flag", "valueCode", path, required=False), f"{path}.flag"),
    )


# --- an agency's own band edges ------------------------------------------------------------------


def with_bands(instrument: Instrument, score_key: str, bands: Iterable[Band]) -> Instrument:
    """A copy of the instrument whose score `score_key` uses these bands (an agency's own edges,
    where sources differ, as for the Morse Fall Scale). InstrumentError names what is wrong:
    a band whose min is above its max, bands that overlap, whole-number totals no band holds,
    a score whose instrument's terms fix its bands (`bandsFixed`)."""
    rule = next((r for r in instrument.scores if r.key == score_key), None)
    if rule is None:
        known = ", ".join(r.key for r in instrument.scores) or "none"
        raise InstrumentError("score", f"the instrument has no score '{score_key}' ({known})")
    if rule.bands_fixed:
        raise InstrumentError(
            "score", "the terms of use of this instrument do not allow changing its bands"
        )
    checked = _checked_bands(list(bands), rule, instrument.items, "bands")
    if not checked:
        raise InstrumentError("bands", "give at least one band")
    scores = tuple(
        replace(r, bands=checked) if r.key == score_key else r for r in instrument.scores
    )
    return replace(instrument, scores=scores)


def bands_from_json(data: Any) -> tuple[Band, ...]:
    """Bands kept as JSON (a list of {min, max, label, meaning?, flag?, severity?})."""
    if not isinstance(data, list):
        raise InstrumentError("bands", "must be a list of bands")
    bands = []
    for index, raw in enumerate(data):
        where = f"bands[{index}]"
        if not isinstance(raw, dict):
            raise InstrumentError(where, "must be an object")
        ends = []
        for end in ("min", "max"):
            value = raw.get(end)
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
                raise InstrumentError(f"{where}.{end}", "must be a number")
            if not math.isfinite(float(value)):
                raise InstrumentError(f"{where}.{end}", "must be a finite number")
            ends.append(float(value))
        label = raw.get("label")
        if not isinstance(label, str) or not label.strip():
            raise InstrumentError(f"{where}.label", "missing")
        meaning = raw.get("meaning") or ""
        if not isinstance(meaning, str):
            raise InstrumentError(f"{where}.meaning", "must be text")
        bands.append(
            Band(
                low=ends[0],
                high=ends[1],
                label=label.strip(),
                meaning=meaning,
                flag=_kind(raw.get("flag"), f"{where}.flag"),
                severity=_severity(raw.get("severity"), f"{where}.severity"),
            )
        )
    return tuple(bands)


def bands_to_json(bands: Iterable[Band]) -> list[dict[str, Any]]:
    """The bands as JSON that `bands_from_json` reads back."""
    return [
        {
            "min": _plain(band.low),
            "max": _plain(band.high),
            "label": band.label,
            "meaning": band.meaning,
            "flag": band.flag,
            "severity": band.severity,
        }
        for band in bands
    ]


def _plain(number: float) -> int | float:
    return int(number) if float(number).is_integer() else number


def _checked_bands(
    bands: list[Band], rule: ScoreRule, items: dict[str, Item], where: str
) -> tuple[Band, ...]:
    for index, band in enumerate(bands):
        if band.low > band.high:
            raise InstrumentError(
                f"{where}[{index}]",
                f"'{band.label}' starts at {band.low:g}, above where it ends ({band.high:g})",
            )
    ordered = sorted(bands, key=lambda b: (b.low, b.high))
    for before, after in pairwise(ordered):
        if after.low <= before.high:
            raise InstrumentError(
                where,
                f"'{before.label}' ({before.low:g}-{before.high:g}) and "
                f"'{after.label}' ({after.low:g}-{after.high:g}) overlap",
            )
    uncovered = _uncovered(ordered, rule, items)
    if uncovered:
        raise InstrumentError(where, f"a total of {uncovered} falls in no band")
    return tuple(bands)


def _uncovered(bands: list[Band], rule: ScoreRule, items: dict[str, Item]) -> str:
    """For a sum of whole-number points (the only kind where every total is known), the first
    total between the lowest and highest possible that no band holds; '' when there is none."""
    if not bands or rule.method != "sum" or rule.max_missing:
        return ""
    spans = [items[link].point_range() for link in rule.items]
    if any(span is None for span in spans):
        return ""
    values = [p for link in rule.items for p in _all_points(items[link])]
    if not all(float(p).is_integer() for p in values):
        return ""
    low = int(sum(s[0] for s in spans if s))
    high = int(sum(s[1] for s in spans if s))
    total = low
    for band in bands:
        if band.high < total:
            continue
        if band.low > total:
            return f"{total:g}"
        total = math.floor(band.high) + 1
        if total > high:
            return ""
    return f"{total:g}" if total <= high else ""


def _all_points(item: Item) -> list[float]:
    return list(item.points.values()) + [r.points for r in item.ranges]


# --- scoring a response --------------------------------------------------------------------------


def answers_of(response: dict[str, Any]) -> dict[str, list[Any]]:
    """Each linkId's answer values (the value[x] of each answer), nested groups included."""
    found: dict[str, list[Any]] = {}
    # Depth-first with a stack of iterators, not recursion: a response nested thousands deep is
    # read like any other, in document order.
    stack: list[Iterator[Any]] = [
        iter((response.get("item") if isinstance(response, dict) else None) or [])
    ]
    while stack:
        raw = next(stack[-1], None)
        if raw is None:
            stack.pop()
            continue
        if not isinstance(raw, dict):
            continue
        values = []
        nested = []
        for answer in raw.get("answer", []) or []:
            if isinstance(answer, dict):
                values += [v for k, v in answer.items() if k.startswith("value")]
                nested.append(answer.get("item") or [])
        if values:
            found.setdefault(str(raw.get("linkId")), []).extend(values)
        stack.append(iter(raw.get("item") or []))
        stack.extend(iter(items) for items in reversed(nested))
    return found


def score(instrument: Instrument, response: dict[str, Any]) -> Result:
    """The scores, bands, alerts and findings of one QuestionnaireResponse, or why it cannot be
    scored (an instrument without scores still lists what its answers find)."""
    answers = answers_of(response)
    enabled = {link for link, item in instrument.items.items() if _enabled(item, answers)}
    result = Result(why_not="" if instrument.scorable else instrument.why_not)
    points: dict[str, float] = {}
    for link in enabled:
        value = _points(instrument.items[link], answers.get(link))
        if value is not None:
            points[link] = value
    result.unanswered = sorted(
        link for link in enabled if instrument.items[link].required and link not in answers
    )
    found: list[Finding] = []
    for rule in instrument.scores:
        given = result.scores[rule.key] = _apply(rule, instrument, enabled, answers, points)
        if given.band and given.band.flag:
            label = f"{given.label}: {given.band.label}"
            found.append(Finding(given.band.flag, label, given.band.severity, rule.key, by="band"))
    for link, item in instrument.items.items():
        if link not in enabled or not item.findings:
            continue
        for value in answers.get(link, []):
            hit = item.findings.get(_answer_key(value) or "")
            if hit is not None:
                found.append(Finding(hit.kind, hit.label, hit.severity, link, hit.fix))
    for alert in instrument.alerts:
        if alert.item in points and points[alert.item] > alert.above:
            result.alerts.append(Alert(alert.item, alert.label, alert.severity, alert.flag))
            if alert.flag:
                found.append(
                    Finding(alert.flag, alert.label, alert.severity, alert.item, by="alert")
                )
    result.findings = _once(found)
    return result


def _once(findings: list[Finding]) -> list[Finding]:
    """Each kind and label once, where it was first found, at the most severe it was found."""
    kept: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        key = (finding.kind, finding.label)
        if key not in kept or _rank(finding) < _rank(kept[key]):
            kept[key] = (
                finding if key not in kept else replace(kept[key], severity=finding.severity)
            )
    return list(kept.values())


def _rank(finding: Finding) -> int:
    return SEVERITIES.index(finding.severity) if finding.severity in SEVERITIES else len(SEVERITIES)


def _points(item: Item, values: list[Any] | None) -> float | None:
    if not values:
        return None
    value = values[0]
    if isinstance(value, dict):  # a Coding
        key = str(value.get("code") or value.get("display"))
        return item.points.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        if item.ranges:
            number = float(value)
            return next((r.points for r in item.ranges if r.holds(number)), None)
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
    spans = [instrument.items[link].point_range() for link in counted]
    lows = [span[0] for span in spans if span]
    highs = [span[1] for span in spans if span]
    low: float | None
    high: float | None
    if rule.method == "mean":
        value = sum(values) / len(values) if values else 0.0
        low, high = (min(lows), max(highs)) if lows else (0.0, 0.0)
    else:
        # Missing items (when allowed) are prorated: the mean of the answered ones stands in.
        mean = sum(values) / len(values) if values else 0.0
        value = sum(values) + mean * (len(counted) - len(values))
        low, high = sum(lows), sum(highs)
    if not all(spans):
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

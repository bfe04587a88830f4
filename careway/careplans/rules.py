"""Suggestion rules and preventive care rules, as data, and the one engine that reads them.

The rules are content/rules/suggestions.json (conditions, scores, findings and flags that call
for a template's problems, goals and interventions) and content/rules/preventive.json (vaccines
and screenings due, by age, sex, conditions and what the record already shows). Both have one
format: a rule names a template (and, optionally, which of its items) and a condition tree
(`when`) over the patient's chart, whose leaves are:

- `condition`: an active, confirmed (or not refuted) condition with one of the codes or code
  prefixes given (ICD-10-CM prefixes match with or without the dot);
- `score`: the latest current score of an instrument, at or above `at_least`, at or below
  `at_most`;
- `finding`: a finding of a signed assessment whose flag is still active (of each instrument,
  the latest assessment's), of one instrument only when `questionnaire` names it; with
  `per_finding` the rule suggests one row per finding, its text filled from the finding (a
  STEADI hazard and its fix);
- `flag`: an active flag of that kind (and severity);
- `age` (`at_least`, `at_most`, in whole years today) and `sex`;
- `immunization`, `procedure`, `observation`: a completed one with one of the codes, within
  `within_days`, since the season began (`since_season`: "MM-DD"), or ever; `count_at_least`
  doses; an observation's value `at_least`/`at_most`;
- `all`, `any`, `not`.

A rule may give its `name` (what it is about: "influenza vaccine"), for the reason a `not` gives
("No influenza vaccine this season"). Evaluating a rule gives the facts it fired on: a stable key
for each (what the evidence is, not today's date or age, so that a rejection holds until the
evidence itself changes) and a reason in words ("MAHC-10 total is 6, at or above 4, on
2026-11-20").
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from careway.patients.display import coded_as, plain_name

RULES = Path(__file__).parent / "content" / "rules"
FILES = ("suggestions.json", "preventive.json")
LEAVES = (
    "condition",
    "score",
    "finding",
    "flag",
    "age",
    "sex",
    "immunization",
    "procedure",
    "observation",
)
BRANCHES = ("all", "any", "not")
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


class RuleError(ValueError):
    pass


# --- what a rule looks at: the patient's chart, in facts -----------------------------------------


@dataclass(frozen=True)
class Coded:
    """A coded record of the chart: a condition, vaccine, procedure or observation."""

    system: str
    code: str
    display: str
    when: date | None
    value: float | None = None


@dataclass(frozen=True)
class ScoreFact:
    label: str
    value: float
    when: date


@dataclass(frozen=True)
class FindingFact:
    id: int
    kind: str
    label: str
    fix: str
    source: str
    when: date
    questionnaire: str = ""


@dataclass(frozen=True)
class FlagFact:
    kind: str
    severity: str
    label: str
    since: date


@dataclass
class Chart:
    """What the rules may look at for one patient, on one day (the agency's)."""

    today: date
    birth_date: date | None = None
    sex: str = ""
    conditions: list[Coded] = field(default_factory=list)
    scores: dict[tuple[str, str], ScoreFact] = field(default_factory=dict)
    findings: list[FindingFact] = field(default_factory=list)
    flags: list[FlagFact] = field(default_factory=list)
    immunizations: list[Coded] = field(default_factory=list)
    procedures: list[Coded] = field(default_factory=list)
    observations: list[Coded] = field(default_factory=list)

    @property
    def age(self) -> int | None:
        if self.birth_date is None:
            return None
        born, day = self.birth_date, self.today
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True)
class Fired:
    """What a condition tree fired on: stable fact keys, reasons in words, and the findings that
    a per-finding rule makes one suggestion each of."""

    facts: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    findings: tuple[FindingFact, ...] = ()

    def __add__(self, other: "Fired") -> "Fired":
        return Fired(
            self.facts + other.facts,
            self.reasons + other.reasons,
            self.findings + other.findings,
        )


# --- the rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    id: str
    template: str
    items: tuple[str, ...]
    when: dict[str, Any]
    per_finding: bool
    preventive: bool
    recommendation: str
    name: str  # what the rule is about, for a reason of absence ("influenza vaccine")
    file: str


@cache
def rules() -> tuple[Rule, ...]:
    """Every rule of both files, checked (a rule that cannot be read stops Careway loading)."""
    found: list[Rule] = []
    for name in FILES:
        data = json.loads((RULES / name).read_text(encoding="utf-8"))
        for raw in data["rules"]:
            found.append(_rule(raw, name))
    ids = [r.id for r in found]
    twice = {i for i in ids if ids.count(i) > 1}
    if twice:
        raise RuleError(f"Rule ids used twice: {', '.join(sorted(twice))}")
    return tuple(found)


def _rule(raw: dict[str, Any], file: str) -> Rule:
    where = f"{file} rule {raw.get('id', '?')}"
    check_tree(raw.get("when"), where)
    preventive = file == "preventive.json"
    if preventive and not raw.get("recommendation"):
        raise RuleError(f"{where}: a preventive rule says which recommendation it follows.")
    return Rule(
        id=raw["id"],
        template=raw["template"],
        items=tuple(raw.get("items", ())),
        when=raw["when"],
        per_finding=bool(raw.get("per_finding")),
        preventive=preventive,
        recommendation=raw.get("recommendation", ""),
        name=raw.get("name", ""),
        file=file,
    )


def check_tree(node: Any, where: str) -> None:
    if not isinstance(node, dict) or len(node) != 1:
        raise RuleError(f"{where}: each condition is an object with one key.")
    ((kind, value),) = node.items()
    if kind in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise RuleError(f"{where}: '{kind}' takes a list of conditions.")
        for child in value:
            check_tree(child, where)
    elif kind == "not":
        check_tree(value, where)
    elif kind not in LEAVES:
        raise RuleError(f"{where}: unknown condition '{kind}'.")


def evaluate(node: dict[str, Any], chart: Chart, rule: Rule) -> Fired | None:
    """The facts the tree fired on, or None when it does not fire."""
    ((kind, value),) = node.items()
    if kind == "all":
        total = Fired()
        for child in value:
            fired = evaluate(child, chart, rule)
            if fired is None:
                return None
            total = total + fired
        return total
    if kind == "any":
        fired_any = [f for f in (evaluate(child, chart, rule) for child in value) if f is not None]
        if not fired_any:
            return None
        return sum(fired_any[1:], fired_any[0])
    if kind == "not":
        return None if evaluate(value, chart, rule) is not None else absence(value, chart, rule)
    return LEAF[kind](value, chart)


# --- leaves ------------------------------------------------------------------------------------


def _day(day: date | None) -> str:
    return day.isoformat() if day else "a date not recorded"


def _number(value: float) -> str:
    return f"{value:g}"


def code_matches(spec: Sequence[dict[str, Any]], system: str, code: str) -> bool:
    for group in spec:
        if group.get("system") != system:
            continue
        if code in group.get("codes", ()):
            return True
        plain = code.replace(".", "").upper()
        if any(plain.startswith(p.replace(".", "").upper()) for p in group.get("prefixes", ())):
            return True
    return False


def _condition(spec: dict[str, Any], chart: Chart) -> Fired | None:
    hits = [c for c in chart.conditions if code_matches(spec["codes"], c.system, c.code)]
    if not hits:
        return None
    return Fired(
        tuple(f"condition:{c.system}|{c.code}" for c in hits),
        tuple(
            f"{plain_name(c.display)} ({coded_as(c.system, c.code)}) is on the chart" for c in hits
        ),
    )


def _score(spec: dict[str, Any], chart: Chart) -> Fired | None:
    score = chart.scores.get((spec["questionnaire"], spec.get("key", "total")))
    if score is None:
        return None
    low, high = spec.get("at_least"), spec.get("at_most")
    if (low is not None and score.value < low) or (high is not None and score.value > high):
        return None
    bounds = [
        f"at or above {_number(low)}" if low is not None else "",
        f"at or below {_number(high)}" if high is not None else "",
    ]
    return Fired(
        (
            f"score:{spec['questionnaire']}|{spec.get('key', 'total')}|{_number(score.value)}|"
            f"{score.when}",
        ),
        (
            f"{score.label} is {_number(score.value)}, {' and '.join(b for b in bounds if b)}, "
            f"on {_day(score.when)}",
        ),
    )


def _finding(spec: dict[str, Any], chart: Chart) -> Fired | None:
    hits = [
        f
        for f in chart.findings
        if f.kind == spec["kind"] and spec.get("questionnaire") in (None, f.questionnaire)
    ]
    if not hits:
        return None
    return Fired(
        tuple(f"finding:{f.kind}|{f.source}|{f.when}" for f in hits),
        tuple(f"{f.label} (found on {_day(f.when)})" for f in hits),
        tuple(hits),
    )


def _flag(spec: dict[str, Any], chart: Chart) -> Fired | None:
    hits = [
        f
        for f in chart.flags
        if f.kind == spec["kind"] and spec.get("severity") in (None, f.severity)
    ]
    if not hits:
        return None
    return Fired(
        tuple(f"flag:{f.kind}|{f.since}" for f in hits),
        tuple(f"Flag on the chart since {_day(f.since)}: {f.label}" for f in hits),
    )


def _age(spec: dict[str, Any], chart: Chart) -> Fired | None:
    age = chart.age
    low, high = spec.get("at_least"), spec.get("at_most")
    if age is None or (low is not None and age < low) or (high is not None and age > high):
        return None
    if low is not None and high is not None:
        band = f"{low} to {high}"
    elif low is not None:
        band = f"{low} or older"
    else:
        band = f"{high} or younger"
    return Fired((f"age:{band}",), (f"Age {age} ({band})",))


def _sex(spec: str, chart: Chart) -> Fired | None:
    if chart.sex != spec:
        return None
    return Fired((f"sex:{spec}",), (f"Sex assigned at birth: {spec}",))


def _since(spec: dict[str, Any], today: date) -> date | None:
    """The first day a record counts from (None: ever)."""
    if "within_days" in spec:
        return today - timedelta(days=int(spec["within_days"]))
    if "since_season" in spec:
        month, day = (int(part) for part in spec["since_season"].split("-"))
        start = date(today.year, month, day)
        return start if start <= today else date(today.year - 1, month, day)
    return None


def _counted(spec: dict[str, Any], records: Iterable[Coded], today: date) -> list[Coded]:
    since = _since(spec, today)
    found = [
        r
        for r in records
        if code_matches(spec["codes"], r.system, r.code)
        and (since is None or (r.when is not None and r.when >= since))
        and (spec.get("at_least") is None or (r.value is not None and r.value >= spec["at_least"]))
        and (spec.get("at_most") is None or (r.value is not None and r.value <= spec["at_most"]))
    ]
    return sorted(found, key=lambda r: r.when or date.min, reverse=True)


def _record_leaf(kind: str, word: str) -> Any:
    def leaf(spec: dict[str, Any], chart: Chart) -> Fired | None:
        found = _counted(spec, getattr(chart, kind), chart.today)
        if len(found) < int(spec.get("count_at_least", 1)):
            return None
        latest = found[0]
        count = f"{len(found)} on the record, the latest" if len(found) > 1 else "On the record:"
        return Fired(
            tuple(f"{word}:{r.system}|{r.code}|{r.when}" for r in found),
            (f"{count} {plain_name(latest.display)} on {_day(latest.when)}",),
        )

    return leaf


LEAF: dict[str, Any] = {
    "condition": _condition,
    "score": _score,
    "finding": _finding,
    "flag": _flag,
    "age": _age,
    "sex": _sex,
    "immunization": _record_leaf("immunizations", "immunization"),
    "procedure": _record_leaf("procedures", "procedure"),
    "observation": _record_leaf("observations", "observation"),
}
RECORDS = {
    "immunization": "immunizations",
    "procedure": "procedures",
    "observation": "observations",
}


def absence(node: dict[str, Any], chart: Chart, rule: Rule) -> Fired:
    """Why a `not` fired, in words and as a fact that holds until the record changes: the last
    such record there is (or none), and the season, for a yearly vaccine."""
    ((kind, spec),) = node.items()
    name = rule.name or "such a record"
    if kind not in RECORDS:
        key = (f"not:{json.dumps(node, sort_keys=True)}",)
        held = _records_under(node, chart)
        if held is not None:
            # Several ways of being done (a series of vaccines): none of them is complete. The
            # fact holds what the record has, so that a new dose brings a rejection back.
            held_codes = "|".join(f"{r.code}@{r.when}" for r in held)
            words = f"No {name} on the record" + (
                f" (on the record: {', '.join(plain_name(r.display) for r in held[:3])})"
                if held
                else ""
            )
            return Fired((f"{key[0]}|have {held_codes}",), (words,))
        # Nothing to show for it (a condition ruled out, an age outside a band): a fact only.
        return Fired(key)
    since = _since(spec, chart.today)
    everything = _counted({"codes": spec["codes"]}, getattr(chart, RECORDS[kind]), chart.today)
    last = everything[0] if everything else None
    last_words = (
        f"the last on the record was on {_day(last.when)}" if last else "none is on the record"
    )
    if "since_season" in spec and since is not None:
        season = f"{since.year}-{str(since.year + 1)[2:]}"
        words = f"No {name} this season ({season}, since {_day(since)}): {last_words}"
        return Fired((f"not-{kind}:{rule.id}|season {season}|last {last and last.when}",), (words,))
    needed = int(spec.get("count_at_least", 1))
    have = len(_counted(spec, getattr(chart, RECORDS[kind]), chart.today))
    if needed > 1:
        words = f"{have} of the {needed} doses of {name} on the record"
    elif "within_days" in spec:
        words = f"No {name} in the last {_span(int(spec['within_days']))}: {last_words}"
    else:
        words = f"No {name} on the record"
    # Keyed on the last record, not on today's window, so that a rejection holds until a record
    # arrives (or the one there was grows too old, which shows as the same fact).
    return Fired((f"not-{kind}:{rule.id}|have {have}|last {last and last.when}",), (words,))


def _records_under(node: dict[str, Any], chart: Chart) -> list[Coded] | None:
    """The chart's records that any record leaf under the node names (None: it names none)."""
    leaves: list[tuple[str, dict[str, Any]]] = []

    def walk(here: dict[str, Any]) -> None:
        ((kind, value),) = here.items()
        if kind in ("all", "any"):
            for child in value:
                walk(child)
        elif kind == "not":
            walk(value)
        elif kind in RECORDS:
            leaves.append((kind, value))

    walk(node)
    if not leaves:
        return None
    found = {
        record
        for kind, spec in leaves
        for record in _counted({"codes": spec["codes"]}, getattr(chart, RECORDS[kind]), chart.today)
    }
    return sorted(found, key=lambda r: (r.when or date.min, r.code), reverse=True)


def _span(days: int) -> str:
    if days in (365, 366):
        return "year"
    if days in (182, 183, 184):
        return "6 months"
    years = days / 365.25
    if days > 366 and abs(years - round(years)) < 0.01:
        return f"{round(years)} years"
    return f"{days} days"

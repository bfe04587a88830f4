"""Red flags: the warning signs that mean "call 911" and those that mean "call the agency now",
for everyone and for each kind of condition, in English and Spanish, as data.

content/red_flags.json holds a `general` group, which every patient gets, and one group per
condition, each with a `when` condition tree in the format of the care plan rules
(careway/careplans/rules.py), evaluated against the chart facts the suggestion rules read
(careway/careplans/suggestions.py, `charts_for`). A group's `when` uses the same code lists as the
suggestion rules its `same_as_rules` names (a test holds them equal), so that a patient whose
chart suggests the heart failure template also gets the heart failure red flags. Most groups are
conditions on the chart (SNOMED CT and ICD-10-CM, Synthea's codes included); a few add what the
same rules read beside them (a hip or knee operation in the last 90 days, a positive PHQ-9 or a
self-harm answer for the 988 line, a pressure injury found at an assessment).
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from careway.patients.models import Patient

from . import rules as rule_engine
from .handouts import ENGLISH, LANGUAGES, HandoutError, _paragraphs, _texts

FILE = Path(__file__).parent / "content" / "red_flags.json"
GENERAL = "general"
LINE_LIMIT = 300


@dataclass(frozen=True)
class RedFlags:
    """One group of red flags, in one language."""

    key: str
    title: str
    call_911: tuple[str, ...]
    call_agency: tuple[str, ...]


@dataclass(frozen=True)
class RedFlagGroup:
    """One group of the file, in every language, with the chart condition that calls for it
    (None for the general group)."""

    key: str
    title: dict[str, str]
    call_911: dict[str, tuple[str, ...]]
    call_agency: dict[str, tuple[str, ...]]
    when: dict[str, Any] | None
    same_as_rules: tuple[str, ...]

    def in_language(self, lang: str) -> RedFlags:
        lang = lang if lang in self.title else ENGLISH
        return RedFlags(
            key=self.key,
            title=self.title[lang],
            call_911=self.call_911.get(lang) or self.call_911[ENGLISH],
            call_agency=self.call_agency.get(lang) or self.call_agency[ENGLISH],
        )

    def text_in(self, lang: str) -> str:
        """The group in one language as plain text, for reading level."""
        flags = self.in_language(lang)
        lines = [flags.title, *flags.call_911, *flags.call_agency]
        return "\n".join(line if line[-1:] in ".!?" else f"{line}." for line in lines)


def parse_red_flags(raw: Any) -> tuple[RedFlagGroup, ...]:
    """Read and check the red flags file; HandoutError names every wrong field by its path
    ("groups[3].call_911.es")."""
    if not isinstance(raw, dict):
        raise HandoutError({"red_flags": "The red flags file is a JSON object."})
    errors: dict[str, str] = {}
    for name in ("title", "version", "terms"):
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            errors[name] = "Required: a line of text."
    if not isinstance(raw.get("sources"), list) or not raw["sources"]:
        errors["sources"] = "Cite at least one published source."
    rows = raw.get("groups")
    if not isinstance(rows, list) or not rows:
        raise HandoutError({**errors, "groups": "A list of groups, the general one first."})
    groups = [_group(row, f"groups[{i}]", errors) for i, row in enumerate(rows)]
    keys = [g.key for g in groups if g is not None]
    first = rows[0].get("key") if isinstance(rows[0], dict) else None
    if first != GENERAL:
        errors["groups[0].key"] = f"The first group is '{GENERAL}', which every patient gets."
    for key in {k for k in keys if keys.count(k) > 1}:
        errors[f"groups[{keys.index(key)}].key"] = f"'{key}' is used twice."
    if errors:
        raise HandoutError(errors)
    return tuple(g for g in groups if g is not None)


def _group(row: Any, where: str, errors: dict[str, str]) -> RedFlagGroup | None:
    if not isinstance(row, dict):
        errors[where] = "Each group is a JSON object."
        return None
    before = len(errors)
    key = row.get("key")
    if not isinstance(key, str) or not key:
        errors[f"{where}.key"] = "Required: the group's key."
    title = _texts(row.get("title"), f"{where}.title", LANGUAGES, errors, LINE_LIMIT)
    call_911 = _paragraphs(row.get("call_911"), f"{where}.call_911", LANGUAGES, errors)
    call_agency = _paragraphs(row.get("call_agency"), f"{where}.call_agency", LANGUAGES, errors)
    when = row.get("when")
    if key == GENERAL and when is not None:
        errors[f"{where}.when"] = "The general group is for everyone: it has no condition."
    elif key != GENERAL:
        try:
            rule_engine.check_tree(when, f"{where}.when")
        except rule_engine.RuleError as error:
            errors[f"{where}.when"] = str(error)
    same = row.get("same_as_rules", [])
    if not isinstance(same, list) or not all(isinstance(s, str) for s in same):
        errors[f"{where}.same_as_rules"] = "A list of suggestion rule ids."
    if len(errors) > before:
        return None
    return RedFlagGroup(
        key=str(key),
        title=title,
        call_911=call_911,
        call_agency=call_agency,
        when=when,
        same_as_rules=tuple(same),
    )


@cache
def groups() -> tuple[RedFlagGroup, ...]:
    """The shipped red flag groups, in file order."""
    return parse_red_flags(json.loads(FILE.read_text(encoding="utf-8")))


def groups_matching(chart: rule_engine.Chart) -> list[RedFlagGroup]:
    """The general group, then each group whose condition the chart meets, in file order."""
    found = []
    for group in groups():
        if group.when is None or _fires(group, chart):
            found.append(group)
    return found


def _fires(group: RedFlagGroup, chart: rule_engine.Chart) -> bool:
    assert group.when is not None
    rule = rule_engine.Rule(
        id=f"red-flags:{group.key}",
        template="",
        items=(),
        when=group.when,
        per_finding=False,
        preventive=False,
        recommendation="",
        name=group.title[ENGLISH],
        file=FILE.name,
    )
    return rule_engine.evaluate(group.when, chart, rule) is not None


def red_flags_for(patient: Patient, lang: str) -> list[RedFlags]:
    """The red flags for `patient` in `lang` (English where a text has no translation): the
    general group always, then one group per condition group their chart matches, in file
    order. The caller has checked access to the patient."""
    from .suggestions import charts_for

    today = timezone.localdate(timezone=_zone(patient))
    chart = charts_for([patient.pk], today).get(patient.pk) or rule_engine.Chart(today=today)
    return [group.in_language(lang) for group in groups_matching(chart)]


def _zone(patient: Patient) -> ZoneInfo:
    try:
        return ZoneInfo(patient.organization.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")

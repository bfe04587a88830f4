"""ICD-10-CM for the plan of care: is a code billable (checked against the code set with the
maintained `simple-icd-10-cm` library), and which diagnoses to propose from the conditions on the
chart (content/icd10_map.json, with its sources). Plain Python: no model is read or written here.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

MAP_FILE = Path(__file__).parent / "content" / "icd10_map.json"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"


@cache
def _code_set() -> Any:
    """The code set, loaded at first use: importing `simple_icd_10_cm` reads the whole release
    (about 2 s), which every `careway` command and test process would otherwise pay at start."""
    import simple_icd_10_cm

    return simple_icd_10_cm


def normalized(code: str) -> str:
    """'i50.22 ', 'I5022' -> 'I50.22' (the code set's own spelling)."""
    icd = _code_set()
    code = (code or "").strip().upper()
    if not code:
        return ""
    try:
        return str(icd.add_dot(code)) if icd.is_valid_item(code) else code
    except ValueError:
        return code


def code_problem(code: str) -> str:
    """Why `code` cannot be put on a claim, in words; '' when it is a billable ICD-10-CM code."""
    icd = _code_set()
    code = normalized(code)
    if not code:
        return "Write the ICD-10-CM code."
    if not icd.is_valid_item(code):
        return f"{code} is not an ICD-10-CM code."
    if not icd.is_leaf(code):
        kind = "category" if icd.is_category(code) else "heading"
        example = next(iter(_leaves_under(code)), "")
        hint = f", for example {example}" if example else ""
        return (
            f"{code} ({icd.get_description(code)}) is a {kind}, not a billable code: choose "
            f"one of the codes under it{hint}."
        )
    return ""


def _leaves_under(code: str) -> list[str]:
    icd = _code_set()
    return [c for c in icd.get_descendants(code) if icd.is_leaf(c)][:1]


def description(code: str) -> str:
    icd = _code_set()
    code = normalized(code)
    return str(icd.get_description(code)) if icd.is_valid_item(code) else ""


@dataclass(frozen=True)
class MapEntry:
    template: str
    snomed: tuple[str, ...]
    code: str
    mapping: str  # "nlm" (NLM's SNOMED CT to ICD-10-CM map) or "careway" (clinical mapping)


@cache
def map_content() -> dict[str, Any]:
    return json.loads(MAP_FILE.read_text(encoding="utf-8"))


@cache
def entries() -> tuple[MapEntry, ...]:
    return tuple(
        MapEntry(e["template"], tuple(e["snomed"]), e["code"], e["mapping"])
        for e in map_content()["entries"]
    )


def for_snomed(code: str) -> MapEntry | None:
    return next((e for e in entries() if code in e.snomed), None)


@dataclass(frozen=True)
class ChartCondition:
    """What a proposal needs of a condition on the chart."""

    code_system: str
    code: str
    display: str
    onset: str  # ISO date or ''
    is_primary: bool = False


def propose(conditions: Iterable[ChartCondition]) -> list[dict[str, Any]]:
    """The diagnoses a draft plan of care starts from: each active condition's ICD-10-CM code (the
    condition's own when it has one, else the map's for its SNOMED CT code, which stays beside);
    conditions with neither are left for the case manager. The chart's primary condition (else
    the first) is proposed as principal; one code once."""
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for condition in conditions:
        row = _proposal(condition)
        if row is None or row["code"] in seen:
            continue
        seen.add(row["code"])
        found.append(row)
    found = _without_unspecified(found)
    if found:
        principal = next((i for i, r in enumerate(found) if r["_primary"]), 0)
        for row in found:
            del row["_primary"]
        found.insert(0, found.pop(principal))
        for index, row in enumerate(found):
            row["principal"] = index == 0
    return found


def _without_unspecified(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An unspecified code (E11.9, I50.9) is not coded beside a specific one of its category
    (E11.40, I50.22): it goes, and the first specific one takes its place as principal."""
    specific: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row["code"].endswith(".9"):
            specific.setdefault(row["code"][:3], row)
    kept = []
    for row in rows:
        other = specific.get(row["code"][:3])
        if row["code"].endswith(".9") and other is not None:
            other["_primary"] = other["_primary"] or row["_primary"]
        else:
            kept.append(row)
    return kept


def _proposal(condition: ChartCondition) -> dict[str, Any] | None:
    snomed, snomed_display, code = "", "", ""
    if condition.code_system == ICD10CM and not code_problem(condition.code):
        code = normalized(condition.code)
    elif condition.code_system == SNOMED:
        entry = for_snomed(condition.code)
        if entry is None:
            return None
        code, snomed, snomed_display = entry.code, condition.code, condition.display
    else:
        return None
    return {
        "code": code,
        "display": description(code),
        "principal": False,
        "snomed": snomed,
        "snomed_display": snomed_display,
        "onset": condition.onset,
        "_primary": condition.is_primary,
    }


def picker_choices() -> list[tuple[str, str]]:
    """Every mapped code with its title, for the diagnoses picker."""
    codes = sorted({e.code for e in entries()})
    return [(code, f"{code} {description(code)}") for code in codes]

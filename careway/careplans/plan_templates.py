"""Care plan templates: problems, goals and interventions a guideline proposes for one kind of
patient, as data.

The shipped templates are files of content/templates/ (one per template, each citing the
guideline it follows); they never change in place: a new version of Careway ships a new version
of the file. An agency may copy one and edit the copy, or write its own (AgencyTemplate rows,
each edit a new version); an agency's current template with a shipped template's key is used in
its place, for that agency only. Suggestions (careway/careplans/suggestions.py) and the "add
from a template" form read templates through `templates_for`.

One parser (`parse_template`) checks every template, shipped or an agency's, and names the field
of each mistake ("goals[2].measure: ..."), so that a page or the API can say what to fix.
"""

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from careway.core.roles import Discipline

from . import measures
from .frequency import FrequencyError, parse

CONTENT = Path(__file__).parent / "content" / "templates"
KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,58}$")
PROBLEM, GOAL, INTERVENTION = "problem", "goal", "intervention"
SECTIONS = {"problems": PROBLEM, "goals": GOAL, "interventions": INTERVENTION}
KINDS = ("teach", "perform", "monitor", "coordinate", "refer")
TEXT_LIMIT = 300
# Filled from an assessment finding by the rules that suggest one row per finding.
PLACEHOLDERS = ("{fix}", "{finding}")
# An intervention's "who" when the patient does it themself (else it names a "discipline").
WHO_PATIENT = "patient"


class TemplateError(ValueError):
    """A template that cannot be used: `errors` maps each field (as a path) to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class TemplateItem:
    """One problem, goal or intervention of a template; `fields` are what the plan row gets."""

    key: str
    kind: str
    text: str
    problem: str  # the key of the problem it belongs to (a problem's own key)
    goal: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    ask: str = ""
    due_in_days: int | None = None

    @property
    def per_finding(self) -> bool:
        return any(mark in self.text for mark in PLACEHOLDERS)


@dataclass(frozen=True)
class PlanTemplate:
    key: str
    version: str
    title: str
    summary: str
    sources: tuple[str, ...]
    terms: str
    items: dict[str, TemplateItem]
    raw: dict[str, Any]
    shipped: bool = True

    def of_kind(self, kind: str) -> list[TemplateItem]:
        return [item for item in self.items.values() if item.kind == kind]

    @property
    def label(self) -> str:
        return f"{self.title} (version {self.version}{'' if self.shipped else ', agency'})"


def parse_template(raw: Any, *, shipped: bool = True) -> PlanTemplate:
    """Read and check one template (the format of content/templates/); TemplateError names
    every field that is wrong."""
    errors: dict[str, str] = {}
    if not isinstance(raw, dict):
        raise TemplateError({"template": "A template is a JSON object."})
    key = raw.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        errors["key"] = "Use lowercase letters, digits and hyphens (at most 59)."
    for name in ("title", "version"):
        if not isinstance(raw.get(name), str) or not str(raw.get(name)).strip():
            errors[name] = "Required: a line of text."
    sources = raw.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        errors["sources"] = "Cite at least one source the template follows."
    items = _items(raw, errors)
    if errors:
        raise TemplateError(errors)
    return PlanTemplate(
        key=str(key),
        version=str(raw["version"]),
        title=raw["title"].strip(),
        summary=str(raw.get("summary", "")),
        sources=tuple(sources or ()),
        terms=str(raw.get("terms", "")),
        items=items,
        raw=raw,
        shipped=shipped,
    )


def _items(raw: dict[str, Any], errors: dict[str, str]) -> dict[str, TemplateItem]:
    items: dict[str, TemplateItem] = {}
    for section, kind in SECTIONS.items():
        rows = raw.get(section, [])
        if not isinstance(rows, list):
            errors[section] = "A list of rows."
            continue
        if kind == PROBLEM and not rows:
            errors[section] = "Give at least one problem."
        for index, row in enumerate(rows):
            where = f"{section}[{index}]"
            item = _item(row, kind, where, items, errors)
            if item is not None:
                if item.key in items:
                    errors[f"{where}.key"] = f"'{item.key}' is used twice in this template."
                items[item.key] = item
    return items


def _item(
    row: Any, kind: str, where: str, items: dict[str, TemplateItem], errors: dict[str, str]
) -> TemplateItem | None:
    if not isinstance(row, dict):
        errors[where] = "Each row is a JSON object."
        return None
    mistakes: dict[str, str] = {}
    key = row.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        mistakes["key"] = "Use lowercase letters, digits and hyphens."
    text_field = "description" if kind == GOAL else "text"
    text = row.get(text_field)
    if not isinstance(text, str) or not text.strip():
        mistakes[text_field] = "Required: say it in words."
    elif len(text) > TEXT_LIMIT:
        mistakes[text_field] = f"At most {TEXT_LIMIT} characters (this has {len(text)})."
    problem, goal = (key if kind == PROBLEM else row.get("problem")), row.get("goal", "")
    if kind != PROBLEM and (problem not in items or items[problem].kind != PROBLEM):
        mistakes["problem"] = "Name a problem key given above in this template."
    if goal and (goal not in items or items[goal].kind != GOAL):
        mistakes["goal"] = "Name a goal key given above in this template."
    elif goal and items[goal].problem != problem:
        mistakes["goal"] = "The goal belongs to another problem."
    fields = _row_fields(row, kind, mistakes)
    due = row.get("due_in_days")
    if due is not None and (not isinstance(due, int) or isinstance(due, bool) or due < 1):
        mistakes["due_in_days"] = "A whole number of days, 1 or more."
    errors.update({f"{where}.{name}": message for name, message in mistakes.items()})
    if mistakes:
        return None
    return TemplateItem(
        key=str(key),
        kind=kind,
        text=str(text).strip(),
        problem=str(problem),
        goal=goal or "",
        fields=fields,
        ask=str(row.get("ask", "")),
        due_in_days=due,
    )


def _row_fields(row: dict[str, Any], kind: str, mistakes: dict[str, str]) -> dict[str, Any]:
    if kind == PROBLEM:
        return _code_fields(row, mistakes)
    if kind == GOAL:
        return _goal_fields(row, mistakes)
    return _intervention_fields(row, mistakes)


def _code_fields(row: dict[str, Any], mistakes: dict[str, str]) -> dict[str, Any]:
    system, code = row.get("code_system", ""), row.get("code", "")
    if bool(system) != bool(code):
        mistakes["code"] = "Give both the code system and the code, or neither."
    return {"code_system": system or "", "code": code or ""}


def _goal_fields(row: dict[str, Any], mistakes: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {"measure": row.get("measure", "") or ""}
    measure = measures.measure_of(fields["measure"]) if fields["measure"] else None
    if fields["measure"] and (
        measure is None or measure.kind in (measures.TASK, measures.TEACHING)
    ):
        mistakes["measure"] = (
            "One of the goal measures (content/goal_measures.json), not task or teach-back."
        )
    for name in ("target_low", "target_high"):
        value = row.get(name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            mistakes[name] = "A number."
        fields[name] = value
    days = row.get("target_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days < 1):
        mistakes["target_days"] = "A whole number of days, 1 or more."
    fields["target_days"] = days
    has_target = any(fields[n] is not None for n in ("target_low", "target_high", "target_days"))
    if (
        measure is not None
        and measure.takes_range
        and not (fields["target_low"] is not None or fields["target_high"] is not None)
    ):
        mistakes["target_high"] = "Give the lowest or the highest value, or both."
    elif measure is not None and measure.kind == measures.EVENT and not days:
        mistakes["target_days"] = "Say for how many days without one."
    elif measure is None and has_target and "measure" not in mistakes:
        mistakes["measure"] = "Say what the target is measured by."
    return fields


def _intervention_fields(row: dict[str, Any], mistakes: dict[str, str]) -> dict[str, Any]:
    """Who: a `discipline`, or `"who": "patient"` for what the patient does themself (weighing
    every morning), never both: the team's part is an intervention of its own."""
    kind, discipline, who = row.get("kind"), row.get("discipline"), row.get("who")
    if kind not in KINDS:
        mistakes["kind"] = f"One of {', '.join(KINDS)}."
    by_patient = who == WHO_PATIENT
    if who is not None and not by_patient:
        mistakes["who"] = f"Only '{WHO_PATIENT}' (or leave it out and give a discipline)."
    elif by_patient and discipline:
        mistakes["discipline"] = "The patient does this one: leave the discipline out."
    elif by_patient:
        discipline = ""
    elif discipline not in Discipline.values:
        mistakes["discipline"] = f'One of {", ".join(Discipline.values)}, or "who": "patient".'
    frequency = row.get("frequency", "") or ""
    if frequency:
        try:
            parse(frequency)
        except FrequencyError as error:
            mistakes["frequency"] = str(error)
    return {
        "kind": kind,
        "discipline": discipline,
        "by_patient": by_patient,
        "frequency": frequency,
    }


@cache
def shipped() -> dict[str, PlanTemplate]:
    """The templates that come with Careway, by key."""
    found: dict[str, PlanTemplate] = {}
    for path in sorted(CONTENT.glob("*.json")):
        template = parse_template(json.loads(path.read_text(encoding="utf-8")))
        if template.key != path.stem:
            raise TemplateError({"key": f"{path.name} holds the template '{template.key}'."})
        found[template.key] = template
    return found


def templates_for(organization_id: int) -> dict[str, PlanTemplate]:
    """The templates an agency uses: the shipped ones, each replaced by the agency's current
    template of the same key where it has one, and the agency's own (a retired one is left out)."""
    from .models import AgencyTemplate

    found = dict(shipped())
    # A retired copy is left out, so Careway's template of its key is used again (unlike a
    # handout's: agency_content.ContentKind.retired_copy_hides_shipped, and the pages agree).
    rows = AgencyTemplate.objects.filter(organization_id=organization_id, current=True, active=True)
    for row in rows:
        found[row.key] = parse_template(row.content, shipped=False)
    return found

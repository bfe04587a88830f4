"""The comprehensive assessment as data: its sections, the questionnaires each section is made of,
and which sections each time point of home health asks.

No Django here. A template is a JSON file in content/templates/ (see comprehensive.json, which
cites its sources): `id`, `title`, `version`, `source`, `time_points` (each with `code`, `label`,
`sections`: "all" or section keys in the template's order, and `why`) and ordered `sections`
(each with `key`, `title`, `purpose`, `chart`: the chart list shown beside it, and `parts`:
`questionnaire` (a shipped Questionnaire's id), `required` and an optional `note`).

Loading checks everything a page or a signature would later trip on, and names the place: a
questionnaire Careway does not ship or cannot load, a key used twice, a time point asking for a
section that does not exist.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from . import engine, instruments

TEMPLATES = Path(__file__).parent / "content" / "templates"
COMPREHENSIVE = TEMPLATES / "comprehensive.json"

ALL_SECTIONS = "all"
CHARTS = ("conditions", "medications", "vitals", "none")
# Section keys appear in URLs and in Response.section (40 characters); template versions in
# Assessment.template_version (20).
KEY_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
KEY_LIMIT = 40
VERSION_LIMIT = 20


class TemplateError(ValueError):
    """The template cannot be used: `where` names the element (a section, a part, a time point)."""

    def __init__(self, where: str, reason: str):
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


class NotInTemplate(KeyError):
    """A section key or time point code the template does not have."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Part:
    """One questionnaire of a section."""

    questionnaire: str  # a shipped Questionnaire's id, as in instruments.shipped()
    required: bool  # its required answers must be given before the assessment is signed
    note: str = ""  # when to use it, shown beside it


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    purpose: str
    chart: str  # one of CHARTS: the chart list the page shows beside the section
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class TimePoint:
    code: str
    label: str
    sections: tuple[str, ...]  # section keys, in the template's order
    why: str = ""


@dataclass(frozen=True)
class Template:
    id: str
    title: str
    version: str
    source: str
    time_points: tuple[TimePoint, ...]
    sections: tuple[Section, ...]

    def section(self, key: str) -> Section:
        """The section with this key; NotInTemplate (a KeyError) when there is none."""
        for section in self.sections:
            if section.key == key:
                return section
        raise NotInTemplate(f"the {self.id} template has no section '{key}'")

    def time_point(self, code: str) -> TimePoint:
        """The time point with this code; NotInTemplate (a KeyError) when there is none."""
        for point in self.time_points:
            if point.code == code:
                return point
        raise NotInTemplate(f"the {self.id} template has no time point '{code}'")

    def sections_for(self, time_point: str) -> list[Section]:
        """The sections an assessment at this time point asks, in the template's order."""
        keys = set(self.time_point(time_point).sections)
        return [section for section in self.sections if section.key in keys]

    def questionnaires(self) -> list[str]:
        """Every questionnaire id the template uses, once each, in the order of the sections."""
        return list(dict.fromkeys(p.questionnaire for s in self.sections for p in s.parts))


@cache
def comprehensive() -> Template:
    """The comprehensive assessment Careway ships (content/templates/comprehensive.json)."""
    return load_template(COMPREHENSIVE)


def load_template(source: str | Path | Mapping[str, Any]) -> Template:
    """A template from a JSON file (a path) or from its already-parsed data; TemplateError
    naming the element when it cannot be used."""
    data = _read(Path(source)) if isinstance(source, str | Path) else source
    if not isinstance(data, Mapping):
        raise TemplateError("template", "must be a JSON object")
    shipped = instruments.shipped()
    sections = _sections(data.get("sections"), shipped)
    keys = tuple(section.key for section in sections)
    version = _text(data, "version", "template")
    if len(version) > VERSION_LIMIT:
        raise TemplateError("template.version", f"longer than {VERSION_LIMIT} characters")
    return Template(
        id=_text(data, "id", "template"),
        title=_text(data, "title", "template"),
        version=version,
        source=_text(data, "source", "template"),
        time_points=_time_points(data.get("time_points"), keys),
        sections=sections,
    )


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TemplateError(str(path), f"cannot be read ({error.strerror})") from error
    except ValueError as error:
        raise TemplateError(str(path), f"is not valid JSON ({error})") from error


def _text(data: Mapping[str, Any], name: str, where: str, required: bool = True) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise TemplateError(
            f"{where}.{name}", "must be a non-empty string" if required else "must be a string"
        )
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise TemplateError(where, "must be a non-empty list")
    return value


def _sections(raw: Any, shipped: Mapping[str, dict[str, Any]]) -> tuple[Section, ...]:
    sections: list[Section] = []
    seen: dict[str, str] = {}
    for index, entry in enumerate(_list(raw, "sections")):
        where = f"sections[{index}]"
        if not isinstance(entry, Mapping):
            raise TemplateError(where, "must be an object")
        key = _text(entry, "key", where)
        if not KEY_PATTERN.match(key) or len(key) > KEY_LIMIT:
            raise TemplateError(
                f"{where}.key",
                f"'{key}' must be lower-case words joined by hyphens, "
                f"at most {KEY_LIMIT} characters",
            )
        if key in seen:
            raise TemplateError(f"{where}.key", f"'{key}' is used twice (also {seen[key]})")
        seen[key] = where
        where = f"{where} '{key}'"
        chart = entry.get("chart", "none")
        if chart not in CHARTS:
            raise TemplateError(f"{where}.chart", f"'{chart}' is not one of {', '.join(CHARTS)}")
        sections.append(
            Section(
                key=key,
                title=_text(entry, "title", where),
                purpose=_text(entry, "purpose", where, required=False),
                chart=chart,
                parts=_parts(entry.get("parts"), where, shipped),
            )
        )
    return tuple(sections)


def _parts(raw: Any, section: str, shipped: Mapping[str, dict[str, Any]]) -> tuple[Part, ...]:
    parts: list[Part] = []
    for index, entry in enumerate(_list(raw, f"{section}.parts")):
        where = f"{section}.parts[{index}]"
        if not isinstance(entry, Mapping):
            raise TemplateError(where, "must be an object")
        questionnaire = _text(entry, "questionnaire", where)
        where = f"{where} '{questionnaire}'"
        if questionnaire not in shipped:
            raise TemplateError(where, f"no shipped questionnaire has the id '{questionnaire}'")
        if any(part.questionnaire == questionnaire for part in parts):
            # A section keeps one response per questionnaire.
            raise TemplateError(where, "this questionnaire is already a part of the section")
        try:
            engine.load(shipped[questionnaire])
        except engine.InstrumentError as error:
            raise TemplateError(where, f"the questionnaire does not load: {error}") from error
        required = entry.get("required")
        if not isinstance(required, bool):
            raise TemplateError(f"{where}.required", "must be true or false")
        parts.append(Part(questionnaire, required, _text(entry, "note", where, required=False)))
    return tuple(parts)


def _time_points(raw: Any, keys: tuple[str, ...]) -> tuple[TimePoint, ...]:
    points: list[TimePoint] = []
    for index, entry in enumerate(_list(raw, "time_points")):
        where = f"time_points[{index}]"
        if not isinstance(entry, Mapping):
            raise TemplateError(where, "must be an object")
        code = _text(entry, "code", where)
        if any(point.code == code for point in points):
            raise TemplateError(f"{where}.code", f"'{code}' is used twice")
        where = f"{where} '{code}'"
        points.append(
            TimePoint(
                code=code,
                label=_text(entry, "label", where),
                sections=_asked(entry.get("sections"), f"{where}.sections", keys),
                why=_text(entry, "why", where, required=False),
            )
        )
    return tuple(points)


def _asked(raw: Any, where: str, keys: tuple[str, ...]) -> tuple[str, ...]:
    if raw == ALL_SECTIONS:
        return keys
    asked = _list(raw, where)
    for key in asked:
        if key not in keys:
            raise TemplateError(where, f"'{key}' is not a section of the template")
    if len(set(asked)) != len(asked):
        raise TemplateError(where, "a section is listed twice")
    if asked != sorted(asked, key=keys.index):
        raise TemplateError(where, "sections must be listed in the template's order")
    return tuple(asked)

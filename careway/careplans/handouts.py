"""Teaching handouts: what a patient or family member is given to read, in plain words, as data.

The shipped handouts are files of content/handouts/ (one per topic, `<key>.json`, each citing the
published sources it follows and their terms), written in English and Spanish. They never change
in place: a new version of Careway ships a new version of the file. An agency may copy one and
edit the copy, or write its own (AgencyHandout rows, each edit a new version); an agency's current
handout with a shipped key is used in its place, for that agency only, and a retired one hides it.

A handout's format:

    {"key": "low-blood-sugar", "version": "1",
     "title": {"en": "...", "es": "..."}, "summary": {"en": "...", "es": "..."},
     "sections": [{"heading": {"en": "...", "es": "..."}, "style": "paragraphs" | "list",
                   "text": {"en": ["...", ...], "es": ["...", ...]}}],
     "sources": [{"title": "...", "publisher": "...", "year": "...", "url": "..."}],
     "terms": "..."}

Every text is given in each language by its code. English is always required; a shipped handout
gives every language of LANGUAGES. An agency's handout may give English only: `languages` says
which languages every one of its texts exists in, and a page shows the others in English.

One parser (`parse_handout`) checks every handout, shipped or an agency's, and names the field of
each mistake by its path ("sections[2].text.es"), so that a page or the API can say what to fix.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

CONTENT = Path(__file__).parent / "content" / "handouts"
KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,58}$")
ENGLISH = "en"
LANGUAGES = ("en", "es")
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
STYLES = ("paragraphs", "list")
LINE_LIMIT = 200  # a title, summary or heading
PARAGRAPH_LIMIT = 1_000
SECTION_LIMIT = 40
PARAGRAPHS_PER_SECTION = 40
SOURCE_FIELDS = ("title", "publisher", "year", "url")


class HandoutError(ValueError):
    """A handout that cannot be used: `errors` maps each field (as a path) to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Section:
    heading: dict[str, str]
    text: dict[str, tuple[str, ...]]
    style: str  # "paragraphs" | "list"

    def heading_in(self, lang: str) -> str:
        return self.heading.get(lang) or self.heading[ENGLISH]

    def text_in(self, lang: str) -> tuple[str, ...]:
        return self.text.get(lang) or self.text[ENGLISH]


@dataclass(frozen=True)
class Handout:
    key: str
    version: str
    title: dict[str, str]
    summary: dict[str, str]
    sections: tuple[Section, ...]
    sources: tuple[dict[str, str], ...]
    terms: str
    languages: tuple[str, ...]  # the languages every text of it exists in
    shipped: bool = True
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def title_in(self, lang: str) -> str:
        """The title in `lang`, or in English when the handout has no such translation."""
        return self.title.get(lang) or self.title[ENGLISH]

    def summary_in(self, lang: str) -> str:
        return self.summary.get(lang) or self.summary.get(ENGLISH, "")

    def in_language(self, lang: str) -> str:
        """The language the handout is shown in when `lang` is asked for."""
        return lang if lang in self.languages else ENGLISH

    def text_in(self, lang: str) -> str:
        """The whole handout in one language as plain text (title, summary, every section), for
        reading level, search and print."""
        lang = self.in_language(lang)
        parts = [self.title_in(lang), self.summary_in(lang)]
        for section in self.sections:
            parts.append(section.heading_in(lang))
            parts.extend(section.text_in(lang))
        return "\n".join(_sentence(p) for p in parts if p)


def _sentence(text: str) -> str:
    """A heading or list item ends as a sentence does, for the reading level to count it."""
    text = text.strip()
    return text if text[-1:] in ".!?:" else f"{text}."


def parse_handout(raw: Any, *, shipped: bool = True) -> Handout:
    """Read and check one handout (the format of content/handouts/); HandoutError names every
    field that is wrong. A shipped handout gives every text in every language of LANGUAGES and
    cites its sources; an agency's needs English and may add Spanish."""
    if not isinstance(raw, dict):
        raise HandoutError({"handout": "A handout is a JSON object."})
    errors: dict[str, str] = {}
    required = LANGUAGES if shipped else (ENGLISH,)
    key = raw.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        errors["key"] = "Use lowercase letters, digits and hyphens (at most 59)."
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        errors["version"] = "Required: a line of text."
    title = _texts(raw.get("title"), "title", required, errors, LINE_LIMIT)
    summary = _texts(raw.get("summary", {}), "summary", required, errors, PARAGRAPH_LIMIT, True)
    sections = _sections(raw.get("sections"), required, errors)
    sources = _sources(raw.get("sources", []), shipped, errors)
    terms = raw.get("terms", "")
    if not isinstance(terms, str) or (shipped and not terms.strip()):
        errors["terms"] = "Say the sources' terms of use, in a line of text."
    unknown = sorted(set(raw) - {"key", "version", "title", "summary", "sections", "sources",
                                 "terms", "notes"})  # fmt: skip
    for name in unknown:
        errors[name] = "Not a field of a handout."
    if errors:
        raise HandoutError(errors)
    languages = tuple(
        lang
        for lang in LANGUAGES
        if lang in title
        and (not summary or lang in summary)
        and all(lang in s.heading and lang in s.text for s in sections)
    )
    return Handout(
        key=str(key),
        version=str(version).strip(),
        title=title,
        summary=summary,
        sections=tuple(sections),
        sources=tuple(sources),
        terms=str(terms).strip(),
        languages=languages,
        shipped=shipped,
        raw=raw,
    )


def _texts(
    value: Any,
    where: str,
    required: tuple[str, ...],
    errors: dict[str, str],
    limit: int,
    optional: bool = False,
) -> dict[str, str]:
    """One line of text per language: {"en": "...", "es": "..."}."""
    if optional and value in ({}, None):
        return {}
    if not isinstance(value, dict):
        errors[where] = 'The text in each language: {"en": "...", "es": "..."}.'
        return {}
    found: dict[str, str] = {}
    for lang, text in value.items():
        path = f"{where}.{lang}"
        if lang not in LANGUAGES:
            errors[path] = f"A language of {', '.join(LANGUAGES)}."
        elif not isinstance(text, str) or not text.strip():
            errors[path] = "Required: say it in words."
        elif len(text.strip()) > limit:
            errors[path] = f"At most {limit} characters (this has {len(text.strip())})."
        else:
            found[lang] = text.strip()
    for lang in required:
        if lang not in value:
            errors[f"{where}.{lang}"] = f"Required: the text in {LANGUAGE_NAMES[lang]}."
    return found


def _paragraphs(
    value: Any, where: str, required: tuple[str, ...], errors: dict[str, str]
) -> dict[str, tuple[str, ...]]:
    """The paragraphs or list items of a section, per language: {"en": ["...", ...]}."""
    if not isinstance(value, dict):
        errors[where] = 'The text in each language: {"en": ["...", ...], "es": ["...", ...]}.'
        return {}
    found: dict[str, tuple[str, ...]] = {}
    for lang, items in value.items():
        path = f"{where}.{lang}"
        if lang not in LANGUAGES:
            errors[path] = f"A language of {', '.join(LANGUAGES)}."
            continue
        if not isinstance(items, list) or not items:
            errors[path] = "A list of paragraphs (or list items), at least one."
            continue
        if len(items) > PARAGRAPHS_PER_SECTION:
            errors[path] = f"At most {PARAGRAPHS_PER_SECTION} paragraphs: split the section."
            continue
        bad = False
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                errors[f"{path}[{index}]"] = "Required: say it in words."
                bad = True
            elif len(item.strip()) > PARAGRAPH_LIMIT:
                errors[f"{path}[{index}]"] = (
                    f"At most {PARAGRAPH_LIMIT} characters (this has {len(item.strip())})."
                )
                bad = True
        if not bad:
            found[lang] = tuple(item.strip() for item in items)
    for lang in required:
        if lang not in value:
            errors[f"{where}.{lang}"] = f"Required: the text in {LANGUAGE_NAMES[lang]}."
    return found


def _sections(value: Any, required: tuple[str, ...], errors: dict[str, str]) -> list[Section]:
    if not isinstance(value, list) or not value:
        errors["sections"] = "A list of sections, at least one."
        return []
    if len(value) > SECTION_LIMIT:
        errors["sections"] = f"At most {SECTION_LIMIT} sections."
        return []
    sections: list[Section] = []
    for index, row in enumerate(value):
        where = f"sections[{index}]"
        if not isinstance(row, dict):
            errors[where] = "Each section is a JSON object with a heading, a style and its text."
            continue
        before = len(errors)
        heading = _texts(row.get("heading"), f"{where}.heading", required, errors, LINE_LIMIT)
        text = _paragraphs(row.get("text"), f"{where}.text", required, errors)
        style = row.get("style", "paragraphs")
        if style not in STYLES:
            errors[f"{where}.style"] = f"One of {', '.join(STYLES)}."
        for name in sorted(set(row) - {"heading", "text", "style"}):
            errors[f"{where}.{name}"] = "Not a field of a section."
        if set(heading) != set(text) and len(errors) == before:
            errors[f"{where}.text"] = "Give the heading and the text in the same languages."
        if len(errors) == before:
            sections.append(Section(heading=heading, text=text, style=str(style)))
    return sections


def _sources(value: Any, shipped: bool, errors: dict[str, str]) -> list[dict[str, str]]:
    if not isinstance(value, list) or (shipped and not value):
        errors["sources"] = "Cite at least one published source: its title, publisher, year, url."
        return []
    sources: list[dict[str, str]] = []
    for index, row in enumerate(value):
        where = f"sources[{index}]"
        if not isinstance(row, dict):
            errors[where] = 'A source is an object: {"title", "publisher", "year", "url"}.'
            continue
        for name in ("title", "publisher"):
            if not isinstance(row.get(name), str) or not row[name].strip():
                errors[f"{where}.{name}"] = "Required: a line of text."
        for name in ("year", "url"):
            if name in row and not isinstance(row[name], str):
                errors[f"{where}.{name}"] = "A line of text."
        url = row.get("url", "")
        if isinstance(url, str) and url and not url.startswith(("https://", "http://")):
            errors[f"{where}.url"] = "An address starting with https://."
        for name in sorted(set(row) - set(SOURCE_FIELDS)):
            errors[f"{where}.{name}"] = "Not a field of a source."
        sources.append({name: str(row.get(name, "")).strip() for name in SOURCE_FIELDS})
    return sources


@cache
def shipped() -> dict[str, Handout]:
    """The handouts that come with Careway, by key."""
    found: dict[str, Handout] = {}
    for path in sorted(CONTENT.glob("*.json")):
        handout = parse_handout(json.loads(path.read_text(encoding="utf-8")))
        if handout.key != path.stem:
            raise HandoutError({"key": f"{path.name} holds the handout '{handout.key}'."})
        found[handout.key] = handout
    return found


def handouts_for(organization_id: int) -> dict[str, Handout]:
    """The handouts an agency uses, by key: the shipped ones, each replaced by the agency's
    current active handout of the same key where it has one (a retired one hides it), and the
    agency's own."""
    from .models import AgencyHandout

    found = dict(shipped())
    rows = AgencyHandout.objects.filter(organization_id=organization_id, current=True)
    for key, active, content in rows.values_list("key", "active", "content"):
        if active:
            found[key] = parse_handout(content, shipped=False)
        else:  # a retired copy hides Careway's handout too (a template's gives it back)
            found.pop(key, None)
    return dict(sorted(found.items(), key=lambda item: item[1].title_in(ENGLISH).lower()))


def language_for(preferred: str, available: Iterable[str]) -> str:
    """The language to show: the primary subtag of a BCP 47 tag ("es-MX" gives "es") when it is
    available, else English."""
    primary = re.split(r"[-_]", (preferred or "").strip().lower(), maxsplit=1)[0]
    return primary if primary and primary in set(available) else ENGLISH

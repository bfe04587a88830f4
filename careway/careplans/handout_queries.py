"""Reads of an agency's teaching handouts, for its handout pages and the JSON API: every handout
it has (the shipped ones and its own, one entry per key), one handout's versions, and a
handout's content as the patient reads it.

The agency's rows are AgencyHandout (careway/careplans/models.py), written only by
careway/careplans/handout_services.py; what teaching and the patient's version give is
handouts.handouts_for, which these entries agree with (a retired copy hides Careway's handout).
"""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from . import handouts
from .handouts import ENGLISH, Handout, HandoutError
from .models import AgencyHandout

SHIPPED, COPY, OWN = "shipped", "copy", "own"


@dataclass(frozen=True)
class HandoutEntry:
    """One key of the agency's handouts: Careway's handout of that key, the agency's current
    version of it, or both (its copy)."""

    key: str
    shipped: Handout | None
    agency: AgencyHandout | None

    @property
    def origin(self) -> str:
        if self.agency is None:
            return SHIPPED
        return COPY if self.shipped is not None else OWN

    @property
    def in_use(self) -> bool:
        """Whether the agency gives this handout at all (a retired one, copy or own, is not)."""
        return self.agency.active if self.agency is not None else True

    @property
    def version(self) -> str:
        """The version given: the agency's when it has one, else Careway's."""
        if self.agency is not None:
            return str(self.agency.version)
        assert self.shipped is not None
        return self.shipped.version

    @property
    def content(self) -> dict[str, Any]:
        if self.agency is not None:
            return self.agency.content
        assert self.shipped is not None
        return self.shipped.raw

    @cached_property
    def handout(self) -> Handout | None:
        """The handout given (or the retired one), or None when stored content no longer
        passes the checks."""
        if self.agency is None:
            return self.shipped
        return shown(self.content).handout

    @property
    def title(self) -> str:
        if self.agency is not None:
            return self.agency.title
        assert self.shipped is not None
        return self.shipped.title_in(ENGLISH)

    @property
    def title_es(self) -> str:
        """The Spanish title, or '' when the handout has no Spanish."""
        handout = self.handout
        return handout.title["es"] if handout is not None and "es" in handout.languages else ""

    @property
    def languages(self) -> tuple[str, ...]:
        handout = self.handout
        return handout.languages if handout is not None else ()

    @property
    def in_use_words(self) -> str:
        if self.origin == SHIPPED:
            return "Careway's handout"
        assert self.agency is not None
        if self.agency.active:
            return f"Your agency's {'copy' if self.shipped else 'handout'}, version {self.version}"
        return f"Not given: retired (version {self.agency.version})"


def entries(organization_id: int) -> list[HandoutEntry]:
    """Every handout of the agency, one per key, sorted by title (one query: the agency's
    current rows, with who changed them)."""
    shipped = handouts.shipped()
    own = {
        row.key: row
        for row in AgencyHandout.objects.filter(
            organization_id=organization_id, current=True
        ).select_related("changed_by")
    }
    found = [HandoutEntry(key, shipped.get(key), own.get(key)) for key in {*shipped, *own}]
    return sorted(found, key=lambda e: (e.title.casefold(), e.key))


def entry(organization_id: int, key: str) -> HandoutEntry | None:
    """The agency's handout `key` (Careway's, its copy, or its own), or None."""
    shipped = handouts.shipped().get(key)
    own = (
        AgencyHandout.objects.filter(organization_id=organization_id, key=key, current=True)
        .select_related("changed_by")
        .first()
    )
    if shipped is None and own is None:
        return None
    return HandoutEntry(key, shipped, own)


def versions(organization_id: int, key: str) -> list[AgencyHandout]:
    """The agency's versions of `key`, newest first, without their content."""
    return list(
        AgencyHandout.objects.filter(organization_id=organization_id, key=key)
        .select_related("changed_by")
        .defer("content")
        .order_by("-version")
    )


def version_of(organization_id: int, key: str, version: int) -> AgencyHandout | None:
    return (
        AgencyHandout.objects.filter(organization_id=organization_id, key=key, version=version)
        .select_related("changed_by")
        .first()
    )


@dataclass(frozen=True)
class Shown:
    """A handout's content as its page shows it; `errors` when stored content no longer passes
    the checks: the page says what to fix."""

    handout: Handout | None
    errors: dict[str, str] = field(default_factory=dict)


def shown(content: Any) -> Shown:
    try:
        return Shown(handouts.parse_handout(content, shipped=False))
    except HandoutError as error:
        return Shown(None, errors=error.errors)


@dataclass(frozen=True)
class SectionRead:
    heading: str
    style: str
    text: tuple[str, ...]


@dataclass(frozen=True)
class HandoutRead:
    """A handout in one language, as the patient reads it."""

    lang: str
    title: str
    summary: str
    sections: tuple[SectionRead, ...]


def read_in(handout: Handout, lang: str) -> HandoutRead:
    """`handout` in `lang`, or in English when it has no such translation."""
    lang = handout.in_language(lang)
    return HandoutRead(
        lang=lang,
        title=handout.title_in(lang),
        summary=handout.summary_in(lang),
        sections=tuple(
            SectionRead(s.heading_in(lang), s.style, s.text_in(lang)) for s in handout.sections
        ),
    )

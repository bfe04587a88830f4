"""Reads of an agency's teaching handouts, for its handout pages and the JSON API: every handout
it has (the shipped ones and its own, one entry per key, read as every kind of the agency's
content is: careway/careplans/agency_content.py), and a handout's content as the patient reads
it.

The agency's rows are AgencyHandout (careway/careplans/models.py), written only by
careway/careplans/handout_services.py; what teaching and the patient's version give is
handouts.handouts_for, which these entries agree with (a retired copy hides Careway's handout).
"""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from . import agency_content, handout_services
from .handouts import Handout
from .models import AgencyHandout


class HandoutEntry(agency_content.Entry[Handout, AgencyHandout]):
    """One key of the agency's handouts: Careway's handout of that key, the agency's current
    version of it, or both (its copy)."""

    kind = handout_services.HANDOUTS

    @cached_property
    def handout(self) -> Handout | None:
        """The handout given (or the retired one), or None when stored content no longer
        passes the checks."""
        if self.agency is None:
            return self.shipped
        return shown(self.content).handout

    @property
    def title_es(self) -> str:
        """The Spanish title, or '' when the handout has no Spanish."""
        handout = self.handout
        return handout.title["es"] if handout is not None and "es" in handout.languages else ""

    @property
    def languages(self) -> tuple[str, ...]:
        handout = self.handout
        return handout.languages if handout is not None else ()


@dataclass(frozen=True)
class Shown:
    """A handout's content as its page shows it; `errors` when stored content no longer passes
    the checks: the page says what to fix."""

    handout: Handout | None
    errors: dict[str, str] = field(default_factory=dict)


def shown(content: Any) -> Shown:
    handout, errors = handout_services.HANDOUTS.read(content)
    return Shown(handout, errors=errors)


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

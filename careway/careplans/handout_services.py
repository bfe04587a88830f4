"""Every write of an agency's teaching handouts (careway/careplans/handouts.py), written as every
kind of the agency's versioned content is (careway/careplans/agency_content.py): a copy of a
shipped handout (given in its place, for this agency only) or one of its own, each change a new
AgencyHandout row, so the version a teaching record names stays readable. Who may: the agency's
admins and supervisors (careplans.templates).
"""

from typing import Any

from careway.core import audit
from careway.core.models import Organization
from careway.core.writes import service

from . import agency_content, handouts
from .models import AgencyHandout


def _read_handout(content: Any) -> tuple[handouts.Handout | None, dict[str, str]]:
    try:
        return handouts.parse_handout(content, shipped=False), {}
    except handouts.HandoutError as error:
        return None, error.errors


HANDOUTS: agency_content.ContentKind[AgencyHandout, handouts.Handout] = agency_content.ContentKind(
    noun="handout",
    model=AgencyHandout,
    audit_prefix="careplan.handout",
    shipped=handouts.shipped,
    read=_read_handout,
    title=lambda handout: handout.title_in(handouts.ENGLISH),
    # A retired copy of a shipped handout hides Careway's handout too: the agency no longer
    # gives that handout at all (a template's gives Careway's back: services.TEMPLATES).
    retired_copy_hides_shipped=True,
    retired_words="Not given: retired",
)


@service
def copy_handout(actor: audit.Actor, organization: Organization, key: str) -> AgencyHandout:
    """A shipped handout copied as the agency's version 1, given in place of the shipped one
    from now on. Refused (naming `key`) when the agency already has its own of that key."""
    return agency_content.copy(HANDOUTS, actor, organization, key)


@service
def create_handout(
    actor: audit.Actor, organization: Organization, content: Any, note: str = ""
) -> AgencyHandout:
    """A handout of the agency's own, version 1, under the key its content names: a key no
    shipped handout and none of the agency's already has."""
    return agency_content.create(HANDOUTS, actor, organization, content, note)


@service
def save_handout(
    actor: audit.Actor,
    organization: Organization,
    key: str,
    content: Any,
    expected_version: int,
    note: str = "",
) -> AgencyHandout:
    """The agency's handout `key` changed: its next version, checked whole by
    handouts.parse_handout (a refusal names every field at fault, as "sections[2].text.es", and
    writes nothing). A stale `expected_version` raises VersionConflict. Content equal to what is
    saved writes nothing and returns the current version."""
    return agency_content.save(HANDOUTS, actor, organization, key, content, expected_version, note)


@service
def retire_handout(
    actor: audit.Actor, organization: Organization, key: str, expected_version: int, note: str = ""
) -> AgencyHandout:
    """The agency's handout no longer given (a new version, inactive): a retired copy of a
    shipped handout hides the shipped one too, for this agency."""
    return agency_content.set_active(
        HANDOUTS, actor, organization, key, expected_version, False, note
    )


@service
def restore_handout(
    actor: audit.Actor, organization: Organization, key: str, expected_version: int, note: str = ""
) -> AgencyHandout:
    """A retired handout given again (a new version, active)."""
    return agency_content.set_active(
        HANDOUTS, actor, organization, key, expected_version, True, note
    )

"""Every write of an agency's teaching handouts (careway/careplans/handouts.py), as the agency's
care plan templates are written (careway/careplans/services.py, "agency templates"): a copy of a
shipped handout (used in its place, for this agency only) or one of its own. Nothing is changed
in place: each change is a new AgencyHandout row, the next version, and the row before it stops
being current, so the version a teaching record names stays readable. The shipped files are
never written. Who may: the agency's admins and supervisors (careplans.templates).
"""

import copy
import json
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import AuditEvent, Organization
from careway.core.writes import service

from . import handouts
from .models import AgencyHandout
from .permissions import CAREPLANS_TEMPLATES
from .services import (
    NOTE_LIMIT,
    _duplicate,
    _template_note,
    _unstorable,
    may_manage_templates,
)

HANDOUT_SIZE_LIMIT = 100_000  # characters of JSON: the largest shipped handout is under 8,000
TITLE_LIMIT = AgencyHandout._meta.get_field("title").max_length or 200
# "new" is the address of the page that starts a handout (/agency/handouts/new/).
RESERVED_HANDOUT_KEYS = frozenset({"new"})
REFUSED = "Only the agency's admins and supervisors change its handouts."


def may_manage_handouts(actor: audit.Actor, organization: Organization) -> bool:
    """Whether `actor` may change `organization`'s handouts: as for its care plan templates."""
    return may_manage_templates(actor, organization)


def check_may_manage_handouts(actor: audit.Actor, organization: Organization, key: str) -> None:
    """PermissionDenied, with a denied audit event, unless `actor` may change the agency's
    handouts. Pages and the API call it before a write (a service's own refusal would roll its
    audit event back with it)."""
    if may_manage_handouts(actor, organization):
        return
    audit.record(
        actor,
        "careplan.handout.change",
        object_type=AgencyHandout._meta.label_lower,
        organization_id=organization.pk,
        outcome=AuditEvent.Outcome.DENIED,
        detail={"key": key[:60], "why": f"lacks {CAREPLANS_TEMPLATES}"},
    )
    raise PermissionDenied(REFUSED)


def _guard(actor: audit.Actor, organization: Organization) -> None:
    if not may_manage_handouts(actor, organization):
        raise PermissionDenied(REFUSED)


@service
def copy_handout(actor: audit.Actor, organization: Organization, key: str) -> AgencyHandout:
    """A shipped handout copied as the agency's version 1, given in place of the shipped one
    from now on. Refused (naming `key`) when the agency already has its own of that key."""
    _guard(actor, organization)
    shipped = handouts.shipped().get(key)
    if shipped is None:
        raise ValidationError({"key": f"No handout '{key}' is shipped with Careway."})
    if _current(organization, key) is not None:
        title = shipped.title_in(handouts.ENGLISH)
        raise ValidationError(
            {"key": _duplicate(f"Your agency already has its own '{title}': edit it.")}
        )
    row = _insert(
        actor,
        AgencyHandout(
            organization=organization,
            key=key,
            version=1,
            title=shipped.title_in(handouts.ENGLISH)[:TITLE_LIMIT],
            content={**copy.deepcopy(shipped.raw), "version": "1"},
            copied_from=f"{key}@{shipped.version}"[:80],
            note=f"Copied from Careway's handout, version {shipped.version}."[:NOTE_LIMIT],
        ),
    )
    _audit(actor, "careplan.handout.copy", row, copied_from=row.copied_from)
    return row


@service
def create_handout(
    actor: audit.Actor, organization: Organization, content: Any, note: str = ""
) -> AgencyHandout:
    """A handout of the agency's own, version 1, under the key its content names: a key no
    shipped handout and none of the agency's already has."""
    _guard(actor, organization)
    handout = _checked(content)
    key = handout.key
    if key in handouts.shipped():
        raise ValidationError(
            {"key": _duplicate(f"'{key}' is a handout shipped with Careway: copy it to change "
                               "it, or choose another key.")}
        )  # fmt: skip
    if key in RESERVED_HANDOUT_KEYS:
        raise ValidationError({"key": f"'{key}' is reserved: choose another key."})
    if AgencyHandout.objects.filter(organization=organization, key=key).exists():
        raise ValidationError({"key": _duplicate(f"Your agency already has a handout '{key}'.")})
    row = _insert(
        actor,
        AgencyHandout(
            organization=organization,
            key=key,
            version=1,
            title=handout.title_in(handouts.ENGLISH),
            content={**content, "version": "1"},
            note=_template_note(note),
        ),
    )
    _audit(actor, "careplan.handout.create", row)
    return row


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
    _guard(actor, organization)
    current = _current_for_change(organization, key, expected_version)
    handout = _checked(content, key=key)
    note = _template_note(note)
    if {**content, "version": current.content.get("version")} == current.content:
        return current
    return _next_version(
        actor,
        current,
        "careplan.handout.save",
        content=content,
        title=handout.title_in(handouts.ENGLISH),
        note=note,
    )


@service
def retire_handout(
    actor: audit.Actor, organization: Organization, key: str, expected_version: int, note: str = ""
) -> AgencyHandout:
    """The agency's handout no longer given (a new version, inactive): a retired copy of a
    shipped handout hides the shipped one too, for this agency."""
    return _set_active(actor, organization, key, expected_version, False, note)


@service
def restore_handout(
    actor: audit.Actor, organization: Organization, key: str, expected_version: int, note: str = ""
) -> AgencyHandout:
    """A retired handout given again (a new version, active)."""
    return _set_active(actor, organization, key, expected_version, True, note)


def _set_active(
    actor: audit.Actor,
    organization: Organization,
    key: str,
    expected_version: int,
    active: bool,
    note: str,
) -> AgencyHandout:
    _guard(actor, organization)
    current = _current_for_change(organization, key, expected_version)
    note = _template_note(note)
    if current.active == active:
        return current
    action = "careplan.handout.restore" if active else "careplan.handout.retire"
    return _next_version(actor, current, action, active=active, note=note)


def _current(organization: Organization, key: str) -> AgencyHandout | None:
    rows = AgencyHandout.objects.select_for_update()
    return rows.filter(organization=organization, key=key, current=True).first()


def _current_for_change(
    organization: Organization, key: str, expected_version: int
) -> AgencyHandout:
    current = _current(organization, key)
    if current is None:
        raise ValidationError(
            {"key": f"Your agency has no handout '{key}' of its own: copy or create it first."}
        )
    if current.version != expected_version:
        raise VersionConflict(current, expected_version)
    return current


def _checked(content: Any, key: str | None = None) -> handouts.Handout:
    """The handout `content` holds, or ValidationError naming every field at fault by its path
    in the handout ("sections[2].text.es"); `key` is the key it must keep."""
    errors = {("handout" if k == "template" else k): v for k, v in _unstorable(content).items()}
    if errors:
        raise ValidationError(errors)
    if len(json.dumps(content)) > HANDOUT_SIZE_LIMIT:
        raise ValidationError(
            {"handout": f"At most {HANDOUT_SIZE_LIMIT:,} characters: split it into handouts."}
        )
    handout = None
    try:
        handout = handouts.parse_handout(content, shipped=False)
    except handouts.HandoutError as error:
        errors.update(error.errors)
    changed_key = isinstance(content, dict) and content.get("key") != key
    if key is not None and "key" not in errors and changed_key:
        errors["key"] = f"Keep the key '{key}': a handout's key never changes."
    if errors or handout is None:
        raise ValidationError(errors)
    return handout


def _next_version(
    actor: audit.Actor,
    current: AgencyHandout,
    action: str,
    *,
    content: dict[str, Any] | None = None,
    title: str | None = None,
    active: bool | None = None,
    note: str = "",
) -> AgencyHandout:
    version = current.version + 1
    content = content if content is not None else current.content
    current.current = False
    current.save(update_fields=["current"])
    row = _insert(
        actor,
        AgencyHandout(
            organization_id=current.organization_id,
            key=current.key,
            version=version,
            title=title if title is not None else current.title,
            content={**content, "version": str(version)},
            copied_from=current.copied_from,
            active=current.active if active is None else active,
            note=note,
        ),
    )
    _audit(actor, action, row, previous_version=current.version)
    return row


def _insert(actor: audit.Actor, row: AgencyHandout) -> AgencyHandout:
    """Save a new current version; another person's save of the same key at the same moment
    (the one current row per key) is refused as theirs came first."""
    row.changed_by, row.changed_at = actor.user, timezone.now()
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError as error:
        raise ValidationError(
            {"key": "Someone else saved this handout at the same moment: open it again."}
        ) from error
    return row


def _audit(actor: audit.Actor, action: str, row: AgencyHandout, **detail: Any) -> None:
    audit.record(
        actor,
        action,
        obj=row,
        organization_id=row.organization_id,
        detail={"key": row.key, "version": row.version, "active": row.active,
                "note": row.note, **detail},
    )  # fmt: skip

"""An agency's versioned clinical content: its care plan templates (careway/careplans/
plan_templates.py) and its teaching handouts (careway/careplans/handouts.py), written and read
one way. Each kind describes itself once (a ContentKind: its model, its shipped files, how its
content is checked, its words) in its own services module: TEMPLATES in services.py, HANDOUTS in
handout_services.py, whose named services (copy_template, save_handout, ...) call these.

The agency copies a shipped one (used in its place, for this agency only) or writes its own.
Nothing is changed in place: each change is a new row, the next version, and the row before it
stops being current, so the version a suggestion or a teaching record names stays readable. The
shipped files are never written. Who may: the agency's admins and supervisors
(careplans.templates), or the system acting for it (the demo, the console).
"""

import copy as copying
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import AuditEvent, Organization
from careway.core.writes import service

from .models import AgencyContent
from .permissions import CAREPLANS_TEMPLATES

SIZE_LIMIT = 100_000  # characters of JSON: the largest shipped template or handout is under 8,000
DEPTH_LIMIT = 8  # a template's deepest field is 3 levels down (goals[0].key), a handout's 4
TITLE_LIMIT = AgencyContent._meta.get_field("title").max_length or 200
NOTE_LIMIT = AgencyContent._meta.get_field("note").max_length or 300
# "new" is the address of the page that starts one (/agency/care-plan-templates/new/).
RESERVED_KEYS = frozenset({"new"})

SHIPPED, COPY, OWN = "shipped", "copy", "own"


class Shipped(Protocol):
    """What a kind's parsed content has, shipped or the agency's (a PlanTemplate, a Handout)."""

    @property
    def key(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def raw(self) -> dict[str, Any]: ...


Row = TypeVar("Row", bound=AgencyContent)
Parsed = TypeVar("Parsed", bound=Shipped)


def _no_more_errors(content: dict[str, Any], found: Mapping[str, str]) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class ContentKind(Generic[Row, Parsed]):
    """One kind of the agency's content, and what differs between the kinds."""

    noun: str  # "template": in messages, and the field an error of the whole content names
    model: type[Row]
    audit_prefix: str  # "careplan.template": its events are <prefix>.copy, .save, .change, ...
    shipped: Callable[[], Mapping[str, Parsed]]
    # The agency's content read by the kind's own checks: (what it holds, or None; every field
    # at fault, by its path in the content: "goals[2].measure").
    read: Callable[[Any], tuple[Parsed | None, dict[str, str]]]
    title: Callable[[Parsed], str]  # the title its row keeps and its lists show
    # Whether a retired copy of a shipped one hides the shipped one too. The kinds differ here:
    # a retired handout copy means the agency no longer gives that handout at all, while a
    # retired template copy gives Careway's template back to the agency's suggestions.
    retired_copy_hides_shipped: bool
    retired_words: str  # a retired one no longer in use: "Not used: retired"
    # What the kind's reading leaves to whoever stores it (a template's title length, ...).
    more_errors: Callable[[dict[str, Any], Mapping[str, str]], dict[str, str]] = _no_more_errors

    @property
    def refused(self) -> str:
        return f"Only the agency's admins and supervisors change its {self.noun}s."


# --- who may -------------------------------------------------------------------------------------


def may_manage(actor: audit.Actor, organization: Organization) -> bool:
    """Whether `actor` may change `organization`'s templates and handouts: its admins and
    supervisors, or the system acting for it (the demo, the console)."""
    user = actor.user
    if user is None:
        return actor.on_behalf_of_organization_id in (None, organization.pk)
    return user.organization_id == organization.pk and user.has_perm_code(CAREPLANS_TEMPLATES)


def check_may_manage(
    kind: ContentKind[Any, Any], actor: audit.Actor, organization: Organization, key: str
) -> None:
    """PermissionDenied, with a denied audit event, unless `actor` may change the agency's
    content of this kind. Pages and the API call it before a write (a service's own refusal
    would roll its audit event back with it)."""
    if may_manage(actor, organization):
        return
    audit.record(
        actor,
        f"{kind.audit_prefix}.change",
        object_type=kind.model._meta.label_lower,
        organization_id=organization.pk,
        outcome=AuditEvent.Outcome.DENIED,
        detail={"key": key[:60], "why": f"lacks {CAREPLANS_TEMPLATES}"},
    )
    raise PermissionDenied(kind.refused)


def _guard(kind: ContentKind[Any, Any], actor: audit.Actor, organization: Organization) -> None:
    if not may_manage(actor, organization):
        raise PermissionDenied(kind.refused)


# --- writes: the pages and the API call these, and so do each kind's named services ------------


@service
def copy(
    kind: ContentKind[Row, Parsed], actor: audit.Actor, organization: Organization, key: str
) -> Row:
    """A shipped one copied as the agency's version 1, used in place of the shipped one from now
    on. Refused (naming `key`) when the agency already has its own of that key."""
    _guard(kind, actor, organization)
    shipped = kind.shipped().get(key)
    if shipped is None:
        raise ValidationError({"key": f"No {kind.noun} '{key}' is shipped with Careway."})
    title = kind.title(shipped)
    if _current(kind, organization, key) is not None:
        raise ValidationError(
            {"key": duplicate(f"Your agency already has its own '{title}': edit it.")}
        )
    row = _insert(
        kind,
        actor,
        kind.model(
            organization=organization,
            key=key,
            version=1,
            title=title[:TITLE_LIMIT],
            content={**copying.deepcopy(shipped.raw), "version": "1"},
            copied_from=f"{key}@{shipped.version}"[:80],
            note=f"Copied from Careway's {kind.noun}, version {shipped.version}."[:NOTE_LIMIT],
        ),
    )
    _audit(actor, f"{kind.audit_prefix}.copy", row, copied_from=row.copied_from)
    return row


@service
def create(
    kind: ContentKind[Row, Parsed],
    actor: audit.Actor,
    organization: Organization,
    content: Any,
    note: str,
) -> Row:
    """One of the agency's own, version 1, under the key its content names: a key nothing
    shipped and nothing of the agency's of this kind already has."""
    _guard(kind, actor, organization)
    parsed = checked(kind, content)
    key = parsed.key
    if key in kind.shipped():
        raise ValidationError(
            {"key": duplicate(f"'{key}' is a {kind.noun} shipped with Careway: copy it to "
                              "change it, or choose another key.")}
        )  # fmt: skip
    if key in RESERVED_KEYS:
        raise ValidationError({"key": f"'{key}' is reserved: choose another key."})
    if kind.model._default_manager.filter(organization=organization, key=key).exists():
        raise ValidationError({"key": duplicate(f"Your agency already has a {kind.noun} '{key}'.")})
    row = _insert(
        kind,
        actor,
        kind.model(
            organization=organization,
            key=key,
            version=1,
            title=kind.title(parsed),
            content={**content, "version": "1"},
            note=clean_note(note),
        ),
    )
    _audit(actor, f"{kind.audit_prefix}.create", row)
    return row


@service
def save(
    kind: ContentKind[Row, Parsed],
    actor: audit.Actor,
    organization: Organization,
    key: str,
    content: Any,
    expected_version: int,
    note: str,
) -> Row:
    """The agency's `key` changed: its next version, checked whole (a refusal names every field
    at fault and writes nothing). A stale `expected_version` raises VersionConflict. Content
    equal to what is saved writes nothing and returns the current version."""
    _guard(kind, actor, organization)
    current = _current_for_change(kind, organization, key, expected_version)
    parsed = checked(kind, content, key=key)
    note = clean_note(note)
    if {**content, "version": current.content.get("version")} == current.content:
        return current
    action = f"{kind.audit_prefix}.save"
    return _next_version(
        kind, actor, current, action, content=content, title=kind.title(parsed), note=note
    )


@service
def set_active(
    kind: ContentKind[Row, Parsed],
    actor: audit.Actor,
    organization: Organization,
    key: str,
    expected_version: int,
    active: bool,
    note: str,
) -> Row:
    """The agency's `key` retired (no longer used or given) or restored: a new version. What a
    retired copy does to the shipped one is the kind's (ContentKind.retired_copy_hides_shipped).
    Already so, it writes nothing and returns the current version."""
    _guard(kind, actor, organization)
    current = _current_for_change(kind, organization, key, expected_version)
    note = clean_note(note)
    if current.active == active:
        return current
    action = f"{kind.audit_prefix}.{'restore' if active else 'retire'}"
    return _next_version(kind, actor, current, action, active=active, note=note)


def duplicate(message: str) -> ValidationError:
    """A key taken already (the API answers 409, as for any duplicate)."""
    return ValidationError(message, code="unique")


def clean_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_LIMIT:
        raise ValidationError({"note": f"At most {NOTE_LIMIT} characters (this has {len(note)})."})
    return note


def _current(kind: ContentKind[Row, Any], organization: Organization, key: str) -> Row | None:
    rows = kind.model._default_manager.select_for_update()
    return rows.filter(organization=organization, key=key, current=True).first()


def _current_for_change(
    kind: ContentKind[Row, Any], organization: Organization, key: str, expected_version: int
) -> Row:
    current = _current(kind, organization, key)
    if current is None:
        raise ValidationError(
            {"key": f"Your agency has no {kind.noun} '{key}' of its own: copy or create it first."}
        )
    if current.version != expected_version:
        raise VersionConflict(current, expected_version)
    return current


def checked(kind: ContentKind[Any, Parsed], content: Any, key: str | None = None) -> Parsed:
    """What `content` holds, or ValidationError naming every field at fault by its path in the
    content ("goals[2].measure", "sections[2].text.es"); `key` is the key it must keep."""
    errors = _unstorable(content, kind.noun)
    if errors:
        raise ValidationError(errors)
    if len(json.dumps(content)) > SIZE_LIMIT:
        raise ValidationError(
            {kind.noun: f"At most {SIZE_LIMIT:,} characters: split it into {kind.noun}s."}
        )
    parsed, found = kind.read(content)
    errors = dict(found)
    if isinstance(content, dict):
        if key is not None and "key" not in errors and content.get("key") != key:
            errors["key"] = f"Keep the key '{key}': a {kind.noun}'s key never changes."
        errors.update(kind.more_errors(content, errors))
    if errors or parsed is None:
        raise ValidationError(errors)
    return parsed


def _unstorable(content: Any, whole: str) -> dict[str, str]:
    """Text no database keeps (a NUL character, half of a surrogate pair) or nesting no
    template or handout has, by the path where it is (`whole` when it is the content itself);
    walked without recursion, however deep."""
    stack: list[tuple[str, Any, int]] = [("", content, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > DEPTH_LIMIT:
            return {path or whole: "Nested too deeply to be part of a template."}
        if isinstance(value, dict):
            for name, inner in value.items():
                if not _storable(str(name)):
                    return {path or whole: "A field name holds a character no text may."}
                stack.append((f"{path}.{name}" if path else str(name), inner, depth + 1))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", inner, depth + 1) for i, inner in enumerate(value))
        elif isinstance(value, str) and not _storable(value):
            return {path or whole: "Holds a character no text may (NUL, or a broken one)."}
        elif isinstance(value, float) and not math.isfinite(value):
            return {path or whole: "A number, not NaN or infinity."}
    return {}


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _next_version(
    kind: ContentKind[Row, Any],
    actor: audit.Actor,
    current: Row,
    action: str,
    *,
    content: dict[str, Any] | None = None,
    title: str | None = None,
    active: bool | None = None,
    note: str = "",
) -> Row:
    version = current.version + 1
    content = content if content is not None else current.content
    current.current = False
    current.save(update_fields=["current"])
    row = _insert(
        kind,
        actor,
        kind.model(
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


def _insert(kind: ContentKind[Row, Any], actor: audit.Actor, row: Row) -> Row:
    """Save a new current version; another person's save of the same key at the same moment
    (the one current row per key) is refused as theirs came first."""
    row.changed_by, row.changed_at = actor.user, timezone.now()
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError as error:
        raise ValidationError(
            {"key": f"Someone else saved this {kind.noun} at the same moment: open it again."}
        ) from error
    return row


def _audit(actor: audit.Actor, action: str, row: AgencyContent, **detail: Any) -> None:
    audit.record(
        actor,
        action,
        obj=row,
        organization_id=row.organization_id,
        detail={"key": row.key, "version": row.version, "active": row.active,
                "note": row.note, **detail},
    )  # fmt: skip


# --- reads, for the pages and the JSON API -------------------------------------------------------


@dataclass(frozen=True)
class Entry(Generic[Parsed, Row]):
    """One key of the agency's content of a kind: Careway's of that key, the agency's current
    version of it, or both (its copy). Each kind's queries module names its kind."""

    kind: ClassVar[ContentKind[Any, Any]]

    key: str
    shipped: Parsed | None
    agency: Row | None

    @property
    def title(self) -> str:
        if self.agency is not None:
            return self.agency.title
        assert self.shipped is not None
        return self.kind.title(self.shipped)

    @property
    def origin(self) -> str:
        if self.agency is None:
            return SHIPPED
        return COPY if self.shipped is not None else OWN

    @property
    def agency_in_use(self) -> bool:
        return self.agency is not None and self.agency.active

    @property
    def in_use(self) -> bool:
        """Whether the agency uses (or gives) this key at all: not when its own is retired, nor
        a retired copy where that hides the shipped one (a handout's)."""
        if self.agency is None or self.agency.active:
            return True
        return self.shipped is not None and not self.kind.retired_copy_hides_shipped

    @property
    def version(self) -> str:
        """The version in use: the agency's when it has one in use (or retired, when nothing
        takes its place), else Careway's."""
        if self.agency is not None and (self.agency.active or not self.in_use):
            return str(self.agency.version)
        assert self.shipped is not None
        return self.shipped.version

    @property
    def content(self) -> dict[str, Any]:
        """The agency's current version, else Careway's."""
        if self.agency is not None:
            return self.agency.content
        assert self.shipped is not None
        return self.shipped.raw

    @property
    def in_use_words(self) -> str:
        noun = self.kind.noun
        if self.agency is None:
            return f"Careway's {noun}"
        if self.agency.active:
            return f"Your agency's {'copy' if self.shipped else noun}, version {self.version}"
        if self.in_use:
            return f"Careway's {noun} (your copy, version {self.agency.version}, is retired)"
        return f"{self.kind.retired_words} (version {self.agency.version})"


E = TypeVar("E", bound=Entry[Any, Any])


def entries(entry_type: type[E], organization_id: int) -> list[E]:
    """Every key of the agency's content of a kind, sorted by title (one query: the agency's
    current rows, with who changed them)."""
    kind = entry_type.kind
    shipped = kind.shipped()
    own = {
        row.key: row
        for row in kind.model._default_manager.filter(
            organization_id=organization_id, current=True
        ).select_related("changed_by")
    }
    found = [entry_type(key, shipped.get(key), own.get(key)) for key in {*shipped, *own}]
    return sorted(found, key=lambda e: (e.title.casefold(), e.key))


def entry(entry_type: type[E], organization_id: int, key: str) -> E | None:
    """The agency's `key` (Careway's, its copy, or its own), or None."""
    kind = entry_type.kind
    shipped = kind.shipped().get(key)
    own = (
        kind.model._default_manager.filter(organization_id=organization_id, key=key, current=True)
        .select_related("changed_by")
        .first()
    )
    if shipped is None and own is None:
        return None
    return entry_type(key, shipped, own)


def versions(kind: ContentKind[Row, Any], organization_id: int, key: str) -> list[Row]:
    """The agency's versions of `key`, newest first, without their content."""
    return list(
        kind.model._default_manager.filter(organization_id=organization_id, key=key)
        .select_related("changed_by")
        .defer("content")
        .order_by("-version")
    )


def version_of(
    kind: ContentKind[Row, Any], organization_id: int, key: str, version: int
) -> Row | None:
    return (
        kind.model._default_manager.filter(
            organization_id=organization_id, key=key, version=version
        )
        .select_related("changed_by")
        .first()
    )

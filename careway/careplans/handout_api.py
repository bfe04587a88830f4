"""The agency's teaching handouts as JSON, under /api/v1/handouts: every handout the agency has
(Careway's and its own, one per key, with the languages each is written in), one handout whole
with its versions, a shipped handout copied to be edited, a new handout of the agency's own, a
new version of one (PUT, naming the version it was made against), and retiring or restoring it.

Reading needs the patients:read scope and a role that reads charts or manages the agency's
clinical content; writing needs patients:write and careplans.templates (agency admins and
supervisors): a role without it answers 403, audited. Handouts are the caller's agency's:
another agency's own handout answers 404 as one that does not exist. A handout's errors name
their fields by the path inside `content` ("content.sections[2].text.es"), as the pages list
them; a stale version answers 412 with the current one, a missing one 428.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Path, Query, Router, Status

from careway.core import audit
from careway.core.models import AuditEvent, Organization
from careway.patients.permissions import CHART_VIEW
from careway.patients.schemas import InputSchema, OutputSchema, Version, storable_text
from careway.toolkit.api import (
    IF_MATCH,
    READ_ERRORS,
    UPDATE_ERRORS,
    WRITE_ERRORS,
    PageParams,
    etag,
    expected_version,
    operation,
)
from careway.toolkit.auth import READ, WRITE, acting_user, actor_for

from . import handout_queries, handout_services, handouts
from .handouts import KEY
from .models import AgencyHandout
from .permissions import CAREPLANS_TEMPLATES

router = Router(tags=["teaching handouts"])

HANDOUTS = "/handouts"
HANDOUT = "/handouts/{key}"
# The service's names for what is not inside the handout's content.
OWN_FIELDS = {"note"}

KEY_IN_PATH = Path(
    ..., pattern=KEY.pattern, description="The handout's key: lowercase letters, digits, hyphens."
)


class HandoutSummaryOut(OutputSchema):
    key: str
    title: str = Field(..., description="The English title.")
    titles: dict[str, str] = Field(..., description="The title in each language it has.")
    languages: list[str] = Field(
        ..., description="The languages every text of it is written in (en, es)."
    )
    origin: str = Field(
        ..., description="shipped (Careway's), copy (the agency's copy of Careway's) or own."
    )
    version: str = Field(..., description="The version given: the agency's, else Careway's.")
    in_use: bool = Field(..., description="Whether it is given to patients (not retired).")
    agency_version: int | None = Field(
        ..., description="The agency's current version (send it as If-Match to change it)."
    )
    active: bool | None = Field(..., description="False when the agency's version is retired.")
    shipped_version: str | None = Field(..., description="Careway's version of this key.")


class HandoutPage(OutputSchema):
    count: int
    next: str | None
    previous: str | None
    items: list[HandoutSummaryOut]


class HandoutVersionOut(OutputSchema):
    version: int
    active: bool
    changed_at: datetime
    changed_by: str | None
    note: str


class HandoutOut(HandoutSummaryOut):
    copied_from: str = Field(..., description="The shipped handout and version it came from.")
    content: dict[str, Any] = Field(
        ..., description="The agency's current version, else Careway's: the handout itself."
    )
    versions: list[HandoutVersionOut] = Field(..., description="The agency's, newest first.")


Note = Annotated[str, Field("", max_length=handout_services.NOTE_LIMIT, description="Why.")]


class HandoutCreate(InputSchema):
    content: dict[str, Any] = Field(..., description="The handout; its key is its address.")
    note: Note = ""


class HandoutReplace(InputSchema):
    content: dict[str, Any] = Field(..., description="The whole handout, its key unchanged.")
    note: Note = ""
    version: Version | None = Field(
        None, description='The version you read. Or send it as the header If-Match: "<version>".'
    )


class HandoutActive(InputSchema):
    note: Note = ""
    version: Version | None = Field(
        None, description='The version you read. Or send it as the header If-Match: "<version>".'
    )


def _organization(request: HttpRequest, *, write: bool, key: str = "") -> Organization:
    """The caller's agency, if they may read (or, `write`, change) its handouts; else 403."""
    user = acting_user(request)
    actor = actor_for(request)
    if user.organization is None:
        raise PermissionDenied("Only a member of an agency has teaching handouts.")
    if write:
        handout_services.check_may_manage_handouts(actor, user.organization, key)
    elif not (user.has_perm_code(CAREPLANS_TEMPLATES) or user.has_perm_code(CHART_VIEW)):
        audit.record(
            actor,
            "careplan.handout.view",
            object_type=AgencyHandout._meta.label_lower,
            organization_id=user.organization_id,
            outcome=AuditEvent.Outcome.DENIED,
            detail={"key": key, "why": "reads no charts and manages no clinical content"},
        )
        raise PermissionDenied("Your role may not read teaching handouts.")
    return user.organization


def _entry(organization: Organization, key: str) -> handout_queries.HandoutEntry:
    found = handout_queries.entry(organization.pk, key)
    if found is None:
        raise Http404("No such handout")
    return found


@contextmanager
def _fields_in_content() -> Iterator[None]:
    """A service names a handout's fields by their path in it ("sections[2].text.es"); the
    problem body names them in the request ("content.sections[2].text.es")."""
    try:
        yield
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        named = {_field(name): errors for name, errors in error.error_dict.items()}
        raise ValidationError(named) from error


def _field(name: str) -> str:
    if name in OWN_FIELDS:
        return name
    return "content" if name == "handout" else f"content.{name}"


@router.get(HANDOUTS, **operation(READ, {200: HandoutPage}, READ_ERRORS))
def list_handouts(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """Every handout of the caller's agency, one per key, sorted by English title: Careway's,
    the agency's copies of them (given in their place) and its own, retired ones included."""
    organization = _organization(request, write=False)
    found = handout_queries.entries(organization.pk)
    end = page.offset + page.limit
    return {
        "count": len(found),
        "next": _page_url(request, end, page.limit) if end < len(found) else None,
        "previous": (
            _page_url(request, max(page.offset - page.limit, 0), page.limit)
            if page.offset > 0
            else None
        ),
        "items": [_summary(e) for e in found[page.offset : end]],
    }


def _page_url(request: HttpRequest, offset: int, limit: int) -> str:
    query = request.GET.copy()
    query["offset"], query["limit"] = str(offset), str(limit)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


@router.get(HANDOUT, **operation(READ, {200: HandoutOut}, READ_ERRORS))
def get_handout(
    request: HttpRequest, response: HttpResponse, key: str = KEY_IN_PATH
) -> dict[str, Any]:
    """One handout whole: the agency's current version when it has one (its ETag is the
    version to send with a change), else Careway's; with the agency's versions."""
    organization = _organization(request, write=False, key=key)
    entry = _entry(organization, key)
    if entry.agency is not None:
        response["ETag"] = etag(entry.agency.version)
    return _whole(organization, entry)


@router.post(f"{HANDOUT}/copy", **operation(WRITE, {201: HandoutOut}, WRITE_ERRORS))
def copy_handout(request: HttpRequest, response: HttpResponse, key: str = KEY_IN_PATH) -> Status:
    """Copy Careway's handout as the agency's version 1, given in its place from now on. An
    agency that already has its own of this key answers 409 naming `key`."""
    organization = _organization(request, write=True, key=key)
    if _entry(organization, key).shipped is None:
        raise Http404("No such shipped handout")
    row = handout_services.copy_handout(actor_for(request), organization, key)
    return _created(request, response, organization, row)


@router.post(HANDOUTS, **operation(WRITE, {201: HandoutOut}, WRITE_ERRORS))
def create_handout(request: HttpRequest, payload: HandoutCreate, response: HttpResponse) -> Status:
    """A handout of the agency's own, version 1, under the key its content names (not one of
    Careway's keys, nor one the agency has: 409)."""
    organization = _organization(request, write=True, key=str(payload.content.get("key", "")))
    with _fields_in_content():
        _check_note(payload.note)
        row = handout_services.create_handout(
            actor_for(request), organization, payload.content, payload.note
        )
    return _created(request, response, organization, row)


@router.put(HANDOUT, **operation(WRITE, {200: HandoutOut}, UPDATE_ERRORS))
def replace_handout(
    request: HttpRequest,
    payload: HandoutReplace,
    response: HttpResponse,
    key: str = KEY_IN_PATH,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """The agency's handout `key` replaced whole: its next version, checked as the pages check
    it (every field at fault named). Careway's own handouts are copied first (POST .../copy);
    an unchanged handout makes no new version."""
    organization = _organization(request, write=True, key=key)
    entry = _entry(organization, key)
    if entry.agency is None:
        raise Http404(f"Your agency has no copy of '{key}': copy it first.")
    expected = expected_version(if_match, payload.version)
    with _fields_in_content():
        _check_note(payload.note)
        row = handout_services.save_handout(
            actor_for(request), organization, key, payload.content, expected, payload.note
        )
    response["ETag"] = etag(row.version)
    return _whole(organization, handout_queries.HandoutEntry(key, entry.shipped, row))


@router.post(f"{HANDOUT}/retire", **operation(WRITE, {200: HandoutOut}, UPDATE_ERRORS))
def retire_handout(
    request: HttpRequest,
    payload: HandoutActive,
    response: HttpResponse,
    key: str = KEY_IN_PATH,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """The agency's handout no longer given (a new version, inactive); a retired copy hides
    Careway's handout of the same key too."""
    return _set_active(request, payload, response, key, if_match, active=False)


@router.post(f"{HANDOUT}/restore", **operation(WRITE, {200: HandoutOut}, UPDATE_ERRORS))
def restore_handout(
    request: HttpRequest,
    payload: HandoutActive,
    response: HttpResponse,
    key: str = KEY_IN_PATH,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """A retired handout given again (a new version, active)."""
    return _set_active(request, payload, response, key, if_match, active=True)


def _set_active(
    request: HttpRequest,
    payload: HandoutActive,
    response: HttpResponse,
    key: str,
    if_match: str | None,
    *,
    active: bool,
) -> dict[str, Any]:
    organization = _organization(request, write=True, key=key)
    entry = _entry(organization, key)
    if entry.agency is None:
        raise Http404(f"Your agency has no handout '{key}' of its own: copy it first.")
    expected = expected_version(if_match, payload.version)
    change = handout_services.restore_handout if active else handout_services.retire_handout
    with _fields_in_content():
        _check_note(payload.note)
        row = change(actor_for(request), organization, key, expected, payload.note)
    response["ETag"] = etag(row.version)
    return _whole(organization, handout_queries.HandoutEntry(key, entry.shipped, row))


def _check_note(note: str) -> None:
    try:
        storable_text(note)
    except ValueError as error:
        raise ValidationError({"note": str(error)}) from error


def _created(
    request: HttpRequest, response: HttpResponse, organization: Organization, row: AgencyHandout
) -> Status:
    entry = handout_queries.HandoutEntry(row.key, handouts.shipped().get(row.key), row)
    response["ETag"] = etag(row.version)
    response["Location"] = f"/api/v1/handouts/{row.key}"
    return Status(201, _whole(organization, entry))


def _summary(entry: handout_queries.HandoutEntry) -> dict[str, Any]:
    agency = entry.agency
    handout = entry.handout
    return {
        "key": entry.key,
        "title": entry.title,
        "titles": dict(handout.title) if handout is not None else {"en": entry.title},
        "languages": list(entry.languages),
        "origin": entry.origin,
        "version": entry.version,
        "in_use": entry.in_use,
        "agency_version": agency.version if agency else None,
        "active": agency.active if agency else None,
        "shipped_version": entry.shipped.version if entry.shipped else None,
    }


def _whole(organization: Organization, entry: handout_queries.HandoutEntry) -> dict[str, Any]:
    agency = entry.agency
    versions = handout_queries.versions(organization.pk, entry.key) if agency else []
    return {
        **_summary(entry),
        "copied_from": agency.copied_from if agency else "",
        "content": entry.content,
        "versions": [
            {
                "version": v.version,
                "active": v.active,
                "changed_at": v.changed_at,
                "changed_by": v.changed_by.display_name if v.changed_by else None,
                "note": v.note,
            }
            for v in versions
        ],
    }

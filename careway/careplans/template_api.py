"""The agency's care plan templates as JSON, under /api/v1/care-plan-templates: every template the
agency uses (Careway's and its own, one per key), one template whole with its versions, a
shipped template copied to be edited, a new template of the agency's own, and a new version
of one (PUT, naming the version it was made against).

Reading needs the patients:read scope and a role that reads charts or manages templates;
writing needs patients:write and careplans.templates (agency admins and supervisors): a role
without it answers 403, audited. Templates are the caller's agency's: another agency's own
template answers 404 as one that does not exist. A template's errors name their fields by the
path inside `content` ("content.goals[2].measure"), as the pages list them; a stale version
answers 412 with the current one, a missing one 428.
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

from . import plan_templates, services, template_queries
from .models import AgencyTemplate
from .permissions import CAREPLANS_TEMPLATES
from .plan_templates import KEY

router = Router(tags=["care plan templates"])

TEMPLATES = "/care-plan-templates"
TEMPLATE = "/care-plan-templates/{key}"
# The service's names for what is not inside the template's content.
OWN_FIELDS = {"note"}

KEY_IN_PATH = Path(
    ..., pattern=KEY.pattern, description="The template's key: lowercase letters, digits, hyphens."
)


class TemplateSummaryOut(OutputSchema):
    key: str
    title: str
    origin: str = Field(
        ..., description="shipped (Careway's), copy (the agency's copy of Careway's) or own."
    )
    version: str = Field(..., description="The version suggestions use.")
    in_use: bool = Field(..., description="Whether suggestions use this template at all.")
    agency_in_use: bool = Field(..., description="Whether the agency's own version is in use.")
    agency_version: int | None = Field(
        ..., description="The agency's current version (send it as If-Match to change it)."
    )
    active: bool | None = Field(..., description="False when the agency's version is retired.")
    shipped_version: str | None = Field(..., description="Careway's version of this key.")


class TemplatePage(OutputSchema):
    count: int
    next: str | None
    previous: str | None
    items: list[TemplateSummaryOut]


class TemplateVersionOut(OutputSchema):
    version: int
    active: bool
    changed_at: datetime
    changed_by: str | None
    note: str


class TemplateOut(TemplateSummaryOut):
    copied_from: str = Field(..., description="The shipped template and version it came from.")
    content: dict[str, Any] = Field(
        ..., description="The agency's current version, else Careway's: the template itself."
    )
    versions: list[TemplateVersionOut] = Field(..., description="The agency's, newest first.")


Note = Annotated[str, Field("", max_length=services.NOTE_LIMIT, description="What and why.")]


class TemplateCreate(InputSchema):
    content: dict[str, Any] = Field(..., description="The template; its key is its address.")
    note: Note = ""


class TemplateReplace(InputSchema):
    content: dict[str, Any] = Field(..., description="The whole template, its key unchanged.")
    note: Note = ""
    version: Version | None = Field(
        None, description='The version you read. Or send it as the header If-Match: "<version>".'
    )


def _organization(request: HttpRequest, *, write: bool, key: str = "") -> Organization:
    """The caller's agency, if they may read (or, `write`, change) its templates; else 403."""
    user = acting_user(request)
    actor = actor_for(request)
    if user.organization is None:
        raise PermissionDenied("Only a member of an agency has care plan templates.")
    if write:
        services.check_may_manage_templates(actor, user.organization, key)
    elif not (user.has_perm_code(CAREPLANS_TEMPLATES) or user.has_perm_code(CHART_VIEW)):
        audit.record(
            actor,
            "careplan.template.view",
            object_type=AgencyTemplate._meta.label_lower,
            organization_id=user.organization_id,
            outcome=AuditEvent.Outcome.DENIED,
            detail={"key": key, "why": "reads no charts and manages no templates"},
        )
        raise PermissionDenied("Your role may not read care plan templates.")
    return user.organization


def _entry(organization: Organization, key: str) -> template_queries.TemplateEntry:
    found = template_queries.entry(organization.pk, key)
    if found is None:
        raise Http404("No such template")
    return found


@contextmanager
def _fields_in_content() -> Iterator[None]:
    """A service names a template's fields by their path in it ("goals[2].measure"); the
    problem body names them in the request ("content.goals[2].measure")."""
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
    return "content" if name == "template" else f"content.{name}"


@router.get(TEMPLATES, **operation(READ, {200: TemplatePage}, READ_ERRORS))
def list_templates(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """Every template of the caller's agency, one per key, sorted by title: Careway's, the
    agency's copies of them (used in their place) and its own."""
    organization = _organization(request, write=False)
    found = template_queries.entries(organization.pk)
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


@router.get(TEMPLATE, **operation(READ, {200: TemplateOut}, READ_ERRORS))
def get_template(
    request: HttpRequest, response: HttpResponse, key: str = KEY_IN_PATH
) -> dict[str, Any]:
    """One template whole: the agency's current version when it has one (its ETag is the
    version to send with a change), else Careway's; with the agency's versions."""
    organization = _organization(request, write=False, key=key)
    entry = _entry(organization, key)
    if entry.agency is not None:
        response["ETag"] = etag(entry.agency.version)
    return _whole(organization, entry)


@router.post(f"{TEMPLATE}/copy", **operation(WRITE, {201: TemplateOut}, WRITE_ERRORS))
def copy_template(request: HttpRequest, response: HttpResponse, key: str = KEY_IN_PATH) -> Status:
    """Copy Careway's template as the agency's version 1, used in its place from now on. An
    agency that already has its own of this key answers 409 naming `key`."""
    organization = _organization(request, write=True, key=key)
    if _entry(organization, key).shipped is None:
        raise Http404("No such shipped template")
    row = services.copy_template(actor_for(request), organization, key)
    return _created(request, response, organization, row)


@router.post(TEMPLATES, **operation(WRITE, {201: TemplateOut}, WRITE_ERRORS))
def create_template(
    request: HttpRequest, payload: TemplateCreate, response: HttpResponse
) -> Status:
    """A template of the agency's own, version 1, under the key its content names (not one of
    Careway's keys, nor one the agency has: 409)."""
    organization = _organization(request, write=True, key=str(payload.content.get("key", "")))
    with _fields_in_content():
        _check_note(payload.note)
        row = services.create_template(
            actor_for(request), organization, payload.content, payload.note
        )
    return _created(request, response, organization, row)


@router.put(TEMPLATE, **operation(WRITE, {200: TemplateOut}, UPDATE_ERRORS))
def replace_template(
    request: HttpRequest,
    payload: TemplateReplace,
    response: HttpResponse,
    key: str = KEY_IN_PATH,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """The agency's template `key` replaced whole: its next version, checked as the pages
    check it (every field at fault named). Careway's own templates are copied first (POST
    .../copy); an unchanged template makes no new version."""
    organization = _organization(request, write=True, key=key)
    entry = _entry(organization, key)
    if entry.agency is None:
        raise Http404(f"Your agency has no copy of '{key}': copy it first.")
    expected = expected_version(if_match, payload.version)
    with _fields_in_content():
        _check_note(payload.note)
        row = services.save_template(
            actor_for(request), organization, key, payload.content, expected, payload.note
        )
    response["ETag"] = etag(row.version)
    return _whole(organization, template_queries.TemplateEntry(key, entry.shipped, row))


def _check_note(note: str) -> None:
    try:
        storable_text(note)
    except ValueError as error:
        raise ValidationError({"note": str(error)}) from error


def _created(
    request: HttpRequest, response: HttpResponse, organization: Organization, row: AgencyTemplate
) -> Status:
    entry = template_queries.TemplateEntry(row.key, plan_templates.shipped().get(row.key), row)
    response["ETag"] = etag(row.version)
    response["Location"] = f"/api/v1/care-plan-templates/{row.key}"
    return Status(201, _whole(organization, entry))


def _summary(entry: template_queries.TemplateEntry) -> dict[str, Any]:
    agency = entry.agency
    return {
        "key": entry.key,
        "title": entry.title,
        "origin": entry.origin,
        "version": entry.version,
        "in_use": entry.in_use,
        "agency_in_use": entry.agency_in_use,
        "agency_version": agency.version if agency else None,
        "active": agency.active if agency else None,
        "shipped_version": entry.shipped.version if entry.shipped else None,
    }


def _whole(organization: Organization, entry: template_queries.TemplateEntry) -> dict[str, Any]:
    agency = entry.agency
    if agency is not None:
        content = agency.content
    else:
        assert entry.shipped is not None  # an entry has one or the other
        content = entry.shipped.raw
    versions = template_queries.versions(organization.pk, entry.key) if agency else []
    return {
        **_summary(entry),
        "copied_from": agency.copied_from if agency else "",
        "content": content,
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

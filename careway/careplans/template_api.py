"""The agency's care plan templates as JSON, under /api/v1/care-plan-templates: every template the
agency uses (Careway's and its own, one per key), one template whole with its versions, a
shipped template copied to be edited, a new template of the agency's own, and a new version
of one (PUT, naming the version it was made against). The endpoints answer as every kind of the
agency's content does (careway/careplans/agency_content_api.py).

Reading needs the patients:read scope and a role that reads charts or manages templates;
writing needs patients:write and careplans.templates (agency admins and supervisors): a role
without it answers 403, audited. Templates are the caller's agency's: another agency's own
template answers 404 as one that does not exist. A template's errors name their fields by the
path inside `content` ("content.goals[2].measure"), as the pages list them; a stale version
answers 412 with the current one, a missing one 428.
"""

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Path, Query, Router, Status

from careway.patients.schemas import InputSchema, OutputSchema, Version
from careway.toolkit.api import (
    IF_MATCH,
    READ_ERRORS,
    UPDATE_ERRORS,
    WRITE_ERRORS,
    PageParams,
    operation,
)
from careway.toolkit.auth import READ, WRITE

from . import agency_content, template_queries
from .agency_content_api import ContentApi, ContentVersionOut
from .plan_templates import KEY

router = Router(tags=["care plan templates"])

TEMPLATES = "/care-plan-templates"
TEMPLATE = "/care-plan-templates/{key}"

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


class TemplateVersionOut(ContentVersionOut):
    pass


class TemplateOut(TemplateSummaryOut):
    copied_from: str = Field(..., description="The shipped template and version it came from.")
    content: dict[str, Any] = Field(
        ..., description="The agency's current version, else Careway's: the template itself."
    )
    versions: list[TemplateVersionOut] = Field(..., description="The agency's, newest first.")


Note = Annotated[str, Field("", max_length=agency_content.NOTE_LIMIT, description="What and why.")]


class TemplateCreate(InputSchema):
    content: dict[str, Any] = Field(..., description="The template; its key is its address.")
    note: Note = ""


class TemplateReplace(InputSchema):
    content: dict[str, Any] = Field(..., description="The whole template, its key unchanged.")
    note: Note = ""
    version: Version | None = Field(
        None, description='The version you read. Or send it as the header If-Match: "<version>".'
    )


API = ContentApi(
    entry_type=template_queries.TemplateEntry,
    path=TEMPLATES,
    plural="care plan templates",
    manages="templates",
    summary_extra=lambda entry: {"agency_in_use": entry.agency_in_use},
)


@router.get(TEMPLATES, **operation(READ, {200: TemplatePage}, READ_ERRORS))
def list_templates(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """Every template of the caller's agency, one per key, sorted by title: Careway's, the
    agency's copies of them (used in their place) and its own."""
    return API.list(request, page)


@router.get(TEMPLATE, **operation(READ, {200: TemplateOut}, READ_ERRORS))
def get_template(
    request: HttpRequest, response: HttpResponse, key: str = KEY_IN_PATH
) -> dict[str, Any]:
    """One template whole: the agency's current version when it has one (its ETag is the
    version to send with a change), else Careway's; with the agency's versions."""
    return API.get(request, response, key)


@router.post(f"{TEMPLATE}/copy", **operation(WRITE, {201: TemplateOut}, WRITE_ERRORS))
def copy_template(request: HttpRequest, response: HttpResponse, key: str = KEY_IN_PATH) -> Status:
    """Copy Careway's template as the agency's version 1, used in its place from now on. An
    agency that already has its own of this key answers 409 naming `key`."""
    return API.copy(request, response, key)


@router.post(TEMPLATES, **operation(WRITE, {201: TemplateOut}, WRITE_ERRORS))
def create_template(
    request: HttpRequest, payload: TemplateCreate, response: HttpResponse
) -> Status:
    """A template of the agency's own, version 1, under the key its content names (not one of
    Careway's keys, nor one the agency has: 409)."""
    return API.create(request, response, payload.content, payload.note)


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
    return API.replace(request, response, key, payload, if_match)

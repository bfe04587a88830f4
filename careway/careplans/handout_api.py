"""The agency's teaching handouts as JSON, under /api/v1/handouts: every handout the agency has
(Careway's and its own, one per key, with the languages each is written in), one handout whole
with its versions, a shipped handout copied to be edited, a new handout of the agency's own, a
new version of one (PUT, naming the version it was made against), and retiring or restoring it.
The endpoints answer as every kind of the agency's content does
(careway/careplans/agency_content_api.py).

Reading needs the patients:read scope and a role that reads charts or manages the agency's
clinical content; writing needs patients:write and careplans.templates (agency admins and
supervisors): a role without it answers 403, audited. Handouts are the caller's agency's:
another agency's own handout answers 404 as one that does not exist. A handout's errors name
their fields by the path inside `content` ("content.sections[2].text.es"), as the pages list
them; a stale version answers 412 with the current one, a missing one 428.
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

from . import agency_content, handout_queries
from .agency_content_api import ContentApi, ContentVersionOut
from .handouts import KEY

router = Router(tags=["teaching handouts"])

HANDOUTS = "/handouts"
HANDOUT = "/handouts/{key}"

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


class HandoutVersionOut(ContentVersionOut):
    pass


class HandoutOut(HandoutSummaryOut):
    copied_from: str = Field(..., description="The shipped handout and version it came from.")
    content: dict[str, Any] = Field(
        ..., description="The agency's current version, else Careway's: the handout itself."
    )
    versions: list[HandoutVersionOut] = Field(..., description="The agency's, newest first.")


Note = Annotated[str, Field("", max_length=agency_content.NOTE_LIMIT, description="Why.")]


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


API = ContentApi(
    entry_type=handout_queries.HandoutEntry,
    path=HANDOUTS,
    plural="teaching handouts",
    manages="clinical content",
    summary_extra=lambda entry: {
        "titles": dict(entry.handout.title) if entry.handout is not None else {"en": entry.title},
        "languages": list(entry.languages),
    },
)


@router.get(HANDOUTS, **operation(READ, {200: HandoutPage}, READ_ERRORS))
def list_handouts(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """Every handout of the caller's agency, one per key, sorted by English title: Careway's,
    the agency's copies of them (given in their place) and its own, retired ones included."""
    return API.list(request, page)


@router.get(HANDOUT, **operation(READ, {200: HandoutOut}, READ_ERRORS))
def get_handout(
    request: HttpRequest, response: HttpResponse, key: str = KEY_IN_PATH
) -> dict[str, Any]:
    """One handout whole: the agency's current version when it has one (its ETag is the
    version to send with a change), else Careway's; with the agency's versions."""
    return API.get(request, response, key)


@router.post(f"{HANDOUT}/copy", **operation(WRITE, {201: HandoutOut}, WRITE_ERRORS))
def copy_handout(request: HttpRequest, response: HttpResponse, key: str = KEY_IN_PATH) -> Status:
    """Copy Careway's handout as the agency's version 1, given in its place from now on. An
    agency that already has its own of this key answers 409 naming `key`."""
    return API.copy(request, response, key)


@router.post(HANDOUTS, **operation(WRITE, {201: HandoutOut}, WRITE_ERRORS))
def create_handout(request: HttpRequest, payload: HandoutCreate, response: HttpResponse) -> Status:
    """A handout of the agency's own, version 1, under the key its content names (not one of
    Careway's keys, nor one the agency has: 409)."""
    return API.create(request, response, payload.content, payload.note)


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
    return API.replace(request, response, key, payload, if_match)


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
    return API.set_active(request, response, key, payload, if_match, active=False)


@router.post(f"{HANDOUT}/restore", **operation(WRITE, {200: HandoutOut}, UPDATE_ERRORS))
def restore_handout(
    request: HttpRequest,
    payload: HandoutActive,
    response: HttpResponse,
    key: str = KEY_IN_PATH,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """A retired handout given again (a new version, active)."""
    return API.set_active(request, response, key, payload, if_match, active=True)

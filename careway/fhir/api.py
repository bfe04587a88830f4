"""The FHIR R4 REST API under /fhir/R4/: capability statement, read, vread and search of the types
whose mapping declares a search, and create (and update) of those that declare a write: today
Patient and Observation are created and updated, QuestionnaireResponse only created.

Nothing here knows a resource type: each one's declaration (careway/fhir/mapping/<type>.py, see
careway/fhir/mapping/__init__.py) says how it is searched, read and written, and this module does
the rest the same way for every type.

The same rules hold here as everywhere in Careway. A request acts as the user of its bearer token
(scope fhir:read to read, fhir:write to write); it sees only the patients that user may see
(careway.patients.access), and anything else, another agency's patient or their records, answers 404
exactly as what does not exist, while searches simply leave it out, counts included. Every read
and search is audited with the patients shown; every write goes through a service in
careway/patients/services.py, which audits it and keeps the version it replaces. Records become
resources through careway.fhir.mapping only, so what this API serves is what export writes and
import reads. Errors are OperationOutcome resources naming the element or parameter at fault.

Assessments. Each questionnaire's answers in an assessment are a QuestionnaireResponse, and each
current score an Observation (category survey) derived from it: searched with the chart's own
Observations (a further declaration of Observation, mapping/score.py), read-only, never updated
here. A completed QuestionnaireResponse may be created: careway/assessments/services.py files it
as a signed assessment and scores it; answers that do not fit the agency's Questionnaire answer
422 naming the element.
"""

import json
import logging
import math
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import (
    NON_FIELD_ERRORS,
    PermissionDenied,
    RequestDataTooBig,
    ValidationError,
)
from django.db import DataError, IntegrityError, models, transaction
from django.db.models import CharField, F, Value
from django.db.models.functions import Cast, LPad
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import ApiToken, AuditEvent, Organization, User
from careway.core.permissions import Permission
from careway.patients import access, history
from careway.patients.access import Action
from careway.patients.models import Patient
from careway.toolkit.auth import TokenRefused, bearer_token, usable_token

from . import mapping, search
from .errors import FhirError
from .mapping import Invalid, Located, NotSupported, ResourceDeclaration, Write, Written
from .mapping.questionnaire_response import Unprocessable

logger = logging.getLogger(__name__)

READ_SCOPE = "fhir:read"
WRITE_SCOPE = "fhir:write"
FHIR_JSON = "application/fhir+json"
PLAIN_JSON = "application/json"
JSON_FORMATS = frozenset({"json", PLAIN_JSON, FHIR_JSON})
FHIR_VERSION = "4.0.1"
WWW_AUTHENTICATE = 'Bearer realm="careway"'
MAX_VERSION = 2**31 - 1


def operation_outcome(
    code: str, diagnostics: str, expression: str = "", severity: str = "error"
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


# --- formats -------------------------------------------------------------------------------------


def _media_type(value: str) -> str:
    # An unencoded '+' in a query string arrives as a space.
    return value.split(";")[0].strip().lower().replace(" ", "+")


def _accepted(request: HttpRequest) -> set[str]:
    header = request.headers.get("Accept", "")
    return {_media_type(part) for part in header.split(",") if part.strip()}


def _check_format(request: HttpRequest) -> None:
    """406 unless the client accepts JSON: Careway speaks FHIR JSON only (no XML, no Turtle)."""
    requested = request.GET.get("_format")
    if requested is not None and _media_type(requested) not in JSON_FORMATS:
        raise FhirError(
            406, "not-supported", "Careway answers in JSON only: use _format=json.", "_format"
        )
    accepted = _accepted(request)
    if accepted and not accepted & {FHIR_JSON, PLAIN_JSON, "*/*", "application/*"}:
        raise FhirError(
            406, "not-supported", "Careway answers in application/fhir+json only.", "Accept"
        )


def _answer_type(request: HttpRequest) -> str:
    """application/json when that is what the client asked for, else application/fhir+json."""
    requested = request.GET.get("_format")
    if requested is not None:
        return PLAIN_JSON if _media_type(requested) == PLAIN_JSON else FHIR_JSON
    accepted = _accepted(request)
    return PLAIN_JSON if PLAIN_JSON in accepted and FHIR_JSON not in accepted else FHIR_JSON


def _respond(
    request: HttpRequest,
    body: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type=f"{_answer_type(request)}; charset=utf-8",
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _read_body(request: HttpRequest) -> dict[str, Any]:
    content_type = _media_type(request.content_type or "")
    if content_type not in (FHIR_JSON, PLAIN_JSON):
        raise FhirError(
            415, "not-supported", "Send the resource as application/fhir+json.", "Content-Type"
        )
    try:
        body = json.loads(request.body, parse_constant=_not_a_number, parse_float=_finite)
    except (ValueError, RecursionError):
        raise FhirError(400, "structure", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise FhirError(400, "structure", "The body must be one FHIR resource (a JSON object).")
    _check_storable(body, str(body.get("resourceType") or "resource"))
    return body


def _not_a_number(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number")
    return value


def _check_storable(value: Any, path: str) -> None:
    """Refuse text no database column can hold (NUL, unpaired surrogates), naming the element."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise FhirError(400, "invalid", f"{path}: not valid Unicode text.", path) from None
        if "\x00" in value:
            raise FhirError(400, "invalid", f"{path}: contains a NUL character.", path)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{path}[{index}]")


# --- the frame of every endpoint ----------------------------------------------------------------


def endpoint(methods: Sequence[str]) -> Callable[..., Callable[..., HttpResponse]]:
    """Answer only `methods`, in JSON, with every failure as an OperationOutcome.

    Token authentication needs no CSRF protection: a browser never sends the token by itself.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def run(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                if request.method not in methods:
                    raise FhirError(
                        405,
                        "not-supported",
                        f"{request.method} is not supported here; use {', '.join(methods)}.",
                        headers={"Allow": ", ".join(methods)},
                    )
                _check_format(request)
                return view(request, *args, **kwargs)
            except Exception as exc:  # each kind is answered in _failure
                return _failure(request, exc)

        return run

    return decorate


def _failure(request: HttpRequest, exc: Exception) -> HttpResponse:
    error = _as_fhir_error(exc)
    if error.status >= 500:
        logger.error("Unexpected error on %s %s", request.method, request.path, exc_info=exc)
    body = operation_outcome(error.code, str(error), error.expression)
    return _respond(request, body, error.status, error.headers)


def _as_fhir_error(exc: Exception) -> FhirError:
    if isinstance(exc, FhirError):
        return exc
    if isinstance(exc, search.SearchError):
        return FhirError(400, exc.code, str(exc), exc.param)
    if isinstance(exc, Unprocessable):
        return FhirError(422, exc.code, f"{exc.path}: {exc.reason}", exc.path)
    if isinstance(exc, Invalid):
        return FhirError(400, "invalid", f"{exc.path}: {exc.reason}", exc.path)
    if isinstance(exc, NotSupported):
        return FhirError(400, "not-supported", f"Careway does not take in {exc} resources here.")
    if isinstance(exc, Http404):
        return FhirError(404, "not-found", "There is no such resource, or it is not yours to see.")
    if isinstance(exc, PermissionDenied):
        return FhirError(403, "forbidden", str(exc) or "You may not do this.")
    if isinstance(exc, VersionConflict):
        version = exc.current.version
        return FhirError(
            412,
            "conflict",
            f"{exc}. Read it again, apply your change to version {version}, and send that.",
            "If-Match",
            headers={"ETag": f'W/"{version}"'},
        )
    if isinstance(exc, ValidationError):
        return _validation_error(exc, {})
    if isinstance(exc, RequestDataTooBig):
        return FhirError(413, "too-long", "The body is larger than Careway accepts.")
    if isinstance(exc, DataError | OverflowError):
        return FhirError(400, "invalid", "A value is outside what Careway can store.")
    if isinstance(exc, IntegrityError):
        return FhirError(
            409, "conflict", "This conflicts with a record saved at the same moment; try again."
        )
    return FhirError(500, "exception", "Something went wrong on our side. It has been logged.")


_UNIQUE = ("unique", "unique_together")


def _validation_error(exc: ValidationError, elements: Mapping[str, str]) -> FhirError:
    """A service refused the data: name the first field at fault, and its element (`elements`:
    those of the type being written)."""
    if not hasattr(exc, "error_dict"):
        return FhirError(400, "invalid", " ".join(exc.messages))
    name, errors = next(iter(exc.error_dict.items()))
    error = errors[0]
    code = "duplicate" if error.code in _UNIQUE else "invalid"
    if name == NON_FIELD_ERRORS:
        fields = list((error.params or {}).get("unique_check", ()))
        name = next((f for f in fields if f not in ("organization", "patient")), "")
    message = " ".join(error.messages)
    element = elements.get(name, "")
    return FhirError(400, code, f"{name}: {message}" if name else message, element)


@contextmanager
def _elements_named(resource: ResourceDeclaration) -> Iterator[None]:
    """While writing `resource`: a service's ValidationError names the element at fault."""
    try:
        yield
    except ValidationError as error:
        raise _validation_error(error, resource.elements) from None


# --- who is asking ------------------------------------------------------------------------------


def authenticate(request: HttpRequest, scope: str) -> audit.Actor:
    """The actor of a request with a bearer token holding `scope`: 401 without one, 403 when the
    token lacks the scope (careway/toolkit/auth.py, as for /api/v1). Only tokens count here; a
    browser session does not."""
    return authenticate_token(request, scope)[0]


def authenticate_token(request: HttpRequest, scope: str) -> tuple[audit.Actor, ApiToken]:
    """The actor, as authenticate() gives it, and the token it presented."""
    raw = bearer_token(request)
    if raw is None:
        raise FhirError(
            401,
            "login",
            "Send Authorization: Bearer <token> (a Careway API token with the FHIR scopes).",
            headers={"WWW-Authenticate": WWW_AUTHENTICATE},
        )
    try:
        token = usable_token(request, raw, scope, via="fhir")
    except TokenRefused as refused:
        if refused.status == 403:
            raise FhirError(403, "forbidden", refused.reason) from None
        raise FhirError(
            401,
            "login",
            refused.reason,
            headers={"WWW-Authenticate": f'{WWW_AUTHENTICATE}, error="invalid_token"'},
        ) from None
    actor = audit.Actor(user=token.user, client_address=audit.client_address(request), via="fhir")
    return actor, token


def _user(actor: audit.Actor) -> User:
    assert actor.user is not None  # authenticate() always gives a user
    return actor.user


# --- resource types served ----------------------------------------------------------------------


def served_types() -> dict[str, ResourceDeclaration]:
    """The resource types this API serves: those whose declaration says how to search them and
    how to write them as FHIR, in the order of the declarations."""
    return {
        declared.name: declared
        for declared in mapping.declarations()
        if declared.search is not None and declared.to_fhir is not None
    }


def _search_of(resource: ResourceDeclaration) -> search.SearchDeclaration:
    assert resource.search is not None  # every type served has one (served_types)
    return resource.search


def _sources(
    resource: ResourceDeclaration,
) -> list[tuple[ResourceDeclaration, search.SearchDeclaration]]:
    """The declarations of the records served as a type, each with how its rows are searched:
    the type's own first, then further ones (an assessment's scores among Observations)."""
    return [(s, s.search) for s in mapping.sources(resource.name) if s.search is not None]


def _write_of(resource: ResourceDeclaration) -> Write | None:
    """How this API writes the type; None when it is read-only here."""
    return resource.write if resource.from_fhir is not None else None


def _resource_type(name: str) -> ResourceDeclaration:
    resource = served_types().get(name)
    if resource is None:
        raise FhirError(
            404,
            "not-supported",
            f"Careway does not serve {name} resources; /fhir/R4/metadata lists what it does.",
        )
    return resource


def _base_url(request: HttpRequest) -> str:
    """The absolute URL of the FHIR base, ending in '/'."""
    metadata_path = reverse("fhir_metadata")
    return request.build_absolute_uri(metadata_path[: -len("metadata")])


def _render(
    resource: ResourceDeclaration, record: models.Model, members: Sequence[Any], part: int = 0
) -> dict:
    return mapping.to_fhir(resource.name, record, members=members, part=part)


def _version_headers(rendered: dict[str, Any]) -> dict[str, str]:
    meta = rendered.get("meta", {})
    headers = {}
    if meta.get("versionId"):
        headers["ETag"] = f'W/"{meta["versionId"]}"'
    if meta.get("lastUpdated"):
        headers["Last-Modified"] = http_date(
            datetime.fromisoformat(meta["lastUpdated"]).timestamp()
        )
    return headers


# --- views --------------------------------------------------------------------------------------


@endpoint(("GET",))
def metadata(request: HttpRequest) -> HttpResponse:
    """What this server supports, for clients to discover; needs no token."""
    return _respond(request, capability_statement(request))


@endpoint(("GET", "POST"))
def type_endpoint(request: HttpRequest, resource_type: str) -> HttpResponse:
    if request.method == "POST":
        actor = authenticate(request, WRITE_SCOPE)
        return _create(request, actor, _resource_type(resource_type))
    actor = authenticate(request, READ_SCOPE)
    return _search(request, actor, _resource_type(resource_type))


@endpoint(("GET", "PUT"))
def instance_endpoint(request: HttpRequest, resource_type: str, resource_id: str) -> HttpResponse:
    if request.method == "PUT":
        actor = authenticate(request, WRITE_SCOPE)
        return _update(request, actor, _resource_type(resource_type), resource_id)
    actor = authenticate(request, READ_SCOPE)
    return _read(request, actor, _resource_type(resource_type), resource_id)


@endpoint(("GET",))
def vread_endpoint(
    request: HttpRequest, resource_type: str, resource_id: str, version_id: str
) -> HttpResponse:
    actor = authenticate(request, READ_SCOPE)
    return _vread(request, actor, _resource_type(resource_type), resource_id, version_id)


@endpoint(("GET", "POST", "PUT", "PATCH", "DELETE"))
def unknown_endpoint(request: HttpRequest) -> HttpResponse:
    """Anything else under /fhir/R4/ (history, operations, batches): not supported here."""
    authenticate(request, READ_SCOPE if request.method == "GET" else WRITE_SCOPE)
    raise FhirError(
        404,
        "not-supported",
        "Careway does not support this FHIR interaction; /fhir/R4/metadata lists what it does.",
    )


# --- read and vread -----------------------------------------------------------------------------


def _locate(
    actor: audit.Actor, resource: ResourceDeclaration, ident: str, action: Action
) -> tuple[ResourceDeclaration, Located]:
    """The record (and a group's members) behind one id, if `actor` may `action` its patient, and
    the declaration of the records it is one of (the type's own, or a further one's).

    Anything else is NotVisible (404), audited by careway.patients.access like every denial.
    """
    declared = _search_of(resource)
    if declared.of_patients:
        where = declared.by_id(ident)
        patient = access.get_patient_for(actor, ident if where is not None else None, action)
        return resource, Located(patient, [], patient)
    source, found = _rows_with_id(actor, resource, ident)
    patient = access.patient_of(actor, found[0] if found else None, action)
    members = found if source.group_of(found[0]) is not None else []
    return source, Located(found[0], members, patient)


def _rows_with_id(
    actor: audit.Actor, resource: ResourceDeclaration, ident: str
) -> tuple[ResourceDeclaration, list[Any]]:
    """The agency's rows of the resource `ident` names (several for a group), from the first of
    the type's sources that has it."""
    for source, declared in _sources(resource):
        where = declared.by_id(ident)
        if where is None:
            continue
        rows = declared.scope(
            source.model._default_manager.filter(organization_id=actor.organization_id)
        )
        found = list(rows.filter(where).order_by("pk"))
        if found:
            return source, found
    return resource, []


def _read(
    request: HttpRequest, actor: audit.Actor, resource: ResourceDeclaration, ident: str
) -> HttpResponse:
    _, stored = _locate(actor, resource, ident, Action.VIEW)
    part = mapping.part_named(resource.name, stored.record, ident)
    if not part:
        raise FhirError(404, "not-found", f"{resource.name}/{ident} is not known here.")
    rendered = _render(resource, stored.record, stored.members, part)
    _audit_view(actor, stored.patient, stored.record, f"{resource.name}/{rendered['id']}")
    return _respond(request, rendered, headers=_version_headers(rendered))


def _audit_view(actor: audit.Actor, patient: Patient, record: models.Model, what: str) -> None:
    audit.record(
        actor,
        "patient.view",
        patient_id=patient.pk,
        object_type=record._meta.label_lower,
        object_id=what.split("/")[1],
        detail={"resource": what},
    )


def _vread(
    request: HttpRequest,
    actor: audit.Actor,
    resource: ResourceDeclaration,
    ident: str,
    version_id: str,
) -> HttpResponse:
    if not _search_of(resource).versioned:
        raise FhirError(
            404,
            "not-supported",
            f"{resource.name} has no versions of its own: read it whole with {resource.name}/<id>.",
        )
    source, stored = _locate(actor, resource, ident, Action.VIEW)
    record, members, patient = stored.record, stored.members, stored.patient
    if not _search_of(source).versioned:
        raise FhirError(
            404,
            "not-supported",
            f"{resource.name}/{ident} has no versions of its own: read it whole with "
            f"{resource.name}/{ident}.",
        )
    version = _version_number(version_id)
    current = max(m.version for m in (members or [record]))
    if version is None or version > current:
        raise FhirError(404, "not-found", f"{resource.name}/{ident} has no version {version_id}.")
    if version < current:
        kept = _as_of(record, members, version)
        if kept is None:
            raise FhirError(404, "not-found", f"{resource.name}/{ident} has no version {version}.")
        record, members = kept
    rendered = _render(resource, record, members)
    _audit_view(actor, patient, record, f"{resource.name}/{rendered['id']}/_history/{version}")
    return _respond(request, rendered, headers=_version_headers(rendered))


def _version_number(text: str) -> int | None:
    if text.isascii() and text.isdigit() and len(text) <= 10 and 1 <= int(text) <= MAX_VERSION:
        return int(text)
    return None


def _as_of(
    record: models.Model, members: list[Any], version: int
) -> tuple[models.Model, list[Any]] | None:
    """The record (and a panel's members) as kept at `version`; None if it was not kept."""
    kept = [history.as_of(type(record), m.pk, version) for m in (members or [record])]
    found = [k for k in kept if k is not None]
    if len(found) != len(kept):
        return None
    return found[0], found if members else []


# --- search -------------------------------------------------------------------------------------


def _lenient(request: HttpRequest) -> bool:
    prefer = request.headers.get("Prefer", "")
    wanted = {
        part.strip().replace(" ", "") for chunk in prefer.split(",") for part in chunk.split(";")
    }
    return "handling=lenient" in wanted


def _agency_zone(organization_id: int) -> Callable[[], ZoneInfo]:
    """The agency's time zone, looked up only when a search has a date in it."""

    def zone() -> ZoneInfo:
        name = (
            Organization.objects.filter(pk=organization_id)
            .values_list("timezone", flat=True)
            .first()
        )
        try:
            return ZoneInfo(name or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    return zone


def _search(
    request: HttpRequest, actor: audit.Actor, resource: ResourceDeclaration
) -> HttpResponse:
    user = _user(actor)
    organization_id = user.organization_id or 0
    context = search.Context(zone=_agency_zone(organization_id), organization_id=organization_id)
    query = list(request.GET.lists())
    lenient = _lenient(request)
    searches = [
        (source, search.parse(resource.name, declared, query, context, lenient=lenient))
        for source, declared in _sources(resource)
    ]
    parsed = searches[0][1]
    with transaction.atomic():
        total, found = _page(user, searches, parsed)
        page = [row for row, _ in found]
        members = _group_members(resource, page, organization_id)
        included = _included_patients(parsed, page, organization_id)
        shown = list(dict.fromkeys(_patient_id_of(parsed, row) for row in page))
        audit.record_many(
            actor,
            "patient.list" if parsed.declared.of_patients else "patient.view",
            shown,
            detail={"resource": resource.name, "search": parsed.searched_by},
        )
    bundle = _searchset(request, resource, parsed, total, found, members, included)
    return _respond(request, bundle)


def _page(
    user: User,
    searches: list[tuple[ResourceDeclaration, search.Search]],
    parsed: search.Search,
) -> tuple[int, list[tuple[Any, int]]]:
    """The total and the requested page of a search over one or more sources of rows: each row
    with the part of it the entry is (0 for a row that is one resource)."""
    if any(source.parts is not None for source, _ in searches):
        return _page_of_parts(user, searches, parsed)
    found = [(p.declared, matching_rows(user, source, p)) for source, p in searches]
    counts = [rows.count() for _, rows in found]
    total = sum(counts)
    if not parsed.count or parsed.offset >= total:
        return total, []
    present = [pair for pair, count in zip(found, counts, strict=True) if count]
    window = slice(parsed.offset, parsed.offset + parsed.count)
    if len(present) == 1:
        declared, rows = present[0]
        return total, [(row, 0) for row in rows.order_by(*declared.order)[window]]
    return total, [(row, 0) for row in _merged_page(present, window)]


def _merged_page(present: list[tuple[search.SearchDeclaration, Any]], window: slice) -> list[Any]:
    """One page across sources ordered alike, (-time, -id): their keys merged in the database,
    then each source's rows of the page read by id."""
    models_present = [rows.model for _, rows in present]
    keys = [
        rows.order_by()
        .annotate(
            merge_at=F(declared.order[0].lstrip("-")),
            merge_source=Value(index),
            merge_id=_merge_id(rows.model, models_present),
        )
        .values_list("merge_at", "merge_source", "merge_id")
        for index, (declared, rows) in enumerate(present)
    ]
    merged = keys[0].union(*keys[1:], all=True).order_by("-merge_at", "merge_source", "-merge_id")
    picked = [
        (int(index), present[int(index)][1].model._meta.pk.to_python(pk))
        for _, index, pk in merged[window]
    ]
    wanted: dict[int, list[Any]] = {}
    for index, pk in picked:
        wanted.setdefault(index, []).append(pk)
    rows_by_key = {
        (index, row.pk): row
        for index, pks in wanted.items()
        for row in present[index][1].filter(pk__in=pks)
    }
    return [rows_by_key[key] for key in picked]


def _merge_id(model: type[models.Model], models_present: list[type[models.Model]]) -> Any:
    """The id to merge by: as it is when every source's ids are of one kind; as text when they
    differ (past care plans are numbered, Careway's own plans have UUIDs, and a UNION takes one
    type), a number padded so that it still sorts as one (ids are compared within a source)."""
    if len({type(m._meta.pk) for m in models_present}) == 1:
        return F("id")
    as_text = Cast("id", output_field=CharField(max_length=40))
    if isinstance(model._meta.pk, models.UUIDField):
        return as_text
    return LPad(as_text, 20, Value("0"))


def _page_of_parts(
    user: User,
    searches: list[tuple[ResourceDeclaration, search.Search]],
    parsed: search.Search,
) -> tuple[int, list[tuple[Any, int]]]:
    """A page of a type whose records may be several resources each (a visit frequency of two
    parts is two ServiceRequests): paged by resource, not by record. The matching records are
    read in order (-time, -id, sources merged) and each counted as its parts; such records are
    few per patient (a plan's frequencies and interventions)."""
    keyed: list[tuple[Any, int, str, Any, int]] = []
    for index, (source, p) in enumerate(searches):
        time_field = p.declared.order[0].lstrip("-")
        for row in matching_rows(user, source, p).iterator(chunk_size=2000):
            count = source.parts(row) if source.parts is not None else 1
            keyed.append((getattr(row, time_field), -index, str(row.pk), row, count))
    keyed.sort(key=lambda k: k[:3], reverse=True)
    expanded = [(row, n) for *_, row, count in keyed for n in range(1, count + 1)]
    named = [v for key, raw in parsed.used if key == "_id" for v in search.split_values(raw)]
    if named:  # _id names parts, not records: only the parts named
        expanded = [(row, n) for row, n in expanded if _names_part(searches, row, n, named)]
    chosen = expanded[parsed.offset : parsed.offset + parsed.count] if parsed.count else []
    return len(expanded), chosen


def _names_part(
    searches: list[tuple[ResourceDeclaration, search.Search]], row: Any, part: int, named: list[str]
) -> bool:
    source = next(source for source, _ in searches if isinstance(row, source.model))
    return any(
        str(row.pk) in ident and source.part_named is not None and source.part_named(ident) == part
        for ident in named
    )


def matching_rows(user: User, resource: ResourceDeclaration, parsed: search.Search) -> Any:
    """The rows of `resource` the search finds (`parsed` from its search declaration), only ever
    among the patients `user` may see.

    Patients named in the search are first narrowed to the visible ones, so that the rows are
    then looked up by patient id (the indexes lead with it)."""
    rows = parsed.declared.scope(
        resource.model._default_manager.filter(organization_id=user.organization_id)
    )
    visible = access.visible_patients(user)
    patients: Any
    if parsed.patient_ids is None:
        patients = visible.values("pk")
    else:
        patients = list(visible.filter(pk__in=parsed.patient_ids).values_list("pk", flat=True))
    rows = rows.filter(**{f"{parsed.declared.patient_path}__in": patients})
    for where in parsed.filters:
        rows = rows.filter(where)
    return resource.one_per_resource(rows)


def _patient_id_of(parsed: search.Search, row: Any) -> uuid.UUID:
    return row.pk if parsed.declared.of_patients else row.patient_id


def _group_members(
    resource: ResourceDeclaration, page: list[Any], organization_id: int
) -> dict[Any, list[Any]]:
    """Every member of the groups (panels) on the page, by group, in one query."""
    groups = {group for row in page if (group := resource.group_of(row)) is not None}
    if not groups:
        return {}
    grouped: dict[Any, list[Any]] = {}
    members = resource.model._default_manager.filter(
        organization_id=organization_id, **{f"{resource.grouped_by}__in": groups}
    )
    for member in members.order_by("pk"):
        grouped.setdefault(resource.group_of(member), []).append(member)
    return grouped


def _included_patients(
    parsed: search.Search, page: list[Any], organization_id: int
) -> list[Patient]:
    """The patients of the rows on the page, each once, for _include (they are visible: the
    rows were found among visible patients only)."""
    if not parsed.includes or not page:
        return []
    wanted = list(dict.fromkeys(row.patient_id for row in page))
    patients = Patient.objects.filter(organization_id=organization_id, pk__in=wanted)
    found = {p.pk: p for p in patients}
    return [found[pid] for pid in wanted if pid in found]


def _searchset(
    request: HttpRequest,
    resource: ResourceDeclaration,
    parsed: search.Search,
    total: int,
    page: list[tuple[Any, int]],
    members: dict[Any, list[Any]],
    included: list[Patient],
) -> dict[str, Any]:
    base = _base_url(request)
    entries = []
    for row, part in page:
        rendered = _render(resource, row, members.get(resource.group_of(row), []), part)
        entries.append(_entry(base, rendered, "match"))
    patients = served_types().get("Patient")
    for patient in included:
        if patients is not None:
            entries.append(_entry(base, _render(patients, patient, []), "include"))
    if parsed.ignored:
        ignored = ", ".join(parsed.ignored)
        outcome = operation_outcome(
            "not-supported",
            f"Ignored parameters Careway cannot search by: {ignored}.",
            "",
            "warning",
        )
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": _links(request, base + resource.name, parsed, total),
    }
    if entries:
        bundle["entry"] = entries
    return bundle


def _entry(base: str, rendered: dict[str, Any], mode: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{base}{rendered['resourceType']}/{rendered['id']}",
        "resource": rendered,
        "search": {"mode": mode},
    }


def _links(request: HttpRequest, url: str, parsed: search.Search, total: int) -> list[dict]:
    kept = [(k, v) for k, v in parsed.used if k not in ("_count", "_offset")]
    if "_format" in request.GET:
        kept.append(("_format", request.GET["_format"]))

    def page_at(offset: int) -> str:
        query = [*kept, ("_count", str(parsed.count)), ("_offset", str(offset))]
        return f"{url}?{urlencode(query)}"

    links = [{"relation": "self", "url": page_at(parsed.offset)}]
    links.append({"relation": "first", "url": page_at(0)})
    step = parsed.count
    if step and parsed.offset > 0:
        links.append({"relation": "previous", "url": page_at(max(parsed.offset - step, 0))})
    if step and parsed.offset + step < total:
        links.append({"relation": "next", "url": page_at(parsed.offset + step)})
    return links


# --- create and update --------------------------------------------------------------------------


def _incoming(request: HttpRequest, resource: ResourceDeclaration) -> mapping.Incoming:
    body = _read_body(request)
    kind = body.get("resourceType")
    if kind != resource.name:
        raise FhirError(
            400,
            "invalid",
            f"resourceType: this endpoint takes a {resource.name}, not {kind!r}.",
            "resourceType",
        )
    for source in mapping.sources(resource.name):
        if source.refuse is not None:
            source.refuse(body)
    incoming = mapping.from_fhir(body)
    ident = body.get("id")
    incoming.source_id = ident if isinstance(ident, str) else ""
    return incoming


def _not_writable(resource: ResourceDeclaration) -> FhirError:
    return FhirError(
        405,
        "not-supported",
        f"{resource.name} is read-only here; Careway {_what_is_written()}.",
        headers={"Allow": "GET"},
    )


def _what_is_written() -> str:
    """The types this API writes, in words ("takes in Patient and Observation, and creates
    QuestionnaireResponse")."""
    writes = [(t.name, w) for t in served_types().values() if (w := _write_of(t)) is not None]
    updated = [name for name, write in writes if write.update is not None]
    created = [name for name, write in writes if write.update is None]
    said = [f"takes in {_in_words(updated)}"] if updated else []
    if created:
        said.append(f"creates {_in_words(created)}")
    return ", and ".join(said)


def _in_words(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _written(
    request: HttpRequest, resource: ResourceDeclaration, written: Written, status: int
) -> HttpResponse:
    """The resource as written, with its version headers and where this version lives."""
    rendered = _render(resource, written.record, written.members)
    headers = _version_headers(rendered)
    version = rendered.get("meta", {}).get("versionId", "")
    headers["Location"] = f"{_base_url(request)}{resource.name}/{rendered['id']}"
    if version:
        headers["Location"] += f"/_history/{version}"
    return _respond(request, rendered, status, headers)


def _create(
    request: HttpRequest, actor: audit.Actor, resource: ResourceDeclaration
) -> HttpResponse:
    write = _write_of(resource)
    if write is None:
        raise _not_writable(resource)
    if write.create_permission is not None:
        _require_permission(actor, write.create_permission)
    incoming = _incoming(request, resource)
    with _elements_named(resource):
        written = write.create(actor, incoming)
    return _written(request, resource, written, 201)


def _require_permission(actor: audit.Actor, perm: Permission) -> None:
    # Creating some types is a capability of the role (registering a patient): without it the
    # answer is 403 (no patient's existence is at stake), and the refusal is audited.
    if not _user(actor).has_perm_code(perm):
        audit.record(
            actor, perm.code, outcome=AuditEvent.Outcome.DENIED, detail={"why": f"lacks {perm}"}
        )
        raise PermissionDenied("Your role may not do this.")


def _expected_version(request: HttpRequest) -> int:
    """The version the client read, from If-Match: W/"<version>" (428 when missing)."""
    header = request.headers.get("If-Match")
    if header is None:
        raise FhirError(
            428,
            "required",
            'Send If-Match: W/"<version>" with the version you read (its ETag), so that '
            "nobody's change is overwritten.",
            "If-Match",
        )
    tag = header.strip().removeprefix("W/").strip('"')
    version = _version_number(tag)
    if version is None:
        raise FhirError(400, "invalid", 'If-Match: send the ETag you read, e.g. W/"3".', "If-Match")
    return version


def _update(
    request: HttpRequest, actor: audit.Actor, resource: ResourceDeclaration, ident: str
) -> HttpResponse:
    write = _write_of(resource)
    if write is None:
        raise _not_writable(resource)
    source, stored = _locate(actor, resource, ident, Action.EDIT)
    if write.update is None:
        raise FhirError(
            405,
            "not-supported",
            f"{resource.name} is created, never replaced, here: {write.instead}.",
            headers={"Allow": "GET"},
        )
    if source is not resource:
        raise FhirError(
            405,
            "not-supported",
            f"{resource.name}/{ident} is {source.read_only_because}.",
            headers={"Allow": "GET"},
        )
    expected = _expected_version(request)
    incoming = _incoming(request, resource)
    if incoming.source_id != ident:
        raise FhirError(
            400,
            "invalid",
            f"id: the resource's id ({incoming.source_id or 'none'}) must be the id in the URL "
            f"({ident}).",
            f"{resource.name}.id",
        )
    with _elements_named(resource):
        written = write.update(actor, stored, incoming, expected)
    return _written(request, resource, written, 200)


# --- capability statement -----------------------------------------------------------------------


def capability_statement(request: HttpRequest) -> dict[str, Any]:
    """Exactly what this API does, per resource type, built from what is served and declared."""
    served = served_types()
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": timezone.now().date().isoformat(),
        "publisher": "Careway",
        "kind": "instance",
        "software": {"name": "Careway"},
        "implementation": {"description": "Careway FHIR R4 API", "url": _base_url(request)},
        "fhirVersion": FHIR_VERSION,
        "format": ["json", FHIR_JSON],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Only the patients the token's user may see; anything else answers 404 and "
                    "is left out of searches. Searches page with _count (default "
                    f"{search.DEFAULT_COUNT}, at most {search.MAX_COUNT}) and _offset."
                ),
                "security": {
                    "cors": False,
                    "service": [{"text": "Bearer token (Careway API token)"}],
                    "description": (
                        "Send Authorization: Bearer <token>, a Careway API token made with "
                        "`careway token create`. Reads need the fhir:read scope, writes "
                        "fhir:write. The token acts as its user, under the same access rules and "
                        "audit trail as the rest of Careway. No SMART on FHIR."
                    ),
                },
                "resource": [_capability(r) for r in served.values()],
                **_operations(system=True),
            }
        ],
    }


# Bulk Data export, listed only when a route serves it (it is not one of this module's views).
EXPORT_OPERATIONS = {
    "$export": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
    "Patient/$export": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
}


def _operations(system: bool = False, resource_type: str = "") -> dict[str, Any]:
    base = reverse("fhir_metadata")[: -len("metadata")]
    found = []
    for path, definition in EXPORT_OPERATIONS.items():
        kind, _, _ = path.rpartition("/")
        if (system and kind) or (not system and kind != resource_type):
            continue
        try:
            view = resolve(base + path).func
        except Resolver404:
            continue
        if getattr(view, "__module__", __name__) != __name__:
            found.append({"name": "export", "definition": definition})
    return {"operation": found} if found else {}


def _capability(resource: ResourceDeclaration) -> dict[str, Any]:
    declared = _search_of(resource)
    interactions = (
        ["read", "vread", "search-type"] if declared.versioned else ["read", "search-type"]
    )
    write = _write_of(resource)
    updatable = write is not None and write.update is not None
    if write is not None:
        interactions += ["create", "update"] if updatable else ["create"]
    notes = [f"Search results come {declared.sort_description}."]
    if updatable:
        notes.append('An update needs If-Match: W/"<version>"; a stale version answers 412.')
    notes += [note for source in mapping.sources(resource.name) for note in source.notes]
    entry: dict[str, Any] = {
        "type": resource.name,
        "documentation": " ".join(notes),
        "interaction": [{"code": code} for code in interactions],
        "versioning": "versioned" if declared.versioned else "no-version",
        "readHistory": declared.versioned,
        "updateCreate": False,
        "conditionalCreate": False,
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
        "searchInclude": [f"{resource.name}:{p}" for p in declared.includes],
        "searchParam": [
            {"name": name, "type": param.type, "documentation": param.description}
            for name, param in declared.params.items()
        ],
    }
    if not entry["searchInclude"]:
        del entry["searchInclude"]
    entry.update(_operations(resource_type=resource.name))
    return entry

"""The FHIR R4 REST API under /fhir/R4/: capability statement, read, vread, search, create and
update of Patient and Observation, and create of QuestionnaireResponse.

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
Observations (search.ResourceType.also), read-only, never updated here. A completed
QuestionnaireResponse may be created: careway/assessments/services.py files it as a signed
assessment and scores it; answers that do not fit the agency's Questionnaire answer 422 naming
the element.
"""

import json
import logging
import math
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import wraps
from importlib import import_module
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
from django.db.models import F, Value
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from careway.assessments import services as assessment_services
from careway.assessments.models import Response
from careway.core import audit, tokens
from careway.core.conflicts import VersionConflict
from careway.core.models import AuditEvent, Branch, Organization, User
from careway.core.permissions import Permission
from careway.patients import access, history, services
from careway.patients.access import Action
from careway.patients.models import Encounter, Observation, Patient
from careway.patients.permissions import PATIENT_CREATE

from . import mapping, search
from .errors import FhirError
from .mapping import Invalid, NotSupported
from .mapping import score as score_mapping
from .mapping.questionnaire_response import Unprocessable, prepare

logger = logging.getLogger(__name__)

READ_SCOPE = "fhir:read"
WRITE_SCOPE = "fhir:write"
FHIR_JSON = "application/fhir+json"
PLAIN_JSON = "application/json"
JSON_FORMATS = frozenset({"json", PLAIN_JSON, FHIR_JSON})
FHIR_VERSION = "4.0.1"
WRITABLE = ("Patient", "Observation", "QuestionnaireResponse")
# Created, never replaced: a signed QuestionnaireResponse is corrected by an amendment in Careway.
CREATE_ONLY = frozenset({"QuestionnaireResponse"})
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
        return _validation_error(exc)
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


def _validation_error(exc: ValidationError) -> FhirError:
    """A service refused the data: name the element of the first field at fault."""
    if not hasattr(exc, "error_dict"):
        return FhirError(400, "invalid", " ".join(exc.messages))
    name, errors = next(iter(exc.error_dict.items()))
    error = errors[0]
    code = "duplicate" if error.code in _UNIQUE else "invalid"
    if name == NON_FIELD_ERRORS:
        fields = list((error.params or {}).get("unique_check", ()))
        name = next((f for f in fields if f not in ("organization", "patient")), "")
    message = " ".join(error.messages)
    return FhirError(400, code, f"{name}: {message}" if name else message, _element_of(name))


def _element_of(field_name: str) -> str:
    for module in ("patient", "observation"):
        elements = getattr(_mapping_module(module), "ELEMENTS", {})
        if field_name in elements:
            return elements[field_name]
    return ""


def _mapping_module(name: str) -> Any:
    try:
        return import_module(f"careway.fhir.mapping.{name}")
    except ImportError:
        return None


# --- who is asking ------------------------------------------------------------------------------


def authenticate(request: HttpRequest, scope: str) -> audit.Actor:
    """The actor of a request with a bearer token holding `scope`: 401 without one, 403 when the
    token lacks the scope. Only tokens count here; a browser session does not."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw:
        raise FhirError(
            401,
            "login",
            "Send Authorization: Bearer <token> (a Careway API token with the FHIR scopes).",
            headers={"WWW-Authenticate": WWW_AUTHENTICATE},
        )
    try:
        token = tokens.authenticate(raw)
    except tokens.TokenRejected as rejected:
        _audit_rejected(request, rejected)
        raise FhirError(
            401,
            "login",
            rejected.reason,
            headers={"WWW-Authenticate": f'{WWW_AUTHENTICATE}, error="invalid_token"'},
        ) from None
    if not token.has_scope(scope):
        raise FhirError(403, "forbidden", f"This token lacks the {scope} scope.")
    return audit.Actor(user=token.user, client_address=audit.client_address(request), via="fhir")


def _audit_rejected(request: HttpRequest, rejected: tokens.TokenRejected) -> None:
    token = rejected.token
    audit.record(
        audit.Actor(user=None, client_address=audit.client_address(request), via="fhir"),
        "token.rejected",
        obj=token,
        organization_id=token.organization_id if token else None,
        outcome=AuditEvent.Outcome.DENIED,
        reason=rejected.reason,
    )


def _user(actor: audit.Actor) -> User:
    assert actor.user is not None  # authenticate() always gives a user
    return actor.user


# --- resource types served ----------------------------------------------------------------------


def served_types() -> dict[str, search.ResourceType]:
    """The resource types this API serves: declared in search.py and rendered by the mapping."""
    _load_mappings()
    return {
        name: resource
        for name, resource in search.RESOURCE_TYPES.items()
        if name in mapping.REGISTRY and mapping.REGISTRY[name].to_fhir is not None
    }


def _load_mappings() -> None:
    # The per-type mapping modules register themselves when the mapping package loads them.
    _mapping_module("resources")


def _writable(name: str) -> bool:
    registered = mapping.REGISTRY.get(name)
    return name in WRITABLE and registered is not None and registered.from_fhir is not None


def _resource_type(name: str) -> search.ResourceType:
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


def _render(resource: search.ResourceType, record: models.Model, members: Sequence[Any]) -> dict:
    return mapping.to_fhir(resource.name, record, members=members)


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
    actor: audit.Actor, resource: search.ResourceType, ident: str, action: Action
) -> tuple[models.Model, list[Any], Patient]:
    """The record (and a panel's members) behind one id, if `actor` may `action` its patient.

    Anything else is NotVisible (404), audited by access.get_patient_for like every denial.
    """
    if resource.model is Patient:
        where = resource.by_id(ident)
        patient = access.get_patient_for(actor, ident if where is not None else None, action)
        return patient, [], patient
    found: list[Any] = []
    for source in (resource, *resource.also):
        where = source.by_id(ident)
        if where is None:
            continue
        rows = source.scope(
            source.model._default_manager.filter(organization_id=actor.organization_id)
        )
        found = list(rows.filter(where).order_by("pk"))
        if found:
            break
    if not found:
        access.get_patient_for(actor, None, action)  # audits the attempt and raises
    patient = access.get_patient_for(actor, found[0].patient_id, action)
    members = found if getattr(found[0], "panel_id", None) else []
    return found[0], members, patient


def _read(
    request: HttpRequest, actor: audit.Actor, resource: search.ResourceType, ident: str
) -> HttpResponse:
    record, members, patient = _locate(actor, resource, ident, Action.VIEW)
    rendered = _render(resource, record, members)
    _audit_view(actor, patient, record, f"{resource.name}/{rendered['id']}")
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
    resource: search.ResourceType,
    ident: str,
    version_id: str,
) -> HttpResponse:
    if not resource.versioned:
        raise FhirError(
            404,
            "not-supported",
            f"{resource.name} has no versions of its own: read it whole with {resource.name}/<id>.",
        )
    record, members, patient = _locate(actor, resource, ident, Action.VIEW)
    if not isinstance(record, resource.model):
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
    request: HttpRequest, actor: audit.Actor, resource: search.ResourceType
) -> HttpResponse:
    user = _user(actor)
    organization_id = user.organization_id or 0
    context = search.Context(zone=_agency_zone(organization_id), organization_id=organization_id)
    query = list(request.GET.lists())
    lenient = _lenient(request)
    parsed = search.parse(resource, query, context, lenient=lenient)
    sources = [(resource, parsed)]
    sources += [
        (more, search.parse(more, query, context, lenient=lenient)) for more in resource.also
    ]
    with transaction.atomic():
        total, page = _page(user, sources, parsed)
        members = _panel_members(resource, page, organization_id)
        included = _included_patients(parsed, page, organization_id)
        shown = list(dict.fromkeys(_patient_id_of(resource, row) for row in page))
        audit.record_many(
            actor,
            "patient.list" if resource.model is Patient else "patient.view",
            shown,
            detail={"resource": resource.name, "search": parsed.searched_by},
        )
    bundle = _searchset(request, resource, parsed, total, page, members, included)
    return _respond(request, bundle)


def _page(
    user: User, sources: list[tuple[search.ResourceType, search.Search]], parsed: search.Search
) -> tuple[int, list[Any]]:
    """The total and the requested page of a search over one or more sources of rows."""
    found = [(source, matching_rows(user, source, p)) for source, p in sources]
    counts = [rows.count() for _, rows in found]
    total = sum(counts)
    if not parsed.count or parsed.offset >= total:
        return total, []
    present = [pair for pair, count in zip(found, counts, strict=True) if count]
    window = slice(parsed.offset, parsed.offset + parsed.count)
    if len(present) == 1:
        source, rows = present[0]
        return total, list(rows.order_by(*source.order)[window])
    return total, _merged_page(present, window)


def _merged_page(present: list[tuple[search.ResourceType, Any]], window: slice) -> list[Any]:
    """One page across sources ordered alike, (-time, -id): their keys merged in the database,
    then each source's rows of the page read by id."""
    keys = [
        rows.order_by()
        .annotate(merge_at=F(source.order[0].lstrip("-")), merge_source=Value(index))
        .values_list("merge_at", "merge_source", "id")
        for index, (source, rows) in enumerate(present)
    ]
    merged = keys[0].union(*keys[1:], all=True).order_by("-merge_at", "merge_source", "-id")
    picked = [(int(index), pk) for _, index, pk in merged[window]]
    wanted: dict[int, list[Any]] = {}
    for index, pk in picked:
        wanted.setdefault(index, []).append(pk)
    rows_by_key = {
        (index, row.pk): row
        for index, pks in wanted.items()
        for row in present[index][1].filter(pk__in=pks)
    }
    return [rows_by_key[key] for key in picked]


def matching_rows(user: User, resource: search.ResourceType, parsed: search.Search) -> Any:
    """The rows of the search, only ever among the patients `user` may see.

    Patients named in the search are first narrowed to the visible ones, so that the rows are
    then looked up by patient id (the indexes lead with it)."""
    rows = resource.scope(
        resource.model._default_manager.filter(organization_id=user.organization_id)
    )
    visible = access.visible_patients(user)
    patients: Any
    if parsed.patient_ids is None:
        patients = visible.values("pk")
    else:
        patients = list(visible.filter(pk__in=parsed.patient_ids).values_list("pk", flat=True))
    rows = rows.filter(**{f"{resource.patient_path}__in": patients})
    for where in parsed.filters:
        rows = rows.filter(where)
    return resource.one_per_resource(rows)


def _patient_id_of(resource: search.ResourceType, row: Any) -> uuid.UUID:
    return row.pk if resource.model is Patient else row.patient_id


def _panel_members(
    resource: search.ResourceType, page: list[Any], organization_id: int
) -> dict[Any, list[Any]]:
    """Every member of the panels on the page, by panel, in one query."""
    panels = {row.panel_id for row in page if getattr(row, "panel_id", None)}
    if resource.model is not Observation or not panels:
        return {}
    grouped: dict[Any, list[Any]] = {}
    members = Observation.objects.filter(organization_id=organization_id, panel_id__in=panels)
    for member in members.order_by("pk"):
        grouped.setdefault(member.panel_id, []).append(member)
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
    resource: search.ResourceType,
    parsed: search.Search,
    total: int,
    page: list[Any],
    members: dict[Any, list[Any]],
    included: list[Patient],
) -> dict[str, Any]:
    base = _base_url(request)
    entries = []
    for row in page:
        rendered = _render(resource, row, members.get(getattr(row, "panel_id", None), []))
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


def _incoming(request: HttpRequest, resource: search.ResourceType) -> mapping.Incoming:
    body = _read_body(request)
    kind = body.get("resourceType")
    if kind != resource.name:
        raise FhirError(
            400,
            "invalid",
            f"resourceType: this endpoint takes a {resource.name}, not {kind!r}.",
            "resourceType",
        )
    if score_mapping.derived_from_response(body):
        raise Unprocessable(
            "Observation.derivedFrom",
            "this is a score of a QuestionnaireResponse, which Careway works out from the "
            "response itself: send the QuestionnaireResponse instead",
        )
    incoming = mapping.from_fhir(body)
    ident = body.get("id")
    incoming.source_id = ident if isinstance(ident, str) else ""
    return incoming


def _not_writable(resource: search.ResourceType) -> FhirError:
    return FhirError(
        405,
        "not-supported",
        f"{resource.name} is read-only here; Careway takes in Patient and Observation, and "
        "creates QuestionnaireResponse.",
        headers={"Allow": "GET"},
    )


def _written(
    request: HttpRequest,
    resource: search.ResourceType,
    record: Any,
    members: Sequence[Any],
    status: int,
) -> HttpResponse:
    """The resource as written, with its version headers and where this version lives."""
    rendered = _render(resource, record, members)
    headers = _version_headers(rendered)
    version = rendered.get("meta", {}).get("versionId", "")
    headers["Location"] = f"{_base_url(request)}{resource.name}/{rendered['id']}"
    if version:
        headers["Location"] += f"/_history/{version}"
    return _respond(request, rendered, status, headers)


def _create(
    request: HttpRequest, actor: audit.Actor, resource: search.ResourceType
) -> HttpResponse:
    if not _writable(resource.name):
        raise _not_writable(resource)
    if resource.model is Patient:
        _require_permission(actor, PATIENT_CREATE, "patient.create")
        incoming = _incoming(request, resource)
        patient = services.create_patient(actor, _only_branch(_user(actor)), incoming.rows[0])
        return _written(request, resource, patient, [], 201)
    if resource.model is Response:
        return _create_response(request, actor, resource)
    incoming = _incoming(request, resource)
    patient = _subject(actor, incoming.subject, Action.EDIT)
    rows = _observation_rows(incoming, patient)
    if len(rows) == 1 and not rows[0].get("panel_code"):
        saved = [services.record_observation(actor, patient, rows[0])]
    else:
        panel = uuid.uuid4()
        saved = services.record_observations(
            actor, patient, [{**r, "panel_id": panel} for r in rows]
        )
    return _written(request, resource, saved[0], saved if saved[0].panel_id else [], 201)


def _create_response(
    request: HttpRequest, actor: audit.Actor, resource: search.ResourceType
) -> HttpResponse:
    """A completed QuestionnaireResponse from elsewhere: filed as a signed assessment of its
    patient and scored (careway/assessments/services.py record_response)."""
    incoming = _incoming(request, resource)
    patient = _subject(actor, incoming.subject, Action.EDIT, f"{resource.name}.subject")
    row = incoming.rows[0]
    _check_times({"authored": row["authored"]}, f"{resource.name}.authored")
    prepared = prepare(patient.organization_id, row)
    try:
        saved = assessment_services.record_response(
            actor, patient, prepared.entry.url, prepared.items, row["authored"]
        )
    except ValidationError as error:
        raise _response_refused(error, resource.name) from None
    record = resource.scope(Response.objects.filter(pk=saved.pk)).get()
    return _written(request, resource, record, [], 201)


def _response_refused(error: ValidationError, name: str) -> FhirError:
    fields = getattr(error, "message_dict", {})
    where = {"episode": f"{name}.subject", "questionnaire": f"{name}.questionnaire"}
    field = next((f for f in fields if f in where), "")
    message = " ".join(fields[field]) if field else " ".join(error.messages)
    return FhirError(422, "business-rule", message, where.get(field, ""))


def _require_permission(actor: audit.Actor, perm: Permission, action: str) -> None:
    # Registering a patient is a capability of the role: without it the answer is 403 (no
    # patient's existence is at stake), and the refusal is audited.
    if not _user(actor).has_perm_code(perm):
        audit.record(
            actor, action, outcome=AuditEvent.Outcome.DENIED, detail={"why": f"lacks {perm}"}
        )
        raise PermissionDenied("Your role may not do this.")


def _only_branch(user: User) -> Branch:
    branches = {m.branch_id: m for m in user.active_memberships() if m.branch_id}
    if len(branches) != 1:
        raise FhirError(
            400,
            "business-rule",
            "You work in several branches (or none), and a FHIR Patient does not say which one "
            "registers them: register this patient in Careway or through /api/v1 instead.",
            "Patient",
        )
    return Branch.objects.get(pk=next(iter(branches)))


def _subject(
    actor: audit.Actor, reference: str, action: Action, element: str = "Observation.subject"
) -> Patient:
    """The patient an incoming record is about: `Patient/<id>` of a patient the actor may change."""
    if not reference:
        raise FhirError(400, "required", "subject: give the patient as Patient/<id>.", element)
    kind, _, ident = reference.rstrip("/").rpartition("/")
    if kind.rpartition("/")[2] != "Patient":
        raise FhirError(
            400,
            "invalid",
            f"subject: {reference!r} must refer to a Careway patient as Patient/<id>.",
            element,
        )
    return access.get_patient_for(actor, ident, action)


def _observation_rows(incoming: mapping.Incoming, patient: Patient) -> list[dict[str, Any]]:
    """The incoming rows as the service takes them: provenance is the server's, and the
    encounter, when named, must be one of this patient's."""
    encounter = _encounter_of(incoming.references.get("encounter", ""), patient)
    rows = []
    for row in incoming.rows:
        row = {k: v for k, v in row.items() if k not in ("recorded_at", "panel_id")}
        _check_times(row)
        row["encounter"] = encounter
        rows.append(row)
    return rows


def _check_times(row: dict[str, Any], element: str = "") -> None:
    """Refuse a time that has no UTC form (year 1 east of Greenwich, year 9999 west of it):
    Careway stores UTC, and such a record could be stored but never read back."""
    for name, value in row.items():
        if isinstance(value, datetime):
            try:
                value.astimezone(UTC)
            except OverflowError:
                element = element or _element_of(name) or name
                raise FhirError(
                    400, "invalid", f"{element}: outside the range of times Careway keeps.", element
                ) from None


def _encounter_of(reference: str, patient: Patient) -> int | None:
    if not reference:
        return None
    kind, _, ident = reference.rstrip("/").rpartition("/")
    where = search.locate_by_int(ident) if kind.rpartition("/")[2] == "Encounter" else None
    found = None
    if where is not None:
        found = (
            Encounter.objects.filter(where, patient=patient).values_list("pk", flat=True).first()
        )
    if found is None:
        raise FhirError(
            400,
            "invalid",
            f"encounter: {reference!r} is not an encounter of this patient (Encounter/<id>).",
            "Observation.encounter",
        )
    return found


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
    request: HttpRequest, actor: audit.Actor, resource: search.ResourceType, ident: str
) -> HttpResponse:
    if not _writable(resource.name):
        raise _not_writable(resource)
    record, members, patient = _locate(actor, resource, ident, Action.EDIT)
    if resource.name in CREATE_ONLY:
        raise FhirError(
            405,
            "not-supported",
            f"{resource.name} is created, never replaced, here: correct a signed response with "
            "an amendment in Careway.",
            headers={"Allow": "GET"},
        )
    if not isinstance(record, resource.model):
        raise FhirError(
            405,
            "not-supported",
            f"{resource.name}/{ident} is a score worked out from a QuestionnaireResponse; it "
            "changes when that response is amended in Careway.",
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
    if resource.model is Patient:
        updated = services.update_patient(actor, patient, incoming.rows[0], expected)
        return _written(request, resource, updated, [], 200)
    if _subject(actor, incoming.subject, Action.EDIT).pk != patient.pk:
        raise FhirError(
            400,
            "invalid",
            "subject: an observation cannot move to another patient.",
            "Observation.subject",
        )
    current = members or [record]
    changes = _pair_with_members(current, _observation_rows(incoming, patient))
    saved = services.update_observations(actor, current, changes, expected)
    return _written(request, resource, saved[0], saved if members else [], 200)


def _pair_with_members(current: list[Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each incoming row for the stored member of the same code (a panel keeps its members)."""

    def key(system: str, code: str) -> tuple[str, str]:
        return (system, code)

    by_code = {key(r.get("code_system", ""), r.get("code", "")): r for r in rows}
    stored = [key(m.code_system, m.code) for m in current]
    if len(by_code) != len(rows) or set(by_code) != set(stored):
        raise FhirError(
            400,
            "not-supported",
            "component: an update keeps the measurements the observation was taken with (the "
            "same codes); record a new observation to add or remove one.",
            "Observation.component",
        )
    return [by_code[k] for k in stored]


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


CAPABILITY_NOTES = {
    "Observation": [
        "An assessment's scores are Observations too (category survey, id score-<n>, "
        "derivedFrom their QuestionnaireResponse): read and searched here, never updated."
    ],
    "QuestionnaireResponse": [
        "One per questionnaire of an assessment (id qr-<n>). Create takes a completed response "
        "to a Questionnaire of the agency, files it as a signed assessment and scores it; "
        "answers that do not fit the Questionnaire answer 422 naming the element."
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


def _capability(resource: search.ResourceType) -> dict[str, Any]:
    interactions = (
        ["read", "vread", "search-type"] if resource.versioned else ["read", "search-type"]
    )
    writable = _writable(resource.name)
    updatable = writable and resource.name not in CREATE_ONLY
    if writable:
        interactions += ["create", "update"] if updatable else ["create"]
    notes = [f"Search results come {resource.sort_description}."]
    if updatable:
        notes.append('An update needs If-Match: W/"<version>"; a stale version answers 412.')
    notes += CAPABILITY_NOTES.get(resource.name, [])
    entry: dict[str, Any] = {
        "type": resource.name,
        "documentation": " ".join(notes),
        "interaction": [{"code": code} for code in interactions],
        "versioning": "versioned" if resource.versioned else "no-version",
        "readHistory": resource.versioned,
        "updateCreate": False,
        "conditionalCreate": False,
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
        "searchInclude": [f"{resource.name}:{p}" for p in resource.includes],
        "searchParam": [
            {"name": name, "type": param.type, "documentation": param.description}
            for name, param in resource.params.items()
        ],
    }
    if not entry["searchInclude"]:
        del entry["searchInclude"]
    entry.update(_operations(resource_type=resource.name))
    return entry

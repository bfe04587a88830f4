"""What every JSON API endpoint under /api/v1 is built from: its operation options (scope,
documented answers), paging, versions from If-Match, and every error as RFC 9457 problem details
(application/problem+json) that name the fields at fault.

`CarewayAPI` is the NinjaAPI with those answers installed; careway/api.py makes the one instance
and mounts each domain's router. The last-resort handler logs and answers 500 only for what
nobody foresaw; ordinary bad input is always a 4xx (tests/api fuzz the whole API to keep it so).
"""

import json
import logging
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Header, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.schema import OpenAPISchema

from careway.core.conflicts import VersionConflict

from .auth import auth_for

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPES = {
    "validation": "urn:careway:problem:validation",
    "stale-version": "urn:careway:problem:stale-version",
    "version-required": "urn:careway:problem:version-required",
    "duplicate": "urn:careway:problem:duplicate",
}
UNIQUE_CODES = {"unique", "unique_together"}
# Model fields whose API name differs, and fields a client never sees (so never names).
API_FIELD_NAMES = {"branch": "branch_id"}
HIDDEN_FIELDS = {"organization", "patient"}
TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    412: "Version conflict",
    413: "Content too large",
    422: "Invalid input",
    428: "Version required",
    500: "Internal error",
}
READ_ERRORS = (401, 403, 404, 422)
WRITE_ERRORS = (400, *READ_ERRORS, 409)
UPDATE_ERRORS = (*WRITE_ERRORS, 412, 428)
IF_MATCH = Header(
    None,
    alias="If-Match",
    description='The version you read, as its ETag: "<version>". Or send version in the body.',
)


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=200, description="How many items per page.")
    offset: int = Field(0, ge=0, le=1_000_000_000, description="How many items to skip.")


class FieldError(Schema):
    field: str = Field(..., description="The field, header or parameter at fault.")
    message: str


class Problem(Schema):
    """An error, as RFC 9457 problem details."""

    type: str = Field(..., description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    errors: list[FieldError] = Field(
        default_factory=list, description="Each bad field and what is wrong with it."
    )


class VersionRequired(Exception):
    """An update that does not say which version it was made against (HTTP 428)."""


class BadPrecondition(Exception):
    """An If-Match header or version that cannot be understood (HTTP 400)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


# --- operations ---------------------------------------------------------------------------------


def operation(scope: str, ok: dict[int, Any], errors: tuple[int, ...]) -> dict[str, Any]:
    """Route options: who may call it (scope), what it answers, and which problems it documents."""
    return {
        "auth": auth_for(scope),
        "response": {**ok, **dict.fromkeys(errors, Problem)},
        "openapi_extra": {"x-careway-scope": scope},
    }


def paginate(
    request: HttpRequest, rows: QuerySet | Sequence[Any], page: PageParams
) -> dict[str, Any]:
    """One page of `rows` (a query, or a list already read) with the total and links to the
    pages either side."""
    count = rows.count() if isinstance(rows, QuerySet) else len(rows)
    end = page.offset + page.limit
    return {
        "count": count,
        "next": _page_url(request, end, page.limit) if end < count else None,
        "previous": (
            _page_url(request, max(page.offset - page.limit, 0), page.limit)
            if page.offset > 0
            else None
        ),
        "items": list(rows[page.offset : end]),
    }


def _page_url(request: HttpRequest, offset: int, limit: int) -> str:
    query = request.GET.copy()
    query["offset"], query["limit"] = str(offset), str(limit)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None, body_version: int | None) -> int:
    """The version the client edited, from If-Match or the body; they must agree if both."""
    header_version = _parse_if_match(if_match) if if_match is not None else None
    if header_version is not None and body_version is not None and header_version != body_version:
        raise BadPrecondition("version", "The body's version and If-Match name different versions.")
    version = header_version or body_version
    if version is None:
        raise VersionRequired("Send the version you read, as If-Match or as version in the body.")
    return version


def _parse_if_match(value: str) -> int:
    tag = value.strip()
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        tag = tag[1:-1]
    if not (tag.isascii() and tag.isdigit() and 1 <= len(tag) <= 10 and int(tag) >= 1):
        raise BadPrecondition("If-Match", 'Send the ETag you read, for example "3".')
    return int(tag)


# --- problems -----------------------------------------------------------------------------------


def problem(
    status: int,
    detail: str,
    *,
    kind: str = "",
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    body = {
        "type": PROBLEM_TYPES.get(kind, "about:blank"),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "errors": errors or [],
        **(extra or {}),
    }
    response = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class CarewayAPI(NinjaAPI):
    """A NinjaAPI whose every error is a problem body and whose schema names each scope."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for error, handler in HANDLERS:
            self.add_exception_handler(error, handler)

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPISchema:
        schema = super().get_openapi_schema(**kwargs)
        describe_security_and_problems(schema)
        return schema


def describe_security_and_problems(schema: OpenAPISchema) -> None:
    """Fill in what ninja leaves out: each operation's token scope, and the problem media type."""
    for path_item in schema["paths"].values():
        for operation_ in path_item.values():
            scope = operation_.pop("x-careway-scope", None)
            if scope:
                operation_["security"] = [{"ApiTokenAuth": [scope]}, {"BrowserSessionAuth": []}]
            for status, response in operation_["responses"].items():
                if int(status) >= 400 and "content" in response:
                    response["content"] = {PROBLEM_CONTENT_TYPE: response["content"].popitem()[1]}
    schemes = schema.get("components", {}).get("securitySchemes", {})
    if "ApiTokenAuth" in schemes:
        schemes["ApiTokenAuth"]["description"] = (
            "A Careway API token (cw_...), made with `careway token create`. It acts as its "
            "user and needs the scope each operation names (patients:read, patients:write)."
        )
    if "BrowserSessionAuth" in schemes:
        schemes["BrowserSessionAuth"]["description"] = (
            "A signed-in browser session; unsafe methods need the X-CSRFToken header."
        )


def _field_from_location(location: tuple[Any, ...]) -> str:
    source, *path = location
    if source == "body" and path:
        path = path[1:]  # the handler's parameter name, which the client never sees
    return ".".join(str(part) for part in path) or str(source)


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return "This field cannot be set."
    return str(error.get("msg", "Invalid value.")).removeprefix("Value error, ")


def on_invalid_request(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"field": _field_from_location(tuple(e.get("loc", ("body",)))), "message": _message(e)}
        for e in exc.errors
    ]
    names = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return problem(422, f"Check {names}.", kind="validation", errors=errors)


def _unique_fields(error: DjangoValidationError) -> list[str]:
    checked = (error.params or {}).get("unique_check", ())
    return [name for name in checked if name not in HIDDEN_FIELDS]


def _django_errors(exc: DjangoValidationError) -> tuple[list[dict[str, str]], bool]:
    """The field errors of a service's ValidationError, and whether all are duplicates."""
    if not hasattr(exc, "error_dict"):
        return [{"field": "", "message": m} for m in exc.messages], False
    errors, all_unique = [], True
    for name, field_errors in exc.error_dict.items():
        for error in field_errors:
            all_unique &= error.code in UNIQUE_CODES
            fields = _unique_fields(error) if name == NON_FIELD_ERRORS else [name]
            messages = error.messages
            if error.code == "unique_together" and fields:
                model = (error.params or {})["model_class"]._meta
                label = " and ".join(str(model.get_field(f).verbose_name) for f in fields)
                messages = [f"Another {model.verbose_name} of your agency has this {label}."]
            for field in fields or [""]:
                for message in messages:
                    errors.append({"field": API_FIELD_NAMES.get(field, field), "message": message})
    return errors, all_unique


def on_service_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    errors, duplicate = _django_errors(exc)
    names = ", ".join(dict.fromkeys(e["field"] for e in errors if e["field"]))
    detail = f"Check {names}." if names else " ".join(e["message"] for e in errors)
    if duplicate:
        return problem(409, detail, kind="duplicate", errors=errors)
    return problem(422, detail, kind="validation", errors=errors)


def on_version_conflict(request: HttpRequest, exc: VersionConflict) -> HttpResponse:
    """412 when the stale version was a precondition (an update, or If-Match), 409 when a save
    named it in its body; either way the body says the current version, so the client can merge."""
    version = exc.current_version
    precondition = request.method in ("PUT", "PATCH") or "If-Match" in request.headers
    return problem(
        412 if precondition else 409,
        f"{exc}. Read it again, apply your change to version {version}, and send that.",
        kind="stale-version",
        errors=[{"field": "version", "message": f"The current version is {version}."}],
        headers={"ETag": etag(version)},
        extra={"current_version": version},
    )


def on_version_required(request: HttpRequest, exc: VersionRequired) -> HttpResponse:
    errors = [{"field": "If-Match", "message": str(exc)}]
    return problem(428, str(exc), kind="version-required", errors=errors)


def on_bad_precondition(request: HttpRequest, exc: BadPrecondition) -> HttpResponse:
    errors = [{"field": exc.field, "message": str(exc)}]
    return problem(400, str(exc), kind="validation", errors=errors)


def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    headers = {}
    if isinstance(exc, AuthenticationError) or exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="careway"'
    detail = str(exc)
    if exc.status_code == 401 and detail == "Unauthorized":
        detail = "Send Authorization: Bearer <token>, or sign in."
    elif exc.status_code == 403 and detail == "CSRF check Failed":
        detail = "A signed-in browser must send the CSRF cookie's value as X-CSRFToken."
    errors = []
    if exc.status_code == 400:  # ninja raises it only for a body that is not JSON
        detail = "The body is not valid JSON."
        errors = [{"field": "body", "message": detail}]
    return problem(exc.status_code, detail, errors=errors, headers=headers)


def on_body_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    # DATA_UPLOAD_MAX_MEMORY_SIZE: the body is refused before it is read into memory.
    detail = "The body is larger than Careway accepts."
    return problem(413, detail, errors=[{"field": "body", "message": detail}])


def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(404, "There is no such patient or record, or it is not yours to see.")


def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problem(403, str(exc) or "You may not do this.")


def on_integrity_error(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
    # Validation runs first, so this is two requests racing to make the same record.
    logger.warning("Integrity error on %s %s: %s", request.method, request.path, exc)
    return problem(409, "This conflicts with a record saved at the same moment; try again.")


def on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unexpected error on %s %s", request.method, request.path)
    return problem(500, "Something went wrong on our side. It has been logged.")


HANDLERS: tuple[tuple[type[Exception], Any], ...] = (
    (NinjaValidationError, on_invalid_request),
    (DjangoValidationError, on_service_validation_error),
    (VersionConflict, on_version_conflict),
    (VersionRequired, on_version_required),
    (BadPrecondition, on_bad_precondition),
    (HttpError, on_http_error),
    (RequestDataTooBig, on_body_too_large),
    (Http404, on_not_found),
    (PermissionDenied, on_permission_denied),
    (IntegrityError, on_integrity_error),
    (Exception, on_unexpected_error),
)

"""The JSON API under /api/v1: one NinjaAPI, each app's router mounted on it, and every error as
RFC 9457 problem details (application/problem+json) that name the fields at fault.

The last-resort handler logs and answers 500 only for what nobody foresaw; ordinary bad input is
always a 4xx here (tests/api fuzz the whole API to keep it so).
"""

import json
import logging
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.schema import OpenAPISchema

from careway.assessments.api import SectionConflict
from careway.assessments.api import router as assessments_router
from careway.core.conflicts import VersionConflict
from careway.patients.api import BadPrecondition, VersionRequired
from careway.patients.api import router as patients_router

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
    422: "Invalid input",
    428: "Version required",
    500: "Internal error",
}


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
    def get_openapi_schema(self, **kwargs: Any) -> OpenAPISchema:
        schema = super().get_openapi_schema(**kwargs)
        describe_security_and_problems(schema)
        return schema


def describe_security_and_problems(schema: OpenAPISchema) -> None:
    """Fill in what ninja leaves out: each operation's token scope, and the problem media type."""
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            scope = operation.pop("x-careway-scope", None)
            if scope:
                operation["security"] = [{"ApiTokenAuth": [scope]}, {"BrowserSessionAuth": []}]
            for status, response in operation["responses"].items():
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


api = CarewayAPI(
    title="Careway API",
    version="1",
    urls_namespace="api",
    description=(
        "Patients, their clinical record and assessments. Errors are RFC 9457 problem details; "
        "a record you may not see answers 404 exactly as one that does not exist."
    ),
)
api.add_router("/", patients_router)
api.add_router("/", assessments_router)


def _field_from_location(location: tuple[Any, ...]) -> str:
    source, *path = location
    if source == "body" and path:
        path = path[1:]  # the handler's parameter name, which the client never sees
    return ".".join(str(part) for part in path) or str(source)


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return "This field cannot be set."
    return str(error.get("msg", "Invalid value.")).removeprefix("Value error, ")


@api.exception_handler(NinjaValidationError)
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
                model = error.params["model_class"]._meta
                label = " and ".join(str(model.get_field(f).verbose_name) for f in fields)
                messages = [f"Another {model.verbose_name} of your agency has this {label}."]
            for field in fields or [""]:
                for message in messages:
                    errors.append({"field": API_FIELD_NAMES.get(field, field), "message": message})
    return errors, all_unique


@api.exception_handler(DjangoValidationError)
def on_service_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    errors, duplicate = _django_errors(exc)
    names = ", ".join(dict.fromkeys(e["field"] for e in errors if e["field"]))
    detail = f"Check {names}." if names else " ".join(e["message"] for e in errors)
    if duplicate:
        return problem(409, detail, kind="duplicate", errors=errors)
    return problem(422, detail, kind="validation", errors=errors)


@api.exception_handler(VersionConflict)
def on_version_conflict(request: HttpRequest, exc: VersionConflict) -> HttpResponse:
    version = exc.current.version
    return problem(
        412,
        f"{exc} Read it again, apply your change to version {version}, and send that.",
        kind="stale-version",
        errors=[{"field": "version", "message": f"The current version is {version}."}],
        headers={"ETag": f'"{version}"'},
    )


@api.exception_handler(SectionConflict)
def on_section_conflict(request: HttpRequest, exc: SectionConflict) -> HttpResponse:
    # The body says the current version (an RFC 9457 extension member), so the client can merge.
    version = exc.current_version
    return problem(
        409,
        str(exc),
        kind="stale-version",
        errors=[{"field": "version", "message": f"The current version is {version}."}],
        extra={"current_version": version},
    )


@api.exception_handler(VersionRequired)
def on_version_required(request: HttpRequest, exc: VersionRequired) -> HttpResponse:
    errors = [{"field": "If-Match", "message": str(exc)}]
    return problem(428, str(exc), kind="version-required", errors=errors)


@api.exception_handler(BadPrecondition)
def on_bad_precondition(request: HttpRequest, exc: BadPrecondition) -> HttpResponse:
    errors = [{"field": exc.field, "message": str(exc)}]
    return problem(400, str(exc), kind="validation", errors=errors)


@api.exception_handler(HttpError)
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


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(404, "There is no such patient or record, or it is not yours to see.")


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problem(403, str(exc) or "You may not do this.")


@api.exception_handler(IntegrityError)
def on_integrity_error(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
    # Validation runs first, so this is two requests racing to make the same record.
    logger.warning("Integrity error on %s %s: %s", request.method, request.path, exc)
    return problem(409, "This conflicts with a record saved at the same moment; try again.")


@api.exception_handler(Exception)
def on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unexpected error on %s %s", request.method, request.path)
    return problem(500, "Something went wrong on our side. It has been logged.")

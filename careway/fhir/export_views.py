"""The FHIR Bulk Data export endpoints (careway/fhir/export.py does the work).

- `GET /fhir/R4/Patient/$export` with `Prefer: respond-async` starts a job for the token's user:
  202 with `Content-Location` naming the status URL. Parameters: `_type` (comma-separated),
  `_since` (an instant), `_outputFormat` (application/fhir+ndjson, application/ndjson or ndjson).
- `GET` the status URL: 202 with `X-Progress` while it runs; 200 with the manifest (output files
  with their counts, `requiresAccessToken: true`) when done; an OperationOutcome if it failed.
  `DELETE` it to cancel or to remove the files.
- `GET` a file URL from the manifest: the NDJSON, with a bearer token of the same user; only the
  lines about patients the user may see at that moment (see careway/fhir/export.py).

Only the user who started a job may see it, cancel it or fetch its files; anyone else gets 404. A
job ends with the token that started it: once that token is revoked or expired (or its user
deactivated), the job answers 404 to any token and its files are deleted.
"""

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from careway.core import audit

from . import export, tasks
from .api import READ_SCOPE, _failure, _respond, authenticate, authenticate_token, endpoint
from .errors import FhirError
from .mapping.common import parse_datetime
from .models import ExportJob

OUTPUT_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
KNOWN_PARAMETERS = frozenset({"_type", "_since", "_outputFormat", "_format"})
RETRY_AFTER_SECONDS = "2"


@endpoint(("GET",))
def kick_off(request: HttpRequest) -> HttpResponse:
    actor, token = authenticate_token(request, READ_SCOPE)
    if "respond-async" not in request.headers.get("Prefer", ""):
        raise FhirError(
            400, "required", "A bulk export is asynchronous: send Prefer: respond-async.", "Prefer"
        )
    unknown = sorted(set(request.GET) - KNOWN_PARAMETERS)
    if unknown:
        raise FhirError(
            400,
            "not-supported",
            f"Careway's export does not support {', '.join(unknown)}.",
            unknown[0],
        )
    output_format = request.GET.get("_outputFormat", "application/fhir+ndjson")
    if output_format.replace(" ", "+") not in OUTPUT_FORMATS:
        raise FhirError(
            400, "not-supported", "Careway exports application/fhir+ndjson only.", "_outputFormat"
        )
    types = _types(request.GET.get("_type", ""))
    since = _since(request.GET.get("_since", ""))
    job = export.create_job(actor, token, request.build_absolute_uri(), types, since)
    transaction.on_commit(lambda: tasks.export_job.enqueue(str(job.pk)))
    status_url = request.build_absolute_uri(reverse("fhir_export_status", args=[job.pk]))
    response = HttpResponse(status=202)
    response["Content-Location"] = status_url
    return response


def _types(value: str) -> list[str]:
    if not value.strip():
        return []
    available = export.available_types()
    asked = [t.strip() for t in value.split(",") if t.strip()]
    unknown = [t for t in asked if t not in available]
    if unknown:
        raise FhirError(
            400,
            "not-supported",
            f"Careway cannot export {', '.join(unknown)}; it exports {', '.join(available)}.",
            "_type",
        )
    return list(dict.fromkeys(asked))


def _since(value: str) -> datetime | None:
    # Read as every FHIR dateTime is (a time must carry its zone); an unencoded '+' in a query
    # string arrives as a space. Invalid answers 400 naming _since (see api._as_fhir_error).
    return parse_datetime(value.replace(" ", "+"), "_since") if value else None


def _job_for(actor: audit.Actor, job_id: uuid.UUID) -> ExportJob:
    """The actor's own job, while the token that started it works (else its files go)."""
    job = ExportJob.objects.filter(pk=job_id, requested_by=actor.user).first()
    if job is None:
        raise FhirError(404, "not-found", "There is no such export, or it is not yours.")
    if not export.token_works(job):
        export.discard(job, export.NO_LONGER_AUTHORISED)
        raise FhirError(404, "not-found", f"{export.NO_LONGER_AUTHORISED} Start a new one.")
    return job


@endpoint(("GET", "DELETE"))
def status(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    actor = authenticate(request, READ_SCOPE)
    job = _job_for(actor, job_id)
    if request.method == "DELETE":
        export.delete_job(actor, job)
        return HttpResponse(status=202)
    if export.expired(job):
        export.discard(job, export.EXPIRED)  # health records: not kept
        raise FhirError(404, "not-found", f"{export.EXPIRED} Start a new one.")
    if job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING):
        response = HttpResponse(status=202)
        response["X-Progress"] = "Waiting to start" if job.status == "queued" else "Exporting"
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    if job.status == ExportJob.Status.FAILED:
        raise FhirError(500, "exception", job.error or "The export failed.")
    return _respond(request, _manifest(request, job), 200, {"Expires": _http_date(job)})


def _manifest(request: HttpRequest, job: ExportJob) -> dict[str, Any]:
    return {
        "transactionTime": job.created_at.isoformat(),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [
            {
                "type": item["type"],
                "url": request.build_absolute_uri(
                    reverse("fhir_export_file", args=[job.pk, f"{item['type']}.ndjson"])
                ),
                "count": item["count"],
            }
            for item in job.output
        ],
        "error": [],
    }


def _http_date(job: ExportJob) -> str:
    from django.utils.http import http_date

    return http_date(job.expires_at.timestamp()) if job.expires_at else ""


@csrf_exempt
def download(request: HttpRequest, job_id: uuid.UUID, name: str) -> HttpResponseBase:
    """One output file. Not through `endpoint`: it answers NDJSON, not FHIR JSON."""
    try:
        if request.method != "GET":
            raise FhirError(405, "not-supported", "Use GET.", headers={"Allow": "GET"})
        actor = authenticate(request, READ_SCOPE)
        job = _job_for(actor, job_id)
        resource_type = name.removesuffix(".ndjson")
        listed = {item["type"] for item in job.output}
        kept = all(
            p.exists()
            for p in (export.file_path(job, resource_type), export.index_path(job, resource_type))
        )
        if export.expired(job) or resource_type not in listed or not kept:
            raise FhirError(404, "not-found", "There is no such file in this export.")
        assert actor.user is not None  # authenticate() always gives a user
        served = export.Download(job, resource_type, actor.user)
        audit.record(
            actor,
            "fhir.export.download",
            obj=job,
            detail={
                "type": resource_type,
                "patients": served.patients,
                "left_out": served.left_out,
                "break_glass_grants": served.grants,
            },
        )
        response = StreamingHttpResponse(served.lines(), content_type="application/fhir+ndjson")
        response["Content-Disposition"] = f'attachment; filename="{resource_type}.ndjson"'
        return response
    except Exception as exc:  # answered as an OperationOutcome, as the rest of the API
        return _failure(request, exc)

"""Bulk export (FHIR Bulk Data `Patient/$export`): NDJSON files of everything a user may see.

A job is made by the kick-off request and run by a background task (careway/fhir/tasks.py). It
takes the patients the requesting user may see when it starts (careway.patients.access), walks them
in chunks, and writes one NDJSON file per resource type under DATA_DIR/exports/<job id>/, each
line mapped by careway.fhir.mapping exactly as the FHIR API serves it. Memory stays flat: one chunk
of patients and their records at a time.

What it writes is declared per resource type (careway/fhir/mapping/<type>.py): the types that
declare an `Export`, in the order of their declarations; each type's rows for a chunk of patients,
and which of them changed since `_since`. Further records served as a type go in its file after
its own: an assessment's current scores in the Observation file (careway.fhir.mapping.score), so
that an import of the export files the QuestionnaireResponses again and works out the same scores.
Rows that together are one resource (an Observation panel) are written as one.

It is a disclosure: each exported patient gets a `patient.export` audit event naming the job.
Files expire (EXPIRY after the job ends); they are deleted then, or when the client deletes the
job.
"""

import shutil
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils import timezone

from careway.core import audit
from careway.core.writes import service
from careway.patients import access

from . import mapping
from .mapping import ResourceDeclaration
from .models import ExportJob

CHUNK = 500
EXPIRY = timedelta(hours=24)


def export_dir(job: ExportJob) -> Path:
    return Path(settings.DATA_DIR) / "exports" / str(job.pk)


def file_path(job: ExportJob, resource_type: str) -> Path:
    return export_dir(job) / f"{resource_type}.ndjson"


def available_types() -> list[str]:
    """The types that can be exported: those that declare an export and are written as FHIR."""
    return [d.name for d in mapping.declarations() if d.export is not None and d.to_fhir]


@service
def create_job(
    actor: audit.Actor, request_url: str, types: list[str], since: datetime | None
) -> ExportJob:
    user = actor.user
    if user is None or user.organization_id is None:
        raise PermissionDenied("Only a member of an agency can export its records.")
    job = ExportJob.objects.create(
        organization_id=user.organization_id,
        requested_by=user,
        request_url=request_url[:2000],
        types=types,
        since=since,
    )
    audit.record(
        actor,
        "fhir.export.request",
        obj=job,
        detail={"types": types, "since": since.isoformat() if since else None},
    )
    return job


def run(job: ExportJob, on_progress: Callable[[int, int], None] | None = None) -> ExportJob:
    """Write the job's files; marks it done (or failed, with the reason) and audits each patient."""
    job.status = ExportJob.Status.RUNNING
    job.save(update_fields=["status"])
    actor = audit.Actor(user=job.requested_by, via="fhir-export")
    folder = export_dir(job)
    folder.mkdir(parents=True, exist_ok=True)
    types = job.types or available_types()
    patient_ids = list(
        access.visible_patients(job.requested_by).order_by("pk").values_list("pk", flat=True)
    )
    counts = dict.fromkeys(types, 0)
    handles = {t: file_path(job, t).open("wb") for t in types}
    try:
        for start in range(0, len(patient_ids), CHUNK):
            chunk = patient_ids[start : start + CHUNK]
            for resource_type in types:
                for resource in _resources(resource_type, chunk, job.since):
                    handles[resource_type].write(orjson.dumps(resource) + b"\n")
                    counts[resource_type] += 1
            _audit_disclosure(actor, job, chunk)
            if on_progress:
                on_progress(start + len(chunk), len(patient_ids))
    except Exception as exc:
        for handle in handles.values():
            handle.close()
        shutil.rmtree(folder, ignore_errors=True)
        _finish(job, ExportJob.Status.FAILED, [], f"The export stopped: {type(exc).__name__}.")
        raise
    for handle in handles.values():
        handle.close()
    output = []
    for resource_type in types:
        if counts[resource_type]:
            output.append({"type": resource_type, "count": counts[resource_type]})
        else:
            file_path(job, resource_type).unlink(missing_ok=True)
    _finish(job, ExportJob.Status.DONE, output, "")
    return job


def _resources(resource_type: str, chunk: list[Any], since: datetime | None) -> Iterator[dict]:
    for source in mapping.sources(resource_type):
        if source.export is None:
            continue
        rows = source.export.rows(chunk)
        if since is not None and source.export.changed_since is not None:
            rows = rows.filter(source.export.changed_since(since))
        yield from _written(source, rows)


def _written(source: ResourceDeclaration, rows: QuerySet) -> Iterator[dict]:
    """One resource per row, and one per group of rows (a panel, its members written together)."""
    groups: dict[Any, list[Any]] = {}
    for record in rows.iterator(chunk_size=2000):
        group = source.group_of(record)
        if group is None:
            yield mapping.to_fhir(source.name, record)
        else:
            groups.setdefault(group, []).append(record)
    for members in groups.values():
        yield mapping.to_fhir(source.name, members[0], members)


def _audit_disclosure(actor: audit.Actor, job: ExportJob, patient_ids: Iterable[Any]) -> None:
    audit.record_many(
        actor,
        "patient.export",
        list(patient_ids),
        detail={"job": str(job.pk), "disclosure": "FHIR bulk export"},
    )


def _finish(job: ExportJob, status: str, output: list[dict], error: str) -> None:
    now = timezone.now()
    job.status, job.output, job.error = status, output, error
    job.finished_at, job.expires_at = now, now + EXPIRY
    job.save(update_fields=["status", "output", "error", "finished_at", "expires_at"])


@service
def delete_job(actor: audit.Actor, job: ExportJob) -> None:
    """Remove the job's files (a client's DELETE, or expiry); the job row stays for the record."""
    shutil.rmtree(export_dir(job), ignore_errors=True)
    if job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING):
        job.status, job.error = ExportJob.Status.FAILED, "Cancelled by the client."
    job.output = []
    job.expires_at = timezone.now()
    job.save(update_fields=["status", "error", "output", "expires_at"])
    audit.record(actor, "fhir.export.delete", obj=job)

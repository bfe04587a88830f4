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

It is a disclosure: each exported patient gets a `patient.export` audit event naming the job, and
the break-the-glass grant it rode on for a patient the user sees only through one.

Access is decided again when a file is downloaded, not only when the export ran: beside each
type's file, an index (`<type>.patients`) says which patient each run of lines is about, and a
download serves only the lines of patients the user may see at that moment. A grant that has
expired, or a patient taken off the user's care team since, is left out of every later download.
This costs a read of the index and no parsing of the files, and holds for whatever happens to
the user's access between the export and the download (which the alternative, leaving out the
patients seen only through a grant, would not).

A job lives as long as the token that asked for it: a job whose token is revoked, has expired or
whose user is deactivated is not run, and its files are deleted and refused when next asked for.
Files expire EXPIRY after the job ends, and are then deleted when next asked for, or by `sweep`,
which every new export runs first.
"""

import shutil
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from careway.core import audit
from careway.core.models import ApiToken, User
from careway.core.writes import service
from careway.patients import access
from careway.patients.models import Patient

from . import mapping
from .mapping import ResourceDeclaration
from .models import ExportJob

CHUNK = 500
# Long enough to fetch the files of a large export after its status says done (clients poll
# every few seconds, then download); short, since every copy of health records on disk is a
# liability. A download in progress when the files expire still finishes.
EXPIRY = timedelta(hours=1)
INDEX_SUFFIX = ".patients"
NO_LONGER_AUTHORISED = "The token that started this export no longer works (revoked or expired)."
EXPIRED = "This export has expired."
READ_SIZE = 1 << 16


def export_dir(job: ExportJob) -> Path:
    return Path(settings.DATA_DIR) / "exports" / str(job.pk)


def file_path(job: ExportJob, resource_type: str) -> Path:
    return export_dir(job) / f"{resource_type}.ndjson"


def index_path(job: ExportJob, resource_type: str) -> Path:
    return export_dir(job) / f"{resource_type}{INDEX_SUFFIX}"


def available_types() -> list[str]:
    """The types that can be exported: those that declare an export and are written as FHIR."""
    return [d.name for d in mapping.declarations() if d.export is not None and d.to_fhir]


@service
def create_job(
    actor: audit.Actor,
    token: ApiToken,
    request_url: str,
    types: list[str],
    since: datetime | None,
) -> ExportJob:
    """A job for the user of `token`, which it lives as long as."""
    user = actor.user
    if user is None or user.organization_id is None:
        raise PermissionDenied("Only a member of an agency can export its records.")
    job = ExportJob.objects.create(
        organization_id=user.organization_id,
        requested_by=user,
        token=token,
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


# --- whether a job still stands -----------------------------------------------------------------


def token_works(job: ExportJob) -> bool:
    """Whether the token that asked for the job still works (not revoked, not expired, its user
    active)."""
    return job.token_id is not None and ApiToken.objects.usable().filter(pk=job.token_id).exists()


def expired(job: ExportJob) -> bool:
    return job.expires_at is not None and job.expires_at <= timezone.now()


def sweep() -> int:
    """Delete the files of every job that has expired or outlived its token; how many."""
    usable = ApiToken.objects.usable().filter(pk=OuterRef("token_id"))
    dead = ExportJob.objects.exclude(output=[]).filter(
        Q(expires_at__lte=timezone.now()) | ~Exists(usable)
    )
    swept = 0
    for job in dead:
        discard(job, EXPIRED if expired(job) else NO_LONGER_AUTHORISED)
        swept += 1
    return swept


def discard(job: ExportJob, why: str) -> None:
    """Remove a job's files and say it has none (health records are not kept past their use); a
    job not yet done stops, failed for `why`."""
    shutil.rmtree(export_dir(job), ignore_errors=True)
    if job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING):
        job.status, job.error = ExportJob.Status.FAILED, why
    job.output = []
    now = timezone.now()
    job.expires_at = min(job.expires_at, now) if job.expires_at else now
    job.save(update_fields=["status", "error", "output", "expires_at"])


# --- running it ---------------------------------------------------------------------------------


class TypeFile:
    """One type's NDJSON file and its index: a line "<patient id> <bytes>" for each run of
    lines about one patient, so that a download can leave a patient out without parsing."""

    def __init__(self, job: ExportJob, resource_type: str):
        self.data: BinaryIO = file_path(job, resource_type).open("wb")
        self.index: BinaryIO = index_path(job, resource_type).open("wb")
        self.count = 0
        self.patient: Any = None
        self.size = 0

    def write(self, patient_id: Any, resource: dict[str, Any]) -> None:
        if patient_id != self.patient:
            self._end_run()
            self.patient = patient_id
        line = orjson.dumps(resource) + b"\n"
        self.data.write(line)
        self.size += len(line)
        self.count += 1

    def _end_run(self) -> None:
        if self.size:
            self.index.write(f"{self.patient} {self.size}\n".encode())
        self.size = 0

    def close(self) -> None:
        self._end_run()
        self.data.close()
        self.index.close()


def run(job: ExportJob, on_progress: Callable[[int, int], None] | None = None) -> ExportJob:
    """Write the job's files; marks it done (or failed, with the reason) and audits each patient.
    A job whose token no longer works is not run; one cancelled while it runs stops, and keeps
    no files."""
    if not token_works(job):
        _finish(job, ExportJob.Status.FAILED, [], NO_LONGER_AUTHORISED)
        return job
    sweep()
    job.status = ExportJob.Status.RUNNING
    job.save(update_fields=["status"])
    folder = export_dir(job)
    folder.mkdir(parents=True, exist_ok=True)
    files = {t: TypeFile(job, t) for t in job.types or available_types()}
    try:
        finished = _write(job, files, on_progress)
    except Exception as exc:
        _close(files)
        shutil.rmtree(folder, ignore_errors=True)
        _finish(job, ExportJob.Status.FAILED, [], f"The export stopped: {type(exc).__name__}.")
        raise
    _close(files)
    if not finished:  # the client's DELETE has said so already
        shutil.rmtree(folder, ignore_errors=True)
        job.refresh_from_db()
        return job
    output = []
    for resource_type, written in files.items():
        if written.count:
            output.append({"type": resource_type, "count": written.count})
        else:
            file_path(job, resource_type).unlink(missing_ok=True)
            index_path(job, resource_type).unlink(missing_ok=True)
    _finish(job, ExportJob.Status.DONE, output, "")
    return job


def _write(
    job: ExportJob, files: dict[str, TypeFile], on_progress: Callable[[int, int], None] | None
) -> bool:
    """The requester's patients, a chunk at a time, into the files, each chunk audited; False
    when the job was cancelled meanwhile (asked before each chunk and at the end)."""
    actor = audit.Actor(user=job.requested_by, via="fhir-export")
    patient_ids = list(
        access.visible_patients(job.requested_by).order_by("pk").values_list("pk", flat=True)
    )
    grants = access.grants_relied_on(job.requested_by)
    for start in range(0, len(patient_ids), CHUNK):
        if _cancelled(job):
            return False
        chunk = patient_ids[start : start + CHUNK]
        for resource_type, written in files.items():
            for patient_id, resource in _resources(resource_type, chunk, job.since):
                written.write(patient_id, resource)
        _audit_disclosure(actor, job, chunk, grants)
        if on_progress:
            on_progress(start + len(chunk), len(patient_ids))
    return not _cancelled(job)


def _cancelled(job: ExportJob) -> bool:
    return ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.FAILED).exists()


def _close(files: dict[str, TypeFile]) -> None:
    for written in files.values():
        written.close()


def _resources(
    resource_type: str, chunk: list[Any], since: datetime | None
) -> Iterator[tuple[Any, dict]]:
    for source in mapping.sources(resource_type):
        if source.export is None:
            continue
        rows = source.export.rows(chunk)
        if since is not None and source.export.changed_since is not None:
            rows = rows.filter(source.export.changed_since(since))
        yield from _written(source, rows)


def _written(source: ResourceDeclaration, rows: QuerySet) -> Iterator[tuple[Any, dict]]:
    """One resource per row (each part of a row that is several, such as a visit frequency of
    two parts), and one per group of rows (a panel, its members written together), each with the
    patient it is about."""
    groups: dict[Any, list[Any]] = {}
    for record in rows.iterator(chunk_size=2000):
        group = source.group_of(record)
        if group is None:
            for resource in mapping.resources_of(source.name, record):
                yield _patient_of(record), resource
        else:
            groups.setdefault(group, []).append(record)
    for members in groups.values():
        yield _patient_of(members[0]), mapping.to_fhir(source.name, members[0], members)


def _patient_of(record: Any) -> Any:
    return record.pk if isinstance(record, Patient) else record.patient_id


def _audit_disclosure(
    actor: audit.Actor, job: ExportJob, patient_ids: Iterable[Any], grants: dict[Any, int]
) -> None:
    """One `patient.export` event per patient; for one seen only through a break-the-glass
    grant, the grant it rode on."""
    detail = {"job": str(job.pk), "disclosure": "FHIR bulk export"}
    ids = list(patient_ids)
    audit.record_many(actor, "patient.export", [p for p in ids if p not in grants], detail=detail)
    for patient_id in (p for p in ids if p in grants):
        audit.record_many(
            actor,
            "patient.export",
            [patient_id],
            detail={**detail, "break_glass_grant": grants[patient_id]},
        )


def _finish(job: ExportJob, status: str, output: list[dict], error: str) -> None:
    now = timezone.now()
    job.status, job.output, job.error = status, output, error
    job.finished_at, job.expires_at = now, now + EXPIRY
    job.save(update_fields=["status", "output", "error", "finished_at", "expires_at"])


# --- downloading it -----------------------------------------------------------------------------


class Download:
    """What one file's download serves: the runs of lines about patients the user may see now.

    `patients` and `left_out` count the patients served and left out; `grants`, the
    break-the-glass grants by which some of them are seen."""

    def __init__(self, job: ExportJob, resource_type: str, user: User):
        self.path = file_path(job, resource_type)
        visible = {str(pk) for pk in access.visible_patients(user).values_list("pk", flat=True)}
        relied_on = {str(pid): grant for pid, grant in access.grants_relied_on(user).items()}
        self.runs: list[tuple[bool, int]] = []
        served: set[str] = set()
        left_out: set[str] = set()
        with index_path(job, resource_type).open("rb") as index:
            for line in index:
                patient, _, size = line.decode().partition(" ")
                shown = patient in visible
                (served if shown else left_out).add(patient)
                self.runs.append((shown, int(size)))
        self.patients, self.left_out = len(served), len(left_out)
        self.grants = sorted({relied_on[p] for p in served if p in relied_on})

    def lines(self) -> Iterator[bytes]:
        with self.path.open("rb") as data:
            for shown, size in self.runs:
                if not shown:
                    data.seek(size, 1)
                    continue
                while size > 0:
                    piece = data.read(min(size, READ_SIZE))
                    if not piece:
                        return
                    size -= len(piece)
                    yield piece


@service
def delete_job(actor: audit.Actor, job: ExportJob) -> None:
    """Remove the job's files (a client's DELETE); the job row stays for the record."""
    discard(job, "Cancelled by the client.")
    audit.record(actor, "fhir.export.delete", obj=job)

"""Bulk export (FHIR Bulk Data `Patient/$export`): NDJSON files of everything a user may see.

A job is made by the kick-off request and run by a background task (careway/fhir/tasks.py). It
takes the patients the requesting user may see when it starts (careway.patients.access), walks them
in chunks, and writes one NDJSON file per resource type under DATA_DIR/exports/<job id>/, each
line mapped by careway.fhir.mapping exactly as the FHIR API serves it. Memory stays flat: one chunk
of patients and their records at a time.

Assessments go out as QuestionnaireResponse (one per questionnaire of an assessment, drafts
included, as in-progress) and, in the Observation file, their current scores (careway.fhir
.mapping.score), so that an import of the export files them again and works out the same scores.

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
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.utils import timezone

from careway.assessments.models import Amendment, Response, Score
from careway.core import audit
from careway.core.writes import service
from careway.patients import access
from careway.patients.models import (
    Allergy,
    Condition,
    Coverage,
    Encounter,
    EpisodeOfCare,
    Immunization,
    Medication,
    Observation,
    PastCarePlan,
    PastGoal,
    Patient,
    Procedure,
    RelatedPerson,
)

from . import mapping
from .mapping.episode import with_members
from .mapping.questionnaire_response import with_context
from .mapping.score import with_questionnaire_ids
from .models import ExportJob

CHUNK = 500
EXPIRY = timedelta(hours=24)


def _responses(patient_ids: list[Any]) -> QuerySet:
    return with_context(
        Response.objects.filter(patient_id__in=patient_ids).order_by("patient_id", "pk")
    )


def _scores(patient_ids: list[Any]) -> QuerySet:
    scores = Score.objects.filter(patient_id__in=patient_ids, current=True)
    return with_questionnaire_ids(scores.order_by("patient_id", "pk"))


def _rows(model: type[Model], **filters: Any) -> Callable[[list[Any]], QuerySet]:
    def query(patient_ids: list[Any]) -> QuerySet:
        return model._default_manager.filter(patient_id__in=patient_ids, **filters).order_by(
            "patient_id", "pk"
        )

    return query


# Resource type -> the rows of a chunk of patients. Patient first, as the Bulk Data spec shows it.
EXPORTS: dict[str, Callable[[list[Any]], QuerySet]] = {
    "Patient": lambda ids: Patient.objects.filter(pk__in=ids).order_by("pk"),
    "RelatedPerson": _rows(RelatedPerson),
    "Coverage": _rows(Coverage),
    "EpisodeOfCare": lambda ids: with_members(_rows(EpisodeOfCare)(ids)),
    "CareTeam": lambda ids: with_members(_rows(EpisodeOfCare)(ids)),
    "Condition": _rows(Condition),
    "MedicationRequest": _rows(Medication, kind=Medication.Kind.REQUEST),
    "MedicationStatement": _rows(Medication, kind=Medication.Kind.STATEMENT),
    "AllergyIntolerance": _rows(Allergy),
    "Encounter": _rows(Encounter),
    "Observation": _rows(Observation),
    "QuestionnaireResponse": _responses,
    "Immunization": _rows(Immunization),
    "Procedure": _rows(Procedure),
    "CarePlan": _rows(PastCarePlan),
    "Goal": _rows(PastGoal),
}
TIME_FIELDS = {
    "Patient": "updated_at",
    "RelatedPerson": "updated_at",
    "Encounter": "period_start",
}


def export_dir(job: ExportJob) -> Path:
    return Path(settings.DATA_DIR) / "exports" / str(job.pk)


def file_path(job: ExportJob, resource_type: str) -> Path:
    return export_dir(job) / f"{resource_type}.ndjson"


def available_types() -> list[str]:
    """The types that can be exported: those the mapping can write."""
    mapping._load()
    return [t for t in EXPORTS if t in mapping.REGISTRY and mapping.REGISTRY[t].to_fhir]


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
    rows = EXPORTS[resource_type](chunk)
    if since is not None:
        rows = _changed_since(rows, resource_type, since)
    if resource_type == "Observation":
        yield from _observations(rows)
        scores = _scores(chunk)
        if since is not None:
            scores = scores.filter(observed_at__gt=since)
        for score in scores.iterator(chunk_size=2000):
            yield mapping.to_fhir("Observation", score)
        return
    for record in rows.iterator(chunk_size=2000):
        yield mapping.to_fhir(resource_type, record)


def _changed_since(rows: QuerySet, resource_type: str, since: datetime) -> QuerySet:
    if resource_type == "QuestionnaireResponse":
        # Saved (a draft), signed or amended since.
        amended = Amendment.objects.filter(response=OuterRef("pk"), signed_at__gt=since)
        return rows.filter(
            Q(updated_at__gt=since) | Q(assessment__signed_at__gt=since) | Q(Exists(amended))
        )
    # Records without a change time are filtered by when they were recorded.
    field = TIME_FIELDS.get(resource_type)
    if field is None:
        names = {f.name for f in rows.model._meta.fields}
        field = "recorded_at" if "recorded_at" in names else None
    return rows.filter(**{f"{field}__gt": since}) if field else rows


def _observations(rows: QuerySet) -> Iterator[dict]:
    """One resource per observation, and one per panel (its members written together)."""
    panels: dict[Any, list[Observation]] = {}
    for observation in rows.iterator(chunk_size=2000):
        if observation.panel_id is None:
            yield mapping.to_fhir("Observation", observation)
        else:
            panels.setdefault(observation.panel_id, []).append(observation)
    for members in panels.values():
        yield mapping.to_fhir("Observation", members[0], members)


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

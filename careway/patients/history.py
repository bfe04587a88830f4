"""Earlier versions of versioned records: kept just before each change, read back by version.

The live row is always the newest version. An update service takes a `snapshot()` of a record
before changing it and `keep()`s the snapshots of what did change; `as_of()` gives the record as
it was at a version, as an unsaved model instance, so that whatever shows a record (a page, the
FHIR mapping) shows an old one the same way.
"""

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import models

from .models import Patient, RecordVersion

M = TypeVar("M", bound=models.Model)


def snapshot(record: models.Model) -> RecordVersion:
    """`record` as it is now, ready to keep (unsaved): take it before changing the record."""
    return RecordVersion(
        organization_id=record.organization_id,  # type: ignore[attr-defined]
        patient_id=record.pk if isinstance(record, Patient) else record.patient_id,  # type: ignore[attr-defined]
        record_type=record._meta.label_lower,
        record_id=str(record.pk),
        version=record.version,  # type: ignore[attr-defined]
        data={f.attname: _stored(f, record) for f in record._meta.concrete_fields},
        valid_from=getattr(record, "updated_at", None),
    )


def keep(snapshots: Iterable[RecordVersion]) -> None:
    """Store the snapshots of records that have changed, in one statement (the caller is a
    @service)."""
    RecordVersion.objects.bulk_create(list(snapshots))


def as_of(model: type[M], record_id: Any, version: int) -> M | None:
    """The record as it was at `version`, from the kept copies (None if none was kept)."""
    kept = RecordVersion.objects.filter(
        record_type=model._meta.label_lower, record_id=str(record_id), version=version
    ).first()
    return restore(model, kept) if kept else None


def versions(model: type[models.Model], record_id: Any) -> list[RecordVersion]:
    """Every kept earlier version of one record, oldest first."""
    return list(
        RecordVersion.objects.filter(
            record_type=model._meta.label_lower, record_id=str(record_id)
        ).order_by("version")
    )


def restore(model: type[M], kept: RecordVersion) -> M:
    values = {}
    for field in model._meta.concrete_fields:
        if field.attname in kept.data:
            values[field.attname] = field.to_python(kept.data[field.attname])
    instance = model(**values)
    instance._state.adding = False
    return instance


def _stored(field: Any, record: models.Model) -> Any:
    # JSON fields keep their structure and None stays None; everything else is kept as the
    # field's own text form, which to_python() reads back exactly (dates, UUIDs, numbers).
    value = getattr(record, field.attname)
    if value is None or isinstance(field, models.JSONField):
        return value
    return field.value_to_string(record)

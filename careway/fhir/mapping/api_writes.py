"""What the FHIR API's writes of several types share: the patient an incoming resource is about,
and the times Careway can keep. Each type's own create and update live in its module, declared as
its `Write` (careway/fhir/mapping/__init__.py)."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from careway.core import audit
from careway.fhir.errors import FhirError
from careway.patients import access
from careway.patients.access import Action
from careway.patients.models import Patient, PatientRecord


def subject_of(
    actor: audit.Actor, reference: str, element: str, model: type[PatientRecord]
) -> Patient:
    """The patient an incoming record of `model` is about: `Patient/<id>` of a patient whose
    records of that kind the actor may change (404, or 403 when only theirs to read; audited)."""
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
    return access.get_patient_for(actor, ident, Action.EDIT, model.edit_permission)


def check_times(row: dict[str, Any], elements: Mapping[str, str]) -> None:
    """Refuse a time that has no UTC form (year 1 east of Greenwich, year 9999 west of it):
    Careway stores UTC, and such a record could be stored but never read back. `elements` names
    the element of each field."""
    for name, value in row.items():
        if isinstance(value, datetime):
            try:
                value.astimezone(UTC)
            except OverflowError:
                element = elements.get(name) or name
                raise FhirError(
                    400, "invalid", f"{element}: outside the range of times Careway keeps.", element
                ) from None

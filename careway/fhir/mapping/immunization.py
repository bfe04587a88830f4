"""Immunization <-> careway.patients.Immunization.

- vaccineCode: CVX first, else the first coding; required.
- status: completed, not-done, entered-in-error (R4's codes are Careway's).
- occurrenceDateTime <-> occurred_at; required as a time (an occurrenceString such as "last
  fall" is refused: Careway lists vaccines by date).
- primarySource <-> primary_source (absent reads as true, the model's default); lotNumber <->
  lot_number; recorded <-> recorded_at; note <-> note.
"""

from typing import Any

from careway.fhir import codes
from careway.patients.models import Immunization

from . import (
    Export,
    Incoming,
    Invalid,
    ResourceDeclaration,
    changed_after,
    patient_rows,
    register,
)
from . import common as c

PATH = "Immunization"
LIMITS = c.limits(Immunization)
ELEMENTS = {
    "code": "Immunization.vaccineCode.coding.code",
    "code_system": "Immunization.vaccineCode.coding.system",
    "display": "Immunization.vaccineCode",
    "lot_number": "Immunization.lotNumber",
}
STATUSES = frozenset(Immunization.Status.values)


def immunization_to_fhir(record: Immunization) -> dict[str, Any]:
    return c.drop_empty(
        {
            "resourceType": "Immunization",
            "id": str(record.pk),
            "meta": c.meta(record, "recorded_at"),
            "status": record.status,
            "vaccineCode": c.coded(record.code_system, record.code, record.display),
            "patient": c.patient_ref(record),
            "occurrenceDateTime": c.instant(record.occurred_at),
            "recorded": c.instant(record.recorded_at) if record.recorded_at else None,
            "primarySource": record.primary_source,
            "lotNumber": record.lot_number,
            "note": c.annotation(record.note),
        }
    )


def immunization_from_fhir(resource: dict[str, Any]) -> Incoming:
    system, code, display = c.concept(
        resource.get("vaccineCode"), "Immunization.vaccineCode", (codes.CVX,)
    )
    if not code and not display:
        raise Invalid("Immunization.vaccineCode", "missing: Careway needs the vaccine")
    if "occurrenceDateTime" not in resource:
        raise Invalid("Immunization.occurrence[x]", "missing: Careway needs the date it was given")
    if "status" not in resource:
        raise Invalid("Immunization.status", "missing: R4 requires the status")
    row: dict[str, Any] = {
        "code_system": system,
        "code": code,
        "display": display or code,
        "status": c.code_in(resource, "status", PATH, STATUSES, "completed"),
        "occurred_at": c.parse_datetime(
            resource["occurrenceDateTime"], "Immunization.occurrenceDateTime"
        ),
        "primary_source": c.boolean(resource, "primarySource", PATH, default=True),
        "lot_number": c.text(resource, "lotNumber", PATH),
        "note": c.notes(resource, PATH),
    }
    recorded = c.optional_datetime(resource, "recorded", PATH)
    if recorded is not None:
        row["recorded_at"] = recorded
    c.check_lengths(row, LIMITS, ELEMENTS)
    return Incoming(
        resource_type=PATH,
        model=Immunization,
        rows=[row],
        subject=c.reference(resource, "patient", PATH),
        source_id=c.text(resource, "id", PATH),
        identifiers=c.identifiers(resource, PATH),
    )


register(
    ResourceDeclaration(
        "Immunization",
        Immunization,
        from_fhir=immunization_from_fhir,
        to_fhir=immunization_to_fhir,
        elements=ELEMENTS,
        export=Export(rows=patient_rows(Immunization), changed_since=changed_after("recorded_at")),
    )
)

"""Procedure <-> careway.patients.Procedure.

- code: SNOMED CT first, else the first coding; required.
- status: R4's event status codes are Careway's.
- performedDateTime <-> performed_start (no end); performedPeriod <-> performed_start /
  performed_end. A performed string, age or range has no Careway field and is not kept.
- reason: every reasonCode in words, else the display of each reasonReference, joined by "; ";
  a reasonReference with no display leaves `references["reason"]` for the importer to fill in
  with the referenced condition's words. Written as one reasonCode in words.
- note <-> note.

Served by the API (read, vread; search by patient, subject, _id, status and date, the performed
start and end), and read-only there: import takes procedures in. Careway's own teaching records
are Procedures too (teaching.py, `also=True`), searched with these.
"""

from typing import Any

from careway.fhir import codes, search
from careway.patients.models import Procedure

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

PATH = "Procedure"
LIMITS = c.limits(Procedure)
ELEMENTS = {
    "code": "Procedure.code.coding.code",
    "code_system": "Procedure.code.coding.system",
    "display": "Procedure.code",
    "reason": "Procedure.reason[x]",
}
STATUSES = frozenset(Procedure.Status.values)


def procedure_to_fhir(record: Procedure) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": str(record.pk),
        "meta": c.meta(record, "recorded_at"),
        "status": record.status,
        "code": c.coded(record.code_system, record.code, record.display),
        "subject": c.patient_ref(record),
        "reasonCode": [{"text": record.reason}] if record.reason else [],
        "note": c.annotation(record.note),
    }
    if record.performed_end:
        resource["performedPeriod"] = c.drop_empty(
            {
                "start": c.instant(record.performed_start) if record.performed_start else None,
                "end": c.instant(record.performed_end),
            }
        )
    elif record.performed_start:
        resource["performedDateTime"] = c.instant(record.performed_start)
    return c.drop_empty(resource)


def procedure_from_fhir(resource: dict[str, Any]) -> Incoming:
    system, code, display = c.concept(resource.get("code"), "Procedure.code", (codes.SNOMED,))
    if not code and not display:
        raise Invalid("Procedure.code", "missing: Careway needs the procedure coded or in words")
    if "status" not in resource:
        raise Invalid("Procedure.status", "missing: R4 requires the status")
    row: dict[str, Any] = {
        "code_system": system,
        "code": code,
        "display": display or code,
        "status": c.code_in(resource, "status", PATH, STATUSES, "completed"),
        "performed_start": None,
        "performed_end": None,
        "note": c.notes(resource, PATH),
    }
    if "performedDateTime" in resource:
        row["performed_start"] = c.parse_datetime(
            resource["performedDateTime"], "Procedure.performedDateTime"
        )
    period = c.obj(resource, "performedPeriod", PATH)
    if period:
        row["performed_start"] = c.optional_datetime(period, "start", "Procedure.performedPeriod")
        row["performed_end"] = c.optional_datetime(period, "end", "Procedure.performedPeriod")
    references: dict[str, str] = {}
    row["reason"] = _reason(resource, references)
    c.check_lengths(row, LIMITS, ELEMENTS)
    return Incoming(
        resource_type=PATH,
        model=Procedure,
        rows=[row],
        subject=c.reference(resource, "subject", PATH),
        references=references,
        source_id=c.text(resource, "id", PATH),
        identifiers=c.identifiers(resource, PATH),
    )


def _reason(resource: dict[str, Any], references: dict[str, str]) -> str:
    words = []
    for index, reason in enumerate(c.objects(resource, "reasonCode", PATH)):
        words.append(c.concept(reason, f"Procedure.reasonCode[{index}]", (codes.SNOMED,))[2])
    if not any(words):
        for index, reason in enumerate(c.objects(resource, "reasonReference", PATH)):
            where = f"Procedure.reasonReference[{index}]"
            words.append(c.text(reason, "display", where))
            if not words[-1] and reason.get("reference") and "reason" not in references:
                references["reason"] = c.text(reason, "reference", where)
    return "; ".join(dict.fromkeys(w for w in words if w))


# The same parameters and order (-time, -id) as teaching records (teaching.py), so that one page
# can take rows from both.
SEARCH = search.SearchDeclaration(
    order=("-recorded_at", "-id"),
    includes=("patient", "subject"),
    sort_description="most recently recorded first",
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=search.locate_by_int),
            "status": search.TokenParam(
                "status",
                codes=search.value_set(*search.stored_as_is(*Procedure.Status.values)),
                description="The procedure's status.",
            ),
            "date": search.DateParam(
                "performed_start",
                "performed_end",
                description="When it was done (eq, ne, gt, lt, ge, le).",
            ),
        }
    ),
)

register(
    ResourceDeclaration(
        "Procedure",
        Procedure,
        from_fhir=procedure_from_fhir,
        to_fhir=procedure_to_fhir,
        search=SEARCH,
        elements=ELEMENTS,
        export=Export(rows=patient_rows(Procedure), changed_since=changed_after("recorded_at")),
    )
)

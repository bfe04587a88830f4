"""DocumentReference <- careway.careplans.PlanOfCare: the physician's Home Health Certification
and Plan of Care as sent for signature, with its PDF. Written only: read, searched and exported,
never written through FHIR (a plan of care is drawn up, sent and marked signed in Careway).

Only a plan of care that was sent is served: R4 requires a DocumentReference to have content
(1..*), and a draft has no document yet (its PDF is made when it is sent). A draft is neither
read, found nor exported; once sent, it is served as sent, and so it stays.

- identifier: system urn:careway:fhir:plan-of-care, value the record's id.
- status: current, or entered-in-error. docStatus: preliminary while sent and not signed, final
  once signed (entered-in-error for one entered in error).
- type: LOINC 18776-5 "Plan of care note" (the general plan-of-care document code of C-CDA's
  care plan document types; no LOINC code more specific to the CMS-485 certification was found
  to verify), text "Home Health Certification and Plan of Care". category: US Core's
  DocumentReference category clinical-note.
- subject; date: when it was sent; author: who sent it, authenticator: the certifying
  practitioner once signed, and custodian: the agency, each by name (Careway serves no
  Practitioner or Organization).
- description: the kind (certification or recertification) and the certification period, in
  words; context.period: the certification period; context.related: the CarePlan it was drawn
  from.
- content (one): the PDF as sent, attachment data in base64, contentType application/pdf, size,
  hash (base64 of its SHA-1, as R4 asks), title and creation (when sent).
- extension signature-status (Careway's, plan_common.py): sent, signed or overdue, the due date,
  when sent and signed.
meta.versionId is the record's version; earlier versions are not served (vread).
"""

import base64
import hashlib
from typing import Any

from django.db.models import Q, QuerySet

from careway.careplans.models import PlanOfCare
from careway.fhir import codes, search

from . import Export, ResourceDeclaration, changed_after, patient_rows, register
from . import common as c
from . import plan_common as pc

IDENTIFIER = f"{codes.CAREWAY}plan-of-care"
US_CORE_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
TYPE = {
    "coding": [c.coding(codes.LOINC, "18776-5", "Plan of care note")],
    "text": "Home Health Certification and Plan of Care",
}
CATEGORY = {"coding": [c.coding(US_CORE_CATEGORY, "clinical-note", "Clinical Note")]}
DOC_STATUS = {"sent": "preliminary", "signed": "final", "entered-in-error": "entered-in-error"}
KINDS = dict(PlanOfCare.Kind.choices)
SERVED = pc.PLAN_OF_CARE_SERVED


def pdf_of(record: PlanOfCare) -> bytes:
    return bytes(record.sent_pdf or b"")


def sha1_base64(data: bytes) -> str:
    """The attachment's hash as R4 asks: the SHA-1 of the data, in base64 (an identity check,
    not a security measure)."""
    digest = hashlib.sha1(data, usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def plan_of_care_to_fhir(record: PlanOfCare) -> dict[str, Any]:
    pdf = pdf_of(record)
    period = f"{c.day(record.period_start)} to {c.day(record.period_end)}"
    kind = KINDS.get(record.kind, record.kind)
    signed = record.status == PlanOfCare.Status.SIGNED
    sent = c.instant(record.sent_at) if record.sent_at else None
    return c.drop_empty(
        {
            "resourceType": "DocumentReference",
            "id": str(record.pk),
            "meta": c.meta(record, "updated_at"),
            "extension": pc.signature_extension(record),
            "identifier": [{"system": IDENTIFIER, "value": str(record.pk)}],
            "status": (
                "entered-in-error"
                if record.status == PlanOfCare.Status.ENTERED_IN_ERROR
                else "current"
            ),
            "docStatus": DOC_STATUS.get(record.status),
            "type": TYPE,
            "category": [CATEGORY],
            "subject": c.patient_ref(record),
            "date": sent or c.instant(record.created_at),
            "author": [{"display": record.sent_by.display_name}] if record.sent_by else [],
            "authenticator": {"display": practitioner(record)} if signed else None,
            "custodian": {"display": record.organization.name},
            "description": f"Home health plan of care: {kind.lower()}, {period}",
            "content": [
                {
                    "attachment": c.drop_empty(
                        {
                            "contentType": "application/pdf",
                            "data": base64.b64encode(pdf).decode("ascii"),
                            "size": len(pdf),
                            "hash": sha1_base64(pdf),
                            "title": f"Plan of care {period}.pdf",
                            "creation": sent,
                        }
                    )
                }
            ],
            "context": {
                "period": {"start": c.day(record.period_start), "end": c.day(record.period_end)},
                "related": [{**pc.plan_reference(record.plan_id), "display": record.plan.title}],
            },
        }
    )


def practitioner(record: PlanOfCare) -> str:
    name = record.practitioner_name or "The certifying practitioner"
    kind = record.practitioner_kind  # MD, DO, NP, ... as practitioners sign
    return f"{name}, {kind}" if kind and not name.endswith(kind) else name


# --- search and export ---------------------------------------------------------------------------


def served(rows: QuerySet) -> QuerySet:
    """The plans of care served (sent, never a draft), with what writing them reads."""
    return rows.filter(SERVED).select_related("plan", "sent_by", "organization")


def locate_document(ident: str) -> Q | None:
    pk = search.uuid_id(ident)
    return Q(pk=pk) if pk is not None and str(pk) == ident else None


def _plans_of_care_of(patient_ids: list[Any]) -> QuerySet:
    return served(patient_rows(PlanOfCare)(patient_ids))


SEARCH = search.SearchDeclaration(
    order=("-created_at", "-id"),
    locate=locate_document,
    scope=served,
    includes=("patient", "subject"),
    sort_description="most recently drawn up first",
    versioned=False,
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=locate_document),
            "status": search.TokenParam(
                "status",
                codes=search.value_set(
                    ("current", "sent"),
                    ("current", "signed"),
                    ("entered-in-error", "entered-in-error"),
                    *search.not_stored("superseded"),
                ),
                description="current (sent or signed), or entered-in-error.",
            ),
            "date": search.DateParam(
                "sent_at", description="When it was sent (eq, ne, gt, lt, ge, le)."
            ),
        }
    ),
)

register(
    ResourceDeclaration(
        "DocumentReference",
        PlanOfCare,
        to_fhir=plan_of_care_to_fhir,
        search=SEARCH,
        export=Export(rows=_plans_of_care_of, changed_since=changed_after("updated_at")),
        notes=(
            "The physician's Home Health Certification and Plan of Care as sent, with its PDF "
            "(content.attachment: data, size, SHA-1 hash), once sent; a draft is not served. "
            "Where its signature stands: extension "
            f"{pc.EXT_SIGNATURE}. Read, searched and exported, never written here; no earlier "
            "versions.",
        ),
    )
)

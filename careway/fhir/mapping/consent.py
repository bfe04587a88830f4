"""Consent <- careway.careplans.Agreement: the patient's (or their legal representative's)
agreement to one revision of the living care plan. Written only: read, searched and exported,
never written through FHIR (an agreement is recorded in Careway, on the tablet).

- status: active, or entered-in-error. scope: consentscope `treatment`. category: LOINC 59284-0
  (its display in LOINC today is "Consent Document"; R4's consent-category value set lists it as
  "Patient Consent").
- patient; dateTime: when they agreed; performer: who agreed, the Patient or the representative's
  RelatedPerson; organization: the agency, by name (Careway serves no Organization).
- What was agreed to: `provision` (type permit) whose data (meaning `instance`) is a reference to
  the CarePlan, its display naming the revision; and Careway's extension plan-revision
  (valuePositiveInt), the revision agreed to. Not `sourceReference`: in R4 it takes a Consent,
  DocumentReference, Contract or QuestionnaireResponse (the source document), not a CarePlan. The
  reference is to the plan as it is now (CarePlan's meta.versionId is its revision, and earlier
  revisions are not served): when the plan's revision is later than plan-revision, the agreement
  is to an earlier revision, and Careway asks again.
- policy: 42 CFR 484.50 (uri at the eCFR): a home health patient's rights, among them to take
  part in and agree to the plan of care (paragraph (c)); R4 requires a policy or a policyRule
  (ppc-1), and no code of R4's consent-policy value set is about agreeing to a plan of care.
- verification (one): verified, with whom (the person who agreed), when, and Careway's extensions
  agreement-method (how, coded with its words: a signature drawn on the tablet, or verbal) and,
  for a verbal agreement, witness (the witness's name). R4's verification has no element for
  either.
- text: a generated narrative saying who agreed, how, to which revision, and the notes (R4's
  Consent has no note element).
The drawn signature itself is not served: R4 keeps a signature in a Provenance or a
DocumentReference of the signed document, and Careway serves neither for an agreement; its
strokes stay in Careway. meta.versionId is the record's version; earlier versions are not served.
"""

from html import escape
from typing import Any

from django.db.models import Q, QuerySet

from careway.careplans.models import Agreement
from careway.fhir import codes, search

from . import Export, ResourceDeclaration, changed_after, patient_rows, register
from . import common as c
from . import plan_common as pc

CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
SCOPE = {"coding": [c.coding(CONSENT_SCOPE, "treatment", "Treatment")], "text": "Treatment"}
CATEGORY = {
    "coding": [c.coding(codes.LOINC, "59284-0", "Consent Document")],
    "text": "Agreement to the home health plan of care",
}
POLICY = "https://www.ecfr.gov/current/title-42/section-484.50"
EXT_REVISION = codes.careway_extension("plan-revision")
EXT_METHOD = codes.careway_extension("agreement-method")
EXT_WITNESS = codes.careway_extension("witness")
AGREEMENT_METHOD = f"{codes.CAREWAY}CodeSystem:agreement-method"
METHODS = dict(Agreement.Method.choices)
STATUSES = ("active", "entered-in-error")
NEVER = ("draft", "proposed", "rejected", "inactive")


def consent_to_fhir(record: Agreement) -> dict[str, Any]:
    who = _who(record)
    method = METHODS.get(record.method, record.method)
    checks: list[dict[str, Any]] = [
        {
            "url": EXT_METHOD,
            "valueCodeableConcept": {
                "coding": [c.coding(AGREEMENT_METHOD, record.method, method)],
                "text": method,
            },
        }
    ]
    if record.witness_name:
        checks.append({"url": EXT_WITNESS, "valueString": record.witness_name})
    plan_words = f"{record.plan.title}, revision {record.revision}"
    return c.drop_empty(
        {
            "resourceType": "Consent",
            "id": str(record.pk),
            "meta": c.meta(record, "updated_at"),
            "text": _narrative(record, who, method, plan_words),
            "extension": [{"url": EXT_REVISION, "valuePositiveInt": record.revision}],
            "status": record.status,
            "scope": SCOPE,
            "category": [CATEGORY],
            "patient": c.patient_ref(record),
            "dateTime": c.instant(record.agreed_at),
            "performer": [who],
            "organization": [{"display": record.organization.name}],
            "policy": [{"uri": POLICY}],
            "verification": [
                {
                    "extension": checks,
                    "verified": True,
                    "verifiedWith": who,
                    "verificationDate": c.instant(record.agreed_at),
                }
            ],
            "provision": {
                "type": "permit",
                "data": [
                    {
                        "meaning": "instance",
                        "reference": {
                            **pc.plan_reference(record.plan_id),
                            "display": plan_words,
                        },
                    }
                ],
            },
        }
    )


def _who(record: Agreement) -> dict[str, Any]:
    if record.who == Agreement.Who.PATIENT:
        return c.patient_ref(record)
    if record.representative_id:
        assert record.representative is not None
        return {
            "reference": f"RelatedPerson/{record.representative_id}",
            "display": record.representative.name,
        }
    return {"display": "Legal representative"}


def _narrative(record: Agreement, who: dict[str, Any], method: str, plan: str) -> dict[str, Any]:
    person = "The patient" if record.who == Agreement.Who.PATIENT else who.get("display", "")
    lines = [f"{person} agreed to {plan}.", f"How: {method}."]
    if record.witness_name:
        lines.append(f"Witness: {record.witness_name}.")
    if record.status == Agreement.Status.ENTERED_IN_ERROR:
        lines.append("Entered in error.")
    if record.notes:
        lines.append(f"Notes: {record.notes}")
    body = "".join(f"<p>{escape(line)}</p>" for line in lines)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


# --- search and export ---------------------------------------------------------------------------


def locate_consent(ident: str) -> Q | None:
    pk = search.uuid_id(ident)
    return Q(pk=pk) if pk is not None and str(pk) == ident else None


def with_links(rows: QuerySet) -> QuerySet:
    return rows.select_related("plan", "representative", "organization")


def _agreements_of(patient_ids: list[Any]) -> QuerySet:
    return with_links(patient_rows(Agreement)(patient_ids))


SEARCH = search.SearchDeclaration(
    order=("-agreed_at", "-id"),
    locate=locate_consent,
    scope=with_links,
    includes=("patient",),
    sort_description="most recently agreed first",
    versioned=False,
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=locate_consent),
            "status": search.TokenParam(
                "status",
                codes=search.value_set(*search.stored_as_is(*STATUSES), *search.not_stored(*NEVER)),
                description="The agreement's status (active, or entered-in-error).",
            ),
            "date": search.DateParam(
                "agreed_at", description="When they agreed (eq, ne, gt, lt, ge, le)."
            ),
        },
        subject=False,
    ),
)

register(
    ResourceDeclaration(
        "Consent",
        Agreement,
        to_fhir=consent_to_fhir,
        search=SEARCH,
        export=Export(rows=_agreements_of, changed_since=changed_after("updated_at")),
        notes=(
            "A patient's (or legal representative's) agreement to a revision of Careway's care "
            "plan (provision.data: the CarePlan; extension plan-revision: the revision agreed "
            "to). Read, searched and exported, never written here; no earlier versions. A drawn "
            "signature is not served: its strokes stay in Careway.",
        ),
    )
)

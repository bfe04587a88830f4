"""AllergyIntolerance <-> careway.patients.Allergy, shaped as US Core AllergyIntolerance.

- code: RxNorm first, then SNOMED CT, else the first coding; required (Careway lists the
  allergy by name).
- clinicalStatus <-> clinical_status (active, inactive, resolved). Careway's own
  "entered-in-error" status is FHIR's verificationStatus entered-in-error, written without a
  clinicalStatus (R4 ait-2). Otherwise verificationStatus is written "confirmed": an allergy on
  Careway's list is one the agency acts on.
- Read: verificationStatus "refuted" is refused (filing it would list an allergy the patient does
  not have); "unconfirmed" is taken in as an allergy, because listing a possible allergy is safer
  than dropping it.
- category: the first of the resource's categories (food, medication, environment, biologic).
  Without one, an RxNorm-coded substance reads as medication, anything else as environment.
- criticality: as written; absent reads as unable-to-assess (nobody assessed it).
- reaction: the manifestations of every reaction, in words, joined by ", "; written as one
  reaction with one manifestation in words.
- recordedDate <-> recorded_at; note <-> note.
"""

from typing import Any

from careway.fhir import codes, search
from careway.patients.models import Allergy

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

PATH = "AllergyIntolerance"
LIMITS = c.limits(Allergy)
ELEMENTS = {
    "code": f"{PATH}.code.coding.code",
    "code_system": f"{PATH}.code.coding.system",
    "display": f"{PATH}.code",
    "reaction": f"{PATH}.reaction.manifestation",
}
PREFERRED = (codes.RXNORM, codes.SNOMED)
CLINICAL = frozenset({"active", "inactive", "resolved"})
VERIFICATION = frozenset({"unconfirmed", "confirmed", "refuted", "entered-in-error"})
CATEGORIES = frozenset(Allergy.Category.values)
CRITICALITIES = frozenset(Allergy.Criticality.values)
ERROR = Allergy.ClinicalStatus.ENTERED_IN_ERROR


def allergy_to_fhir(allergy: Allergy) -> dict[str, Any]:
    in_error = allergy.clinical_status == ERROR
    return c.drop_empty(
        {
            "resourceType": "AllergyIntolerance",
            "id": str(allergy.pk),
            "meta": c.meta(allergy, "recorded_at"),
            "clinicalStatus": (
                None if in_error else c.category(codes.ALLERGY_CLINICAL, allergy.clinical_status)
            ),
            "verificationStatus": c.category(
                codes.ALLERGY_VERIFICATION, ERROR if in_error else "confirmed"
            ),
            "category": [allergy.category] if allergy.category else [],
            "criticality": allergy.criticality,
            "code": c.coded(allergy.code_system, allergy.code, allergy.display),
            "patient": c.patient_ref(allergy),
            "recordedDate": c.instant(allergy.recorded_at) if allergy.recorded_at else None,
            "note": c.annotation(allergy.note),
            "reaction": (
                [{"manifestation": [{"text": allergy.reaction}]}] if allergy.reaction else []
            ),
        }
    )


def allergy_from_fhir(resource: dict[str, Any]) -> Incoming:
    system, code, display = c.concept(resource.get("code"), f"{PATH}.code", PREFERRED)
    if not code and not display:
        raise Invalid(f"{PATH}.code", "missing: Careway needs the substance coded or in words")
    verification = _status(resource, "verificationStatus", codes.ALLERGY_VERIFICATION, VERIFICATION)
    if verification == "refuted":
        raise Invalid(
            f"{PATH}.verificationStatus",
            "refuted: the patient does not have this allergy, so Careway does not list it",
        )
    clinical = _status(resource, "clinicalStatus", codes.ALLERGY_CLINICAL, CLINICAL) or "active"
    row: dict[str, Any] = {
        "code_system": system,
        "code": code,
        "display": display or code,
        "clinical_status": ERROR if verification == "entered-in-error" else clinical,
        "category": _category(resource, system),
        "criticality": c.code_in(
            resource, "criticality", PATH, CRITICALITIES, Allergy.Criticality.UNABLE
        ),
        "reaction": _reactions(resource),
        "note": c.notes(resource, PATH),
    }
    recorded = c.optional_datetime(resource, "recordedDate", PATH)
    if recorded is not None:
        row["recorded_at"] = recorded
    c.check_lengths(row, LIMITS, ELEMENTS)
    return Incoming(
        resource_type=PATH,
        model=Allergy,
        rows=[row],
        subject=c.reference(resource, "patient", PATH),
        source_id=c.text(resource, "id", PATH),
        identifiers=c.identifiers(resource, PATH),
    )


def _status(resource: dict[str, Any], key: str, system: str, allowed: frozenset[str]) -> str:
    where = f"{PATH}.{key}"
    value = (
        c.coding_code(resource.get(key), system, where) or c.concept(resource.get(key), where)[1]
    )
    if value and value not in allowed:
        raise Invalid(where, f"unknown code {value!r}: expected one of {sorted(allowed)}")
    return value


def _category(resource: dict[str, Any], system: str) -> str:
    for index, value in enumerate(c.array(resource, "category", PATH)):
        if not isinstance(value, str) or value not in CATEGORIES:
            raise Invalid(
                f"{PATH}.category[{index}]",
                f"unknown code {value!r}: expected one of {sorted(CATEGORIES)}",
            )
        return value
    return Allergy.Category.MEDICATION if system == codes.RXNORM else Allergy.Category.ENVIRONMENT


def _reactions(resource: dict[str, Any]) -> str:
    words = []
    for index, reaction in enumerate(c.objects(resource, "reaction", PATH)):
        where = f"{PATH}.reaction[{index}]"
        for place, manifestation in enumerate(c.objects(reaction, "manifestation", where)):
            word = c.concept(manifestation, f"{where}.manifestation[{place}]")[2]
            if word and word not in words:
                words.append(word)
    return ", ".join(words)


# --- search --------------------------------------------------------------------------------------

CLINICAL_CODES = search.value_set(*search.stored_as_is("active", "inactive", "resolved"))

SEARCH = search.SearchDeclaration(
    order=("-recorded_at", "-id"),
    includes=("patient",),
    sort_description="most recently recorded first",
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=search.locate_by_int),
            "clinical-status": search.TokenParam(
                "clinical_status",
                system=codes.ALLERGY_CLINICAL,
                codes=CLINICAL_CODES,
                description="active, inactive or resolved.",
            ),
        },
        subject=False,
    ),
)

register(
    ResourceDeclaration(
        "AllergyIntolerance",
        Allergy,
        from_fhir=allergy_from_fhir,
        to_fhir=allergy_to_fhir,
        elements=ELEMENTS,
        search=SEARCH,
        export=Export(rows=patient_rows(Allergy), changed_since=changed_after("recorded_at")),
    )
)

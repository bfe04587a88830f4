"""Condition <-> careway.patients.Condition, shaped as US Core Condition.

- code: SNOMED CT first, then ICD-10-CM (or ICD-10), else the first coding; a Condition without
  any code or text is refused (Careway needs the diagnosis in words).
- category: the first coding of HL7's condition-category system (problem-list-item,
  encounter-diagnosis) or US Core's (health-concern). A resource with no category Careway knows
  (Synthea writes none) is filed on the problem list, which is where a home health case manager
  keeps what the patient lives with.
- clinicalStatus / verificationStatus: the FHIR codes are Careway's own; when absent they read as
  active / confirmed (the model's defaults).
- onset and abatement: onsetDateTime or onsetPeriod.start as the date written in the source (an
  age, range or string onset has no Careway field and is not kept).
- recordedDate <-> recorded_at; note <-> note; `is_primary` (the primary home health diagnosis)
  is Careway's extension `primary-diagnosis`.
"""

from typing import Any

from careway.fhir import codes, search
from careway.patients.models import Condition

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

PATH = "Condition"
LIMITS = c.limits(Condition)
ELEMENTS = {
    "code": "Condition.code.coding.code",
    "display": "Condition.code",
    "code_system": "Condition.code.coding.system",
}
PREFERRED = (codes.SNOMED, codes.ICD10CM, codes.ICD10)
CLINICAL = frozenset(Condition.ClinicalStatus.values)
VERIFICATION = frozenset(Condition.Verification.values)
CATEGORIES = frozenset(Condition.Category.values)
CATEGORY_SYSTEMS = (codes.CONDITION_CATEGORY, codes.US_CORE_CONDITION_CATEGORY)
EXT_PRIMARY = codes.careway_extension("primary-diagnosis")


def condition_to_fhir(condition: Condition) -> dict[str, Any]:
    category_system = (
        codes.US_CORE_CONDITION_CATEGORY
        if condition.category == Condition.Category.HEALTH_CONCERN
        else codes.CONDITION_CATEGORY
    )
    resource = {
        "resourceType": "Condition",
        "id": str(condition.pk),
        "meta": c.meta(condition, "recorded_at"),
        "extension": [{"url": EXT_PRIMARY, "valueBoolean": True}] if condition.is_primary else [],
        "verificationStatus": c.category(
            codes.CONDITION_VERIFICATION, condition.verification_status
        ),
        "category": [
            c.category(category_system, condition.category, condition.get_category_display())
        ],
        "code": c.coded(condition.code_system, condition.code, condition.display),
        "subject": c.patient_ref(condition),
        "onsetDateTime": c.day(condition.onset_date) if condition.onset_date else None,
        "abatementDateTime": c.day(condition.abatement_date) if condition.abatement_date else None,
        "recordedDate": c.instant(condition.recorded_at) if condition.recorded_at else None,
        "note": c.annotation(condition.note),
    }
    # R4 (con-5): no clinicalStatus on a condition entered in error.
    if condition.verification_status != Condition.Verification.ENTERED_IN_ERROR:
        resource["clinicalStatus"] = c.category(codes.CONDITION_CLINICAL, condition.clinical_status)
    return c.drop_empty(resource)


def condition_from_fhir(resource: dict[str, Any]) -> Incoming:
    path = PATH
    system, code, display = c.concept(resource.get("code"), "Condition.code", PREFERRED)
    if not display and not code:
        raise Invalid("Condition.code", "missing: Careway needs the condition coded or in words")
    row: dict[str, Any] = {
        "code_system": system,
        "code": code,
        "display": display or code,
        "clinical_status": _status(
            resource, "clinicalStatus", codes.CONDITION_CLINICAL, CLINICAL, "active"
        ),
        "verification_status": _status(
            resource, "verificationStatus", codes.CONDITION_VERIFICATION, VERIFICATION, "confirmed"
        ),
        "category": _category(resource),
        "onset_date": _when(resource, "onset"),
        "abatement_date": _when(resource, "abatement"),
        "is_primary": False,
        "note": c.notes(resource, path),
    }
    primary = c.extension(resource, EXT_PRIMARY, path)
    if primary is not None:
        row["is_primary"] = c.boolean(
            primary, "valueBoolean", "Condition.extension(primary-diagnosis)"
        )
    recorded = c.optional_datetime(resource, "recordedDate", path)
    if recorded is not None:
        row["recorded_at"] = recorded
    c.check_lengths(row, LIMITS, ELEMENTS)
    return Incoming(
        resource_type="Condition",
        model=Condition,
        rows=[row],
        subject=c.reference(resource, "subject", path),
        source_id=c.text(resource, "id", path),
        identifiers=c.identifiers(resource, path),
    )


def _status(
    resource: dict[str, Any], key: str, system: str, allowed: frozenset[str], default: str
) -> str:
    where = f"Condition.{key}"
    value = (
        c.coding_code(resource.get(key), system, where) or c.concept(resource.get(key), where)[1]
    )
    if not value:
        return default
    if value not in allowed:
        raise Invalid(where, f"unknown code {value!r}: expected one of {sorted(allowed)}")
    return value


def _category(resource: dict[str, Any]) -> str:
    for index, cc in enumerate(c.objects(resource, "category", PATH)):
        value = c.coding_code(cc, CATEGORY_SYSTEMS, f"Condition.category[{index}]")
        if value in CATEGORIES:
            return value
    return Condition.Category.PROBLEM_LIST


def _when(resource: dict[str, Any], prefix: str) -> Any:
    where = f"Condition.{prefix}"
    if f"{prefix}DateTime" in resource:
        return c.parse_date(resource[f"{prefix}DateTime"], f"{where}DateTime")
    period = c.obj(resource, f"{prefix}Period", PATH)
    # An onset period starts the condition; an abatement period ends it.
    for edge in ("start", "end") if prefix == "onset" else ("end", "start"):
        if period.get(edge) is not None:
            return c.parse_date(period[edge], f"{where}Period.{edge}")
    return None


# --- search --------------------------------------------------------------------------------------

CLINICAL_CODES = search.value_set(
    *search.stored_as_is("active", "recurrence", "relapse", "inactive", "remission", "resolved")
)
CATEGORY_CODES = search.value_set(
    *search.stored_as_is("problem-list-item", "encounter-diagnosis", "health-concern")
)

SEARCH = search.SearchDeclaration(
    order=("-recorded_at", "-id"),
    includes=("patient", "subject"),
    sort_description="most recently recorded first",
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=search.locate_by_int),
            "clinical-status": search.TokenParam(
                "clinical_status",
                system=codes.CONDITION_CLINICAL,
                codes=CLINICAL_CODES,
                description="active, recurrence, relapse, inactive, remission, resolved.",
            ),
            "category": search.TokenParam(
                "category",
                codes=CATEGORY_CODES,
                description="problem-list-item, encounter-diagnosis or health-concern.",
            ),
            "code": search.TokenParam(
                "code",
                system_field="code_system",
                description="The condition: system|code or code.",
            ),
        }
    ),
)

register(
    ResourceDeclaration(
        "Condition",
        Condition,
        from_fhir=condition_from_fhir,
        to_fhir=condition_to_fhir,
        elements=ELEMENTS,
        search=SEARCH,
        export=Export(rows=patient_rows(Condition), changed_since=changed_after("recorded_at")),
    )
)

"""Imports every per-type mapping module, each of which registers its declarations in REGISTRY.

The order is the order bulk export writes its files in (Patient first, as the Bulk Data spec
shows it) and the CapabilityStatement lists the types in: a new type's module goes in here.
"""

from . import (  # noqa: F401, I001 (in this order)
    patient,
    related_person,
    coverage,
    episode,
    condition,
    medication,
    allergy,
    encounter,
    observation,
    questionnaire_response,
    score,
    immunization,
    procedure,
    careplan,
    care_plan,
    plan_goal,
    service_request,
    teaching,
    consent,
    document_reference,
)

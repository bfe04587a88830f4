"""Imports every per-type mapping module, each of which registers itself in REGISTRY."""

from . import (  # noqa: F401
    allergy,
    careplan,
    condition,
    coverage,
    encounter,
    episode,
    immunization,
    medication,
    observation,
    patient,
    procedure,
    questionnaire_response,
    related_person,
    score,
)

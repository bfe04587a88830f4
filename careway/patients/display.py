"""Clinical words as a nurse reads them.

Imported records carry the words of their code systems: SNOMED CT names end in a semantic tag
("Chronic congestive heart failure (disorder)"), codes are digits that mean nothing on their own,
and an import names itself as the referral source. Every page that shows a clinical name uses
these functions (as the template filters of `careway/patients/templatetags/clinical.py`), so the
words are cleaned in one place; what is stored is never changed.
"""

import re

from .models import ICD10CM, LOINC, RXNORM, SNOMED

# The semantic tags of SNOMED CT (the hierarchy a concept belongs to), as they end a fully
# specified name. Only these are dropped: "Diabetes (type 2)" keeps its parenthesis.
SEMANTIC_TAGS = (
    "disorder", "finding", "situation", "procedure", "regime/therapy", "substance", "product",
    "medicinal product", "medicinal product form", "clinical drug", "observable entity",
    "qualifier value", "body structure", "morphologic abnormality", "event", "person",
    "physical object", "environment", "record artifact", "organism", "assessment scale",
    "occupation", "social concept", "specimen", "tumor staging", "staging scale",
    "ethnic group", "racial group", "religion/philosophy", "life style", "disposition",
    "cell", "cell structure", "physical force", "attribute", "dose form", "role",
    "navigational concept", "special concept", "environment / location",
)  # fmt: skip
_TAG = re.compile(
    r"\s*\((?:" + "|".join(re.escape(tag) for tag in SEMANTIC_TAGS) + r")\)\s*$", re.IGNORECASE
)

CODE_SYSTEM_NAMES = {
    SNOMED: "SNOMED CT",
    ICD10CM: "ICD-10-CM",
    RXNORM: "RxNorm",
    LOINC: "LOINC",
    "http://hl7.org/fhir/sid/cvx": "CVX",
}

# What an import writes as the referral source (careway/fhir/services.py), in plain words.
IMPORTED_SOURCES = {"FHIR import": "Imported record"}


def plain_name(display: str) -> str:
    """The concept's name without a SNOMED CT semantic tag."""
    return _TAG.sub("", display or "").strip()


def code_system_name(system: str) -> str:
    return CODE_SYSTEM_NAMES.get(system, "")


def coded_as(system: str, code: str) -> str:
    """A code with the system it comes from ("SNOMED CT 88805009"), never a bare number."""
    if not code:
        return ""
    return f"{code_system_name(system) or 'Code'} {code}"


def plain_source(source: str) -> str:
    return IMPORTED_SOURCES.get(source, source)


def role_and_discipline(role: str, discipline: str) -> str:
    """A team member's role and discipline, the role left out when the discipline says it
    ("Nurse" and "Registered nurse" is "Registered nurse")."""
    if not discipline:
        return role
    role_words = set(role.lower().split())
    if role_words <= set(discipline.lower().split()) or _same_stem(role, discipline):
        return discipline
    return f"{role} · {discipline}"


def _same_stem(role: str, discipline: str) -> bool:
    # "Therapist" and "Physical therapist", "Social worker" and "Medical social worker".
    return discipline.lower().endswith(role.lower())

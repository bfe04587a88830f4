"""How the audit pages (careway/core) name the patients that events refer to by id.

Registered with `careway.core.audit.register_patient_directory` when the app is ready. It reads
names and MRNs only, of one agency's patients, for the people whose job is to review the trail.
"""

from collections.abc import Iterable
from typing import Any

from .models import Patient
from .queries import _search


def describe_patients(organization_id: int, patient_ids: list[Any]) -> dict[Any, tuple[str, str]]:
    rows = Patient.objects.filter(organization_id=organization_id, pk__in=patient_ids).values_list(
        "pk", "family_name", "given_name", "mrn"
    )
    return {pk: (f"{family}, {given}", f"MRN {mrn}") for pk, family, given, mrn in rows}


def find_patients(organization_id: int, text: str) -> Iterable[Any]:
    """The agency's patients an auditor's search names, the way the caseload's search does:
    every word part of a name ("hale marg", "Hale, Margaret"), or the start of the MRN.

    A query, not a list: the audit page filters its events by it as one subquery, however many
    patients a short word matches."""
    words = text.replace(",", " ").split()
    if not words:
        return []
    patients = Patient.objects.filter(organization_id=organization_id)
    return _search(patients, " ".join(words)).values_list("pk", flat=True)

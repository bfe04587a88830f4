"""How the audit pages (careway/core) name the patients that events refer to by id.

Registered with `careway.core.audit.register_patient_directory` when the app is ready. It reads
names and MRNs only, of one agency's patients, for the people whose job is to review the trail.
"""

from typing import Any

from .models import Patient


def describe_patients(organization_id: int, patient_ids: list[Any]) -> dict[Any, tuple[str, str]]:
    rows = Patient.objects.filter(organization_id=organization_id, pk__in=patient_ids).values_list(
        "pk", "family_name", "given_name", "mrn"
    )
    return {pk: (f"{family}, {given}", f"MRN {mrn}") for pk, family, given, mrn in rows}


def find_patients(organization_id: int, text: str) -> list[Any]:
    """The patient whose MRN is exactly `text`, in this agency."""
    rows = Patient.objects.filter(organization_id=organization_id, mrn=text)
    return list(rows.values_list("pk", flat=True))

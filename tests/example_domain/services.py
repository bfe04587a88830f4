from careway.core import audit
from careway.core.writes import service
from careway.patients.models import Patient

from .models import ExampleNote


@service
def add_note(actor: audit.Actor, patient: Patient, text: str) -> ExampleNote:
    note = ExampleNote.objects.create(
        organization_id=patient.organization_id, patient=patient, text=text.strip()[:500]
    )
    audit.record(actor, "example_note.create", patient_id=patient.pk, obj=note)
    return note

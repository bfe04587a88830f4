from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from careway.core import audit
from careway.patients import access
from careway.patients.access import Action
from careway.patients.models import Patient
from careway.toolkit.pages import agency_page

from . import queries, services
from .permissions import NOTES_EDIT


def section_context(request: HttpRequest, patient: Patient) -> dict[str, Any]:
    return {
        "notes": queries.notes_of(patient),
        "can_write": access.can_edit(request.user, patient, NOTES_EDIT),  # type: ignore[arg-type]
    }


@agency_page
def note_create(request: HttpRequest, patient_id: Any) -> HttpResponse:
    # Access first, whatever the method: someone else's patient is 404, never 405.
    actor = audit.Actor.from_request(request)
    patient = access.get_patient_for(actor, patient_id, Action.EDIT, NOTES_EDIT)
    if request.method != "POST":  # the form is on the section
        return redirect("chart_section", patient_id=patient.pk, section="example-notes")
    text = request.POST.get("text", "")
    if text.strip():
        services.add_note(actor, patient, text)
    else:
        messages.error(request, "Note: write the note before adding it.")
    return redirect("chart_section", patient_id=patient.pk, section="example-notes")

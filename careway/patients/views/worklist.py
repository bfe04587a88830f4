"""Acting on what Today and the chart list: acknowledge or resolve a flag, complete a task.

Each action has a page of its own (a note, and what is being acted on, under the chart's banner)
and answers the one-tap buttons of Today and the chart, which post the version they showed.
The flag or task is found through `access.get_record_for` (404 for not yours, 403 for read-only,
both audited) before the request is looked at; a stale version is a conflict, said plainly.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.patients import access, services
from careway.patients.access import Action
from careway.patients.forms import WorklistNoteForm
from careway.patients.frame import audited_chart_frame
from careway.patients.models import PatientFlag, PatientRecord, Task
from careway.toolkit.pages import agency_page


@dataclass(frozen=True)
class WorklistAction:
    model: type[PatientRecord]
    title: str
    button: str
    note_required: bool
    note_help: str
    write: Callable[[audit.Actor, Any, str, int], Any]
    done: str


ACKNOWLEDGE = WorklistAction(
    PatientFlag,
    "Acknowledge flag",
    "Acknowledge",
    note_required=False,
    note_help="What you did or plan to do, if anything.",
    write=services.acknowledge_flag,
    done="Flag acknowledged: it stays on the list until it is resolved.",
)
RESOLVE = WorklistAction(
    PatientFlag,
    "Resolve flag",
    "Resolve flag",
    note_required=True,
    note_help="What was done, or why the flag no longer applies.",
    write=services.resolve_flag,
    done="Flag resolved. It stays in the chart's history of flags.",
)
COMPLETE = WorklistAction(
    Task,
    "Complete task",
    "Mark task done",
    note_required=True,
    note_help="What was done.",
    write=services.complete_task,
    done="Task marked done.",
)


def _act(
    request: HttpRequest, patient_id: Any, record_id: Any, action: WorklistAction
) -> HttpResponse:
    actor = audit.Actor.from_request(request)
    record = access.get_record_for(actor, action.model, record_id, Action.EDIT)
    if str(record.patient_id) != str(patient_id):
        raise Http404("No such record")
    form = WorklistNoteForm(
        request.POST if request.method == "POST" else None,
        initial={"version": record.version, "return_to": request.GET.get("return_to", "chart")},
        note_required=action.note_required,
        note_help=action.note_help,
    )
    conflict = None
    if form.is_bound and form.is_valid():
        try:
            action.write(actor, record, form.cleaned_data["note"], form.cleaned_data["version"])
        except VersionConflict:
            patient = record.patient
            record.refresh_from_db()
            record.patient = patient
            conflict = record
            form = _fresh_form(form, record, action)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, action.done)
            return _back(form.cleaned_data.get("return_to"), record)
    with transaction.atomic():
        frame = audited_chart_frame(request, actor, record.patient, "flags", obj=record)
    context = {
        **frame,
        "form": form,
        "action": action,
        "record": record,
        "is_flag": isinstance(record, PatientFlag),
        "conflict": conflict,
    }
    return render(request, "patients/worklist_action.html", context)


def _fresh_form(form: WorklistNoteForm, record: Any, action: WorklistAction) -> WorklistNoteForm:
    """The form again with the person's note kept, aimed at the version saved now."""
    return WorklistNoteForm(
        initial={
            "note": form.cleaned_data["note"],
            "version": record.version,
            "return_to": form.cleaned_data.get("return_to") or "chart",
        },
        note_required=action.note_required,
        note_help=action.note_help,
    )


def _back(return_to: str | None, record: Any) -> HttpResponse:
    if return_to == "today":
        return redirect("today")
    return redirect("chart_section", patient_id=record.patient_id, section="flags")


@agency_page
def flag_acknowledge(request: HttpRequest, patient_id: Any, flag_id: Any) -> HttpResponse:
    return _act(request, patient_id, flag_id, ACKNOWLEDGE)


@agency_page
def flag_resolve(request: HttpRequest, patient_id: Any, flag_id: Any) -> HttpResponse:
    return _act(request, patient_id, flag_id, RESOLVE)


@agency_page
def task_complete(request: HttpRequest, patient_id: Any, task_id: Any) -> HttpResponse:
    return _act(request, patient_id, task_id, COMPLETE)

"""The teaching and agreement pages of the chart's Care plan section: record teaching with its
teach-back, mark a teaching record entered in error, and record the patient's (or their legal
representative's) agreement to the plan's current revision, signed on the tablet or verbal with
a witness. The section's Teaching and Agreement cards are drawn from `section_context` in
views.py.

As the plan's other pages: access through careway.patients.access (404 for a patient who is not
the person's, 403 for one they may only read: these write and need careplans.edit), writes
through careway/careplans/teaching.py, the page's read audited with its section. Each form posts
as a plain form, so it works without JavaScript; the signature pad needs it (a person who cannot
draw, or uses a keyboard or screen reader, records a verbal agreement with a witness).
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from careway.core.conflicts import VersionConflict
from careway.patients.access import Action
from careway.patients.frame import audited_chart_frame
from careway.toolkit.pages import agency_page

from . import queries, teaching
from .models import Agreement, TeachingRecord
from .teaching_forms import AgreementForm, TeachingErrorForm, TeachingForm
from .views import SECTION, _patient, _plan_or_404, _posted, _to_plan


def _page(request: HttpRequest, template: str, context: dict[str, Any], form: Any,
          conflict: bool = False, **detail: Any) -> HttpResponse:  # fmt: skip
    status = 409 if conflict else 422 if form.errors else 200
    actor, patient = context["actor"], context["patient"]
    with transaction.atomic():
        frame = audited_chart_frame(request, actor, patient, SECTION, context.get("plan"), **detail)
    return render(request, template, {**frame, **context, "form": form}, status=status)


@agency_page
def teaching_add(request: HttpRequest, patient_id: Any) -> HttpResponse:
    actor, patient = _patient(request, patient_id, Action.EDIT)
    plan = queries.current_plan(patient)
    initial = {k: request.GET[k] for k in ("topic", "goal", "intervention") if k in request.GET}
    form = TeachingForm(_posted(request), patient=patient, plan=plan, initial=initial)
    if form.is_bound and form.is_valid():
        try:
            record = teaching.record_teaching(actor, patient, form.service_data())
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            said = (
                f"Teaching recorded: {record.topic_title}, {record.get_result_display().lower()}."
            )
            if record.follow_up is not None:
                due = record.follow_up.due_date
                said += f" A task to reinforce it is due {due:%b} {due.day}." if due else ""
            messages.success(request, said)
            return _to_plan(patient, "teaching")
    context = {"actor": actor, "patient": patient, "plan": plan, "title": "Record teaching"}
    return _page(request, "careplans/teaching_form.html", context, form, page="teaching")


@agency_page
def teaching_error(request: HttpRequest, patient_id: Any, teaching_id: Any) -> HttpResponse:
    actor, patient = _patient(request, patient_id, Action.EDIT)
    rows = TeachingRecord.objects.filter(patient=patient).select_related("caregiver", "taught_by")
    record = get_object_or_404(rows, pk=teaching_id)
    form = TeachingErrorForm(_posted(request), initial={"version": record.version})
    conflict = False
    if form.is_bound and form.is_valid():
        try:
            teaching.mark_teaching_entered_in_error(
                actor, record, form.cleaned_data["reason"], form.cleaned_data["version"]
            )
        except VersionConflict as stale:
            conflict = True
            record = stale.current
            posted = request.POST.copy()
            posted["version"] = str(record.version)
            form = TeachingErrorForm(posted)
            form.is_valid()
            form.add_error(None, "Someone changed this record since you opened it: look again.")
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(
                request, f"Teaching record marked entered in error: {record.topic_title}."
            )
            return _to_plan(patient, "teaching")
    context = {"actor": actor, "patient": patient, "record": record,
               "title": f"Mark entered in error: {record.topic_title}"}  # fmt: skip
    return _page(
        request, "careplans/teaching_error.html", context, form, conflict, page="teaching-error"
    )


@agency_page
def agreement_add(request: HttpRequest, patient_id: Any) -> HttpResponse:
    actor, patient = _patient(request, patient_id, Action.EDIT)
    plan = _plan_or_404(patient)
    form = AgreementForm(_posted(request), plan=plan)
    if form.is_bound and form.is_valid():
        try:
            row = teaching.record_agreement(actor, plan, form.service_data())
        except ValidationError as error:
            if "revision" in getattr(error, "error_dict", {}):
                # Shown the plan again, the person may record it for the current revision.
                posted = request.POST.copy()
                posted["revision"] = str(plan.revision)
                form = AgreementForm(posted, plan=plan)
                form.is_valid()
            form.apply_service_errors(error)
        else:
            how = row.get_method_display().lower()
            messages.success(request, f"Agreement to revision {row.revision} recorded ({how}).")
            return _to_plan(patient, "agreement")
    context = {
        "actor": actor,
        "patient": patient,
        "plan": plan,
        "state": teaching.agreement_state(plan),
        "title": f"Agreement to revision {plan.revision} of the plan",
        "pad_width": teaching.PAD_WIDTH,
        "pad_height": teaching.PAD_HEIGHT,
        "signature_methods": Agreement.Method,
    }
    return _page(request, "careplans/agreement_form.html", context, form, page="agreement")

"""The suggestions page of a patient's care plan: what the templates propose, each with its
reasons, accepted in a tap (or edited first, a goal put in the patient's words) or rejected
with a reason; preventive care due; and the plan's review marked done.

Thin views, as the other plan pages: access through careway.patients.access (404 for a patient
who is not the person's, 403 for a write by one who may only read), writes through
careway/careplans/services.py, every page's read audited.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.patients.access import Action
from careway.patients.frame import audited_chart_frame
from careway.patients.models import Patient
from careway.toolkit.pages import agency_page

from . import plan_templates, services, suggestion_queries
from .forms import SuggestionAcceptForm, SuggestionRejectForm
from .models import Suggestion
from .views import SECTION, _can_edit_plan, _messages_of, _patient, _plan_of, _to_plan


def _to_suggestions(patient: Patient, anchor: str = "") -> HttpResponse:
    url = reverse("careplans:suggestions", kwargs={"patient_id": patient.pk})
    return redirect(f"{url}#{anchor}" if anchor else url)


def _suggestion(patient: Patient, suggestion_id: Any) -> Suggestion:
    rows = Suggestion.objects.filter(patient=patient).exclude(status=Suggestion.Status.LAPSED)
    row: Suggestion = get_object_or_404(rows, pk=suggestion_id)
    Suggestion.patient.field.set_cached_value(row, patient)
    return row


@agency_page
def suggestion_list(request: HttpRequest, patient_id: Any) -> HttpResponse:
    if request.method == "POST":
        _patient(request, patient_id, Action.EDIT)
        return HttpResponse(status=405, headers={"Allow": "GET"})
    actor, patient = _patient(request, patient_id, Action.VIEW)
    with transaction.atomic():
        found = suggestion_queries.suggestions_of(patient)
        plan = _plan_of(patient)
        context: dict[str, Any] = {
            "found": found,
            "plan": plan,
            "can_edit_plan": _can_edit_plan(request, patient),
        }
        context |= audited_chart_frame(request, actor, patient, SECTION, plan, page="suggestions")
    return render(request, "careplans/suggestions.html", context)


@agency_page
def suggestion_accept(request: HttpRequest, patient_id: Any, suggestion_id: Any) -> HttpResponse:
    """POST with `quick`: accept as suggested. Otherwise the form to change it first."""
    actor, patient = _patient(request, patient_id, Action.EDIT)
    row = _suggestion(patient, suggestion_id)
    template = plan_templates.templates_for(patient.organization_id).get(row.template)
    item = template.items.get(row.item.split(":")[0]) if template else None
    posted = request.POST if request.method == "POST" and "quick" not in request.POST else None
    form = _patient_words_first(SuggestionAcceptForm(posted, suggestion=row, item=item))
    if request.method == "POST" and ("quick" in request.POST or form.is_valid()):
        edits = form.edits() if posted is not None else {}
        reason = form.cleaned_data.get("reason", "") if posted is not None else ""
        try:
            made = services.accept_suggestion(actor, row, edits, reason)
        except ValidationError as error:
            if posted is None:
                for message in _messages_of(error):
                    messages.error(request, message)
                return _to_suggestions(patient, f"suggestion-{row.pk}")
            form.apply_service_errors(error)
        else:
            messages.success(request, f"Added to the care plan: {made}.")
            return _to_suggestions(patient)
    return _decision_page(
        request, actor, patient, row, form, "Accept a suggestion", "Add to the plan"
    )


def _patient_words_first(form: SuggestionAcceptForm) -> SuggestionAcceptForm:
    """A goal is agreed in the patient's words: ask for them first, with room to write them as
    said, as the plan's own goal form does."""
    field = form.fields.get("patient_words")
    if field is not None:
        widget = forms.Textarea(attrs={"rows": 2})
        widget.attrs.update(field.widget_attrs(widget))
        field.widget = widget
        form.order_fields(["patient_words"])
    return form


@agency_page
def suggestion_reject(request: HttpRequest, patient_id: Any, suggestion_id: Any) -> HttpResponse:
    actor, patient = _patient(request, patient_id, Action.EDIT)
    row = _suggestion(patient, suggestion_id)
    form = SuggestionRejectForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            services.reject_suggestion(actor, row, form.cleaned_data["reason"])
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, f"Rejected: {row.text}. It stays rejected until the chart "
                             "behind it changes.")  # fmt: skip
            return _to_suggestions(patient)
    return _decision_page(request, actor, patient, row, form, "Reject a suggestion", "Reject")


def _decision_page(
    request: HttpRequest,
    actor: audit.Actor,
    patient: Patient,
    row: Suggestion,
    form: Any,
    title: str,
    submit_label: str,
) -> HttpResponse:
    with transaction.atomic():
        frame = audited_chart_frame(
            request, actor, patient, SECTION, row, page="suggestion", form=title
        )
    context = {**frame, "row": row, "form": form, "title": title, "submit_label": submit_label}
    status = 422 if form.errors else 200
    return render(request, "careplans/suggestion_decide.html", context, status=status)


@agency_page
def plan_review(request: HttpRequest, patient_id: Any) -> HttpResponse:
    """The plan reviewed with the patient: a note, and the next review at the recertification."""
    actor, patient = _patient(request, patient_id, Action.EDIT)
    plan = _plan_of(patient)
    if plan is None or request.method != "POST":
        return _to_plan(patient)
    try:
        saved = services.review_plan(
            actor, plan, request.POST.get("note", ""), int(request.POST.get("version") or 0)
        )
    except VersionConflict:
        messages.error(request, "Someone changed the plan while you were reading it: look again.")
    except ValidationError as error:
        for message in _messages_of(error):
            messages.error(request, message)
    else:
        due = saved.review_due.strftime("%b %-d, %Y") if saved.review_due else "not set"
        messages.success(request, f"Plan review recorded. The next review is due {due}.")
    return _to_plan(patient)

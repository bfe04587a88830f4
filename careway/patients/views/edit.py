"""The forms that change a chart: register a patient, edit the registration and contacts, and add
conditions, medications, allergies, vital signs, coverage and care team members."""

import copy
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.permissions import require
from careway.patients import access, queries, services
from careway.patients.access import Action
from careway.patients.forms import (
    AllergyForm,
    CareTeamForm,
    ConditionForm,
    ContactCreateForm,
    ContactForm,
    CoverageForm,
    MedicationForm,
    PatientCreateForm,
    PatientForm,
    VitalSignsForm,
)
from careway.patients.frame import audited_chart_frame
from careway.patients.models import Patient, RelatedPerson
from careway.patients.permissions import PATIENT_CREATE
from careway.toolkit.pages import agency_page


def _posted(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def _form_page(
    request: HttpRequest, patient: Patient, form: Any, title: str, section: str, **extra: Any
) -> HttpResponse:
    """A chart form page: the banner (a read of the chart, so audited), the form, its errors."""
    actor = audit.Actor.from_request(request)
    with transaction.atomic():
        frame = audited_chart_frame(request, actor, patient, section, form=title)
    return render(request, "patients/form.html", {**frame, "form": form, "title": title, **extra})


def _saved(request: HttpRequest, patient: Patient, section: str, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("chart_section", patient_id=patient.pk, section=section)


def _editable_patient(request: HttpRequest, patient_id: Any) -> tuple[audit.Actor, Patient]:
    actor = audit.Actor.from_request(request)
    return actor, access.get_patient_for(actor, patient_id, Action.EDIT)


def _add_record_page(
    request: HttpRequest,
    patient_id: Any,
    form_class: type,
    write: Callable[[audit.Actor, Patient, dict[str, Any]], Any],
    section: str,
    noun: str,
) -> HttpResponse:
    actor, patient = _editable_patient(request, patient_id)
    form = form_class(_posted(request))
    if form.is_bound and form.is_valid():
        try:
            write(actor, patient, form.service_data())
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            return _saved(request, patient, section, f"{noun} added.")
    return _form_page(request, patient, form, f"Add {noun.lower()}", section)


@agency_page
def condition_create(request: HttpRequest, patient_id: Any) -> HttpResponse:
    return _add_record_page(
        request, patient_id, ConditionForm, services.add_condition, "conditions", "Condition"
    )


@agency_page
def medication_create(request: HttpRequest, patient_id: Any) -> HttpResponse:
    return _add_record_page(
        request, patient_id, MedicationForm, services.add_medication, "medications", "Medication"
    )


@agency_page
def allergy_create(request: HttpRequest, patient_id: Any) -> HttpResponse:
    return _add_record_page(
        request, patient_id, AllergyForm, services.add_allergy, "allergies", "Allergy"
    )


@agency_page
def coverage_create(request: HttpRequest, patient_id: Any) -> HttpResponse:
    return _add_record_page(
        request, patient_id, CoverageForm, services.add_coverage, "summary", "Coverage"
    )


@agency_page
def contact_create(request: HttpRequest, patient_id: Any) -> HttpResponse:
    return _add_record_page(
        request, patient_id, ContactCreateForm, services.add_contact, "contacts", "Contact"
    )


@agency_page
def vitals_create(request: HttpRequest, patient_id: Any) -> HttpResponse:
    actor, patient = _editable_patient(request, patient_id)
    form = VitalSignsForm(_posted(request))
    if form.is_bound and form.is_valid():
        try:
            saved = services.record_observations(actor, patient, form.observation_rows())
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            return _saved(request, patient, "vitals", f"Vital signs saved ({len(saved)} readings).")
    return _form_page(request, patient, form, "Record vital signs", "vitals")


@agency_page
def careteam_add(request: HttpRequest, patient_id: Any) -> HttpResponse:
    actor, patient = _editable_patient(request, patient_id)
    form = CareTeamForm(_posted(request), patient=patient)
    if form.is_bound and form.is_valid():
        episode = queries.current_episode(patient)
        try:
            if episode is None:
                raise ValidationError("This patient has no episode of care to join.")
            services.add_care_team_member(actor, episode, **form.member_arguments())
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            return _saved(request, patient, "care-team", "Care team member added.")
    return _form_page(request, patient, form, "Add to the care team", "care-team")


@agency_page
def patient_create(request: HttpRequest) -> HttpResponse:
    require(request.user, PATIENT_CREATE)
    form = PatientCreateForm(_posted(request), user=request.user)
    if form.is_bound and form.is_valid():
        try:
            patient = services.create_patient(
                audit.Actor.from_request(request),
                form.cleaned_data["branch"],
                form.service_data(),
                episode=form.episode_data(),
                primary_case_manager=form.cleaned_data.get("case_manager"),
            )
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, f"{patient.full_name} is registered.")
            return redirect("chart", patient_id=patient.pk)
    return render(request, "patients/patient_create.html", {"form": form, "title": "New patient"})


@agency_page
def patient_edit(request: HttpRequest, patient_id: Any) -> HttpResponse:
    actor, patient = _editable_patient(request, patient_id)
    form = PatientForm(_posted(request), instance=copy.copy(patient))
    conflict = None
    if form.is_bound and form.is_valid():
        try:
            services.update_patient(
                actor, patient, form.service_data(), form.cleaned_data["version"]
            )
        except VersionConflict as stale:
            conflict, form = form.differences_from(stale.current), form.rebased_on(stale.current)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            return _saved(request, patient, "summary", "Patient details saved.")
    return _form_page(request, patient, form, "Edit patient details", "summary", conflict=conflict)


@agency_page
def contact_edit(request: HttpRequest, patient_id: Any, contact_id: int) -> HttpResponse:
    actor, patient = _editable_patient(request, patient_id)
    contact = get_object_or_404(RelatedPerson, patient=patient, pk=contact_id, active=True)
    form = ContactForm(_posted(request), instance=copy.copy(contact))
    conflict = None
    if form.is_bound and form.is_valid():
        try:
            services.update_contact(
                actor, contact, form.service_data(), form.cleaned_data["version"]
            )
        except VersionConflict as stale:
            conflict, form = form.differences_from(stale.current), form.rebased_on(stale.current)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            return _saved(request, patient, "contacts", f"{contact.name}'s details saved.")
    return _form_page(
        request, patient, form, f"Edit contact: {contact.name}", "contacts", conflict=conflict
    )

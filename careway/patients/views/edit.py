"""The forms that change a chart: register a patient, edit the registration and contacts; add,
edit, change the status of and void conditions, medications and allergies; record vital signs and
coverage; add and remove care team members."""

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.permissions import require
from careway.patients import access, history, queries, services
from careway.patients.access import Action
from careway.patients.display import plain_name
from careway.patients.forms import (
    AllergyEditForm,
    AllergyForm,
    CareTeamForm,
    CareTeamRemoveForm,
    ConditionEditForm,
    ConditionForm,
    ContactCreateForm,
    ContactForm,
    CoverageForm,
    MedicationEditForm,
    MedicationForm,
    PatientCreateForm,
    PatientForm,
    RecordStatusForm,
    VitalSignsForm,
)
from careway.patients.frame import audited_chart_frame
from careway.patients.models import (
    Allergy,
    CareTeamMember,
    Condition,
    Medication,
    Patient,
    RelatedPerson,
)
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


# --- Edit, change the status of, or void a clinical record ------------------------------------


@dataclass(frozen=True)
class RecordKind:
    model: type[Condition] | type[Medication] | type[Allergy]
    edit_form: type
    update: Callable[..., Any]
    section: str
    noun: str


CONDITION = RecordKind(
    Condition, ConditionEditForm, services.update_condition, "conditions", "Condition"
)
MEDICATION = RecordKind(
    Medication, MedicationEditForm, services.update_medication, "medications", "Medication"
)
ALLERGY = RecordKind(Allergy, AllergyEditForm, services.update_allergy, "allergies", "Allergy")


def _record_of(patient: Patient, kind: RecordKind, record_id: int) -> Any:
    """A record of this patient that may still change (one entered in error may not)."""
    rule = services.STATUS_RULES[kind.model]
    rows = kind.model.objects.filter(patient=patient).exclude(
        **{rule.error_field: services.ENTERED_IN_ERROR}
    )
    return get_object_or_404(rows, pk=record_id)


@dataclass
class EarlierVersion:
    version: int
    record: Any
    status: str
    replaced_at: Any


def _earlier_versions(record: Any) -> list[EarlierVersion]:
    rule = services.STATUS_RULES[type(record)]
    labels = dict(type(record)._meta.get_field(rule.field).choices)
    kept = history.versions(type(record), record.pk)
    earlier = [(k, history.restore(type(record), k)) for k in reversed(kept)]
    return [
        EarlierVersion(k.version, old, labels.get(getattr(old, rule.field), ""), k.created_at)
        for k, old in earlier
    ]


def _edit_record_page(
    request: HttpRequest, patient_id: Any, record_id: int, kind: RecordKind
) -> HttpResponse:
    actor, patient = _editable_patient(request, patient_id)
    record = _record_of(patient, kind, record_id)
    form = kind.edit_form(_posted(request), instance=copy.copy(record))
    conflict = None
    if form.is_bound and form.is_valid():
        try:
            kind.update(actor, record, form.service_data(), form.cleaned_data["version"])
        except VersionConflict as stale:
            conflict, form = form.differences_from(stale.current), form.rebased_on(stale.current)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            return _saved(request, patient, kind.section, f"{kind.noun} saved.")
    title = f"Edit {kind.noun.lower()}: {plain_name(record.display)}"
    return _form_page(
        request,
        patient,
        form,
        title,
        kind.section,
        conflict=conflict,
        earlier_versions=_earlier_versions(record),
    )


def _status_page(
    request: HttpRequest, patient_id: Any, record_id: int, kind: RecordKind
) -> HttpResponse:
    actor, patient = _editable_patient(request, patient_id)
    record = _record_of(patient, kind, record_id)
    rule = services.STATUS_RULES[kind.model]
    choices = rule.choices
    form = RecordStatusForm(
        _posted(request), record=record, choices=choices, initial={"status": request.GET.get("to")}
    )
    conflict = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            saved = services.change_record_status(
                actor,
                record,
                data["status"],
                data["version"],
                on=data.get("on"),
                reason=data["reason"],
            )
        except VersionConflict as stale:
            record = stale.current
            labels = dict(form.fields["status"].choices)
            current = dict(kind.model._meta.get_field(rule.field).choices)
            conflict = [
                ("Status", labels.get(data["status"], ""), current[getattr(record, rule.field)])
            ]
            form = RecordStatusForm(record=record, choices=choices)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            return _saved(request, patient, kind.section, _status_message(kind, saved))
    return _form_page(
        request,
        patient,
        form,
        f"Change status: {plain_name(record.display)}",
        kind.section,
        conflict=conflict,
    )


def _status_message(kind: RecordKind, record: Any) -> str:
    if services.is_entered_in_error(record):
        return f"{kind.noun} marked entered in error. It stays in the chart's history."
    field = services.STATUS_RULES[kind.model].field
    label = dict(kind.model._meta.get_field(field).choices)[getattr(record, field)]
    return f"{kind.noun} is now {label.lower()}."


@agency_page
def condition_edit(request: HttpRequest, patient_id: Any, record_id: int) -> HttpResponse:
    return _edit_record_page(request, patient_id, record_id, CONDITION)


@agency_page
def condition_status(request: HttpRequest, patient_id: Any, record_id: int) -> HttpResponse:
    return _status_page(request, patient_id, record_id, CONDITION)


@agency_page
def medication_edit(request: HttpRequest, patient_id: Any, record_id: int) -> HttpResponse:
    return _edit_record_page(request, patient_id, record_id, MEDICATION)


@agency_page
def medication_status(request: HttpRequest, patient_id: Any, record_id: int) -> HttpResponse:
    return _status_page(request, patient_id, record_id, MEDICATION)


@agency_page
def allergy_edit(request: HttpRequest, patient_id: Any, record_id: int) -> HttpResponse:
    return _edit_record_page(request, patient_id, record_id, ALLERGY)


@agency_page
def allergy_status(request: HttpRequest, patient_id: Any, record_id: int) -> HttpResponse:
    return _status_page(request, patient_id, record_id, ALLERGY)


@agency_page
def careteam_remove(request: HttpRequest, patient_id: Any, member_id: int) -> HttpResponse:
    actor, patient = _editable_patient(request, patient_id)
    member = get_object_or_404(
        CareTeamMember.objects.select_related("user", "related_person"),
        patient=patient,
        pk=member_id,
        active=True,
    )
    form = CareTeamRemoveForm(_posted(request), member=member)
    conflict = None
    if form.is_bound and form.is_valid():
        try:
            services.end_care_team_membership(
                actor,
                member,
                form.cleaned_data["version"],
                successor=form.cleaned_data.get("successor"),
            )
        except VersionConflict as stale:
            conflict = [("Membership", "Remove", "Changed by someone else since you opened this")]
            form = CareTeamRemoveForm(member=stale.current)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            message = f"{member.member_name} left the care team."
            if member.user_id != request.user.pk:
                return _saved(request, patient, "care-team", message)
            # Someone who leaves the team may no longer see the chart.
            messages.success(request, message)
            return redirect("caseload")
    return _form_page(
        request,
        patient,
        form,
        f"Remove from the care team: {member.member_name}",
        "care-team",
        conflict=conflict,
        submit_label="Remove from the care team",
        intro=(
            "They stay in the team's history with today as their last day; nothing about "
            "their work is deleted."
        ),
    )

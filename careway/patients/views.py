"""The patient pages: the caseload, the chart and its sections, and the forms that change a chart.

Views stay thin: they ask `careway.core.access` for the patient (404 when not visible, 403 when
read-only), read through `queries`, write through `services`, and audit each read in the same
transaction as the read. The access check runs before that transaction, so a denied attempt stays
recorded even though the request ends in an error.
"""

import copy
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from careway.assessments import queries as assessment_queries
from careway.core import access, audit
from careway.core.access import Action
from careway.core.roles import Perm

from . import charts, queries, services
from .forms import (
    AllergyForm,
    CareTeamForm,
    CaseloadFilterForm,
    ConditionForm,
    ContactCreateForm,
    ContactForm,
    CoverageForm,
    MedicationForm,
    PatientCreateForm,
    PatientForm,
    VitalSignsForm,
)
from .models import Patient, RelatedPerson
from .vitals import VitalChart, vital_charts

SECTIONS = {
    "summary": "Summary",
    "conditions": "Conditions",
    "medications": "Medications",
    "allergies": "Allergies",
    "vitals": "Vital signs",
    "assessments": "Assessments",
    "encounters": "Encounters",
    "contacts": "Contacts",
    "care-team": "Care team",
}


def agency_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in, GET or POST only, and times shown in the agency's time zone."""

    @login_required
    @require_http_methods(["GET", "POST"])
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        organization = request.user.organization
        zone = organization.timezone if organization else "UTC"
        with timezone.override(zoneinfo.ZoneInfo(zone)):
            return view(request, *args, **kwargs)

    return wrapper


# --- The caseload ---------------------------------------------------------------------------


@agency_page
def caseload(request: HttpRequest) -> HttpResponse:
    user = request.user
    filters = CaseloadFilterForm(request.GET, flag_choices=queries.caseload_flag_kinds(user))
    column, descending = filters.sort_key
    criteria = filters.criteria()
    with transaction.atomic():
        patients = queries.caseload(user, **criteria)
        ordered = queries.sorted_caseload(patients, filters.SORTS[column], descending)
        page = queries.paginate(ordered, request.GET.get("page"), queries.CASELOAD_PAGE_SIZE)
        _add_episode_days(page.object_list)
        # The caseload gathers what every part of Careway says is due; assessments first.
        assessment_queries.add_due(page.object_list, timezone.localdate())
        actor = audit.Actor.from_request(request)
        audit.record_many(actor, "patient.list", [p.pk for p in page], detail={"q": criteria["q"]})
    context = {
        "filters": filters,
        "page": page,
        "sort": {"column": column, "descending": descending},
        "sort_label": filters.SORT_LABELS[column],
        "sort_headers": _sort_headers(request, column, descending),
        "page_query": _query_without(request, "page"),
        "filtered": criteria != CaseloadFilterForm.UNFILTERED,
    }
    template = "patients/_caseload_results.html" if request.htmx else "patients/caseload.html"
    response = render(request, template, context)
    # The same URL answers with a fragment or a whole page; caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _add_episode_days(patients: list[Patient]) -> None:
    today = timezone.localdate()
    for patient in patients:
        start = patient.episode_start
        patient.episode_day = (today - start).days + 1 if start and start <= today else None


def _query_without(request: HttpRequest, *names: str) -> str:
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


def _sort_headers(request: HttpRequest, column: str, descending: bool) -> list[dict[str, Any]]:
    """Each sortable column with the URL that sorts by it (again: the other way round)."""
    base = _query_without(request, "sort", "page")
    headers = []
    for name, label in CaseloadFilterForm.SORT_LABELS.items():
        current = name == column
        query = urlencode({"sort": f"-{name}" if current and not descending else name})
        headers.append(
            {
                "label": label.capitalize(),
                "url": f"?{base}&{query}" if base else f"?{query}",
                "current": current,
                "descending": current and descending,
            }
        )
    return headers


# --- The chart ------------------------------------------------------------------------------


def _section_context(section: str, patient: Patient, request: HttpRequest) -> dict[str, Any]:
    page = request.GET.get("page")
    loaders: dict[str, Callable[[], dict[str, Any]]] = {
        "summary": lambda: queries.summary(patient),
        "conditions": lambda: queries.conditions(patient, page),
        "medications": lambda: queries.medications(patient, page),
        "allergies": lambda: queries.allergies(patient, page),
        "vitals": lambda: vitals_context(patient),
        "encounters": lambda: queries.encounters(patient, page),
        "contacts": lambda: queries.contacts(patient, page),
        "care-team": lambda: queries.care_team(patient),
    }
    return loaders[section]()


@agency_page
def chart(request: HttpRequest, patient_id: Any, section: str = "summary") -> HttpResponse:
    if section not in SECTIONS:
        raise Http404("No such chart section")
    actor = audit.Actor.from_request(request)
    patient = access.get_patient_for(actor, patient_id, Action.VIEW)
    with transaction.atomic():
        context = _section_context(section, patient, request)
        context |= _chart_frame(request, patient, section)
        audit.record(
            actor, "patient.view", patient_id=patient.pk, obj=patient, detail={"section": section}
        )
    return render(request, f"patients/chart_{section.replace('-', '_')}.html", context)


def _chart_frame(request: HttpRequest, patient: Patient, section: str) -> dict[str, Any]:
    can_edit = access.can_edit(request.user, patient)
    return {
        "patient": patient,
        "can_edit": can_edit,
        "banner": queries.banner_for(patient),
        # Only someone who could not otherwise see the chart reads it by emergency access.
        "emergency_access": None
        if can_edit
        else access.break_glass_grant_for(request.user, patient),
        "section": section,
        "section_title": SECTIONS[section],
        "sections": SECTIONS,
    }


TableRow = tuple[datetime, list[queries.Reading | None]]


@dataclass
class VitalPanel:
    chart: VitalChart
    svg: str
    rows: list[TableRow]
    description: str


def vitals_context(patient: Patient) -> dict[str, Any]:
    end = timezone.localtime()
    start = end - queries.VITALS_WINDOW
    readings = queries.recent_vitals(patient, end)
    panels = [
        panel
        for chart_spec in vital_charts()
        if (panel := vital_panel(chart_spec, readings, start, end)) is not None
    ]
    return {"panels": panels, "reading_count": len(readings), "window_start": start}


def vital_panel(
    spec: VitalChart, readings: list[queries.Reading], start: datetime, end: datetime
) -> VitalPanel | None:
    mine = [r for r in readings if r.sign.chart == spec.key]
    if spec.optional and not mine:
        return None
    description = _describe_vitals(spec, mine)
    series = [
        charts.Series(
            sign.short_label,
            [
                charts.Point(timezone.localtime(r.at), r.value, bool(r.flag))
                for r in mine
                if r.sign == sign
            ],
        )
        for sign in spec.signs
    ]
    bands = [
        charts.Band(s.reference_low, s.reference_high, f"Usual adult range of {s.label.lower()}")
        for s in spec.signs
        if s.has_reference
    ]
    svg = charts.trend_chart_svg(
        series,
        title=f"{spec.title}, last 90 days",
        description=description,
        unit=spec.unit_display,
        start=start,
        end=end,
        bands=bands,
        chart_id=f"chart-{spec.key}",
    )
    # The SVG escapes every text it draws from data (see charts.py).
    return VitalPanel(spec, mark_safe(svg), _rows_by_time(spec, mine), description)  # noqa: S308


def _rows_by_time(spec: VitalChart, readings: list[queries.Reading]) -> list[TableRow]:
    """Readings taken together (systolic and diastolic) share a row, newest first; each row
    has one cell per sign of the chart, empty where that sign was not taken."""
    by_time: dict[datetime, dict[str, queries.Reading]] = {}
    for reading in readings:
        by_time.setdefault(reading.at, {})[reading.sign.key] = reading
    return [
        (at, [cells.get(sign.key) for sign in spec.signs])
        for at, cells in sorted(by_time.items(), key=lambda item: item[0], reverse=True)
    ]


def _describe_vitals(spec: VitalChart, readings: list[queries.Reading]) -> str:
    if not readings:
        return f"No {spec.title.lower()} readings in the last 90 days."
    outside = sum(1 for r in readings if r.flag)
    first, last = timezone.localtime(readings[0].at), timezone.localtime(readings[-1].at)
    text = (
        f"{len(readings)} readings from {first:%b} {first.day} to {last:%b} {last.day}. "
        f"Latest: {_latest_text(spec, readings)}."
    )
    if any(s.has_reference for s in spec.signs):
        text += f" {outside} outside the usual adult range (shaded)."
    return text


def _latest_text(spec: VitalChart, readings: list[queries.Reading]) -> str:
    latest_at = readings[-1].at
    latest = {r.sign.key: r for r in readings if r.at == latest_at}
    parts = [
        f"{r.sign.short_label} {r.text}{f' ({r.flag})' if r.flag else ''}"
        for sign in spec.signs
        if (r := latest.get(sign.key))
    ]
    return f"{', '.join(parts)} {spec.unit_display}"


# --- Forms ----------------------------------------------------------------------------------


def _posted(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def _form_page(
    request: HttpRequest, patient: Patient, form: Any, title: str, section: str, **extra: Any
) -> HttpResponse:
    """A chart form page: the banner (a read of the chart, so audited), the form, its errors."""
    actor = audit.Actor.from_request(request)
    with transaction.atomic():
        frame = _chart_frame(request, patient, section)
        audit.record(
            actor,
            "patient.view",
            patient_id=patient.pk,
            obj=patient,
            detail={"section": section, "form": title},
        )
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
    access.require(request.user, Perm.PATIENT_CREATE)
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
        except services.VersionConflict as stale:
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
        except services.VersionConflict as stale:
            conflict, form = form.differences_from(stale.current), form.rebased_on(stale.current)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            return _saved(request, patient, "contacts", f"{contact.name}'s details saved.")
    return _form_page(
        request, patient, form, f"Edit contact: {contact.name}", "contacts", conflict=conflict
    )

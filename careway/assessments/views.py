"""The assessment pages: the chart's Assessments section (what is due, results and trends), an
assessment's overview and signature, one section at a time for the tablet, and amendments.

Thin views: access through careway.patients.access (the same 404 for absent and not yours),
writes through services (one transaction with their audit event), each read audited. The chart's
Assessments section is registered with the patients' chart (careway/patients/frame.py), which
shows it in its frame; the pages under it show the same frame.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import User
from careway.patients import access
from careway.patients.access import Action
from careway.patients.frame import ChartSection, audited_chart_frame
from careway.patients.models import Patient
from careway.toolkit.pages import agency_page

from . import catalog, engine, form, queries, schedule, services, template
from .answers import parse
from .models import Assessment, Response
from .permissions import ASSESSMENTS_EDIT
from .questionnaires import answers_from_response, response_items

SECTION = "assessments"


def _patient(request: HttpRequest, patient_id: Any, action: Action) -> tuple[audit.Actor, Patient]:
    actor = audit.Actor.from_request(request)
    return actor, access.get_patient_for(actor, patient_id, action, ASSESSMENTS_EDIT)


def _assessment(
    request: HttpRequest, patient_id: Any, assessment_id: Any, action: Action
) -> tuple[audit.Actor, Patient, Assessment]:
    """The assessment of this patient, if the person may `action` it (404 or 403 otherwise)."""
    actor = audit.Actor.from_request(request)
    rows = Assessment.objects.select_related("episode", "signed_by", "started_by")
    assessment = access.get_record_for(
        actor, Assessment, assessment_id, action, rows.filter(patient_id=patient_id)
    )
    return actor, assessment.patient, assessment


def _audited_frame(
    request: HttpRequest, actor: audit.Actor, patient: Patient, obj: Any, **detail: Any
) -> dict[str, Any]:
    frame = audited_chart_frame(request, actor, patient, SECTION, obj, **detail)
    frame["can_assess"] = access.can_edit(cast(User, request.user), patient, ASSESSMENTS_EDIT)
    return frame


# --- the chart section ---------------------------------------------------------------------------


def section_context(request: HttpRequest, patient: Patient) -> dict[str, Any]:
    """The chart's Assessments section: what is due, the assessments, the score trends."""
    today = timezone.localdate()
    due = queries.due_for_patients([patient.pk], today).get(patient.pk, [])
    return {
        "assessments": list(queries.assessments_of(patient)),
        "due": due,
        "trends": queries.trends(patient, timezone.localtime()),
        "time_points": Assessment.TimePoint.choices,
        "suggested_time_point": _suggested_time_point(due),
        "today": today,
        "can_assess": access.can_edit(cast(User, request.user), patient, ASSESSMENTS_EDIT),
    }


CHART_SECTION = ChartSection(
    SECTION,
    "Assessments",
    order=60,
    context=section_context,
    template="assessments/chart_assessments.html",
)


def _suggested_time_point(due: list[schedule.Due]) -> str:
    pressing = schedule.most_pressing(due)
    return pressing.time_point if pressing else Assessment.TimePoint.FOLLOW_UP


@agency_page
def assessment_start(request: HttpRequest, patient_id: Any) -> HttpResponse:
    actor, patient = _patient(request, patient_id, Action.EDIT)
    if request.method != "POST":  # the form is on the Assessments section
        return redirect("chart_section", patient_id=patient.pk, section=SECTION)
    try:
        visit_date = _date(request.POST.get("visit_date", ""))
        assessment = services.start_assessment(
            actor, patient, request.POST.get("time_point", ""), visit_date
        )
    except ValidationError as error:
        for message in _messages_of(error):
            messages.error(request, message)
        return redirect("chart_section", patient_id=patient.pk, section=SECTION)
    first = template.comprehensive().sections_for(assessment.time_point)[0]
    return redirect(
        "assessment_section", patient_id=patient.pk, assessment_id=assessment.pk, section=first.key
    )


def _date(raw: str) -> Any:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as error:
        raise ValidationError({"visit_date": "Visit date: use a date like 2026-12-03."}) from error


def _messages_of(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [m for messages_ in error.message_dict.values() for m in messages_]
    return list(error.messages)


# --- one assessment ------------------------------------------------------------------------------


@agency_page
def assessment_overview(request: HttpRequest, patient_id: Any, assessment_id: Any) -> HttpResponse:
    actor, patient, assessment = _assessment(request, patient_id, assessment_id, Action.VIEW)
    with transaction.atomic():
        context = _overview_context(assessment)
        context |= _audited_frame(request, actor, patient, assessment)
    return render(request, "assessments/assessment.html", context)


def _overview_context(assessment: Assessment, problems: list[str] | None = None) -> dict[str, Any]:
    sections = queries.progress(assessment)
    context: dict[str, Any] = {
        "assessment": assessment,
        "progress": sections,
        "complete_count": sum(1 for s in sections if s.state == "complete"),
        "problems": problems or [],
    }
    if assessment.is_signed:
        context["results"] = queries.with_units(
            assessment.organization_id,
            list(assessment.scores.filter(current=True).order_by("instrument_title", "pk")),
        )
        context["findings"] = list(assessment.findings.order_by("severity", "kind", "pk"))
        context["amendments"] = list(
            assessment.amendments.select_related("signed_by", "response")
            .prefetch_related(queries.signers_credentials("signed_by"))
            .order_by("signed_at")
        )
        context["responses"] = _signed_responses(assessment)
    return context


@dataclass
class SignedPart:
    response: Response
    title: str
    section_title: str


def _signed_responses(assessment: Assessment) -> list[SignedPart]:
    found = []
    responses = list(assessment.responses.order_by("pk"))
    agency = catalog.entries(assessment.organization_id, {r.questionnaire_url for r in responses})
    for response in responses:
        entry = agency.get(response.questionnaire_url)
        section_title = (
            "Received from another system"
            if response.section == services.IMPORTED
            else template.comprehensive().section(response.section).title
        )
        title = entry.title if entry else response.questionnaire_url
        found.append(SignedPart(response, title, section_title))
    return found


@agency_page
def assessment_sign(request: HttpRequest, patient_id: Any, assessment_id: Any) -> HttpResponse:
    actor, patient, assessment = _assessment(request, patient_id, assessment_id, Action.EDIT)
    if request.method != "POST":  # the signature button is on the assessment's page
        return redirect("assessment", patient_id=patient.pk, assessment_id=assessment.pk)
    try:
        services.sign_assessment(actor, assessment, _int(request.POST.get("version")))
    except VersionConflict:
        messages.error(
            request,
            "This assessment was changed on another device since this page was opened. "
            "Check the sections below, then sign again.",
        )
    except ValidationError as error:
        with transaction.atomic():
            context = _overview_context(assessment, problems=_messages_of(error))
            context |= _audited_frame(request, actor, patient, assessment)
        return render(request, "assessments/assessment.html", context, status=422)
    else:
        messages.success(request, "Assessment signed. Its scores and findings are on the chart.")
    return redirect("assessment", patient_id=patient.pk, assessment_id=assessment.pk)


def _int(raw: Any) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return -1


# --- one section ---------------------------------------------------------------------------------


@dataclass
class Part:
    entry: catalog.Entry
    required: bool
    note: str
    prefix: str
    version: int
    fields: list[Any]
    errors: dict[str, str]
    result: Any
    from_record: list[tuple[str, str]]  # (question, where its proposed answer came from)


def _parts(
    assessment: Assessment,
    section: template.Section,
    posted: dict[str, dict[str, list[dict[str, Any]]]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    raw: Any = None,
) -> list[Part]:
    """Each questionnaire of the section as a form: the saved answers, or after a refused save
    the posted ones, with `raw` (the request's POST) putting a mistyped value back in its field."""
    responses = queries.responses_by_part(assessment)
    urls = [catalog.shipped_by_id(spec.questionnaire)["url"] for spec in section.parts]
    agency = catalog.entries(assessment.organization_id, urls)
    parts = []
    for index, (spec, url) in enumerate(zip(section.parts, urls, strict=True)):
        entry = agency[url]  # a shipped questionnaire is always in the catalog
        response = responses.get((section.key, entry.url))
        answers = answers_from_response({"item": response.items if response else []})
        from_record: list[tuple[str, str]] = []
        if posted is not None and entry.url in posted:
            answers = posted[entry.url]
        elif response is None and not assessment.is_signed:
            # Not yet answered: propose what the chart holds; saving the section keeps it.
            found = queries.from_record(assessment.patient, entry.url, assessment.visit_date)
            if found is not None:
                answers = found.answers
                texts = {
                    f.link_id: f.text
                    for f in form.flat_fields(form.form_fields(entry.questionnaire, {}, ""))
                }
                from_record = [(texts.get(k, k), v) for k, v in found.sources.items()]
        prefix = f"q{index}"
        mine = (errors or {}).get(entry.url, {})
        items = response_items(entry.questionnaire, answers)
        parts.append(
            Part(
                entry=entry,
                required=spec.required,
                note=spec.note,
                prefix=prefix,
                version=response.version if response else 0,
                fields=form.form_fields(entry.questionnaire, answers, prefix, mine, posted=raw),
                errors=mine,
                result=engine.score(entry.instrument, {"item": items})
                if entry.instrument.scorable
                else None,
                from_record=from_record,
            )
        )
    return parts


def _section_or_404(assessment: Assessment, key: str) -> tuple[template.Section, int, list[Any]]:
    sections = template.comprehensive().sections_for(assessment.time_point)
    for index, section in enumerate(sections):
        if section.key == key:
            return section, index, sections
    raise Http404("No such section in this assessment")


@agency_page
def assessment_section(
    request: HttpRequest, patient_id: Any, assessment_id: Any, section: str
) -> HttpResponse:
    action = Action.EDIT if request.method == "POST" else Action.VIEW
    actor, patient, assessment = _assessment(request, patient_id, assessment_id, action)
    spec, index, sections = _section_or_404(assessment, section)
    if request.method == "POST":
        return _save_section(request, actor, patient, assessment, spec, index, sections)
    with transaction.atomic():
        context = _section_context(request, assessment, spec, index, sections)
        context |= _audited_frame(request, actor, patient, assessment, part=spec.key)
    return render(request, "assessments/section.html", context)


def _section_context(
    request: HttpRequest,
    assessment: Assessment,
    spec: template.Section,
    index: int,
    sections: list[Any],
    posted: dict[str, Any] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "assessment": assessment,
        "spec": spec,
        "parts": _parts(
            assessment, spec, posted, errors, request.POST if posted is not None else None
        ),
        "position": index + 1,
        "total": len(sections),
        "previous": sections[index - 1] if index > 0 else None,
        "next": sections[index + 1] if index + 1 < len(sections) else None,
        "progress": queries.progress(assessment),
        "beside": _beside(assessment.patient, spec.chart),
        "editable": not assessment.is_signed
        and access.can_edit(cast(User, request.user), assessment.patient, ASSESSMENTS_EDIT),
    }


def _beside(patient: Patient, chart: str) -> dict[str, Any] | None:
    """The chart list a section is reviewed against (medications against the bottles)."""
    from careway.patients import queries as chart_queries

    if chart == "medications":
        return {"kind": chart, **chart_queries.medications(patient, 1)}
    if chart == "conditions":
        return {"kind": chart, **chart_queries.conditions(patient, 1)}
    if chart == "vitals":
        return {"kind": chart, "latest_vitals": chart_queries.latest_vitals(patient)}
    return None


def _save_section(
    request: HttpRequest,
    actor: audit.Actor,
    patient: Patient,
    assessment: Assessment,
    spec: template.Section,
    index: int,
    sections: list[Any],
) -> HttpResponse:
    autosave = request.headers.get("X-Autosave") == "1"
    posted: dict[str, Any] = {}
    errors: dict[str, dict[str, str]] = {}
    parts = []
    for position, part_spec in enumerate(spec.parts):
        questionnaire = catalog.shipped_by_id(part_spec.questionnaire)
        parsed = parse(questionnaire, request.POST, f"q{position}")
        posted[questionnaire["url"]] = parsed.answers
        if parsed.errors:
            errors[questionnaire["url"]] = parsed.errors
        version = _int(request.POST.get(f"q{position}:version", "0"))
        parts.append(services.SectionAnswers(questionnaire["url"], parsed.answers, version))
    conflict = False
    try:
        # What parsed is kept even when another answer has a mistake: nothing entered is lost.
        services.save_section(actor, assessment, spec.key, parts)
    except VersionConflict:
        conflict = True
    except ValidationError as error:
        errors.setdefault("", {})["form"] = "; ".join(_messages_of(error))
    if autosave:
        return _autosave_reply(request, assessment, spec, errors, conflict)
    if not errors and not conflict:
        go = request.POST.get("go", "next")
        nxt = sections[index + 1] if index + 1 < len(sections) else None
        prev = sections[index - 1] if index > 0 else None
        target = {"next": nxt, "previous": prev}.get(go)
        if target is not None:
            return redirect(
                "assessment_section",
                patient_id=patient.pk,
                assessment_id=assessment.pk,
                section=target.key,
            )
        messages.success(request, f"{spec.title}: saved.")
        return redirect("assessment", patient_id=patient.pk, assessment_id=assessment.pk)
    with transaction.atomic():
        assessment.refresh_from_db()
        context = _section_context(request, assessment, spec, index, sections, posted, errors)
        context |= _audited_frame(request, actor, patient, assessment, part=spec.key)
        context["conflict"] = conflict
    return render(request, "assessments/section.html", context, status=409 if conflict else 422)


def _autosave_reply(
    request: HttpRequest,
    assessment: Assessment,
    spec: template.Section,
    errors: dict[str, dict[str, str]],
    conflict: bool,
) -> HttpResponse:
    """The save status line and, out of band, the new versions, so the next save is not
    mistaken for a stale one."""
    responses = queries.responses_by_part(assessment)
    versions = []
    for position, part_spec in enumerate(spec.parts):
        url = catalog.shipped_by_id(part_spec.questionnaire)["url"]
        response = responses.get((spec.key, url))
        versions.append((f"q{position}", response.version if response else 0))
    context = {
        "saved_at": timezone.localtime(),
        "errors": [m for by_item in errors.values() for m in by_item.values()],
        "conflict": conflict,
        "versions": versions,
        # The step list beside the form, out of band: it says what is left as answers go in.
        "progress": queries.progress(assessment),
        "patient": assessment.patient,
        "assessment": assessment,
        "spec": spec,
    }
    return render(request, "assessments/_autosave.html", context, status=409 if conflict else 200)


# --- amendments ----------------------------------------------------------------------------------


@agency_page
def assessment_amend(
    request: HttpRequest, patient_id: Any, assessment_id: Any, response_id: int
) -> HttpResponse:
    actor, patient, assessment = _assessment(request, patient_id, assessment_id, Action.EDIT)
    response = get_object_or_404(Response, pk=response_id, assessment=assessment)
    if not assessment.is_signed:
        return redirect(
            "assessment_section",
            patient_id=patient.pk,
            assessment_id=assessment.pk,
            section=response.section,
        )
    entry = catalog.entry(assessment.organization_id, response.questionnaire_url)
    if entry is None:
        raise Http404("This instrument is no longer available")
    answers = answers_from_response({"item": services.effective_items(response)})
    errors: dict[str, str] = {}
    reason = ""
    if request.method == "POST":
        parsed = parse(entry.questionnaire, request.POST, "a")
        answers, errors = parsed.answers, dict(parsed.errors)
        reason = request.POST.get("reason", "")
        if not reason.strip():
            errors["reason"] = "Reason for the correction: say why the answers are corrected."
        if not errors:
            services.amend_response(actor, response, answers, reason)
            messages.success(request, f"{entry.title}: amendment signed.")
            return redirect("assessment", patient_id=patient.pk, assessment_id=assessment.pk)
    with transaction.atomic():
        context = _audited_frame(request, actor, patient, assessment, amend=response.pk)
    context |= {
        "assessment": assessment,
        "response": response,
        "entry": entry,
        "fields": form.form_fields(entry.questionnaire, answers, "a", errors),
        "errors": errors,
        "reason": reason,
    }
    return render(request, "assessments/amend.html", context, status=422 if errors else 200)

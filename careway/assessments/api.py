"""Assessments as JSON, under /api/v1: a patient's assessments and scores, one assessment whole,
and saving one questionnaire of a section as a visit goes.

The same rules as the patient endpoints (careway/patients/api.py): token or session, the patient
decided by careway.patients.access (404 for an assessment that is not the caller's to see, 403 to
change one they may only read), reads audited in their transaction, writes through
careway/assessments/services.py, which audits them. Answers travel as FHIR
QuestionnaireResponse.item lists; the service checks them against their Questionnaire (every
answer to one of its questions, of its type, among its options: careway/assessments/answers.py)
before it saves them, and the error (422) names the item at fault as the client sent it. A save
made from a stale version answers 409 with the current version.

Signing is not here: a signature is the clinician's, given on the assessment page after
reviewing every section. A finished response from another system comes in as a FHIR
QuestionnaireResponse (POST /fhir/R4/QuestionnaireResponse), which files it already signed.
"""

import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch
from django.http import Http404, HttpRequest
from ninja import Query, Router, Status

from careway.core import audit
from careway.patients import access
from careway.patients.access import Action
from careway.toolkit.api import READ_ERRORS, WRITE_ERRORS, PageParams, operation, paginate
from careway.toolkit.auth import READ, WRITE, actor_for

from . import catalog, instruments, services, template
from .models import (
    Amendment,
    Assessment,
    Finding,
    Instrument,
    Response,
    Score,
    questionnaire_response_id,
)
from .schemas import (
    AssessmentOut,
    AssessmentPage,
    ResponseOut,
    ScoreFilters,
    ScorePage,
    SectionSave,
)

router = Router(tags=["assessments"])

IMPORTED_TITLE = "Received from another system"
SECTION = "assessments"


def _assessment_for(actor: audit.Actor, assessment_id: uuid.UUID, action: Action) -> Assessment:
    """The assessment, if `actor` may `action` its patient: else 404 (absent, another agency's,
    not theirs to see) or 403 (theirs to read only), audited as every denial is."""
    rows = Assessment.objects.select_related("signed_by")
    return access.get_record_for(actor, Assessment, assessment_id, action, rows)


def _amended() -> Exists:
    return Exists(Amendment.objects.filter(assessment=OuterRef("pk")))


def _current_scores() -> Prefetch:
    scores = Score.objects.filter(current=True).order_by("instrument_title", "key", "pk")
    return Prefetch("scores", queryset=scores, to_attr="current_scores")


def _name(user: Any) -> str | None:
    return user.display_name if user is not None else None


# --- reading ------------------------------------------------------------------------------------


@router.get(
    "/patients/{patient_id}/assessments", **operation(READ, {200: AssessmentPage}, READ_ERRORS)
)
def list_assessments(
    request: HttpRequest, patient_id: uuid.UUID, page: Query[PageParams]
) -> dict[str, Any]:
    """The patient's assessments, the latest visit first, each with its current scores."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id)
    rows = (
        Assessment.objects.filter(organization_id=patient.organization_id, patient=patient)
        .select_related("signed_by")
        .prefetch_related(_current_scores())
        .annotate(has_amendments=_amended())
        .order_by("-visit_date", "-created_at", "-pk")
    )
    with transaction.atomic():
        result = paginate(request, rows, page)
        result["items"] = [_summary(a) for a in result["items"]]
        audit.record(actor, "patient.view", patient_id=patient.pk, detail={"section": SECTION})
    return result


@router.get("/assessments/{assessment_id}", **operation(READ, {200: AssessmentOut}, READ_ERRORS))
def get_assessment(request: HttpRequest, assessment_id: uuid.UUID) -> dict[str, Any]:
    """One assessment: its sections with the answers saved, its scores, findings and
    amendments."""
    actor = actor_for(request)
    assessment = _assessment_for(actor, assessment_id, Action.VIEW)
    with transaction.atomic():
        body = _whole(assessment)
        audit.record(
            actor,
            "patient.view",
            patient_id=assessment.patient_id,
            obj=assessment,
            detail={"section": SECTION},
        )
    return body


@router.get("/patients/{patient_id}/scores", **operation(READ, {200: ScorePage}, READ_ERRORS))
def list_scores(
    request: HttpRequest,
    patient_id: uuid.UUID,
    filters: Query[ScoreFilters],
    page: Query[PageParams],
) -> dict[str, Any]:
    """The patient's current scores, the newest first (a score an amendment replaced is left
    out); optionally of one instrument, and one score of it."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id)
    rows = Score.objects.filter(
        organization_id=patient.organization_id, patient=patient, current=True
    )
    if filters.instrument:
        urls = _urls_named(patient.organization_id, filters.instrument)
        rows = rows.filter(questionnaire_url__in=urls)
    if filters.key:
        rows = rows.filter(key=filters.key)
    with transaction.atomic():
        result = paginate(request, rows.order_by("-observed_at", "-id"), page)
        result["items"] = [_score(s) for s in result["items"]]
        used = sorted(name for name, value in filters.model_dump().items() if value is not None)
        audit.record(
            actor,
            "patient.view",
            patient_id=patient.pk,
            detail={"section": "scores", "filters": used},
        )
    return result


def _urls_named(organization_id: int, instrument: str) -> list[str]:
    """The Questionnaire URLs an instrument filter names: the URL itself, or an id."""
    urls = [instrument]
    shipped = catalog.shipped_by_url()
    urls += [url for url, q in shipped.items() if q.get("id") == instrument]
    urls += Instrument.objects.filter(
        organization_id=organization_id, questionnaire_id=instrument
    ).values_list("url", flat=True)
    return urls


# --- saving one questionnaire of a section -------------------------------------------------------


@router.post(
    "/assessments/{assessment_id}/sections/{section}",
    **operation(WRITE, {200: ResponseOut, 201: ResponseOut}, WRITE_ERRORS),
)
def save_section(
    request: HttpRequest, assessment_id: uuid.UUID, section: str, payload: SectionSave
) -> Status:
    """Save the answers to one questionnaire of a section of a draft, replacing the ones saved
    before (201 when these are its first answers, 200 after). `version` is the saved answers'
    version you started from (0 for none); a stale one answers 409 with the current version,
    and nothing is saved."""
    actor = actor_for(request)
    assessment = _assessment_for(actor, assessment_id, Action.EDIT)
    spec = _section_of(assessment, section)
    questionnaire = _part_of(spec, payload.questionnaire_url)
    part = services.SectionItems(payload.questionnaire_url, payload.items, payload.version)
    # A stale version raises VersionConflict: 409 with the current version (toolkit/api.py).
    (saved,) = services.save_section(actor, assessment, spec.key, [part])
    response = Response.objects.select_related("updated_by").get(pk=saved.pk)
    title = str(questionnaire.get("title") or questionnaire.get("url") or "")
    # Version 0 saved without a conflict: there were no answers before, and now there are.
    return Status(201 if payload.version == 0 else 200, _response(response, title, []))


def _section_of(assessment: Assessment, key: str) -> template.Section:
    """A section the assessment's time point asks (404 otherwise: there is nothing to save)."""
    for section in _asked(assessment):
        if section.key == key:
            return section
    raise Http404("This assessment has no such section.")


def _part_of(spec: template.Section, url: str) -> dict[str, Any]:
    shipped = instruments.shipped()
    for part in spec.parts:
        if shipped[part.questionnaire]["url"] == url:
            return shipped[part.questionnaire]
    taken = ", ".join(shipped[p.questionnaire]["url"] for p in spec.parts)
    raise ValidationError(
        {"questionnaire_url": f"{url} is not part of '{spec.title}'; it takes {taken}."}
    )


# --- shapes --------------------------------------------------------------------------------------


def _summary(assessment: Assessment) -> dict[str, Any]:
    scores = getattr(assessment, "current_scores", None)
    if scores is None:
        scores = list(
            assessment.scores.filter(current=True).order_by("instrument_title", "key", "pk")
        )
    amended = getattr(assessment, "has_amendments", None)
    if amended is None:
        amended = assessment.amendments.exists()
    return {
        "id": assessment.pk,
        "patient_id": assessment.patient_id,
        "episode_id": assessment.episode_id,
        "time_point": assessment.time_point,
        "time_point_label": assessment.get_time_point_display(),
        "status": assessment.status,
        "template": assessment.template,
        "visit_date": assessment.visit_date,
        "started_at": assessment.created_at,
        "updated_at": assessment.updated_at,
        "signed_at": assessment.signed_at,
        "signed_by": _name(assessment.signed_by),
        "version": assessment.version,
        "amended": amended,
        "scores": [_score(s) for s in scores],
    }


def _score(score: Score) -> dict[str, Any]:
    return {
        "id": score.pk,
        "assessment_id": score.assessment_id,
        "response_id": score.response_id,
        "questionnaire_url": score.questionnaire_url,
        "instrument": score.instrument_title,
        "key": score.key,
        "label": score.label,
        "value": score.value,
        "minimum": score.minimum,
        "maximum": score.maximum,
        "band": score.band,
        "meaning": score.meaning,
        "flag": score.flag,
        "code_system": score.code_system,
        "code": score.code,
        "observed_at": score.observed_at,
        "amended": score.amendment_id is not None,
    }


def _whole(assessment: Assessment) -> dict[str, Any]:
    amendments = list(
        Amendment.objects.filter(assessment=assessment)
        .select_related("signed_by")
        .order_by("signed_at", "pk")
    )
    responses = list(
        Response.objects.filter(assessment=assessment).select_related("updated_by").order_by("pk")
    )
    titles = _titles(assessment.organization_id, {r.questionnaire_url for r in responses})
    body = _summary(assessment)
    body["amended"] = bool(amendments)
    body["sections"] = _sections(assessment, responses, amendments, titles)
    findings = Finding.objects.filter(assessment=assessment).order_by("found_at", "pk")
    body["findings"] = [_finding(f) for f in findings]
    body["amendments"] = [_amendment(a) for a in amendments]
    return body


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.pk,
        "questionnaire_url": finding.questionnaire_url,
        "kind": finding.kind,
        "label": finding.label,
        "severity": finding.severity,
        "fix": finding.fix,
        "source": finding.source,
        "found_at": finding.found_at,
    }


def _amendment(amendment: Amendment) -> dict[str, Any]:
    return {
        "id": amendment.pk,
        "response_id": amendment.response_id,
        "items": amendment.items,
        "reason": amendment.reason,
        "signed_by": _name(amendment.signed_by),
        "signed_at": amendment.signed_at,
    }


def _titles(organization_id: int, urls: Iterable[str]) -> dict[str, str]:
    """Each instrument's title by URL: shipped ones from content/, uploads in one query."""
    shipped = catalog.shipped_by_url()
    titles = {
        url: str(shipped[url].get("title") or shipped[url].get("name") or url)
        for url in urls
        if url in shipped
    }
    missing = [url for url in urls if url not in titles]
    if missing:
        uploads = Instrument.objects.filter(organization_id=organization_id, url__in=missing)
        for url, title in uploads.order_by("uploaded_at").values_list("url", "title"):
            titles[url] = title
    return titles


def _sections(
    assessment: Assessment,
    responses: list[Response],
    amendments: list[Amendment],
    titles: dict[str, str],
) -> list[dict[str, Any]]:
    """The sections the time point asks, in order, with what each is made of and the answers
    saved; then any section of saved answers the template does not name (received from
    another system)."""
    by_section: dict[str, list[dict[str, Any]]] = {}
    for response in responses:
        corrections = [a for a in amendments if a.response_id == response.pk]
        title = titles.get(response.questionnaire_url, response.questionnaire_url)
        by_section.setdefault(response.section, []).append(_response(response, title, corrections))
    shipped = instruments.shipped()  # read once: each part names a shipped Questionnaire
    found = [
        {
            "key": section.key,
            "title": section.title,
            "questionnaires": [_part(part, shipped) for part in section.parts],
            "responses": by_section.pop(section.key, []),
        }
        for section in _asked(assessment)
    ]
    for key, saved in by_section.items():
        title = IMPORTED_TITLE if key == services.IMPORTED else key
        found.append({"key": key, "title": title, "questionnaires": [], "responses": saved})
    return found


def _asked(assessment: Assessment) -> list[template.Section]:
    """The sections the assessment's time point asks (none for one received from elsewhere)."""
    if assessment.template == services.IMPORTED:
        return []
    try:
        return template.comprehensive().sections_for(assessment.time_point)
    except template.NotInTemplate:
        return []


def _part(part: template.Part, shipped: dict[str, dict[str, Any]]) -> dict[str, Any]:
    questionnaire = shipped[part.questionnaire]
    return {
        "questionnaire_url": questionnaire["url"],
        "title": str(questionnaire.get("title") or questionnaire["url"]),
        "required": part.required,
        "note": part.note,
    }


def _response(response: Response, title: str, amendments: list[Amendment]) -> dict[str, Any]:
    # The latest signed correction stands, as services.effective_items chooses it.
    latest = max(amendments, key=lambda a: (a.signed_at, a.pk), default=None)
    return {
        "id": response.pk,
        "fhir_id": questionnaire_response_id(response.pk),
        "section": response.section,
        "questionnaire_url": response.questionnaire_url,
        "questionnaire_version": response.questionnaire_version,
        "title": title,
        "version": response.version,
        "items": response.items,
        "effective_items": latest.items if latest is not None else response.items,
        "updated_at": response.updated_at,
        "updated_by": _name(response.updated_by),
    }

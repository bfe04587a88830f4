"""Every write of an assessment: start, save a section as you go, sign, amend, file a response
from elsewhere; and an agency's instrument uploads and band edges. Each runs in one transaction
with its audit event.

Answers are checked against their Questionnaire (careway/assessments/answers.py) wherever they
arrive, whoever calls: the page, the JSON API, a FHIR import. A refusal is a ValidationError
naming the item at fault, and nothing is written.

An urgent answer (PHQ-9 item 9 above zero) raises its flag and a task for the case manager the
moment it is saved, not at signing: the patient is in front of the nurse now. Everything else a
section finds becomes a flag when the assessment is signed.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import Organization
from careway.core.writes import service
from careway.patients import evidence
from careway.patients import services as patient_services
from careway.patients.models import (
    LOINC,
    CareTeamMember,
    EpisodeOfCare,
    Patient,
    PatientFlag,
    Task,
)
from careway.patients.vitals import vital_signs

from . import catalog, engine, template
from .answers import AnswersRefused, check_answers, check_items
from .models import Amendment, Assessment, BandSetting, Finding, Instrument, Response, Score
from .questionnaires import answers_from_response, missing_required

OPEN_EPISODE = (EpisodeOfCare.Status.REFERRED, EpisodeOfCare.Status.ACTIVE)
SEVERITY_ORDER = {"urgent": 0, "warning": 1, "info": 2}
# One flag per kind on the chart; a kind that collects many findings says how many.
FLAG_LABEL_LIMIT = 100


@dataclass(frozen=True)
class SectionAnswers:
    """What the section page posts for one questionnaire: its answers (linkId -> value[x]
    dicts) and the version of the saved response the page was showing (0: none saved yet). A
    refusal names the question: `item.where(linkId='9').answer[0].valueCoding`."""

    questionnaire_url: str
    answers: Mapping[str, list[dict[str, Any]]]
    version: int


@dataclass(frozen=True)
class SectionItems:
    """The same as the JSON API takes it: the answers as QuestionnaireResponse.item, so a
    refusal names the element as the client sent it (`items[2].answer[0].valueCoding`)."""

    questionnaire_url: str
    items: Any
    version: int


# --- starting and saving -------------------------------------------------------------------------


@service
def start_assessment(
    actor: audit.Actor,
    patient: Patient,
    time_point: str,
    visit_date: date | None = None,
    episode: EpisodeOfCare | None = None,
) -> Assessment:
    """A new draft for the patient's open episode, or the draft of that time point already
    started (resuming rather than starting twice)."""
    if time_point not in Assessment.TimePoint.values:
        raise ValidationError({"time_point": f"'{time_point}' is not a time point of home health"})
    episode = episode or _open_episode(patient)
    draft = Assessment.objects.filter(
        episode=episode, time_point=time_point, status=Assessment.Status.DRAFT
    ).first()
    if draft is not None:
        return draft
    if (
        time_point == Assessment.TimePoint.START_OF_CARE
        and Assessment.objects.filter(
            episode=episode, time_point=time_point, status=Assessment.Status.SIGNED
        ).exists()
    ):
        raise ValidationError(
            {"time_point": "This episode's start-of-care assessment is signed; amend it instead."}
        )
    assessment = Assessment.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        episode=episode,
        time_point=time_point,
        template=template.comprehensive().id,
        template_version=template.comprehensive().version,
        visit_date=visit_date or timezone.localdate(),
        started_by=actor.user,
    )
    audit.record(
        actor,
        "assessment.create",
        patient_id=patient.pk,
        obj=assessment,
        detail={"time_point": time_point},
    )
    return assessment


def _open_episode(patient: Patient) -> EpisodeOfCare:
    episode = (
        EpisodeOfCare.objects.filter(patient=patient, status__in=OPEN_EPISODE)
        .order_by("-start_of_care", "-pk")
        .first()
    )
    if episode is None:
        raise ValidationError(
            {"episode": "This patient has no open episode of care to assess for."}
        )
    return episode


@service
def save_section(
    actor: audit.Actor,
    assessment: Assessment,
    section_key: str,
    parts: Sequence[SectionAnswers | SectionItems],
) -> list[Response]:
    """Keep what was entered in one section. Answers that do not fit their Questionnaire are
    refused, naming the item; a stale version (another device saved the same questionnaire
    since this page loaded) is a conflict. Nothing is written then."""
    locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if locked.is_signed:
        raise ValidationError("This assessment is signed: correct it with an amendment.")
    section = template.comprehensive().section(section_key)
    allowed = {_url_of(part.questionnaire) for part in section.parts}
    checked = []
    for part in parts:
        if part.questionnaire_url not in allowed:
            raise ValidationError(
                {"questionnaire": f"{part.questionnaire_url} is not part of '{section.title}'"}
            )
        entry = _entry(assessment, part.questionnaire_url)
        checked.append((entry, _checked_part(entry, part), part.version))
    saved = []
    for entry, items, version in checked:
        saved.append(_keep_response(actor, locked, section_key, entry, items, version))
        _raise_urgent(actor, locked, entry, items)
    now = timezone.now()
    Assessment.objects.filter(pk=locked.pk).update(updated_at=now, version=locked.version + 1)
    assessment.updated_at, assessment.version = now, locked.version + 1
    audit.record(
        actor,
        "assessment.save",
        patient_id=assessment.patient_id,
        obj=assessment,
        detail={"section": section_key},
    )
    return saved


def _checked_part(
    entry: catalog.Entry, part: SectionAnswers | SectionItems
) -> list[dict[str, Any]]:
    """The part's answers as QuestionnaireResponse.item, checked against the Questionnaire."""
    with _refusal_named():
        if isinstance(part, SectionItems):
            return check_items(entry.questionnaire, part.items, "items")
        return check_answers(entry.questionnaire, part.answers)


@contextmanager
def _refusal_named() -> Iterator[None]:
    """Answers refused by the check become a ValidationError on the element at fault."""
    try:
        yield
    except AnswersRefused as refused:
        raise ValidationError(
            {refused.path: ValidationError(refused.reason, code=refused.code)}
        ) from None


def _keep_response(
    actor: audit.Actor,
    assessment: Assessment,
    section_key: str,
    entry: catalog.Entry,
    items: list[dict[str, Any]],
    version: int,
) -> Response:
    current = Response.objects.filter(
        assessment=assessment, section=section_key, questionnaire_url=entry.url
    ).first()
    if current is None:
        if version:
            raise VersionConflict(_placeholder(version), version)
        return Response.objects.create(
            organization_id=assessment.organization_id,
            patient_id=assessment.patient_id,
            assessment=assessment,
            section=section_key,
            questionnaire_url=entry.url,
            questionnaire_version=entry.version,
            items=items,
            updated_by=actor.user,
        )
    if current.version != version:
        raise VersionConflict(current, version)
    if current.items != items:
        current.items = items
        current.version += 1
        current.updated_by = actor.user
        current.updated_at = timezone.now()
        current.save(update_fields=["items", "version", "updated_by", "updated_at"])
    return current


def _placeholder(version: int) -> Response:
    # The page thought a response existed that does not: report it as a conflict all the same.
    return Response(version=0)


def _url_of(questionnaire_id: str) -> str:
    return str(catalog.shipped_by_id(questionnaire_id)["url"])


def _entry(assessment: Assessment, url: str) -> catalog.Entry:
    entry = catalog.entry(assessment.organization_id, url)
    if entry is None:
        raise ValidationError({"questionnaire": f"{url} is not an instrument of this agency"})
    return entry


def _raise_urgent(
    actor: audit.Actor, assessment: Assessment, entry: catalog.Entry, items: list[dict[str, Any]]
) -> None:
    result = engine.score(entry.instrument, {"item": items})
    for finding in result.findings:
        if finding.severity == "urgent":
            flag = _flag_for(actor, assessment, entry, finding.kind, finding.label, "urgent")
            _task_for(actor, assessment, flag, finding, _answered(entry, items, finding.source))


def _answered(entry: catalog.Entry, items: list[dict[str, Any]], link_id: str) -> str:
    """'PHQ-9 item 9 answered “Several days”': the answer that raised an urgent finding, as the
    task says why it is there (empty when the finding is not one answer's)."""
    answer = _answer_display(items, link_id)
    if not answer:
        return ""
    short = str(entry.questionnaire.get("name") or "").replace("_", "-") or entry.title
    return f"{short} item {link_id} answered “{answer}”"


def _answer_display(items: list[dict[str, Any]], link_id: str) -> str:
    for item in items:
        if item.get("linkId") == link_id:
            for answer in item.get("answer") or []:
                coding = answer.get("valueCoding") or {}
                value = coding.get("display") or coding.get("code") or answer.get("valueString")
                if value is None:
                    value = next((v for k, v in answer.items() if k.startswith("value")), "")
                return str(value)
        found = _answer_display(item.get("item") or [], link_id)
        if found:
            return found
    return ""


# --- signing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Missing:
    section: str
    section_title: str
    text: str


def missing_for_signature(assessment: Assessment) -> list[Missing]:
    """Every required answer not yet given, section by section, in the order of the sections."""
    responses = {(r.section, r.questionnaire_url): r for r in assessment.responses.all()}
    missing = []
    for section in template.comprehensive().sections_for(assessment.time_point):
        for part in section.parts:
            questionnaire = catalog.shipped_by_id(part.questionnaire)
            response = responses.get((section.key, questionnaire["url"]))
            if not part.required:
                continue
            answers = answers_from_response({"item": response.items if response else []})
            for _link, text in missing_required(questionnaire, answers):
                missing.append(Missing(section.key, section.title, text))
    return missing


@service
def sign_assessment(
    actor: audit.Actor, assessment: Assessment, version: int, signed_at: datetime | None = None
) -> Assessment:
    """Lock the assessment: keep its scores, raise its findings as flags (and resolve the flags
    its instruments raised before and no longer find). Refused while a required answer is
    missing, or when the page is out of date. `signed_at` is for records made after the fact
    (the demo's history); a person signing signs now."""
    locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if locked.is_signed:
        raise ValidationError("This assessment is already signed.")
    if locked.version != version:
        raise VersionConflict(locked, version)
    missing = missing_for_signature(locked)
    if missing:
        raise ValidationError(
            [f"{m.section_title}: {m.text}" for m in missing], code="missing_required"
        )
    now = signed_at or timezone.now()
    responses = list(locked.responses.all())
    agency = catalog.entries(locked.organization_id, {r.questionnaire_url for r in responses})
    for response in responses:
        entry = agency.get(response.questionnaire_url) or _entry(locked, response.questionnaire_url)
        result = engine.score(entry.instrument, {"item": response.items})
        _keep_scores(locked, response, entry, result, now, amendment=None)
        _keep_findings(actor, locked, entry, result)
        measured = _vital_signs(entry.questionnaire, response.items, _taken_at(locked, now))
        if measured:
            patient_services.record_observations(actor, locked.patient, measured)
    locked.status = Assessment.Status.SIGNED
    locked.signed_by = actor.user
    locked.signed_at = now
    locked.version += 1
    locked.save(update_fields=["status", "signed_by", "signed_at", "version"])
    audit.record(
        actor,
        "assessment.sign",
        patient_id=locked.patient_id,
        obj=locked,
        detail={"time_point": locked.time_point},
    )
    evidence.evidence_changed(actor, {locked.patient_id})
    return locked


def _taken_at(assessment: Assessment, signed_at: datetime) -> datetime:
    """When the vital signs of the visit were taken: the visit day, at the signing time when
    signed the same day, else at noon of that day in the agency's zone."""
    if timezone.localdate(signed_at) == assessment.visit_date:
        return signed_at
    return timezone.make_aware(datetime.combine(assessment.visit_date, time(12)))


def _vital_signs(
    questionnaire: dict[str, Any], items: list[dict[str, Any]], taken: datetime
) -> list[dict[str, Any]]:
    """The answers coded as a vital sign Careway charts (by LOINC code), as chart readings: a
    signed assessment's vital signs are the chart's vital signs of that visit."""
    signs = {sign.code: sign for sign in vital_signs()}
    answers = engine.answers_of({"item": items})
    rows = []
    for item in _all_items(questionnaire.get("item", [])):
        codes = [c.get("code") for c in item.get("code", []) if c.get("system") == LOINC]
        sign = next((signs[c] for c in codes if c in signs), None)
        values = answers.get(str(item.get("linkId")), [])
        if sign is None or not values or isinstance(values[0], bool):
            continue
        if not isinstance(values[0], int | float):
            continue
        rows.append(
            {
                "category": "vital-signs",
                "code_system": LOINC,
                "code": sign.code,
                "display": sign.label,
                "effective_at": taken,
                "value": values[0],
                "unit": sign.unit,
            }
        )
    return rows


def _all_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        found.append(item)
        found += _all_items(item.get("item", []))
    return found


def _keep_scores(
    assessment: Assessment,
    response: Response,
    entry: catalog.Entry,
    result: engine.Result,
    at: Any,
    amendment: Amendment | None,
) -> list[Score]:
    rows = [
        Score(
            organization_id=assessment.organization_id,
            patient_id=assessment.patient_id,
            assessment=assessment,
            response=response,
            amendment=amendment,
            questionnaire_url=entry.url,
            instrument_title=entry.title[:200],
            key=score.key,
            label=score.label[:200],
            value=score.value,
            minimum=score.minimum,
            maximum=score.maximum,
            band=score.band.label[:100] if score.band else "",
            meaning=score.band.meaning[:300] if score.band else "",
            flag=score.band.flag[:40] if score.band else "",
            code_system=(score.code or {}).get("system", "")[:100],
            code=(score.code or {}).get("code", "")[:40],
            observed_at=at,
        )
        for score in result.scores.values()
        if score.value is not None
    ]
    return Score.objects.bulk_create(rows)


def _keep_findings(
    actor: audit.Actor, assessment: Assessment, entry: catalog.Entry, result: engine.Result
) -> None:
    """Findings of one instrument become flags; the flags it raised before and no longer finds
    are resolved (a fall risk that a new MAHC-10 no longer shows)."""
    by_kind: dict[str, list[Any]] = {}
    for finding in result.findings:
        by_kind.setdefault(finding.kind, []).append(finding)
    for kind, found in by_kind.items():
        worst = min(found, key=lambda f: SEVERITY_ORDER.get(f.severity, 3))
        label = worst.label if len(found) == 1 else f"{worst.label} (+{len(found) - 1} more)"
        flag = _flag_for(actor, assessment, entry, kind, label, worst.severity)
        Finding.objects.bulk_create(
            Finding(
                organization_id=assessment.organization_id,
                patient_id=assessment.patient_id,
                assessment=assessment,
                questionnaire_url=entry.url,
                kind=kind,
                label=f.label[:300],
                severity=f.severity,
                fix=(f.fix or "")[:500],
                source=str(f.source)[:60],
                flag=flag,
            )
            for f in found
        )
    stale = PatientFlag.objects.filter(
        patient_id=assessment.patient_id, source=_flag_source(entry), active=True
    ).exclude(kind__in=list(by_kind))
    for flag in stale:
        flag.active = False
        flag.resolved_at = timezone.now()
        flag.save(update_fields=["active", "resolved_at"])
        audit.record(
            actor,
            "flag.resolve",
            patient_id=assessment.patient_id,
            obj=flag,
            detail={"by": "assessment", "assessment": str(assessment.pk)},
        )


def _flag_source(entry: catalog.Entry) -> str:
    # Shown on the chart beside the flag ("from MAHC-10 fall risk"), and how a later
    # assessment with the same instrument finds the flags it may resolve.
    return entry.title[:100]


def _flag_for(
    actor: audit.Actor,
    assessment: Assessment,
    entry: catalog.Entry,
    kind: str,
    label: str,
    severity: str,
) -> PatientFlag:
    """The patient's active flag of this kind from this instrument, raised or brought up to
    date."""
    label = label[:FLAG_LABEL_LIMIT]
    active = PatientFlag.objects.filter(
        patient_id=assessment.patient_id, kind=kind[:40], active=True
    )
    flag = active.filter(source=_flag_source(entry)).first()
    if flag is None:
        # Raised already by someone else (a nurse's own judgement, another instrument): the
        # finding points to that flag rather than putting a second one beside it.
        flag = active.order_by("raised_at").first()
        if flag is not None:
            return flag
        flag = PatientFlag.objects.create(
            organization_id=assessment.organization_id,
            patient_id=assessment.patient_id,
            kind=kind[:40],
            label=label,
            severity=severity,
            source=_flag_source(entry),
        )
        audit.record(
            actor,
            "flag.raise",
            patient_id=assessment.patient_id,
            obj=flag,
            detail={"assessment": str(assessment.pk)},
        )
    elif (flag.label, flag.severity) != (label, severity):
        flag.label, flag.severity = label, severity
        flag.save(update_fields=["label", "severity"])
        audit.record(actor, "flag.update", patient_id=assessment.patient_id, obj=flag)
    return flag


def _task_for(
    actor: audit.Actor, assessment: Assessment, flag: PatientFlag, finding: Any, answered: str = ""
) -> Task:
    source = f"assessment:{assessment.pk}:{finding.kind}"[:100]
    task = Task.objects.filter(
        patient_id=assessment.patient_id, source=source, status=Task.Status.OPEN
    ).first()
    if task is not None:
        return task
    task = Task.objects.create(
        organization_id=assessment.organization_id,
        patient_id=assessment.patient_id,
        assigned_to=_case_manager(assessment) or actor.user,
        title=finding.label[:200],
        detail=(
            (
                f"{answered} on {assessment.visit_date:%b} {assessment.visit_date.day}, in the "
                if answered and assessment.visit_date
                else "Raised by an answer in the "
            )
            + f"{assessment.get_time_point_display().lower()} assessment. "
            "Assess safety today and follow the agency's protocol."
        ),
        priority=PatientFlag.Severity.URGENT,
        due_date=timezone.localdate(),
        source=source,
    )
    audit.record(
        actor,
        "task.create",
        patient_id=assessment.patient_id,
        obj=task,
        detail={"flag": flag.pk},
    )
    return task


def _case_manager(assessment: Assessment) -> Any:
    member = (
        CareTeamMember.objects.filter(
            episode_id=assessment.episode_id, is_primary_case_manager=True, active=True
        )
        .select_related("user")
        .first()
    )
    return member.user if member and member.user_id else None


# --- amendments ----------------------------------------------------------------------------------


def effective_items(response: Response) -> list[dict[str, Any]]:
    """The answers as they stand: the latest signed amendment's, else the original ones."""
    latest = response.amendments.order_by("-signed_at", "-pk").first()
    return list(latest.items) if latest else list(response.items)


@service
def amend_response(
    actor: audit.Actor,
    response: Response,
    answers: Mapping[str, list[dict[str, Any]]],
    reason: str,
) -> Amendment:
    """Append a signed correction to one questionnaire of a signed assessment; its scores and
    findings are worked out again, the original answers and scores stay on record."""
    assessment = Assessment.objects.select_for_update().get(pk=response.assessment_id)
    if not assessment.is_signed:
        raise ValidationError("Only a signed assessment is amended; edit the draft instead.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the answers are corrected."})
    entry = _entry(assessment, response.questionnaire_url)
    with _refusal_named():
        items = check_answers(entry.questionnaire, answers)
    amendment = Amendment.objects.create(
        organization_id=assessment.organization_id,
        patient_id=assessment.patient_id,
        assessment=assessment,
        response=response,
        items=items,
        reason=reason.strip(),
        signed_by=actor.user,
    )
    Score.objects.filter(response=response, current=True).update(current=False)
    result = engine.score(entry.instrument, {"item": items})
    _keep_scores(assessment, response, entry, result, amendment.signed_at, amendment)
    _keep_findings(actor, assessment, entry, result)
    audit.record(
        actor,
        "assessment.amend",
        patient_id=assessment.patient_id,
        obj=assessment,
        detail={"section": response.section, "questionnaire": entry.url, "reason": reason},
    )
    evidence.evidence_changed(actor, {assessment.patient_id})
    return amendment


# --- an agency's instruments ---------------------------------------------------------------------


@service
def upload_instrument(
    actor: audit.Actor, organization: Organization, questionnaire: Any
) -> Instrument:
    """Add a Questionnaire written elsewhere. It is kept even when it cannot be scored (it
    still renders and records answers); the reason is kept beside it."""
    try:
        instrument = engine.load(questionnaire)
    except engine.InstrumentError as error:
        raise ValidationError({"questionnaire": f"{error.where}: {error.reason}"}) from error
    url = str(questionnaire.get("url") or "")
    if not url:
        raise ValidationError({"questionnaire": "Questionnaire.url: missing (it names the form)"})
    if url in catalog.shipped_by_url():
        raise ValidationError({"questionnaire": f"{url} is already shipped with Careway"})
    version = str(questionnaire.get("version") or "")[:40]
    if Instrument.objects.filter(organization=organization, url=url, version=version).exists():
        raise ValidationError(
            {"questionnaire": f"Version '{version}' of {url} is already uploaded"}
        )
    Instrument.objects.filter(organization=organization, url=url).update(active=False)
    upload = Instrument.objects.create(
        organization=organization,
        questionnaire_id=str(questionnaire.get("id") or "")[:64],
        url=url[:300],
        version=version,
        title=(instrument.title or url)[:200],
        resource=questionnaire,
        scorable=instrument.scorable,
        why_not_scored=instrument.why_not[:300],
        uploaded_by=actor.user,
    )
    audit.record(actor, "instrument.upload", obj=upload, detail={"url": url, "version": version})
    return upload


@service
def set_bands(
    actor: audit.Actor,
    organization: Organization,
    questionnaire_url: str,
    score_key: str,
    bands: Iterable[Mapping[str, Any]],
) -> BandSetting:
    """An agency's own band edges for one score; refused unless they make sense."""
    entry = catalog.entry(organization.pk, questionnaire_url)
    if entry is None:
        raise ValidationError({"questionnaire": f"{questionnaire_url} is not an instrument here"})
    try:
        parsed = engine.bands_from_json(list(bands))
        engine.with_bands(engine.load(entry.questionnaire), score_key, parsed)
    except engine.InstrumentError as error:
        raise ValidationError({"bands": f"{error.where}: {error.reason}"}) from error
    setting, _ = BandSetting.objects.update_or_create(
        organization=organization,
        questionnaire_url=questionnaire_url,
        score_key=score_key,
        defaults={
            "bands": engine.bands_to_json(parsed),
            "changed_by": actor.user,
            "changed_at": timezone.now(),
        },
    )
    audit.record(
        actor,
        "instrument.bands",
        obj=setting,
        detail={"url": questionnaire_url, "score": score_key, "bands": setting.bands},
    )
    return setting


# --- responses from elsewhere --------------------------------------------------------------------

IMPORTED = "imported"


@service
def record_response(
    actor: audit.Actor,
    patient: Patient,
    questionnaire_url: str,
    items: list[dict[str, Any]],
    authored: Any,
    episode: EpisodeOfCare | None = None,
) -> Response:
    """A completed QuestionnaireResponse from another system (the FHIR API, an import): kept
    as a signed one-questionnaire assessment of its own, scored and flagged like any other.
    Its items are checked as completed answers (every required question answered)."""
    entry = catalog.entry(patient.organization_id, questionnaire_url)
    if entry is None:
        raise ValidationError(
            {
                "questionnaire": f"{questionnaire_url} is not an instrument of this agency: "
                "upload the Questionnaire first"
            }
        )
    with _refusal_named():
        items = check_items(entry.questionnaire, items, "items", completed=True)
    if episode is None:
        episode = (
            EpisodeOfCare.objects.filter(patient=patient).order_by("-start_of_care", "-pk").first()
        )
    if episode is None:
        raise ValidationError({"episode": "This patient has no episode of care to file it in."})
    at = authored or timezone.now()
    assessment = Assessment.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        episode=episode,
        time_point=Assessment.TimePoint.FOLLOW_UP,
        template=IMPORTED,
        status=Assessment.Status.SIGNED,
        visit_date=timezone.localdate(at),
        started_by=actor.user,
        created_at=at,
        updated_at=at,
        signed_by=actor.user,
        signed_at=at,
    )
    response = Response.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        assessment=assessment,
        section=IMPORTED,
        questionnaire_url=entry.url,
        questionnaire_version=entry.version,
        items=items,
        updated_by=actor.user,
        updated_at=at,
    )
    result = engine.score(entry.instrument, {"item": items})
    _keep_scores(assessment, response, entry, result, at, amendment=None)
    _keep_findings(actor, assessment, entry, result)
    _raise_urgent(actor, assessment, entry, items)
    audit.record(
        actor,
        "assessment.import",
        patient_id=patient.pk,
        obj=assessment,
        detail={"questionnaire": entry.url},
    )
    evidence.evidence_changed(actor, {patient.pk})
    return response

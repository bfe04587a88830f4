"""The physician's plan of care and verbal orders: every write (each a @service with its audit
event), the document as it is sent, and the tracking until signed.

A plan of care is drafted for the certification period the agency's today falls in (the next one
during the recertification window, when this period's is out already), edited while a draft,
sent once `certification.problems()` is empty (its content frozen: goals, the plan's discipline
frequencies as orders, interventions, medications and allergies from the chart, with the PDF as
sent), and marked signed with the date the practitioner wrote. It is due back `order_signature_days`
(the agency's) after the day it was sent, and overdue the day after that, in the agency's zone.
Verbal orders are taken (read back), sent and signed on the same deadline.
"""

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import Organization
from careway.core.roles import Discipline
from careway.core.writes import service
from careway.patients import alerts
from careway.patients.models import Allergy, Condition, Medication, Patient
from careway.patients.services import validate_record
from careway.toolkit.pdf import PdfUnavailable, render_pdf

from . import certification, icd10, revisions, services
from .frequency import FrequencyError, parse
from .models import CarePlan, DisciplineFrequency, Goal, Intervention, PlanOfCare, VerbalOrder

SEND_HOW = {"fax": "Fax", "print": "Printed and delivered", "portal": "Practitioner portal"}
PDF_TEMPLATE = "careplans/plan_of_care/pdf.html"
EDITABLE = frozenset(
    {
        "diagnoses",
        "mental_status",
        "prognosis",
        "rehab_potential",
        "discharge_plans",
        "safety_measures",
        "nutritional_requirements",
        "equipment_supplies",
        "hospitalization_risk",
        "functional_limitations",
        "activities_permitted",
        "notify_if",
        "practitioner_name",
        "practitioner_kind",
        "practitioner_npi",
        "practitioner_address",
        "practitioner_phone",
        "face_to_face_date",
        "face_to_face_practitioner",
        "face_to_face_kind",
        "face_to_face_findings",
        "homebound",
        "homebound_reason",
        "surgical_procedure",
    }
)
# Carried from the episode's previous plan of care into a recertification's draft.
CARRIED = sorted(
    EDITABLE - {"diagnoses", "surgical_procedure"} - {f for f in EDITABLE if "face_to_face" in f}
)
IN_EFFECT = (PlanOfCare.Status.SENT, PlanOfCare.Status.SIGNED)


def agency_today(organization_id: int) -> date:
    return timezone.localdate(timezone=services.agency_zone(organization_id))


def _local_day(at: datetime, organization_id: int) -> date:
    return timezone.localtime(at, services.agency_zone(organization_id)).date()


# --- drafting ---------------------------------------------------------------------------------


@service
def draft_plan_of_care(
    actor: audit.Actor, plan: CarePlan, *, today: date | None = None
) -> PlanOfCare:
    """A draft for the current certification period (or the next, in the recertification window
    once this period's is sent): diagnoses proposed from the active conditions, what a
    recertification carries over from the last plan of care, the agency's alert thresholds as
    the notify-if parameters to start from."""
    services._open(plan)
    episode = plan.episode
    if episode.start_of_care is None:
        raise ValidationError({"episode": "Record the start of care before the plan of care."})
    today = today or agency_today(plan.organization_id)
    period = _period_to_draft(plan, today)
    if _of_period(plan, period).filter(status=PlanOfCare.Status.DRAFT).exists():
        raise ValidationError(
            {"period": "This period has a draft plan of care already: edit that one."}
        )
    previous = _of_plan(plan).filter(status__in=IN_EFFECT).order_by("-period_start").first()
    poc = PlanOfCare(
        organization_id=plan.organization_id,
        patient_id=plan.patient_id,
        plan=plan,
        episode=episode,
        kind=period.kind,
        period_start=period.start,
        period_end=period.end,
        plan_revision=plan.revision,
        diagnoses=proposed_diagnoses(plan.patient),
        notify_if=dict(alerts.agency_setting(plan.organization).values),
    )
    if previous is not None:
        for name in CARRIED:
            setattr(poc, name, getattr(previous, name))
    validate_record(poc, exclude=["plan", "episode"])
    poc.save(force_insert=True)
    audit.record(
        actor,
        "plan_of_care.create",
        patient_id=plan.patient_id,
        obj=poc,
        detail={"kind": poc.kind, "period": [str(period.start), str(period.end)]},
    )
    return poc


def _period_to_draft(plan: CarePlan, today: date) -> certification.Period:
    period = certification.period_on(plan.episode, today)
    in_window = today >= period.recertification_from
    if in_window and _of_period(plan, period).filter(status__in=IN_EFFECT).exists():
        return certification.period_on(plan.episode, period.end + timedelta(days=1))
    return period


def _of_plan(plan: CarePlan) -> Any:
    return PlanOfCare.objects.filter(plan=plan).exclude(status=PlanOfCare.Status.ENTERED_IN_ERROR)


def _of_period(plan: CarePlan, period: certification.Period) -> Any:
    return _of_plan(plan).filter(period_start=period.start)


def proposed_diagnoses(patient: Patient) -> list[dict[str, Any]]:
    """The active conditions' ICD-10-CM codes through content/icd10_map.json (careway/careplans/
    icd10.py), the chart's primary condition first."""
    conditions = Condition.objects.filter(
        patient=patient, clinical_status__in=["active", "recurrence", "relapse"]
    ).order_by("-is_primary", "-onset_date", "created_at")
    return icd10.propose(
        icd10.ChartCondition(
            c.code_system, c.code, c.display, c.onset_date.isoformat() if c.onset_date else "",
            c.is_primary,
        )
        for c in conditions
    )  # fmt: skip


# --- editing a draft ------------------------------------------------------------------------------


@service
def update_plan_of_care(
    actor: audit.Actor, poc: PlanOfCare, data: Mapping[str, Any], expected_version: int
) -> PlanOfCare:
    """Change a draft (any of EDITABLE). Codes are checked as they are saved; whether the whole
    can be sent is `certification.problems`, checked on sending."""
    unknown = set(data) - EDITABLE
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in sorted(unknown)})
    locked = _locked(poc, expected_version)
    if locked.status != PlanOfCare.Status.DRAFT:
        raise ValidationError(
            {"status": "Only a draft can be changed: this plan of care was sent. Draft a new one."}
        )
    data = dict(data)
    changed = []
    if "surgical_procedure" in data:
        procedure = str(data.pop("surgical_procedure") or "").strip()[:300]
        if locked.content.get("surgical_procedure", "") != procedure:
            locked.content = {**locked.content, "surgical_procedure": procedure}
            changed.append("surgical_procedure")
    if "diagnoses" in data:
        data["diagnoses"] = _checked_diagnoses(data["diagnoses"])
    if "notify_if" in data:
        errors = certification.notify_if_problems(data["notify_if"])
        if errors:
            raise ValidationError(errors)
    for name, value in data.items():
        if getattr(locked, name) != value:
            setattr(locked, name, value)
            changed.append(name)
    validate_record(locked, exclude=["plan", "episode"])
    if changed:
        locked.version += 1
        locked.updated_at = timezone.now()
        locked.save()
        audit.record(
            actor,
            "plan_of_care.update",
            patient_id=locked.patient_id,
            obj=locked,
            detail={"fields": sorted(changed), "version": locked.version},
        )
    return locked


def _checked_diagnoses(rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        raise ValidationError({"diagnoses": "Give the diagnoses as a list."})
    cleaned, errors = [], {}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            errors[f"diagnoses.{index}.code"] = f"Diagnosis {index + 1}: give its code."
            continue
        code = icd10.normalized(str(row.get("code", "")))
        problem = icd10.code_problem(code)
        if problem:
            errors[f"diagnoses.{index}.code"] = f"Diagnosis {index + 1}: {problem}"
            continue
        onset = str(row.get("onset") or "")
        if onset:
            try:
                date.fromisoformat(onset)
            except ValueError:
                errors[f"diagnoses.{index}.onset"] = f"Diagnosis {index + 1}: give a date."
        cleaned.append(
            {
                "code": code,
                "display": icd10.description(code),
                "principal": bool(row.get("principal")),
                "snomed": str(row.get("snomed") or "")[:40],
                "snomed_display": str(row.get("snomed_display") or "")[:300],
                "onset": onset,
            }
        )
    if errors:
        raise ValidationError(errors)
    return cleaned


def _locked(row: Any, expected_version: int) -> Any:
    locked = type(row)._default_manager.select_for_update().get(pk=row.pk)
    if locked.version != expected_version:
        raise VersionConflict(locked, expected_version)
    if locked.status == "entered-in-error":
        raise ValidationError("This record was entered in error; it cannot be changed.")
    return locked


# --- sending and signing ----------------------------------------------------------------------


@service
def send_plan_of_care(
    actor: audit.Actor,
    poc: PlanOfCare,
    how: str,
    expected_version: int,
    *,
    sent_on: date | None = None,
) -> PlanOfCare:
    """Send it for signature: nothing may stop it (`certification.problems`), its content is
    frozen with the PDF as sent, and it is due back after the agency's deadline, counted from
    the day it went (`sent_on`: today, or an earlier day when it is recorded late)."""
    if how not in SEND_HOW:
        raise ValidationError({"how": f"Choose how it goes: {', '.join(SEND_HOW)}."})
    locked = _locked(poc, expected_version)
    if locked.status != PlanOfCare.Status.DRAFT:
        raise ValidationError({"status": "This plan of care was sent already."})
    problems = certification.problems(locked)
    if problems:
        raise ValidationError(problems)
    organization = Organization.objects.get(pk=locked.organization_id)
    now, sent_on = _sent_at(sent_on, organization.pk)
    locked.sent_at, locked.sent_by, locked.sent_how = now, actor.user, how
    locked.due_by = sent_on + timedelta(days=organization.order_signature_days)
    locked.status = PlanOfCare.Status.SENT
    locked.plan_revision = locked.plan.revision
    locked.content = document(locked, organization)
    locked.sent_pdf = pdf_of(locked, organization)
    locked.version += 1
    locked.updated_at = now
    locked.save()
    audit.record(
        actor,
        "plan_of_care.send",
        patient_id=locked.patient_id,
        obj=locked,
        detail={"how": how, "due_by": str(locked.due_by), "version": locked.version},
    )
    return locked


def _sent_at(sent_on: date | None, organization_id: int) -> tuple[datetime, date]:
    """When it went: now, or (recorded late) that day at this time of day, never the future."""
    now = timezone.now()
    today = _local_day(now, organization_id)
    if sent_on is None or sent_on == today:
        return now, today
    if sent_on > today:
        raise ValidationError({"sent_on": "It cannot have been sent in the future."})
    zone = services.agency_zone(organization_id)
    local = timezone.localtime(now, zone)
    return datetime.combine(sent_on, local.timetz()), sent_on


def pdf_of(poc: PlanOfCare, organization: Organization) -> bytes | None:
    """The document as PDF, or None where WeasyPrint cannot run (the page prints instead)."""
    try:
        return render_pdf(PDF_TEMPLATE, pdf_context(poc, organization))
    except PdfUnavailable:
        return None


def _check_signed_on(signed_on: Any, sent_at: datetime | None, organization_id: int) -> date:
    if not isinstance(signed_on, date):
        raise ValidationError({"signed_on": "Give the date the practitioner signed."})
    sent_on = _local_day(sent_at, organization_id) if sent_at else None
    if sent_on is not None and signed_on < sent_on:
        raise ValidationError(
            {"signed_on": f"It cannot be signed before it was sent ({sent_on:%m/%d/%Y})."}
        )
    if signed_on > agency_today(organization_id):
        raise ValidationError({"signed_on": "The signature date cannot be in the future."})
    return signed_on


@service
def mark_plan_of_care_signed(
    actor: audit.Actor, poc: PlanOfCare, signed_on: date, expected_version: int
) -> PlanOfCare:
    locked = _locked(poc, expected_version)
    if locked.status != PlanOfCare.Status.SENT:
        raise ValidationError({"status": "Only a plan of care sent for signature can be signed."})
    locked.signed_on = _check_signed_on(signed_on, locked.sent_at, locked.organization_id)
    return _received(actor, locked, "plan_of_care.sign")


def _received(actor: audit.Actor, locked: Any, action: str) -> Any:
    locked.status = "signed"
    locked.received_at = timezone.now()
    if hasattr(locked, "received_by"):
        locked.received_by = actor.user
    locked.version += 1
    locked.updated_at = locked.received_at
    locked.save()
    audit.record(
        actor,
        action,
        patient_id=locked.patient_id,
        obj=locked,
        detail={"signed_on": str(locked.signed_on), "version": locked.version},
    )
    return locked


@service
def enter_plan_of_care_in_error(
    actor: audit.Actor, poc: PlanOfCare, reason: str, expected_version: int
) -> PlanOfCare:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this plan of care was entered in error."})
    locked = _locked(poc, expected_version)
    locked.status = PlanOfCare.Status.ENTERED_IN_ERROR
    locked.version += 1
    locked.updated_at = timezone.now()
    locked.save()
    audit.record(
        actor, "plan_of_care.entered_in_error", patient_id=locked.patient_id, obj=locked,
        reason=reason,
    )  # fmt: skip
    return locked


def is_overdue(row: PlanOfCare | VerbalOrder, today: date) -> bool:
    """Unsigned past its due day: the due day itself is not overdue, the day after is."""
    return row.status == "sent" and row.due_by is not None and today > row.due_by


def overdue_days(row: PlanOfCare | VerbalOrder, today: date) -> int:
    return (today - row.due_by).days if is_overdue(row, today) and row.due_by else 0


# --- verbal orders ----------------------------------------------------------------------------


@service
def take_verbal_order(actor: audit.Actor, plan: CarePlan, data: Mapping[str, Any]) -> VerbalOrder:
    """An order given by word, written down by the clinician who took it and read back."""
    services._open(plan)
    allowed = {"text", "discipline", "practitioner_name", "practitioner_kind", "taken_at",
               "read_back", "plan_of_care", "plan_of_care_id"}  # fmt: skip
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in sorted(unknown)})
    order = VerbalOrder(
        organization_id=plan.organization_id, patient_id=plan.patient_id, plan=plan,
        taken_by=actor.user,
    )  # fmt: skip
    for name, value in data.items():
        setattr(order, name, value)
    order.text = (order.text or "").strip()
    errors: dict[str, str] = {}
    if not order.text:
        errors["text"] = "Write the order as the practitioner gave it."
    if not order.practitioner_name.strip():
        errors["practitioner_name"] = "Name the practitioner who gave the order."
    kind_problem = certification.practitioner_problem(order.practitioner_kind, "order")
    if kind_problem:
        errors["practitioner_kind"] = kind_problem
    if not order.read_back:
        errors["read_back"] = "Read the order back to the practitioner before recording it."
    if order.taken_at and order.taken_at > timezone.now():
        errors["taken_at"] = "An order cannot be taken in the future."
    if order.plan_of_care_id and not _of_plan(plan).filter(pk=order.plan_of_care_id).exists():
        errors["plan_of_care"] = "Choose a plan of care of this patient's plan."
    if errors:
        raise ValidationError(errors)
    validate_record(order, exclude=["plan", "plan_of_care"])
    order.save(force_insert=True)
    audit.record(actor, "verbal_order.create", patient_id=plan.patient_id, obj=order)
    return order


@service
def send_verbal_order(
    actor: audit.Actor,
    order: VerbalOrder,
    how: str,
    expected_version: int,
    *,
    sent_on: date | None = None,
) -> VerbalOrder:
    if how not in SEND_HOW:
        raise ValidationError({"how": f"Choose how it goes: {', '.join(SEND_HOW)}."})
    locked = _locked(order, expected_version)
    if locked.status != VerbalOrder.Status.TAKEN:
        raise ValidationError({"status": "This verbal order was sent already."})
    organization = Organization.objects.get(pk=locked.organization_id)
    now, sent_on = _sent_at(sent_on, organization.pk)
    locked.status, locked.sent_at, locked.sent_how = VerbalOrder.Status.SENT, now, how
    locked.due_by = sent_on + timedelta(days=organization.order_signature_days)
    locked.version += 1
    locked.updated_at = now
    locked.save()
    audit.record(
        actor,
        "verbal_order.send",
        patient_id=locked.patient_id,
        obj=locked,
        detail={"how": how, "due_by": str(locked.due_by)},
    )
    return locked


@service
def mark_verbal_order_signed(
    actor: audit.Actor, order: VerbalOrder, signed_on: date, expected_version: int
) -> VerbalOrder:
    locked = _locked(order, expected_version)
    if locked.status != VerbalOrder.Status.SENT:
        raise ValidationError({"status": "Only a verbal order sent for signature can be signed."})
    locked.signed_on = _check_signed_on(signed_on, locked.sent_at, locked.organization_id)
    return _received(actor, locked, "verbal_order.sign")


# --- the plan of care in effect (the patient's alert thresholds) --------------------------------


def in_effect(patient: Patient, today: date) -> PlanOfCare | None:
    """The newest sent or signed plan of care whose period covers `today` (a draft orders
    nothing)."""
    return (
        PlanOfCare.objects.filter(
            patient=patient, status__in=IN_EFFECT, period_start__lte=today, period_end__gte=today
        )
        .order_by("-period_start", "-sent_at")
        .first()
    )


def notify_if_parameters(patient: Patient, today: date) -> alerts.PatientParameters | None:
    """The alert threshold provider careway/careplans/apps.py registers."""
    poc = in_effect(patient, today)
    if poc is None or not poc.notify_if:
        return None
    who = poc.practitioner_name or "the certifying practitioner"
    source = (
        f"Plan of care {poc.period_start:%m/%d/%Y}-{poc.period_end:%m/%d/%Y} "
        f"({poc.get_status_display().lower()}), ordered by {who}"
    )
    values: dict[str, float | None] = {
        str(k): float(v) for k, v in poc.notify_if.items() if isinstance(v, int | float)
    }
    return alerts.PatientParameters(values, source)


# --- the document -----------------------------------------------------------------------------


def document(poc: PlanOfCare, organization: Organization) -> dict[str, Any]:
    """The plan of care's content as sent (kept whole in PlanOfCare.content): the living plan's
    goals and orders (its discipline frequencies, by id), interventions, and the chart's
    medications and allergies, as they stand now."""
    patient = poc.patient
    plan = poc.plan
    orders = DisciplineFrequency.objects.filter(
        plan=plan, status=DisciplineFrequency.Status.ACTIVE
    ).order_by("discipline")
    goals = Goal.objects.filter(
        plan=plan, lifecycle_status__in=[Goal.Lifecycle.PROPOSED, Goal.Lifecycle.ACTIVE]
    ).order_by("position", "created_at")
    interventions = (
        Intervention.objects.filter(plan=plan, status=Intervention.Status.ACTIVE)
        .select_related("clinician", "caregiver")
        .order_by("position", "created_at")
    )
    medications = Medication.objects.filter(patient=patient, status="active").order_by("display")
    allergies = Allergy.objects.filter(patient=patient, clinical_status="active").order_by(
        "display"
    )
    return {
        "surgical_procedure": poc.content.get("surgical_procedure", ""),
        "plan_revision": plan.revision,
        "orders": [_order(row) for row in orders],
        "goals": [_goal(goal) for goal in goals],
        "interventions": [
            {
                "kind": i.get_kind_display(),
                "text": i.text,
                "who": revisions.who_of(i),
                "frequency": i.frequency,
            }
            for i in interventions
        ],
        "medications": [
            {
                "name": m.display,
                "dose": m.dose,
                "frequency": m.frequency,
                "route": m.route,
                "as_needed": m.as_needed,
            }
            for m in medications
        ],
        "allergies": [{"name": a.display, "reaction": a.reaction} for a in allergies]
        or ([{"name": "No known allergies", "reaction": ""}] if patient.no_known_allergies else []),
        "notify_if": notify_if_lines(poc.notify_if),
        "verbal_orders": [
            {
                "text": v.text,
                "taken_by": v.taken_by.display_name if v.taken_by else "",
                "taken_on": str(_local_day(v.taken_at, poc.organization_id)),
                "practitioner": v.practitioner_name,
            }
            for v in VerbalOrder.objects.filter(plan=plan)
            .exclude(status=VerbalOrder.Status.ENTERED_IN_ERROR)
            .select_related("taken_by")
            .order_by("taken_at")
            if _local_day(v.taken_at, poc.organization_id) <= poc.period_end
        ],
    }


def _order(row: DisciplineFrequency) -> dict[str, Any]:
    try:
        words = parse(row.frequency).in_words()
    except FrequencyError:
        words = row.frequency
    return {
        "id": str(row.pk),
        "discipline": row.discipline,
        "discipline_display": Discipline(row.discipline).label,
        "frequency": row.frequency,
        "in_words": words,
        "start": str(row.start_date),
        "end": str(row.end_date or ""),
        "dates": f"from {row.start_date:%m/%d/%Y}"
        + (f" to {row.end_date:%m/%d/%Y}" if row.end_date else ""),
    }


def _goal(goal: Goal) -> dict[str, Any]:
    return {
        "description": goal.description,
        "patient_words": goal.patient_words,
        "due": str(goal.due_date or ""),
    }


def notify_if_lines(values: Mapping[str, Any]) -> list[str]:
    """'Systolic blood pressure: notify if above 160 mmHg', one line per parameter given."""
    lines = []
    for field in alerts.fields():
        value = values.get(field.name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        unit = field.unit if field.unit == "%" else f" {field.unit}"
        if field.name.startswith("weight_gain"):
            span = "a day" if field.name.endswith("day") else "a week"
            lines.append(f"Weight: notify if up more than {value:g} lb in {span}")
            continue
        sign, _, word = field.label.partition(": ")
        end = "above" if word == "High" else "below"
        lines.append(f"{sign}: notify if {end} {value:g}{unit}")
    return lines


def pdf_context(poc: PlanOfCare, organization: Organization) -> dict[str, Any]:
    """What the CMS-485 template (and its print page) shows: the frozen content once sent, the
    content as it would go while a draft."""
    content = poc.content if poc.status != PlanOfCare.Status.DRAFT else document(poc, organization)
    patient = poc.patient
    diagnoses = [{**d, "onset_display": _us_date(d.get("onset", ""))} for d in poc.diagnoses]
    principal = next((d for d in diagnoses if d.get("principal")), None)
    others = [d for d in diagnoses if not d.get("principal")]
    return {
        "poc": poc,
        "patient": patient,
        "organization": organization,
        "branch": patient.branch,
        "content": content,
        "principal": principal,
        "other_diagnoses": others,
        "functional": _labels(certification.FUNCTIONAL_LIMITATIONS, poc.functional_limitations),
        "activities": _labels(certification.ACTIVITIES_PERMITTED, poc.activities_permitted),
        "functional_all": certification.FUNCTIONAL_LIMITATIONS,
        "activities_all": certification.ACTIVITIES_PERMITTED,
        "statement": certification.CERTIFICATION_STATEMENT
        if poc.kind == PlanOfCare.Kind.CERTIFICATION
        else certification.RECERTIFICATION_STATEMENT,
        "homebound_criteria": certification.HOMEBOUND_CRITERIA,
        "start_of_care": poc.episode.start_of_care,
    }


def _us_date(iso: str) -> str:
    try:
        return f"{date.fromisoformat(iso):%m/%d/%Y}" if iso else ""
    except ValueError:
        return iso


def _labels(choices: list[tuple[str, str]], picked: Any) -> list[str]:
    picked = set(picked or [])
    return [label for key, label in choices if key in picked]


def unsigned_orders(organization_id: int, patient_ids: Any) -> tuple[list[Any], list[Any]]:
    """Plans of care and verbal orders sent and not yet signed, for these patients."""
    scope = Q(organization_id=organization_id, status="sent", patient_id__in=patient_ids)
    pocs = list(PlanOfCare.objects.filter(scope).select_related("patient").order_by("due_by"))
    verbal = list(VerbalOrder.objects.filter(scope).select_related("patient").order_by("due_by"))
    return pocs, verbal

"""Teaching and agreement on the living care plan (issue 19): every write, and the reads that
say where a patient stands.

Teaching is one topic of the agency's handout library (careway/careplans/handouts.py) taught to
the patient or a family caregiver, explained, demonstrated and/or given as a handout, with the
teach-back result. The record keeps the topic's title, the handout's version and the language
it was given in as they were that day, so a later edit of the handout never rewrites history.

- "Needs reinforcement" puts a task on the teacher's list (else the primary case manager's) for
  the next visit, linked to the record as its follow-up. There is no visits domain yet, so the
  next visit is estimated from the plan's visit frequency for the teacher's discipline: the
  spacing of visits in the frequency's period that holds today (three a week: in 3 days; once a
  month: in that month's length), and 7 days without one (`next_visit_due`). A second
  "needs reinforcement" while that task is open links the same task (one task per topic).
  "Not understood" raises it too, urgent, saying to teach it another way (shown, in the patient's
  language, to a caregiver too): the issue names only "needs reinforcement", but a teach-back
  that failed outright needs the next visit's attention more, not less.
- "Understood" on the same topic later closes the open follow-up task with a note saying so.
- A goal whose teaching_topic is set is met when the latest teach-back on that topic (patient or
  caregiver, not entered in error) is "understood": the goal machinery reads it as the measure
  `teach-back` (careway/careplans/evidence.py), so every teaching write tells the chart's
  evidence listeners (careway.patients.evidence), as a new reading does.

An agreement is the patient's, or their legal representative's (a contact who is their legal
guardian or healthcare agent), to one revision of the plan: a signature drawn on the tablet
(strokes of points on a 600 x 200 pad) or verbal with a witness. A later revision asks again:
`agreement_state(plan)` says which.
"""

import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from careway.core import audit
from careway.core.models import Membership, User
from careway.core.writes import service
from careway.patients import evidence
from careway.patients import services as patient_services
from careway.patients.models import Patient, RelatedPerson, Task
from careway.patients.services import validate_record

from . import handouts, queries, services
from .frequency import FrequencyError, parse
from .models import (
    Agreement,
    CarePlan,
    CarePlanRevision,
    DisciplineFrequency,
    Goal,
    Intervention,
    TeachingRecord,
)
from .services import CLOSED_PLAN, agency_zone

ENTERED_IN_ERROR = "entered-in-error"
MAX_ID = 2**63 - 1  # a contact's id, as the database's big integer holds it
NOTES_LIMIT = 2000
REASON_LIMIT = 2000
# Without a visit frequency for the teacher's discipline, the follow-up falls due in a week.
DEFAULT_FOLLOW_UP_DAYS = 7
METHODS = ("explained", "demonstrated", "handout_given")
FOLLOW_UP_SOURCE = "careplans.teaching:{topic}"
# The teach-back results that raise a task for the next visit.
FOLLOW_UP_RESULTS = (TeachingRecord.Result.REINFORCE, TeachingRecord.Result.NOT_UNDERSTOOD)
REPRESENTATIVES = (RelatedPerson.Relationship.GUARDIAN, RelatedPerson.Relationship.HEALTHCARE_AGENT)

# The signature pad: strokes of [x, y] points in a 600 x 200 box.
PAD_WIDTH, PAD_HEIGHT = 600, 200
MAX_STROKES = 60
MAX_POINTS_PER_STROKE = 1000
MAX_POINTS = 4000
# Shorter than this (in pad pixels, all strokes together), or inside a box this small, it is a
# dot or a slip of the finger, not a signature.
MIN_INK = 40.0
MIN_EXTENT = 20.0


# --- teaching ------------------------------------------------------------------------------------


@service
def record_teaching(
    actor: audit.Actor, patient: Patient, data: Mapping[str, Any]
) -> TeachingRecord:
    """Record one teaching of one topic with its teach-back (see the module's docstring).
    `data`: topic, audience, caregiver (a contact's id, for a caregiver), explained,
    demonstrated, handout_given (at least one), result, notes, goal and intervention (ids of
    the patient's current plan, optional)."""
    data = dict(data)
    unknown = set(data) - {
        "topic", "audience", "caregiver", *METHODS, "result", "notes", "goal", "intervention",
    }  # fmt: skip
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in sorted(unknown)})
    plan = queries.current_plan(patient)
    record = TeachingRecord(
        organization_id=patient.organization_id,
        patient=patient,
        plan=plan,
        taught_by=actor.user,
        taught_at=timezone.now(),
        audience=str(data.get("audience") or ""),
        result=str(data.get("result") or ""),
        notes=str(data.get("notes") or "").strip(),
        **{name: bool(data.get(name)) for name in METHODS},
    )
    errors: dict[str, str] = {}
    _check_topic(record, patient, str(data.get("topic") or ""), errors)
    _check_audience(record, patient, data.get("caregiver"), errors)
    if not any(getattr(record, name) for name in METHODS):
        errors["methods"] = "Say how it was taught: explained, demonstrated or handout given."
    if record.result not in TeachingRecord.Result.values:
        errors["result"] = (
            "Choose the teach-back result: understood, needs reinforcement or not understood."
        )
    if len(record.notes) > NOTES_LIMIT:
        errors["notes"] = f"Keep the notes under {NOTES_LIMIT} characters."
    _check_plan_links(record, plan, data.get("goal"), data.get("intervention"), errors)
    if errors:
        raise ValidationError(errors)
    # An import or a system actor has no person: the record says so (taught_by empty).
    validate_record(record, exclude=["taught_by"])
    record.save(force_insert=True)
    audit.record(
        actor,
        "careplan.teaching.create",
        patient_id=patient.pk,
        obj=record,
        detail={"topic": record.topic, "audience": record.audience, "result": record.result},
    )
    if record.result in FOLLOW_UP_RESULTS:
        _follow_up(actor, record)
    elif record.result == TeachingRecord.Result.UNDERSTOOD:
        _close_follow_ups(actor, record)
    evidence.evidence_changed(actor, {patient.pk})
    return record


def _check_topic(
    record: TeachingRecord, patient: Patient, topic: str, errors: dict[str, str]
) -> None:
    handout = handouts.handouts_for(patient.organization_id).get(topic)
    if handout is None:
        errors["topic"] = "Choose one of the agency's teaching topics."
        return
    language = handouts.language_for(patient.preferred_language, handout.languages)
    record.topic = topic
    record.language = language
    record.topic_title = handout.title_in(language)[:200]
    record.handout_version = str(handout.version)[:40]


def _check_audience(
    record: TeachingRecord, patient: Patient, caregiver: Any, errors: dict[str, str]
) -> None:
    if record.audience not in TeachingRecord.Audience.values:
        errors["audience"] = "Say whom it was taught to: the patient or a caregiver."
        return
    if record.audience == TeachingRecord.Audience.PATIENT:
        if caregiver:
            errors["caregiver"] = "Name a caregiver only when a caregiver was taught."
        return
    person = _contact_of(patient, caregiver)
    if person is None:
        errors["caregiver"] = "Choose the caregiver taught: one of the patient's active contacts."
        return
    record.caregiver = person


def _contact_of(patient: Patient, pk: Any) -> RelatedPerson | None:
    number = _int(pk)
    if number is None or not 1 <= number <= MAX_ID:
        return None
    return RelatedPerson.objects.filter(pk=number, patient=patient, active=True).first()


def _check_plan_links(
    record: TeachingRecord,
    plan: CarePlan | None,
    goal: Any,
    intervention: Any,
    errors: dict[str, str],
) -> None:
    if goal not in (None, ""):
        found = _row_of(Goal, plan, goal, "lifecycle_status")
        if found is None:
            errors["goal"] = "Choose a goal of the patient's current care plan."
        record.goal = found
    if intervention not in (None, ""):
        row = _row_of(Intervention, plan, intervention, "status")
        if row is None:
            errors["intervention"] = "Choose an intervention of the patient's current care plan."
        record.intervention = row


def _row_of(model: Any, plan: CarePlan | None, pk: Any, status: str) -> Any:
    if plan is None:
        return None
    try:
        return model.objects.filter(plan=plan, pk=pk).exclude(**{status: ENTERED_IN_ERROR}).first()
    except (TypeError, ValueError, ValidationError):
        return None


def _follow_up(actor: audit.Actor, record: TeachingRecord) -> None:
    """The task for the next visit: the open one of this topic when there is one, else a new
    one on the teacher's list (the primary case manager's when the teacher is not a person)."""
    source = FOLLOW_UP_SOURCE.format(topic=record.topic)
    task = Task.objects.filter(
        patient_id=record.patient_id, source=source, status=Task.Status.OPEN
    ).first()
    if task is None:
        person = record.taught_by or _primary_case_manager(record.plan)
        task = patient_services.add_task(
            actor,
            record.patient,
            {
                "assigned_to": person.pk if person else None,
                **_follow_up_words(record),
                "due_date": next_visit_due(record.plan, record.taught_by, _today(record)),
                "source": source,
            },
        )
    TeachingRecord.objects.filter(pk=record.pk).update(follow_up=task)
    record.follow_up = task


def _follow_up_words(record: TeachingRecord) -> dict[str, str]:
    """Needs reinforcement: teach it again. Not understood: an urgent task to teach it another
    way (show it, give the handout in the patient's language, teach the caregiver), since the
    same words again are unlikely to land."""
    who = _audience_words(record)
    if record.result == TeachingRecord.Result.NOT_UNDERSTOOD:
        return {
            "title": f"Teach again: {record.topic_title}"[:200],
            "priority": "urgent",
            "detail": (
                f"The teach-back of {who} showed it was not understood. Teach it another way at "
                "the next visit: show it, use the handout in their language or an interpreter, "
                "or teach a caregiver too; then record the teach-back."
            ),
        }
    return {
        "title": f"Reinforce teaching: {record.topic_title}"[:200],
        "detail": (
            f"The teach-back of {who} showed this needs reinforcement. Teach it again "
            "at the next visit and record the teach-back."
        ),
    }


def _close_follow_ups(actor: audit.Actor, record: TeachingRecord) -> None:
    source = FOLLOW_UP_SOURCE.format(topic=record.topic)
    open_tasks = Task.objects.filter(
        patient_id=record.patient_id, source=source, status=Task.Status.OPEN
    )
    day = _today(record)
    for task in open_tasks:
        note = (
            f"Teach-back understood on {day:%b} {day.day}, {day.year} by "
            f"{_audience_words(record)}: {record.topic_title}."
        )
        patient_services.complete_task(actor, task, note, task.version)


def _audience_words(record: TeachingRecord) -> str:
    if record.audience == TeachingRecord.Audience.CAREGIVER and record.caregiver is not None:
        return f"the caregiver, {record.caregiver.name}"
    return "the patient"


def _today(record: TeachingRecord) -> date:
    return timezone.localdate(record.taught_at, timezone=agency_zone(record.organization_id))


def _primary_case_manager(plan: CarePlan | None) -> User | None:
    return services._primary_case_manager(plan) if plan is not None else None


def next_visit_due(plan: CarePlan | None, teacher: User | None, today: date) -> date:
    """When the teacher's discipline next visits, as the plan's frequency spaces its visits: the
    period of the frequency holding today (or the next one) divided by its visits, rounded up
    (3w: 3 days; 2w: 4; 1w: 7; 1m2: a month). Without a scheduled frequency for the discipline,
    or after it ends, a week."""
    discipline = _discipline_of(teacher, plan)
    row = (
        DisciplineFrequency.objects.filter(
            plan=plan, discipline=discipline, status=DisciplineFrequency.Status.ACTIVE
        ).first()
        if plan is not None and discipline
        else None
    )
    fallback = today + timedelta(days=DEFAULT_FOLLOW_UP_DAYS)
    if row is None:
        return fallback
    try:
        periods = parse(row.frequency).periods(row.start_date)
    except FrequencyError:
        return fallback
    for period in periods:
        if period.as_needed or period.visits < 1 or period.end < today:
            continue
        length = (period.end - period.start).days + 1
        spacing = max(1, math.ceil(length / period.visits))
        return max(today, period.start) + timedelta(days=spacing if period.start <= today else 0)
    return fallback


def _discipline_of(user: User | None, plan: CarePlan | None) -> str:
    if user is None or plan is None:
        return ""
    found = (
        Membership.objects.filter(user=user, organization_id=plan.organization_id, active=True)
        .exclude(discipline="")
        .values_list("discipline", flat=True)
        .first()
    )
    return found or ""


@service
def mark_teaching_entered_in_error(
    actor: audit.Actor, record: TeachingRecord, reason: str, expected_version: int
) -> TeachingRecord:
    """The record was wrong (another patient, another topic): kept, not shown as teaching, no
    longer evidence for a goal; the follow-up task it raised is cancelled when no other record
    of that teaching still needs it. A stale version is a conflict; the reason is required."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this teaching record was entered in error."})
    if len(reason) > REASON_LIMIT:
        raise ValidationError({"reason": f"Keep the reason under {REASON_LIMIT} characters."})
    if record.status == TeachingRecord.Status.ENTERED_IN_ERROR:
        raise ValidationError({"status": "This teaching record is entered in error already."})
    changed = patient_services.save_versioned(
        actor,
        record,
        {"status": TeachingRecord.Status.ENTERED_IN_ERROR},
        expected_version,
        "careplan.teaching.entered_in_error",
        record.patient_id,
        reason=reason,
    )
    _cancel_follow_up(actor, changed, reason)
    evidence.evidence_changed(actor, {record.patient_id})
    return changed


def _cancel_follow_up(actor: audit.Actor, record: TeachingRecord, reason: str) -> None:
    task = record.follow_up
    if task is None or task.status != Task.Status.OPEN:
        return
    others = TeachingRecord.objects.filter(follow_up=task).exclude(pk=record.pk)
    if others.exclude(status=TeachingRecord.Status.ENTERED_IN_ERROR).exists():
        return
    patient_services.save_versioned(
        actor,
        task,
        {
            "status": Task.Status.CANCELLED,
            "completion_note": f"The teaching that raised it was entered in error: {reason}",
        },
        task.version,
        "task.cancel",
        task.patient_id,
        reason=reason,
    )


# --- agreement -----------------------------------------------------------------------------------


@service
def record_agreement(actor: audit.Actor, plan: CarePlan, data: Mapping[str, Any]) -> Agreement:
    """The patient (or their legal representative) agreed to the plan as it stands: `data` has
    who, representative (a contact's id), method (signature or verbal), signature (strokes),
    witness_name, notes, and revision: the revision the person was shown, which must still be
    the plan's (a later one must be shown and asked again)."""
    data = dict(data)
    unknown = set(data) - {
        "who", "representative", "method", "signature", "witness_name", "notes", "revision",
    }  # fmt: skip
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in sorted(unknown)})
    if plan.status in CLOSED_PLAN:
        raise ValidationError(
            {
                "plan": f"This plan is {plan.get_status_display().lower()}: there is nothing "
                "to agree to."
            }
        )
    shown = data.get("revision")
    if shown not in (None, "") and _int(shown) is None:
        raise ValidationError({"revision": "Give the number of the revision that was shown."})
    if shown not in (None, "") and _int(shown) != plan.revision:
        raise ValidationError(
            {
                "revision": f"The plan changed from revision {shown} to revision {plan.revision} "
                "since it was shown: go over the current plan and ask again."
            }
        )
    row = Agreement(
        organization_id=plan.organization_id,
        patient_id=plan.patient_id,
        plan=plan,
        revision=plan.revision,
        who=str(data.get("who") or ""),
        method=str(data.get("method") or ""),
        witness_name=" ".join(str(data.get("witness_name") or "").split()),
        notes=str(data.get("notes") or "").strip(),
        recorded_by=actor.user,
        agreed_at=timezone.now(),
    )
    errors: dict[str, str] = {}
    _check_who(row, plan, data.get("representative"), errors)
    _check_method(row, data.get("signature"), errors)
    if len(row.notes) > NOTES_LIMIT:
        errors["notes"] = f"Keep the notes under {NOTES_LIMIT} characters."
    if errors:
        raise ValidationError(errors)
    validate_record(row, exclude=["recorded_by"])
    row.save(force_insert=True)
    audit.record(
        actor,
        "careplan.agreement.create",
        patient_id=plan.patient_id,
        obj=row,
        detail={"revision": row.revision, "who": row.who, "method": row.method},
    )
    return row


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _check_who(row: Agreement, plan: CarePlan, representative: Any, errors: dict[str, str]) -> None:
    if row.who not in Agreement.Who.values:
        errors["who"] = "Say who agreed: the patient or a legal representative."
        return
    if row.who == Agreement.Who.PATIENT:
        if representative not in (None, ""):
            errors["representative"] = "Name a representative only when one agreed for the patient."
        return
    person = _contact_of(plan.patient, representative)
    if person is None or person.relationship not in REPRESENTATIVES:
        errors["representative"] = (
            "Choose the patient's legal guardian or healthcare agent (POA): a contact recorded "
            "with that relationship."
        )
        return
    row.representative = person


def _check_method(row: Agreement, signature: Any, errors: dict[str, str]) -> None:
    if row.method == Agreement.Method.SIGNATURE:
        try:
            row.signature = clean_signature(signature)
        except ValueError as problem:
            errors["signature"] = str(problem)
    elif row.method == Agreement.Method.VERBAL:
        if signature:
            errors["signature"] = "A verbal agreement has no drawn signature."
        if not row.witness_name:
            errors["witness_name"] = "Name the witness who heard the verbal agreement."
        elif len(row.witness_name) > 200:
            errors["witness_name"] = "Keep the witness's name under 200 characters."
    else:
        errors["method"] = "Say how they agreed: a signature drawn on the tablet, or verbally."


Strokes = list[list[list[float]]]


def clean_signature(value: Any) -> Strokes:
    """The strokes of a drawn signature, checked and rounded to a tenth of a pixel: a list of
    strokes, each a list of [x, y] points inside the 600 x 200 pad; a JSON text is read first.
    Raises ValueError with a message for the person when it is malformed, empty or a dot."""
    if isinstance(value, str):
        if not value.strip():
            value = []
        else:
            try:
                value = json.loads(value)
            except ValueError as error:
                raise ValueError(
                    "The signature could not be read: clear the box and sign again."
                ) from error
    if not isinstance(value, list):
        raise ValueError("The signature must be a list of strokes of [x, y] points.")
    if not value or not any(value):
        raise ValueError(
            "The signature box is empty: ask them to sign in the box with a finger or stylus "
            "(or record a verbal agreement with a witness)."
        )
    if len(value) > MAX_STROKES:
        raise ValueError(
            f"The signature has more than {MAX_STROKES} strokes: clear it and sign again."
        )
    strokes: Strokes = []
    total = 0
    for n, stroke in enumerate(value, 1):
        if not isinstance(stroke, list) or not stroke:
            raise ValueError(f"Stroke {n} of the signature is not a list of [x, y] points.")
        if len(stroke) > MAX_POINTS_PER_STROKE:
            raise ValueError(f"Stroke {n} of the signature has too many points: sign again.")
        total += len(stroke)
        if total > MAX_POINTS:
            raise ValueError("The signature has too many points: clear it and sign again.")
        strokes.append([_point(point, n) for point in stroke])
    if _ink(strokes) < MIN_INK or _extent(strokes) < MIN_EXTENT:
        raise ValueError(
            "The signature is only a dot or a tiny mark: ask them to sign their name across the "
            "box, or clear it and record a verbal agreement."
        )
    return strokes


def _point(point: Any, stroke: int) -> list[float]:
    if (
        not isinstance(point, list | tuple)
        or len(point) != 2
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in point)
        or not all(math.isfinite(c) for c in point)
    ):
        raise ValueError(
            f"Stroke {stroke} of the signature has a point that is not [x, y] numbers."
        )
    x, y = float(point[0]), float(point[1])
    if not (0 <= x <= PAD_WIDTH and 0 <= y <= PAD_HEIGHT):
        raise ValueError(
            f"Stroke {stroke} of the signature goes outside the {PAD_WIDTH} x {PAD_HEIGHT} box."
        )
    return [round(x, 1), round(y, 1)]


def _ink(strokes: Strokes) -> float:
    return sum(math.dist(a, b) for stroke in strokes for a, b in itertools.pairwise(stroke))


def _extent(strokes: Strokes) -> float:
    xs = [p[0] for s in strokes for p in s]
    ys = [p[1] for s in strokes for p in s]
    return max(max(xs) - min(xs), max(ys) - min(ys))


def signature_paths(strokes: Any) -> list[str]:
    """Each stroke as an SVG path's `d` (the page draws the signature back, server-side)."""
    paths = []
    for stroke in strokes or []:
        points = [f"{x:g} {y:g}" for x, y in stroke]
        if len(points) == 1:
            points.append(points[0])
        paths.append("M " + " L ".join(points))
    return paths


@dataclass(frozen=True)
class AgreementState:
    """Where the plan stands: `state` is agreed (to the current revision), ask-again (agreed to
    an earlier one) or never; `words` says it for the page."""

    state: str
    revision: int
    agreement: Agreement | None
    words: str
    changes: list[str] = field(default_factory=list)

    @property
    def needs_agreement(self) -> bool:
        return self.state != AGREED


AGREED, ASK_AGAIN, NEVER = "agreed", "ask-again", "never"


def agreement_state(plan: CarePlan) -> AgreementState:
    """Whether the patient (or representative) agreed to the plan's current revision; when they
    agreed to an earlier one, what changed since (the revisions' summaries, newest first)."""
    latest = (
        Agreement.objects.filter(plan=plan, status=Agreement.Status.ACTIVE)
        .select_related("representative", "recorded_by")
        .order_by("-revision", "-agreed_at")
        .first()
    )
    if latest is None:
        return AgreementState(
            NEVER,
            plan.revision,
            None,
            f"Not yet agreed: ask the patient (or their legal representative) to agree to "
            f"revision {plan.revision} of the plan.",
        )
    if latest.revision >= plan.revision:
        return AgreementState(
            AGREED, plan.revision, latest, f"Agreed to revision {latest.revision}, the current one."
        )
    changes = list(
        CarePlanRevision.objects.filter(plan=plan, number__gt=latest.revision)
        .order_by("-number")
        .values_list("summary", flat=True)[:20]
    )
    return AgreementState(
        ASK_AGAIN,
        plan.revision,
        latest,
        f"Revision {latest.revision} was agreed to; the plan has changed since, to revision "
        f"{plan.revision}: ask again.",
        changes,
    )


def agreed_by(row: Agreement) -> str:
    """'the patient' or 'June Hale (legal guardian)'."""
    if row.who == Agreement.Who.REPRESENTATIVE and row.representative is not None:
        return f"{row.representative.name} ({row.representative.get_relationship_display()})"
    return "the patient"


def agreements_of(plan: CarePlan) -> list[Agreement]:
    return list(
        Agreement.objects.filter(plan=plan)
        .select_related("representative", "recorded_by")
        .order_by("-agreed_at")
    )


def teaching_of(patient: Patient, limit: int = 100) -> list[TeachingRecord]:
    """The patient's teaching records, newest first, with whom and by whom."""
    return list(
        TeachingRecord.objects.filter(patient=patient)
        .select_related("caregiver", "taught_by", "goal", "intervention")
        .order_by("-taught_at", "-created_at")[:limit]
    )

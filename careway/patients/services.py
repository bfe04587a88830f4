"""Every write to the registry and the clinical record, and emergency access, as named use cases.

Each function runs in one transaction: it validates, writes, and appends the audit event. Callers
(pages, the JSON API, imports, the demo) check access first with `careway.patients.access` and
pass the patient they were given. Fields that fix ownership (organization, patient, version, ids)
are never taken from the caller's data.
"""

import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import AuditEvent, Branch, Organization, User
from careway.core.roles import Role
from careway.core.services import notify
from careway.core.writes import service

from . import alerts, evidence, history, vitals
from .models import (
    Allergy,
    BreakGlassGrant,
    CareTeamMember,
    Condition,
    Coverage,
    Encounter,
    EpisodeOfCare,
    Medication,
    Observation,
    Patient,
    PatientFlag,
    RelatedPerson,
    Task,
    VitalAlertSetting,
)

M = TypeVar("M", bound=models.Model)
R = TypeVar("R", Condition, Medication, Allergy)

PROTECTED_FIELDS = frozenset(
    {
        "id",
        "pk",
        "organization",
        "organization_id",
        "patient",
        "patient_id",
        "version",
        "created_at",
        "updated_at",
        "recorded_at",
        "recorded_by",
        "recorded_by_id",
    }
)


def editable_fields(model: type[models.Model]) -> set[str]:
    return {
        f.name
        for f in model._meta.concrete_fields
        if f.editable and not f.primary_key and f.name not in PROTECTED_FIELDS
    }


def assign_fields(obj: M, data: Mapping[str, Any]) -> list[str]:
    """Copy allowed fields onto obj; return the names of those whose value changed."""
    allowed = editable_fields(type(obj))
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in sorted(unknown)})
    changed = []
    for name, value in data.items():
        field = cast(models.Field, obj._meta.get_field(name))
        attname = field.attname
        if getattr(obj, attname) != value:
            setattr(obj, name if not field.is_relation else attname, value)
            changed.append(name)
    return changed


def validate_record(obj: models.Model, exclude: Iterable[str] = ()) -> None:
    obj.full_clean(exclude=list(exclude), validate_unique=True, validate_constraints=True)


@service
def create_patient(
    actor: audit.Actor,
    branch: Branch,
    data: Mapping[str, Any],
    *,
    episode: Mapping[str, Any] | None = None,
    primary_case_manager: User | None = None,
) -> Patient:
    """Register a patient at one of the actor's agency's branches, with their first episode.

    The primary case manager (by default the actor, when they manage cases) joins the care team,
    so the person who registers a patient can see them.
    """
    if branch.organization_id != actor.organization_id:
        raise ValidationError({"branch": "Choose a branch of your agency."})
    manager = primary_case_manager or actor.user
    if manager is None or manager.organization_id != branch.organization_id:
        raise ValidationError({"primary_case_manager": "Choose a case manager of this agency."})
    patient = Patient(organization_id=branch.organization_id, branch=branch)
    assign_fields(patient, data)
    validate_record(patient)
    patient.save(force_insert=True)
    ep = EpisodeOfCare(organization_id=patient.organization_id, patient=patient, branch=branch)
    assign_fields(ep, dict(episode or {}))
    validate_record(ep)
    ep.save()
    CareTeamMember.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        episode=ep,
        user=manager,
        role=CareTeamMember.TeamRole.CASE_MANAGER,
        is_primary_case_manager=True,
    )
    audit.record(actor, "patient.create", patient_id=patient.pk, obj=patient)
    return patient


def save_versioned(
    actor: audit.Actor,
    obj: M,
    data: Mapping[str, Any],
    expected: int,
    action: str,
    patient_id: Any,
    *,
    reason: str = "",
    detail: Mapping[str, Any] | None = None,
) -> M:
    # Every model passed here is versioned (has `version`); typed loosely for that reason.
    locked: Any = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    if locked.version != expected:
        raise VersionConflict(locked, expected)
    if is_entered_in_error(locked):
        raise ValidationError("This record was marked entered in error; it cannot be changed.")
    before = history.snapshot(locked)
    changed = assign_fields(locked, data)
    validate_record(locked)
    if changed:
        history.keep([before])
        locked.version += 1
        if hasattr(locked, "updated_at"):
            locked.updated_at = timezone.now()
        locked.save()
        audit.record(
            actor,
            action,
            patient_id=patient_id,
            obj=locked,
            reason=reason,
            detail={"fields": sorted(changed), "version": locked.version, **(detail or {})},
        )
    return locked


@service
def update_patient(
    actor: audit.Actor, patient: Patient, data: Mapping[str, Any], expected_version: int
) -> Patient:
    """Change registry fields; a stale `expected_version` raises VersionConflict."""
    if "branch" in data or "branch_id" in data:
        raise ValidationError({"branch": "Move a patient between branches with transfer_patient."})
    return save_versioned(actor, patient, data, expected_version, "patient.update", patient.pk)


@service
def add_contact(actor: audit.Actor, patient: Patient, data: Mapping[str, Any]) -> RelatedPerson:
    contact = RelatedPerson(organization_id=patient.organization_id, patient=patient)
    assign_fields(contact, data)
    validate_record(contact)
    contact.save()
    audit.record(actor, "contact.create", patient_id=patient.pk, obj=contact)
    return contact


@service
def update_contact(
    actor: audit.Actor, contact: RelatedPerson, data: Mapping[str, Any], expected_version: int
) -> RelatedPerson:
    return save_versioned(
        actor, contact, data, expected_version, "contact.update", contact.patient_id
    )


def _add_record(
    actor: audit.Actor, model: type[M], patient: Patient, data: Mapping[str, Any], action: str
) -> M:
    record = model(organization_id=patient.organization_id, patient=patient)
    if hasattr(record, "recorded_by"):
        record.recorded_by = actor.user
    assign_fields(record, data)
    validate_record(record)
    record.save()
    audit.record(actor, action, patient_id=patient.pk, obj=record)
    return record


def _take_primary(patient_id: Any, data: Mapping[str, Any], keep: Any = None) -> None:
    """A condition named the primary diagnosis takes that from any other of the patient's."""
    if data.get("is_primary"):
        Condition.objects.filter(patient_id=patient_id, is_primary=True).exclude(pk=keep).update(
            is_primary=False
        )


@service
def add_condition(actor: audit.Actor, patient: Patient, data: Mapping[str, Any]) -> Condition:
    _take_primary(patient.pk, data)
    condition = _add_record(actor, Condition, patient, data, "condition.create")
    evidence.evidence_changed(actor, {patient.pk})
    return condition


@service
def add_medication(actor: audit.Actor, patient: Patient, data: Mapping[str, Any]) -> Medication:
    return _add_record(actor, Medication, patient, data, "medication.create")


@service
def add_allergy(actor: audit.Actor, patient: Patient, data: Mapping[str, Any]) -> Allergy:
    allergy = _add_record(actor, Allergy, patient, data, "allergy.create")
    if patient.no_known_allergies:
        Patient.objects.filter(pk=patient.pk).update(no_known_allergies=False)
        patient.no_known_allergies = False
    return allergy


# --- Changing the clinical record: edits, status changes, entered in error -------------------


@dataclass(frozen=True)
class StatusRule:
    """How a kind of record changes status: the field that holds it, the field that marks it
    entered in error (the same, except for a condition's verification), the statuses that end it
    with a date, and the statuses it may be given."""

    field: str
    error_field: str
    end_date_field: str
    ending: frozenset[str]
    choices: tuple[str, ...]


ENTERED_IN_ERROR = "entered-in-error"
STATUS_RULES: dict[type[models.Model], StatusRule] = {
    Condition: StatusRule(
        "clinical_status",
        "verification_status",
        "abatement_date",
        frozenset({"resolved", "inactive", "remission"}),
        ("active", "recurrence", "relapse", "remission", "inactive", "resolved"),
    ),
    Medication: StatusRule(
        "status",
        "status",
        "end_date",
        frozenset({"stopped", "completed"}),
        ("active", "on-hold", "stopped", "completed"),
    ),
    Allergy: StatusRule(
        "clinical_status", "clinical_status", "", frozenset(), ("active", "inactive", "resolved")
    ),
}


def is_entered_in_error(record: models.Model) -> bool:
    rule = STATUS_RULES.get(type(record))
    return rule is not None and getattr(record, rule.error_field) == ENTERED_IN_ERROR


def _noun(record: models.Model) -> str:
    return record._meta.model_name or "record"


@service
def update_condition(
    actor: audit.Actor, condition: Condition, data: Mapping[str, Any], expected_version: int
) -> Condition:
    """Correct a condition's words, code, dates or note (its status changes with
    change_record_status). Naming it the primary diagnosis takes that from any other."""
    _take_primary(condition.patient_id, data, keep=condition.pk)
    changed = save_versioned(
        actor, condition, data, expected_version, "condition.update", condition.patient_id
    )
    evidence.evidence_changed(actor, {condition.patient_id})
    return changed


@service
def update_medication(
    actor: audit.Actor, medication: Medication, data: Mapping[str, Any], expected_version: int
) -> Medication:
    return save_versioned(
        actor, medication, data, expected_version, "medication.update", medication.patient_id
    )


@service
def update_allergy(
    actor: audit.Actor, allergy: Allergy, data: Mapping[str, Any], expected_version: int
) -> Allergy:
    return save_versioned(
        actor, allergy, data, expected_version, "allergy.update", allergy.patient_id
    )


@service
def change_record_status(
    actor: audit.Actor,
    record: R,
    status: str,
    expected_version: int,
    *,
    on: date | None = None,
    reason: str = "",
) -> R:
    """Stop or complete a medication, resolve a condition, mark an allergy inactive, take any of
    them up again, or mark one entered in error (which needs a reason and is final: the record
    leaves the lists and stays in the chart's history). The earlier version is kept and the change
    audited with the reason; a stale `expected_version` raises VersionConflict."""
    rule = STATUS_RULES[type(record)]
    reason = reason.strip()
    if status == ENTERED_IN_ERROR:
        if not reason:
            raise ValidationError({"reason": "Say why this record was entered in error."})
        data: dict[str, Any] = {rule.error_field: ENTERED_IN_ERROR}
    elif status in rule.choices:
        data = {rule.field: status}
        if rule.end_date_field:
            ends = status in rule.ending
            data[rule.end_date_field] = (on or timezone.localdate()) if ends else None
    else:
        raise ValidationError({"status": "Choose one of the statuses offered."})
    if reason:
        data["note"] = _with_line(getattr(record, "note", ""), _reason_line(status, reason))
    noun = _noun(record)
    action = f"{noun}.entered_in_error" if status == ENTERED_IN_ERROR else f"{noun}.status"
    changed = save_versioned(
        actor,
        record,
        data,
        expected_version,
        action,
        record.patient_id,  # type: ignore[attr-defined]
        reason=reason,
        detail={"status": status},
    )
    evidence.evidence_changed(actor, {changed.patient_id})  # type: ignore[attr-defined]
    return changed


def _reason_line(status: str, reason: str) -> str:
    day = timezone.localdate()
    label = status.replace("-", " ").capitalize()
    return f"{label} ({day:%b} {day.day}, {day.year}): {reason}"


def _with_line(note: str, line: str) -> str:
    return f"{note.rstrip()}\n{line}" if note.strip() else line


@service
def record_observation(
    actor: audit.Actor, patient: Patient, data: Mapping[str, Any]
) -> Observation:
    observation = _add_record(actor, Observation, patient, data, "observation.create")
    evidence.evidence_changed(actor, {patient.pk})
    return observation


@service
def record_observations(
    actor: audit.Actor, patient: Patient, rows: Iterable[Mapping[str, Any]]
) -> list[Observation]:
    """Several measurements taken together (a set of vital signs): all are kept, or none.

    Members of one panel taken together (systolic and diastolic pressure) are marked as one.
    """
    errors: dict[str, list[str]] = {}
    saved = []
    for row in _grouped_in_panels(list(rows)):
        try:
            saved.append(_add_record(actor, Observation, patient, row, "observation.create"))
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(f"{row.get('code', '')}.{field}", []).extend(messages)
    if errors:
        raise ValidationError(errors)
    evidence.evidence_changed(actor, {patient.pk})
    return saved


@service
def update_observations(
    actor: audit.Actor,
    records: Sequence[Observation],
    changes: Sequence[Mapping[str, Any]],
    expected_version: int,
) -> list[Observation]:
    """Change one observation, or every member of a panel at once (`changes[i]` for
    `records[i]`). A panel's members share one version, so all of them are kept and move to the
    next version together; a stale `expected_version` raises VersionConflict and writes nothing.
    """
    locked = list(
        Observation.objects.select_for_update()
        .filter(pk__in=[r.pk for r in records])
        .order_by("pk")
    )
    newest = max(locked, key=lambda r: r.version)
    if newest.version != expected_version:
        raise VersionConflict(newest, expected_version)
    by_pk = {r.pk: r for r in locked}
    befores = [history.snapshot(by_pk[r.pk]) for r in records]
    changed: dict[int, list[str]] = {}
    for record, data in zip(records, changes, strict=True):
        row = by_pk[record.pk]
        changed[row.pk] = assign_fields(row, data)
        validate_record(row)
    if not any(changed.values()):
        return [by_pk[r.pk] for r in records]
    history.keep(befores)
    next_version = expected_version + 1
    for record in records:
        row = by_pk[record.pk]
        row.version = next_version
        row.save()
        audit.record(
            actor,
            "observation.update",
            patient_id=row.patient_id,
            obj=row,
            detail={"fields": sorted(changed[row.pk]), "version": row.version},
        )
    evidence.evidence_changed(actor, {row.patient_id for row in locked})
    return [by_pk[r.pk] for r in records]


def _grouped_in_panels(rows: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    panels: dict[str, uuid.UUID] = {}
    grouped = []
    for row in rows:
        panel = vitals.panel_of(str(row.get("code", "")))
        if panel and not row.get("panel_id"):
            row = {**row, "panel_code": panel, "panel_id": panels.setdefault(panel, uuid.uuid4())}
        grouped.append(row)
    return grouped


@service
def add_coverage(actor: audit.Actor, patient: Patient, data: Mapping[str, Any]) -> Coverage:
    return _add_record(actor, Coverage, patient, data, "coverage.create")


@service
def raise_flag(actor: audit.Actor, patient: Patient, data: Mapping[str, Any]) -> PatientFlag:
    """Raise something for the caseload and the chart (high fall risk, weight gain, ...)."""
    flag = _add_record(actor, PatientFlag, patient, data, "flag.raise")
    evidence.evidence_changed(actor, {patient.pk})
    return flag


NOTE_LIMIT = 2000


def _note(text: str, field: str, *, required: bool, what: str) -> str:
    note = (text or "").strip()
    if required and not note:
        raise ValidationError({field: f"Write a note: {what}."})
    if len(note) > NOTE_LIMIT:
        raise ValidationError({field: f"Keep the note under {NOTE_LIMIT} characters."})
    return note


@service
def acknowledge_flag(
    actor: audit.Actor, flag: PatientFlag, note: str, expected_version: int
) -> PatientFlag:
    """'I have seen it': the flag stays active (on the caseload, Today and the chart) until it
    is resolved, and shows who acknowledged it and when. A stale version is a conflict."""
    if not flag.active:
        raise ValidationError({"flag": "This flag is resolved already."})
    data = {
        "acknowledged_at": timezone.now(),
        "acknowledged_by": actor.user.pk if actor.user else None,
        "acknowledgement_note": _note(note, "note", required=False, what="what you did"),
    }
    return save_versioned(actor, flag, data, expected_version, "flag.acknowledge", flag.patient_id)


@service
def resolve_flag(
    actor: audit.Actor, flag: PatientFlag, note: str, expected_version: int
) -> PatientFlag:
    """Close a flag with a note of what was done: it leaves the caseload and Today and stays in
    the chart's history of flags. A stale version is a conflict."""
    if not flag.active:
        raise ValidationError({"flag": "This flag is resolved already."})
    data = {
        "active": False,
        "resolved_at": timezone.now(),
        "resolved_by": actor.user.pk if actor.user else None,
        "resolution_note": _note(
            note, "note", required=True, what="what was done, or why the flag no longer applies"
        ),
    }
    resolved = save_versioned(actor, flag, data, expected_version, "flag.resolve", flag.patient_id)
    evidence.evidence_changed(actor, {flag.patient_id})
    return resolved


@service
def complete_task(actor: audit.Actor, task: Task, note: str, expected_version: int) -> Task:
    """Mark an open task done with a note of what was done. A stale version is a conflict."""
    if task.status != Task.Status.OPEN:
        raise ValidationError({"task": f"This task is {task.get_status_display().lower()}."})
    data = {
        "status": Task.Status.DONE,
        "completed_at": timezone.now(),
        "completed_by": actor.user.pk if actor.user else None,
        "completion_note": _note(note, "note", required=True, what="what was done"),
    }
    done = save_versioned(actor, task, data, expected_version, "task.complete", task.patient_id)
    evidence.evidence_changed(actor, {task.patient_id})
    return done


@service
def add_task(actor: audit.Actor, patient: Patient, data: Mapping[str, Any]) -> Task:
    """Put a task on someone's list for this patient (shown on their Today page)."""
    task = Task(organization_id=patient.organization_id, patient=patient)
    assign_fields(task, data)
    if task.status != Task.Status.OPEN:
        raise ValidationError({"status": "A new task is open."})
    validate_record(task)
    task.save()
    audit.record(actor, "task.create", patient_id=patient.pk, obj=task)
    return task


@service
def add_encounter(actor: audit.Actor, patient: Patient, data: Mapping[str, Any]) -> Encounter:
    encounter = _add_record(actor, Encounter, patient, data, "encounter.create")
    evidence.evidence_changed(actor, {patient.pk})
    return encounter


@service
def add_care_team_member(
    actor: audit.Actor,
    episode: EpisodeOfCare,
    *,
    role: str,
    user: User | None = None,
    related_person: RelatedPerson | None = None,
    external_name: str = "",
    primary_case_manager: bool = False,
) -> CareTeamMember:
    """Add someone to the team. Naming a new primary case manager replaces the old one."""
    if user is not None and user.organization_id != episode.organization_id:
        raise ValidationError({"user": "Choose a member of this agency."})
    if primary_case_manager:
        CareTeamMember.objects.filter(
            episode=episode, is_primary_case_manager=True, active=True
        ).update(is_primary_case_manager=False)
    member = CareTeamMember(
        organization_id=episode.organization_id,
        patient_id=episode.patient_id,
        episode=episode,
        user=user,
        related_person=related_person,
        external_name=external_name,
        role=role,
        is_primary_case_manager=primary_case_manager,
    )
    validate_record(member)
    member.save()
    audit.record(
        actor,
        "careteam.add",
        patient_id=episode.patient_id,
        obj=member,
        detail={"role": role, "user_id": user.pk if user else None},
    )
    return member


@service
def end_care_team_membership(
    actor: audit.Actor,
    member: CareTeamMember,
    expected_version: int | None = None,
    *,
    successor: User | None = None,
) -> CareTeamMember:
    """Take someone off the team: the membership ends (inactive, with its end date), it is never
    deleted, and the version it had is kept. A team always keeps a primary case manager: ending
    the primary case manager's membership needs the `successor`, who takes the role (joining the
    team if they are not on it). A stale `expected_version` raises VersionConflict (None: the
    caller holds the current row)."""
    locked = CareTeamMember.objects.select_for_update().get(pk=member.pk)
    if expected_version is not None and locked.version != expected_version:
        raise VersionConflict(locked, expected_version)
    if not locked.active:
        raise ValidationError("This person is no longer on the care team.")
    was_primary = locked.is_primary_case_manager
    if was_primary:
        _check_successor(locked, successor)
    history.keep([history.snapshot(locked)])
    locked.active = False
    locked.is_primary_case_manager = False
    locked.end_date = timezone.localdate()
    locked.version += 1
    locked.updated_at = timezone.now()
    locked.save()
    audit.record(
        actor,
        "careteam.remove",
        patient_id=locked.patient_id,
        obj=locked,
        detail={"version": locked.version, "was_primary": was_primary},
    )
    if successor is not None and was_primary:
        _make_primary_case_manager(actor, locked.episode, successor)
    # The caller's instance shows the ended membership too, as it always has.
    for name in ("active", "is_primary_case_manager", "end_date", "version", "updated_at"):
        setattr(member, name, getattr(locked, name))
    return locked


def _check_successor(member: CareTeamMember, successor: User | None) -> None:
    if successor is None:
        raise ValidationError(
            {"successor": "Name the new primary case manager: a team always has one."}
        )
    if successor.pk == member.user_id or successor.organization_id != member.organization_id:
        raise ValidationError({"successor": "Choose another case manager of this agency."})


def _make_primary_case_manager(actor: audit.Actor, episode: EpisodeOfCare, user: User) -> None:
    current = CareTeamMember.objects.filter(
        episode=episode, user=user, active=True, role=CareTeamMember.TeamRole.CASE_MANAGER
    ).first()
    if current is None:
        add_care_team_member(
            actor,
            episode,
            role=CareTeamMember.TeamRole.CASE_MANAGER,
            user=user,
            primary_case_manager=True,
        )
        return
    save_versioned(
        actor,
        current,
        {"is_primary_case_manager": True},
        current.version,
        "careteam.update",
        current.patient_id,
    )


# --- Emergency access (break the glass) ------------------------------------------------------


# Searches that open no chart (no match, several, refused), per person: beyond this many in the
# window, emergency access refuses every search until the window moves on, so that it cannot
# become a way to browse the agency's patients by guessing names and dates.
EMERGENCY_SEARCH_LIMIT = 10
EMERGENCY_SEARCH_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class EmergencySearch:
    """What the person knows of the patient: the MRN, or the family name and date of birth
    (with the given name when several patients share those)."""

    mrn: str = ""
    family_name: str = ""
    birth_date: date | None = None
    given_name: str = ""

    @property
    def found_by(self) -> str:
        return "MRN" if self.mrn else "name and date of birth"

    def audit_detail(self) -> dict[str, Any]:
        if self.mrn:
            return {"mrn": self.mrn[:40]}
        return {
            "family_name": self.family_name[:100],
            "birth_date": self.birth_date.isoformat() if self.birth_date else "",
            "given_name": self.given_name[:100],
        }


class EmergencySearchOutcome(StrEnum):
    FOUND = "found"
    NONE = "no patient matches"
    SEVERAL = "several patients match"
    TOO_MANY = "too many searches"


def name_key(name: str) -> str:
    """A name as the emergency search compares it: without case, accents or extra spaces."""
    decomposed = unicodedata.normalize("NFKD", name.replace("\u2019", "'"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def find_patient_for_emergency(
    actor: audit.Actor, search: EmergencySearch, reason: str = ""
) -> tuple[EmergencySearchOutcome, Patient | None]:
    """The one patient of the actor's agency who matches `search` exactly, for emergency access.

    This is the one lookup that reaches past the care-team rule (that is what breaking the glass
    means). It stays inside the agency, never returns near matches or a list, and answers the
    same for a patient of another agency as for nobody. Every search that finds no single
    patient is audited with what was asked, and too many of them in a while refuse the next.
    """
    if _recent_failed_searches(actor) >= EMERGENCY_SEARCH_LIMIT:
        outcome, patient = EmergencySearchOutcome.TOO_MANY, None
    else:
        outcome, patient = _match(actor.organization_id or 0, search)
    if outcome != EmergencySearchOutcome.FOUND:
        audit.record(
            actor,
            "patient.break_glass",
            outcome=AuditEvent.Outcome.FAILURE,
            reason=reason.strip()[:1000],
            detail={**search.audit_detail(), "why": str(outcome)},
        )
    return outcome, patient


def _recent_failed_searches(actor: audit.Actor) -> int:
    if actor.user is None:
        return 0
    return AuditEvent.objects.filter(
        actor_id=actor.user.pk,
        action="patient.break_glass",
        outcome=AuditEvent.Outcome.FAILURE,
        occurred_at__gte=timezone.now() - EMERGENCY_SEARCH_WINDOW,
    ).count()


def _match(organization_id: int, search: EmergencySearch) -> tuple[EmergencySearchOutcome, Any]:
    in_agency = Patient.objects.filter(organization_id=organization_id)
    if search.mrn:
        ids = list(in_agency.filter(mrn=search.mrn).values_list("pk", flat=True)[:2])
    elif search.birth_date is None:
        ids = []
    else:
        # The date narrows the agency to a handful of patients (an index); the names of those
        # are compared here, where accents can be set aside on every database.
        family, given = name_key(search.family_name), name_key(search.given_name)
        same_day = in_agency.filter(birth_date=search.birth_date)
        ids = [
            pk
            for pk, family_name, given_name in same_day.values_list(
                "pk", "family_name", "given_name"
            )
            if name_key(family_name) == family and (not given or name_key(given_name) == given)
        ]
    if not ids:
        return EmergencySearchOutcome.NONE, None
    if len(ids) > 1:
        return EmergencySearchOutcome.SEVERAL, None
    patient = Patient.objects.select_related("branch", "organization").get(pk=ids[0])
    return EmergencySearchOutcome.FOUND, patient


def _branch_supervisors(patient: Patient) -> list[User]:
    return list(
        User.objects.filter(
            is_active=True,
            memberships__active=True,
            memberships__role=Role.SUPERVISOR,
            memberships__branch_id=patient.branch_id,
        )
        .distinct()
        .order_by("pk")
    )


@service
def open_emergency_access(
    actor: audit.Actor, patient: Patient, reason: str, minutes: int, found_by: str = "MRN"
) -> BreakGlassGrant:
    """Open a chart for `minutes` of reading, audit it and tell the branch's supervisors."""
    user = actor.user
    org = patient.organization
    if user is None or patient.organization_id != user.organization_id:
        raise ValidationError("That patient belongs to another agency.")
    reason = reason.strip()
    if len(reason) < 15:
        raise ValidationError({"reason": "Give a reason of at least 15 characters."})
    if not 1 <= minutes <= org.break_glass_max_minutes:
        raise ValidationError(
            {"minutes": f"Choose between 1 and {org.break_glass_max_minutes} minutes."}
        )
    now = timezone.now()
    grant = BreakGlassGrant.objects.create(
        organization_id=patient.organization_id,
        user=user,
        patient=patient,
        reason=reason,
        granted_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    until = grant.expires_at.astimezone(ZoneInfo(org.timezone)).strftime("%H:%M %Z")
    notices = notify(
        patient.organization_id,
        _branch_supervisors(patient),
        subject=f"Emergency access by {user.display_name}",
        body=(
            f"{user.display_name} ({user.username}) used emergency access to open the chart of "
            f"patient MRN {patient.mrn} at {patient.branch.name}, until {until}.\n"
            f"Reason given: {grant.reason}"
        ),
        patient_id=patient.pk,
        link=reverse("chart", kwargs={"patient_id": patient.pk}),
        link_label="Open the chart",
    )
    audit.record(
        actor,
        "patient.break_glass",
        patient_id=patient.pk,
        obj=grant,
        reason=reason,
        detail={
            "minutes": minutes,
            "notified": [n.recipient_id for n in notices],
            "found_by": found_by,
        },
    )
    return grant


# --- the agency's vital sign alert thresholds ------------------------------------------------

MAX_WEIGHT_GAIN_LB = 50


@service
def set_vital_alert_thresholds(
    actor: audit.Actor,
    organization: Organization,
    values: Mapping[str, float | None],
    expected_version: int,
) -> VitalAlertSetting:
    """An agency's notify-if thresholds: each a number or None (no alert that way), within the
    sign's entry limits, a high one above the low one. A stale `expected_version` raises
    VersionConflict and writes nothing; the audit event keeps each change as [before, after]."""
    setting = (
        VitalAlertSetting.objects.select_for_update().filter(organization=organization).first()
    )
    current = alerts.agency_setting(organization) if setting is None else setting
    if current.version != expected_version:
        raise VersionConflict(current, expected_version)
    cleaned = _checked_thresholds(values)
    before = {**alerts.default_values(), **current.values}
    changed = {name: [before.get(name), value] for name, value in cleaned.items()
               if before.get(name) != value}  # fmt: skip
    if setting is not None and not changed:
        return setting
    current.values = cleaned
    current.version = expected_version + 1
    current.changed_by = actor.user
    current.changed_at = timezone.now()
    current.save()
    audit.record(
        actor,
        "vital_alerts.set",
        obj=current,
        organization_id=organization.pk,
        detail={"changed": changed, "version": current.version},
    )
    return current


def _checked_thresholds(values: Mapping[str, float | None]) -> dict[str, float | None]:
    signs = {sign.key: sign for sign in vitals.vital_signs()}
    problems: dict[str, str] = {}
    cleaned: dict[str, float | None] = {}
    for field in alerts.fields():
        value = values.get(field.name)
        cleaned[field.name] = None if value is None else float(value)
        sign = signs.get(field.name.rsplit("_", 1)[0])
        low, high = (sign.entry_min, sign.entry_max) if sign else (0.1, MAX_WEIGHT_GAIN_LB)
        if value is not None and not low <= value <= high:
            problems[field.name] = f"{field.label}: must be from {low:g} to {high:g} {field.unit}"
    for key in signs:
        above, below = cleaned.get(f"{key}_above"), cleaned.get(f"{key}_below")
        if above is not None and below is not None and above <= below:
            label = signs[key].label
            problems.setdefault(
                f"{key}_above", f"{label}: the high threshold must be above the low threshold"
            )
    if problems:
        raise ValidationError(problems)
    return cleaned

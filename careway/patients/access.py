"""The one place that decides who may see or change which patient, and any record of theirs.

Staff see a patient when they are on the care team of one of the patient's episodes, when they
supervise the patient's branch, or while a break-the-glass grant of theirs is current. Everything
else, including another agency's patients, is answered exactly as a patient that does not exist
(404), and the denied attempt is audited. Seeing a chart does not mean changing it: that needs the
edit permission of the record's domain (chart.edit for the chart itself, assessments.edit for an
assessment, ...), and break-the-glass gives read access only.

Every domain asks here: `get_patient_for` for a patient, `get_record_for` for any record of one
(a PatientRecord), `visible_patients` for lists, and `visible_among` with `can_edit` to decide
about many patients at once (a FHIR import's batch).
"""

import uuid
from collections.abc import Collection
from enum import StrEnum
from functools import cache
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from careway.core import audit, rows
from careway.core.models import AuditEvent, Branch, User
from careway.core.permissions import Permission

from .models import BreakGlassGrant, CareTeamMember, Patient, PatientRecord
from .permissions import CHART_EDIT, CHART_VIEW

R = TypeVar("R", bound=PatientRecord)


class Action(StrEnum):
    VIEW = "view"
    EDIT = "edit"


class NotVisible(Http404):
    """The patient does not exist, or is not this person's to see: the two look the same."""


class ReadOnlyChart(PermissionDenied):
    """The chart is the person's to read but not to change. Careway's 403 page
    (careway/core/views/errors.py) shows the message, the title and the way back to the chart."""

    title = "You cannot change this chart"
    back_label = "Back to the chart"

    def __init__(self, message: str, patient_id: uuid.UUID) -> None:
        super().__init__(message)
        self.back_url = reverse("chart", kwargs={"patient_id": patient_id})


def visible_patients(user: User) -> QuerySet[Patient]:
    """Every patient `user` may see, as a queryset that later filters can narrow."""
    if not _reads_charts(user) or user.organization_id is None:
        return Patient.objects.none()
    # One list of ids (care team and current grants) that the database can look up by index;
    # an EXISTS per patient OR-ed with the rest would make it test every patient of the agency.
    on_team = CareTeamMember.objects.filter(user=user, active=True).values("patient_id")
    granted = BreakGlassGrant.objects.filter(user=user, expires_at__gt=timezone.now())
    rule = Q(pk__in=on_team.union(granted.values("patient_id")))
    supervised = user.supervised_branch_ids()
    if supervised:
        rule |= Q(branch_id__in=supervised)
    return Patient.objects.filter(organization_id=user.organization_id).filter(rule)


def patients_cared_for(user: User) -> QuerySet[Patient]:
    """The patients `user` looks after: on their care team, or in a branch they supervise; not
    those they see only through an emergency grant (a worklist is not theirs to keep)."""
    if not _reads_charts(user) or user.organization_id is None:
        return Patient.objects.none()
    on_team = CareTeamMember.objects.filter(user=user, active=True).values("patient_id")
    rule = Q(pk__in=on_team)
    supervised = user.supervised_branch_ids()
    if supervised:
        rule |= Q(branch_id__in=supervised)
    return Patient.objects.filter(organization_id=user.organization_id).filter(rule)


def _reads_charts(user: User | None) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.organization_id
        and user.has_perm_code(CHART_VIEW)
    )


def can_edit(user: User, patient: Patient, permission: Permission | str = CHART_EDIT) -> bool:
    """Whether `user` may change this (visible) patient's records that need `permission`: a
    break-the-glass grant never lets them."""
    if not user.has_perm_code(permission):
        return False
    if patient.branch_id in user.supervised_branch_ids():
        return True
    on_team = getattr(patient, "user_on_team", None)
    if on_team is None:
        on_team = CareTeamMember.objects.filter(patient=patient, user=user, active=True).exists()
    return on_team


def with_user_on_team(patients: QuerySet[Patient], user: User) -> QuerySet[Patient]:
    """`patients`, each with `user_on_team` set, so that can_edit decides about them without a
    query of its own."""
    on_team = CareTeamMember.objects.filter(patient=OuterRef("pk"), user=user, active=True)
    return patients.annotate(user_on_team=Exists(on_team))


def visible_among(user: User, patient_ids: Collection[Any]) -> dict[uuid.UUID, Patient]:
    """Those of `patient_ids` that `user` may see, by id, each with `user_on_team` set: one
    query for many patients."""
    if not patient_ids:
        return {}
    found = with_user_on_team(visible_patients(user).filter(pk__in=list(patient_ids)), user).only(
        "id", "organization_id", "branch_id"
    )
    return {patient.pk: patient for patient in found}


def _with_relation_to(user: User, pid: uuid.UUID) -> Patient | None:
    """The patient of the user's agency if the user may see them, with `user_on_team` set.

    The same rules as visible_patients(), decided for one patient in one statement. This runs on
    every chart page and API read, so it is written out as SQL (see careway/core/rows.py): the
    patient with its branch, and whether the user is on the care team or holds a current grant.
    """
    if user.organization_id is None:
        return None
    now = rows.db_value(BreakGlassGrant, "expires_at", timezone.now())
    params = [
        rows.db_value(CareTeamMember, "active", True),
        user.pk,
        user.pk,
        now,
        rows.db_value(Patient, "id", pid),
        user.organization_id,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_relation_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    patient = rows.build(Patient, row)
    branch = rows.build(Branch, row, rows.width(Patient))
    assert patient is not None
    Patient.branch.field.set_cached_value(patient, branch)
    on_team, has_grant = row[-2:]
    patient.user_on_team = bool(on_team)  # type: ignore[attr-defined]
    supervises = patient.branch_id in user.supervised_branch_ids()
    return patient if on_team or has_grant or supervises else None


@cache
def _relation_sql() -> str:
    q = connection.ops.quote_name
    patient, branch = q(Patient._meta.db_table), q(Branch._meta.db_table)
    team, grant = q(CareTeamMember._meta.db_table), q(BreakGlassGrant._meta.db_table)
    # Table and column names come from the models; every value is a parameter.
    return (
        f"SELECT {rows.select_list(Patient, 'p')}, {rows.select_list(Branch, 'b')}, "  # noqa: S608
        f"EXISTS(SELECT 1 FROM {team} ct WHERE ct.patient_id = p.id AND ct.active = %s"
        "        AND ct.user_id = %s), "
        f"EXISTS(SELECT 1 FROM {grant} g WHERE g.patient_id = p.id AND g.user_id = %s"
        "        AND g.expires_at > %s) "
        f"FROM {patient} p JOIN {branch} b ON b.id = p.branch_id "
        "WHERE p.id = %s AND p.organization_id = %s"
    )


def grants_relied_on(user: User) -> dict[uuid.UUID, int]:
    """The patients `user` sees only through a current break-the-glass grant (not on a care
    team of theirs, not in a branch they supervise), each with that grant's id: what a
    disclosure of them (a bulk export) names."""
    current = BreakGlassGrant.objects.filter(user=user, expires_at__gt=timezone.now())
    # The grant that lasts longest names the access, as break_glass_grant_for() chooses it.
    by_patient = dict(current.order_by("expires_at").values_list("patient_id", "pk"))
    if not by_patient:
        return {}
    wanted = list(by_patient)
    on_team = CareTeamMember.objects.filter(user=user, active=True, patient_id__in=wanted)
    supervised = Patient.objects.filter(pk__in=wanted, branch_id__in=user.supervised_branch_ids())
    seen_anyway = {*on_team.values_list("patient_id", flat=True)}
    seen_anyway.update(supervised.values_list("pk", flat=True))
    return {pid: grant for pid, grant in by_patient.items() if pid not in seen_anyway}


def sees_without_emergency_access(user: User, patient: Patient) -> bool:
    """Whether `user` may read this chart by the ordinary rules (care team, supervised branch),
    without any break-the-glass grant."""
    if not _reads_charts(user) or patient.organization_id != user.organization_id:
        return False
    if patient.branch_id in user.supervised_branch_ids():
        return True
    return CareTeamMember.objects.filter(patient=patient, user=user, active=True).exists()


def break_glass_grant_for(user: User, patient: Patient) -> BreakGlassGrant | None:
    """The current grant, if any, by which `user` reads this chart: the chart says so."""
    return (
        BreakGlassGrant.objects.filter(user=user, patient=patient, expires_at__gt=timezone.now())
        .order_by("-expires_at")
        .first()
    )


def _parse_id(patient_id: Any) -> uuid.UUID | None:
    if isinstance(patient_id, uuid.UUID):
        return patient_id
    try:
        return uuid.UUID(str(patient_id))
    except (TypeError, ValueError):
        return None


def get_patient_for(
    actor: audit.Actor,
    patient_id: Any,
    action: Action = Action.VIEW,
    permission: Permission | str = CHART_EDIT,
) -> Patient:
    """Return the patient if `actor` may perform `action` on them; otherwise raise.

    Not visible (absent, other agency, not on the team): NotVisible (404), with the attempt
    audited. Visible but not theirs to change (`permission` is what an EDIT needs: the chart's
    own, or the domain's whose record is changed): PermissionDenied (403), audited too. Call it
    before the service's transaction, so that a denial is recorded even though the action never
    starts.
    """
    user = actor.user
    pid = _parse_id(patient_id)
    patient = _with_relation_to(user, pid) if user and pid and _reads_charts(user) else None
    if user is None or patient is None:
        _audit_denied(actor, pid, action, "not visible")
        raise NotVisible("No such patient")
    if action == Action.EDIT and not can_edit(user, patient, permission):
        _audit_denied(actor, pid, action, "read-only access")
        raise ReadOnlyChart(_why_read_only(user, permission), patient.pk)
    return patient


def _why_read_only(user: User, permission: Permission | str) -> str:
    """What Careway's 403 page tells the person (careway/core/views/errors.py)."""
    if not user.has_perm_code(permission):
        return "Your role may read this chart but not change it."
    # They may change charts, yet not this one: they see it by an emergency grant only.
    return (
        "You are reading this chart by emergency access, which lets you read it but not "
        "change it. Ask someone on the patient's care team to make the change."
    )


def get_record_for(
    actor: audit.Actor,
    model: type[R],
    record_id: Any,
    action: Action = Action.VIEW,
    rows: QuerySet[R] | None = None,
) -> R:
    """The record of `model` with this id, if `actor` may `action` its patient; else raise.

    The same answers as get_patient_for, audited the same way: a record that does not exist, is
    another agency's or belongs to a patient the actor may not see is NotVisible (404); one the
    actor may only read is PermissionDenied (403) for EDIT, which needs the model's
    `edit_permission`. `rows` narrows where to look (a queryset of `model`, with its
    select_related); the record comes back with its patient set.
    """
    organization_id = actor.organization_id
    found = None
    if organization_id is not None and _valid_key(model, record_id):
        source = rows if rows is not None else model._default_manager.all()
        found = source.filter(pk=record_id, organization_id=organization_id).first()
    patient_of(actor, found, action)
    assert found is not None  # patient_of raised otherwise
    return found


def patient_of(actor: audit.Actor, record: PatientRecord | None, action: Action) -> Patient:
    """The patient of a record the caller found in the actor's agency (None: it found none), if
    `actor` may `action` it, with the record's `edit_permission` for EDIT; the record gets its
    patient set. Else NotVisible or PermissionDenied, audited, as get_patient_for answers."""
    if record is None:
        return get_patient_for(actor, None, action)
    patient = get_patient_for(actor, record.patient_id, action, record.edit_permission)
    type(record).patient.field.set_cached_value(record, patient)
    return patient


def _valid_key(model: type[PatientRecord], record_id: Any) -> bool:
    try:
        model._meta.pk.to_python(record_id)
    except (ValidationError, TypeError, ValueError):
        return False
    return True


def _audit_denied(actor: audit.Actor, pid: uuid.UUID | None, action: str, why: str) -> None:
    audit.record(
        actor,
        f"patient.{action}",
        patient_id=pid,
        object_type="patients.patient",
        object_id=str(pid or ""),
        outcome=AuditEvent.Outcome.DENIED,
        detail={"why": why},
    )

"""The one place that decides who may see or change which patient.

Staff see a patient when they are on the care team of one of the patient's episodes, when they
supervise the patient's branch, or while a break-the-glass grant of theirs is current. Everything
else, including another agency's patients, is answered exactly as a patient that does not exist
(404), and the denied attempt is audited. Seeing a chart does not mean changing it: that needs the
chart.edit permission of the role, and break-the-glass gives read access only.
"""

import uuid
from enum import StrEnum
from functools import cache
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from careway.patients.models import CareTeamMember, Patient

from . import audit, rows
from .models import AuditEvent, Branch, BreakGlassGrant, User
from .roles import Perm


class Action(StrEnum):
    VIEW = "view"
    EDIT = "edit"


class NotVisible(Http404):
    """The patient does not exist, or is not this person's to see: the two look the same."""


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


def _reads_charts(user: User | None) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.organization_id
        and user.has_perm_code(Perm.CHART_VIEW)
    )


def can_edit(user: User, patient: Patient) -> bool:
    """Whether `user` may change this (visible) chart: a break-the-glass grant never lets them."""
    if not user.has_perm_code(Perm.CHART_EDIT):
        return False
    if patient.branch_id in user.supervised_branch_ids():
        return True
    on_team = getattr(patient, "user_on_team", None)
    if on_team is None:
        on_team = CareTeamMember.objects.filter(patient=patient, user=user, active=True).exists()
    return on_team


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


def get_patient_for(actor: audit.Actor, patient_id: Any, action: Action = Action.VIEW) -> Patient:
    """Return the patient if `actor` may perform `action` on them; otherwise raise.

    Not visible (absent, other agency, not on the team): NotVisible (404), with the attempt
    audited. Visible but not editable: PermissionDenied (403), audited too. Call it before the
    service's transaction, so that a denial is recorded even though the action never starts.
    """
    user = actor.user
    pid = _parse_id(patient_id)
    patient = _with_relation_to(user, pid) if user and pid and _reads_charts(user) else None
    if user is None or patient is None:
        _audit_denied(actor, pid, action, "not visible")
        raise NotVisible("No such patient")
    if action == Action.EDIT and not can_edit(user, patient):
        _audit_denied(actor, pid, action, "read-only access")
        raise PermissionDenied("You may read this chart but not change it")
    return patient


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


def require(user: User, perm: Perm) -> None:
    """For pages that are not about one patient (user admin, audit): deny with 404."""
    if not (user.is_authenticated and user.has_perm_code(perm)):
        raise Http404("Not found")

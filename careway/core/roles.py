"""Roles and what each may do, declared in one place.

A permission here is a capability of the role; whether a person may use it on a given patient is
decided by `careway.core.access`, which adds the care-team and branch rules on top.
"""

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    AGENCY_ADMIN = "agency_admin", "Agency admin"
    SUPERVISOR = "supervisor", "Supervisor"
    CASE_MANAGER = "case_manager", "Case manager"
    CLINICIAN = "clinician", "Clinician"
    SCHEDULER = "scheduler", "Scheduler"
    AUDITOR = "auditor", "Auditor"


class Discipline(models.TextChoices):
    RN = "RN", "Registered nurse"
    LPN = "LPN", "Licensed practical nurse"
    PT = "PT", "Physical therapist"
    OT = "OT", "Occupational therapist"
    SLP = "SLP", "Speech-language pathologist"
    MSW = "MSW", "Medical social worker"
    HHA = "HHA", "Home health aide"


class Perm(StrEnum):
    CHART_VIEW = "chart.view"
    CHART_EDIT = "chart.edit"
    PATIENT_CREATE = "patient.create"
    SUPERVISE_BRANCH = "branch.supervise"
    BREAK_GLASS = "chart.break_glass"
    AUDIT_VIEW = "audit.view"
    USERS_MANAGE = "users.manage"
    RECORDS_IMPORT = "records.import"
    INSTRUMENTS_MANAGE = "instruments.manage"


ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    # Admins bring an agency's records in (FHIR import) without reading charts afterwards.
    Role.AGENCY_ADMIN: frozenset({Perm.USERS_MANAGE, Perm.RECORDS_IMPORT, Perm.INSTRUMENTS_MANAGE}),
    Role.SUPERVISOR: frozenset(
        {
            Perm.CHART_VIEW,
            Perm.CHART_EDIT,
            Perm.PATIENT_CREATE,
            Perm.SUPERVISE_BRANCH,
            Perm.BREAK_GLASS,
            Perm.INSTRUMENTS_MANAGE,
        }
    ),
    Role.CASE_MANAGER: frozenset(
        {
            Perm.CHART_VIEW,
            Perm.CHART_EDIT,
            Perm.PATIENT_CREATE,
            Perm.BREAK_GLASS,
            Perm.RECORDS_IMPORT,
        }
    ),
    Role.CLINICIAN: frozenset({Perm.CHART_VIEW, Perm.CHART_EDIT, Perm.BREAK_GLASS}),
    # Schedulers need the patient's address and contacts to plan visits, never to change a chart.
    Role.SCHEDULER: frozenset({Perm.CHART_VIEW}),
    Role.AUDITOR: frozenset({Perm.AUDIT_VIEW}),
}

# Roles that must use two-factor sign-in whatever the agency's setting.
TWO_FACTOR_REQUIRED_ROLES = frozenset({Role.AGENCY_ADMIN, Role.SUPERVISOR, Role.AUDITOR})


def permissions_for(roles: set[str]) -> frozenset[Perm]:
    granted: set[Perm] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)

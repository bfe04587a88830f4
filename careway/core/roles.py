"""The roles an agency gives its people, and the disciplines of its clinicians.

What each role may do is declared with the permissions themselves (careway/core/permissions.py
and each domain's permissions.py).
"""

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


# Roles that must use two-factor sign-in whatever the agency's setting.
TWO_FACTOR_REQUIRED_ROLES = frozenset({Role.AGENCY_ADMIN, Role.SUPERVISOR, Role.AUDITOR})

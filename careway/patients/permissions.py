"""What the roles may do with patients and their charts (registered in PatientsConfig.ready()).

Reading a chart also needs the person to be on the patient's care team, to supervise the
patient's branch, or to hold a current emergency grant: careway/patients/access.py decides that.
"""

from careway.core.permissions import declare
from careway.core.roles import Role

CHART_VIEW = declare(
    "chart.view",
    "Read the charts of one's own patients.",
    Role.SUPERVISOR,
    Role.CASE_MANAGER,
    Role.CLINICIAN,
    # Schedulers need the patient's address and contacts to plan visits.
    Role.SCHEDULER,
)
CHART_EDIT = declare(
    "chart.edit",
    "Change the registration and clinical record of one's own patients.",
    Role.SUPERVISOR,
    Role.CASE_MANAGER,
    Role.CLINICIAN,
)
PATIENT_CREATE = declare(
    "patient.create", "Register a new patient.", Role.SUPERVISOR, Role.CASE_MANAGER
)
BREAK_GLASS = declare(
    "chart.break_glass",
    "Open a chart one is not on the team of, for a limited time, with a reason (audited).",
    Role.SUPERVISOR,
    Role.CASE_MANAGER,
    Role.CLINICIAN,
)

CASELOAD_SUPERVISE = declare(
    "caseload.supervise",
    "See each patient's case manager and branch on the caseload, and each caseload's size.",
    Role.SUPERVISOR,
)

VITAL_ALERTS_MANAGE = declare(
    "vital_alerts.manage",
    "Set the agency's vital sign alert thresholds (when to tell the physician).",
    Role.AGENCY_ADMIN,
    Role.SUPERVISOR,
)

ALL = (
    CHART_VIEW,
    CHART_EDIT,
    PATIENT_CREATE,
    BREAK_GLASS,
    CASELOAD_SUPERVISE,
    VITAL_ALERTS_MANAGE,
)

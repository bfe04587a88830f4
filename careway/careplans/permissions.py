"""What the roles may do with care plans (registered in CareplansConfig.ready()).

Reading a plan is reading the chart (chart.view, and the patient must be one's own); building and
revising one needs careplans.edit on top. Clinicians revise the parts they carry out (a
therapist's goals and frequency), as a home health team does.
"""

from careway.core.permissions import declare
from careway.core.roles import Role

CAREPLANS_EDIT = declare(
    "careplans.edit",
    "Build and revise the care plans of one's own patients: problems, goals, interventions, "
    "visit frequencies; override a goal's computed status with a reason.",
    Role.SUPERVISOR,
    Role.CASE_MANAGER,
    Role.CLINICIAN,
)

# Granted as the instruments' band edges are (assessments.permissions.INSTRUMENTS_MANAGE): the
# agency's clinical content is kept by its admins and supervisors.
CAREPLANS_TEMPLATES = declare(
    "careplans.templates",
    "Manage the agency's care plan templates: copy a shipped one, write its own, edit, retire and "
    "restore them (each change a new version).",
    Role.AGENCY_ADMIN,
    Role.SUPERVISOR,
)

ALL = (CAREPLANS_EDIT, CAREPLANS_TEMPLATES)

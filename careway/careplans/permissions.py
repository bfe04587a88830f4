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

ALL = (CAREPLANS_EDIT,)

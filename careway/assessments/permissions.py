"""What the roles may do with assessments and instruments (registered in AssessmentsConfig.ready()).

Reading an assessment is reading the chart (chart.view, and the patient must be one's own);
starting, saving, signing and amending one needs assessments.edit on top.
"""

from careway.core.permissions import declare
from careway.core.roles import Role

ASSESSMENTS_EDIT = declare(
    "assessments.edit",
    "Start, fill in, sign and amend assessments of one's own patients.",
    Role.SUPERVISOR,
    Role.CASE_MANAGER,
    Role.CLINICIAN,
)
INSTRUMENTS_MANAGE = declare(
    "instruments.manage",
    "Upload the agency's own questionnaires and set band edges where sources differ.",
    Role.AGENCY_ADMIN,
    Role.SUPERVISOR,
)

ALL = (ASSESSMENTS_EDIT, INSTRUMENTS_MANAGE)

from careway.core.permissions import declare
from careway.core.roles import Role

NOTES_EDIT = declare(
    "example_notes.edit",
    "Write example notes on one's own patients.",
    Role.SUPERVISOR,
    Role.CASE_MANAGER,
    Role.CLINICIAN,
)

ALL = (NOTES_EDIT,)

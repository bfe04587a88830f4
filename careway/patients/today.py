"""Today: a person's worklist of what needs them now, to which every domain adds rows.

Patients owns the page; a domain adds a list to it from its AppConfig.ready(), as it registers
chart sections (careway/patients/frame.py):

    register_today_source(TodaySource("assessments-due", "Assessments due and overdue",
                                      order=30, rows=due_rows, empty="No assessment is due."))

A source is given the person, the patients they care for (a queryset: care team, or the branch
they supervise; never a patient seen only by emergency access) and today's date, and returns its
rows, the most pressing first, in a fixed number of queries whatever the number of patients.
Each row says what it is, why it is there (the reason a nurse would give) and where to act;
`actions_template` draws the row's buttons for those who may change the patient's chart.
The page reads every source in one transaction with its audit event (one `patient.list` per
patient shown), as the caseload does.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import QuerySet

from careway.core.models import User
from careway.core.permissions import Permission, code_of
from careway.core.registry import Registry

from .models import Patient
from .permissions import CHART_VIEW

# The status words a row may carry, most pressing first (each paired with its colour class).
URGENCY = {
    "urgent": ("Urgent", "status-urgent"),
    "overdue": ("Overdue", "status-urgent"),
    "due": ("Due today", "status-warning"),
    "warning": ("Needs attention", "status-warning"),
    "seen": ("Acknowledged", "status-info"),
    "open": ("Open", "status-info"),
}


@dataclass
class TodayRow:
    patient_id: Any
    # What it is ("Depression: self-harm answer") and why it is on the list today.
    title: str
    reason: str
    urgency: str
    # Where to act: a page of the patient's chart.
    url: str
    # The record the row's actions act on (a flag, a task), if any.
    item: Any = None
    # Set by the page: the patient, and whether this person may change their chart.
    patient: Patient | None = None
    can_edit: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def urgency_label(self) -> str:
        return URGENCY.get(self.urgency, (self.urgency.title(), ""))[0]

    @property
    def urgency_class(self) -> str:
        return URGENCY.get(self.urgency, ("", "status-info"))[1]


@dataclass(frozen=True)
class TodaySource:
    key: str
    title: str
    order: int
    rows: Callable[[User, QuerySet[Patient], date], list[TodayRow]]
    # What the empty list says (and what to do next), and how the list is sorted.
    empty: str
    sorted_by: str = "most pressing first"
    # Renders the actions of one row (`row` in the context); empty: the row has none.
    actions_template: str = ""
    permission: Permission | str = CHART_VIEW


TODAY_SOURCES: Registry[TodaySource] = Registry(
    "Today source", lambda s: s.key, lambda s: (s.order, s.key)
)


def register_today_source(*sources: TodaySource) -> None:
    TODAY_SOURCES.register(*sources)


def sources_for(user: Any) -> list[TodaySource]:
    held = user.permissions
    return [s for s in TODAY_SOURCES if code_of(s.permission) in held]

"""The chart and the caseload, as frames that every domain extends.

Patients owns both pages. A domain adds to them from its AppConfig.ready(), the way netbox
registers view tabs, without touching careway/patients:

    register_chart_section(ChartSection("assessments", "Assessments", order=60,
                                        context=section_context, template="assessments/x.html"))
    register_caseload_column(CaseloadColumn("assessment-due", "Assessment due", order=50,
                                            priority=1, cell_template="assessments/_due_cell.html",
                                            add_to_page=add_due))

A chart section is one tab: the chart view checks access, reads the section's context and the
frame (the patient banner, the tabs) in one transaction with the section's audit event, and
renders the section's template, which extends "patients/chart_base.html". Pages of a domain
under a section (an assessment, a form) show the same frame with `audited_chart_frame`.

A caseload column adds a cell to each row: `annotate` adds what the cell shows to the caseload
query (one query for the whole page), or `add_to_page` sets it on a page of patients in a fixed
number of queries when it is not a column of SQL. A column sorts by `sort` (fields of the
caseload query) or, when its order is worked out in Python (what is due), by `sort_keys`: each
patient's key for the whole caseload, read in a fixed number of queries. Columns carry a
priority (1 highest) because the caseload must fit a tablet without a sideways scroll: up to
1099 px only priority 1 is a column, priority 2 joins from 1100 px and 3 from 1280 px, priority
4 is never a column of its own (it sorts from the URL or the phone's select), and the cells of
the columns not shown are stacked under the patient's name. On a phone every row is a card, and
a select in the filters sorts it (the table's header is hidden there).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, cast

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template import Engine, Template
from django.utils.html import escape

from careway.core import audit
from careway.core.models import User
from careway.core.permissions import Permission, code_of
from careway.core.registry import Registry

from . import access, queries
from .models import Patient
from .permissions import CHART_VIEW

# Columns of priority above this are stacked under the name at the narrowest table widths.
PRIORITIES = (1, 2, 3, 4)


@dataclass(frozen=True)
class ChartSection:
    key: str
    title: str
    order: int
    # The section's own context, read inside the page's transaction: (request, patient) -> dict.
    context: Callable[[HttpRequest, Patient], dict[str, Any]]
    template: str
    # Who sees the tab (and may open the section), on top of seeing the chart.
    permission: Permission | str = CHART_VIEW


@dataclass(frozen=True)
class CaseloadColumn:
    key: str
    title: str
    order: int
    priority: int
    # Renders one cell's content with `patient` (the row) in the context.
    cell_template: str
    annotate: Callable[[QuerySet[Patient]], QuerySet[Patient]] | None = None
    add_to_page: Callable[[list[Patient], date], None] | None = None
    # The order of a sort by this column (the first field decides; None: not sortable).
    sort: tuple[str, ...] | None = None
    # Or a sort the database cannot do: (the caseload's patients, today) -> {patient id: key},
    # in a fixed number of queries. Patients without a key come last either way.
    sort_keys: Callable[[QuerySet[Patient], date], dict[Any, Any]] | None = None
    permission: Permission | str = CHART_VIEW

    def __post_init__(self) -> None:
        if self.priority not in PRIORITIES:
            raise ValueError(f"Caseload column {self.key!r}: priority must be one of {PRIORITIES}")
        if self.sort is not None and self.sort_keys is not None:
            raise ValueError(f"Caseload column {self.key!r}: sort by fields or by keys, not both")

    @property
    def sortable(self) -> bool:
        return self.sort is not None or self.sort_keys is not None


CHART_SECTIONS: Registry[ChartSection] = Registry(
    "chart section", lambda s: s.key, lambda s: (s.order, s.key)
)
CASELOAD_COLUMNS: Registry[CaseloadColumn] = Registry(
    "caseload column", lambda c: c.key, lambda c: (c.order, c.key)
)


def register_chart_section(*sections: ChartSection) -> None:
    CHART_SECTIONS.register(*sections)


def register_caseload_column(*columns: CaseloadColumn) -> None:
    CASELOAD_COLUMNS.register(*columns)


def sections_for(user: Any) -> list[ChartSection]:
    held = user.permissions
    return [s for s in CHART_SECTIONS if code_of(s.permission) in held]


def columns_for(user: Any) -> list[CaseloadColumn]:
    held = user.permissions
    return [c for c in CASELOAD_COLUMNS if code_of(c.permission) in held]


def caseload_rows_template(columns: Sequence[CaseloadColumn]) -> Template:
    """The caseload's rows for these columns, as one template: each column's cell template is
    written into it (as a column and, for priority 2 and 3, under the name), so that a page of 50
    rows renders as fast as a table written by hand would, and not through an include per cell.
    Made once per set of columns (afresh each time under DEBUG, where templates change)."""
    if settings.DEBUG:
        return _rows_template.__wrapped__(tuple(columns))
    return _rows_template(tuple(columns))


@cache
def _rows_template(columns: tuple[CaseloadColumn, ...]) -> Template:
    engine = Engine.get_default()
    cells = {c.key: f"cell_{i}" for i, c in enumerate(columns)}
    stacked = [c for c in columns if c.priority > 1]
    source = ["{% load capture %}{% for patient in page %}<tr>"]
    # A stacked column's cell shows twice (under the name, and as a column at wider widths):
    # rendered once, then printed in both places.
    for column in stacked:
        source.append(
            f"{{% capture as {cells[column.key]} %}}"
            f"{_source_of(engine, column.cell_template)}{{% endcapture %}}"
        )
    source.append(_source_of(engine, "patients/caseload/_row_name.html"))
    if stacked:
        source.append('<dl class="stacked-cells">')
        for column in stacked:
            source.append(
                f'<div class="stack-p{column.priority}"><dt>{escape(column.title)}</dt>'
                f"<dd>{{{{ {cells[column.key]} }}}}</dd></div>"
            )
        source.append("</dl>")
    source.append("</th>")
    for column in columns:
        cell = (
            f"{{{{ {cells[column.key]} }}}}"
            if column.priority > 1
            else _source_of(engine, column.cell_template)
        )
        source.append(
            f'<td class="col-p{column.priority} col-{escape(column.key)}" '
            f'data-label="{escape(column.title)}">{cell}</td>'
        )
    source.append("</tr>{% endfor %}")
    return Template("".join(source), engine=engine)


def _source_of(engine: Any, name: str) -> str:
    return engine.get_template(name).source.strip()


def chart_frame(request: HttpRequest, patient: Patient, section: str) -> dict[str, Any]:
    """What every chart page shows around its content: the banner, the tabs, whether the person
    may change the chart, and the emergency grant they read it by, if any."""
    user = cast(User, request.user)
    can_edit = access.can_edit(user, patient)
    sections = sections_for(user)
    current = next((s for s in sections if s.key == section), None)
    return {
        "patient": patient,
        "can_edit": can_edit,
        "banner": queries.banner_for(patient),
        # Only someone who could not otherwise see the chart reads it by emergency access.
        "emergency_access": None if can_edit else access.break_glass_grant_for(user, patient),
        "section": section,
        "section_title": current.title if current else section,
        "sections": sections,
    }


def audited_chart_frame(
    request: HttpRequest,
    actor: audit.Actor,
    patient: Patient,
    section: str,
    obj: Any = None,
    **detail: Any,
) -> dict[str, Any]:
    """The frame, and the `patient.view` event of the page that shows it (call it inside the
    page's transaction)."""
    frame = chart_frame(request, patient, section)
    audit.record(
        actor,
        "patient.view",
        patient_id=patient.pk,
        obj=obj if obj is not None else patient,
        detail={"section": section, **detail},
    )
    return frame

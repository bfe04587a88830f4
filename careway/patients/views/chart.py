"""The chart: the patient banner and one section at a time, each section registered by the part
of Careway that owns it (careway/patients/frame.py). The chart's own sections are here."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import mark_safe

from careway.core import audit
from careway.patients import access, alerts, queries
from careway.patients.access import Action
from careway.patients.frame import ChartSection, audited_chart_frame, sections_for
from careway.patients.models import Patient
from careway.patients.vitals import VitalChart, vital_charts
from careway.toolkit import trend_charts
from careway.toolkit.pages import agency_page


@agency_page
def chart(request: HttpRequest, patient_id: Any, section: str = "summary") -> HttpResponse:
    spec = next((s for s in sections_for(request.user) if s.key == section), None)
    if spec is None:
        raise Http404("No such chart section")
    actor = audit.Actor.from_request(request)
    patient = access.get_patient_for(actor, patient_id, Action.VIEW)
    with transaction.atomic():
        context = spec.context(request, patient)
        context |= audited_chart_frame(request, actor, patient, section)
    return render(request, spec.template, context)


def _page(request: HttpRequest) -> Any:
    return request.GET.get("page")


def _section(
    key: str, title: str, order: int, read: Callable[[HttpRequest, Patient], dict[str, Any]]
) -> ChartSection:
    return ChartSection(
        key, title, order, context=read, template=f"patients/chart_{key.replace('-', '_')}.html"
    )


SECTIONS = (
    _section("summary", "Summary", 10, lambda request, patient: queries.summary(patient)),
    _section(
        "flags",
        "Flags and tasks",
        15,
        lambda request, patient: queries.flags_and_tasks(patient),
    ),
    _section(
        "conditions",
        "Conditions",
        20,
        lambda request, patient: queries.conditions(patient, _page(request)),
    ),
    _section(
        "medications",
        "Medications",
        30,
        lambda request, patient: queries.medications(patient, _page(request)),
    ),
    _section(
        "allergies",
        "Allergies",
        40,
        lambda request, patient: queries.allergies(patient, _page(request)),
    ),
    _section("vitals", "Vital signs", 50, lambda request, patient: vitals_context(patient)),
    _section(
        "encounters",
        "Encounters",
        70,
        lambda request, patient: queries.encounters(patient, _page(request)),
    ),
    _section(
        "contacts",
        "Contacts",
        80,
        lambda request, patient: queries.contacts(patient, _page(request)),
    ),
    _section("care-team", "Care team", 90, lambda request, patient: queries.care_team(patient)),
)


@dataclass
class TableRow:
    at: datetime
    cells: list[queries.Reading | None]
    category: str


@dataclass
class VitalPanel:
    chart: VitalChart
    svg: str
    rows: list[TableRow]
    description: str


def vitals_context(patient: Patient) -> dict[str, Any]:
    end = timezone.localtime()
    start = end - queries.VITALS_WINDOW
    readings = queries.recent_vitals(patient, end)
    panels = [
        panel
        for chart_spec in vital_charts()
        if (panel := vital_panel(chart_spec, readings, end)) is not None
    ]
    return {
        "panels": panels,
        "last_taken": None if readings else queries.last_vitals_taken(patient),
        "reading_count": len(readings),
        "alert_count": sum(1 for r in readings if r.alert),
        "window_start": start,
        "thresholds_source": alerts.alert_thresholds(patient).source,
    }


def vital_panel(
    spec: VitalChart, readings: list[queries.Reading], now: datetime
) -> VitalPanel | None:
    mine = [r for r in readings if r.sign.chart == spec.key]
    if spec.optional and not mine:
        return None
    description = _describe_vitals(spec, mine)
    series = [
        trend_charts.Series(
            sign.short_label,
            [
                trend_charts.Point(timezone.localtime(r.at), r.value, bool(r.alert))
                for r in mine
                if r.sign == sign
            ],
        )
        for sign in spec.signs
    ]
    bands = [
        trend_charts.Band(
            s.reference_low, s.reference_high, f"Usual adult range of {s.label.lower()}"
        )
        for s in spec.signs
        if s.has_reference
    ]
    start, end = trend_charts.fitted_window(series, now)
    svg = trend_charts.trend_chart_svg(
        series,
        title=f"{spec.title}, last 90 days",
        description=description,
        unit=spec.unit_display,
        start=start,
        end=end,
        bands=bands,
        chart_id=f"chart-{spec.key}",
        scale=spec.scale,
    )
    # The SVG escapes every text it draws from data (see careway/toolkit/trend_charts.py).
    return VitalPanel(spec, mark_safe(svg), _rows_by_time(spec, mine), description)  # noqa: S308


def _rows_by_time(spec: VitalChart, readings: list[queries.Reading]) -> list[TableRow]:
    """Readings taken together (systolic and diastolic) share a row, newest first; each row
    has one cell per sign of the chart, empty where that sign was not taken, and the
    guideline's category of the set (a blood pressure's)."""
    by_time: dict[datetime, dict[str, queries.Reading]] = {}
    for reading in readings:
        by_time.setdefault(reading.at, {})[reading.sign.key] = reading
    return [
        TableRow(
            at,
            [cells.get(sign.key) for sign in spec.signs],
            next((r.category for r in cells.values() if r.category), ""),
        )
        for at, cells in sorted(by_time.items(), key=lambda item: item[0], reverse=True)
    ]


def _describe_vitals(spec: VitalChart, readings: list[queries.Reading]) -> str:
    """The chart in words: '1 reading on Dec 3. Latest: pain 1 of 10.'"""
    if not readings:
        return "No readings in the last 90 days."
    first, last = timezone.localtime(readings[0].at), timezone.localtime(readings[-1].at)
    times = len({r.at for r in readings})
    count = f"{times} reading{'s' if times != 1 else ''}"
    if first.date() == last.date():
        text = f"{count} on {last:%b} {last.day}."
    else:
        text = f"{count} from {first:%b} {first.day} to {last:%b} {last.day}."
    text += f" Latest: {_latest_text(spec, readings)}."
    alerted = sum(1 for r in readings if r.alert)
    if alerted:
        text += f" {alerted} past the alert thresholds (red diamonds)."
    return text


def _latest_text(spec: VitalChart, readings: list[queries.Reading]) -> str:
    latest_at = readings[-1].at
    latest = {r.sign.key: r for r in readings if r.at == latest_at}
    parts = [
        f"{_in_sentence(r.sign.short_label)} {r.sign.with_unit(r.value)}"
        + (f" ({r.alert})" if r.alert else "")
        for sign in spec.signs
        if (r := latest.get(sign.key))
    ]
    category = next((r.category for r in latest.values() if r.category), "")
    return ", ".join(parts) + (f", {category}" if category else "")


def _in_sentence(label: str) -> str:
    """'Pulse' in mid-sentence is 'pulse'; 'SpO2' stays as it is."""
    return label[0].lower() + label[1:] if label[1:].islower() else label

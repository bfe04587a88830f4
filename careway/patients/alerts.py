"""When a vital sign raises an alert, and what a guideline calls a reading: two separate answers.

A guideline's category (ACC/AHA 2017 calls 122/82 stage 1 hypertension) is a label and raises
nothing. An alert ("High: over 160", the red styling, the diamond on a chart) is raised only past
the notify-if thresholds that apply to the patient: the agency's own when it has set them, else
the defaults in content/vital_alerts.json (with their sources). `alert_thresholds(patient)` is the
one lookup. The physician's own parameters for one patient come from the domain that keeps them
(care plans: the plan of care in effect) through a registered provider (patients imports no
domain): its values take precedence over the agency's key by key, and it names itself as the
source.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from careway.core.models import Organization
from careway.core.registry import Registry

from .models import Patient, VitalAlertSetting
from .vitals import VitalSign, vital_signs

CONTENT_FILE = Path(__file__).parent / "content" / "vital_alerts.json"
DEFAULTS = "Careway defaults"
AGENCY = "Agency thresholds"
# A weight "in a day" is the previous reading within this much time (home visits are not at
# the same hour each day); "in a week" is measured from the lowest reading of the last 7 days.
DAY_WINDOW = timedelta(hours=36)
WEEK_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Limit:
    above: float | None = None
    below: float | None = None


@dataclass(frozen=True)
class Field:
    """One number an agency sets: `name` is its key in the stored values."""

    name: str
    label: str
    unit: str


@dataclass(frozen=True)
class AlertThresholds:
    limits: dict[str, Limit]
    weight_gain_day: float | None
    weight_gain_week: float | None
    source: str

    def limit(self, key: str) -> Limit:
        return self.limits.get(key, Limit())

    def alert(self, sign: VitalSign, value: float) -> str:
        """'High: over 160', 'Low: under 90', or '' when the reading is within the thresholds."""
        limit = self.limit(sign.key)
        if limit.above is not None and value > limit.above:
            return f"High: over {limit.above:g}"
        if limit.below is not None and value < limit.below:
            return f"Low: under {limit.below:g}"
        return ""

    def weight_alert(
        self, value: float, at: datetime, earlier: list[tuple[datetime, float]]
    ) -> str:
        """'Gain of 3.5 lb in a day' past the weight-gain thresholds, else ''. `earlier` holds
        (time, weight) of readings before this one."""
        day = [(when, w) for when, w in earlier if at - DAY_WINDOW <= when < at]
        week = [w for when, w in earlier if at - WEEK_WINDOW <= when < at]
        if self.weight_gain_day is not None and day:
            gain = value - max(day)[1]  # over the reading just before
            if gain > self.weight_gain_day:
                return f"Gain of {gain:.1f} lb in a day"
        if self.weight_gain_week is not None and week:
            gain = value - min(week)
            if gain > self.weight_gain_week:
                return f"Gain of {gain:.1f} lb in a week"
        return ""


@cache
def _content() -> dict[str, Any]:
    return json.loads(CONTENT_FILE.read_text(encoding="utf-8"))


def fields() -> list[Field]:
    """The numbers an agency sets, in the order the page shows them."""
    by_key = {sign.key: sign for sign in vital_signs()}
    found = []
    for entry in _content()["thresholds"]:
        sign = by_key[entry["key"]]
        for end, word in (("above", "High"), ("below", "Low")):
            if end in entry:
                found.append(Field(f"{sign.key}_{end}", f"{sign.label}: {word}", sign.unit_display))
    found.append(Field("weight_gain_day", "Weight gain in a day", "lb"))
    found.append(Field("weight_gain_week", "Weight gain in a week", "lb"))
    return found


def default_values() -> dict[str, float | None]:
    values: dict[str, float | None] = {}
    for entry in _content()["thresholds"]:
        for end in ("above", "below"):
            if end in entry:
                values[f"{entry['key']}_{end}"] = entry[end]
    gain = _content()["weight_gain"]
    values["weight_gain_day"], values["weight_gain_week"] = gain["day"], gain["week"]
    return values


def thresholds_from(values: dict[str, float | None], source: str) -> AlertThresholds:
    merged = {**default_values(), **values}
    keys = [entry["key"] for entry in _content()["thresholds"]]
    limits = {key: Limit(merged.get(f"{key}_above"), merged.get(f"{key}_below")) for key in keys}
    return AlertThresholds(
        limits, merged.get("weight_gain_day"), merged.get("weight_gain_week"), source
    )


def agency_setting(organization: Organization) -> VitalAlertSetting:
    """The agency's saved thresholds, or (unsaved, version 0) the defaults it has not changed."""
    found = VitalAlertSetting.objects.filter(organization=organization).first()
    return found or VitalAlertSetting(organization=organization, values=default_values(), version=0)


def agency_thresholds(organization_id: int) -> AlertThresholds:
    found = VitalAlertSetting.objects.filter(organization_id=organization_id).first()
    if found is None:
        return thresholds_from({}, DEFAULTS)
    return thresholds_from(found.values, AGENCY)


@dataclass(frozen=True)
class PatientParameters:
    """A physician's notify-if parameters for one patient (keyed as `fields()` names them; a
    missing key or None leaves the agency's), and where they come from, in words."""

    values: dict[str, float | None]
    source: str


@dataclass(frozen=True)
class ThresholdProvider:
    """Where a domain keeps a patient's own parameters: `parameters(patient, today)` answers
    those in effect on that day (the agency's date), or None."""

    key: str
    order: int
    parameters: Callable[[Patient, date], PatientParameters | None]


THRESHOLD_PROVIDERS: Registry[ThresholdProvider] = Registry(
    "alert threshold provider", key=lambda p: p.key, order=lambda p: (p.order, p.key)
)


def register_threshold_provider(*providers: ThresholdProvider) -> None:
    THRESHOLD_PROVIDERS.register(*providers)


def alert_thresholds(patient: Patient, today: date | None = None) -> AlertThresholds:
    """The notify-if thresholds for this patient: the physician's parameters for them where a
    provider has some (the first that answers), over the agency's (or the defaults) key by key."""
    base = VitalAlertSetting.objects.filter(organization_id=patient.organization_id).first()
    values = dict(base.values) if base is not None else {}
    source = AGENCY if base is not None else DEFAULTS
    day = today or _agency_today(patient.organization_id)
    for provider in THRESHOLD_PROVIDERS:
        found = provider.parameters(patient, day)
        if found is not None:
            values.update({k: v for k, v in found.values.items() if v is not None})
            return thresholds_from(values, found.source)
    return thresholds_from(values, source)


def _agency_today(organization_id: int) -> date:
    zone = Organization.objects.filter(pk=organization_id).values_list("timezone", flat=True)
    return timezone.localdate(timezone=ZoneInfo(zone.first() or "UTC"))


def sources() -> list[dict[str, str]]:
    return list(_content()["sources"])


def blood_pressure_category(systolic: float | None, diastolic: float | None) -> str:
    """The ACC/AHA 2017 category of a reading, with the guideline named: a label, never an
    alert. '' when neither number is known."""
    if systolic is None and diastolic is None:
        return ""
    spec = _content()["blood_pressure_categories"]
    for category in spec["categories"]:
        by_systolic = systolic is not None and systolic >= category["systolic_from"]
        by_diastolic = (
            diastolic is not None
            and category["diastolic_from"] is not None
            and diastolic >= category["diastolic_from"]
        )
        if by_systolic or by_diastolic:
            return f"{category['label']} {spec['suffix']}"
    return ""

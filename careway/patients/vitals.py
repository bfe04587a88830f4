"""The vital signs Careway charts and accepts, read from content/vital_signs.json.

The file holds the LOINC code, unit, adult reference range and entry limits of each sign, with
its sources; this module only turns it into typed objects: the usual range a chart shades, and
"could this be a real reading?". Whether a reading raises an alert is for careway/patients/alerts.py
(the agency's notify-if thresholds) to say, not the usual range.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CONTENT_FILE = Path(__file__).parent / "content" / "vital_signs.json"


@dataclass(frozen=True)
class VitalSign:
    key: str
    code: str
    also_codes: tuple[str, ...]
    label: str
    short_label: str
    chart: str
    unit: str
    unit_display: str
    decimals: int
    reference_low: float | None
    reference_high: float | None
    entry_min: float
    entry_max: float
    whole_numbers: bool
    optional_chart: bool

    @property
    def codes(self) -> tuple[str, ...]:
        return (self.code, *self.also_codes)

    @property
    def has_reference(self) -> bool:
        return self.reference_low is not None and self.reference_high is not None

    def format(self, value: float) -> str:
        return f"{value:.{self.decimals}f}"

    def with_unit(self, value: float) -> str:
        """'122 mmHg', '93%'; a score says its scale: '1 of 10'."""
        if self.unit == "{score}":
            return f"{self.format(value)} of {self.entry_max:g}"
        space = "" if self.unit_display == "%" else " "
        return f"{self.format(value)}{space}{self.unit_display}"


@dataclass(frozen=True)
class VitalChart:
    key: str
    title: str
    unit_display: str
    signs: tuple[VitalSign, ...]
    # The whole scale of a score (pain 0 to 10): the chart's value axis always shows all of it.
    scale: tuple[float, float] | None = None

    @property
    def optional(self) -> bool:
        return all(sign.optional_chart for sign in self.signs)


def _sign_from(entry: dict) -> VitalSign:
    reference = entry.get("reference") or {}
    return VitalSign(
        key=entry["key"],
        code=entry["code"],
        also_codes=tuple(entry.get("also_codes", ())),
        label=entry["label"],
        short_label=entry["short_label"],
        chart=entry["chart"],
        unit=entry["unit"],
        unit_display=entry["unit_display"],
        decimals=entry["decimals"],
        reference_low=reference.get("low"),
        reference_high=reference.get("high"),
        entry_min=entry["entry_limits"]["min"],
        entry_max=entry["entry_limits"]["max"],
        whole_numbers=entry.get("whole_numbers", False),
        optional_chart=entry.get("optional_chart", False),
    )


@cache
def vital_signs() -> tuple[VitalSign, ...]:
    content = json.loads(CONTENT_FILE.read_text(encoding="utf-8"))
    return tuple(_sign_from(entry) for entry in content["signs"])


@cache
def vital_charts() -> tuple[VitalChart, ...]:
    content = json.loads(CONTENT_FILE.read_text(encoding="utf-8"))
    signs = vital_signs()
    return tuple(
        VitalChart(
            key=chart["key"],
            title=chart["title"],
            unit_display=chart["unit_display"],
            signs=tuple(sign for sign in signs if sign.chart == chart["key"]),
            scale=(chart["scale"]["low"], chart["scale"]["high"]) if "scale" in chart else None,
        )
        for chart in content["charts"]
    )


def sign_for_code(code: str) -> VitalSign | None:
    return next((sign for sign in vital_signs() if code in sign.codes), None)


def all_codes() -> list[str]:
    return [code for sign in vital_signs() for code in sign.codes]


# Measurements that LOINC groups into one panel, and FHIR shows as one Observation with a
# component each: the panel's code and its members' codes (LOINC 85354-9, "Blood pressure panel
# with all children optional": systolic 8480-6, diastolic 8462-4).
PANELS: dict[str, tuple[str, ...]] = {"85354-9": ("8480-6", "8462-4")}


def panel_of(code: str) -> str:
    """The panel a member code belongs to, or ''."""
    return next((panel for panel, members in PANELS.items() if code in members), "")


# Units of the same quantity that Careway converts to the unit it charts a sign in (UCUM codes;
# 1 lb = 0.45359237 kg exactly, by the international pound's definition; °F = °C x 9/5 + 32).
_CONVERSIONS = {
    ("kg", "[lb_av]"): lambda v: v / 0.45359237,
    ("g", "[lb_av]"): lambda v: v / 453.59237,
    ("Cel", "[degF]"): lambda v: v * 9 / 5 + 32,
}


def in_chart_unit(code: str, value: float | None, unit: str) -> tuple[float | None, str]:
    """A reading of the vital sign `code` in the unit Careway charts it in, when it came in
    another unit of the same quantity (a weight in kg, a temperature in Celsius); anything else
    as it came. Values keep their full precision; pages round them for display."""
    sign = sign_for_code(code)
    if value is None or sign is None or unit == sign.unit:
        return value, unit
    convert = _CONVERSIONS.get((unit, sign.unit))
    return (convert(value), sign.unit) if convert else (value, unit)

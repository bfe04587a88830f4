"""Visit frequencies (careway/careplans/frequency.py) as FHIR R4 and back (issue 17).

A Timing holds one repeat, so each part of a frequency is written as its own request, in order
(the ServiceRequest or CarePlan.activity mapping links them): `3w1, 2w4` is two timings. A part
is `{"occurrenceTiming": Timing}`, plus `asNeededBoolean` or `asNeededCodeableConcept` for the
PRN part, the elements a ServiceRequest carries them in:

    3w1                 repeat: frequency 3 per 1 wk, boundsDuration 1 wk
    1m2                 repeat: frequency 1 per 1 mo, boundsDuration 2 mo
    qd x5               repeat: frequency 1 per 1 d, boundsDuration 5 d
    PRN x2 for dyspnea  repeat: count 2; asNeededCodeableConcept.text "dyspnea"

Durations are UCUM units (`wk`, `mo`, `d`), so a request reads the same whatever its start date;
the start is the request's own (its authoredOn or the plan's period), from which the parts
follow one another.
"""

from typing import Any

from careway.careplans.frequency import (
    AsNeeded,
    Daily,
    Frequency,
    FrequencyError,
    Monthly,
    Part,
    Weekly,
    parse,
)

UCUM = "http://unitsofmeasure.org"
UNITS = {"wk": "week", "mo": "month", "d": "day"}


def to_fhir(frequency: Frequency) -> list[dict[str, Any]]:
    """One dict of ServiceRequest elements for each part, in order."""
    return [part_to_fhir(part) for part in frequency.parts]


def from_fhir(requests: list[dict[str, Any]]) -> Frequency:
    """The frequency of linked requests, in order (see `to_fhir`)."""
    return Frequency(tuple(part_from_fhir(request) for request in requests))


def part_to_fhir(part: Part) -> dict[str, Any]:
    if isinstance(part, AsNeeded):
        found: dict[str, Any] = {"occurrenceTiming": {"repeat": {"count": part.most}}}
        if part.reason:
            found["asNeededCodeableConcept"] = {"text": part.reason}
        else:
            found["asNeededBoolean"] = True
        return found
    if isinstance(part, Weekly):
        per, unit, times = part.per_week, "wk", part.weeks
    elif isinstance(part, Monthly):
        per, unit, times = part.per_month, "mo", part.months
    else:
        per, unit, times = 1, "d", part.days
    repeat = {
        "boundsDuration": {"value": times, "unit": UNITS[unit], "system": UCUM, "code": unit},
        "frequency": per,
        "period": 1,
        "periodUnit": unit,
    }
    return {"occurrenceTiming": {"repeat": repeat}}


def part_from_fhir(request: dict[str, Any]) -> Part:
    """A part from a request's occurrenceTiming (and asNeeded[x]); a timing Careway's notation
    cannot say, or beyond its limits, is refused with a FrequencyError naming what is wrong."""
    part = _read(request)
    return parse(str(part)).parts[0]  # the notation's own limits (14 a week, 52 weeks, ...)


def _read(request: dict[str, Any]) -> Part:
    repeat = (request.get("occurrenceTiming") or {}).get("repeat")
    if not isinstance(repeat, dict):
        raise FrequencyError("occurrenceTiming.repeat is missing.", "occurrenceTiming")
    reason = (request.get("asNeededCodeableConcept") or {}).get("text", "")
    if request.get("asNeededBoolean") or "asNeededCodeableConcept" in request:
        return AsNeeded(_whole(repeat.get("count"), "count"), " ".join(str(reason).split()))
    if repeat.get("period", 1) != 1:
        raise FrequencyError(
            "occurrenceTiming.repeat.period must be 1 (times per one week, month or day).",
            "occurrenceTiming.repeat.period",
        )
    unit = repeat.get("periodUnit")
    bounds = repeat.get("boundsDuration") or {}
    if unit not in UNITS or bounds.get("code", unit) != unit:
        raise FrequencyError(
            "occurrenceTiming.repeat needs periodUnit wk, mo or d, with boundsDuration in the "
            "same unit.",
            "occurrenceTiming.repeat.periodUnit",
        )
    per = _whole(repeat.get("frequency", 1), "frequency")
    times = _whole(bounds.get("value"), "boundsDuration.value")
    if unit == "wk":
        return Weekly(per, times)
    if unit == "mo":
        return Monthly(per, times)
    if per != 1:
        raise FrequencyError(
            "Several visits a day are written per week (14w1), not per day.",
            "occurrenceTiming.repeat.frequency",
        )
    return Daily(times)


def _whole(value: Any, element: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise FrequencyError(
            f"occurrenceTiming.repeat.{element} must be a whole number.",
            f"occurrenceTiming.repeat.{element}",
        )
    if value < 1:
        raise FrequencyError(
            f"occurrenceTiming.repeat.{element} must be 1 or more.",
            f"occurrenceTiming.repeat.{element}",
        )
    return int(value)

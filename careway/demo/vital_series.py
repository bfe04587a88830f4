"""Months of plausible vital signs for one patient, shaped by their case.

Each reading wanders a little around the case's baseline. Three patterns tell a story a case
manager should notice: `weight_gain` (heart failure: fluid builds up over the last week),
`low_spo2` (COPD: oxygen saturation around 88-91%) and `bp_falling` (systolic pressure coming down
to the baseline over the last four weeks as the medicine is adjusted: a goal on it improves).
"""

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from careway.patients import vitals

NOISE = {
    "systolic": 7.0,
    "diastolic": 5.0,
    "heart_rate": 5.0,
    "respiratory_rate": 1.2,
    "oxygen_saturation": 1.0,
    "temperature": 0.3,
    "weight": 0.8,
}
# Readings outside these are not what the case describes; keep the random walk inside them.
LIMITS = {"oxygen_saturation": (84, 100), "temperature": (96.5, 100.4)}
WEIGHT_GAIN_DAYS = 8
WEIGHT_GAIN_PER_DAY_LB = 0.75
BP_FALL_DAYS = 28
BP_FALL_MMHG = 20.0


@dataclass(frozen=True)
class Reading:
    key: str
    value: float


def readings_on(
    day: date, today: date, baseline: dict[str, float], pattern: str, rng: random.Random
) -> list[Reading]:
    """One full set of vital signs taken on `day`."""
    out = []
    for key, base in baseline.items():
        value = base + rng.gauss(0, NOISE[key])
        if key == "weight" and pattern == "weight_gain":
            value = base + rng.gauss(0, 0.4) + _fluid_gain(day, today)
        if key == "systolic" and pattern == "bp_falling":
            value = base + rng.gauss(0, 3.0) + _pressure_still_to_fall(day, today)
        if key == "oxygen_saturation" and pattern == "low_spo2":
            value = rng.choice([87, 88, 89, 89, 90, 90, 91, 92])
        low, high = LIMITS.get(key, (-1e9, 1e9))
        value = min(max(value, low), high)
        sign = vital_sign(key)
        out.append(Reading(key, round(value, sign.decimals)))
    return out


def _fluid_gain(day: date, today: date) -> float:
    days_into_gain = WEIGHT_GAIN_DAYS - (today - day).days
    return max(0, days_into_gain) * WEIGHT_GAIN_PER_DAY_LB


def _pressure_still_to_fall(day: date, today: date) -> float:
    return BP_FALL_MMHG * min(1.0, (today - day).days / BP_FALL_DAYS)


def vital_sign(key: str) -> vitals.VitalSign:
    return next(s for s in vitals.vital_signs() if s.key == key)


def at_visit_time(day: date, zone: str, rng: random.Random) -> datetime:
    """A time during the working day in the agency's zone, as an aware datetime."""
    clock = time(hour=rng.randint(8, 16), minute=rng.choice([0, 10, 15, 20, 30, 40, 45, 50]))
    return datetime.combine(day, clock, tzinfo=ZoneInfo(zone))


def days_between(first: date, last: date, every: int) -> list[date]:
    return [first + timedelta(days=n) for n in range(0, (last - first).days + 1, every)]

"""Where a patient is seen: the place a visit is routed to, and where it came from.

In the order the issue gives (21): the coordinates on the patient's record (an imported FHIR
address carries them in its geolocation extension, as Synthea's do), else the centre of the
address's ZIP code, looked up offline in the `zipcodes` package's bundled table (US Postal
Service ZIP codes with their coordinates; MIT licence), else a pin the scheduler dropped on
the map. A patient with none of them has no place, and a visit to them is refused with the
reason `NoPlace` gives. Plain Python, no Django.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import zipcodes

ADDRESS = "address"
ZIP = "zip"
PIN = "pin"

_ZIP = re.compile(r"^\s*(\d{5})(?:-\d{4})?\s*$")


@dataclass(frozen=True)
class Place:
    latitude: float
    longitude: float
    source: str  # ADDRESS, ZIP or PIN
    note: str = ""  # for a ZIP centre: the town it is the centre of


class NoPlace(ValueError):
    """No place to route a visit to; the message says why and what would give one."""


def _coordinates(latitude: float | None, longitude: float | None) -> tuple[float, float] | None:
    if latitude is None or longitude is None:
        return None
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    if latitude == 0 and longitude == 0:  # "null island": a missing value written as zeros
        return None
    return latitude, longitude


def zip_centre(postal_code: str) -> Place | None:
    """The centre of a US ZIP code (five digits, or ZIP+4), or None when it is not one."""
    match = _ZIP.match(postal_code or "")
    if match is None:
        return None
    found = zipcodes.matching(match.group(1))
    if not found:
        return None
    row = found[0]
    try:
        latitude, longitude = float(row["lat"]), float(row["long"])
    except (KeyError, TypeError, ValueError):
        return None
    if _coordinates(latitude, longitude) is None:
        return None
    return Place(
        latitude, longitude, ZIP, f"centre of ZIP {row['zip_code']}, {row['city']} {row['state']}"
    )


def place_of(
    latitude: float | None,
    longitude: float | None,
    postal_code: str = "",
    pin: tuple[float, float] | None = None,
) -> Place:
    """The patient's place, or NoPlace with the reason."""
    here = _coordinates(latitude, longitude)
    if here is not None:
        return Place(here[0], here[1], ADDRESS)
    centre = zip_centre(postal_code)
    if centre is not None:
        return centre
    if pin is not None:
        dropped = _coordinates(*pin)
        if dropped is not None:
            return Place(dropped[0], dropped[1], PIN)
    if postal_code.strip():
        why = f"the ZIP code {postal_code.strip()!r} is not a known US ZIP code"
    else:
        why = "the address has no ZIP code"
    raise NoPlace(
        f"No place to visit: the patient's address has no coordinates and {why}; "
        "drop a pin on the map or correct the address."
    )

"""Made-up but well-formed identifiers: Medicare numbers, phone numbers, places near a town."""

import math
import random

# The Medicare Beneficiary Identifier leaves out letters that look like digits (CMS MBI format).
MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"
MBI_DIGITS = "0123456789"


def medicare_number(rng: random.Random) -> str:
    """An 11-character MBI-shaped number (CMS format: C A AN N A AN N A A N N)."""
    alnum = MBI_LETTERS + MBI_DIGITS
    pattern = ["123456789", MBI_LETTERS, alnum, MBI_DIGITS, MBI_LETTERS, alnum, MBI_DIGITS]
    pattern += [MBI_LETTERS, MBI_LETTERS, MBI_DIGITS, MBI_DIGITS]
    return "".join(rng.choice(chars) for chars in pattern)


def fictional_phone(area_code: str, rng: random.Random) -> str:
    # 555-0100 to 555-0199 are reserved for fiction in the North American Numbering Plan.
    return f"({area_code}) 555-01{rng.randrange(100):02d}"


def point_near(latitude: float, longitude: float, rng: random.Random, km: float = 4.0):
    """A point within `km` of the town centre, spread evenly over the disc."""
    distance = km * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    d_lat = distance * math.cos(bearing) / 111.0
    d_lon = distance * math.sin(bearing) / (111.0 * math.cos(math.radians(latitude)))
    return round(latitude + d_lat, 6), round(longitude + d_lon, 6)

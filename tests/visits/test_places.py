"""Where a visit goes: the record's coordinates, else the ZIP code's centre (offline), else the
scheduler's pin; with none, a refusal that says why."""

import pytest

from careway.visits.places import ADDRESS, PIN, ZIP, NoPlace, place_of, zip_centre


def test_the_record_s_coordinates_come_first():
    got = place_of(44.4759, -73.2121, "05401", pin=(44.0, -73.0))
    assert (got.latitude, got.longitude, got.source) == (44.4759, -73.2121, ADDRESS)


def test_else_the_zip_code_s_centre_found_offline():
    got = place_of(None, None, "05401-1234")
    assert got.source == ZIP and "Burlington VT" in got.note
    # within a few km of the centre of Burlington, Vermont
    assert abs(got.latitude - 44.48) < 0.05 and abs(got.longitude + 73.21) < 0.05
    assert zip_centre("43215").note.endswith("Columbus OH")


def test_else_the_scheduler_s_pin():
    got = place_of(None, None, "", pin=(39.96, -83.0))
    assert (got.latitude, got.longitude, got.source) == (39.96, -83.0, PIN)
    assert place_of(None, None, "00000", pin=(39.96, -83.0)).source == PIN


@pytest.mark.parametrize(
    ("latitude", "longitude", "postal_code", "why"),
    [
        (None, None, "", "has no ZIP code"),
        (None, None, "00000", "'00000' is not a known US ZIP code"),
        (None, None, "K1A 0B1", "'K1A 0B1' is not a known US ZIP code"),
        (0.0, 0.0, "", "has no ZIP code"),  # zeros for a missing value are no place
        (95.0, -73.0, "", "has no ZIP code"),  # out of range
        (float("nan"), -73.0, "", "has no ZIP code"),
    ],
)
def test_no_place_is_refused_with_the_reason(latitude, longitude, postal_code, why):
    with pytest.raises(NoPlace, match="drop a pin on the map") as raised:
        place_of(latitude, longitude, postal_code, pin=(200.0, 0.0) if latitude else None)
    assert why in str(raised.value)

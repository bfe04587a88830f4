"""Preventive care gaps on imported Synthea records: a vaccine or screening the record already
shows is no gap, and the gap opens again when it falls due (../shared/data/synthea)."""

from datetime import date, timedelta

import pytest

from careway.careplans import services
from careway.careplans.models import Suggestion
from careway.core import audit
from careway.fhir.importer import import_files
from careway.patients.models import Immunization, Patient, Procedure

FLU = {"140", "141", "150", "153", "155", "158", "161", "166", "168", "171", "185", "186", "197"}
COLONOSCOPY = "73761001"


@pytest.fixture
def imported(world, synthea_data):
    import_files(audit.Actor(user=world.cm), world.org, world.branch, [synthea_data])
    return list(Patient.objects.filter(organization=world.org).exclude(pk=world.patient.pk))


def open_items(patient, today):
    services.refresh_suggestions(audit.Actor(user=None), [patient.pk], today=today)
    return set(
        Suggestion.objects.filter(patient=patient, status="open", preventive=True).values_list(
            "item", flat=True
        )
    )


def _season_start(day: date) -> date:
    start = date(day.year, 8, 1)
    return start if start <= day else date(day.year - 1, 8, 1)


def test_a_flu_shot_on_the_record_closes_that_seasons_gap_and_the_next_season_opens_it(
    imported,
):
    checked = 0
    for patient in imported:
        shots = sorted(
            i.occurred_at.date()
            for i in Immunization.objects.filter(patient=patient, code__in=FLU, status="completed")
        )
        if not shots or patient.age_on(shots[-1]) < 19:
            continue
        last = shots[-1]
        assert "flu-vaccine" not in open_items(patient, last), patient
        next_season = date(_season_start(last).year + 1, 8, 1) + timedelta(days=10)
        assert "flu-vaccine" in open_items(patient, next_season), patient
        checked += 1
    assert checked >= 5  # the bundles hold 116 flu shots across most of the twelve patients


def test_a_colonoscopy_on_the_record_closes_colorectal_screening_for_ten_years(imported):
    checked = 0
    for patient in imported:
        scopes = sorted(
            (p.performed_start or p.recorded_at).date()
            for p in Procedure.objects.filter(patient=patient, code=COLONOSCOPY)
        )
        if not scopes:
            continue
        day = scopes[-1] + timedelta(days=1)
        assert "colorectal-screening" not in open_items(patient, day), patient
        checked += 1
    assert checked >= 2


def test_imported_records_without_a_dose_show_the_gap_with_what_the_record_holds(imported):
    """Synthea gives no recombinant zoster vaccine: every adult of 50 or more has that gap, and
    its reason counts the doses on the record."""
    older = [p for p in imported if p.age >= 50]
    assert older
    for patient in older:
        assert "zoster-vaccine" in open_items(patient, None)
        row = Suggestion.objects.get(patient=patient, item="zoster-vaccine")
        assert any("0 of the 2 doses" in r for r in row.reasons), row.reasons

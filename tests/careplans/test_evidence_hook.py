"""Goals follow the chart: every write of evidence (a signed or amended score, a reading marked
entered in error, a hospital stay, a FHIR import) works their achievement out again."""

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from careway.assessments import catalog
from careway.assessments import services as assessment_services
from careway.assessments.models import Response
from careway.careplans import services
from careway.core import audit
from careway.fhir import importer
from careway.patients import services as patient_services
from careway.patients.models import Observation
from tests.assessments import fill
from tests.assessments.test_services import fill_everything
from tests.fhir.samples import bundle

PHQ9 = catalog.shipped_by_id("phq-9")


@pytest.fixture(autouse=True)
def _agency_days(world):
    """Goals count the agency's days (New York's): so do these tests, at any hour of the day."""
    with timezone.override(ZoneInfo(world.org.timezone)):
        yield


@pytest.fixture
def actor(world):
    return audit.Actor(user=world.cm)


@pytest.fixture
def plan(world, actor):
    return services.start_plan(actor, world.patient)


def reading(actor, patient, code, value, days_ago):
    day = timezone.localdate() - timedelta(days=days_ago)
    return patient_services.record_observation(
        actor,
        patient,
        {
            "category": "vital-signs",
            "code_system": "http://loinc.org",
            "code": code,
            "display": code,
            "effective_at": timezone.make_aware(datetime.combine(day, time(9))),
            "value": value,
        },
    )


def test_signing_and_amending_a_phq9_moves_a_depression_goal(world, actor, plan):
    goal = services.add_goal(
        actor, plan, {"description": "PHQ-9 below 10", "measure": "phq-9", "target_high": 9}
    )
    assert goal.achievement_rule == "No PHQ-9 total recorded yet."
    assessment = assessment_services.start_assessment(actor, world.patient, "start-of-care")
    fill_everything(world, assessment, choice=-1)
    assessment_services.sign_assessment(actor, assessment, assessment.version)
    goal.refresh_from_db()
    assert goal.achievement == "in-progress"
    assert goal.achievement_rule.startswith("One PHQ-9 total so far, 18 from the target")
    response = Response.objects.get(assessment=assessment, questionnaire_url=PHQ9["url"])
    assessment_services.amend_response(
        actor, response, fill.answers(PHQ9, 0), "Answers were read back wrongly"
    )
    goal.refresh_from_db()
    assert goal.achievement == "achieved"
    assert goal.achievement_rule == "1 of the last 1 PHQ-9 totals within at most 9."


def test_a_reading_marked_entered_in_error_stops_counting(world, actor, plan):
    reading(actor, world.patient, "8480-6", 130, 6)
    reading(actor, world.patient, "8480-6", 132, 3)
    wrong = reading(actor, world.patient, "8480-6", 190, 0)
    goal = services.add_goal(
        actor,
        plan,
        {"description": "Systolic below 140", "measure": "systolic", "target_high": 139},
    )
    assert goal.achievement == "worsening"
    patient_services.update_observations(
        actor, [wrong], [{"status": "entered-in-error"}], wrong.version
    )
    goal.refresh_from_db()
    assert goal.achievement == "in-progress"
    assert "2 of the last 2" in goal.achievement_rule


def test_a_hospital_stay_restarts_a_goal_of_staying_out_of_hospital(world, actor, plan):
    goal = services.add_goal(
        actor,
        plan,
        {
            "description": "No hospital stays for 30 days",
            "measure": "hospital-stays",
            "target_days": 30,
            "start_date": timezone.localdate() - timedelta(days=40),
        },
    )
    assert goal.achievement == "achieved"
    patient_services.add_encounter(
        actor,
        world.patient,
        {
            "kind": "IMP",
            "type_display": "Hospital stay",
            "period_start": timezone.now() - timedelta(days=2),
        },
    )
    goal.refresh_from_db()
    assert goal.achievement == "in-progress"
    assert goal.achievement_rule.startswith("A hospital stay on ")


def test_a_reading_imported_from_fhir_moves_a_goal(world, actor, plan, tmp_path):
    reading(actor, world.patient, "8867-4", 70, 6)
    reading(actor, world.patient, "8867-4", 72, 3)
    goal = services.add_goal(
        actor, plan, {"description": "Pulse at most 80", "measure": "heart-rate", "target_high": 80}
    )
    assert goal.achievement == "in-progress"
    mrn = f"urn:careway:fhir:mrn:{world.org.pk}|{world.patient.mrn}"
    observation = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": "Pulse"},
        "subject": {"reference": f"Patient?identifier={mrn}"},
        "effectiveDateTime": timezone.now().isoformat(),
        "valueQuantity": {"value": 118, "unit": "/min"},
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle(observation)))
    report = importer.import_files(actor, world.org, world.branch, [path])
    assert report.ok, [p.as_dict() for p in report.problems]
    assert Observation.objects.filter(patient=world.patient, value=118).exists()
    goal.refresh_from_db()
    assert goal.achievement == "worsening"

"""The mapping of medications, allergies, encounters, coverage, contacts, immunizations, plans,
goals, episodes and care teams: the decisions each module's docstring records."""

from datetime import UTC, date, datetime, timedelta

import pytest

from careway.core import audit
from careway.fhir import codes
from careway.fhir.mapping import Invalid, NotSupported, from_fhir, resource_type_of, to_fhir
from careway.patients import services
from careway.patients.models import CareTeamMember, EpisodeOfCare
from tests.fhir.validate import assert_valid_r4

pytestmark = pytest.mark.django_db

SUBJECT = {"reference": "Patient/5b0c1a52-0000-4000-8000-000000000000"}


def actor(world):
    return audit.Actor(user=world.cm)


def refused(resource) -> str:
    with pytest.raises(Invalid) as err:
        from_fhir(resource)
    return err.value.path


# --- medications -----------------------------------------------------------------------------


def test_prescription_goes_out_as_us_core_medication_request(world):
    med = services.add_medication(
        actor(world),
        world.patient,
        {
            "kind": "request",
            "code_system": codes.RXNORM,
            "code": "197361",
            "display": "Amlodipine 5 MG Oral Tablet",
            "dose": "5 mg",
            "route": "by mouth",
            "frequency": "once daily",
            "prescriber": "Dr. Lee",
        },
    )
    resource = to_fhir("MedicationRequest", med)
    assert_valid_r4(resource)
    assert (resource["status"], resource["intent"]) == ("active", "order")
    assert resource["medicationCodeableConcept"]["coding"][0]["system"] == codes.RXNORM
    assert resource["subject"] == {"reference": f"Patient/{world.patient.pk}"}
    assert resource["authoredOn"] == med.recorded_at.isoformat()
    dosage = resource["dosageInstruction"][0]
    assert dosage["text"] == "5 mg by mouth once daily"
    assert dosage["doseAndRate"][0]["doseQuantity"] == {"value": 5, "unit": "mg"}
    assert resource["requester"] == {"display": "Dr. Lee"}


def test_a_medication_goes_out_only_as_the_type_its_kind_says(world):
    med = services.add_medication(
        actor(world), world.patient, {"kind": "statement", "display": "Vitamin D 1000 IU"}
    )
    assert resource_type_of(med) == "MedicationStatement"
    assert_valid_r4(to_fhir("MedicationStatement", med))
    with pytest.raises(ValueError, match="MedicationStatement"):
        to_fhir("MedicationRequest", med)


def test_medication_statement_comes_in_as_taken_with_its_period_and_contained_code():
    row = from_fhir(
        {
            "resourceType": "MedicationStatement",
            "status": "active",
            "contained": [
                {
                    "resourceType": "Medication",
                    "id": "m1",
                    "code": {
                        "coding": [{"system": codes.RXNORM, "code": "6809", "display": "Metformin"}]
                    },
                }
            ],
            "medicationReference": {"reference": "#m1"},
            "subject": SUBJECT,
            "effectivePeriod": {"start": "2023-01-05", "end": "2024-02-01T10:00:00Z"},
            "dosage": [{"text": "Take one tablet with breakfast and one with supper"}],
        }
    ).rows[0]
    assert (row["kind"], row["code"], row["display"]) == ("statement", "6809", "Metformin")
    assert (row["start_date"], row["end_date"]) == (date(2023, 1, 5), date(2024, 2, 1))
    assert row["frequency"] == "Take one tablet with breakfast and one with supper"


def test_long_directions_go_to_the_note_rather_than_being_cut():
    directions = "Take as directed: " + "one tablet, then " * 10
    row = from_fhir(
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": "Prednisone taper"},
            "dosageInstruction": [{"text": directions}],
        }
    ).rows[0]
    assert row["frequency"] == "" and row["note"] == directions


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"medicationCodeableConcept": None}, "MedicationRequest.medication[x]"),
        ({"status": "paused"}, "MedicationRequest.status"),
        ({"intent": None}, "MedicationRequest.intent"),
        ({"authoredOn": "yesterday"}, "MedicationRequest.authoredOn"),
        (
            {"medicationCodeableConcept": {"text": "x" * 301}},
            "MedicationRequest.medicationCodeableConcept",
        ),
    ],
)
def test_medication_request_careway_cannot_take_is_refused(change, path):
    resource = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": codes.RXNORM, "code": "1"}]},
        **change,
    }
    assert refused({k: v for k, v in resource.items() if v is not None}) == path


# --- allergies -------------------------------------------------------------------------------


def test_allergy_goes_out_as_us_core_allergy_intolerance(world):
    allergy = services.add_allergy(
        actor(world),
        world.patient,
        {"display": "Peanut", "code_system": codes.SNOMED, "code": "91935009", "category": "food",
         "criticality": "high", "reaction": "Anaphylaxis"},
    )  # fmt: skip
    resource = to_fhir("AllergyIntolerance", allergy)
    assert_valid_r4(resource)
    assert resource["clinicalStatus"]["coding"][0]["code"] == "active"
    assert resource["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert resource["patient"] == {"reference": f"Patient/{world.patient.pk}"}
    assert resource["code"]["coding"][0]["code"] == "91935009"


def test_allergy_entered_in_error_is_fhirs_verification_status(world):
    allergy = services.add_allergy(
        actor(world),
        world.patient,
        {"display": "Latex", "category": "environment", "clinical_status": "entered-in-error"},
    )
    resource = to_fhir("AllergyIntolerance", allergy)
    assert_valid_r4(resource)
    assert "clinicalStatus" not in resource
    assert resource["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert from_fhir(resource).rows[0]["clinical_status"] == "entered-in-error"


def test_a_refuted_allergy_is_refused_and_a_missing_category_is_inferred():
    base = {"resourceType": "AllergyIntolerance", "patient": SUBJECT}
    rxnorm = {"coding": [{"system": codes.RXNORM, "code": "7980", "display": "Penicillin"}]}
    row = from_fhir({**base, "code": rxnorm}).rows[0]
    assert (row["category"], row["criticality"]) == ("medication", "unable-to-assess")
    status = {"coding": [{"system": codes.ALLERGY_VERIFICATION, "code": "refuted"}]}
    assert refused({**base, "code": rxnorm, "verificationStatus": status}) == (
        "AllergyIntolerance.verificationStatus"
    )
    assert refused({**base, "code": rxnorm, "category": ["plants"]}) == (
        "AllergyIntolerance.category[0]"
    )


# --- encounters ------------------------------------------------------------------------------


def test_encounter_classes_and_a_missing_type():
    base = {
        "resourceType": "Encounter",
        "status": "finished",
        "subject": SUBJECT,
        "period": {"start": "2024-02-03T10:00:00-05:00"},
    }
    row = from_fhir({**base, "class": {"system": codes.ACT_CODE, "code": "ACUTE"}}).rows[0]
    assert row["kind"] == "IMP"
    assert row["period_start"] == datetime(2024, 2, 3, 15, 0, tzinfo=UTC)
    home = from_fhir({**base, "class": {"system": codes.ACT_CODE, "code": "HH"}}).rows[0]
    assert (home["kind"], home["type_display"]) == ("HH", "Home visit")
    assert refused({**base, "class": {"code": "XYZ"}}) == "Encounter.class"
    assert refused({**base, "class": {"code": "AMB"}, "period": {}}) == "Encounter.period.start"


# --- coverage --------------------------------------------------------------------------------


def test_coverage_goes_out_with_payer_type_and_reads_sopt_codes(world):
    coverage = services.add_coverage(
        actor(world), world.patient, {"kind": "medicaid", "payer_name": "MassHealth"}
    )
    resource = to_fhir("Coverage", coverage)
    assert_valid_r4(resource)
    assert {"system": codes.SOPT, "code": "2", "display": "MEDICAID"} in resource["type"]["coding"]
    assert resource["beneficiary"] == {"reference": f"Patient/{world.patient.pk}"}
    incoming = from_fhir(
        {
            "resourceType": "Coverage",
            "status": "active",
            "type": {"coding": [{"system": codes.SOPT, "code": "111"}]},
            "beneficiary": SUBJECT,
            "payor": [{"reference": "Organization/9"}],
        }
    )
    assert incoming.rows[0]["kind"] == "medicare_advantage"
    assert incoming.references == {"payer_name": "Organization/9"}
    assert refused({"resourceType": "Coverage", "status": "active", "beneficiary": SUBJECT}) == (
        "Coverage.payor"
    )


# --- related people --------------------------------------------------------------------------


def test_related_person_reads_role_codes_and_emergency_contacts():
    incoming = from_fhir(
        {
            "resourceType": "RelatedPerson",
            "patient": SUBJECT,
            "relationship": [
                {"coding": [{"system": codes.ROLE_CODE, "code": "WIFE"}]},
                {"coding": [{"system": codes.CONTACT_ROLE, "code": "C"}]},
            ],
            "name": [{"given": ["June"], "family": "Carter"}],
            "telecom": [{"system": "phone", "value": "555-0111"}],
        }
    )
    row = incoming.rows[0]
    assert (row["name"], row["relationship"], row["is_emergency_contact"]) == (
        "June Carter",
        "spouse",
        True,
    )
    assert row["phone"] == "555-0111"
    assert incoming.subject == SUBJECT["reference"]
    assert refused({"resourceType": "RelatedPerson", "patient": SUBJECT}) == "RelatedPerson.name"


# --- immunizations, plans, goals -------------------------------------------------------------


def test_history_without_the_elements_careway_needs_is_refused():
    vaccine = {"coding": [{"system": codes.CVX, "code": "140"}]}
    assert refused(
        {"resourceType": "Immunization", "status": "completed", "vaccineCode": vaccine,
         "occurrenceString": "last fall"}
    ) == "Immunization.occurrence[x]"  # fmt: skip
    assert refused({"resourceType": "CarePlan", "status": "active", "subject": SUBJECT}) == (
        "CarePlan.intent"
    )
    assert refused({"resourceType": "Goal", "lifecycleStatus": "active", "subject": SUBJECT}) == (
        "Goal.description"
    )
    assert (
        refused({"resourceType": "Procedure", "status": "finished", "code": {"text": "Biopsy"}})
        == "Procedure.status"
    )


# --- episodes and care teams -----------------------------------------------------------------


def test_episode_of_care_goes_out_with_its_team_and_case_manager(world):
    episode = world.patient.episodes.get()
    resource = to_fhir("EpisodeOfCare", episode)
    assert_valid_r4(resource)
    assert resource["id"] == str(episode.pk)
    assert resource["status"] == "active"
    assert resource["patient"] == {"reference": f"Patient/{world.patient.pk}"}
    assert resource["period"] == {"start": episode.start_of_care.isoformat()}
    assert resource["careManager"] == {"display": world.cm.display_name}
    assert resource["team"] == [{"reference": f"CareTeam/{episode.pk}"}]
    assert resource_type_of(episode) == "EpisodeOfCare"


def test_care_team_lists_every_member_with_role_period_and_the_primary_case_manager(
    world, django_assert_num_queries
):
    episode = world.patient.episodes.get()
    contact = services.add_contact(
        actor(world), world.patient, {"name": "Tom Hale", "relationship": "child"}
    )
    services.add_care_team_member(actor(world), episode, role="caregiver", related_person=contact)
    physician = services.add_care_team_member(
        actor(world), episode, role="physician", external_name="Dr. Ana Lima"
    )
    services.end_care_team_membership(actor(world), physician)

    with django_assert_num_queries(1):
        team = to_fhir("CareTeam", episode)
    assert_valid_r4(team)
    assert team["id"] == str(episode.pk)
    assert team["status"] == "active"
    participants = {p["member"]["display"]: p for p in team["participant"]}
    assert set(participants) == {
        world.cm.display_name, world.rn.display_name, world.scheduler.display_name,
        "Tom Hale", "Dr. Ana Lima",
    }  # fmt: skip
    manager = participants[world.cm.display_name]
    assert manager["extension"] == [
        {"url": codes.careway_extension("primary-case-manager"), "valueBoolean": True}
    ]
    assert manager["role"][0]["coding"][0]["code"] == "case_manager"
    assert participants["Tom Hale"]["member"]["reference"] == f"RelatedPerson/{contact.pk}"
    assert participants["Dr. Ana Lima"]["period"]["end"] == physician.end_date.isoformat()
    assert CareTeamMember.objects.filter(episode=episode).count() == 5


def test_care_team_and_episode_follow_a_discharge(world):
    episode = world.patient.episodes.get()
    discharged = EpisodeOfCare(
        pk=episode.pk,
        organization_id=episode.organization_id,
        patient_id=episode.patient_id,
        branch_id=episode.branch_id,
        status="discharged",
        start_of_care=episode.start_of_care,
        discharge_date=episode.start_of_care + timedelta(days=40),
        discharge_reason="Goals met",
        version=2,
    )
    assert to_fhir("EpisodeOfCare", discharged)["status"] == "finished"
    assert to_fhir("CareTeam", discharged)["status"] == "inactive"
    assert {"url": codes.careway_extension("discharge-reason"), "valueString": "Goals met"} in (
        to_fhir("EpisodeOfCare", discharged)["extension"]
    )


@pytest.mark.parametrize("kind", ["CareTeam", "EpisodeOfCare"])
def test_care_teams_and_episodes_are_not_taken_in(kind):
    with pytest.raises(NotSupported):
        from_fhir({"resourceType": kind, "status": "active"})

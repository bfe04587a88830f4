"""Round trips, for every type Careway takes in and gives out.

1. A record built through the services, written as FHIR and read back, gives back every field
   the mapping carries (and the test lists, per model, the few fields it does not carry, so a new
   field that is silently dropped fails here).
2. Export -> import -> export gives equal resources (ids and meta aside): what Careway reads is
   what it writes.
"""

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from careway.core import audit
from careway.core.writes import service
from careway.fhir import codes
from careway.fhir.mapping import Invalid, from_fhir, resource_type_of, to_fhir
from careway.patients import services
from careway.patients.models import (
    Immunization,
    Observation,
    PastCarePlan,
    PastGoal,
    Procedure,
)
from careway.patients.services import editable_fields
from tests.fhir.validate import assert_valid_r4, mutations

pytestmark = pytest.mark.django_db

# Fields a resource does not carry, and why: the importer sets them, or they are references
# (returned in Incoming.references, checked below).
NOT_CARRIED = {
    "Patient": {"branch"},  # the branch the import runs into
    "Observation": {"encounter", "panel_id"},  # a reference; the importer gives a new panel id
    "Encounter": {"episode"},  # a reference
}


@service
def add_history(actor: audit.Actor, model, patient, data: dict[str, Any]):
    """Immunizations, procedures and past plans as an import would add them (one audited
    write; the services module has no use case for them yet)."""
    record = model(organization_id=patient.organization_id, patient=patient, **data)
    record.full_clean()
    record.save()
    audit.record(actor, f"{model._meta.model_name}.create", patient_id=patient.pk, obj=record)
    return record


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def every_record(world) -> list[tuple[str, Any, list[Any]]]:
    """One record of every type, with every field Careway has for it filled in."""
    actor = audit.Actor(user=world.cm)
    patient = services.update_patient(
        actor,
        world.patient,
        {
            "middle_name": "Rose",
            "preferred_name": "Peggy",
            "gender_identity": "Woman",
            "pronouns": "she/her",
            "preferred_language": "pt-BR",
            "interpreter_needed": True,
            "address_line": "12 Elm Street",
            "address_line2": "Apt 3",
            "city": "Springfield",
            "state": "MA",
            "postal_code": "01101",
            "latitude": 42.101,
            "longitude": -72.589,
            "phone_home": "555-0100",
            "phone_mobile": "555-0101",
            "email": "peggy@example.org",
            "medicare_number": "1EG4TE5MK73",
            "medicaid_number": "MA-778899",
            "code_status": "dnr_dni",
            "advance_directive": "multiple",
            "no_known_allergies": True,
            "what_matters_most": "Gardening again by spring.",
        },
        world.patient.version,
    )
    episode = patient.episodes.first()
    encounter = services.add_encounter(
        actor,
        patient,
        {
            "episode": episode.pk,
            "kind": "HH",
            "status": "finished",
            "type_system": codes.SNOMED,
            "type_code": "185468001",
            "type_display": "Home visit for chronic condition",
            "reason": "Heart failure follow-up",
            "location": "Patient's home",
            "practitioner": "Dana Cole RN",
            "period_start": at(2025, 2, 3, 14, 0),
            "period_end": at(2025, 2, 3, 15, 10, 30),
        },
    )
    vital = services.record_observation(
        actor,
        patient,
        {
            "category": "vital-signs",
            "code_system": codes.LOINC,
            "code": "29463-7",
            "display": "Body weight",
            "effective_at": at(2025, 2, 3, 14, 20, 5, 123456),
            "value": 182.4,
            "unit": "[lb_av]",
            "encounter": encounter.pk,
            "note": "Up 3 lb since last week.",
        },
    )
    smoking = services.record_observation(
        actor,
        patient,
        {
            "category": "social-history",
            "code_system": codes.LOINC,
            "code": "72166-2",
            "display": "Tobacco smoking status",
            "effective_at": at(2025, 2, 3, 14, 25),
            "value_text": "Former smoker",
        },
    )
    diastolic, systolic = services.record_observations(
        actor,
        patient,
        [
            {
                "category": "vital-signs",
                "code_system": codes.LOINC,
                "code": code,
                "display": display,
                "effective_at": at(2025, 2, 3, 14, 21),
                "value": value,
                "unit": "mm[Hg]",
            }
            for code, display, value in (
                ("8462-4", "Diastolic blood pressure", 84),
                ("8480-6", "Systolic blood pressure", 151),
            )
        ],
    )
    contact = services.add_contact(
        actor,
        patient,
        {
            "name": "Tom Hale",
            "relationship": "child",
            "phone": "555-0199",
            "email": "tom@example.org",
            "lives_with_patient": True,
            "is_primary_caregiver": True,
            "is_emergency_contact": True,
            "may_receive_information": True,
            "notes": "Works nights; call after 2 pm.",
        },
    )
    aide = services.add_contact(
        actor, patient, {"name": "Rita Gomez", "relationship": "paid_caregiver"}
    )
    condition = services.add_condition(
        actor,
        patient,
        {
            "code_system": codes.SNOMED,
            "code": "84114007",
            "display": "Heart failure",
            "clinical_status": "active",
            "category": "health-concern",
            "verification_status": "provisional",
            "onset_date": date(2019, 5, 1),
            "abatement_date": date(2024, 1, 2),
            "is_primary": True,
            "note": "Ejection fraction 35%.",
        },
    )
    ordered = services.add_medication(
        actor,
        patient,
        {
            "kind": "request",
            "code_system": codes.RXNORM,
            "code": "310798",
            "display": "Hydrochlorothiazide 25 MG Oral Tablet",
            "dose": "25 mg",
            "route": "by mouth",
            "frequency": "once daily",
            "as_needed": False,
            "indication": "Hypertension",
            "prescriber": "Dr. Ana Lima",
            "status": "active",
            "start_date": date(2024, 11, 2),
            "end_date": date(2025, 11, 1),
            "note": "Take in the morning.",
        },
    )
    taken = services.add_medication(
        actor,
        patient,
        {
            "kind": "statement",
            "code_system": codes.RXNORM,
            "code": "198440",
            "display": "Acetaminophen 500 MG Oral Tablet",
            "dose": "1-2 tablets",
            "route": "by mouth",
            "frequency": "every 6 hours",
            "as_needed": True,
            "indication": "Knee pain",
            "prescriber": "Self",
            "status": "active",
            "start_date": date(2023, 1, 5),
        },
    )
    allergy = services.add_allergy(
        actor,
        patient,
        {
            "code_system": codes.RXNORM,
            "code": "7980",
            "display": "Penicillin G",
            "category": "medication",
            "criticality": "high",
            "reaction": "Hives, wheezing",
            "clinical_status": "active",
            "note": "Reaction in 1998.",
        },
    )
    coverage = services.add_coverage(
        actor,
        patient,
        {
            "kind": "medicare_advantage",
            "payer_name": "Bay State Health Plan",
            "member_id": "BSH-000123",
            "priority": 1,
            "start_date": date(2024, 1, 1),
            "end_date": date(2025, 12, 31),
            "active": True,
        },
    )
    vaccine = add_history(
        actor,
        Immunization,
        patient,
        {
            "code_system": codes.CVX,
            "code": "140",
            "display": "Influenza, seasonal, injectable, preservative free",
            "status": "completed",
            "occurred_at": at(2024, 10, 1, 9, 0),
            "lot_number": "LOT-42A",
            "primary_source": False,
            "note": "Given at the pharmacy.",
        },
    )
    procedure = add_history(
        actor,
        Procedure,
        patient,
        {
            "code_system": codes.SNOMED,
            "code": "73761001",
            "display": "Colonoscopy",
            "status": "completed",
            "performed_start": at(2022, 3, 4, 8, 0),
            "performed_end": at(2022, 3, 4, 8, 45),
            "reason": "Screening",
        },
    )
    plan = add_history(
        actor,
        PastCarePlan,
        patient,
        {
            "code_system": codes.SNOMED,
            "code": "698360004",
            "display": "Diabetes self management plan",
            "status": "active",
            "intent": "order",
            "title": "Diabetes plan from Bayside Clinic",
            "period_start": at(2021, 1, 2, 10, 0),
            "period_end": at(2023, 1, 2, 10, 0),
            "activities": [
                {
                    "code": "160670007",
                    "system": codes.SNOMED,
                    "display": "Diabetic diet",
                    "status": "in-progress",
                },
                {"code": "", "system": "", "display": "Walk daily", "status": "completed"},
            ],
            "addresses": ["Prediabetes", "Obesity"],
            "note": "Reviewed at discharge.",
        },
    )
    goal = add_history(
        actor,
        PastGoal,
        patient,
        {
            "code_system": codes.LOINC,
            "code": "4548-4",
            "display": "Hemoglobin A1c total in Blood < 7.0",
            "lifecycle_status": "active",
            "achievement_status": "in-progress",
            "start_date": date(2021, 1, 2),
            "target_date": date(2021, 7, 2),
            "note": "Agreed with the patient.",
        },
    )
    return [
        ("Patient", patient, []),
        ("RelatedPerson", contact, []),
        ("RelatedPerson", aide, []),
        ("Encounter", encounter, []),
        ("Observation", vital, []),
        ("Observation", smoking, []),
        ("Observation", systolic, [diastolic]),
        ("Condition", condition, []),
        ("MedicationRequest", ordered, []),
        ("MedicationStatement", taken, []),
        ("AllergyIntolerance", allergy, []),
        ("Coverage", coverage, []),
        ("Immunization", vaccine, []),
        ("Procedure", procedure, []),
        ("CarePlan", plan, []),
        ("Goal", goal, []),
    ]


def rebuilt(incoming, original, members):
    """Careway records made from `incoming` as the importer would (same owner, same ids)."""
    model = incoming.model
    originals = [original, *members]
    records = []
    for index, row in enumerate(incoming.rows):
        like = originals[index] if index < len(originals) else original
        fixed = {"pk": like.pk, "organization_id": original.organization_id}
        if hasattr(original, "patient_id"):
            fixed["patient_id"] = original.patient_id
        if hasattr(original, "version"):
            fixed["version"] = original.version
        for name in ("panel_id", "encounter_id", "episode_id", "branch_id"):
            if hasattr(original, name):
                fixed[name] = getattr(original, name)
        records.append(model(**row, **fixed))
    return records


def without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in ("id", "meta")}


def test_every_type_round_trips_through_fhir(world):
    records = every_record(world)
    covered = {kind for kind, _, _ in records}
    assert covered == {
        "Patient", "RelatedPerson", "Encounter", "Observation", "Condition", "MedicationRequest",
        "MedicationStatement", "AllergyIntolerance", "Coverage", "Immunization", "Procedure",
        "CarePlan", "Goal",
    }  # fmt: skip
    for kind, record, members in records:
        assert resource_type_of(record) == kind
        resource = to_fhir(kind, record, members=members)
        assert_valid_r4(resource)
        assert resource["resourceType"] == kind
        incoming = from_fhir(resource)
        assert incoming.model is type(record)
        assert incoming.source_id == resource["id"]
        originals = (
            sorted([record, *members], key=lambda r: r.code != "8480-6") if members else [record]
        )
        assert len(incoming.rows) == len(originals), kind
        for row, source in zip(incoming.rows, originals, strict=True):
            expected = editable_fields(type(record)) - NOT_CARRIED.get(kind, set())
            assert expected <= set(row), f"{kind} does not carry {expected - set(row)}"
            for name, value in row.items():
                if members and name == "recorded_at":
                    # A panel is issued once: when its last member was recorded.
                    assert value == max(m.recorded_at for m in originals)
                    continue
                assert getattr(source, name) == value, f"{kind}.{name}"
        if kind != "Patient":
            assert incoming.subject == f"Patient/{world.patient.pk}"

        again = to_fhir(kind, *_first_and_rest(rebuilt(incoming, record, members)))
        assert without_meta(again) == without_meta(resource), kind


def _first_and_rest(records):
    first, *rest = records
    return (first, rest) if rest else (first,)


def test_references_come_back_for_the_importer_to_resolve(world):
    records = {(k, r.pk): (r, m) for k, r, m in every_record(world)}
    observation = next(
        r for (k, _), (r, _) in records.items() if k == "Observation" and r.encounter_id
    )
    encounter = next(r for (k, _), (r, _) in records.items() if k == "Encounter")
    assert from_fhir(to_fhir("Observation", observation)).references == {
        "encounter": f"Encounter/{encounter.pk}"
    }
    assert from_fhir(to_fhir("Encounter", encounter)).references == {
        "episode": f"EpisodeOfCare/{encounter.episode_id}"
    }


def test_a_panel_member_version_change_shows_in_the_panel_version(world):
    actor = audit.Actor(user=world.cm)
    diastolic, systolic = services.record_observations(
        actor,
        world.patient,
        [
            {"category": "vital-signs", "code_system": codes.LOINC, "code": code, "display": code,
             "effective_at": at(2025, 1, 1, 8, 0), "value": value, "unit": "mm[Hg]"}
            for code, value in (("8462-4", 70), ("8480-6", 118))
        ],
    )  # fmt: skip
    before = to_fhir("Observation", systolic)
    assert before["meta"]["versionId"] == "1"
    services.update_observations(
        actor, [systolic, diastolic], [{"value": 121}, {}], expected_version=1
    )
    fresh = Observation.objects.get(pk=systolic.pk)
    after = to_fhir("Observation", fresh)
    assert after["id"] == before["id"] == str(systolic.panel_id)
    assert after["meta"]["versionId"] == "2"
    assert after["component"][0]["valueQuantity"]["value"] == 121


def test_an_unsaved_panel_member_is_exported_with_the_members_given(world):
    panel = uuid.uuid4()
    rows = from_fhir(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": codes.LOINC, "code": "85354-9"}]},
            "effectiveDateTime": "2024-01-01T00:00:00+00:00",
            "component": [
                {
                    "code": {"coding": [{"system": codes.LOINC, "code": c}]},
                    "valueQuantity": {"value": v},
                }
                for c, v in (("8480-6", 130), ("8462-4", 85))
            ],
        }
    ).rows
    members = [
        Observation(pk=i + 1, organization_id=world.org.pk, patient_id=world.patient.pk,
                    panel_id=panel, **row)
        for i, row in enumerate(rows)
    ]  # fmt: skip
    resource = to_fhir("Observation", members[1], members=[members[0]])
    assert_valid_r4(resource)
    assert [c["valueQuantity"]["value"] for c in resource["component"]] == [130, 85]


def minimal_records(world) -> list[tuple[str, Any]]:
    """One record of every type with only what Careway requires: what goes out is still valid
    (no empty elements) and comes back the same."""
    actor = audit.Actor(user=world.cm)
    patient = world.patient
    when = at(2025, 4, 5, 6, 7, 8)
    return [
        ("Patient", patient),
        ("RelatedPerson", services.add_contact(
            actor, patient, {"name": "A", "relationship": "other"}
        )),
        ("Encounter", services.add_encounter(
            actor, patient, {"kind": "VR", "type_display": "Video call", "period_start": when}
        )),
        ("Observation", services.record_observation(
            actor, patient, {"category": "survey", "display": "Mood", "effective_at": when}
        )),
        ("Condition", services.add_condition(actor, patient, {"display": "Frailty"})),
        ("MedicationRequest", services.add_medication(
            actor, patient, {"kind": "request", "display": "Oxygen"}
        )),
        ("MedicationStatement", services.add_medication(actor, patient, {"display": "Tea"})),
        ("AllergyIntolerance", services.add_allergy(
            actor, patient, {"display": "Cats", "category": "environment"}
        )),
        ("Coverage", services.add_coverage(
            actor, patient, {"kind": "self_pay", "payer_name": "Self", "active": False}
        )),
        ("Immunization", add_history(
            actor, Immunization, patient, {"display": "Tetanus", "occurred_at": when}
        )),
        ("Procedure", add_history(actor, Procedure, patient, {"display": "Dressing change"})),
        ("CarePlan", add_history(
            actor, PastCarePlan, patient, {"display": "Plan", "status": "draft", "intent": "plan"}
        )),
        ("Goal", add_history(
            actor, PastGoal, patient, {"display": "Walk again", "lifecycle_status": "proposed"}
        )),
    ]  # fmt: skip


def test_records_with_only_what_careway_requires_go_out_valid_and_come_back(world):
    for kind, record in minimal_records(world):
        resource = to_fhir(kind, record)
        assert_valid_r4(resource)
        row = from_fhir(resource).rows[0]
        for name, value in row.items():
            assert getattr(record, name) == value, f"{kind}.{name}"


def test_careways_own_resources_with_any_element_of_the_wrong_type_are_refused_cleanly(world):
    tried = 0
    for kind, record, members in every_record(world):
        for path, mutated in mutations(to_fhir(kind, record, members=members)):
            tried += 1
            try:
                from_fhir(mutated)
            except Invalid as exc:
                assert exc.path.startswith(kind), (kind, path, exc.path)
    assert tried > 3000

"""Builders for plan of care tests: a care plan with orders and a draft ready to send."""

from datetime import timedelta

from careway.careplans import plan_of_care, services
from careway.core import audit
from careway.patients import services as patient_services

VALID_NPI = "1234567893"  # CMS's own example of a valid NPI check digit


def plan_with_orders(world, actor=None):
    actor = actor or audit.Actor(user=world.cm)
    patient = world.patient
    patient_services.update_patient(
        actor,
        patient,
        {
            "medicare_number": "1EG4TE5MK73",
            "address_line": "12 Orchard Lane",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62704",
        },
        patient.version,
    )
    patient.refresh_from_db()
    patient_services.add_condition(
        actor,
        patient,
        {
            "code_system": "http://snomed.info/sct",
            "code": "88805009",
            "display": "Chronic congestive heart failure (disorder)",
            "onset_date": patient.episodes.first().start_of_care - timedelta(days=3),
            "is_primary": True,
        },
    )
    patient_services.add_condition(
        actor,
        patient,
        {
            "code_system": "http://snomed.info/sct",
            "code": "44054006",
            "display": "Diabetes mellitus type 2 (disorder)",
        },
    )
    patient_services.add_medication(
        actor,
        patient,
        {"display": "Furosemide 40 MG Oral Tablet", "dose": "40 mg", "route": "by mouth",
         "frequency": "once daily"},
    )  # fmt: skip
    patient_services.add_allergy(
        actor, patient, {"display": "Penicillin", "category": "medication", "reaction": "hives"}
    )
    plan = services.start_plan(actor, patient)
    services.set_frequency(actor, plan, {"discipline": "RN", "frequency": "3w1, 2w4"})
    services.add_goal(
        actor,
        plan,
        {"description": "Weight within 2 lb of dry weight", "patient_words": "Breathe easier"},
    )
    return plan


def ready_draft(world, actor=None, **overrides):
    actor = actor or audit.Actor(user=world.cm)
    plan = plan_with_orders(world, actor)
    poc = plan_of_care.draft_plan_of_care(actor, plan)
    soc = plan.episode.start_of_care
    data = {
        "practitioner_name": "Dr. Ana Lopez",
        "practitioner_kind": "MD",
        "practitioner_npi": VALID_NPI,
        "practitioner_address": "400 Main St, Springfield, IL 62701",
        "practitioner_phone": "217-555-0100",
        "face_to_face_date": soc - timedelta(days=5),
        "face_to_face_practitioner": "Dr. Sam Hill, hospitalist",
        "face_to_face_kind": "MD",
        "face_to_face_findings": "Heart failure exacerbation; short of breath walking 10 feet.",
        "homebound": True,
        "homebound_reason": "Needs a walker and another person to leave home (criterion one); "
        "short of breath after 10 feet, leaving home is a taxing effort (criterion two).",
        "prognosis": "fair",
        "rehab_potential": "Good for return to walking indoors",
        "discharge_plans": "Discharge to self care when weight is stable",
        "safety_measures": "Fall precautions; clear pathways",
        "nutritional_requirements": "2 g sodium diet; 1.5 L fluid limit",
        "equipment_supplies": "Walker; bathroom scale",
        "mental_status": "Oriented",
        "functional_limitations": ["6", "A"],
        "activities_permitted": ["3", "B"],
        "surgical_procedure": "None in the last 90 days",
        "notify_if": {"systolic_above": 160, "systolic_below": 90, "weight_gain_day": 3},
        **overrides,
    }
    return plan_of_care.update_plan_of_care(actor, poc, data, poc.version)

"""The FHIR mapping, type by type: what goes out is valid US Core-shaped R4, what comes in is
the Careway rows a user expects, and bad input is refused naming the element."""

import uuid
from datetime import UTC, date, datetime

import pytest

from careway.core import audit
from careway.fhir import codes
from careway.fhir.mapping import Invalid, NotSupported, from_fhir, to_fhir
from careway.patients import services
from careway.patients.models import Condition, Observation, Patient
from tests.fhir.validate import assert_valid_r4

pytestmark = pytest.mark.django_db

SUBJECT = {"reference": "urn:uuid:0d6f7d8e-0000-4000-8000-000000000001"}


def actor(world):
    return audit.Actor(user=world.cm)


def full_patient(world) -> Patient:
    return services.update_patient(
        actor(world),
        world.patient,
        {
            "middle_name": "Rose Ann",
            "preferred_name": "Peggy",
            "gender_identity": "Woman",
            "pronouns": "she/her",
            "preferred_language": "es-MX",
            "interpreter_needed": True,
            "address_line": "12 Elm Street",
            "address_line2": "Apt 3",
            "city": "Springfield",
            "state": "MA",
            "postal_code": "01101",
            "latitude": 42.1,
            "longitude": -72.59,
            "phone_home": "555-0100",
            "phone_mobile": "555-0101",
            "email": "peggy@example.org",
            "medicare_number": "1EG4TE5MK73",
            "medicaid_number": "MA-778899",
            "code_status": "dnr",
            "advance_directive": "polst",
            "what_matters_most": "Staying in my own home with my cat.",
        },
        world.patient.version,
    )


# --- Patient ---------------------------------------------------------------------------------


def test_patient_goes_out_as_us_core_patient(world):
    patient = full_patient(world)
    resource = to_fhir("Patient", patient)
    assert_valid_r4(resource)
    assert resource["id"] == str(patient.pk)
    assert resource["meta"]["versionId"] == str(patient.version) == "2"
    assert resource["meta"]["lastUpdated"].startswith(str(patient.updated_at.date()))
    mrn = resource["identifier"][0]
    assert mrn["system"] == codes.mrn_system(world.org.pk)
    assert mrn["value"] == patient.mrn
    assert mrn["type"]["coding"][0]["code"] == "MR"
    assert {"system": codes.US_MBI, "value": "1EG4TE5MK73"}.items() <= resource["identifier"][
        1
    ].items()
    assert resource["name"][0] == {
        "use": "official",
        "family": "Hale",
        "given": ["Margaret", "Rose Ann"],
    }
    assert resource["gender"] == "female"
    assert resource["birthDate"] == "1940-03-14"
    extensions = {e["url"]: e for e in resource["extension"]}
    assert extensions[codes.US_CORE_BIRTHSEX]["valueCode"] == "F"
    assert extensions[codes.INTERPRETER_REQUIRED]["valueBoolean"] is True
    assert extensions[codes.US_CORE_GENDER_IDENTITY]["valueCodeableConcept"]["text"] == "Woman"
    assert extensions[codes.careway_extension("code-status")]["valueCode"] == "dnr"
    assert resource["communication"][0]["language"]["coding"][0] == {
        "system": codes.LANGUAGE,
        "code": "es-MX",
    }
    address = resource["address"][0]
    assert address["line"] == ["12 Elm Street", "Apt 3"] and address["state"] == "MA"
    geo = address["extension"][0]
    assert geo["url"] == codes.GEOLOCATION
    assert {"url": "latitude", "valueDecimal": 42.1} in geo["extension"]
    assert {"system": "phone", "value": "555-0101", "use": "mobile"} in resource["telecom"]


def test_patient_comes_back_with_every_field(world):
    patient = full_patient(world)
    incoming = from_fhir(to_fhir("Patient", patient))
    assert incoming.model is Patient and incoming.subject == ""
    assert incoming.source_id == str(patient.pk)
    row = incoming.rows[0]
    for name, value in row.items():
        assert getattr(patient, name) == value, name
    assert (codes.mrn_system(world.org.pk), patient.mrn) in incoming.identifiers
    assert "organization" not in row and "version" not in row and "branch" not in row


def minimal_patient(**extra):
    return {
        "resourceType": "Patient",
        "id": "p-1",
        "name": [{"family": "Ruiz", "given": ["Ana"]}],
        "birthDate": "1931-02-03",
        **extra,
    }


def test_patient_mrn_is_the_mr_identifier_else_the_resource_id():
    assert from_fhir(minimal_patient()).rows[0]["mrn"] == "p-1"
    mr = {
        "type": {"coding": [{"system": codes.IDENTIFIER_TYPE, "code": "MR"}]},
        "system": "http://hospital.example/mrn",
        "value": "H-555",
    }
    other = {"system": "http://other.example", "value": "zzz"}
    incoming = from_fhir(minimal_patient(identifier=[other, mr]))
    assert incoming.rows[0]["mrn"] == "H-555"
    assert incoming.identifiers == [("http://other.example", "zzz"), (mr["system"], "H-555")]


def test_patient_state_written_out_becomes_its_two_letter_code():
    resource = minimal_patient(address=[{"line": ["1 Main St"], "state": "Massachusetts"}])
    assert from_fhir(resource).rows[0]["state"] == "MA"
    resource["address"][0]["state"] = "Atlantis"
    with pytest.raises(Invalid) as err:
        from_fhir(resource)
    assert err.value.path == "Patient.address[0].state"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"birthDate": None}, "Patient.birthDate"),
        ({"name": []}, "Patient.name"),
        ({"name": [{"given": ["Ana"]}]}, "Patient.name[0].family"),
        ({"birthDate": "1931-02-30"}, "Patient.birthDate"),
        ({"gender": "woman"}, "Patient.gender"),
        ({"name": "Ana Ruiz"}, "Patient.name"),
        ({"name": [{"family": "R" * 101, "given": ["Ana"]}]}, "Patient.name.family"),
        (
            {"identifier": [{"system": codes.US_MBI, "value": "1EG4TE5MK73X"}]},
            "Patient.identifier.value",
        ),
    ],
)
def test_patient_that_careway_cannot_take_is_refused_naming_the_element(change, path):
    resource = {k: v for k, v in {**minimal_patient(), **change}.items() if v is not None}
    with pytest.raises(Invalid) as err:
        from_fhir(resource)
    assert err.value.path == path


# --- Condition -------------------------------------------------------------------------------


def test_condition_goes_out_as_us_core_condition(world):
    condition = services.add_condition(
        actor(world),
        world.patient,
        {
            "code_system": codes.ICD10CM,
            "code": "I50.9",
            "display": "Heart failure, unspecified",
            "onset_date": date(2021, 6, 1),
            "is_primary": True,
        },
    )
    resource = to_fhir("Condition", condition)
    assert_valid_r4(resource)
    assert resource["id"] == str(condition.pk)
    assert resource["subject"] == {"reference": f"Patient/{world.patient.pk}"}
    assert resource["clinicalStatus"]["coding"][0] == {
        "system": codes.CONDITION_CLINICAL,
        "code": "active",
    }
    assert resource["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert resource["category"][0]["coding"][0]["code"] == "problem-list-item"
    assert resource["code"]["coding"][0] == {
        "system": codes.ICD10CM,
        "code": "I50.9",
        "display": "Heart failure, unspecified",
    }
    assert resource["onsetDateTime"] == "2021-06-01"
    row = from_fhir(resource).rows[0]
    assert row["is_primary"] is True and row["onset_date"] == date(2021, 6, 1)


def test_condition_prefers_snomed_and_keeps_an_unknown_category_on_the_problem_list():
    incoming = from_fhir(
        {
            "resourceType": "Condition",
            "code": {
                "coding": [
                    {"system": "http://example.org/local", "code": "X1", "display": "Local"},
                    {"system": codes.SNOMED, "code": "44054006", "display": "Diabetes type 2"},
                ]
            },
            "category": [{"coding": [{"system": "http://example.org/cat", "code": "zz"}]}],
            "subject": SUBJECT,
            "onsetPeriod": {"start": "2019-04-02T10:00:00-05:00"},
        }
    )
    row = incoming.rows[0]
    assert (row["code_system"], row["code"], row["display"]) == (
        codes.SNOMED,
        "44054006",
        "Diabetes type 2",
    )
    assert row["category"] == "problem-list-item"
    assert row["onset_date"] == date(2019, 4, 2)
    assert incoming.subject == SUBJECT["reference"]


def test_condition_without_a_code_or_with_an_unknown_status_is_refused():
    with pytest.raises(Invalid) as err:
        from_fhir({"resourceType": "Condition", "subject": SUBJECT})
    assert err.value.path == "Condition.code"
    with pytest.raises(Invalid) as err:
        from_fhir(
            {
                "resourceType": "Condition",
                "code": {"text": "Fall"},
                "clinicalStatus": {"coding": [{"system": codes.CONDITION_CLINICAL, "code": "x"}]},
            }
        )
    assert err.value.path == "Condition.clinicalStatus"


# --- Observation -----------------------------------------------------------------------------


def test_vital_sign_goes_out_with_ucum_quantity(world):
    obs = services.record_observation(
        actor(world),
        world.patient,
        {
            "category": "vital-signs",
            "code_system": codes.LOINC,
            "code": "8867-4",
            "display": "Heart rate",
            "effective_at": datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
            "value": 72,
            "unit": "/min",
        },
    )
    resource = to_fhir("Observation", obs)
    assert_valid_r4(resource)
    assert resource["status"] == "final"
    assert resource["category"][0]["coding"][0]["code"] == "vital-signs"
    assert resource["code"]["coding"][0]["system"] == codes.LOINC
    assert resource["effectiveDateTime"] == "2025-03-01T09:30:00+00:00"
    assert resource["valueQuantity"] == {
        "value": 72,
        "unit": "/min",
        "system": codes.UCUM,
        "code": "/min",
    }


def blood_pressure(world, systolic=142, diastolic=88):
    rows = [
        {
            "category": "vital-signs",
            "code_system": codes.LOINC,
            "code": code,
            "display": display,
            "effective_at": datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
            "value": value,
            "unit": "mm[Hg]",
        }
        for code, display, value in (
            ("8462-4", "Diastolic blood pressure", diastolic),
            ("8480-6", "Systolic blood pressure", systolic),
        )
    ]
    return services.record_observations(actor(world), world.patient, rows)


def test_blood_pressure_goes_out_as_one_panel_with_two_components(world):
    diastolic, systolic = blood_pressure(world)
    resource = to_fhir("Observation", diastolic, members=[systolic])
    assert_valid_r4(resource)
    assert resource["id"] == str(systolic.panel_id)
    assert resource["code"]["coding"][0]["code"] == "85354-9"
    assert "valueQuantity" not in resource
    components = [
        (c["code"]["coding"][0]["code"], c["valueQuantity"]["value"]) for c in resource["component"]
    ]
    assert components == [("8480-6", 142), ("8462-4", 88)]
    # Given one member alone, the mapping finds the other.
    assert to_fhir("Observation", systolic) == resource


def test_panel_comes_in_as_one_row_per_component_naming_the_panel():
    incoming = from_fhir(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": codes.LOINC, "code": "85354-9"}]},
            "subject": SUBJECT,
            "encounter": {"reference": "Encounter/7"},
            "effectiveDateTime": "2024-05-06T07:08:09Z",
            "component": [
                {
                    "code": {"coding": [{"system": codes.LOINC, "code": "8480-6"}]},
                    "valueQuantity": {"value": 120, "system": codes.UCUM, "code": "mm[Hg]"},
                },
                {
                    "code": {"coding": [{"system": codes.LOINC, "code": "8462-4"}]},
                    "valueQuantity": {"value": 80, "system": codes.UCUM, "code": "mm[Hg]"},
                },
                {
                    "code": {"coding": [{"system": codes.LOINC, "code": "8478-0"}]},
                    "dataAbsentReason": {"text": "not measured"},
                },
            ],
        }
    )
    assert [(r["code"], r["value"], r["panel_code"]) for r in incoming.rows] == [
        ("8480-6", 120.0, "85354-9"),
        ("8462-4", 80.0, "85354-9"),
    ]
    assert all(r["category"] == "vital-signs" for r in incoming.rows)
    assert incoming.references == {"encounter": "Encounter/7"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"valueCodeableConcept": {"coding": [{"code": "8517006", "display": "Former smoker"}]}},
            (None, "", "Former smoker"),
        ),
        ({"valueString": "trace"}, (None, "", "trace")),
        ({"valueInteger": 3}, (3.0, "", "")),
        ({"valueBoolean": False}, (None, "", "false")),
        (
            {"valueQuantity": {"value": 5, "comparator": "<", "unit": "mg/dL"}},
            (None, "", "<5 mg/dL"),
        ),
        (
            {"valueRange": {"low": {"value": 1}, "high": {"value": 2.5, "unit": "g"}}},
            (None, "", "1 to 2.5 g"),
        ),
    ],
)
def test_observation_values_of_every_kind_are_kept(value, expected):
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {"coding": [{"system": codes.OBSERVATION_CATEGORY, "code": "social-history"}]}
        ],
        "code": {"coding": [{"system": codes.LOINC, "code": "72166-2"}], "text": "Smoking"},
        "effectiveDateTime": "2024-05-06",
        **value,
    }
    row = from_fhir(resource).rows[0]
    assert (row["value"], row["unit"], row["value_text"]) == expected
    assert row["effective_at"] == datetime(2024, 5, 6, tzinfo=UTC)
    assert row["display"] == "Smoking"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"effectiveDateTime": None}, "Observation.effective[x]"),
        ({"code": None}, "Observation.code"),
        ({"effectiveDateTime": "2024-05-06T07:08:09"}, "Observation.effectiveDateTime"),
        ({"valueQuantity": {"value": "72"}}, "Observation.valueQuantity.value"),
        ({"valueString": "x" * 201}, "Observation.value[x]"),
        ({"status": "done"}, "Observation.status"),
        (
            {"code": {"coding": [{"system": codes.LOINC, "code": "1" * 41}]}},
            "Observation.code.coding.code",
        ),
        ({"valueSampledData": {"data": "1 2 3"}}, "Observation.valueSampledData"),
    ],
)
def test_observation_that_careway_cannot_take_is_refused_naming_the_element(change, path):
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": codes.LOINC, "code": "8867-4"}]},
        "effectiveDateTime": "2024-05-06T07:08:09+02:00",
        **change,
    }
    with pytest.raises(Invalid) as err:
        from_fhir({k: v for k, v in resource.items() if v is not None})
    assert err.value.path == path


# --- the contract ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["Claim", "ExplanationOfBenefit", "DiagnosticReport", "Organization", "Practitioner"]
)
def test_types_careway_does_not_take_in_raise_not_supported(kind):
    with pytest.raises(NotSupported):
        from_fhir({"resourceType": kind, "id": str(uuid.uuid4())})


@pytest.mark.parametrize("resource", [{}, {"resourceType": ""}, [], "Patient"])
def test_a_resource_without_a_type_is_invalid(resource):
    with pytest.raises(Invalid) as err:
        from_fhir(resource)
    assert err.value.path == "resourceType"


def test_entered_in_error_condition_has_no_clinical_status(world):
    condition = services.add_condition(
        actor(world),
        world.patient,
        {"display": "Wrong patient", "verification_status": "entered-in-error"},
    )
    resource = to_fhir("Condition", condition)
    assert_valid_r4(resource)
    assert "clinicalStatus" not in resource
    assert (
        from_fhir(resource).rows[0]["verification_status"]
        == Condition.Verification.ENTERED_IN_ERROR
    )


def test_observation_id_is_its_pk_and_references_are_relative(world):
    obs = services.record_observation(
        actor(world),
        world.patient,
        {
            "category": "laboratory",
            "code_system": codes.LOINC,
            "code": "2345-7",
            "display": "Glucose",
            "effective_at": datetime(2025, 1, 2, tzinfo=UTC),
            "value": 101,
            "unit": "mg/dL",
        },
    )
    resource = to_fhir("Observation", obs)
    assert resource["id"] == str(obs.pk)
    assert resource["subject"]["reference"] == f"Patient/{world.patient.pk}"
    assert Observation.objects.get(pk=obs.pk).panel_id is None


def test_partial_dates_read_as_their_first_day_but_a_birth_date_must_be_whole():
    condition = from_fhir(
        {"resourceType": "Condition", "code": {"text": "Gout"}, "onsetDateTime": "2012"}
    )
    assert condition.rows[0]["onset_date"] == date(2012, 1, 1)
    observation = from_fhir(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "Weight"},
            "effectiveDateTime": "2012-07",
        }
    )
    assert observation.rows[0]["effective_at"] == datetime(2012, 7, 1, tzinfo=UTC)
    with pytest.raises(Invalid) as err:
        from_fhir(minimal_patient(birthDate="1931"))
    assert err.value.path == "Patient.birthDate"
    with pytest.raises(Invalid) as err:
        from_fhir(
            {"resourceType": "Condition", "code": {"text": "Gout"}, "onsetDateTime": "2012-01-01Tx"}
        )
    assert err.value.path == "Condition.onsetDateTime"


@pytest.mark.parametrize(
    ("code", "value", "unit", "expected", "chart_unit"),
    [
        ("29463-7", 90.0, "kg", 198.4160, "[lb_av]"),
        ("8331-1", 37.0, "Cel", 98.6, "[degF]"),
        ("8310-5", 101.2, "[degF]", 101.2, "[degF]"),
        ("8302-2", 170.0, "cm", 170.0, "cm"),  # height: not a sign Careway charts; as it came
    ],
)
def test_a_vital_sign_in_another_unit_is_kept_in_the_unit_careway_charts(
    code, value, unit, expected, chart_unit
):
    from careway.fhir.mapping import from_fhir

    (row,) = from_fhir(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2026-11-20T10:00:00Z",
            "valueQuantity": {
                "value": value,
                "unit": unit,
                "system": "http://unitsofmeasure.org",
                "code": unit,
            },
        }
    ).rows
    assert row["value"] == pytest.approx(expected, abs=1e-3) and row["unit"] == chart_unit

"""Creating and updating Patient and Observation through FHIR: versions and their headers, the
If-Match rule (428 without it, 412 when stale and nothing changes), history for vread, the
service's audit, who may write (403 read-only, 404 not yours), and bad resources named."""

import copy
import json

import pytest
from django.test import Client

from careway.core.models import AuditEvent
from careway.patients.models import Observation, Patient, RecordVersion
from tests.factories import make_patient
from tests.fhir.api_client import (
    blood_pressure,
    encounter,
    fhir_as,
    issue_of,
    resource_of,
    vital,
)

pytestmark = pytest.mark.django_db


def new_patient(mrn: str = "FHIR-001") -> dict:
    return {
        "resourceType": "Patient",
        "identifier": [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                    ]
                },
                "value": mrn,
            }
        ],
        "name": [{"use": "official", "family": "Quinn", "given": ["Rosa"]}],
        "gender": "female",
        "birthDate": "1944-08-09",
        "address": [{"use": "home", "line": ["4 Oak Lane"], "city": "Troy", "state": "NY"}],
    }


def heart_rate(patient_id, value: float = 77) -> dict:
    return {
        "resourceType": "Observation",
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
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": "2026-05-03T14:30:00+00:00",
        "valueQuantity": {
            "value": value,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


def bp_panel(patient_id, systolic: float = 131, diastolic: float = 82) -> dict:
    resource = heart_rate(patient_id)
    del resource["valueQuantity"]
    resource["code"] = {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}
    resource["component"] = [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {
                "value": value,
                "unit": "mm[Hg]",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        }
        for code, value in (("8480-6", systolic), ("8462-4", diastolic))
    ]
    return resource


# --- create Patient -------------------------------------------------------------------------------


def test_a_case_manager_registers_a_patient(world):
    fhir = fhir_as(world.cm)
    response = fhir.post("Patient", new_patient())
    created = resource_of(response, 201)
    patient = Patient.objects.get(pk=created["id"])
    assert (patient.family_name, patient.mrn, patient.city) == ("Quinn", "FHIR-001", "Troy")
    assert patient.branch == world.branch and patient.organization == world.org
    assert response["Location"] == f"http://testserver/fhir/R4/Patient/{patient.pk}/_history/1"
    assert response["ETag"] == 'W/"1"' and response["Last-Modified"].endswith("GMT")
    event = AuditEvent.objects.get(action="patient.create", patient_id=patient.pk)
    assert event.actor_id == world.cm.pk and event.detail == {"via": "fhir"}
    # The person who registers a patient is on their team, so they can read them back.
    assert resource_of(fhir.get(f"Patient/{patient.pk}"))["name"][0]["family"] == "Quinn"
    assert resource_of(fhir_as(world.outsider).get("Patient"))["total"] == 1  # only Otto


@pytest.mark.parametrize("who", ["scheduler", "rn", "auditor", "admin"])
def test_roles_that_may_not_register_patients_get_403_and_are_audited(world, who):
    fhir = fhir_as(getattr(world, who))
    before = Patient.objects.count()
    issue = issue_of(fhir.post("Patient", new_patient()), 403)
    assert issue["code"] == "forbidden"
    assert Patient.objects.count() == before
    denied = AuditEvent.objects.filter(action="patient.create", outcome="denied")
    assert denied.filter(actor_id=getattr(world, who).pk).exists()


@pytest.mark.parametrize(
    ("change", "status", "expression"),
    [
        (lambda r: r.pop("birthDate"), 400, "Patient.birthDate"),
        (lambda r: r.pop("name"), 400, "Patient.name"),
        (lambda r: r.update(gender="f"), 400, "Patient.gender"),
        (lambda r: r.update(birthDate="1944-13-01"), 400, "Patient.birthDate"),
        (lambda r: r.update(resourceType="Observation"), 400, "resourceType"),
        (lambda r: r["name"][0].update(family="x" * 101), 400, "Patient.name.family"),
    ],
)
def test_a_bad_patient_is_refused_naming_the_element(world, change, status, expression):
    resource = new_patient()
    change(resource)
    before = Patient.objects.count()
    issue = issue_of(fhir_as(world.cm).post("Patient", resource), status)
    assert expression in issue["expression"][0]
    assert Patient.objects.count() == before


def test_a_second_patient_with_the_same_mrn_is_a_duplicate(world):
    fhir = fhir_as(world.cm)
    resource_of(fhir.post("Patient", new_patient("DUP-1")), 201)
    issue = issue_of(fhir.post("Patient", new_patient("DUP-1")), 400)
    assert issue["code"] == "duplicate" and issue["expression"] == ["Patient.identifier.value"]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/fhir+json", 400),
        ("[1, 2]", "application/fhir+json", 400),
        ('{"resourceType": "Patient", "birthDate": NaN}', "application/fhir+json", 400),
        ("resourceType=Patient", "application/x-www-form-urlencoded", 415),
        ("<Patient/>", "application/fhir+xml", 415),
    ],
)
def test_a_body_that_is_not_a_fhir_json_resource_is_refused(world, body, content_type, status):
    response = fhir_as(world.cm).post("Patient", body, content_type=content_type)
    assert issue_of(response, status)["severity"] == "error"


def test_plain_json_is_accepted_too(world):
    response = fhir_as(world.cm).post("Patient", new_patient(), content_type="application/json")
    assert response.status_code == 201


def test_only_patient_and_observation_are_written(world):
    response = fhir_as(world.cm).post("Condition", {"resourceType": "Condition"})
    assert issue_of(response, 405)["code"] == "not-supported"
    assert response["Allow"] == "GET"


# --- update Patient -------------------------------------------------------------------------------


def current(fhir, path: str) -> dict:
    return resource_of(fhir.get(path))


def test_an_update_with_the_version_read_makes_the_next_version(world):
    fhir = fhir_as(world.cm)
    path = f"Patient/{world.patient.pk}"
    resource = current(fhir, path)
    resource["address"] = [{"use": "home", "line": ["9 River Rd"], "city": "Albany"}]
    response = fhir.put(path, resource, if_match='W/"1"')
    updated = resource_of(response)
    assert updated["meta"]["versionId"] == "2" and response["ETag"] == 'W/"2"'
    assert response["Location"].endswith(f"{path}/_history/2")
    assert Patient.objects.get(pk=world.patient.pk).city == "Albany"
    assert "address" not in current(fhir, f"{path}/_history/1")
    event = AuditEvent.objects.get(action="patient.update")
    assert event.detail["version"] == 2 and "city" in event.detail["fields"]


def test_an_update_replaces_the_whole_resource(world):
    fhir = fhir_as(world.cm)
    path = f"Patient/{world.patient.pk}"
    resource = current(fhir, path)
    resource["telecom"] = [{"system": "phone", "value": "555-0199", "use": "home"}]
    resource_of(fhir.put(path, resource, if_match='W/"1"'))
    del resource["telecom"]
    resource_of(fhir.put(path, resource, if_match='W/"2"'))
    assert Patient.objects.get(pk=world.patient.pk).phone_home == ""


def test_an_update_without_if_match_is_428_and_changes_nothing(world):
    fhir = fhir_as(world.cm)
    path = f"Patient/{world.patient.pk}"
    resource = current(fhir, path)
    resource["name"][0]["family"] = "Changed"
    issue = issue_of(fhir.put(path, resource), 428)
    assert issue["expression"] == ["If-Match"]
    assert Patient.objects.get(pk=world.patient.pk).family_name == "Hale"


@pytest.mark.parametrize("tag", ['W/"x"', "", 'W/"0"', '"99999999999"'])
def test_an_unreadable_if_match_is_400(world, tag):
    fhir = fhir_as(world.cm)
    path = f"Patient/{world.patient.pk}"
    issue = issue_of(fhir.put(path, current(fhir, path), if_match=tag), 400)
    assert issue["expression"] == ["If-Match"]


def test_a_stale_version_is_412_and_nothing_changes(world):
    fhir = fhir_as(world.cm)
    path = f"Patient/{world.patient.pk}"
    mine = current(fhir, path)
    theirs = copy.deepcopy(mine)
    theirs["name"][0]["family"] = "Hale-Smith"
    resource_of(fhir.put(path, theirs, if_match='W/"1"'))
    mine["name"][0]["family"] = "Mine"
    response = fhir.put(path, mine, if_match='W/"1"')
    issue = issue_of(response, 412)
    assert issue["code"] == "conflict" and "version 2" in issue["diagnostics"]
    assert response["ETag"] == 'W/"2"'
    patient = Patient.objects.get(pk=world.patient.pk)
    assert (patient.family_name, patient.version) == ("Hale-Smith", 2)
    # Both versions still read back; quoting the ETag without W/ works as well.
    resource_of(fhir.put(path, {**mine, "meta": {}}, if_match='"2"'))
    assert Patient.objects.get(pk=world.patient.pk).family_name == "Mine"
    assert RecordVersion.objects.filter(record_id=str(patient.pk)).count() == 2


def test_the_id_in_the_body_must_be_the_id_in_the_url(world):
    fhir = fhir_as(world.cm)
    path = f"Patient/{world.patient.pk}"
    resource = current(fhir, path)
    for wrong in (str(world.outsider_patient.pk), None):
        body = (
            {**resource, "id": wrong} if wrong else {k: v for k, v in resource.items() if k != "id"}
        )
        issue = issue_of(fhir.put(path, body, if_match='W/"1"'), 400)
        assert issue["expression"] == ["Patient.id"]
    assert Patient.objects.get(pk=world.patient.pk).version == 1


@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_updating_a_patient_not_yours_is_404_and_changes_nothing(world, who):
    cm_view = current(fhir_as(world.cm), f"Patient/{world.patient.pk}")
    cm_view["name"][0]["family"] = "Taken"
    fhir = fhir_as(getattr(world, who))
    issue = issue_of(fhir.put(f"Patient/{world.patient.pk}", cm_view, if_match='W/"1"'), 404)
    assert issue["code"] == "not-found"
    assert Patient.objects.get(pk=world.patient.pk).family_name == "Hale"
    assert AuditEvent.objects.filter(action="patient.edit", outcome="denied").exists()


def test_a_read_only_team_member_may_not_update(world):
    resource = current(fhir_as(world.cm), f"Patient/{world.patient.pk}")
    fhir = fhir_as(world.scheduler)
    issue = issue_of(fhir.put(f"Patient/{world.patient.pk}", resource, if_match='W/"1"'), 403)
    assert issue["code"] == "forbidden"
    assert Patient.objects.get(pk=world.patient.pk).version == 1


# --- Observation ----------------------------------------------------------------------------------


def test_a_nurse_on_the_team_records_an_observation(world):
    fhir = fhir_as(world.rn)
    response = fhir.post("Observation", heart_rate(world.patient.pk))
    created = resource_of(response, 201)
    row = Observation.objects.get(pk=created["id"])
    assert (row.patient_id, row.code, row.value, row.panel_id) == (
        world.patient.pk,
        "8867-4",
        77,
        None,
    )
    assert row.recorded_by == world.rn
    assert response["Location"].endswith(f"/Observation/{row.pk}/_history/1")
    event = AuditEvent.objects.get(action="observation.create")
    assert event.patient_id == world.patient.pk and event.actor_id == world.rn.pk


def test_a_blood_pressure_is_recorded_as_one_panel(world):
    created = resource_of(fhir_as(world.cm).post("Observation", bp_panel(world.patient.pk)), 201)
    rows = list(Observation.objects.filter(patient=world.patient).order_by("code"))
    assert [(r.code, r.value) for r in rows] == [("8462-4", 82), ("8480-6", 131)]
    assert {str(r.panel_id) for r in rows} == {created["id"]}
    assert {r.panel_code for r in rows} == {"85354-9"}
    assert len(created["component"]) == 2


def test_a_single_systolic_reading_stays_a_single_observation(world):
    resource = heart_rate(world.patient.pk, 140)
    resource["code"] = {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}
    created = resource_of(fhir_as(world.cm).post("Observation", resource), 201)
    assert created["code"]["coding"][0]["code"] == "8480-6" and "component" not in created


@pytest.mark.parametrize(
    ("subject", "status"),
    [("outsider_patient", 404), (None, 400), ("Practitioner/1", 400), ("Patient/nope", 404)],
)
def test_an_observation_must_be_about_a_patient_you_may_edit(world, subject, status):
    resource = heart_rate(world.patient.pk)
    if subject is None:
        del resource["subject"]
    elif subject == "outsider_patient":
        resource["subject"]["reference"] = f"Patient/{world.outsider_patient.pk}"
    else:
        resource["subject"]["reference"] = subject
    issue_of(fhir_as(world.cm).post("Observation", resource), status)
    assert not Observation.objects.exists()


def test_a_read_only_team_member_may_not_record_observations(world):
    issue = issue_of(
        fhir_as(world.scheduler).post("Observation", heart_rate(world.patient.pk)), 403
    )
    assert issue["code"] == "forbidden"
    assert not Observation.objects.exists()


def test_an_observation_names_its_encounter_only_among_the_patients(world):
    theirs = encounter(world.outsider_patient)
    resource = heart_rate(world.patient.pk)
    resource["encounter"] = {"reference": f"Encounter/{theirs.pk}"}
    issue = issue_of(fhir_as(world.cm).post("Observation", resource), 400)
    assert issue["expression"] == ["Observation.encounter"]
    ours = encounter(world.patient)
    resource["encounter"] = {"reference": f"Encounter/{ours.pk}"}
    created = resource_of(fhir_as(world.cm).post("Observation", resource), 201)
    assert created["encounter"] == {"reference": f"Encounter/{ours.pk}"}


def test_an_invalid_observation_names_the_element(world):
    resource = heart_rate(world.patient.pk)
    del resource["effectiveDateTime"]
    issue = issue_of(fhir_as(world.cm).post("Observation", resource), 400)
    assert issue["expression"] == ["Observation.effective[x]"]
    resource = heart_rate(world.patient.pk)
    resource["status"] = "preliminary"  # FHIR knows it; Careway's records do not
    issue = issue_of(fhir_as(world.cm).post("Observation", resource), 400)
    assert "status" in issue["diagnostics"]
    assert not Observation.objects.exists()


def test_an_observation_update_keeps_the_old_version(world):
    pulse = vital(world.patient, "8867-4", 70)
    fhir = fhir_as(world.cm)
    path = f"Observation/{pulse.pk}"
    resource = current(fhir, path)
    resource["valueQuantity"]["value"] = 74
    response = fhir.put(path, resource, if_match='W/"1"')
    assert resource_of(response)["valueQuantity"]["value"] == 74
    assert response["ETag"] == 'W/"2"'
    assert current(fhir, f"{path}/_history/1")["valueQuantity"]["value"] == 70
    assert AuditEvent.objects.filter(action="observation.update", object_id=str(pulse.pk)).exists()
    issue = issue_of(fhir.put(path, resource, if_match='W/"1"'), 412)
    assert issue["code"] == "conflict"
    assert issue_of(fhir.put(path, resource), 428)["code"] == "required"


def test_a_panel_update_moves_both_members_to_the_next_version(world):
    systolic, _ = blood_pressure(world.patient, 128, 76)
    fhir = fhir_as(world.cm)
    path = f"Observation/{systolic.panel_id}"
    resource = current(fhir, path)
    resource["component"][0]["valueQuantity"]["value"] = 135  # systolic
    updated = resource_of(fhir.put(path, resource, if_match='W/"1"'))
    assert updated["meta"]["versionId"] == "2"
    rows = {o.code: o for o in Observation.objects.filter(panel_id=systolic.panel_id)}
    assert (rows["8480-6"].value, rows["8480-6"].version) == (135, 2)
    assert (rows["8462-4"].value, rows["8462-4"].version) == (76, 2)
    old = current(fhir, f"{path}/_history/1")
    assert [c["valueQuantity"]["value"] for c in old["component"]] == [128, 76]


def test_a_panel_update_cannot_add_or_drop_a_measurement(world):
    systolic, _ = blood_pressure(world.patient, 128, 76)
    fhir = fhir_as(world.cm)
    path = f"Observation/{systolic.panel_id}"
    resource = current(fhir, path)
    resource["component"] = resource["component"][:1]
    issue = issue_of(fhir.put(path, resource, if_match='W/"1"'), 400)
    assert issue["expression"] == ["Observation.component"]
    assert Observation.objects.filter(panel_id=systolic.panel_id, version=1).count() == 2


def test_an_observation_cannot_move_to_another_patient(world):
    pulse = vital(world.patient, "8867-4", 70)
    second = make_patient(world.branch, world.cm, given_name="Second")
    fhir = fhir_as(world.cm)
    resource = current(fhir, f"Observation/{pulse.pk}")
    resource["subject"]["reference"] = f"Patient/{second.pk}"
    issue = issue_of(fhir.put(f"Observation/{pulse.pk}", resource, if_match='W/"1"'), 400)
    assert issue["expression"] == ["Observation.subject"]
    assert Observation.objects.get(pk=pulse.pk).patient_id == world.patient.pk


@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_observations_not_yours_are_404_to_update(world, who):
    pulse = vital(world.patient, "8867-4", 70)
    resource = current(fhir_as(world.cm), f"Observation/{pulse.pk}")
    resource["valueQuantity"]["value"] = 1
    fhir = fhir_as(getattr(world, who))
    issue_of(fhir.put(f"Observation/{pulse.pk}", resource, if_match='W/"1"'), 404)
    assert Observation.objects.get(pk=pulse.pk).value == 70


def test_anonymous_writes_are_401(world):
    anonymous = fhir_as(None)
    issue_of(anonymous.post("Observation", heart_rate(world.patient.pk)), 401)
    issue_of(anonymous.put(f"Patient/{world.patient.pk}", new_patient(), if_match='W/"1"'), 401)
    assert not Observation.objects.exists()


def odd_bodies(patient_id) -> list[tuple[str, str]]:
    """(type, raw JSON) that a careless or hostile client might send."""
    pulse = heart_rate(patient_id)
    odd = [
        (
            "Patient",
            '{"resourceType": "Patient", "name": [{"family": "A\\u0000B", "given": ["C"]}]}',
        ),
        ("Patient", '{"resourceType": "Patient", "name": [{"family": "\\ud800", "given": ["C"]}]}'),
        ("Patient", '{"resourceType": "Patient", "birthDate": 1944}'),
        ("Patient", '{"resourceType": "Patient", "name": "Rosa"}'),
        ("Patient", '{"resourceType": "Patient", "name": [null]}'),
        ("Patient", "[" * 5000 + "]" * 5000),
        ("Patient", '{"resourceType": "Patient", "birthDate": "0000-01-01"}'),
        ("Observation", '{"resourceType": "Observation", "valueQuantity": {"value": 1e400}}'),
    ]
    for change in (
        {"effectiveDateTime": "0001-01-01T00:00:00+05:00"},
        {"effectiveDateTime": "9999-12-31T23:59:59-05:00"},
        {"effectiveDateTime": "2026-05-03T14:30:00"},
        {"valueQuantity": {"value": "77"}},
        {"valueQuantity": {"value": 1e300, "unit": "x" * 500}},
        {"subject": "Patient/1"},
        {"subject": {"reference": 5}},
        {"code": {"coding": [{"code": "x" * 100}]}},
        {"status": ["final"]},
        {"category": "vital-signs"},
        {"encounter": {"reference": "Encounter/99999999999999999999"}},
        {"component": [{"code": {}}]},
    ):
        odd.append(("Observation", json.dumps({**pulse, **change})))
    return odd


def test_odd_bodies_are_refused_with_an_outcome_never_an_error(world):
    fhir = fhir_as(world.cm)
    for kind, raw in odd_bodies(world.patient.pk):
        response = fhir.post(kind, raw)
        assert 400 <= response.status_code < 500, (raw[:120], response.content[:300])
        assert response.json()["resourceType"] == "OperationOutcome"
    assert not Observation.objects.exists()
    assert Patient.objects.count() == 2  # the world's two


def test_a_body_larger_than_careway_accepts_is_413(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    resource = new_patient()
    resource["name"][0]["family"] = "x" * 2000
    assert issue_of(fhir_as(world.cm).post("Patient", resource), 413)["code"] == "too-long"


def test_token_writes_need_no_csrf_token(world):
    fhir = fhir_as(world.cm)
    fhir.client = Client(enforce_csrf_checks=True)
    assert fhir.post("Observation", heart_rate(world.patient.pk)).status_code == 201


# --- repeating elements that become rows ---------------------------------------------------------


def panel_of(patient_id, codes: list[str]) -> dict:
    resource = bp_panel(patient_id)
    template = resource["component"][0]
    resource["component"] = [
        {**template, "code": {"coding": [{"system": "http://loinc.org", "code": code}]}}
        for code in codes
    ]
    return resource


@pytest.mark.parametrize(
    ("codes", "expression"),
    [
        (["8480-6"] * 5000, "Observation.component"),  # the probe's 0.5 MB, 5,001 rows
        ([f"{n}-0" for n in range(51)], "Observation.component"),
        (["8480-6", "8462-4", "8480-6"], "Observation.component[2].code"),
    ],
    ids=["5000 identical", "51", "repeated"],
)
def test_a_panel_of_repeated_or_too_many_components_is_refused_naming_the_element(
    world, codes, expression
):
    issue = issue_of(fhir_as(world.cm).post("Observation", panel_of(world.patient.pk, codes)), 400)
    assert issue["expression"] == [expression]
    assert not Observation.objects.exists()


def test_an_update_may_not_repeat_a_component_either(world):
    systolic, _ = blood_pressure(world.patient, 128, 76)
    fhir = fhir_as(world.cm)
    path = f"Observation/{systolic.panel_id}"
    resource = current(fhir, path)
    resource["component"].append(resource["component"][0])
    issue = issue_of(fhir.put(path, resource, if_match='W/"1"'), 400)
    assert issue["expression"] == ["Observation.component[2].code"]
    assert Observation.objects.filter(panel_id=systolic.panel_id, version=1).count() == 2


@pytest.mark.parametrize(
    ("element", "entry"),
    [
        ("identifier", {"system": "urn:x", "value": "v"}),
        ("name", {"family": "Quinn", "given": ["Rosa"]}),
        ("telecom", {"system": "phone", "value": "555-0100"}),
        ("address", {"line": ["4 Oak Lane"], "city": "Troy", "state": "NY"}),
    ],
)
def test_a_patient_with_too_many_of_a_repeating_element_is_refused_naming_it(world, element, entry):
    body = new_patient()
    body[element] = [*body.get(element, []), *([entry] * 60)]
    fhir = fhir_as(world.cm)
    issue = issue_of(fhir.post("Patient", body), 400)
    assert issue["expression"] == [f"Patient.{element}"]
    issue = issue_of(
        fhir.put(
            f"Patient/{world.patient.pk}", {**body, "id": str(world.patient.pk)}, if_match='W/"1"'
        ),
        400,
    )
    assert issue["expression"] == [f"Patient.{element}"]
    assert Patient.objects.count() == 2 and Patient.objects.get(pk=world.patient.pk).version == 1

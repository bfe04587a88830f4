"""Bulk export (Patient/$export): asynchronous, NDJSON per type, only what the token's user may
see, audited as a disclosure, and only for the user who asked."""

import json

import pytest
from django.test import override_settings

from careway.core.models import AuditEvent
from careway.fhir.models import ExportJob
from tests.fhir.api_client import blood_pressure, condition, fhir_as, full_chart, issue_of
from tests.fhir.validate import assert_valid_r4

pytestmark = pytest.mark.django_db

DUMMY_TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


@pytest.fixture
def data_dir(tmp_path, settings):
    settings.DATA_DIR = tmp_path
    return tmp_path


def kick_off(client, query="", run=True, capture=None):
    from careway.fhir import tasks

    response = client.get(f"Patient/$export{query}", **ASYNC)
    if response.status_code == 202 and run:
        job_id = response["Content-Location"].rstrip("/").rsplit("/", 1)[-1]
        tasks.export_job.call(job_id)
    return response


def status_of(client, response):
    return client.get(response["Content-Location"])


def lines(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+ndjson"
    body = b"".join(response.streaming_content).decode()
    return [json.loads(line) for line in body.splitlines()]


@override_settings(TASKS=DUMMY_TASKS)
def test_an_export_runs_in_the_background_and_lists_ndjson_files(world, data_dir):
    full_chart(world.patient)
    blood_pressure(world.patient, 132, 84)
    cm = fhir_as(world.cm, ("fhir:read",))
    response = kick_off(cm, run=False)
    assert response.status_code == 202
    waiting = status_of(cm, response)
    assert waiting.status_code == 202 and waiting["X-Progress"] == "Waiting to start"

    from careway.fhir import tasks

    job = ExportJob.objects.get()
    assert tasks.export_job.call(str(job.pk)) == ExportJob.Status.DONE
    done = status_of(cm, response)
    assert done.status_code == 200 and "Expires" in done
    manifest = done.json()
    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    files = {item["type"]: item for item in manifest["output"]}
    assert {"Patient", "Condition", "Observation", "MedicationStatement"} <= set(files)
    for kind, item in files.items():
        resources = lines(cm, item["url"])
        assert len(resources) == item["count"] > 0
        for resource in resources:
            assert resource["resourceType"] == kind
            assert_valid_r4(resource)
    (patient,) = lines(cm, files["Patient"]["url"])
    assert patient["id"] == str(world.patient.pk)
    panels = [o for o in lines(cm, files["Observation"]["url"]) if o.get("component")]
    assert panels and all(len(p["component"]) == 2 for p in panels)
    assert any(p["component"][0]["valueQuantity"]["value"] == 132 for p in panels)


def test_only_patients_the_user_may_see_are_exported(world, data_dir):
    condition(world.patient)
    condition(world.outsider_patient)
    outsider = fhir_as(world.outsider, ("fhir:read",))
    manifest = status_of(outsider, kick_off(outsider)).json()
    files = {item["type"]: item for item in manifest["output"]}
    (patient,) = lines(outsider, files["Patient"]["url"])
    assert patient["id"] == str(world.outsider_patient.pk)
    subjects = {c["subject"]["reference"] for c in lines(outsider, files["Condition"]["url"])}
    assert subjects == {f"Patient/{world.outsider_patient.pk}"}


def test_the_export_is_audited_as_a_disclosure_of_each_patient(world, data_dir):
    cm = fhir_as(world.cm, ("fhir:read",))
    response = kick_off(cm)
    job = ExportJob.objects.get()
    events = AuditEvent.objects.filter(action="patient.export")
    assert set(events.values_list("patient_id", flat=True)) == {world.patient.pk}
    assert all(e.detail["job"] == str(job.pk) for e in events)
    assert AuditEvent.objects.filter(action="fhir.export.request", actor_id=world.cm.pk).exists()
    url = status_of(cm, response).json()["output"][0]["url"]
    lines(cm, url)
    assert AuditEvent.objects.filter(action="fhir.export.download", actor_id=world.cm.pk).exists()


def test_types_and_since_narrow_the_export(world, data_dir):
    full_chart(world.patient)
    cm = fhir_as(world.cm, ("fhir:read",))
    manifest = status_of(cm, kick_off(cm, "?_type=Patient,Condition")).json()
    assert {item["type"] for item in manifest["output"]} == {"Patient", "Condition"}
    later = status_of(cm, kick_off(cm, "?_type=Condition&_since=2999-01-01T00:00:00Z")).json()
    assert later["output"] == []


@pytest.mark.parametrize(
    ("query", "headers", "where"),
    [
        ("", {"Accept": "application/fhir+json"}, "Prefer"),
        ("?_type=Claim", ASYNC, "_type"),
        ("?_since=yesterday", ASYNC, "_since"),
        ("?_since=2026-01-01T00:00:00", ASYNC, "_since"),
        ("?_outputFormat=text/csv", ASYNC, "_outputFormat"),
        ("?_typeFilter=Observation%3Fcategory%3Dlaboratory", ASYNC, "_typeFilter"),
    ],
)
def test_bad_requests_are_named_and_start_nothing(world, data_dir, query, headers, where):
    cm = fhir_as(world.cm, ("fhir:read",))
    issue = issue_of(cm.get(f"Patient/$export{query}", **headers), 400)
    assert issue["expression"] == [where]
    assert not ExportJob.objects.exists()


def test_another_user_cannot_see_a_job_or_its_files(world, data_dir):
    cm = fhir_as(world.cm, ("fhir:read",))
    response = kick_off(cm)
    url = status_of(cm, response).json()["output"][0]["url"]
    for who in (world.cm_other, world.outsider):
        other = fhir_as(who, ("fhir:read",))
        assert other.get(response["Content-Location"]).status_code == 404
        assert other.get(url).status_code == 404
    assert fhir_as(None).get(url).status_code == 401


def test_a_token_without_the_read_scope_cannot_export(world, data_dir):
    writer = fhir_as(world.cm, ("patients:read",))
    assert writer.get("Patient/$export", **ASYNC).status_code == 403
    assert not ExportJob.objects.exists()


def test_deleting_a_job_removes_its_files(world, data_dir):
    from careway.fhir import export

    cm = fhir_as(world.cm, ("fhir:read",))
    response = kick_off(cm)
    job = ExportJob.objects.get()
    url = status_of(cm, response).json()["output"][0]["url"]
    assert export.export_dir(job).exists()
    assert cm.call("DELETE", response["Content-Location"]).status_code == 202
    assert not export.export_dir(job).exists()
    assert cm.get(url).status_code == 404
    assert status_of(cm, response).status_code == 404


def test_the_capability_statement_lists_the_patient_export(world):
    statement = fhir_as(None).get("metadata").json()
    (patient,) = [r for r in statement["rest"][0]["resource"] if r["type"] == "Patient"]
    assert {
        "name": "export",
        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
    } in (patient["operation"])


def test_an_expired_export_is_gone_and_its_files_removed(world, data_dir):
    from datetime import timedelta

    from django.utils import timezone

    from careway.fhir import export

    cm = fhir_as(world.cm, ("fhir:read",))
    response = kick_off(cm)
    job = ExportJob.objects.get()
    url = status_of(cm, response).json()["output"][0]["url"]
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert cm.get(url).status_code == 404
    assert status_of(cm, response).status_code == 404
    assert not export.export_dir(job).exists()

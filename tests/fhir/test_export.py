"""Bulk export (Patient/$export): asynchronous, NDJSON per type, only what the token's user may
see, audited as a disclosure, and only for the user who asked."""

import json
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django.utils.http import http_date

from careway.core import audit, tokens
from careway.core import services as core_services
from careway.core.models import ApiToken, AuditEvent, User
from careway.fhir.models import ExportJob
from careway.patients import services
from careway.patients.models import BreakGlassGrant, CareTeamMember
from tests.factories import make_patient
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


# --- what a download still serves, and for how long ----------------------------------------------


def token_of(client) -> ApiToken:
    return ApiToken.objects.get(token_hash=ApiToken.hash_token(client.token))


def exported(client, query: str = "") -> dict[str, str]:
    """Start and run an export as `client`: its file URLs by type."""
    manifest = status_of(client, kick_off(client, query)).json()
    return {item["type"]: item["url"] for item in manifest["output"]}


def patients_in(client, url: str) -> set[str]:
    found = set()
    for resource in lines(client, url):
        if resource["resourceType"] == "Patient":
            found.add(resource["id"])
        else:
            found.add(resource["subject"]["reference"].removeprefix("Patient/"))
    return found


def grant_on(world, minutes: int = 1) -> BreakGlassGrant:
    return BreakGlassGrant.objects.create(
        organization=world.org,
        user=world.cm_other,
        patient=world.patient,
        reason="Fell at home, on call tonight",
        expires_at=timezone.now() + timedelta(minutes=minutes),
    )


def test_emergency_access_ends_for_an_export_when_its_grant_expires(world, data_dir):
    condition(world.patient)
    grant = grant_on(world)
    other = fhir_as(world.cm_other, ("fhir:read",))
    urls = exported(other)
    assert patients_in(other, urls["Patient"]) == {str(world.patient.pk)}  # while it lasts
    BreakGlassGrant.objects.filter(pk=grant.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert other.get(f"Patient/{world.patient.pk}").status_code == 404
    assert lines(other, urls["Patient"]) == [] and lines(other, urls["Condition"]) == []
    left_out = AuditEvent.objects.filter(action="fhir.export.download").latest("pk")
    assert (left_out.detail["patients"], left_out.detail["left_out"]) == (0, 1)


def test_the_export_audit_names_the_grant_it_rode_on(world, data_dir):
    second = make_patient(world.branch, world.cm_other, given_name="Ruth")
    grant = grant_on(world, minutes=30)
    other = fhir_as(world.cm_other, ("fhir:read",))
    urls = exported(other)
    disclosed = AuditEvent.objects.filter(action="patient.export")
    assert disclosed.get(patient_id=world.patient.pk).detail["break_glass_grant"] == grant.pk
    assert "break_glass_grant" not in disclosed.get(patient_id=second.pk).detail
    lines(other, urls["Patient"])
    download = AuditEvent.objects.filter(action="fhir.export.download").latest("pk")
    assert download.detail["break_glass_grants"] == [grant.pk]
    assert (download.detail["patients"], download.detail["left_out"]) == (2, 0)


def test_a_patient_who_leaves_the_care_team_leaves_the_export_too(world, data_dir):
    second = make_patient(world.branch, world.cm, given_name="Ruth")
    condition(world.patient)
    condition(second)
    cm = fhir_as(world.cm, ("fhir:read",))
    urls = exported(cm)
    both = {str(world.patient.pk), str(second.pk)}
    assert patients_in(cm, urls["Patient"]) == patients_in(cm, urls["Condition"]) == both
    member = CareTeamMember.objects.get(patient=world.patient, user=world.cm)
    services.end_care_team_membership(
        audit.Actor(user=world.supervisor), member, successor=world.cm_other
    )
    assert (
        patients_in(cm, urls["Patient"]) == patients_in(cm, urls["Condition"]) == {str(second.pk)}
    )


@pytest.mark.parametrize("how", ["revoked", "expired", "deactivated"])
def test_an_export_dies_with_the_token_that_asked_for_it(world, data_dir, how):
    from careway.fhir import export

    cm = fhir_as(world.cm, ("fhir:read",))
    response = kick_off(cm)
    job = ExportJob.objects.get()
    url = status_of(cm, response).json()["output"][0]["url"]
    token = token_of(cm)
    if how == "revoked":
        tokens.revoke_token(audit.Actor(user=world.cm), token)
    elif how == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    else:
        core_services.deactivate_user(audit.Actor(user=world.admin), world.cm)
        User.objects.filter(pk=world.cm.pk).update(is_active=True)  # back, with new tokens only
    assert cm.get(url).status_code == 401  # the token itself no longer works
    another = fhir_as(world.cm, ("fhir:read",))
    assert another.get(url).status_code == 404
    assert another.get(response["Content-Location"]).status_code == 404
    assert not export.export_dir(job).exists()


def test_an_export_whose_token_is_revoked_before_it_runs_never_runs(world, data_dir):
    from careway.fhir import export, tasks

    cm = fhir_as(world.cm, ("fhir:read",))
    kick_off(cm, run=False)
    job = ExportJob.objects.get()
    tokens.revoke_token(audit.Actor(user=world.cm), token_of(cm))
    assert tasks.export_job.call(str(job.pk)) == ExportJob.Status.FAILED
    assert not export.export_dir(job).exists()
    assert not AuditEvent.objects.filter(action="patient.export").exists()


def test_export_files_live_one_hour_after_the_export_ends(world, data_dir):
    cm = fhir_as(world.cm, ("fhir:read",))
    response = kick_off(cm)
    job = ExportJob.objects.get()
    assert job.expires_at - job.finished_at == timedelta(hours=1)
    assert status_of(cm, response)["Expires"] == http_date(job.expires_at.timestamp())


def test_each_export_first_deletes_the_files_of_exports_that_ended(world, data_dir):
    from careway.fhir import export

    cm = fhir_as(world.cm, ("fhir:read",))
    kick_off(cm)
    revoked = ExportJob.objects.get()
    outsider = fhir_as(world.outsider, ("fhir:read",))
    kick_off(outsider)
    lapsed = ExportJob.objects.exclude(pk=revoked.pk).get()
    tokens.revoke_token(audit.Actor(user=world.cm), token_of(cm))
    ExportJob.objects.filter(pk=lapsed.pk).update(expires_at=timezone.now())
    assert export.export_dir(revoked).exists() and export.export_dir(lapsed).exists()

    kick_off(fhir_as(world.supervisor, ("fhir:read",)))

    assert not export.export_dir(revoked).exists() and not export.export_dir(lapsed).exists()
    assert ExportJob.objects.get(pk=revoked.pk).output == []
    assert ExportJob.objects.filter(status="done").exclude(output=[]).count() == 1


def test_an_export_cancelled_while_it_runs_stays_cancelled_and_keeps_no_files(world, data_dir):
    from careway.fhir import export

    cm = fhir_as(world.cm, ("fhir:read",))
    response = kick_off(cm, run=False)
    job = ExportJob.objects.get()

    def cancel(done: int, total: int) -> None:
        assert cm.call("DELETE", response["Content-Location"]).status_code == 202

    export.run(job, on_progress=cancel)
    job.refresh_from_db()
    assert (job.status, job.output, job.error) == ("failed", [], "Cancelled by the client.")
    assert not export.export_dir(job).exists()
    assert status_of(cm, response).status_code == 404

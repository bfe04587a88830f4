"""The import page: who may use it, what it refuses, and an upload imported end to end."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from careway.core.models import AuditEvent
from careway.fhir import uploads
from careway.fhir.models import ImportRun
from careway.patients.models import Patient
from tests.fhir.samples import bundle, patient

pytestmark = pytest.mark.django_db


def bundle_file(*resources) -> bytes:
    return json.dumps(bundle(*resources, kind="collection")).encode()


PATIENT = patient("4f9c2b1e-0000-4000-8000-000000000001", mrn="H-778812")


@pytest.fixture
def data_dir(tmp_path, settings):
    settings.DATA_DIR = tmp_path
    return tmp_path


def upload(client, *files, branch=None, world=None):
    return client.post(
        reverse("import_list"),
        {"uploads": list(files), "branch": branch or world.branch.pk},
    )


@pytest.mark.parametrize("who", ["cm", "admin"])
def test_case_managers_and_admins_see_the_page(client, world, who):
    client.force_login(getattr(world, who))
    response = client.get(reverse("import_list"))
    assert response.status_code == 200
    assert b"Import records" in response.content


@pytest.mark.parametrize("who", ["scheduler", "rn", "auditor", "supervisor"])
def test_other_roles_get_404_and_cannot_upload(client, world, who, data_dir):
    client.force_login(getattr(world, who))
    assert client.get(reverse("import_list")).status_code == 404
    response = upload(client, SimpleUploadedFile("a.json", bundle_file(PATIENT)), world=world)
    assert response.status_code == 404
    assert not ImportRun.objects.exists() and not Patient.objects.filter(mrn="H-778812").exists()


def test_an_outsider_cannot_see_this_agencys_run(client, world, data_dir):
    run = ImportRun.objects.create(organization=world.org, branch=world.branch)
    client.force_login(world.outsider)
    assert client.get(reverse("import_detail", args=[run.pk])).status_code == 404
    assert client.get(reverse("import_progress", args=[run.pk])).status_code == 404
    client.force_login(world.cm)
    assert client.get(reverse("import_detail", args=[run.pk])).status_code == 200


def test_an_outsiders_branch_is_refused(client, world, data_dir):
    client.force_login(world.cm)
    response = upload(
        client,
        SimpleUploadedFile("a.json", bundle_file(PATIENT)),
        branch=world.other_branch.pk,
        world=world,
    )
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    assert not ImportRun.objects.exists()


def test_no_file_or_a_wrong_kind_of_file_is_named(client, world, data_dir):
    client.force_login(world.cm)
    response = client.post(reverse("import_list"), {"branch": world.branch.pk})
    assert response.status_code == 400 and b"Choose at least one file" in response.content
    response = upload(client, SimpleUploadedFile("notes.pdf", b"%PDF-1.4"), world=world)
    assert response.status_code == 400
    assert b"not notes.pdf" in response.content
    assert not ImportRun.objects.exists()


@override_settings(
    TASKS={"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
)
def test_a_small_upload_imports_at_once_and_shows_its_report(client, world, data_dir):
    client.force_login(world.cm)
    content = bundle_file(PATIENT)
    response = upload(client, SimpleUploadedFile("referral.json", content), world=world)
    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("import_detail", args=[run.pk])
    assert run.status == ImportRun.Status.DONE
    assert Patient.objects.filter(organization=world.org, mrn="H-778812").exists()
    page = client.get(response["Location"])
    assert b"Report" in page.content and b"referral.json" in page.content
    # The audit trail names the exact file; the file itself does not stay on disk.
    import hashlib

    event = AuditEvent.objects.get(action="fhir.upload")
    assert event.detail["files"][0]["sha256"] == hashlib.sha256(content).hexdigest()
    assert not uploads.upload_dir(run).exists()


DUMMY_TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@override_settings(TASKS=DUMMY_TASKS)
def test_a_large_upload_goes_to_the_background_task(
    client, world, data_dir, monkeypatch, django_capture_on_commit_callbacks
):
    from django_tasks import default_task_backend

    from careway.fhir import tasks

    monkeypatch.setattr(uploads, "SMALL_UPLOAD", 10)
    client.force_login(world.cm)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = upload(client, SimpleUploadedFile("big.json", bundle_file(PATIENT)), world=world)
    run = ImportRun.objects.get()
    assert response.status_code == 302 and len(callbacks) == 1
    queued = default_task_backend.results
    assert [r.args for r in queued] == [[str(run.pk)]]
    # Until a worker takes it, the page says so and keeps polling for progress.
    page = client.get(response["Location"])
    assert b'hx-trigger="every 1s"' in page.content and b"Waiting to start" in page.content
    assert tasks.import_upload.call(str(run.pk)) == ImportRun.Status.DONE
    done = client.get(reverse("import_progress", args=[run.pk]))
    assert b"every 1s" not in done.content and b"Report" in done.content
    assert Patient.objects.filter(organization=world.org, mrn="H-778812").exists()


def test_import_times_are_shown_in_the_agencys_zone_with_its_name(client, world, data_dir):
    """Stored in UTC, shown as the agency reads its clocks: 18:30 UTC is 14:30 in New York
    in July, and the page says so (issue 16, point 6)."""
    from datetime import UTC, datetime

    world.org.timezone = "America/New_York"
    world.org.save()
    run = ImportRun.objects.create(
        organization=world.org,
        branch=world.branch,
        created_at=datetime(2026, 7, 1, 18, 30, tzinfo=UTC),
        finished_at=datetime(2026, 7, 1, 18, 31, tzinfo=UTC),
        status=ImportRun.Status.DONE,
    )
    client.force_login(world.cm)
    listing = client.get(reverse("import_list")).content.decode()
    assert "Jul 1, 2026 14:30 EDT" in listing and "18:30" not in listing
    detail = client.get(reverse("import_detail", args=[run.pk])).content.decode()
    assert "Jul 1, 2026 14:30 EDT" in detail and "18:3" not in detail
    progress = client.get(reverse("import_progress", args=[run.pk])).content.decode()
    words = re.sub(r"<[^>]+>", "", progress)
    assert "finished Jul 1, 2026 14:31 EDT" in words and "18:3" not in progress

"""Every way records come in or go out in bulk, tried by everyone who might use it, as
tests/api/test_access_matrix.py does for the JSON API.

In: the import page (a small upload imported during the request, a large one by the background
task) and `careway import-fhir --as`. The care team imports into their patient's chart; roles
without the import permission (the read-only scheduler among them) are refused before a file is
read; a colleague off the team, a colleague holding a break-the-glass grant (read only) and
another agency's user write nothing, and their problem reads exactly like one about a patient
that does not exist. Out: a bulk export holds a patient's records for their care team (the
read-only scheduler included: exporting is reading) and for nobody else; its status, files and
cancellation are the requester's alone, anyone else gets 404 (anonymous 401) and nothing is
deleted. What a download still serves once access changes is in test_export.py.
"""

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import reverse

from careway.core.models import AuditEvent, Branch, User
from careway.fhir import export, tasks, uploads
from careway.fhir.models import ExportJob, ImportRun
from careway.patients.models import Observation, Patient
from tests.factories import World
from tests.fhir.api_client import condition, fhir_as
from tests.fhir.test_import_pipeline import grant_to, heart_rate

pytestmark = pytest.mark.django_db

DUMMY_TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}

Importer = Callable[[World, User, Path], ImportRun | None]


def branch_of(world: World, user: User) -> Branch:
    return world.other_branch if user.organization_id == world.other_org.pk else world.branch


def _latest_run(user: User) -> ImportRun | None:
    return ImportRun.objects.filter(started_by=user).order_by("-created_at").first()


def _upload(world: World, user: User, path: Path) -> int:
    client = Client()
    client.force_login(user)
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    response = client.post(
        reverse("import_list"), {"uploads": [upload], "branch": branch_of(world, user).pk}
    )
    return response.status_code


def by_page(world: World, user: User, path: Path) -> ImportRun | None:
    """A small upload: imported during the request."""
    return _latest_run(user) if _upload(world, user, path) == 302 else None


def by_background_task(world: World, user: User, path: Path) -> ImportRun | None:
    """A large upload: queued, then imported by the worker's task."""
    with override_settings(TASKS=DUMMY_TASKS):
        status = _upload(world, user, path)
    run = _latest_run(user)
    if status != 302 or run is None:
        return None
    tasks.import_upload.call(str(run.pk))
    return _latest_run(user)


def by_command(world: World, user: User, path: Path) -> ImportRun | None:
    branch = branch_of(world, user)
    args = [
        str(path),
        "--agency",
        world.org.slug if branch == world.branch else world.other_org.slug,
    ]
    try:
        call_command(
            "import_fhir",
            *args,
            "--branch",
            branch.name,
            "--as",
            user.username,
            stdout=io.StringIO(),
        )
    except CommandError as error:
        if "may not import" in str(error):
            return None
    return _latest_run(user)


IMPORTERS = {"page": by_page, "background": by_background_task, "command": by_command}


@pytest.fixture(params=sorted(IMPORTERS))
def importing(request, monkeypatch, settings, tmp_path) -> Importer:
    settings.DATA_DIR = tmp_path / "data"
    if request.param == "background":
        monkeypatch.setattr(uploads, "SMALL_UPLOAD", 10)
    return IMPORTERS[request.param]


def ndjson(tmp_path: Path, *resources: dict) -> Path:
    path = tmp_path / "Observation.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in resources))
    return path


def by_mrn(world: World, mrn: str) -> str:
    """The reference a probe would write: this agency's MRN system, and an MRN."""
    return f"Patient?identifier=urn:careway:fhir:mrn:{world.org.pk}|{mrn}"


def chart_state(world: World) -> tuple:
    patient = Patient.objects.get(pk=world.patient.pk)
    return (patient.version, Observation.objects.filter(patient=patient).count())


# --- in ------------------------------------------------------------------------------------------


def test_the_care_team_imports_into_their_patients_chart(world, importing, tmp_path):
    path = ndjson(tmp_path, heart_rate("o1", by_mrn(world, world.patient.mrn)))
    run = importing(world, world.cm, path)
    assert run is not None and run.problem_count == 0, run and run.problems
    assert run.counts["Observation"]["created"] == 1
    assert Observation.objects.get().patient_id == world.patient.pk
    assert AuditEvent.objects.filter(
        action="patient.update", patient_id=world.patient.pk, actor_id=world.cm.pk
    ).exists()


@pytest.mark.parametrize("who", ["cm_other", "grant_holder", "outsider"])
def test_others_write_nothing_and_cannot_tell_the_patient_exists(world, importing, tmp_path, who):
    user = world.outsider if who == "outsider" else world.cm_other
    if who == "grant_holder":
        grant_to(world.cm_other, world.patient)
    before = chart_state(world)
    hale, nobody = by_mrn(world, world.patient.mrn), by_mrn(world, "NO-SUCH-MRN")

    refused = importing(world, user, ndjson(tmp_path, heart_rate("o1", hale)))
    missing = importing(world, user, ndjson(tmp_path, heart_rate("o1", nobody)))

    assert refused is not None and missing is not None
    assert chart_state(world) == before
    assert refused.counts == missing.counts
    assert refused.counts["Observation"]["invalid"] == 1
    (problem,) = refused.problems
    assert problem["path"] == "subject" and problem["line"] == 1
    assert json.dumps(refused.problems).replace(hale, "<ref>") == json.dumps(
        missing.problems
    ).replace(nobody, "<ref>")
    assert not AuditEvent.objects.filter(
        patient_id=world.patient.pk, actor_id=user.pk, outcome="success"
    ).exists()


@pytest.mark.parametrize("who", ["scheduler", "rn", "supervisor", "auditor"])
def test_roles_that_may_not_import_are_refused_before_a_file_is_read(
    world, importing, tmp_path, who
):
    user = getattr(world, who)
    before = chart_state(world)
    run = importing(world, user, ndjson(tmp_path, heart_rate("o1", by_mrn(world, "X"))))
    assert run is None
    assert chart_state(world) == before and not ImportRun.objects.exists()


def test_another_agencys_user_cannot_import_into_this_agency(world, tmp_path, settings):
    settings.DATA_DIR = tmp_path / "data"
    client = Client()
    client.force_login(world.outsider)
    upload = SimpleUploadedFile("o.ndjson", ndjson(tmp_path, heart_rate("o1")).read_bytes())
    response = client.post(reverse("import_list"), {"uploads": [upload], "branch": world.branch.pk})
    assert response.status_code == 400
    with pytest.raises(CommandError, match="cm_bauer may not import records into Riverbend"):
        call_command(
            "import_fhir",
            str(tmp_path / "Observation.ndjson"),
            *("--agency", world.org.slug, "--branch", world.branch.name, "--as", "cm_bauer"),
            stdout=io.StringIO(),
        )
    assert not ImportRun.objects.exists() and not Observation.objects.exists()


# --- out -----------------------------------------------------------------------------------------


@pytest.fixture
def finished_export(world, tmp_path, settings):
    """cm's finished export of their patient: (the status URL, a file's URL, the job)."""
    settings.DATA_DIR = tmp_path
    condition(world.patient)
    cm = fhir_as(world.cm, ("fhir:read",))
    response = cm.get("Patient/$export", **ASYNC)
    job = ExportJob.objects.get()
    tasks.export_job.call(str(job.pk))
    job.refresh_from_db()
    status_url = response["Content-Location"]
    file_url = cm.get(status_url).json()["output"][0]["url"]
    return status_url, file_url, job


def test_the_requester_reads_downloads_and_cancels_their_own_export_with_a_read_token(
    world, finished_export
):
    status_url, file_url, job = finished_export
    cm = fhir_as(world.cm, ("fhir:read",))
    assert cm.get(status_url).status_code == 200
    assert cm.get(file_url).status_code == 200
    assert cm.call("DELETE", status_url).status_code == 202
    assert not export.export_dir(job).exists()


@pytest.mark.parametrize("who", ["cm_other", "outsider", "anonymous"])
@pytest.mark.parametrize("method", ["GET status", "GET file", "DELETE"])
def test_nobody_else_reads_downloads_or_cancels_an_export(world, finished_export, who, method):
    status_url, file_url, job = finished_export
    other = fhir_as(None if who == "anonymous" else getattr(world, who), ("fhir:read",))
    verb, _, what = method.partition(" ")
    response = other.call(verb, file_url if what == "file" else status_url)
    assert response.status_code == (401 if who == "anonymous" else 404)
    assert export.export_dir(job).exists() and export.file_path(job, "Patient").exists()
    fresh = ExportJob.objects.get(pk=job.pk)
    assert (fresh.status, fresh.output, fresh.expires_at) == (
        job.status,
        job.output,
        job.expires_at,
    )
    assert not AuditEvent.objects.filter(action="fhir.export.delete").exists()
    assert (
        not AuditEvent.objects.filter(action="fhir.export.download", outcome="success")
        .exclude(actor_id=world.cm.pk)
        .exists()
    )


@pytest.mark.parametrize("who", ["cm", "scheduler", "cm_other", "outsider"])
def test_an_export_holds_the_patient_only_for_their_care_team(world, tmp_path, settings, who):
    """Exporting is reading: the team (the read-only scheduler too) gets the patient's records;
    a colleague off the team and another agency get none of them."""
    settings.DATA_DIR = tmp_path
    condition(world.patient)
    client = fhir_as(getattr(world, who), ("fhir:read",))
    response = client.get("Patient/$export", **ASYNC)
    tasks.export_job.call(str(ExportJob.objects.get().pk))
    hale = str(world.patient.pk)
    found = set()
    for item in client.get(response["Content-Location"]).json()["output"]:
        body = b"".join(client.get(item["url"]).streaming_content).decode()
        found.update(hale for line in body.splitlines() if hale in line)
    assert found == ({hale} if who in ("cm", "scheduler") else set())

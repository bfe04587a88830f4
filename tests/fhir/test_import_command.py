"""`careway import-fhir`: what it prints, how it exits, and whom it refuses."""

import io
import json
import sys

import pytest
from django.core.management import CommandError, call_command
from django.core.management import base as management_base
from django.core.management.base import OutputWrapper

from careway import __main__ as console
from careway.core.models import AuditEvent
from careway.fhir.importer import Progress
from careway.fhir.management.commands.import_fhir import ProgressBar
from careway.patients.models import CareTeamMember, Observation, Patient
from tests.fhir.samples import patient

pytestmark = pytest.mark.django_db

PATIENT = patient("p1", mrn="H-77")
PULSE = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": "Pulse"},
    "subject": {"reference": "Patient/p1"},
    "effectiveDateTime": "2026-11-01T09:00:00+00:00",
    "valueQuantity": {"value": 72, "unit": "/min"},
}


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "referral.json"
    entries = [
        {"fullUrl": "urn:uuid:p1", "resource": PATIENT},
        {"fullUrl": "urn:uuid:o1", "resource": PULSE},
        {"fullUrl": "urn:uuid:c1", "resource": {"resourceType": "Claim", "id": "c1"}},
    ]
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path


@pytest.fixture
def bad(tmp_path):
    path = tmp_path / "pulses.ndjson"
    path.write_text(json.dumps({**PULSE, "id": "o2", "subject": {"reference": "Patient/x"}}) + "\n")
    return path


def command(world, *paths, user="cm_rivera", agency=None, branch=None):
    out = io.StringIO()
    args = [str(p) for p in paths]
    args += ["--agency", agency or world.org.slug, "--branch", branch or world.branch.name]
    if user:
        args += ["--as", user]
    call_command("import_fhir", *args, stdout=out)
    return out.getvalue()


def test_it_imports_and_reports_what_each_type_became(world, good):
    output = command(world, good)
    assert Patient.objects.filter(mrn="H-77").exists()
    table = {line.split()[0]: line.split()[1:] for line in output.splitlines() if line}
    # created, updated, unchanged, not taken in, invalid, rejected
    assert table["Patient"] == ["1", "0", "0", "0", "0", "0"]
    assert table["Observation"] == ["1", "0", "0", "0", "0", "0"]
    assert table["Claim"] == ["0", "0", "0", "1", "0", "0"]
    assert "Not taken in (Careway does not keep these types): Claim (1)." in output
    assert "No problems." in output
    assert f"{good.name}: {good.stat().st_size:,} bytes, SHA-256 " in output
    assert output.startswith("Read ")  # progress as plain text: the output is not a terminal
    team = CareTeamMember.objects.get(patient__mrn="H-77")
    assert (team.user.username, team.is_primary_case_manager) == ("cm_rivera", True)


def test_again_everything_is_unchanged(world, good):
    command(world, good)
    output = command(world, good)
    table = {line.split()[0]: line.split()[1:] for line in output.splitlines() if line}
    assert table["Patient"][:3] == ["0", "0", "1"] and table["Observation"][:3] == ["0", "0", "1"]


def test_problems_are_listed_and_the_exit_is_non_zero(world, good, bad):
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 problem found") as failed:
        call_command(
            "import_fhir",
            str(bad),
            str(good),
            "--agency",
            world.org.name,
            "--branch",
            world.branch.name,
            stdout=out,
        )
    assert failed.value.returncode == 1
    output = out.getvalue()
    assert "Problems (1):" in output
    assert "pulses.ndjson, line 1: Observation/o2: dangling reference 'Patient/x'" in output
    assert Observation.objects.count() == 1  # the good file still imported


def test_the_console_exits_1_without_a_traceback(world, bad, capsys, monkeypatch):
    # run_from_argv closes every connection when done, which would end the test's transaction.
    monkeypatch.setattr(management_base.connections, "close_all", lambda: None)
    argv = ["careway", "import-fhir", str(bad), "--agency", world.org.slug, "--branch"]
    monkeypatch.setattr(sys, "argv", [*argv, world.branch.name, "--as", "admin_ada"])
    with pytest.raises(SystemExit) as exited:
        console.main()  # the hyphenated name is the command's alias
    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert "dangling reference" in captured.out
    assert "1 problem found" in captured.err and "Traceback" not in captured.err


def test_a_clean_import_from_the_console_exits_0(world, good, monkeypatch, capsys):
    monkeypatch.setattr(management_base.connections, "close_all", lambda: None)
    argv = ["careway", "import-fhir", str(good), "--agency", world.org.slug]
    monkeypatch.setattr(sys, "argv", [*argv, "--branch", str(world.branch.pk)])
    console.main()
    assert "No problems." in capsys.readouterr().out
    # Without --as the system imports for the agency: nobody becomes case manager by it.
    assert not CareTeamMember.objects.filter(patient__mrn="H-77").exists()
    patient = Patient.objects.get(mrn="H-77")
    created = AuditEvent.objects.get(action="patient.create", patient_id=patient.pk)
    assert (created.actor_id, created.organization_id, created.detail["via"]) == (
        None,
        world.org.pk,
        "cli",
    )


@pytest.mark.parametrize(
    ("user", "why"),
    [
        ("cm_bauer", "cm_bauer may not import records into Riverbend Home Health"),
        ("sched_silva", "sched_silva may not import records"),
        ("rn_nguyen", "rn_nguyen may not import records"),
        ("nobody", "No user is called 'nobody'"),
    ],
)
def test_it_refuses_outsiders_and_other_roles(world, good, user, why):
    with pytest.raises(CommandError, match=why):
        command(world, good, user=user)
    assert not Patient.objects.filter(mrn="H-77").exists()


def test_an_unknown_agency_or_branch_is_named(world, good):
    with pytest.raises(CommandError, match="No agency 'nope'"):
        command(world, good, agency="nope")
    with pytest.raises(CommandError, match=r"has no branch 'Attic'\. Its branches: 'Riverbend"):
        command(world, good, branch="Attic")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_progress_bar_redraws_itself():
    screen = FakeTerminal()
    bar = ProgressBar(OutputWrapper(screen))
    bar.update(Progress(500_000, 2_000_000, 1200, "a.json"))
    bar.update(Progress(2_000_000, 2_000_000, 4800, "b.ndjson"))
    bar.finish()
    drawn = screen.getvalue()
    assert drawn.count("\r[") == 2 and drawn.endswith("\n")
    assert "[#######-----------------------]  25%  0.5 MB of 2.0 MB, 1,200 resources" in drawn
    assert "[##############################] 100%  2.0 MB of 2.0 MB, 4,800 resources" in drawn


def test_elsewhere_progress_is_a_line_every_tenth():
    log = io.StringIO()
    bar = ProgressBar(OutputWrapper(log))
    for done in range(0, 1001, 50):
        bar.update(Progress(done, 1000, done, "a.ndjson"))
    lines = log.getvalue().splitlines()
    assert len(lines) == 11 and all(line.startswith("Read ") for line in lines)
    assert "\r" not in log.getvalue()


def test_without_as_the_system_imports_for_the_whole_agency(world, tmp_path):
    """The operator at the console is trusted with the agency: the system actor may add to and
    update any of its patients (never another agency's), audited as the system."""
    hale = f"Patient?identifier=urn:careway:fhir:mrn:{world.org.pk}|{world.patient.mrn}"
    path = tmp_path / "pulses.ndjson"
    path.write_text(json.dumps({**PULSE, "subject": {"reference": hale}}) + "\n")
    command(world, path, user=None)
    assert Observation.objects.get().patient_id == world.patient.pk
    update = AuditEvent.objects.get(action="patient.update", patient_id=world.patient.pk)
    assert (update.actor_id, update.organization_id) == (None, world.org.pk)

    berg = f"Patient?identifier=urn:careway:fhir:mrn:{world.other_org.pk}|"
    path.write_text(
        json.dumps(
            {**PULSE, "id": "o2", "subject": {"reference": berg + world.outsider_patient.mrn}}
        )
        + "\n"
    )
    with pytest.raises(CommandError, match="1 problem found"):
        command(world, path, user=None)
    assert not Observation.objects.filter(patient=world.outsider_patient).exists()

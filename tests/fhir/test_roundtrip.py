"""Export a patient, import the export into an empty agency, export again: the same resources
with the same content, ids and meta aside (the issue's round trip, through the real bulk export
and the real importer, not just the mapping).

Two kinds of difference are expected and normalised, each for a reason a user would agree with:
- ids, `meta`, and the ids inside references (each agency numbers its own records), and the
  agency's own MRN identifier system (`urn:careway:fhir:mrn:<agency>`), whose value is kept;
- EpisodeOfCare and CareTeam are not compared: they describe this agency's care of the patient
  (its referral, its team), which the receiving agency starts afresh; the importer counts them as
  not taken in.
"""

import json
import re
from collections import Counter

import pytest

from careway.core import audit
from careway.core.roles import Role
from careway.fhir import export, importer
from careway.fhir.models import ExportJob
from careway.patients import services
from tests.factories import make_org, make_user
from tests.fhir.api_client import export_token, full_chart

pytestmark = pytest.mark.django_db

NOT_COMPARED = {"EpisodeOfCare", "CareTeam"}
MRN_SYSTEM = re.compile(r"urn:careway:fhir:mrn:\d+")


@pytest.fixture
def data_dir(tmp_path, settings):
    settings.DATA_DIR = tmp_path
    return tmp_path


def run_export(user) -> tuple[ExportJob, dict[str, list[dict]]]:
    job = export.create_job(
        audit.Actor(user=user), export_token(user), "https://test/fhir/R4/Patient/$export", [], None
    )
    export.run(job)
    files = {}
    for item in job.output:
        path = export.file_path(job, item["type"])
        files[item["type"]] = [json.loads(line) for line in path.read_text().splitlines()]
    return job, files


def normalised(resource: dict) -> str:
    def strip(value):
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if key in ("id", "meta"):
                    continue
                if key == "reference" and isinstance(item, str):
                    item = item.split("/")[0]
                out[key] = strip(item)
            return out
        if isinstance(value, list):
            return [strip(v) for v in value]
        if isinstance(value, str):
            return MRN_SYSTEM.sub("urn:careway:fhir:mrn:AGENCY", value)
        return value

    return json.dumps(strip(resource), sort_keys=True)


def test_export_import_export_gives_the_same_resources(world, data_dir):
    full_chart(world.patient)
    services.add_coverage(
        audit.Actor(user=world.cm),
        world.patient,
        {"kind": "medicare", "payer_name": "Medicare Part A", "member_id": "1EG4TE5MK73"},
    )
    first_job, first = run_export(world.cm)

    harbor, harbor_branch = make_org("Harbor Home Care")
    receiver = make_user(harbor, harbor_branch, Role.CASE_MANAGER, "cm_harbor")
    paths = [export.file_path(first_job, kind) for kind in first]
    report = importer.import_files(audit.Actor(user=receiver), harbor, harbor_branch, paths)
    assert report.problem_count == 0, [p.as_dict() for p in report.problems]

    _, second = run_export(receiver)
    compared = set(first) - NOT_COMPARED
    assert compared <= set(second)
    assert {
        "Patient",
        "Condition",
        "Observation",
        "MedicationRequest",
        "MedicationStatement",
        "AllergyIntolerance",
        "RelatedPerson",
        "Encounter",
        "Coverage",
    } <= compared
    for kind in sorted(compared):
        before = Counter(normalised(r) for r in first[kind])
        after = Counter(normalised(r) for r in second[kind])
        assert after == before, kind


def test_importing_the_export_again_changes_nothing(world, data_dir):
    full_chart(world.patient)
    job, files = run_export(world.cm)
    harbor, harbor_branch = make_org("Harbor Home Care")
    receiver = make_user(harbor, harbor_branch, Role.CASE_MANAGER, "cm_harbor")
    paths = [export.file_path(job, kind) for kind in files]
    importer.import_files(audit.Actor(user=receiver), harbor, harbor_branch, paths)
    again = importer.import_files(audit.Actor(user=receiver), harbor, harbor_branch, paths)
    assert again.total("created") == again.total("updated") == 0
    assert again.total("unchanged") > 0

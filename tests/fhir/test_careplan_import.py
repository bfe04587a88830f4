"""A care plan through bulk export and import (careway/fhir/careplan_draft.py): a plan Careway
wrote comes back into an empty agency as a DRAFT of the patient's plan, never in effect, beside
the history copy every imported plan leaves; one from elsewhere is history only.

What differs between the first export and the export of the agency it was imported into, and why
(everything else is the same, ids and meta aside, as in test_roundtrip.py):
- CarePlan: status draft (was active) and the narrative's "(draft)"; period, created, author and
  review-due: the receiving agency's episode (referred by the import, no start of care yet), the
  person who imported it, and the review date worked out from that episode.
- Goal: lifecycleStatus proposed (was active): a draft plan's goals are proposed.
- ServiceRequest: status draft (was active): a draft plan's requests are drafts.
- The second export also holds the plan and its goals as history (PastCarePlan, PastGoal, ids
  that are numbers): every imported plan is kept as it came.
"""

import json
from collections import Counter

import pytest

from careway.careplans import services as plans
from careway.careplans.models import CarePlan, Goal, Intervention
from careway.core import audit
from careway.core.models import AuditEvent
from careway.core.roles import Role
from careway.fhir import export, importer
from careway.fhir.mapping import plan_common as pc
from careway.patients.models import PastCarePlan
from tests.factories import make_org, make_user
from tests.fhir.test_careplan_resources import build_plan
from tests.fhir.test_roundtrip import data_dir, normalised, run_export  # noqa: F401 (a fixture)
from tests.fhir.validate import assert_valid_r4

pytestmark = pytest.mark.django_db

# Elements that tell of the agency holding the plan, not of the plan (see the module docstring).
AGENCY_ELEMENTS = {"CarePlan": ("period", "created", "author", "extension")}
AS_A_DRAFT = {"CarePlan": ("status", "draft"), "ServiceRequest": ("status", "draft")}


def own(files: dict, kind: str) -> list[dict]:
    """Careway's own plans, goals and requests of an export (not the history copies)."""
    if kind == "CarePlan":
        return [r for r in files.get(kind, []) if "identifier" in r]
    if kind == "Goal":
        return [r for r in files.get(kind, []) if "extension" in r]
    return files.get(kind, [])


def as_compared(resource: dict) -> str:
    """The resource without what the module docstring says differs, as a draft."""
    kind = resource["resourceType"]
    copy = {k: v for k, v in resource.items() if k not in AGENCY_ELEMENTS.get(kind, ())}
    copy.pop("identifier", None)  # the plan's own id, which each agency numbers
    copy.pop("requisition", None)  # the row's id, likewise
    if kind in AS_A_DRAFT:
        element, value = AS_A_DRAFT[kind]
        copy[element] = value
    if kind == "Goal":
        copy["lifecycleStatus"] = "proposed"
    if kind == "CarePlan":
        copy["text"] = copy["text"]["div"].replace("(active)", "(draft)")
    return normalised(copy)


@pytest.fixture
def harbor():
    org, branch = make_org("Harbor Home Care")
    return org, branch, make_user(org, branch, Role.CASE_MANAGER, "cm_harbor")


def export_of_a_plan_in_effect(world) -> tuple:
    built = build_plan(world.patient, world.cm)
    plan = built["plan"]
    plans.update_plan(audit.Actor(user=world.cm), plan, {"status": "active"}, plan.version)
    job, files = run_export(world.cm)
    return built, [export.file_path(job, kind) for kind in files], files


def test_export_import_export_gives_the_same_plan_as_a_draft(world, data_dir, harbor):  # noqa: F811
    _, paths, first = export_of_a_plan_in_effect(world)
    org, branch, receiver = harbor
    report = importer.import_files(audit.Actor(user=receiver), org, branch, paths)
    assert report.problem_count == 0, [p.as_dict() for p in report.problems]

    draft = CarePlan.objects.get(organization=org)
    assert draft.status == CarePlan.Status.DRAFT
    assert set(Goal.objects.filter(plan=draft).values_list("lifecycle_status", flat=True)) == {
        "proposed"
    }
    assert draft.revisions.last().author == receiver
    assert AuditEvent.objects.filter(action="careplan.create", patient_id=draft.patient_id)
    rescue = Intervention.objects.get(plan=draft, caregiver__isnull=False)
    assert (rescue.frequency, rescue.caregiver.name) == ("PRN x2 for dyspnea", "Ann Hale")
    frequencies = dict(draft.frequencies.values_list("discipline", "frequency"))
    assert frequencies == {"RN": "3w1, 2w4", "PT": "2w3"}

    _, second = run_export(receiver)
    for kind in ("CarePlan", "Goal", "ServiceRequest"):
        for resource in second[kind]:
            assert_valid_r4(resource)
        before = Counter(as_compared(r) for r in own(first, kind))
        after = Counter(as_compared(r) for r in own(second, kind))
        assert after == before, kind
    history = [r for r in second["CarePlan"] if "identifier" not in r]
    assert [r["title"] for r in history] == [draft.title]
    assert len(second["Goal"]) == 2 * len(own(first, "Goal"))


def test_importing_the_same_files_again_drafts_nothing_twice(world, data_dir, harbor):  # noqa: F811
    _, paths, _ = export_of_a_plan_in_effect(world)
    org, branch, receiver = harbor
    importer.import_files(audit.Actor(user=receiver), org, branch, paths)
    again = importer.import_files(audit.Actor(user=receiver), org, branch, paths)
    assert again.problem_count == 0
    assert CarePlan.objects.filter(organization=org).count() == 1
    assert Goal.objects.filter(organization=org).count() == 3
    assert Intervention.objects.filter(organization=org).count() == 2


def test_a_patient_with_a_plan_keeps_it_and_the_new_one_is_history(world, data_dir, harbor):  # noqa: F811
    _, paths, files = export_of_a_plan_in_effect(world)
    org, branch, receiver = harbor
    importer.import_files(audit.Actor(user=receiver), org, branch, paths)
    (plan_file,) = [p for p in paths if p.name.startswith("CarePlan")]
    other = [{**r, "id": f"{r['id']}-again", "title": "A second plan"} for r in files["CarePlan"]]
    plan_file.write_text("".join(json.dumps(r) + "\n" for r in other))
    report = importer.import_files(audit.Actor(user=receiver), org, branch, [plan_file])
    assert report.problem_count == 0
    assert list(CarePlan.objects.filter(organization=org).values_list("title", flat=True)) == [
        "Home health plan of care"
    ]
    assert PastCarePlan.objects.filter(organization=org, title="A second plan").exists()


def test_a_plan_from_elsewhere_is_history_only(world, data_dir, harbor):  # noqa: F811
    _, paths, files = export_of_a_plan_in_effect(world)
    org, branch, receiver = harbor
    (plan_file,) = [p for p in paths if p.name.startswith("CarePlan")]
    foreign = [{k: v for k, v in r.items() if k != "identifier"} for r in own(files, "CarePlan")]
    plan_file.write_text("".join(json.dumps(r) + "\n" for r in foreign))
    report = importer.import_files(audit.Actor(user=receiver), org, branch, paths)
    assert report.problem_count == 0, [p.as_dict() for p in report.problems]
    assert not CarePlan.objects.filter(organization=org).exists()
    assert PastCarePlan.objects.filter(organization=org).count() == 1


def test_the_draft_plan_identifies_itself_for_the_next_import(world, data_dir, harbor):  # noqa: F811
    built, _, files = export_of_a_plan_in_effect(world)
    (plan,) = own(files, "CarePlan")
    assert plan["identifier"] == [{"system": pc.PLAN_IDENTIFIER, "value": str(built["plan"].pk)}]

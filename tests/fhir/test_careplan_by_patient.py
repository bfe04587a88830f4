"""An intervention the patient does themself (Intervention.by_patient) as FHIR R4: the
ServiceRequest's performer is a reference to the Patient (its subject), with no performerType;
exported and imported into another agency, it comes back in the draft plan as the patient's own
(careway/fhir/careplan_draft.py)."""

import pytest

from careway.careplans import services as plans
from careway.careplans.models import CarePlan, Intervention
from careway.core import audit
from careway.fhir import export, importer, mapping
from careway.fhir.mapping import plan_common as pc
from tests.fhir.api_client import fhir_as, issue_of, resource_of
from tests.fhir.test_careplan_import import harbor  # noqa: F401 (a fixture)
from tests.fhir.test_careplan_resources import build_plan
from tests.fhir.test_roundtrip import data_dir, run_export  # noqa: F401 (a fixture)
from tests.fhir.validate import assert_valid_r4

pytestmark = pytest.mark.django_db

WEIGH = "Weigh yourself every morning and write it down"


def with_the_patients(world) -> dict:
    built = build_plan(world.patient, world.cm)
    actor = audit.Actor(user=world.cm)
    built["mine"] = plans.add_intervention(
        actor,
        built["plan"],
        {
            "kind": "monitor",
            "text": WEIGH,
            "by_patient": True,
            "at_visits_of": "RN",
            "frequency": "qd x30",
            "goal": built["weight"].pk,
        },
    )
    return built


def test_the_performer_is_the_patient(world):
    built = with_the_patients(world)
    (request,) = mapping.resources_of("ServiceRequest", built["mine"])
    assert_valid_r4(request)
    patient = {"reference": f"Patient/{world.patient.pk}"}
    assert request["performer"] == [patient] and request["subject"] == patient
    assert "performerType" not in request
    assert request["code"] == {"text": WEIGH}
    assert request["occurrenceTiming"]["repeat"]["frequency"] == 1
    at_visits = next(e for e in request["extension"] if e["url"] == pc.EXT_AT_VISITS_OF)
    assert at_visits["valueCoding"]["code"] == "RN"


def test_read_through_the_api_and_the_outsider_gets_404(world):
    built = with_the_patients(world)
    address = f"ServiceRequest/intervention-{built['mine'].pk}-1"
    read = resource_of(fhir_as(world.cm).get(address))
    assert read["performer"] == [{"reference": f"Patient/{world.patient.pk}"}]
    issue_of(fhir_as(world.outsider).get(address), 404)


def test_exported_and_imported_it_is_the_patients_again(world, data_dir, harbor):  # noqa: F811
    built = with_the_patients(world)
    plan = built["plan"]
    plans.update_plan(audit.Actor(user=world.cm), plan, {"status": "active"}, plan.version)
    job, files = run_export(world.cm)
    paths = [export.file_path(job, kind) for kind in files]
    org, branch, receiver = harbor
    report = importer.import_files(audit.Actor(user=receiver), org, branch, paths)
    assert report.problem_count == 0, [p.as_dict() for p in report.problems]
    draft = CarePlan.objects.get(organization=org)
    mine = Intervention.objects.get(plan=draft, text=WEIGH)
    assert (mine.by_patient, mine.discipline, mine.caregiver_id, mine.clinician_id) == (
        True,
        "",
        None,
        None,
    )
    assert (mine.at_visits_of, mine.frequency) == ("RN", "qd x30")
    assert mine.goal is not None and mine.goal.description == built["weight"].description
    # The other interventions keep who they had.
    assert Intervention.objects.filter(plan=draft, by_patient=False).count() == 2
    # And it is written out the same way again.
    _, second = run_export(receiver)
    [again] = [r for r in second["ServiceRequest"] if r.get("code") == {"text": WEIGH}]
    assert again["performer"] == [{"reference": f"Patient/{draft.patient_id}"}]

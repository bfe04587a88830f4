"""Careway's own care plans as FHIR R4: CarePlan, Goal, ServiceRequest and the CareTeam, each
validated against the R4 models; read, search and the CapabilityStatement; bulk export."""

from datetime import timedelta

import pytest
from django.utils import timezone

from careway.careplans import services as plans
from careway.careplans.models import CarePlan
from careway.core import audit
from careway.core.models import AuditEvent
from careway.core.writes import service
from careway.fhir import mapping
from careway.fhir.mapping import plan_common as pc
from careway.patients.models import PastGoal
from tests.fhir.api_client import condition, contact, fhir_as, ids, issue_of, matches, resource_of
from tests.fhir.test_roundtrip import data_dir, run_export  # noqa: F401 (a fixture)
from tests.fhir.validate import assert_valid_r4

pytestmark = pytest.mark.django_db


def build_plan(patient, user) -> dict:
    """A plan as a case manager builds it: a problem linked to a condition and one written, goals
    on weight (in the patient's words), PHQ-9 and falls, RN 3w1, 2w4 and PT 2w3, a nurse's
    intervention and a caregiver's with a PRN frequency of its own."""
    actor = audit.Actor(user=user)
    heart_failure = condition(patient)
    daughter = contact(patient, name="Ann Hale", relationship="child")
    plan = plans.start_plan(actor, patient)
    hf = plans.add_problem(actor, plan, {"condition": heart_failure.pk, "text": ""})
    rug = plans.add_problem(actor, plan, {"text": "Loose rug in the hallway"})
    due = timezone.localdate() + timedelta(days=60)
    weight = plans.add_goal(
        actor,
        plan,
        {
            "patient_words": "Keep my ankles from swelling",
            "description": "Weight within 2 lb of dry weight (165 lb)",
            "measure": "weight",
            "target_low": 163,
            "target_high": 167,
            "due_date": due,
            "problem": hf.pk,
        },
    )
    mood = plans.add_goal(
        actor,
        plan,
        {"description": "PHQ-9 below 10", "measure": "phq-9", "target_high": 9, "due_date": due},
    )
    falls = plans.add_goal(
        actor,
        plan,
        {
            "description": "No falls for 30 days",
            "measure": "falls",
            "target_days": 30,
            "problem": rug.pk,
        },
    )
    rn = plans.set_frequency(actor, plan, {"discipline": "RN", "frequency": "3w1, 2w4"})
    pt = plans.set_frequency(actor, plan, {"discipline": "PT", "frequency": "2w3"})
    weigh = plans.add_intervention(
        actor,
        plan,
        {
            "kind": "monitor",
            "text": "Weigh daily and review the log",
            "discipline": "RN",
            "at_visits_of": "RN",
            "goal": weight.pk,
            "problem": hf.pk,
        },
    )
    rescue = plans.add_intervention(
        actor,
        plan,
        {
            "kind": "perform",
            "text": "Call the agency when short of breath",
            "caregiver": daughter.pk,
            "frequency": "PRN x2 for dyspnea",
            "problem": rug.pk,
        },
    )
    plan.refresh_from_db()
    return locals()


@pytest.fixture
def built(world):
    return build_plan(world.patient, world.cm)


def test_every_resource_is_valid_r4_and_shaped_after_us_core(world, built):
    plan = built["plan"]
    care_plan = mapping.to_fhir("CarePlan", plan)
    assert_valid_r4(care_plan)
    assert care_plan["identifier"] == [{"system": pc.PLAN_IDENTIFIER, "value": str(plan.pk)}]
    assert care_plan["text"]["status"] == "generated"
    assert "Loose rug in the hallway" in care_plan["text"]["div"]
    assert (care_plan["status"], care_plan["intent"]) == ("draft", "plan")
    assert care_plan["category"][0]["coding"][0]["code"] == "assess-plan"
    assert care_plan["meta"]["versionId"] == str(plan.revision)
    assert care_plan["careTeam"] == [{"reference": f"CareTeam/{plan.episode_id}"}]
    assert care_plan["addresses"] == [
        {"reference": f"Condition/{built['heart_failure'].pk}", "display": "Heart failure"},
        {"display": "Loose rug in the hallway"},
    ]
    assert [g["reference"] for g in care_plan["goal"]] == [
        f"Goal/{built[name].pk}" for name in ("weight", "mood", "falls")
    ]
    activities = [a["reference"]["reference"] for a in care_plan["activity"]]
    rn, pt = built["rn"].pk, built["pt"].pk
    assert activities == [
        f"ServiceRequest/frequency-{pt}-1",
        f"ServiceRequest/frequency-{rn}-1",
        f"ServiceRequest/frequency-{rn}-2",
        f"ServiceRequest/intervention-{built['weigh'].pk}-1",
        f"ServiceRequest/intervention-{built['rescue'].pk}-1",
    ]
    for row in ("weight", "mood", "falls"):
        assert_valid_r4(mapping.to_fhir("Goal", built[row]))
    for row in ("rn", "pt", "weigh", "rescue"):
        for resource in mapping.resources_of("ServiceRequest", built[row]):
            assert_valid_r4(resource)
    assert_valid_r4(mapping.to_fhir("CareTeam", plan.episode))


def test_a_goal_speaks_in_both_voices_with_its_target(world, built):
    weight = mapping.to_fhir("Goal", built["weight"])
    patient = {"reference": f"Patient/{world.patient.pk}"}
    assert weight["description"] == {"text": "Weight within 2 lb of dry weight (165 lb)"}
    assert weight["note"] == [{"authorReference": patient, "text": "Keep my ankles from swelling"}]
    assert weight["expressedBy"] == patient
    assert weight["lifecycleStatus"] == "proposed"
    assert weight["achievementStatus"]["coding"][0]["system"].endswith("goal-achievement")
    target = weight["target"][0]
    assert target["measure"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "29463-7",
        "display": "Body weight",
    }
    low = {"value": 163, "unit": "lb", "system": "http://unitsofmeasure.org", "code": "[lb_av]"}
    assert target["detailRange"]["low"] == low
    assert target["dueDate"] == built["due"].isoformat()
    assert weight["addresses"][0]["reference"] == f"Condition/{built['heart_failure'].pk}"

    mood = mapping.to_fhir("Goal", built["mood"])["target"][0]
    assert mood["detailQuantity"]["comparator"] == "<=" and mood["detailQuantity"]["value"] == 9
    assert mood["measure"]["coding"][0]["code"] == "phq-9/total"
    assert "expressedBy" not in mapping.to_fhir("Goal", built["mood"])

    falls = mapping.to_fhir("Goal", built["falls"])
    assert falls["target"][0]["measure"]["coding"][0]["code"] == "1912002"
    assert falls["target"][0]["extension"][0]["valueDuration"]["value"] == 30
    assert falls["addresses"] == [{"display": "Loose rug in the hallway"}]


def test_an_override_is_shown_with_its_reason(world, built):
    goal = built["mood"]
    changed = plans.override_achievement(
        audit.Actor(user=world.cm), goal, "improving", "Sleeping better, per daughter", goal.version
    )
    resource = mapping.to_fhir("Goal", changed)
    assert resource["achievementStatus"]["coding"][0]["code"] == "improving"
    assert "Sleeping better, per daughter" in resource["note"][-1]["text"]
    assert_valid_r4(resource)


def test_each_part_of_a_frequency_is_its_own_request_linked_in_order(built):
    first, second = mapping.resources_of("ServiceRequest", built["rn"])
    for part, resource in enumerate((first, second), start=1):
        assert resource["extension"] == [{"url": pc.EXT_PART, "valuePositiveInt": part}]
        assert resource["requisition"]["value"] == str(built["rn"].pk)
        assert resource["basedOn"] == [{"reference": f"CarePlan/{built['plan'].pk}"}]
        assert resource["status"] == "draft"  # the plan is a draft
        assert resource["code"]["coding"][0]["code"] == "RN"
    assert first["occurrenceTiming"]["repeat"]["frequency"] == 3
    assert second["occurrenceTiming"]["repeat"]["boundsDuration"]["value"] == 4


def test_an_intervention_names_its_caregiver_goal_and_problem(built):
    (rescue,) = mapping.resources_of("ServiceRequest", built["rescue"])
    daughter = built["daughter"]
    assert rescue["performer"] == [
        {"reference": f"RelatedPerson/{daughter.pk}", "display": "Ann Hale"}
    ]
    assert rescue["asNeededCodeableConcept"] == {"text": "dyspnea"}
    assert rescue["occurrenceTiming"] == {"repeat": {"count": 2}}
    assert rescue["reasonCode"] == [{"text": "Loose rug in the hallway"}]
    (weigh,) = mapping.resources_of("ServiceRequest", built["weigh"])
    assert weigh["performerType"]["coding"][0]["code"] == "RN"
    assert weigh["reasonReference"][0]["reference"].startswith("Condition/")
    goal = next(e for e in weigh["extension"] if e["url"].endswith("pertainsToGoal"))
    assert goal["valueReference"]["reference"] == f"Goal/{built['weight'].pk}"
    assert "occurrencePeriod" in weigh


def test_the_care_team_includes_the_caregiver_by_reference(built):
    team = mapping.to_fhir("CareTeam", built["plan"].episode)
    members = [p["member"] for p in team["participant"]]
    daughter = built["daughter"]
    assert {"display": "Ann Hale", "reference": f"RelatedPerson/{daughter.pk}"} in members


# --- the API -------------------------------------------------------------------------------------


def test_read_each_type_and_the_outsider_gets_404(world, built):
    team = fhir_as(world.cm)
    rn = built["rn"].pk
    paths = [
        f"CarePlan/{built['plan'].pk}",
        f"Goal/{built['weight'].pk}",
        f"ServiceRequest/frequency-{rn}-2",
        f"ServiceRequest/intervention-{built['rescue'].pk}-1",
    ]
    for path in paths:
        resource = resource_of(team.get(path))
        assert_valid_r4(resource)
        assert f"{resource['resourceType']}/{resource['id']}" == path
        assert AuditEvent.objects.filter(
            action="patient.view", patient_id=world.patient.pk, detail__resource=path
        ).exists()
        issue_of(fhir_as(world.outsider).get(path), 404)
    issue_of(team.get(f"ServiceRequest/frequency-{rn}-3"), 404)  # 3w1, 2w4 has two parts
    issue_of(team.get(f"CarePlan/{built['plan'].pk}/_history/1"), 404)
    assert team.get(f"CarePlan/{built['plan'].pk}")["ETag"] == f'W/"{built["plan"].revision}"'


def test_a_goal_has_its_earlier_versions(world, built):
    goal = built["mood"]
    plans.update_goal(audit.Actor(user=world.cm), goal, {"target_high": 4}, goal.version)
    old = resource_of(fhir_as(world.cm).get(f"Goal/{goal.pk}/_history/1"))
    assert old["target"][0]["detailQuantity"]["value"] == 9


def test_search_by_patient_finds_past_and_own_goals_together(world, built):
    # As an import keeps a goal from another setting (written the way its service writes it).
    past = service(PastGoal.objects.create)(
        organization=world.org,
        patient=world.patient,
        display="Walk to the mailbox",
        lifecycle_status="completed",
        achievement_status="achieved",
    )
    team = fhir_as(world.cm)
    found = team.get(f"Goal?patient={world.patient.pk}")
    bundle = resource_of(found)
    assert bundle["total"] == 4
    assert set(ids(bundle)) == {
        str(past.pk),
        *(str(built[g].pk) for g in ("weight", "mood", "falls")),
    }
    for resource in matches(bundle):
        assert_valid_r4(resource)
    paged = resource_of(team.get(f"Goal?patient={world.patient.pk}&_count=3&_offset=2"))
    assert len(ids(paged)) == 2
    proposed = resource_of(team.get("Goal?lifecycle-status=proposed"))
    assert proposed["total"] == 3
    achieved = resource_of(team.get("Goal?achievement-status=achieved"))
    assert ids(achieved) == [str(past.pk)]
    assert (
        resource_of(fhir_as(world.outsider).get(f"Goal?patient={world.patient.pk}"))["total"] == 0
    )


def test_service_requests_page_by_resource(world, built):
    team = fhir_as(world.cm)
    everything = resource_of(team.get(f"ServiceRequest?patient={world.patient.pk}"))
    assert everything["total"] == 5
    pages = [
        ids(
            resource_of(team.get(f"ServiceRequest?patient={world.patient.pk}&_count=2&_offset={n}"))
        )
        for n in (0, 2, 4)
    ]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(i for page in pages for i in page) == sorted(ids(everything))
    by_id = resource_of(team.get(f"ServiceRequest?_id=frequency-{built['rn'].pk}-2"))
    assert ids(by_id) == [f"frequency-{built['rn'].pk}-2"]
    assert resource_of(team.get("ServiceRequest?status=draft"))["total"] == 5
    assert resource_of(team.get("ServiceRequest?status=active"))["total"] == 0


def test_plans_search_by_status(world, built):
    team = fhir_as(world.cm)
    plan = built["plan"]
    assert ids(resource_of(team.get(f"CarePlan?patient={world.patient.pk}&status=draft"))) == [
        str(plan.pk)
    ]
    plans.update_plan(audit.Actor(user=world.cm), plan, {"status": "active"}, plan.version)
    assert resource_of(team.get("CarePlan?status=draft"))["total"] == 0
    assert resource_of(team.get("ServiceRequest?status=active"))["total"] == 5
    assert resource_of(team.get("Goal?lifecycle-status=active"))["total"] == 3


def test_the_capability_statement_lists_the_types(client):
    statement = client.get("/fhir/R4/metadata").json()
    served = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {"CarePlan", "Goal", "ServiceRequest"} <= set(served)
    goal_params = {p["name"] for p in served["Goal"]["searchParam"]}
    assert {"patient", "_id", "lifecycle-status", "achievement-status"} <= goal_params
    assert {"patient", "_id", "status"} <= {
        p["name"] for p in served["ServiceRequest"]["searchParam"]
    }


def test_none_of_them_is_written_through_the_api(world, built):
    team = fhir_as(world.cm)
    body = mapping.to_fhir("CarePlan", built["plan"])
    assert team.put(f"CarePlan/{built['plan'].pk}", body).status_code in (404, 405)
    assert CarePlan.objects.get(pk=built["plan"].pk).title == built["plan"].title


def test_bulk_export_writes_the_plan_its_goals_and_requests(world, built, data_dir):  # noqa: F811
    _, files = run_export(world.cm)
    assert [r["id"] for r in files["CarePlan"]] == [str(built["plan"].pk)]
    assert len(files["Goal"]) == 3
    assert len(files["ServiceRequest"]) == 5
    for kind in ("CarePlan", "Goal", "ServiceRequest", "CareTeam"):
        for resource in files[kind]:
            assert_valid_r4(resource)

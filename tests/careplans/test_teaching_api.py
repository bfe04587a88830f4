"""The teaching and agreement endpoints (careway/careplans/teaching_api.py) as an integrator
uses them: record teaching with its teach-back (and the follow-up task it raises), mark one
entered in error with the version read, record an agreement drawn or verbal, and read where the
plan stands; the three access tests (a member of the team can, the scheduler on the team cannot
write, anyone else gets 404), the audit trail, and bad input refused naming the field."""

from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from careway.careplans import services
from careway.careplans.models import Agreement, TeachingRecord
from careway.core import audit, tokens
from careway.core.models import AuditEvent, User
from careway.patients.models import Task
from tests.api.conftest import ApiClient, problem_fields

pytestmark = pytest.mark.django_db

TOPIC = "heart-failure-zones"
SIGNATURE = [[[20, 150], [60, 60], [100, 150], [140, 60]], [[200, 100], [320, 110], [420, 90]]]
TEACH = {"topic": TOPIC, "audience": "patient", "methods": ["explained"], "result": "understood"}
AGREE = {"who": "patient", "method": "signature", "signature": SIGNATURE}


@pytest.fixture(autouse=True)
def _agency_days(world):
    with timezone.override(ZoneInfo(world.org.timezone)):
        yield


@pytest.fixture
def api_as():
    def _as(user: User, scopes: tuple[str, ...] = ("patients:read", "patients:write")):
        raw, _ = tokens.create_token(audit.Actor.system(), user, "test", scopes, 30)
        return ApiClient(Client(), raw)

    return _as


@pytest.fixture
def api(world, api_as) -> ApiClient:
    return api_as(world.cm)


@pytest.fixture
def actor(world) -> audit.Actor:
    return audit.Actor(user=world.cm)


@pytest.fixture
def plan(world, actor):
    return services.start_plan(actor, world.patient)


@pytest.fixture
def record(world, actor, plan):
    from careway.careplans import teaching

    data = {"topic": TOPIC, "audience": "patient", "explained": True, "result": "understood"}
    return teaching.record_teaching(actor, world.patient, data)


def base(world) -> str:
    return f"/patients/{world.patient.pk}/care-plan"


def state() -> tuple[int, int, int]:
    return (
        TeachingRecord.objects.count(),
        TeachingRecord.objects.filter(status="entered-in-error").count(),
        Agreement.objects.count(),
    )


# (method, path under the plan, body, the member's status)
READS = [
    ("GET", "/teaching", None, 200),
    ("GET", "/agreements", None, 200),
    ("GET", "/agreement", None, 200),
]
WRITES = [
    ("POST", "/teaching", TEACH, 201),
    ("POST", "/teaching/{record}/entered-in-error", {"reason": "Wrong topic", "version": 1}, 200),
    ("POST", "/agreements", AGREE, 201),
]
OPERATIONS = READS + WRITES


def send(client, world, record, operation):
    method, path, body, _ = operation
    url = base(world) + path.replace("{record}", str(record.pk))
    return client.call(method, url, body)


def _id(operation) -> str:
    return f"{operation[0]} {operation[1]}"


def test_every_operation_is_documented_and_tried(api):
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    documented = {
        (method.upper(), path.split("/care-plan", 1)[1])
        for path, methods in paths.items()
        if "/care-plan/teaching" in path or "/care-plan/agreement" in path
        for method in methods
    }
    tried = {(m, p.replace("{record}", "{teaching_id}")) for m, p, *_ in OPERATIONS}
    assert documented == tried


@pytest.mark.parametrize("operation", OPERATIONS, ids=_id)
def test_a_member_of_the_team_can(world, record, api, operation):
    response = send(api, world, record, operation)
    assert response.status_code == operation[3], response.json()


@pytest.mark.parametrize("operation", READS, ids=_id)
def test_the_scheduler_on_the_team_can_read(world, record, api_as, operation):
    assert send(api_as(world.scheduler), world, record, operation).status_code == 200


@pytest.mark.parametrize("operation", WRITES, ids=_id)
def test_the_scheduler_on_the_team_cannot_write(world, record, api_as, operation):
    before = state()
    response = send(api_as(world.scheduler), world, record, operation)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert state() == before
    assert AuditEvent.objects.filter(
        actor_id=world.scheduler.pk, outcome=AuditEvent.Outcome.DENIED
    ).exists()


@pytest.mark.parametrize("operation", OPERATIONS, ids=_id)
@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_anyone_else_gets_404_and_a_denied_audit_event(world, record, api_as, operation, who):
    user = getattr(world, who)
    before = state()
    response = send(api_as(user), world, record, operation)
    assert response.status_code == 404
    assert state() == before
    assert AuditEvent.objects.filter(
        actor_id=user.pk, patient_id=world.patient.pk, outcome=AuditEvent.Outcome.DENIED
    ).exists()


def test_recording_teaching_that_needs_reinforcement(world, plan, api):
    body = {**TEACH, "methods": ["explained", "handout"], "result": "needs-reinforcement"}
    response = api.post(f"{base(world)}/teaching", body)
    assert response.status_code == 201, response.json()
    made = response.json()
    assert made["topic_title"] == "Heart failure: know your zones"
    assert made["methods"] == ["explained", "handout"] and made["taught_by"]
    task = Task.objects.get(pk=made["follow_up_task_id"])
    assert made["follow_up_status"] == "open" and task.assigned_to == world.cm
    assert AuditEvent.objects.filter(
        action="careplan.teaching.create", actor_id=world.cm.pk, object_id=made["id"]
    ).exists()
    listed = api.get(f"{base(world)}/teaching").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == made["id"]
    assert AuditEvent.objects.filter(
        action="patient.view", actor_id=world.cm.pk, detail__teaching="completed"
    ).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**TEACH, "topic": "nope"}, "topic"),
        ({**TEACH, "audience": "neighbour"}, "audience"),
        ({**TEACH, "audience": "caregiver"}, "caregiver_id"),
        ({**TEACH, "methods": []}, "methods"),
        ({**TEACH, "methods": ["sang it"]}, "methods"),
        ({**TEACH, "result": "maybe"}, "result"),
        ({**TEACH, "goal_id": "00000000-0000-0000-0000-000000000000"}, "goal_id"),
        ({**TEACH, "taught_by": 1}, "taught_by"),
    ],
)
def test_bad_teaching_is_refused_naming_the_field(world, plan, api, body, field):
    response = api.post(f"{base(world)}/teaching", body)
    assert response.status_code in (400, 422), response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert any(f.startswith(field) for f in problem_fields(response)), response.json()
    assert state() == (0, 0, 0)


def test_entered_in_error_needs_the_version(world, record, api):
    url = f"{base(world)}/teaching/{record.pk}/entered-in-error"
    assert api.post(url, {"reason": "Wrong topic"}).status_code == 428
    assert api.post(url, {"reason": "Wrong topic"}, if_match='"7"').status_code == 412
    assert "reason" in problem_fields(api.post(url, {"reason": "", "version": 1}))
    response = api.post(url, {"reason": "Wrong topic"}, if_match='"1"')
    assert response.status_code == 200 and response.json()["status"] == "entered-in-error"
    assert response["ETag"] == '"2"'
    assert api.get(f"{base(world)}/teaching").json()["count"] == 0
    assert api.get(f"{base(world)}/teaching?status=all").json()["count"] == 1


def test_agreement_asks_again_after_a_new_revision(world, actor, plan, api):
    assert api.get(f"{base(world)}/agreement").json()["state"] == "never"
    response = api.post(f"{base(world)}/agreements", {**AGREE, "revision": plan.revision})
    assert response.status_code == 201, response.json()
    assert response.json()["revision"] == 1 and response.json()["recorded_by_name"]
    now = api.get(f"{base(world)}/agreement").json()
    assert now["state"] == "agreed" and now["agreement"]["id"] == response.json()["id"]
    assert AuditEvent.objects.filter(action="careplan.agreement.create").count() == 1
    services.add_problem(actor, plan, {"text": "Fluid overload"})
    now = api.get(f"{base(world)}/agreement").json()
    assert now["state"] == "ask-again" and now["needs_agreement"] and now["revision"] == 2
    assert now["changes"] == ["Problem added: Fluid overload"]
    stale = api.post(f"{base(world)}/agreements", {**AGREE, "revision": 1})
    assert stale.status_code == 422 and problem_fields(stale) == ["revision"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**AGREE, "signature": []}, "signature"),
        ({**AGREE, "signature": [[[300, 100]]]}, "signature"),
        ({**AGREE, "signature": [[[900, 100], [100, 100]]]}, "signature"),
        ({**AGREE, "signature": [["x"]]}, "signature"),
        ({"who": "patient", "method": "verbal"}, "witness_name"),
        ({**AGREE, "who": "representative"}, "representative_id"),
        ({**AGREE, "method": "fax"}, "method"),
    ],
)
def test_bad_agreements_are_refused_naming_the_field(world, plan, api, body, field):
    response = api.post(f"{base(world)}/agreements", body)
    assert response.status_code == 422, response.json()
    assert field in problem_fields(response), response.json()
    assert state() == (0, 0, 0)


def test_no_plan_no_agreement(world, api):
    assert api.get(f"{base(world)}/agreement").status_code == 404
    assert api.post(f"{base(world)}/agreements", AGREE).status_code == 404


def test_a_goal_and_an_intervention_take_a_teaching_topic_through_the_api(world, plan, api):
    goal = api.post(
        f"/care-plans/{plan.pk}/goals",
        {"description": "Knows the heart failure zones", "teaching_topic": TOPIC},
    )
    assert goal.status_code == 201, goal.json()
    assert goal.json()["teaching_topic"] == TOPIC and goal.json()["measure"] == "teach-back"
    assert goal.json()["target"] == "Teach-back understood: Heart failure zones"
    bad = api.post(f"/care-plans/{plan.pk}/goals", {"description": "x", "teaching_topic": "nope"})
    assert bad.status_code == 422 and problem_fields(bad) == ["teaching_topic"]
    row = api.post(
        f"/care-plans/{plan.pk}/interventions",
        {"kind": "teach", "text": "Teach the zones", "discipline": "RN", "teaching_topic": TOPIC},
    )
    assert row.status_code == 201, row.json()
    assert row.json()["teaching_topic"] == TOPIC
    api.post(f"{base(world)}/teaching", TEACH)
    goals = api.get(f"/patients/{world.patient.pk}/care-plan").json()["goals"]
    assert [g["achievement"] for g in goals] == ["achieved"]

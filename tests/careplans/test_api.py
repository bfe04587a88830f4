"""The care plan endpoints as an integrator uses them: the plan whole, its revisions and their
differences, and every change to it; who may do what (a member of the team can, the scheduler on
the team and a read-scope token cannot write, anyone else gets 404), the audit trail, versions
(a stale change is a conflict, two additions both stay), bad input refused naming the field,
and the issue's scenario: a weight posted through the observation endpoint turns a goal
"worsening" in the plan the API serves."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from careway.careplans import services
from careway.careplans.models import (
    CarePlan,
    CarePlanRevision,
    DisciplineFrequency,
    Goal,
    Intervention,
    Problem,
)
from careway.core import audit, tokens
from careway.core.models import AuditEvent, User
from careway.patients import services as patient_services
from careway.patients.models import CareTeamMember, Task
from tests.api.conftest import ApiClient, problem_fields
from tests.factories import World, join_team, make_patient, make_user

pytestmark = pytest.mark.django_db

WEIGHT_GOAL = {
    "patient_words": "Keep my ankles from swelling",
    "description": "Weight within 2 lb of dry weight (165 lb)",
    "measure": "weight",
    "target_low": 163,
    "target_high": 167,
}


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
def plan(world, actor) -> CarePlan:
    return services.start_plan(actor, world.patient)


@pytest.fixture
def built(world, actor, plan) -> dict[str, Any]:
    """A plan with one row of each kind, and a patient on the same team with no plan yet."""
    problem = services.add_problem(actor, plan, {"text": "Fluid overload"})
    goal = services.add_goal(actor, plan, {**WEIGHT_GOAL, "problem": problem.pk})
    intervention = services.add_intervention(
        actor, plan, {"kind": "teach", "text": "Teach daily weights", "discipline": "RN"}
    )
    frequency = services.set_frequency(actor, plan, {"discipline": "RN", "frequency": "3w1, 2w4"})
    unplanned = make_patient(world.branch, world.cm, given_name="Nora", family_name="Pike")
    join_team(unplanned, world.scheduler, CareTeamMember.TeamRole.SCHEDULER)
    return {
        "plan": plan,
        "problem": problem,
        "goal": goal,
        "intervention": intervention,
        "frequency": frequency,
        "unplanned": unplanned,
    }


def weight(pounds: float, days_ago: int = 0) -> dict[str, Any]:
    taken = timezone.now() - timedelta(days=days_ago)
    return {
        "code_system": "http://loinc.org",
        "code": "29463-7",
        "display": "Body weight",
        "category": "vital-signs",
        "effective_at": taken.isoformat(),
        "value": pounds,
        "unit": "[lb_av]",
    }


def revision_of(plan: CarePlan) -> CarePlanRevision:
    return CarePlanRevision.objects.filter(plan=plan).order_by("-number").first()


# --- who may do what, on every endpoint -----------------------------------------------------------

# (method, path, body, what the member gets). Paths name the rows of the `built` fixture.
OPERATIONS: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("GET", "/patients/{patient}/care-plan", None, 200),
    ("POST", "/patients/{unplanned}/care-plan", {"reason": "Start of care"}, 201),
    ("GET", "/care-plans/{plan}", None, 200),
    ("PATCH", "/care-plans/{plan}", {"status": "active", "version": 1}, 200),
    ("GET", "/care-plans/{plan}/revisions", None, 200),
    ("GET", "/care-plans/{plan}/revisions/1", None, 200),
    ("GET", "/care-plans/{plan}/differences?from=1&to=3", None, 200),
    ("POST", "/care-plans/{plan}/problems", {"text": "Risk of falls"}, 201),
    ("PATCH", "/care-plan-problems/{problem}", {"status": "resolved", "version": 1}, 200),
    ("POST", "/care-plans/{plan}/goals", {"patient_words": "Walk to the mailbox"}, 201),
    ("PATCH", "/care-plan-goals/{goal}", {"due_date": "2099-01-31", "version": 1}, 200),
    (
        "PUT",
        "/care-plan-goals/{goal}/override",
        {"status": "improving", "reason": "Ankles less swollen", "version": 1},
        200,
    ),
    ("POST", "/care-plans/{plan}/frequencies", {"discipline": "PT", "frequency": "2w3"}, 201),
    ("PATCH", "/care-plan-frequencies/{frequency}", {"frequency": "2w4", "version": 1}, 200),
    (
        "POST",
        "/care-plans/{plan}/interventions",
        {"kind": "monitor", "text": "Check for edema", "discipline": "RN"},
        201,
    ),
    ("PATCH", "/care-plan-interventions/{intervention}", {"status": "on-hold", "version": 1}, 200),
    ("POST", "/care-plan-interventions/{intervention}/tasks", {}, 201),
]
WRITES = [op for op in OPERATIONS if op[0] != "GET"]
READS = [op for op in OPERATIONS if op[0] == "GET"]


def _id(operation: tuple) -> str:
    return f"{operation[0]} {operation[1]}"


def send(client: ApiClient, world: World, built: dict, operation: tuple):
    method, path, body, _ok = operation
    names = {"patient": world.patient, **built}
    for name, row in names.items():
        path = path.replace(f"{{{name}}}", str(row.pk))
    return client.call(method, path, body)


def plan_state() -> tuple:
    """What a refused request must leave exactly as it was."""
    rows = (CarePlan, CarePlanRevision, Problem, Goal, Intervention, DisciplineFrequency)
    return (
        *(m.objects.count() for m in rows),
        *(sorted(m.objects.values_list("version", flat=True)) for m in rows),
        Task.objects.count(),
    )


def test_every_endpoint_is_tried_here():
    from careway.api import api

    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    documented = {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, item in schema["paths"].items()
        for method in item
        # The suggestions and the review (/care-plan/...) are tried in test_api_suggestions.py;
        # the agency's templates, not a patient's, in test_agency_templates.py.
        if "care-plan" in path and "/care-plan/" not in path and "/care-plan-templates" not in path
    }
    tried = {(m, p.replace("{unplanned}", "{patient}").split("?")[0]) for m, p, *_ in OPERATIONS}
    placeholders = {
        "{patient_id}": "{patient}",
        "{plan_id}": "{plan}",
        "{problem_id}": "{problem}",
        "{goal_id}": "{goal}",
        "{intervention_id}": "{intervention}",
        "{frequency_id}": "{frequency}",
        "{number}": "1",
    }
    for name, value in placeholders.items():
        documented = {(m, p.replace(name, value)) for m, p in documented}
    assert documented == tried


@pytest.mark.parametrize("operation", OPERATIONS, ids=_id)
def test_a_member_of_the_team_can(world, built, api, operation):
    response = send(api, world, built, operation)
    assert response.status_code == operation[3], response.json()
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("operation", READS, ids=_id)
def test_the_scheduler_on_the_team_can_read(world, built, api_as, operation):
    assert send(api_as(world.scheduler), world, built, operation).status_code == 200


@pytest.mark.parametrize("operation", WRITES, ids=_id)
def test_the_scheduler_on_the_team_cannot_write(world, built, api_as, operation):
    before = plan_state()
    response = send(api_as(world.scheduler), world, built, operation)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert plan_state() == before
    assert AuditEvent.objects.filter(
        actor_id=world.scheduler.pk, outcome=AuditEvent.Outcome.DENIED
    ).exists()


@pytest.mark.parametrize("operation", WRITES, ids=_id)
def test_a_read_scope_token_cannot_write(world, built, api_as, operation):
    before = plan_state()
    response = send(api_as(world.cm, ("patients:read",)), world, built, operation)
    assert response.status_code == 403
    assert "patients:write" in response.json()["detail"]
    assert plan_state() == before


@pytest.mark.parametrize("operation", OPERATIONS, ids=_id)
@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_anyone_else_gets_404_and_a_denied_audit_event(world, built, api_as, operation, who):
    user = getattr(world, who)
    before = plan_state()
    response = send(api_as(user), world, built, operation)
    assert response.status_code == 404
    assert response.json()["detail"].startswith("There is no such patient or record")
    assert plan_state() == before
    assert AuditEvent.objects.filter(actor_id=user.pk, outcome=AuditEvent.Outcome.DENIED).exists()


@pytest.mark.parametrize("operation", READS, ids=_id)
def test_every_read_is_audited(world, built, api, operation):
    send(api, world, built, operation)
    event = AuditEvent.objects.filter(actor_id=world.cm.pk, action="patient.view").latest("pk")
    assert event.patient_id == world.patient.pk
    assert event.detail["section"] == "careplan"
    assert event.outcome == AuditEvent.Outcome.SUCCESS


@pytest.mark.parametrize("operation", WRITES, ids=_id)
def test_every_write_is_audited(world, built, api, operation):
    before = AuditEvent.objects.filter(actor_id=world.cm.pk).count()
    send(api, world, built, operation)
    actions = AuditEvent.objects.filter(actor_id=world.cm.pk).values_list("action", flat=True)
    assert len(actions) > before
    assert all(a.startswith(("careplan.", "task.", "patient.")) for a in actions[before:])


# --- reading the plan ---------------------------------------------------------------------------


def test_the_plan_comes_whole_with_every_row_versioned(world, built, api):
    response = api.get(f"/patients/{world.patient.pk}/care-plan")
    assert response.status_code == 200
    body = response.json()
    assert response["ETag"] == '"1"'
    assert (body["id"], body["status"], body["revision"]) == (str(built["plan"].pk), "draft", 5)
    assert [p["text"] for p in body["problems"]] == ["Fluid overload"]
    (goal,) = body["goals"]
    assert goal["problem_id"] == str(built["problem"].pk)
    assert goal["target"] == "Body weight: 163 to 167 lb"
    assert goal["achievement"] == goal["computed_achievement"] == "in-progress"
    assert goal["achievement_rule"] and goal["override"] is None
    (frequency,) = body["frequencies"]
    assert frequency["frequency"] == "3w1, 2w4"
    assert frequency["in_words"] == (
        "Three times a week for one week, then twice a week for four weeks"
    )
    (intervention,) = body["interventions"]
    assert intervention["who"] == "Registered nurse"
    assert intervention["by_patient"] is False
    assert {m["name"] for m in body["team"]} >= {
        world.cm.display_name,
        world.rn.display_name,
        world.scheduler.display_name,
    }
    for part in ("problems", "goals", "interventions", "frequencies", "team"):
        assert all(row["version"] >= 1 for row in body[part]), part


def test_no_plan_yet_is_a_404_that_says_so(world, api):
    response = api.get(f"/patients/{world.patient.pk}/care-plan")
    assert response.status_code == 404
    assert "no care plan yet" in response.json()["detail"]
    assert AuditEvent.objects.filter(
        actor_id=world.cm.pk, action="patient.view", patient_id=world.patient.pk
    ).exists()


def test_reading_the_plan_takes_the_same_queries_however_many_rows(world, actor, plan, api):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(f"/care-plans/{plan.pk}").status_code == 200
        return len(captured)

    services.add_goal(actor, plan, WEIGHT_GOAL)
    services.add_intervention(actor, plan, {"kind": "teach", "text": "a", "clinician": world.rn.pk})
    queries()  # the token's first use of the minute is written down
    few = queries()
    for n in range(4):
        services.add_goal(actor, plan, {**WEIGHT_GOAL, "description": f"goal {n}"})
        services.add_intervention(
            actor, plan, {"kind": "teach", "text": f"b{n}", "clinician": world.rn.pk}
        )
        services.add_problem(actor, plan, {"text": f"problem {n}"})
    assert queries() == few


# --- starting and revising ------------------------------------------------------------------------


def test_starting_a_plan_keeps_the_reason_and_a_second_is_refused(world, api):
    url = f"/patients/{world.patient.pk}/care-plan"
    response = api.post(url, {"title": "Heart failure plan", "reason": "Start of care visit"})
    assert response.status_code == 201
    plan = CarePlan.objects.get(pk=response.json()["id"])
    assert response["Location"] == f"/api/v1/care-plans/{plan.pk}"
    assert (plan.title, plan.status) == ("Heart failure plan", "draft")
    assert plan.review_due == plan.episode.start_of_care + timedelta(days=55)
    assert revision_of(plan).reason == "Start of care visit"
    again = api.post(url, {})
    assert again.status_code == 422
    assert problem_fields(again) == ["episode"]


def test_a_plan_without_an_open_episode_cannot_be_started(world, api):
    discharged = patient_services.create_patient(
        audit.Actor(user=world.cm),
        world.branch,
        {
            "mrn": "DC-1",
            "given_name": "Ida",
            "family_name": "Moss",
            "birth_date": "1936-02-01",
            "sex": "female",
        },
        episode={
            "status": "discharged",
            "start_of_care": timezone.localdate() - timedelta(days=90),
        },
    )
    assert api.get(f"/patients/{discharged.pk}/care-plan").status_code == 404
    response = api.post(f"/patients/{discharged.pk}/care-plan", {})
    assert response.status_code == 422
    assert "no open episode" in response.json()["errors"][0]["message"]


def test_changing_the_plan_needs_its_version_and_keeps_the_reason(world, plan, api):
    url = f"/care-plans/{plan.pk}"
    assert api.patch(url, {"title": "New"}).status_code == 428
    response = api.patch(
        url, {"status": "active", "reason": "Agreed with Margaret"}, If_Match='"1"'
    )
    assert response.status_code == 200
    assert (response.json()["status"], response["ETag"]) == ("active", '"2"')
    assert revision_of(plan).reason == "Agreed with Margaret"
    stale = api.patch(url, {"title": "Older idea", "version": 1})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    assert CarePlan.objects.get(pk=plan.pk).title == "Home health plan of care"


def test_every_revising_write_lands_its_reason_in_the_revision(world, built, api):
    plan = built["plan"]
    for method, path, body, _ok in WRITES:
        if "{unplanned}" in path or path.endswith("/tasks"):
            continue  # another patient's plan; a task is no plan content
        names = {name: str(row.pk) for name, row in built.items()}
        url = path.format(**names)
        body = {**(body or {}), "reason": f"because of {method} {path}"}
        if "version" in body:
            body.pop("version")
            kind = {"care-plans": CarePlan, "care-plan-problems": Problem}.get(url.split("/")[1])
            kind = (
                kind
                or {
                    "care-plan-goals": Goal,
                    "care-plan-frequencies": DisciplineFrequency,
                    "care-plan-interventions": Intervention,
                }[url.split("/")[1]]
            )
            body["version"] = kind.objects.get(pk=url.split("/")[2]).version
        response = api.call(method, url, body)
        assert response.status_code in (200, 201), (path, response.json())
        assert revision_of(plan).reason == f"because of {method} {path}", path


def test_revisions_list_one_whole_and_the_differences_between_two(world, built, api):
    plan = built["plan"]
    listed = api.get(f"/care-plans/{plan.pk}/revisions").json()
    assert listed["count"] == 5
    assert [r["number"] for r in listed["items"]] == [5, 4, 3, 2, 1]
    assert listed["items"][-1]["summary"] == "Plan started"
    assert listed["items"][-1]["author"] == world.cm.display_name

    one = api.get(f"/care-plans/{plan.pk}/revisions/3").json()
    assert one["summary"] == "Goal added: Weight within 2 lb of dry weight (165 lb)"
    (goal,) = one["content"]["goals"].values()
    assert goal["target"] == "Body weight: 163 to 167 lb"

    differences = api.get(f"/care-plans/{plan.pk}/differences?from=1&to=3").json()
    assert (differences["from_revision"], differences["to_revision"]) == (1, 3)
    assert [(c["what"], c["how"]) for c in differences["changes"]] == [
        ("Problem", "added"),
        ("Goal", "added"),
    ]
    newest = api.get(f"/care-plans/{plan.pk}/differences").json()
    assert (newest["from_revision"], newest["to_revision"]) == (4, 5)
    assert newest["changes"][0]["what"] == "Visit frequency"


def test_a_revision_that_does_not_exist_is_named(world, built, api):
    plan = built["plan"]
    missing = api.get(f"/care-plans/{plan.pk}/revisions/9")
    assert missing.status_code == 404
    assert "no revision 9; its revisions are 1 to 5" in missing.json()["detail"]
    bad_range = api.get(f"/care-plans/{plan.pk}/differences?from=0&to=99")
    assert bad_range.status_code == 422
    assert problem_fields(bad_range) == ["from"]
    beyond = api.get(f"/care-plans/{plan.pk}/differences?from=2&to=99")
    assert beyond.status_code == 422
    assert problem_fields(beyond) == ["to"]


# --- conflicts ------------------------------------------------------------------------------------


def test_two_clients_revising_one_goal_the_second_gets_a_conflict_and_nothing_is_lost(
    world, built, api, api_as
):
    goal = built["goal"]
    url = f"/care-plan-goals/{goal.pk}"
    nurse = api_as(world.rn)
    read_by_cm = api.get(f"/care-plans/{built['plan'].pk}").json()["goals"][0]["version"]
    read_by_nurse = nurse.get(f"/care-plans/{built['plan'].pk}").json()["goals"][0]["version"]

    first = api.patch(url, {"due_date": "2099-03-01", "version": read_by_cm})
    assert first.status_code == 200
    second = nurse.patch(url, {"target_high": 168}, If_Match=f'"{read_by_nurse}"')
    assert second.status_code == 412
    body = second.json()
    assert body["type"] == "urn:careway:problem:stale-version"
    assert body["current_version"] == first.json()["version"] == read_by_nurse + 1
    assert second["ETag"] == f'"{body["current_version"]}"'
    goal.refresh_from_db()
    assert (str(goal.due_date), goal.target_high) == ("2099-03-01", 167)

    retried = nurse.patch(url, {"target_high": 168, "version": body["current_version"]})
    assert retried.status_code == 200
    goal.refresh_from_db()
    assert (str(goal.due_date), goal.target_high) == ("2099-03-01", 168)


def test_two_clients_adding_goals_both_keep_theirs(world, plan, api, api_as):
    nurse = api_as(world.rn)
    url = f"/care-plans/{plan.pk}/goals"
    mine = api.post(url, {"patient_words": "Walk to the mailbox by spring"})
    theirs = nurse.post(url, {"patient_words": "Sleep through the night"})
    assert mine.status_code == theirs.status_code == 201
    listed = api.get(f"/care-plans/{plan.pk}").json()["goals"]
    assert [g["description"] for g in listed] == [
        "Walk to the mailbox by spring",
        "Sleep through the night",
    ]
    assert [r.number for r in plan.revisions.all()] == [1, 2, 3]


def test_an_override_from_a_stale_version_is_a_412(world, built, api):
    goal = built["goal"]
    url = f"/care-plan-goals/{goal.pk}/override"
    body = {"status": "improving", "reason": "Ankles less swollen"}
    assert api.put(url, {**body, "version": goal.version}).status_code == 200
    stale = api.put(url, {"status": "worsening", "reason": "x", "version": goal.version})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == goal.version + 1
    goal.refresh_from_db()
    assert goal.override == "improving"


# --- the scenario -------------------------------------------------------------------------


def test_a_weight_posted_through_the_api_turns_the_goal_worsening(world, plan, api):
    observations = f"/patients/{world.patient.pk}/observations"
    for pounds, days_ago in ((168, 9), (168, 6), (167.5, 3)):
        assert api.post(observations, weight(pounds, days_ago)).status_code == 201
    goal = api.post(f"/care-plans/{plan.pk}/goals", WEIGHT_GOAL).json()
    assert goal["achievement"] == "improving"

    assert api.post(observations, weight(171)).status_code == 201

    (now,) = api.get(f"/patients/{world.patient.pk}/care-plan").json()["goals"]
    assert now["achievement"] == now["computed_achievement"] == "worsening"
    assert "4 lb from the target" in now["achievement_rule"]


def test_an_override_shows_over_the_computed_status_with_who_and_why(world, built, api):
    goal = built["goal"]
    response = api.put(
        f"/care-plan-goals/{goal.pk}/override",
        {"status": "achieved", "reason": "Dry weight reached at the clinic", "version": 1},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["achievement"], body["computed_achievement"]) == ("achieved", "in-progress")
    assert body["override"]["by"] == world.cm.display_name
    assert body["override"]["reason"] == "Dry weight reached at the clinic"
    back = api.put(
        f"/care-plan-goals/{goal.pk}/override", {"status": "", "version": body["version"]}
    )
    assert back.json()["override"] is None


# --- interventions, caregivers and tasks ----------------------------------------------------------


def test_a_caregiver_given_an_intervention_joins_the_team_served_with_the_plan(
    world, actor, plan, api
):
    daughter = patient_services.add_contact(
        actor, world.patient, {"name": "Ruth Hale", "relationship": "child"}
    )
    response = api.post(
        f"/care-plans/{plan.pk}/interventions",
        {"kind": "perform", "text": "Weigh each morning", "caregiver_id": daughter.pk},
    )
    assert response.status_code == 201
    assert response.json()["who"] == "Ruth Hale (son or daughter)"
    team = api.get(f"/care-plans/{plan.pk}").json()["team"]
    assert {"name": "Ruth Hale", "role": "caregiver"}.items() <= next(
        m for m in team if m["related_person_id"] == daughter.pk
    ).items()


def test_the_patient_does_it_in_and_out(world, actor, plan, api):
    response = api.post(
        f"/care-plans/{plan.pk}/interventions",
        {"kind": "monitor", "text": "Weigh yourself each morning", "by_patient": True,
         "at_visits_of": "RN", "frequency": "qd x30"},
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    made = response.json()
    assert (made["by_patient"], made["who"], made["discipline"]) == (True, "The patient", "")
    assert (made["clinician_id"], made["caregiver_id"], made["at_visits_of"]) == (None, None, "RN")
    (shown,) = api.get(f"/care-plans/{plan.pk}").json()["interventions"]
    assert shown["by_patient"] is True and shown["who"] == "The patient"
    assert AuditEvent.objects.filter(
        action="careplan.intervention.create", object_id=made["id"], actor_id=world.cm.pk
    ).exists()
    # Given to the nurse: the patient's part goes, in the same change.
    changed = api.patch(
        f"/care-plan-interventions/{made['id']}",
        {"by_patient": False, "discipline": "RN", "version": made["version"]},
    )
    assert changed.status_code == 200, changed.json()
    assert (changed.json()["by_patient"], changed.json()["who"]) == (False, "Registered nurse")
    stale = api.patch(
        f"/care-plan-interventions/{made['id']}",
        {"by_patient": True, "discipline": "", "version": made["version"]},
    )
    assert stale.status_code == 412  # a stale version: the API's conflict


@pytest.mark.parametrize(
    ("change", "field"),
    [({"discipline": "RN"}, "discipline"), ({"caregiver": True}, "caregiver_id"),
     ({"by_patient": None}, "by_patient"), ({"by_patient": "sometimes"}, "by_patient")],
)  # fmt: skip
def test_the_patient_beside_someone_else_is_refused_naming_the_field(
    world, actor, plan, api, change, field
):
    if change.pop("caregiver", False):
        daughter = patient_services.add_contact(
            actor, world.patient, {"name": "Ruth Hale", "relationship": "child"}
        )
        change["caregiver_id"] = daughter.pk
    body = {"kind": "monitor", "text": "Weigh yourself", "by_patient": True, **change}
    refused(api, f"/care-plans/{plan.pk}/interventions", body, field)


def test_an_intervention_raises_a_task_on_a_colleagues_list(world, built, api):
    url = f"/care-plan-interventions/{built['intervention'].pk}/tasks"
    response = api.post(url, {"assigned_to_id": world.rn.pk, "due_date": "2099-01-02"})
    assert response.status_code == 201
    task = Task.objects.get(pk=response.json()["id"])
    assert (task.assigned_to, str(task.due_date)) == (world.rn, "2099-01-02")
    assert task.title == "Teach: Teach daily weights"
    elsewhere = api.post(url, {"assigned_to_id": world.outsider.pk})
    assert elsewhere.status_code == 422
    assert problem_fields(elsewhere) == ["assigned_to_id"]


# --- bad input: the field named, nothing written, never a 500 -------------------------------------


def refused(api, url, body, field, *, method="POST", words="") -> None:
    before = plan_state()
    response = api.call(method, url, body)
    assert response.status_code == 422, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert field in problem_fields(response), response.json()
    if words:
        messages = " ".join(e["message"] for e in response.json()["errors"])
        assert words in messages, messages
    assert plan_state() == before


def test_a_goal_with_an_unknown_measure_is_refused_naming_the_choices(world, plan, api):
    body = {**WEIGHT_GOAL, "measure": "happiness"}
    refused(api, f"/care-plans/{plan.pk}/goals", body, "measure", words="'weight'")


def test_a_target_whose_lowest_is_above_its_highest_is_refused(world, plan, api):
    body = {**WEIGHT_GOAL, "target_low": 170, "target_high": 160}
    refused(api, f"/care-plans/{plan.pk}/goals", body, "target_low", words="above the highest")


@pytest.mark.parametrize(
    "change, field",
    [
        ({"target_low": None, "target_high": None}, "target_high"),
        ({"measure": "falls"}, "target_days"),
        ({"measure": "", "target_low": 1}, "measure"),
        ({"measure": "task"}, "task_id"),
        ({"needed": 5, "window": 4}, "needed"),
        ({"needed": 0}, "needed"),
        ({"target_high": "NaN"}, "target_high"),
        ({"lifecycle_status": "maybe"}, "lifecycle_status"),
        ({"due_date": "2000-01-01"}, "due_date"),
        ({"achievement": "achieved"}, "achievement"),
        ({"plan_id": "00000000-0000-0000-0000-000000000000"}, "plan_id"),
        ({"patient_words": "", "description": ""}, "description"),
    ],
)
def test_goal_nonsense_is_refused_naming_the_field(world, plan, api, change, field):
    refused(api, f"/care-plans/{plan.pk}/goals", {**WEIGHT_GOAL, **change}, field)


def test_a_measure_default_window_smaller_than_the_readings_needed_is_refused(world, plan, api):
    # The weight measure counts the last 4 readings: 5 of them within target cannot be asked.
    refused(api, f"/care-plans/{plan.pk}/goals", {**WEIGHT_GOAL, "needed": 5}, "needed")


def test_a_task_of_another_patient_cannot_be_a_goals_target(world, plan, api):
    other = patient_services.add_task(
        audit.Actor(user=world.outsider), world.outsider_patient, {"title": "x"}
    )
    body = {"description": "Get the grab bars", "measure": "task", "task_id": other.pk}
    refused(api, f"/care-plans/{plan.pk}/goals", body, "task_id")


def test_a_goal_of_another_plan_is_refused(world, built, api, actor):
    other_plan = services.start_plan(actor, built["unplanned"])
    elsewhere = services.add_goal(actor, other_plan, {"description": "Elsewhere"})
    body = {"kind": "teach", "text": "x", "discipline": "RN", "goal_id": str(elsewhere.pk)}
    refused(api, f"/care-plans/{built['plan'].pk}/interventions", body, "goal_id")
    problem_elsewhere = services.add_problem(actor, other_plan, {"text": "Elsewhere"})
    refused(
        api,
        f"/care-plan-goals/{built['goal'].pk}",
        {"problem_id": str(problem_elsewhere.pk), "version": 1},
        "problem_id",
        method="PATCH",
    )


def test_a_caregiver_of_another_patient_is_refused(world, plan, api, actor):
    neighbour = make_patient(world.branch, world.cm)
    their_son = patient_services.add_contact(
        actor, neighbour, {"name": "Sam", "relationship": "child"}
    )
    body = {"kind": "perform", "text": "Weigh", "caregiver_id": their_son.pk}
    refused(api, f"/care-plans/{plan.pk}/interventions", body, "caregiver_id")


def test_a_clinician_of_another_agency_is_refused(world, plan, api):
    stranger = make_user(world.other_org, world.other_branch, "clinician", "rn_stranger", "RN")
    body = {"kind": "perform", "text": "Wound care", "clinician_id": stranger.pk}
    refused(api, f"/care-plans/{plan.pk}/interventions", body, "clinician_id")


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"kind": "dance"}, "kind", "'teach'"),
        ({"discipline": "XX"}, "discipline", "'RN'"),
        ({"discipline": ""}, "discipline", "a discipline, a clinician, a caregiver or the patient"),
        ({"frequency": "3x"}, "frequency", "3x"),
        ({"end_date": "2000-01-01"}, "end_date", "before the start"),
        ({"clinician_id": 2**63}, "clinician_id", ""),
        ({"goal_id": "not-a-uuid"}, "goal_id", ""),
        ({"unknown": 1}, "unknown", "cannot be set"),
    ],
)
def test_intervention_nonsense_is_refused_naming_the_field(world, plan, api, change, field, words):
    body = {"kind": "teach", "text": "Teach daily weights", "discipline": "RN", **change}
    refused(api, f"/care-plans/{plan.pk}/interventions", body, field, words=words)


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"discipline": "PT", "frequency": "3x"}, "frequency", "3x"),
        ({"discipline": "PT", "frequency": ""}, "frequency", "for example 3w1, 2w4"),
        ({"discipline": "RN", "frequency": "2w3"}, "discipline", "already"),
        ({"discipline": "MD", "frequency": "2w3"}, "discipline", ""),
    ],
)
def test_frequency_nonsense_is_refused_naming_the_part(world, built, api, body, field, words):
    refused(api, f"/care-plans/{built['plan'].pk}/frequencies", body, field, words=words)


def test_a_bad_frequency_change_is_refused_and_the_old_one_stays(world, built, api):
    row = built["frequency"]
    body = {"frequency": "3w1, 2x", "version": 1}
    refused(api, f"/care-plan-frequencies/{row.pk}", body, "frequency", method="PATCH", words="2x")
    row.refresh_from_db()
    assert row.frequency == "3w1, 2w4"


@pytest.mark.parametrize(
    "url, body, field",
    [
        ("/care-plans/{plan}", {"status": "done", "version": 1}, "status"),
        ("/care-plans/{plan}", {"status": "entered-in-error", "version": 1}, "reason"),
        ("/care-plans/{plan}", {"patient_id": "x", "version": 1}, "patient_id"),
        ("/care-plan-problems/{problem}", {"text": "", "version": 1}, "text"),
        ("/care-plan-problems/{problem}", {"source": "flag", "version": 1}, "source"),
        ("/care-plan-goals/{goal}", {"measure": "mood", "version": 1}, "measure"),
        ("/care-plan-goals/{goal}", {"override": "achieved", "version": 1}, "override"),
        ("/care-plan-goals/{goal}", {"version": 0}, "version"),
    ],
)
def test_patch_nonsense_is_refused_naming_the_field(world, built, api, url, body, field):
    path = url.format(**{name: row.pk for name, row in built.items()})
    refused(api, path, body, field, method="PATCH")


def test_a_problem_linked_to_another_patients_condition_is_refused(world, plan, api):
    theirs = patient_services.add_condition(
        audit.Actor(user=world.outsider), world.outsider_patient, {"display": "Diabetes"}
    )
    body = {"text": "", "condition_id": theirs.pk}
    refused(api, f"/care-plans/{plan.pk}/problems", body, "condition_id")


def test_an_override_needs_a_reason_and_a_known_status(world, built, api):
    url = f"/care-plan-goals/{built['goal'].pk}/override"
    refused(api, url, {"status": "achieved", "version": 1}, "reason", method="PUT")
    refused(api, url, {"status": "great", "reason": "x", "version": 1}, "status", method="PUT")


def test_a_closed_plan_takes_no_more_rows(world, plan, api):
    api.patch(f"/care-plans/{plan.pk}", {"status": "completed", "version": 1})
    refused(api, f"/care-plans/{plan.pk}/goals", {"description": "One more"}, "plan")


def test_ids_that_are_not_ids_are_404_or_422_never_500(world, built, api):
    assert api.get("/care-plans/not-a-uuid").status_code == 422
    assert api.get(f"/care-plans/{built['plan'].pk}/revisions/{2**40}").status_code == 422
    missing = "00000000-0000-0000-0000-000000000000"
    for path in ("/care-plan-goals/{}", "/care-plan-problems/{}", "/care-plan-frequencies/{}"):
        assert api.patch(path.format(missing), {"version": 1}).status_code == 404

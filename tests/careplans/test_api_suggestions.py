"""The suggestions endpoints and the plan's review as an integrator uses them: listing what the
templates suggest from the chart (filtered, counted, in a stated order), accepting one (edited
first or not) and rejecting one with a reason, and recording the plan's review; who may do what
(a member of the team can, the scheduler on the team and a read-scope token cannot write, anyone
else gets 404), the audit trail, versions, and bad input refused naming the field.

Suggestions come from the chart as they do in use: a heart failure condition added through the
patient services makes the evidence listener suggest the heart failure template's rows, and the
patient (86) has preventive care gaps besides."""

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from careway.careplans import services
from careway.careplans.models import CarePlan, CarePlanRevision, Goal, Problem, Suggestion
from careway.core import audit, tokens
from careway.core.models import AuditEvent, User
from careway.patients import services as patient_services
from careway.patients.models import Condition
from tests.api.conftest import ApiClient, problem_fields
from tests.factories import World, make_patient

pytestmark = pytest.mark.django_db

SNOMED = "http://snomed.info/sct"
HEART_FAILURE = {"code_system": SNOMED, "code": "84114007", "display": "Heart failure (disorder)"}
HF_REASON = "Heart failure (SNOMED CT 84114007) is on the chart"


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
def suggested(world, actor) -> dict[str, Suggestion]:
    """The heart failure template's suggestions for world.patient (from a condition added to the
    chart), one of each kind by name, and a preventive gap."""
    patient_services.add_condition(actor, world.patient, HEART_FAILURE)
    rows = Suggestion.objects.filter(patient=world.patient, status="open")
    return {
        "problem": rows.get(item="hf"),
        "goal": rows.get(item="hf-no-readmission"),
        "intervention": rows.get(item="hf-weigh-daily"),
        "gap": rows.get(item="flu-vaccine"),
    }


@pytest.fixture
def plan(world, actor, suggested) -> CarePlan:
    return services.start_plan(actor, world.patient)


def url(world: World, rest: str = "") -> str:
    return f"/patients/{world.patient.pk}/care-plan{rest}"


def of(row: Suggestion, action: str) -> str:
    return f"/patients/{row.patient_id}/care-plan/suggestions/{row.pk}/{action}"


# --- who may do what, on every endpoint -----------------------------------------------------------

# (method, path, body, what the member gets). {goal} and {problem} name rows of `suggested`.
OPERATIONS: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("GET", "/patients/{patient}/care-plan/suggestions", None, 200),
    (
        "POST",
        "/patients/{patient}/care-plan/suggestions/{goal}/accept",
        {"edits": {"patient_words": "Dance at my granddaughter's wedding"}},
        201,
    ),
    (
        "POST",
        "/patients/{patient}/care-plan/suggestions/{problem}/reject",
        {"reason": "Her cardiologist's clinic follows this"},
        200,
    ),
    (
        "POST",
        "/patients/{patient}/care-plan/review",
        {"note": "Went through the plan with Margaret", "version": 1},
        200,
    ),
]
WRITES = [op for op in OPERATIONS if op[0] != "GET"]
READS = [op for op in OPERATIONS if op[0] == "GET"]


def _id(operation: tuple) -> str:
    return f"{operation[0]} {operation[1]}"


def send(client: ApiClient, world: World, suggested: dict, operation: tuple):
    method, path, body, _ok = operation
    path = path.replace("{patient}", str(world.patient.pk))
    for name, row in suggested.items():
        path = path.replace(f"{{{name}}}", str(row.pk))
    return client.call(method, path, body)


def state() -> tuple:
    """What a refused request must leave exactly as it was."""
    return (
        sorted(Suggestion.objects.values_list("status", "version")),
        sorted(CarePlan.objects.values_list("version", "revision", "review_reason")),
        CarePlanRevision.objects.count(),
        Problem.objects.count(),
        Goal.objects.count(),
    )


def test_every_suggestion_endpoint_is_tried_here():
    from careway.api import api

    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    documented = {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, item in schema["paths"].items()
        for method in item
        # Teaching and agreement answer beside the plan too: tried in test_teaching_api.py.
        if "/care-plan/" in path
        and not path.split("/care-plan/")[1].startswith(("teaching", "agreement"))
    }
    documented = {
        (m, p.replace("{patient_id}", "{patient}").replace("{suggestion_id}", "{id}"))
        for m, p in documented
    }
    tried = {
        (m, p.replace("{goal}", "{id}").replace("{problem}", "{id}")) for m, p, *_ in OPERATIONS
    }
    assert documented == tried


@pytest.mark.parametrize("operation", OPERATIONS, ids=_id)
def test_a_member_of_the_team_can(world, plan, suggested, api, operation):
    response = send(api, world, suggested, operation)
    assert response.status_code == operation[3], response.json()
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("operation", READS, ids=_id)
def test_the_scheduler_on_the_team_can_read(world, plan, suggested, api_as, operation):
    assert send(api_as(world.scheduler), world, suggested, operation).status_code == 200


@pytest.mark.parametrize("operation", WRITES, ids=_id)
def test_the_scheduler_on_the_team_cannot_write(world, plan, suggested, api_as, operation):
    before = state()
    response = send(api_as(world.scheduler), world, suggested, operation)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert state() == before
    assert AuditEvent.objects.filter(
        actor_id=world.scheduler.pk, outcome=AuditEvent.Outcome.DENIED
    ).exists()


@pytest.mark.parametrize("operation", WRITES, ids=_id)
def test_a_read_scope_token_cannot_write(world, plan, suggested, api_as, operation):
    before = state()
    response = send(api_as(world.cm, ("patients:read",)), world, suggested, operation)
    assert response.status_code == 403
    assert "patients:write" in response.json()["detail"]
    assert state() == before


@pytest.mark.parametrize("operation", OPERATIONS, ids=_id)
@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_anyone_else_gets_404_and_a_denied_audit_event(
    world, plan, suggested, api_as, operation, who
):
    user = getattr(world, who)
    before = state()
    response = send(api_as(user), world, suggested, operation)
    assert response.status_code == 404
    assert response.json()["detail"].startswith("There is no such patient or record")
    assert state() == before
    assert AuditEvent.objects.filter(
        actor_id=user.pk, patient_id=world.patient.pk, outcome=AuditEvent.Outcome.DENIED
    ).exists()


def test_another_patients_suggestion_is_not_found_under_this_patient(world, actor, suggested, api):
    other = make_patient(world.branch, world.cm, given_name="Nora", family_name="Pike")
    patient_services.add_condition(actor, other, HEART_FAILURE)
    theirs = Suggestion.objects.get(patient=other, item="hf")
    before = state()
    path = f"/patients/{world.patient.pk}/care-plan/suggestions/{theirs.pk}"
    assert api.post(f"{path}/accept", {}).status_code == 404
    assert api.post(f"{path}/reject", {"reason": "Not hers"}).status_code == 404
    assert state() == before


# --- the list ----------------------------------------------------------------------------------


def test_the_list_serves_each_suggestion_with_its_rules_and_reasons(world, suggested, api):
    response = api.get(url(world, "/suggestions"))
    assert response.status_code == 200
    body = response.json()
    open_rows = Suggestion.objects.filter(patient=world.patient, status="open")
    assert body["count"] == open_rows.count() == len(body["items"])
    assert body["next"] is body["previous"] is None
    goal = next(i for i in body["items"] if i["id"] == str(suggested["goal"].pk))
    assert goal == {
        "id": str(suggested["goal"].pk),
        "kind": "goal",
        "template": "heart-failure",
        "template_version": suggested["goal"].template_version,
        "item": "hf-no-readmission",
        "text": suggested["goal"].text,
        "preventive": False,
        "rules": ["heart-failure-on-chart"],
        "reasons": [HF_REASON],
        "recommendation": suggested["goal"].recommendation,
        "status": "open",
        "what_changed": "",
        "decided_by": None,
        "decided_at": None,
        "decision_reason": "",
        "accepted_as": None,
        "created_at": goal["created_at"],
        "updated_at": goal["updated_at"],
    }
    # Plan suggestions first, then preventive gaps, each in the order the templates propose.
    flags = [item["preventive"] for item in body["items"]]
    assert flags == sorted(flags) and flags[0] is False and flags[-1] is True
    items = [i["item"] for i in body["items"] if not i["preventive"]]
    assert items[:3] == ["hf", "hf-no-readmission", "hf-weight-log"]


def test_the_list_filters_by_status_and_preventive_and_pages(world, actor, suggested, api):
    services.reject_suggestion(actor, suggested["problem"], "Followed by cardiology")
    services.accept_suggestion(actor, suggested["gap"])
    served = Suggestion.objects.filter(patient=world.patient).exclude(status="lapsed")

    def listed(query: str) -> list[str]:
        body = api.get(url(world, f"/suggestions?{query}")).json()
        assert body["count"] == len(body["items"])
        return sorted(item["id"] for item in body["items"])

    def ids(rows) -> list[str]:
        return sorted(str(pk) for pk in rows.values_list("pk", flat=True))

    assert listed("") == listed("status=open") == ids(served.filter(status="open"))
    assert listed("status=rejected") == [str(suggested["problem"].pk)]
    accepted = served.filter(status="accepted")
    assert listed("status=accepted") == ids(accepted)
    assert str(suggested["gap"].pk) in ids(accepted)
    assert listed("status=all") == ids(served)
    assert listed("status=all&preventive=true") == ids(served.filter(preventive=True))
    assert listed("status=open&preventive=false") == ids(
        served.filter(status="open", preventive=False)
    )
    rejected = api.get(url(world, "/suggestions?status=rejected")).json()["items"][0]
    assert rejected["decided_by"] == world.cm.display_name
    assert rejected["decision_reason"] == "Followed by cardiology"
    first = api.get(url(world, "/suggestions?status=all&limit=2")).json()
    assert (first["count"], len(first["items"])) == (served.count(), 2)
    assert "offset=2" in first["next"]


def test_lapsed_suggestions_are_not_served(world, actor, suggested, api):
    condition = Condition.objects.get(patient=world.patient)
    patient_services.change_record_status(
        actor, condition, "entered-in-error", condition.version, reason="Wrong patient"
    )
    assert Suggestion.objects.get(pk=suggested["goal"].pk).status == "lapsed"
    listed = api.get(url(world, "/suggestions?status=all")).json()["items"]
    assert str(suggested["goal"].pk) not in {item["id"] for item in listed}
    assert api.post(of(suggested["goal"], "accept"), {}).status_code == 404
    assert api.post(of(suggested["goal"], "reject"), {"reason": "Gone"}).status_code == 404


def test_a_bad_filter_is_refused_naming_it(world, suggested, api):
    response = api.get(url(world, "/suggestions?status=lapsed&preventive=maybe"))
    assert response.status_code == 422
    assert sorted(problem_fields(response)) == ["preventive", "status"]


def test_the_list_is_audited_as_a_read_of_the_plan(world, suggested, api):
    api.get(url(world, "/suggestions?status=rejected&preventive=false"))
    event = AuditEvent.objects.filter(actor_id=world.cm.pk, action="patient.view").latest("pk")
    assert event.patient_id == world.patient.pk
    assert event.outcome == AuditEvent.Outcome.SUCCESS
    assert event.detail["section"] == "careplan"
    assert (event.detail["suggestions"], event.detail["preventive"]) == ("rejected", False)


def test_listing_takes_the_same_queries_however_many_rows(world, actor, api):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = api.get(url(world, "/suggestions?status=all"))
            assert response.status_code == 200
        return len(captured)

    services.refresh_suggestions(actor, [world.patient.pk])
    queries()  # the token's first use of the minute is written down
    few = queries()
    patient_services.add_condition(actor, world.patient, HEART_FAILURE)
    rows = Suggestion.objects.filter(patient=world.patient, preventive=False, status="open")
    services.reject_suggestion(actor, rows.first(), "Not now")
    assert queries() == few


# --- accepting ------------------------------------------------------------------------------------


def test_accepting_a_goal_starts_the_plan_and_answers_with_the_row_made(world, suggested, api):
    words = "Dance at my granddaughter's wedding"
    response = api.post(
        of(suggested["goal"], "accept"),
        {"edits": {"patient_words": words}, "reason": "Margaret chose this one"},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    goal = Goal.objects.get(pk=body["id"])
    assert (body["type"], body["plan_id"]) == ("goal", str(goal.plan_id))
    assert response["Location"] == f"/api/v1/care-plan-goals/{goal.pk}"
    assert goal.patient_words == words and goal.description == suggested["goal"].text
    assert goal.plan.status == "draft"  # there was no plan: it was started
    assert body["suggestion"]["status"] == "accepted"
    assert body["suggestion"]["accepted_as"] == str(goal.pk)
    assert body["suggestion"]["decided_by"] == world.cm.display_name
    assert body["suggestion"]["decision_reason"] == "Margaret chose this one"
    # The goal brought its problem with it.
    assert Suggestion.objects.get(pk=suggested["problem"].pk).accepted_as == str(goal.problem_id)
    event = AuditEvent.objects.filter(
        action="careplan.suggestion.accept", object_id=str(suggested["goal"].pk)
    ).get()
    assert (event.actor_id, event.patient_id) == (world.cm.pk, world.patient.pk)
    assert event.detail["id"] == str(goal.pk)
    plan = api.get(url(world)).json()
    assert [g["patient_words"] for g in plan["goals"]] == [words]


def test_accepting_as_suggested_and_an_intervention_to_another_discipline(world, suggested, api):
    problem = api.post(of(suggested["problem"], "accept"), {})
    assert problem.status_code == 201
    assert problem.json()["type"] == "problem"
    assert problem["Location"] == f"/api/v1/care-plan-problems/{problem.json()['id']}"
    assert Problem.objects.get(pk=problem.json()["id"]).text == suggested["problem"].text
    response = api.post(of(suggested["intervention"], "accept"), {"edits": {"discipline": "LPN"}})
    assert response.status_code == 201
    assert response["Location"] == f"/api/v1/care-plan-interventions/{response.json()['id']}"
    (intervention,) = api.get(url(world)).json()["interventions"]
    assert (intervention["id"], intervention["discipline"]) == (response.json()["id"], "LPN")
    assert intervention["problem_id"] == problem.json()["id"]


@pytest.mark.parametrize(
    ("edits", "field"),
    [
        ({"measure": "weight"}, "edits.measure"),  # never an edit
        ({"text": "Stay home"}, "edits.text"),  # an edit of problems and interventions
        ({"due_date": "2000-01-01"}, "edits.due_date"),  # refused by the goal's own rules
        ({"target_days": 0}, "edits.target_days"),
        ({"due_date": "soon"}, "edits.due_date"),
    ],
)
def test_a_bad_edit_is_refused_naming_it_and_nothing_is_written(
    world, suggested, api, edits, field
):
    before = state()
    response = api.post(of(suggested["goal"], "accept"), {"edits": edits})
    assert response.status_code == 422, response.json()
    assert problem_fields(response) == [field]
    assert response["Content-Type"] == "application/problem+json"
    assert state() == before
    assert not CarePlan.objects.exists()


def test_an_edit_of_another_kind_says_which_edits_the_kind_takes(world, suggested, api):
    response = api.post(of(suggested["problem"], "accept"), {"edits": {"discipline": "PT"}})
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "edits.discipline"
    assert error["message"].endswith("takes: text.")


def test_a_decided_suggestion_cannot_be_accepted_again(world, suggested, api):
    assert api.post(of(suggested["goal"], "accept"), {}).status_code == 201
    before = state()
    again = api.post(of(suggested["goal"], "accept"), {})
    assert again.status_code == 422
    assert problem_fields(again) == ["suggestion"]
    assert again.json()["errors"][0]["message"] == "This suggestion is accepted already."
    rejecting = api.post(of(suggested["goal"], "reject"), {"reason": "Changed my mind"})
    assert (rejecting.status_code, problem_fields(rejecting)) == (422, ["suggestion"])
    assert state() == before


def test_an_unknown_field_of_the_body_is_refused(world, suggested, api):
    response = api.post(of(suggested["goal"], "accept"), {"patient_id": str(world.patient.pk)})
    assert (response.status_code, problem_fields(response)) == (422, ["patient_id"])


# --- rejecting ------------------------------------------------------------------------------------


def test_rejecting_keeps_the_reason_and_a_rejected_one_may_still_be_accepted(world, suggested, api):
    response = api.post(of(suggested["intervention"], "reject"), {"reason": "  Uses a scale  "})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["decision_reason"]) == ("rejected", "Uses a scale")
    assert body["decided_by"] == world.cm.display_name and body["decided_at"]
    event = AuditEvent.objects.get(action="careplan.suggestion.reject")
    assert (event.object_id, event.reason) == (str(suggested["intervention"].pk), "Uses a scale")
    assert (event.actor_id, event.patient_id) == (world.cm.pk, world.patient.pk)
    assert api.post(of(suggested["intervention"], "accept"), {}).status_code == 201


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 2001}])
def test_a_rejection_needs_a_reason(world, suggested, api, body):
    before = state()
    response = api.post(of(suggested["goal"], "reject"), body)
    assert response.status_code == 422
    assert problem_fields(response) == ["reason"]
    assert state() == before


# --- the plan's review ---------------------------------------------------------------------------


def test_the_plan_shows_why_its_review_is_due_and_reviewing_it_sets_the_next(
    world, actor, plan, api
):
    before = api.get(url(world)).json()
    assert (before["review_reason"], before["reviewed_at"]) == (services.RECERTIFICATION, None)
    patient_services.raise_flag(
        actor, world.patient, {"kind": "fall", "label": "Fell at home", "severity": "urgent"}
    )
    brought_forward = api.get(url(world)).json()
    assert brought_forward["review_reason"].startswith("New urgent flag on")
    assert brought_forward["review_due"] == str(timezone.localdate())

    note = {"note": "Reviewed at the kitchen table"}
    assert api.post(url(world, "/review"), note).status_code == 428
    response = api.post(url(world, "/review"), note, If_Match='"1"')
    assert response.status_code == 200, response.json()
    body = response.json()
    assert response["ETag"] == '"2"' and (body["id"], body["version"]) == (str(plan.pk), 2)
    assert body["review_reason"] == services.RECERTIFICATION
    assert body["review_due"] == str(plan.episode.start_of_care + timedelta(days=55))
    assert body["reviewed_at"]
    revision = CarePlanRevision.objects.get(plan=plan, number=body["revision"])
    assert revision.reason == "Reviewed at the kitchen table"
    event = AuditEvent.objects.get(action="careplan.review")
    assert (event.actor_id, event.patient_id, event.object_id) == (
        world.cm.pk,
        world.patient.pk,
        str(plan.pk),
    )
    shown = api.get(url(world)).json()
    assert (shown["review_due"], shown["review_reason"], shown["reviewed_at"]) == (
        body["review_due"],
        body["review_reason"],
        body["reviewed_at"],
    )


def test_a_stale_review_is_a_conflict_and_changes_nothing(world, actor, plan, api):
    services.update_plan(actor, plan, {"title": "Heart failure plan"}, 1)
    before = state()
    header = api.post(url(world, "/review"), {"note": "Reviewed"}, If_Match='"1"')
    assert header.status_code == 412
    assert (header.json()["current_version"], header["ETag"]) == (2, '"2"')
    body = api.post(url(world, "/review"), {"note": "Reviewed", "version": 1})
    assert body.status_code == 409
    assert problem_fields(body) == ["version"]
    mismatch = api.post(url(world, "/review"), {"note": "Reviewed", "version": 2}, If_Match='"1"')
    assert (mismatch.status_code, problem_fields(mismatch)) == (400, ["version"])
    assert state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [({"version": 1}, "note"), ({"note": " ", "version": 1}, "note"), ({"note": "x"}, "If-Match")],
)
def test_a_review_without_its_note_or_version_is_refused_naming_it(world, plan, api, body, field):
    before = state()
    response = api.post(url(world, "/review"), body)
    assert response.status_code in (422, 428)
    assert problem_fields(response) == [field]
    assert state() == before


def test_a_review_of_a_closed_plan_or_of_no_plan_says_so(world, actor, plan, api):
    other = make_patient(world.branch, world.cm, given_name="Nora", family_name="Pike")
    none = api.post(f"/patients/{other.pk}/care-plan/review", {"note": "Reviewed", "version": 1})
    assert none.status_code == 404
    assert "no care plan yet" in none.json()["detail"]
    services.update_plan(actor, plan, {"status": "completed"}, 1)
    closed = api.post(url(world, "/review"), {"note": "Reviewed", "version": 2})
    assert (closed.status_code, problem_fields(closed)) == (422, ["plan"])

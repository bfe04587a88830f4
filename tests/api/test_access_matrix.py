"""Every operation in the OpenAPI document, tried by everyone who might call it.

The operations come from the schema itself, so a new endpoint without a sample request here fails
`test_every_operation_has_a_sample_request` instead of going untested.
"""

from typing import Any

import pytest

from careway.api import api
from careway.assessments import catalog, services, template
from careway.careplans import plan_of_care, teaching
from careway.careplans import services as careplan_services
from careway.careplans.models import Suggestion
from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients.models import Allergy, Condition, Medication, Observation, Patient
from tests.factories import World

pytestmark = pytest.mark.django_db

PATIENT_BODY = {
    "mrn": "API-0001",
    "given_name": "Rosa",
    "family_name": "Delgado",
    "birth_date": "1938-07-02",
    "sex": "female",
}
SAMPLES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", "/api/v1/patients"): None,
    ("POST", "/api/v1/patients"): PATIENT_BODY,
    ("GET", "/api/v1/patients/{patient_id}"): None,
    ("PUT", "/api/v1/patients/{patient_id}"): {**PATIENT_BODY, "mrn": "MRN-NEW", "version": 1},
    ("PATCH", "/api/v1/patients/{patient_id}"): {"preferred_name": "Peggy", "version": 1},
    ("GET", "/api/v1/patients/{patient_id}/conditions"): None,
    ("POST", "/api/v1/patients/{patient_id}/conditions"): {
        "code_system": "http://hl7.org/fhir/sid/icd-10-cm",
        "code": "I50.9",
        "display": "Heart failure, unspecified",
    },
    ("GET", "/api/v1/patients/{patient_id}/medications"): None,
    ("POST", "/api/v1/patients/{patient_id}/medications"): {
        "display": "Furosemide 40 mg tablet",
        "dose": "40 mg",
        "frequency": "once daily",
    },
    ("GET", "/api/v1/patients/{patient_id}/allergies"): None,
    ("POST", "/api/v1/patients/{patient_id}/allergies"): {
        "display": "Penicillin",
        "category": "medication",
        "criticality": "high",
    },
    ("GET", "/api/v1/patients/{patient_id}/observations"): None,
    ("POST", "/api/v1/patients/{patient_id}/observations"): {
        "code_system": "http://loinc.org",
        "code": "8867-4",
        "display": "Heart rate",
        "category": "vital-signs",
        "effective_at": "2026-01-05T14:30:00Z",
        "value": 72,
        "unit": "/min",
    },
}
PHQ9 = catalog.shipped_by_id("phq-9")
SAMPLES[("GET", "/api/v1/patients/{patient_id}/assessments")] = None
SAMPLES[("GET", "/api/v1/patients/{patient_id}/scores")] = None
SAMPLES[("GET", "/api/v1/assessments/{assessment_id}")] = None
SAMPLES[("POST", "/api/v1/assessments/{assessment_id}/sections/{section}")] = {
    "questionnaire_url": PHQ9["url"],
    "version": 0,
    "items": [
        {"linkId": q["linkId"], "answer": [{"valueCoding": q["answerOption"][0]["valueCoding"]}]}
        for q in PHQ9["item"]
    ],
}
# --- care plans: the plan of world.patient's episode with one row of each kind (careplan_ids) ---
SAMPLES.update(
    {
        ("GET", "/api/v1/patients/{patient_id}/care-plan"): None,
        ("POST", "/api/v1/patients/{patient_id}/care-plan"): {"reason": "Start of care"},
        ("GET", "/api/v1/care-plans/{plan_id}"): None,
        ("PATCH", "/api/v1/care-plans/{plan_id}"): {"status": "active", "version": 1},
        ("GET", "/api/v1/care-plans/{plan_id}/revisions"): None,
        ("GET", "/api/v1/care-plans/{plan_id}/revisions/{number}"): None,
        ("GET", "/api/v1/care-plans/{plan_id}/differences"): None,
        ("POST", "/api/v1/care-plans/{plan_id}/problems"): {"text": "Risk of falls"},
        ("PATCH", "/api/v1/care-plan-problems/{problem_id}"): {"status": "resolved", "version": 1},
        ("POST", "/api/v1/care-plans/{plan_id}/goals"): {"patient_words": "Walk to the mailbox"},
        ("PATCH", "/api/v1/care-plan-goals/{goal_id}"): {"due_date": "2099-01-31", "version": 1},
        ("PUT", "/api/v1/care-plan-goals/{goal_id}/override"): {
            "status": "improving",
            "reason": "Ankles less swollen",
            "version": 1,
        },
        ("POST", "/api/v1/care-plans/{plan_id}/frequencies"): {
            "discipline": "PT",
            "frequency": "2w3",
        },
        ("PATCH", "/api/v1/care-plan-frequencies/{frequency_id}"): {
            "frequency": "2w4",
            "version": 1,
        },
        ("POST", "/api/v1/care-plans/{plan_id}/interventions"): {
            "kind": "monitor",
            "text": "Check for edema",
            "discipline": "RN",
        },
        ("PATCH", "/api/v1/care-plan-interventions/{intervention_id}"): {
            "status": "on-hold",
            "version": 1,
        },
        ("POST", "/api/v1/care-plan-interventions/{intervention_id}/tasks"): {},
    }
)
# --- care plan suggestions: world.patient's preventive care gaps (the patient is 86), suggested
# without a change to the chart; the review: of the plan careplan_ids starts ---
SUGGESTIONS = "/api/v1/patients/{patient_id}/care-plan/suggestions"
SAMPLES.update(
    {
        ("GET", SUGGESTIONS): None,
        ("POST", f"{SUGGESTIONS}/{{suggestion_id}}/accept"): {
            "edits": {"text": "Offer the vaccine at the next visit"}
        },
        ("POST", f"{SUGGESTIONS}/{{suggestion_id}}/reject"): {"reason": "Had it at the pharmacy"},
        ("POST", "/api/v1/patients/{patient_id}/care-plan/review"): {
            "note": "Reviewed with the patient",
            "version": 1,
        },
    }
)
# --- teaching and the patient's agreement (careway/careplans/teaching_api.py): on the plan
# careplan_ids starts, a teaching record of world.patient to mark entered in error ---
TEACHING = "/api/v1/patients/{patient_id}/care-plan/teaching"
AGREEMENTS = "/api/v1/patients/{patient_id}/care-plan/agreements"
TEACHING_BODY = {"topic": "heart-failure-zones", "audience": "patient", "result": "understood"}
SAMPLES.update(
    {
        ("GET", TEACHING): None,
        ("POST", TEACHING): {**TEACHING_BODY, "methods": ["explained"]},
        ("POST", f"{TEACHING}/{{teaching_id}}/entered-in-error"): {
            "reason": "Another topic",
            "version": 1,
        },
        ("GET", AGREEMENTS): None,
        ("POST", AGREEMENTS): {"who": "patient", "method": "verbal", "witness_name": "Rosa Diaz"},
        ("GET", "/api/v1/patients/{patient_id}/care-plan/agreement"): None,
    }
)
# Actions that make nothing answer 200; every other POST makes something and answers 201.
ANSWERS_200 = {
    ("POST", f"{SUGGESTIONS}/{{suggestion_id}}/reject"),
    ("POST", "/api/v1/patients/{patient_id}/care-plan/review"),
    ("POST", f"{TEACHING}/{{teaching_id}}/entered-in-error"),
}
# --- the agency's care plan templates: not about a patient. Who may read and write them (an admin
# can; a case manager reads but cannot write; another agency's admin gets 404 for this agency's
# own) is tested in tests/careplans/test_agency_templates.py; here, the checks every operation
# shares (401 without a token, the token's scopes, the read-only scheduler refused a write).
TEMPLATE_BODY = {"key": "riverbend-cellulitis", "version": "1", "title": "Cellulitis"}
SAMPLES.update(
    {
        ("GET", "/api/v1/care-plan-templates"): None,
        ("POST", "/api/v1/care-plan-templates"): {"content": TEMPLATE_BODY},
        ("GET", "/api/v1/care-plan-templates/{key}"): None,
        ("PUT", "/api/v1/care-plan-templates/{key}"): {"content": TEMPLATE_BODY, "version": 1},
        ("POST", "/api/v1/care-plan-templates/{key}/copy"): None,
    }
)
# --- the physician's plan of care and verbal orders: each call finds world.patient's in the state
# it acts on (careway/careplans/plan_of_care_api.py; tests/careplans/test_api_plan_of_care.py) ---
POCS = "/api/v1/patients/{patient_id}/plans-of-care"
POC = "/api/v1/plans-of-care/{poc_id}"
VERBAL = "/api/v1/patients/{patient_id}/verbal-orders"
SAMPLES.update(
    {
        ("GET", POCS): None,
        ("POST", POCS): None,
        ("GET", POC): None,
        ("PATCH", POC): {"prognosis": "good", "version": 2},
        ("POST", f"{POC}/send"): {"how": "fax", "version": 2},
        ("POST", f"{POC}/signed"): {"signed_on": "", "version": 3},
        ("POST", f"{POC}/entered-in-error"): {"reason": "Drafted twice", "version": 2},
        ("GET", f"{POC}/pdf"): None,
        ("GET", VERBAL): None,
        ("POST", VERBAL): {
            "text": "PT evaluate and treat",
            "practitioner_name": "Dr. Ana Lopez",
            "practitioner_kind": "MD",
            "read_back": True,
        },
        ("POST", "/api/v1/verbal-orders/{order_id}/send"): {"how": "fax", "version": 1},
        ("POST", "/api/v1/verbal-orders/{order_id}/signed"): {"signed_on": "", "version": 2},
    }
)
ANSWERS_200 |= {
    ("POST", f"{POC}/send"),
    ("POST", f"{POC}/signed"),
    ("POST", f"{POC}/entered-in-error"),
    ("POST", "/api/v1/verbal-orders/{order_id}/send"),
    ("POST", "/api/v1/verbal-orders/{order_id}/signed"),
}
# The agency's teaching handouts, likewise: their own access tests are in
# tests/careplans/test_agency_handouts.py.
HANDOUT_BODY = {"key": "riverbend-cast-care", "version": "1", "title": {"en": "Cast care"}}
SAMPLES.update(
    {
        ("GET", "/api/v1/handouts"): None,
        ("POST", "/api/v1/handouts"): {"content": HANDOUT_BODY},
        ("GET", "/api/v1/handouts/{key}"): None,
        ("PUT", "/api/v1/handouts/{key}"): {"content": HANDOUT_BODY, "version": 1},
        ("POST", "/api/v1/handouts/{key}/copy"): None,
        ("POST", "/api/v1/handouts/{key}/retire"): {"version": 1},
        ("POST", "/api/v1/handouts/{key}/restore"): {"version": 1},
    }
)
AGENCY_OPERATIONS = [
    op for op in SAMPLES if op[1].startswith(("/api/v1/care-plan-templates", "/api/v1/handouts"))
]
CAREPLAN_IDS = ("plan_id", "problem_id", "goal_id", "intervention_id", "frequency_id", "number")
COLLECTION = "/api/v1/patients"


def documented_operations() -> list[tuple[str, str]]:
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    return sorted(
        (method.upper(), path) for path, item in schema["paths"].items() for method in item
    )


OPERATIONS = documented_operations()
PATIENT_OPERATIONS = [
    op for op in OPERATIONS if op[1] != COLLECTION and op not in AGENCY_OPERATIONS
]
WRITES = [op for op in OPERATIONS if op[0] != "GET"]


def chart_state(world: World) -> tuple:
    """What a denied request must leave exactly as it was."""
    patient = Patient.objects.get(pk=world.patient.pk)
    return (
        Patient.objects.count(),
        patient.version,
        patient.mrn,
        patient.preferred_name,
        *(m.objects.count() for m in (Condition, Medication, Allergy, Observation)),
    )


def send(api_client, world: World, operation: tuple[str, str], patient: Patient | None = None):
    method, path = operation
    url = path.replace("{patient_id}", str((patient or world.patient).pk))
    url = url.replace("{key}", "heart-failure-zones" if "/handouts/" in url else "heart-failure")
    if "{assessment_id}" in url:
        # The patient's draft (an absent patient: an assessment that does not exist either).
        url = url.replace("{assessment_id}", draft_of(world, patient)).replace(
            "{section}", section_asking("phq-9")
        )
    if "{suggestion_id}" in url:
        url = url.replace("{suggestion_id}", gap_of(world, patient))
    body = SAMPLES[operation]
    if "plans-of-care" in url or "verbal-order" in url:
        url, body = with_plan_of_care(world, method, url, body, patient)
        return api_client.call(method, url, body)
    reviewing = url.endswith("/care-plan/review")
    on_plan = "/care-plan/teaching" in url or "/care-plan/agreement" in url
    if (
        any(f"{{{name}}}" in url for name in CAREPLAN_IDS)
        or url.endswith("/care-plan")
        or reviewing
        or on_plan
    ):
        starting = method == "POST" and url.endswith("/care-plan")
        url = with_careplan_ids(world, url, patient, starting)
    if "{teaching_id}" in url:
        url = url.replace("{teaching_id}", teaching_of(world, patient))
    return api_client.call(method, url, SAMPLES[operation])


def with_plan_of_care(
    world: World, method: str, url: str, body: Any, patient: Patient | None
) -> tuple[str, Any]:
    """world.patient's plan of care (a draft ready to send, or sent) or verbal order (taken, or
    sent), as the call needs it; ids that exist nowhere for another patient. Nothing on the chart
    itself changes (chart_state): the draft's diagnoses are written, not proposed."""
    zero = "00000000-0000-0000-0000-000000000000"
    if body and "signed_on" in body:
        body = {**body, "signed_on": str(plan_of_care.agency_today(world.org.pk))}
    if patient is not None and patient.pk != world.patient.pk:
        return url.replace("{poc_id}", zero).replace("{order_id}", zero), body
    actor = audit.Actor(user=world.cm)
    plan = careplan_services.start_plan(actor, world.patient)
    careplan_services.set_frequency(actor, plan, {"discipline": "RN", "frequency": "3w1, 2w4"})
    if method == "POST" and url.endswith("/plans-of-care"):
        return url, body
    poc = plan_of_care.draft_plan_of_care(actor, plan)
    soc = plan.episode.start_of_care
    ready = {
        "diagnoses": [{"code": "I50.9", "principal": True}],
        "practitioner_name": "Dr. Ana Lopez", "practitioner_kind": "MD",
        "practitioner_npi": "1234567893", "practitioner_address": "400 Main St",
        "face_to_face_date": soc, "face_to_face_practitioner": "Dr. Sam Hill",
        "face_to_face_kind": "MD", "face_to_face_findings": "Heart failure",
        "homebound": True, "homebound_reason": "Needs help to leave; a taxing effort",
        "prognosis": "fair",
    }  # fmt: skip
    poc = plan_of_care.update_plan_of_care(actor, poc, ready, poc.version)
    if url.endswith("/signed") and "{poc_id}" in url:
        poc = plan_of_care.send_plan_of_care(actor, poc, "fax", poc.version)
    if "{order_id}" in url:
        order = plan_of_care.take_verbal_order(
            actor, plan, {"text": "PT eval", "practitioner_name": "Dr. Lopez",
                          "practitioner_kind": "MD"}
        )  # fmt: skip
        if url.endswith("/signed"):
            plan_of_care.send_verbal_order(actor, order, "fax", order.version)
        url = url.replace("{order_id}", str(order.pk))
    return url.replace("{poc_id}", str(poc.pk)), body


def teaching_of(world: World, patient: Patient | None) -> str:
    """A teaching record of world.patient (for another patient, one that exists nowhere)."""
    if patient is not None and patient.pk != world.patient.pk:
        return "00000000-0000-0000-0000-000000000000"
    data = {**TEACHING_BODY, "explained": True}
    return str(teaching.record_teaching(audit.Actor(user=world.cm), world.patient, data).pk)


def gap_of(world: World, patient: Patient | None) -> str:
    """An open preventive care suggestion of world.patient (a vaccine due; for another patient,
    one that exists nowhere)."""
    if patient is not None and patient.pk != world.patient.pk:
        return "00000000-0000-0000-0000-000000000000"
    careplan_services.refresh_suggestions(audit.Actor(user=world.cm), [world.patient.pk])
    gaps = Suggestion.objects.filter(
        patient=world.patient, preventive=True, kind="intervention", status="open"
    )
    return str(gaps.order_by("position").first().pk)


def with_careplan_ids(world: World, url: str, patient: Patient | None, starting: bool) -> str:
    """The url naming world.patient's plan and its rows (none when the call starts the plan;
    ids that exist nowhere when it is about another patient)."""
    if starting or (patient is not None and patient.pk != world.patient.pk):
        ids = dict.fromkeys(CAREPLAN_IDS, "00000000-0000-0000-0000-000000000000")
    else:
        ids = careplan_ids(world)
    for name in CAREPLAN_IDS:
        url = url.replace(f"{{{name}}}", ids[name] if name != "number" else "1")
    return url


def careplan_ids(world: World) -> dict[str, str]:
    actor = audit.Actor(user=world.cm)
    plan = careplan_services.start_plan(actor, world.patient)
    rows = {
        "plan_id": plan,
        "problem_id": careplan_services.add_problem(actor, plan, {"text": "Fluid overload"}),
        "goal_id": careplan_services.add_goal(actor, plan, {"description": "Weigh daily"}),
        "intervention_id": careplan_services.add_intervention(
            actor, plan, {"kind": "teach", "text": "Teach daily weights", "discipline": "RN"}
        ),
        "frequency_id": careplan_services.set_frequency(
            actor, plan, {"discipline": "RN", "frequency": "3w1, 2w4"}
        ),
    }
    return {name: str(row.pk) for name, row in rows.items()}


def draft_of(world: World, patient: Patient | None) -> str:
    if patient is not None and patient.pk != world.patient.pk:
        return "00000000-0000-0000-0000-000000000000"
    actor = audit.Actor(user=world.cm)
    return str(services.start_assessment(actor, world.patient, "follow-up").pk)


def section_asking(questionnaire_id: str) -> str:
    for section in template.comprehensive().sections_for("follow-up"):
        if any(part.questionnaire == questionnaire_id for part in section.parts):
            return section.key
    raise AssertionError(f"no follow-up section asks {questionnaire_id}")


def test_every_operation_has_a_sample_request():
    assert set(OPERATIONS) == set(SAMPLES)


@pytest.mark.parametrize("operation", OPERATIONS, ids="{0[0]} {0[1]}".format)
def test_anonymous_gets_401_and_nothing_changes(world, api_as, operation):
    before = chart_state(world)
    response = send(api_as(None), world, operation)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert chart_state(world) == before


@pytest.mark.parametrize(
    "operation",
    [op for op in OPERATIONS if op not in AGENCY_OPERATIONS],
    ids="{0[0]} {0[1]}".format,
)
def test_member_succeeds(world, api_as, operation):
    response = send(api_as(world.cm), world, operation)
    created = operation[0] == "POST" and operation not in ANSWERS_200
    assert response.status_code == (201 if created else 200), response.json()
    # No browser or shared cache keeps a patient's data (issue 15, finding 8).
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("operation", PATIENT_OPERATIONS, ids="{0[0]} {0[1]}".format)
@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_outsider_and_colleague_off_the_team_get_404_and_a_denied_audit_event(
    world, api_as, operation, who
):
    user = getattr(world, who)
    before = chart_state(world)
    response = send(api_as(user), world, operation)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert chart_state(world) == before
    # A record of another agency (an assessment, a care plan) is denied without naming its
    # patient (as FHIR reads are).
    by_record = "{patient_id}" not in operation[1]
    named = None if who == "outsider" and by_record else world.patient.pk
    assert AuditEvent.objects.filter(
        actor_id=user.pk, patient_id=named, outcome=AuditEvent.Outcome.DENIED
    ).exists()


@pytest.mark.parametrize("operation", PATIENT_OPERATIONS, ids="{0[0]} {0[1]}".format)
def test_a_patient_that_does_not_exist_answers_like_one_that_is_not_yours(world, api_as, operation):
    missing = Patient(pk="00000000-0000-0000-0000-000000000000")
    not_yours = send(api_as(world.outsider), world, operation)
    absent = send(api_as(world.outsider), world, operation, patient=missing)
    assert absent.status_code == not_yours.status_code == 404
    assert absent.json() == not_yours.json()


@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_list_shows_others_nothing_of_the_patient(world, api_as, who):
    response = api_as(getattr(world, who)).get("/patients")
    assert response.status_code == 200
    assert str(world.patient.pk) not in {item["id"] for item in response.json()["items"]}


def test_outsider_creates_only_in_their_own_agency(world, api_as):
    outsider = api_as(world.outsider)
    before = chart_state(world)
    into_ours = outsider.post("/patients", {**PATIENT_BODY, "branch_id": world.branch.pk})
    assert into_ours.status_code == 422
    assert [e["field"] for e in into_ours.json()["errors"]] == ["branch_id"]
    assert chart_state(world) == before
    own = outsider.post("/patients", PATIENT_BODY)
    assert own.status_code == 201
    assert Patient.objects.get(pk=own.json()["id"]).organization == world.other_org


@pytest.mark.parametrize("operation", WRITES, ids="{0[0]} {0[1]}".format)
def test_read_only_scheduler_gets_403_on_writes_and_nothing_changes(world, api_as, operation):
    before = chart_state(world)
    response = send(api_as(world.scheduler), world, operation)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert chart_state(world) == before
    assert AuditEvent.objects.filter(
        actor_id=world.scheduler.pk, outcome=AuditEvent.Outcome.DENIED
    ).exists()


@pytest.mark.parametrize("operation", WRITES, ids="{0[0]} {0[1]}".format)
def test_read_scope_token_cannot_write(world, api_as, operation):
    before = chart_state(world)
    response = send(api_as(world.cm, scopes=("patients:read",)), world, operation)
    assert response.status_code == 403
    assert "patients:write" in response.json()["detail"]
    assert chart_state(world) == before


@pytest.mark.parametrize(
    "operation", sorted(set(OPERATIONS) - set(WRITES)), ids="{0[0]} {0[1]}".format
)
def test_write_scope_token_cannot_read(world, api_as, operation):
    response = send(api_as(world.cm, scopes=("patients:write",)), world, operation)
    assert response.status_code == 403
    assert "patients:read" in response.json()["detail"]


def test_fhir_scopes_do_not_open_the_json_api(world, api_as):
    response = api_as(world.cm, scopes=("fhir:read", "fhir:write")).get("/patients")
    assert response.status_code == 403

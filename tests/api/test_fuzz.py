"""Schemathesis fuzzes every operation of the OpenAPI document, as a case manager on the team.

Whatever it sends, the answer is never a 500; every answer's status, content type and body are
the ones the document promises. Deterministic (derandomized Hypothesis, no example database) and
bounded, so it runs in well under a minute.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from careway.assessments import services, template
from careway.careplans import plan_of_care, teaching
from careway.careplans import services as careplan_services
from careway.careplans.models import (
    CarePlan,
    DisciplineFrequency,
    Goal,
    Intervention,
    PlanOfCare,
    Problem,
    Suggestion,
    VerbalOrder,
)
from careway.core import audit
from careway.patients.models import Patient

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = {
    schemathesis.GenerationMode.POSITIVE: 20,
    schemathesis.GenerationMode.NEGATIVE: 12,
}


@pytest.fixture
def wsgi_app():
    """Django's WSGI app, sharing the test's transaction: Django's own test client does the
    same thing, disconnecting the handler that would close the connection mid-test."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# The record each update's path names, by the path parameter that names it.
VERSIONED = {
    "goal_id": Goal,
    "problem_id": Problem,
    "intervention_id": Intervention,
    "frequency_id": DisciplineFrequency,
    "plan_id": CarePlan,
    "poc_id": PlanOfCare,
    "order_id": VerbalOrder,
}


def with_current_version(case, patient: Patient) -> None:
    """Most generated versions are stale (412); half the updates name the current one instead,
    so that generated bodies also reach the update service."""
    if case.method in {"PUT", "PATCH"} and isinstance(case.body, dict) and len(case.body) % 2:
        case.body.pop("version", None)
        version = current_version(case.path_parameters or {}, patient)
        case.headers = {**(case.headers or {}), "If-Match": f'"{version}"'}


def current_version(path_parameters: dict, patient: Patient) -> int:
    for name, model in VERSIONED.items():
        if name in path_parameters:
            return model.objects.get(pk=path_parameters[name]).version
    return Patient.objects.get(pk=patient.pk).version


def careplan_parameters(world) -> dict[str, str]:
    """The patient's care plan with one row of each kind, for the care plan operations."""
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
    # An open suggestion (a preventive care gap of the patient, who is 86) to accept or reject.
    careplan_services.refresh_suggestions(actor, [world.patient.pk])
    gap = Suggestion.objects.filter(patient=world.patient, preventive=True, status="open").first()
    # A teaching record to mark entered in error (careway/careplans/teaching_api.py).
    taught = teaching.record_teaching(
        actor,
        world.patient,
        {"topic": "heart-failure-zones", "audience": "patient", "explained": True,
         "result": "understood"},
    )  # fmt: skip
    return {
        "number": "1",
        "suggestion_id": str(gap.pk),
        "teaching_id": str(taught.pk),
        **{name: str(row.pk) for name, row in rows.items()},
    }


def plan_of_care_parameters(world) -> dict[str, str]:
    """A draft plan of care of the plan careplan_parameters started, and a verbal order."""
    actor = audit.Actor(user=world.cm)
    plan = CarePlan.objects.get(patient=world.patient)
    poc = plan_of_care.draft_plan_of_care(actor, plan)
    order = plan_of_care.take_verbal_order(
        actor,
        plan,
        {"text": "PT eval", "practitioner_name": "Dr. Lopez", "practitioner_kind": "MD"},
    )
    return {"poc_id": str(poc.pk), "order_id": str(order.pk)}


def fuzz(operation, mode, path_parameters: dict, headers: dict, patient: Patient) -> None:
    strategy = operation.as_strategy(mode, path_parameters=path_parameters)

    @settings(
        max_examples=EXAMPLES_PER_OPERATION[mode],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def call(case) -> None:
        with_current_version(case, patient)
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    call()


@pytest.mark.parametrize("mode", list(EXAMPLES_PER_OPERATION), ids=str)
def test_no_input_makes_the_api_fail(world, make_token, wsgi_app, mode):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    headers = {"Authorization": f"Bearer {make_token(world.cm)}"}
    # The member's own patient and draft, so generated bodies reach the services, not a 404.
    draft = services.start_assessment(audit.Actor(user=world.cm), world.patient, "follow-up")
    section = next(
        s.key
        for s in template.comprehensive().sections_for("follow-up")
        if any(p.questionnaire == "phq-9" for p in s.parts)
    )
    path_parameters = {
        "patient_id": str(world.patient.pk),
        "assessment_id": str(draft.pk),
        "section": section,
    }
    path_parameters |= careplan_parameters(world)
    path_parameters |= plan_of_care_parameters(world)
    path_parameters["key"] = "heart-failure"  # a shipped care plan template
    operations = [result.ok() for result in schema.get_all_operations()]
    # patients and assessments, care plans, suggestions, templates, handouts, teaching and
    # agreement, plans of care and verbal orders
    assert len(operations) == 17 + 17 + 4 + 5 + 7 + 6 + 12
    for operation in operations:
        needed = {k: v for k, v in path_parameters.items() if f"{{{k}}}" in operation.path}
        fuzz(operation, mode, needed, headers, world.patient)

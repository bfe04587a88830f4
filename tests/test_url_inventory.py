"""Every page URL is listed here and tried anonymously and by the outsider agency.

A new URL that is not in this inventory fails the test, so nobody adds a page without deciding
who may see it. (The JSON API has its own inventory, built from its OpenAPI schema, in
tests/api/test_access_matrix.py.)
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from careway.core.models import AuditEvent

pytestmark = pytest.mark.django_db

PUBLIC = {"login", "two_factor_verify", "two_factor_setup", "healthz"}
PATIENT_PAGES = {
    "chart",
    "chart_section",
    "patient_edit",
    "contact_create",
    "contact_edit",
    "condition_create",
    "medication_create",
    "allergy_create",
    "vitals_create",
    "careteam_add",
    "careteam_remove",
    "condition_edit",
    "condition_status",
    "medication_edit",
    "medication_status",
    "allergy_edit",
    "allergy_status",
    "coverage_create",
    "assessment_start",
    "assessment",
    "assessment_sign",
    "assessment_section",
    "assessment_amend",
    "example_note_create",
    "flag_acknowledge",
    "flag_resolve",
    "task_complete",
    # Care plans (careway/careplans/urls.py), under their namespace.
    "careplans:start",
    "careplans:plan_edit",
    "careplans:plan_status",
    "careplans:problem_add",
    "careplans:problem_edit",
    "careplans:goal_add",
    "careplans:goal_edit",
    "careplans:intervention_add",
    "careplans:intervention_edit",
    "careplans:intervention_task",
    "careplans:frequency_add",
    "careplans:frequency_edit",
    "careplans:revisions",
    "careplans:compare",
    "careplans:goal",
    "careplans:suggestions",
    "careplans:suggestion_accept",
    "careplans:suggestion_reject",
    "careplans:review",
    # The physician's plan of care and verbal orders (careway/careplans/plan_of_care_views.py).
    "careplans:plan_of_care_list",
    "careplans:plan_of_care_edit",
    "careplans:plan_of_care_send",
    "careplans:plan_of_care_sign",
    "careplans:plan_of_care_pdf",
    "careplans:verbal_order_add",
    "careplans:verbal_order_send",
    "careplans:verbal_order_sign",
    "careplans:teaching_add",
    "careplans:teaching_error",
    "careplans:agreement_add",
    "careplans:patient_version",
    "careplans:patient_version_pdf",
}
SIGNED_IN_PAGES = {
    "home",
    "logout",
    "account",
    "caseload",
    "today",
    "patient_create",
    "user_list",
    "user_create",
    "user_detail",
    "audit_log",
    "agency_details",
    "audit_export",
    "break_glass",
    "notifications",
    "sign_out_everywhere",
    "session_keepalive",
    "password_change",
    "user_role_add",
    "user_role_remove",
    "user_action",
    "notifications_mark_read",
    "import_list",
    "import_detail",
    "import_progress",
    "instrument_list",
    "instrument_bands",
    "vital_alert_thresholds",
    "careplans:frequency_words",
    # The agency's care plan templates (careway/careplans/template_views.py): their access tests
    # (an admin can, a case manager or the scheduler reads but cannot write, another agency's
    # admin gets 404) are in tests/careplans/test_agency_templates.py.
    "careplans:template_list",
    "careplans:template_new",
    "careplans:template_detail",
    "careplans:template_copy",
    "careplans:template_edit",
    "careplans:template_retire",
    "careplans:template_restore",
    # Every unsigned order of the person's patients (needs careplans.edit): access tests in
    # tests/careplans/test_plan_of_care_pages.py.
    "careplans:orders_awaiting",
    # The agency's teaching handouts (careway/careplans/handout_views.py): their access tests
    # are in tests/careplans/test_agency_handouts.py.
    "careplans:handout_list",
    "careplans:handout_new",
    "careplans:handout_detail",
    "careplans:handout_copy",
    "careplans:handout_edit",
    "careplans:handout_retire",
    "careplans:handout_restore",
}
# The FHIR API (careway/fhir/urls.py) takes bearer tokens only: without one it answers 401 with an
# OperationOutcome, never a sign-in redirect. Its access tests are in tests/fhir/test_api_*.py.
FHIR_API = {
    "fhir_metadata",
    "fhir_type",
    "fhir_instance",
    "fhir_vread",
    "fhir_unknown",
    "fhir_export",
    "fhir_export_status",
    "fhir_export_file",
}
FHIR_PUBLIC = {"fhir_metadata"}


def page_url_names() -> set[str]:
    """Every named page, with the namespaces it is included under ("careplans:goal_add")."""
    return {name for name, _pattern in _patterns()}


def test_every_page_url_is_in_the_inventory():
    assert page_url_names() == PUBLIC | PATIENT_PAGES | SIGNED_IN_PAGES | FHIR_API


def sample_url(name: str, world) -> str:
    from django.urls import reverse

    kwargs = {}
    pattern = next(p for qualified, p in _patterns() if qualified == name)
    converters = pattern.pattern.converters
    for key in converters:
        kwargs[key] = {
            "patient_id": world.patient.pk,
            "contact_id": 1,
            "record_id": 1,
            "member_id": 1,
            "user_id": world.cm.pk,
            "section": "conditions",
            "membership_id": 1,
            "action": "deactivate",
            "run_id": "00000000-0000-0000-0000-000000000000",
            "resource_type": "Patient",
            "resource_id": world.patient.pk,
            "version_id": "1",
            "job_id": "00000000-0000-0000-0000-000000000000",
            "name": "Patient.ndjson",
            "assessment_id": "00000000-0000-0000-0000-000000000000",
            "response_id": 1,
            "questionnaire_id": "morse-fall-scale",
            "score_key": "total",
            "flag_id": 1,
            "task_id": 1,
            "key": "heart-failure",
            **dict.fromkeys(
                (
                    "problem_id",
                    "goal_id",
                    "intervention_id",
                    "frequency_id",
                    "suggestion_id",
                    "poc_id",
                    "order_id",
                    "teaching_id",
                ),
                "00000000-0000-0000-0000-000000000000",
            ),
        }[key]
    return reverse(name, kwargs=kwargs)


def _patterns() -> list[tuple[str, URLPattern]]:
    """(name with its namespaces, pattern) of every named page outside the JSON API."""
    found = []

    def walk(patterns, namespace=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace != "api":
                    inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                    walk(entry.url_patterns, inner)
            elif isinstance(entry, URLPattern) and entry.name:
                found.append((f"{namespace}{entry.name}", entry))

    walk(get_resolver().url_patterns)
    return found


@pytest.mark.parametrize("name", sorted(PATIENT_PAGES | SIGNED_IN_PAGES))
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_visitors_are_sent_to_sign_in(client, world, name, method):
    url = sample_url(name, world)
    response = getattr(client, method)(url)
    assert response.status_code == 302, url
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("name", sorted(PATIENT_PAGES))
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_the_other_agency_and_a_colleague_off_the_team_get_404_and_are_audited(
    client, world, name, method, who
):
    from careway.patients.models import Patient

    client.force_login(getattr(world, who))
    before = AuditEvent.objects.filter(outcome="denied").count()
    version = Patient.objects.get(pk=world.patient.pk).version
    response = getattr(client, method)(sample_url(name, world))
    assert response.status_code == 404
    assert AuditEvent.objects.filter(outcome="denied").count() == before + 1
    assert Patient.objects.get(pk=world.patient.pk).version == version


@pytest.mark.parametrize("name", sorted(PUBLIC - {"two_factor_verify", "two_factor_setup"}))
def test_public_pages_answer_without_signing_in(client, name):
    from django.urls import reverse

    assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", sorted(FHIR_API - FHIR_PUBLIC))
@pytest.mark.parametrize("method", ["get", "post", "put"])
def test_the_fhir_api_answers_401_without_a_token(client, world, name, method):
    client.force_login(world.cm)  # a browser session is not a token
    response = getattr(client, method)(sample_url(name, world))
    assert response.status_code in (401, 405)
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    if response.status_code == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("name", sorted(FHIR_PUBLIC))
def test_the_fhir_capability_statement_is_public(client, name):
    from django.urls import reverse

    assert client.get(reverse(name)).json()["resourceType"] == "CapabilityStatement"


@pytest.mark.parametrize("name", sorted(PATIENT_PAGES | SIGNED_IN_PAGES | PUBLIC | FHIR_API))
def test_no_answer_may_be_kept_by_a_browser_or_a_shared_cache(client, world, name):
    # A shared tablet's browser must not keep a chart (issue 15, finding 8): every page and API
    # answer says no-store, whoever asks and whatever the answer is.
    from tests.fhir.api_client import fhir_as

    client.force_login(world.cm)
    url = sample_url(name, world)
    answers = [client.get(url), client.post(url)]
    if name in FHIR_API:
        answers.append(fhir_as(world.cm).get(url))
    for response in answers:
        assert response["Cache-Control"] == "no-store", (name, response.status_code)

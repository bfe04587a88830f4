"""Who the API lets in: bearer tokens (scoped, expiring, revocable) and signed-in browsers."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from careway.core import audit, tokens
from careway.core.models import ApiToken, AuditEvent
from careway.patients.models import Patient
from tests.api.conftest import ApiClient, token_row
from tests.factories import make_org

pytestmark = pytest.mark.django_db

NEW_PATIENT = {
    "mrn": "SESSION-1",
    "given_name": "Ines",
    "family_name": "Park",
    "birth_date": "1944-02-29",
    "sex": "female",
}


def test_only_the_hash_is_stored_and_the_token_is_recognisable(world, make_token):
    raw = make_token(world.cm)
    row = token_row(raw)
    assert raw.startswith("cw_") and len(raw) > 40
    assert row.token_hash == ApiToken.hash_token(raw) and raw not in row.token_hash
    assert raw.startswith(row.prefix)


def test_a_token_acts_as_its_user_and_is_audited_as_the_api(world, api_as):
    response = api_as(world.cm).get(f"/patients/{world.patient.pk}")
    assert response.status_code == 200
    event = AuditEvent.objects.filter(action="patient.view").latest("seq")
    assert event.actor_id == world.cm.pk
    assert event.patient_id == world.patient.pk
    assert event.detail["via"] == "api"
    assert event.client_address == "127.0.0.1"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "expired"),
        ({"revoked_at": timezone.now()}, "revoked"),
    ],
)
def test_expired_and_revoked_tokens_get_401_and_are_audited(world, api_as, change, reason):
    api = api_as(world.cm)
    ApiToken.objects.filter(pk=token_row(api.token).pk).update(**change)
    response = api.get("/patients")
    assert response.status_code == 401
    assert reason in response.json()["detail"]
    rejected = AuditEvent.objects.get(action="token.rejected")
    assert rejected.outcome == AuditEvent.Outcome.DENIED
    assert rejected.organization_id == world.org.pk


def test_revoking_through_the_service_stops_the_next_request(world, api_as):
    api = api_as(world.cm)
    assert api.get("/patients").status_code == 200
    tokens.revoke_token(audit.Actor.system(), token_row(api.token))
    assert api.get("/patients").status_code == 401
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


@pytest.mark.parametrize(
    "header", ["Bearer cw_not-a-real-token", "Bearer ", "Bearer nonsense", "Basic dXNlcjpwYXNz"]
)
def test_unknown_or_malformed_credentials_get_401(world, client, header):
    response = client.get("/api/v1/patients", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_a_deactivated_users_token_stops_working(world, api_as):
    api = api_as(world.cm)
    world.cm.is_active = False
    world.cm.save()
    assert api.get("/patients").status_code == 401


def test_a_token_does_not_follow_its_user_to_another_agency(world, api_as):
    api = api_as(world.cm)
    world.cm.organization, _ = make_org("Elsewhere Home Care")
    world.cm.save()
    assert api.get("/patients").status_code == 401


def test_last_used_is_written_at_most_once_a_minute(world, api_as):
    api = api_as(world.cm)
    row = token_row(api.token)
    assert row.last_used_at is None
    api.get(f"/patients/{world.patient.pk}")
    first_use = token_row(api.token).last_used_at
    assert first_use is not None
    api.get(f"/patients/{world.patient.pk}")
    assert token_row(api.token).last_used_at == first_use
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=first_use - timedelta(minutes=2))
    api.get(f"/patients/{world.patient.pk}")
    assert token_row(api.token).last_used_at > first_use


def test_signed_in_browser_reads_with_its_session(world, client):
    client.force_login(world.cm)
    response = client.get("/api/v1/patients")
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_browser_writes_need_the_csrf_token(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.cm)
    body = json.dumps(NEW_PATIENT)
    refused = browser.post("/api/v1/patients", body, content_type="application/json")
    assert refused.status_code == 403
    assert "X-CSRFToken" in refused.json()["detail"]
    assert not Patient.objects.filter(mrn="SESSION-1").exists()

    # What the sign-in page's cookie would hold: a 32-character secret, echoed in the header.
    csrf = "k" * 32
    browser.cookies["csrftoken"] = csrf
    accepted = browser.post(
        "/api/v1/patients", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf
    )
    assert accepted.status_code == 201, accepted.json()


def test_a_token_needs_no_csrf_token(world, make_token):
    api = ApiClient(Client(enforce_csrf_checks=True), make_token(world.cm))
    assert api.post("/patients", NEW_PATIENT).status_code == 201


def test_an_anonymous_write_is_401_not_a_csrf_403(world):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/api/v1/patients", "{}", content_type="application/json")
    assert response.status_code == 401


def test_the_token_its_user_and_their_roles_come_in_one_statement(world, make_token):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    raw = make_token(world.supervisor)
    tokens.authenticate(raw)  # notes the first use; the next minute's requests write nothing
    with CaptureQueriesContext(connection) as captured:
        token = tokens.authenticate(raw)
        user = token.user
        roles, supervised = user.roles, user.supervised_branch_ids()
    assert len(captured.captured_queries) == 1
    assert user == world.supervisor and token.organization_id == world.org.pk
    assert roles == {"supervisor"} and supervised == {world.branch.pk}


def test_a_deactivated_role_no_longer_counts_for_the_token(world, api_as):
    from careway.core.models import Membership

    supervisor = api_as(world.supervisor)
    other = make_org_patient_in_branch(world)
    assert supervisor.get(f"/patients/{other.pk}").status_code == 200  # supervises the branch
    Membership.objects.filter(user=world.supervisor).update(active=False)
    assert supervisor.get(f"/patients/{other.pk}").status_code == 404


def make_org_patient_in_branch(world):
    from tests.factories import make_patient

    return make_patient(world.branch, world.cm_other, given_name="Ruth", family_name="Ames")

"""The plan of care and verbal orders API: drafting, changing a draft with its version, sending
(422 naming each field that stops it), the PDF, marking signed, verbal orders; the three access
tests (member can, read-only team member and read-scope token cannot write, another agency gets
404) and the audit trail."""

from datetime import timedelta
from typing import get_args
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from careway.careplans import certification, plan_of_care, plan_of_care_api
from careway.careplans.models import PlanOfCare
from careway.core import audit, tokens
from careway.core.models import AuditEvent, User
from tests.api.conftest import ApiClient, problem_fields

from .poc_helpers import VALID_NPI, plan_with_orders, ready_draft

pytestmark = pytest.mark.django_db


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


def test_draft_patch_send_pdf_sign(world, api):
    plan_with_orders(world)
    created = api.post(f"/patients/{world.patient.pk}/plans-of-care", {})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["kind"] == "certification" and body["diagnoses"][0]["code"] == "I50.9"
    assert "practitioner_npi" in body["problems"]
    poc_id = body["id"]
    refused = api.post(f"/plans-of-care/{poc_id}/send", {"how": "fax", "version": body["version"]})
    assert refused.status_code == 422
    assert {"practitioner_npi", "homebound", "face_to_face_date"} <= set(problem_fields(refused))
    bad = api.patch(
        f"/plans-of-care/{poc_id}",
        {"diagnoses": [{"code": "I50.9", "principal": True}, {"code": "I50"}]},
        **{"If-Match": f'"{body["version"]}"'},
    )
    assert bad.status_code == 422 and problem_fields(bad) == ["diagnoses.1.code"]
    soc = world.patient.episodes.first().start_of_care
    patch = {
        "version": body["version"],
        "practitioner_name": "Dr. Ana Lopez", "practitioner_kind": "NP",
        "practitioner_npi": VALID_NPI, "practitioner_address": "400 Main St",
        "face_to_face_date": str(soc), "face_to_face_practitioner": "Dr. Sam Hill",
        "face_to_face_kind": "MD", "face_to_face_findings": "HF exacerbation",
        "homebound": True, "homebound_reason": "Walker and help needed; taxing effort",
        "prognosis": "fair", "notify_if": {"systolic_above": 150},
    }  # fmt: skip
    changed = api.patch(f"/plans-of-care/{poc_id}", patch)
    assert changed.status_code == 200, changed.content
    assert changed.json()["problems"] == {}
    stale = api.post(f"/plans-of-care/{poc_id}/send", {"how": "fax", "version": body["version"]})
    assert stale.status_code == 409
    sent = api.post(
        f"/plans-of-care/{poc_id}/send", {"how": "fax", "version": changed.json()["version"]}
    )
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    assert sent.json()["content"]["orders"][0]["discipline"] == "RN"
    pdf = api.get(sent.json()["pdf"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    today = plan_of_care.agency_today(world.org.pk)
    early = api.post(
        f"/plans-of-care/{poc_id}/signed",
        {"signed_on": str(today + timedelta(days=1)), "version": sent.json()["version"]},
    )
    assert early.status_code == 422 and problem_fields(early) == ["signed_on"]
    signed = api.post(
        f"/plans-of-care/{poc_id}/signed",
        {"signed_on": str(today), "version": sent.json()["version"]},
    )
    assert signed.status_code == 200 and signed.json()["signed_on"] == str(today)
    actions = set(AuditEvent.objects.filter(actor_id=world.cm.pk).values_list("action", flat=True))
    assert {"plan_of_care.create", "plan_of_care.update", "plan_of_care.send",
            "plan_of_care.download", "plan_of_care.sign"} <= actions  # fmt: skip


def test_list_and_read_are_audited(world, api):
    poc = ready_draft(world)
    listed = api.get(f"/patients/{world.patient.pk}/plans-of-care")
    assert listed.status_code == 200 and listed.json()["count"] == 1
    one = api.get(f"/plans-of-care/{poc.pk}")
    assert one.status_code == 200 and one["ETag"] == f'"{poc.version}"'
    views = AuditEvent.objects.filter(action="patient.view", detail__section="careplan")
    assert views.count() == 2


def test_verbal_orders(world, api):
    ready_draft(world)
    path = f"/patients/{world.patient.pk}/verbal-orders"
    refused = api.post(
        path, {"text": "PT eval", "practitioner_name": "Dr. X", "practitioner_kind": "CNM",
               "read_back": False}
    )  # fmt: skip
    assert refused.status_code == 422
    assert set(problem_fields(refused)) == {"practitioner_kind", "read_back"}
    made = api.post(
        path, {"text": "PT eval", "practitioner_name": "Dr. X", "practitioner_kind": "PA",
               "read_back": True}
    )  # fmt: skip
    assert made.status_code == 201
    order = made.json()
    sent = api.post(f"/verbal-orders/{order['id']}/send", {"how": "fax", "version": 1})
    assert sent.status_code == 200 and sent.json()["due_by"]
    assert api.get(path).json()["count"] == 1


def test_read_only_member_and_read_token_cannot_write(world, api_as):
    poc = ready_draft(world)
    for client in (api_as(world.scheduler), api_as(world.cm, ("patients:read",))):
        assert client.get(f"/plans-of-care/{poc.pk}").status_code == 200
        for path, body in (
            (f"/patients/{world.patient.pk}/plans-of-care", {}),
            (f"/plans-of-care/{poc.pk}/send", {"how": "fax", "version": poc.version}),
            (f"/patients/{world.patient.pk}/verbal-orders",
             {"text": "x", "practitioner_name": "Dr", "practitioner_kind": "MD",
              "read_back": True}),
        ):  # fmt: skip
            assert client.post(path, body).status_code == 403, path
        assert client.patch(f"/plans-of-care/{poc.pk}", {"version": poc.version}).status_code == 403
    assert PlanOfCare.objects.get().status == "draft"


def test_another_agency_gets_404(world, api_as):
    poc = ready_draft(world)
    outsider = api_as(world.outsider)
    assert outsider.get(f"/plans-of-care/{poc.pk}").status_code == 404
    assert outsider.get(f"/plans-of-care/{poc.pk}/pdf").status_code == 404
    assert outsider.get(f"/patients/{world.patient.pk}/plans-of-care").status_code == 404
    assert outsider.post(f"/patients/{world.patient.pk}/plans-of-care", {}).status_code == 404
    assert outsider.patch(f"/plans-of-care/{poc.pk}", {"version": 1}).status_code == 404
    assert AuditEvent.objects.filter(actor_id=world.outsider.pk, outcome="denied").exists()


def test_the_apis_checkbox_keys_are_the_forms():
    functional = [key for key, _ in certification.FUNCTIONAL_LIMITATIONS]
    activities = [key for key, _ in certification.ACTIVITIES_PERMITTED]
    assert list(get_args(plan_of_care_api.FunctionalKey)) == functional
    assert list(get_args(plan_of_care_api.ActivityKey)) == activities

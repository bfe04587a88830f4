"""The plan of care's pages: the three access tests, audit, the form's errors by field, sending
with the PDF, marking signed, verbal orders, orders awaiting signature and Today."""

from datetime import timedelta

import pytest
from django.urls import reverse

from careway.careplans import plan_of_care
from careway.careplans.models import PlanOfCare, VerbalOrder
from careway.core import audit
from careway.core.models import AuditEvent

from .poc_helpers import ready_draft


@pytest.fixture
def actor(world):
    return audit.Actor(user=world.cm)


@pytest.fixture
def draft(world, actor):
    return ready_draft(world, actor)


def urls(world, poc):
    kw = {"patient_id": world.patient.pk}
    one = {**kw, "poc_id": poc.pk}
    return {
        "list": reverse("careplans:plan_of_care_list", kwargs=kw),
        "edit": reverse("careplans:plan_of_care_edit", kwargs=one),
        "send": reverse("careplans:plan_of_care_send", kwargs=one),
        "sign": reverse("careplans:plan_of_care_sign", kwargs=one),
        "pdf": reverse("careplans:plan_of_care_pdf", kwargs=one),
        "verbal": reverse("careplans:verbal_order_add", kwargs=kw),
    }


def test_a_member_reads_every_page_audited(login, world, draft):
    client = login(world.cm)
    for name in ("list", "edit", "verbal"):
        response = client.get(urls(world, draft)[name])
        assert response.status_code == 200, name
        event = AuditEvent.objects.filter(actor_id=world.cm.pk).latest("seq")
        assert event.action == "patient.view", name
    page = client.get(reverse("chart_section", args=[world.patient.pk, "care-plan"]))
    assert "Plan of care (physician" in page.content.decode()
    response = client.get(urls(world, draft)["pdf"])
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert AuditEvent.objects.filter(action="plan_of_care.download").exists()


def test_a_read_only_member_cannot_write(login, world, draft):
    client = login(world.scheduler)
    for name in ("list", "edit", "send", "sign", "verbal"):
        assert client.post(urls(world, draft)[name], {"version": 1}).status_code == 403, name
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert AuditEvent.objects.filter(actor_id=world.scheduler.pk, outcome="denied").exists()


def test_an_outsider_gets_404(login, world, draft):
    client = login(world.outsider)
    for name, address in urls(world, draft).items():
        assert client.get(address).status_code == 404, name
        assert client.post(address, {"version": 1}).status_code == 404, name
    assert client.get(reverse("careplans:orders_awaiting")).status_code == 200
    assert "Hale" not in client.get(reverse("careplans:orders_awaiting")).content.decode()


def _form_data(poc, **extra):
    data = {
        "version": poc.version,
        "practitioner_name": poc.practitioner_name,
        "practitioner_kind": poc.practitioner_kind,
        "practitioner_npi": poc.practitioner_npi,
        "practitioner_address": poc.practitioner_address,
        "homebound": "yes",
        "homebound_reason": poc.homebound_reason,
        "prognosis": "good",
        "functional_limitations": ["6"],
        "activities_permitted": ["3"],
        "mental_status_items": ["1"],
        "notify_systolic_above": "150",
        "dx_code_0": "I50.22",
        "dx_principal": "0",
        "dx_code_1": "I50",
    }
    data.update(extra)
    return data


def test_the_form_names_the_bad_diagnosis_row_and_saves_nothing(login, world, draft):
    client = login(world.cm)
    response = client.post(urls(world, draft)["edit"], _form_data(draft))
    assert response.status_code == 422
    assert "Diagnosis 2: I50 (Heart failure) is a category" in response.content.decode()
    draft.refresh_from_db()
    assert draft.prognosis == "fair"


def test_the_form_saves_and_a_stale_version_is_a_conflict(login, world, draft):
    client = login(world.cm)
    response = client.post(urls(world, draft)["edit"], _form_data(draft, dx_code_1="E11.9"))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert [d["code"] for d in draft.diagnoses] == ["I50.22", "E11.9"]
    assert draft.notify_if == {"systolic_above": 150.0}
    assert draft.mental_status == "Oriented"
    stale = client.post(urls(world, draft)["edit"], _form_data(draft, version=1, prognosis="poor"))
    assert stale.status_code == 409


def test_send_sign_and_the_lists(login, world, draft):
    client = login(world.cm)
    assert (
        client.post(
            urls(world, draft)["send"], {"how": "fax", "version": draft.version}
        ).status_code
        == 302
    )
    draft.refresh_from_db()
    assert draft.status == "sent" and draft.sent_pdf
    awaiting = client.get(reverse("careplans:orders_awaiting"))
    assert awaiting.status_code == 200 and "Hale, Margaret" in awaiting.content.decode()
    today = plan_of_care.agency_today(world.org.pk)
    client.post(
        urls(world, draft)["sign"], {"signed_on": today.isoformat(), "version": draft.version}
    )
    draft.refresh_from_db()
    assert draft.status == "signed" and draft.signed_on == today


def test_an_overdue_order_shows_red_on_the_card_and_on_today(login, world, draft, actor):
    sent_on = plan_of_care.agency_today(world.org.pk) - timedelta(days=35)
    plan_of_care.send_plan_of_care(actor, draft, "fax", draft.version, sent_on=sent_on)
    client = login(world.cm)
    page = client.get(urls(world, draft)["list"]).content.decode()
    assert "status-urgent" in page and "Overdue 5 days" in page
    today_page = client.get(reverse("today")).content.decode()
    assert "Orders overdue for signature" in today_page and "5 days overdue" in today_page


def test_a_verbal_order_by_the_page(login, world, draft):
    client = login(world.cm)
    refused = client.post(
        urls(world, draft)["verbal"],
        {"text": "PT eval", "practitioner_name": "Dr. Lopez", "practitioner_kind": "MD"},
    )
    assert refused.status_code == 422 and "Read the order back" in refused.content.decode()
    client.post(
        urls(world, draft)["verbal"],
        {"text": "PT eval", "practitioner_name": "Dr. Lopez", "practitioner_kind": "MD",
         "read_back": "on"},
    )  # fmt: skip
    order = VerbalOrder.objects.get()
    send = reverse("careplans:verbal_order_send", args=[world.patient.pk, order.pk])
    client.post(send, {"how": "fax", "version": order.version})
    order.refresh_from_db()
    assert order.status == "sent" and order.due_by
    assert PlanOfCare.objects.count() == 1

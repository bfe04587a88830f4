"""axe-core on every page a user reaches, with enough data that no section is an empty state:
no serious or critical WCAG 2.1 A/AA violation, at tablet size and, for the caseload and the
chart, at phone width too."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from careway.core import audit
from careway.core.models import Notification
from careway.patients import services
from tests.factories import build_world

from .conftest import (
    PHONE,
    TABLET,
    assert_accessible,
    enrol_two_factor,
    fill_chart,
    screenshot,
    sign_in,
    submit_password,
)

# How the pages look: the same on any database (tests/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.database_independent]

CHART_SECTIONS = (
    "flags",
    "conditions",
    "medications",
    "allergies",
    "vitals",
    "encounters",
    "contacts",
    "care-team",
)
ADD_FORMS = ("conditions", "medications", "allergies", "vitals", "contacts", "care-team")


@pytest.fixture
def full_world():
    world = build_world()
    fill_chart(world.patient)
    world.extra["caregiver"] = services.add_contact(
        audit.Actor(user=None),
        world.patient,
        {"name": "Ann Hale", "relationship": "child", "phone": "937-555-0199"},
    )
    return world


def visit(page, url: str, label: str, status: int = 200) -> None:
    response = page.goto(url)
    assert response is not None and response.status == status, f"{label}: {url}"
    assert_accessible(page, label)


def add_form_url(base: str, patient, section: str) -> str:
    path = {"care-team": "care-team/new", "vitals": "vitals/new"}.get(section, f"{section}/new")
    return f"{base}/patients/{patient.pk}/{path}/"


@pytest.mark.parametrize("size", ["tablet", "phone"])
def test_caseload_and_every_chart_section(live_server, new_page, full_world, size):
    w, base = full_world, live_server.url
    page = new_page(TABLET if size == "tablet" else PHONE)
    sign_in(page, base, w.cm)
    page.goto(f"{base}/patients/")
    expect(page.get_by_role("link", name="HALE, Margaret")).to_be_visible()
    assert_accessible(page, f"caseload ({size})")
    page.get_by_label("Search by name or MRN").fill("nobody-by-this-name")
    expect(page.locator("#caseload-summary")).to_contain_text("0 patients")
    assert_accessible(page, f"caseload, nothing found ({size})")

    chart = f"{base}/patients/{w.patient.pk}"
    visit(page, f"{chart}/", f"chart summary ({size})")
    for section in CHART_SECTIONS:
        visit(page, f"{chart}/{section}/", f"chart {section} ({size})")
    expect(page.locator(".patient-banner")).to_contain_text("Penicillin")


def test_every_chart_form_and_its_errors(live_server, new_page, full_world):
    w, base = full_world, live_server.url
    page = new_page(TABLET)
    sign_in(page, base, w.cm)
    for section in ADD_FORMS:
        visit(page, add_form_url(base, w.patient, section), f"add form for {section}")
    chart = f"{base}/patients/{w.patient.pk}"
    visit(page, f"{chart}/edit/", "patient edit form")
    visit(page, f"{chart}/contacts/{w.extra['caregiver'].pk}/edit/", "contact edit form")
    visit(page, f"{base}/patients/new/", "new patient form")

    page.get_by_role("button", name="Register patient").click()
    expect(page.locator("#error-summary")).to_be_visible()
    assert_accessible(page, "new patient form with errors")
    page.goto(add_form_url(base, w.patient, "vitals"))
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#error-summary")).to_be_visible()
    assert_accessible(page, "vital signs form with errors")
    screenshot(page, "tablet-06-form-with-errors")


def test_sign_in_pages(live_server, new_page, full_world):
    w, base = full_world, live_server.url
    page = new_page(TABLET)
    visit(page, f"{base}/accounts/login/", "sign-in")
    submit_password(page, base, "nobody")
    expect(page.locator(".error-summary")).to_contain_text("Sign-in failed")
    assert_accessible(page, "sign-in refused")

    enrol_two_factor(w.cm)
    submit_password(page, base, w.cm.username)
    page.wait_for_url("**/accounts/two-factor/")
    assert_accessible(page, "two-factor code")
    page.get_by_label("Six-digit code").fill("12")
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.locator(".errorlist")).to_contain_text("Enter the six digits")
    assert_accessible(page, "two-factor code with an error")

    # The supervisor's role requires two-factor and they have none yet: enrolment with a QR.
    setup = new_page(TABLET)
    submit_password(setup, base, w.supervisor.username)
    setup.wait_for_url("**/accounts/two-factor/setup/")
    expect(setup.locator("figure.qr svg")).to_be_visible()
    assert_accessible(setup, "two-factor setup with QR")
    screenshot(setup, "tablet-07-two-factor-setup")


def test_account_notifications_and_emergency_access(live_server, new_page, full_world):
    w, base = full_world, live_server.url
    Notification.objects.create(
        organization=w.org,
        recipient=w.cm_other,
        subject="Emergency access to a chart",
        body="Someone opened a chart with emergency access.",
        patient_id=w.patient.pk,
        link=f"/patients/{w.patient.pk}/",
        link_label="Open the chart",
    )
    page = new_page(TABLET)
    sign_in(page, base, w.cm_other)
    visit(page, f"{base}/notifications/", "notifications")
    expect(page.get_by_text("Emergency access to a chart")).to_be_visible()
    visit(page, f"{base}/account/", "account")
    visit(page, f"{base}/account/password/", "password change")
    visit(page, f"{base}/accounts/two-factor/setup/", "two-factor setup from the account")

    visit(page, f"{base}/emergency-access/", "break-the-glass")
    page.get_by_role("button", name="Open the chart").click()
    expect(page.locator(".error-summary")).to_contain_text("Give the reason")
    assert_accessible(page, "break-the-glass with errors")
    screenshot(page, "tablet-08-break-the-glass-errors")
    page.get_by_label("Family name").fill(w.patient.family_name.upper())
    page.get_by_label("Date of birth").fill(w.patient.birth_date.isoformat())
    page.get_by_label("Reason").fill("Patient called about chest pain, her nurse is off today")
    page.get_by_role("button", name="Open the chart").click()
    page.wait_for_url(f"**/patients/{w.patient.pk}/")
    expect(page.get_by_role("note")).to_contain_text("Emergency access until")
    assert_accessible(page, "chart opened with emergency access")


def test_people_admin_and_audit_pages(live_server, new_page, full_world):
    w, base = full_world, live_server.url
    admin = new_page(TABLET)
    sign_in(admin, base, w.admin, enrol_two_factor(w.admin))
    visit(admin, f"{base}/people/", "people list")
    screenshot(admin, "tablet-09-people")
    visit(admin, f"{base}/people/{w.cm.pk}/", "person detail")
    visit(admin, f"{base}/people/new/", "add a person")
    admin.get_by_role("button", name="Add person").click()
    expect(admin.locator(".error-summary")).to_be_visible()
    assert_accessible(admin, "add a person with errors")

    auditor = new_page(TABLET)
    sign_in(auditor, base, w.auditor, enrol_two_factor(w.auditor))
    visit(auditor, f"{base}/audit/", "audit log")
    auditor.goto(f"{base}/audit/?since={timezone.localdate():%Y-%m-%d}&until=2000-01-01")
    expect(auditor.locator(".errorlist")).to_contain_text("The end date is before the start date.")
    assert_accessible(auditor, "audit log with a filter error")
    screenshot(auditor, "tablet-10-audit-log-filter-error")

"""A case manager's day in a real browser at tablet size: sign in with a code, find a patient,
read the chart, edit a caregiver, meet an edit conflict, sign out."""

import pyotp
import pytest
from playwright.sync_api import expect

from careway.core import audit
from careway.patients import services
from careway.patients.models import RelatedPerson
from tests.factories import build_world, make_patient

from .conftest import (
    PHONE,
    TABLET,
    enrol_two_factor,
    fill_chart,
    screenshot,
    sign_in,
    submit_password,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def journey_world():
    world = build_world()
    world.org.require_two_factor_for_all = True
    world.org.save(update_fields=["require_two_factor_for_all"])
    actor = audit.Actor(user=None)
    services.update_patient(actor, world.patient, {"code_status": "dnr"}, world.patient.version)
    fill_chart(world.patient)
    world.extra["caregiver"] = services.add_contact(
        actor,
        world.patient,
        {
            "name": "Ann Hale",
            "relationship": "child",
            "phone": "937-555-0199",
            "is_primary_caregiver": True,
        },
    )
    world.extra["second"] = make_patient(world.branch, world.cm, given_name="Walter")
    world.extra["secret"] = enrol_two_factor(world.cm)
    return world


def test_case_manager_journey(live_server, new_page, journey_world):
    w, base = journey_world, live_server.url
    page = new_page(TABLET)

    submit_password(page, base, w.cm.username)
    expect_code_step(page, base)
    sign_in_with_code(page, w.extra["secret"])

    search_caseload(page, w)
    screenshot(page, "tablet-02-caseload")

    open_chart(page, w.patient)
    screenshot(page, "tablet-03-chart-summary")
    page.get_by_role("link", name="Vital signs", exact=True).click()
    expect(page.get_by_role("img", name="Blood pressure, last 90 days")).to_be_visible()
    screenshot(page, "tablet-04-vitals")

    edit_caregiver(page)
    meet_and_resolve_conflict(page, w.extra["caregiver"])
    sign_out(page, base)


def expect_code_step(page, base: str) -> None:
    """The agency requires two-factor: the password alone opens nothing yet."""
    page.wait_for_url("**/accounts/two-factor/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    caseload = page.request.get(f"{base}/patients/", max_redirects=0)
    assert caseload.status == 302 and "/accounts/login/" in caseload.headers["location"]


def sign_in_with_code(page, secret: str) -> None:
    page.get_by_label("Six-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify and sign in").click()
    page.wait_for_url("**/today/")  # Today is a case manager's home page
    page.goto(page.url.replace("/today/", "/patients/"))


def search_caseload(page, w) -> None:
    results = page.locator("#caseload-results")
    expect(results.get_by_role("link", name="HALE, Margaret")).to_be_visible()
    expect(
        results.get_by_role("link", name=f"{w.extra['second'].family_name}, Walter")
    ).to_be_visible()
    expect(page.locator("#caseload-summary")).to_contain_text("2 patients")
    # A marker on the window survives only if the results change without a full page load.
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_label("Search").fill("Hale")
    expect(page.locator("#caseload-summary")).to_contain_text("1 patient matching “Hale”")
    expect(results.get_by_role("link", name="HALE, Margaret")).to_be_visible()
    expect(results.get_by_text("Walter")).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage") is True
    assert "q=Hale" in page.url


def open_chart(page, patient) -> None:
    page.get_by_role("link", name="HALE, Margaret").click()
    page.wait_for_url(f"**/patients/{patient.pk}/")
    banner = page.locator(".patient-banner")
    expect(banner.get_by_role("heading", level=1)).to_have_text("HALE, Margaret")
    expect(banner).to_contain_text("Penicillin")
    expect(banner).to_contain_text("High")
    expect(banner).to_contain_text("Do not resuscitate (DNR)")
    expect(banner).to_contain_text("Ann Hale")


def edit_caregiver(page) -> None:
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("link", name="Edit Ann Hale").click()
    page.get_by_label("Phone").fill("937-555-0123")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Ann Hale's details saved.")
    row = page.get_by_role("row").filter(has_text="Ann Hale")
    expect(row).to_contain_text("937-555-0123")


def meet_and_resolve_conflict(page, caregiver: RelatedPerson) -> None:
    """The same person in two tabs of one browser: both open the form, the first saves."""
    edit_url = page.get_by_role("link", name="Edit Ann Hale").get_attribute("href")
    first = page.context.new_page()
    first.goto(page.url.split("/patients/")[0] + edit_url)
    page.goto(first.url)
    first.get_by_label("Phone").fill("937-555-0001")
    first.get_by_role("button", name="Save").click()
    expect(first.get_by_role("status")).to_contain_text("saved")

    page.get_by_label("Phone").fill("937-555-0002")
    page.get_by_label("Notes").fill("Call after 5pm")
    page.get_by_role("button", name="Save").click()
    conflict = page.locator(".conflict")
    expect(conflict).to_contain_text("Someone else changed this record")
    expect(conflict.get_by_role("row").filter(has_text="Phone")).to_contain_text("937-555-0001")
    expect(page.get_by_label("Phone")).to_have_value("937-555-0002")
    expect(page.get_by_label("Notes")).to_have_value("Call after 5pm")
    caregiver.refresh_from_db()
    assert caregiver.phone == "937-555-0001" and caregiver.notes == ""
    screenshot(page, "tablet-05-conflict")

    page.get_by_role("button", name="Save my version").click()
    expect(page.get_by_role("status")).to_contain_text("Ann Hale's details saved.")
    expect(page.get_by_role("row").filter(has_text="Ann Hale")).to_contain_text("937-555-0002")
    caregiver.refresh_from_db()
    assert (caregiver.phone, caregiver.notes) == ("937-555-0002", "Call after 5pm")


def sign_out(page, base: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")
    expect(page.get_by_role("status")).to_contain_text("You have signed out.")
    page.goto(f"{base}/patients/")
    assert "/accounts/login/" in page.url
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Careway")


def test_sign_in_page_and_small_screens(live_server, new_page, journey_world):
    """Screenshots of the sign-in page at tablet size and the caseload and chart on a phone."""
    w, base = journey_world, live_server.url
    tablet = new_page(TABLET)
    tablet.goto(f"{base}/accounts/login/")
    screenshot(tablet, "tablet-01-sign-in")

    phone = new_page(PHONE)
    sign_in(phone, base, w.cm, w.extra["secret"])
    phone.goto(f"{base}/patients/")
    expect(phone.get_by_role("link", name="HALE, Margaret")).to_be_visible()
    screenshot(phone, "phone-01-caseload")
    phone.get_by_role("link", name="HALE, Margaret").click()
    expect(phone.locator(".patient-banner")).to_contain_text("Penicillin")
    screenshot(phone, "phone-02-chart-summary")
    phone.get_by_role("link", name="Vital signs", exact=True).click()
    expect(phone.get_by_role("img", name="Blood pressure, last 90 days")).to_be_visible()
    screenshot(phone, "phone-03-vitals")

"""Careway's 404 and 403 pages, and the emergency access page, in Chromium on a phone: no
WCAG violation (axe), no sideways scroll, the way back a 44 px target (issue 16, points 7, 10).
Screenshots: error-*.png and emergency-access-phone.png in screenshots/."""

import pytest
from playwright.sync_api import expect

from tests.factories import build_world

from .conftest import PHONE, assert_accessible, screenshot, sign_in

# How the pages look: the same on any database (tests/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.database_independent]
SIDEWAYS_JS = "() => document.documentElement.scrollWidth > window.innerWidth"


def check_phone_page(page, label: str) -> None:
    assert_accessible(page, label)
    assert not page.evaluate(SIDEWAYS_JS), f"{label} scrolls sideways on a phone"
    for button in page.locator("main .actions .button").all():
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44, label
    screenshot(page, f"{label}-phone")


def test_error_pages_and_emergency_access_on_a_phone(live_server, new_page):
    w, base = build_world(), live_server.url
    page = new_page(PHONE)
    sign_in(page, base, w.scheduler)
    page.goto(f"{base}/instruments/")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("link", name="Go to your home page")).to_be_visible()
    check_phone_page(page, "error-404")

    # The scheduler reads the chart but may not change it.
    page.goto(f"{base}/patients/{w.patient.pk}/edit/")
    expect(page.get_by_role("heading", name="You cannot change this chart")).to_be_visible()
    check_phone_page(page, "error-403")
    page.get_by_role("link", name="Back to the chart").click()
    page.wait_for_url(f"**/patients/{w.patient.pk}/")

    other = new_page(PHONE)
    sign_in(other, base, w.cm_other)
    other.goto(f"{base}/emergency-access/")
    check_phone_page(other, "emergency-access")

"""The idle timeout in Chromium, with a short clock (14 seconds, warned 8 before): the warning
dialog appears with the focus on "Stay signed in"; one tap extends the session on the server;
an answer typed and never sent survives the sign-out, comes back after signing in again, and is
saved (issue 16, point 9). Screenshots: idle-warning-*.png in screenshots/."""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from careway.assessments import services
from careway.core import audit
from careway.core import middleware as session_limits
from careway.core.models import AuditEvent
from tests.factories import PASSWORD, build_world

from .conftest import DESKTOP, PHONE, TABLET, assert_accessible, screenshot, sign_in

pytestmark = pytest.mark.browser

IDLE_SECONDS = 14
WARN_SECONDS = 8
TEXT_INPUT = ".q-item textarea:visible, .q-item input[type=text]:visible"
DRAFT_KEYS_JS = (
    "() => Object.keys(localStorage).filter((k) => k.startsWith('careway:draft:')).length"
)


@pytest.fixture
def short_clock(settings, monkeypatch):
    """Every session of the live server idles out after IDLE_SECONDS and every request counts."""
    settings.CAREWAY_IDLE_WARNING_SECONDS = WARN_SECONDS
    monkeypatch.setattr(session_limits, "idle_limit_seconds", lambda user: IDLE_SECONDS)
    monkeypatch.setattr(session_limits, "LAST_SEEN_RESOLUTION", 0)


def last_seen(page) -> float:
    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    return Session.objects.get(session_key=key).get_decoded()["careway_last_seen"]


def sign_in_again(page, user) -> None:
    expect(page.get_by_text("You were signed out to protect patient information")).to_be_visible()
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def end_session_behind_the_pages_back(page) -> None:
    """As when a tablet slept through the timeout: the server's clock ran out, the page's not."""
    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=key)
    session["careway_last_seen"] -= 3600
    session.save()


def test_warned_stay_signed_in_and_nothing_typed_is_lost(live_server, new_page, short_clock):
    w, base = build_world(), live_server.url
    assessment = services.start_assessment(audit.Actor(user=w.cm), w.patient, "start-of-care")
    section = f"{base}/patients/{w.patient.pk}/assessments/{assessment.pk}/history/"
    page = new_page({"width": 1024, "height": 1366})
    sign_in(page, base, w.cm)
    page.goto(section)

    # The warning, with the focus on its one button; one tap extends the session.
    warning = page.get_by_role("alertdialog", name="Are you still there?")
    expect(warning).to_be_visible(timeout=(IDLE_SECONDS - WARN_SECONDS + 4) * 1000)
    stay = warning.get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()
    expect(warning).to_contain_text("Careway will sign you out in")
    assert_accessible(page, "idle warning")
    screenshot(page, "idle-warning-tablet")
    before = last_seen(page)
    stay.click()
    expect(warning).to_be_hidden()
    assert last_seen(page) > before  # extended on the server
    assert page.url == section

    # Typing, then nothing: the warning takes the focus (the answer is saved as the field is
    # left), and when the time is up the page goes to sign-in by itself and comes back after.
    field = page.locator(TEXT_INPUT).first
    field.click()
    first = "Lives alone; daughter visits every evening"
    page.keyboard.type(first)
    # The warning comes IDLE - WARN seconds after "Stay"; the save as the field loses the focus
    # is activity (every request counts here), so the session ends IDLE seconds after that save:
    # about 2 * IDLE - WARN seconds from here, given a slow machine's margin.
    signed_out_within = (2 * IDLE_SECONDS - WARN_SECONDS + 12) * 1000
    page.wait_for_url("**/accounts/login/?expired=1*", timeout=signed_out_within)
    assert AuditEvent.objects.filter(action="session.expired", actor_id=w.cm.pk).exists()
    sign_in_again(page, w.cm)
    page.wait_for_url(section)
    expect(page.locator(TEXT_INPUT).first).to_have_value(first)

    # The server's clock ran out behind the page's back: the next save is answered with the
    # sign-in page. The answer typed is kept on the device, put back after signing in, saved.
    end_session_behind_the_pages_back(page)
    second = "Lives alone; a neighbour checks on her at noon"
    page.locator(TEXT_INPUT).first.fill(second)
    page.locator(TEXT_INPUT).first.press("Tab")
    page.wait_for_url("**/accounts/login/?expired=1*")
    assert page.evaluate(DRAFT_KEYS_JS) == 1
    sign_in_again(page, w.cm)
    page.wait_for_url(section)
    expect(page.locator(TEXT_INPUT).first).to_have_value(second)
    expect(page.locator("#save-status")).to_contain_text("Saved at")
    assert page.evaluate(DRAFT_KEYS_JS) == 0  # saved: nothing is left on the device
    page.reload()
    expect(page.locator(TEXT_INPUT).first).to_have_value(second)  # from the server


def test_signing_out_forgets_unsent_answers(live_server, new_page, short_clock, monkeypatch):
    monkeypatch.setattr(session_limits, "idle_limit_seconds", lambda user: 600)
    w, base = build_world(), live_server.url
    assessment = services.start_assessment(audit.Actor(user=w.cm), w.patient, "start-of-care")
    page = new_page(TABLET)
    sign_in(page, base, w.cm)
    page.goto(f"{base}/patients/{w.patient.pk}/assessments/{assessment.pk}/history/")
    page.locator(TEXT_INPUT).first.click()
    page.keyboard.type("Typed on a shared tablet")
    assert page.evaluate(DRAFT_KEYS_JS) == 1
    page.once("dialog", lambda dialog: dialog.accept())  # "leave the page?" for the unsaved
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/**")
    assert page.evaluate(DRAFT_KEYS_JS) == 0


@pytest.mark.parametrize(("label", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_warning_fits_phone_and_desktop(live_server, new_page, short_clock, label, viewport):
    w, base = build_world(), live_server.url
    page = new_page(viewport)
    sign_in(page, base, w.cm)
    warning = page.get_by_role("alertdialog")
    expect(warning).to_be_visible(timeout=(IDLE_SECONDS - WARN_SECONDS + 4) * 1000)
    box = warning.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    stay = warning.get_by_role("button", name="Stay signed in").bounding_box()
    assert stay is not None and stay["height"] >= 44
    screenshot(page, f"idle-warning-{label}")

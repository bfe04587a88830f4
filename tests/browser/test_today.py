"""Today on the devices a nurse carries (issue 16): the worklist fits a phone and a tablet, its
buttons are big enough to tap, and a flag is acknowledged and then resolved from it on a tablet."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from careway.core import audit
from careway.core.writes import service
from careway.patients import services
from careway.patients.models import PatientFlag, Task
from tests.factories import build_world

from .conftest import PHONE, assert_accessible, screenshot, sign_in

pytestmark = pytest.mark.browser
TABLET_PORTRAIT = {"width": 1024, "height": 1366}
SELF_HARM = "Thoughts of death or self-harm reported (PHQ-9 item 9): assess safety today."


@service
def _task(patient) -> Task:
    return Task.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        title="Urgent: thoughts of self-harm (PHQ-9 item 9)",
        detail="Assess safety today and follow the agency's protocol.",
        priority="urgent",
        due_date=timezone.localdate(),
    )


@pytest.fixture
def today_world():
    world = build_world()
    world.extra["flag"] = services.raise_flag(
        audit.Actor(user=None),
        world.patient,
        {"kind": "self-harm-risk", "label": SELF_HARM, "severity": "urgent", "source": "PHQ-9"},
    )
    _task(world.patient)
    return world


def sideways(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_acknowledge_then_resolve_a_flag_from_today_on_a_tablet(live_server, new_page, today_world):
    w, base = today_world, live_server.url
    page = new_page(TABLET_PORTRAIT)
    sign_in(page, base, w.cm)
    page.wait_for_url("**/today/")
    flags = page.get_by_role("region", name="Urgent flags (1)")
    expect(flags).to_contain_text("Depression: self-harm answer")
    expect(flags).to_contain_text("Raised")
    expect(page.get_by_role("region", name="Open tasks (1)")).to_contain_text("Assess safety")
    assert sideways(page) <= 0
    assert_accessible(page, "Today (tablet)")
    screenshot(page, "tablet-today")

    flags.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url("**/today/")
    expect(page.locator(".messages")).to_contain_text("Flag acknowledged")
    expect(flags).to_contain_text("Acknowledged by Cm Tester")
    expect(flags.get_by_role("button", name="Acknowledge")).to_have_count(0)
    flag = PatientFlag.objects.get(pk=w.extra["flag"].pk)
    assert flag.active and flag.acknowledged_by_id == w.cm.pk

    flags.get_by_role("link", name="Resolve").click()
    page.get_by_label("Note").fill("Safety plan made; crisis line number left with her husband")
    page.get_by_role("button", name="Resolve flag").click()
    page.wait_for_url("**/today/")
    expect(page.get_by_role("region", name="Urgent flags (0)")).to_contain_text("No urgent flags")
    flag.refresh_from_db()
    assert not flag.active and flag.resolution_note.startswith("Safety plan made")


def test_today_on_a_phone_has_big_enough_buttons(live_server, new_page, today_world):
    w, base = today_world, live_server.url
    page = new_page(PHONE)
    sign_in(page, base, w.cm)
    page.wait_for_url("**/today/")
    assert sideways(page) <= 0
    heights = page.eval_on_selector_all(
        ".today-actions .button, .today-actions button",
        "els => els.map(e => e.getBoundingClientRect().height)",
    )
    assert heights and min(heights) >= 44
    assert_accessible(page, "Today (phone)")
    screenshot(page, "phone-today")

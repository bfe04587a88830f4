"""Issue 16 on a phone (390x844): the signed assessment and the audit log never scroll sideways,
and their targets are big enough to tap (WCAG 2.2 SC 2.5.8: 24 by 24 px at least; primary
actions 44 px tall). The audit log fits a tablet without a sideways scroll too."""

import pytest

from careway.assessments import services
from careway.core import audit
from tests.assessments.test_services import actor, fill_everything, start
from tests.factories import build_world

from .conftest import PHONE, assert_accessible, enrol_two_factor, screenshot, sign_in

# How the pages look: the same on any database (tests/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.database_independent]

SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
# Targets under 24 px either way, leaving out links inside a sentence (SC 2.5.8's exception).
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'main a, main button, main input:not([type=hidden]), main select, main summary')]
  .filter(e => { const r = e.getBoundingClientRect(); return r.width && r.height; })
  .filter(e => !(e.tagName === 'A' && e.closest('p, li.notice')
                 && getComputedStyle(e).display === 'inline'))
  .filter(e => { const r = e.getBoundingClientRect(); return r.width < 24 || r.height < 24; })
  .map(e => `${e.tagName} "${(e.innerText || e.value || e.name || '').trim().slice(0, 40)}"`)"""
SHORT_PRIMARY = """() => [...document.querySelectorAll(
    'main button, main input[type=submit], main .button')]
  .filter(e => { const r = e.getBoundingClientRect(); return r.height && r.height < 44; })
  .map(e => (e.innerText || e.value).trim())"""


@pytest.fixture
def signed_world():
    world = build_world()
    assessment = start(world)
    fill_everything(world, assessment, choice=-1)
    services.sign_assessment(actor(world.cm), assessment, assessment.version)
    audit.record(
        audit.Actor(user=world.cm),
        "patient.view",
        patient_id=world.patient.pk,
        obj=world.patient,
        detail={"section": "assessments", "reason": "a long reason " * 8},
    )
    return world, assessment


def test_the_signed_assessment_fits_a_phone_and_names_its_signer(
    live_server, new_page, signed_world
):
    world, assessment = signed_world
    page = new_page(PHONE)
    sign_in(page, live_server.url, world.cm)
    for path in (
        f"/patients/{world.patient.pk}/assessments/{assessment.pk}/",
        f"/patients/{world.patient.pk}/assessments/",
    ):
        page.goto(live_server.url + path)
        screenshot(page, "field-ready-" + path.strip("/").split("/")[-1][:8] + "-phone")
        assert page.evaluate(SIDEWAYS) == 0, path
        assert page.evaluate(SMALL_TARGETS) == [], path
        assert page.evaluate(SHORT_PRIMARY) == [], path
        assert f"{world.cm.display_name}, RN" in page.inner_text("main")
        assert_accessible(page, path)


@pytest.mark.parametrize(
    "viewport",
    [PHONE, {"width": 820, "height": 1180}, {"width": 1024, "height": 1366}],
    ids=["phone", "tablet-820", "tablet-1024"],
)
def test_the_audit_log_never_scrolls_sideways(live_server, new_page, signed_world, viewport):
    world, _ = signed_world
    secret = enrol_two_factor(world.auditor)
    page = new_page(viewport)
    sign_in(page, live_server.url, world.auditor, secret)
    page.goto(live_server.url + "/audit/?patient=hale")
    screenshot(page, f"field-ready-audit-{viewport['width']}")
    assert "Hale, Margaret" in page.inner_text("main")
    assert page.evaluate(SIDEWAYS) == 0
    table = page.locator("table.audit")
    assert table.evaluate("t => t.parentElement.scrollWidth - t.parentElement.clientWidth") == 0
    assert page.evaluate(SMALL_TARGETS) == []
    if viewport == PHONE:
        assert page.evaluate(SHORT_PRIMARY) == []
        assert_accessible(page, "audit log")


def test_the_instruments_page_fits_a_phone_and_shows_no_urn(live_server, new_page):
    world = build_world()
    secret = enrol_two_factor(world.admin)
    page = new_page(PHONE)
    sign_in(page, live_server.url, world.admin, secret)
    page.goto(live_server.url + "/instruments/")
    screenshot(page, "field-ready-instruments-phone")
    assert page.evaluate(SIDEWAYS) == 0
    assert page.evaluate(SMALL_TARGETS) == []
    assert page.evaluate(SHORT_PRIMARY) == []
    assert "urn:" not in page.inner_text("main")
    assert_accessible(page, "instruments")

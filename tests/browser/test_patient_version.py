"""The patient's version of the care plan in Chromium on a portrait tablet (768x1024): the nurse
opens it from the Care plan section, switches it to Spanish, prints it (print media hides the
header, banner, tabs and buttons) and downloads the PDF, named by the patient's initials.

axe-core checks the page in both languages. Screenshots (patient-version-*.png) and the PDF go
to the untracked screenshots/ folder like the other browser tests'."""

import pytest
from playwright.sync_api import Page, expect

from careway.core import audit
from careway.core.models import AuditEvent, Organization
from careway.toolkit.pdf import pdf_text
from tests.careplans.test_patient_version import DAY_PHONE, NIGHT_PHONE, make_plan
from tests.factories import build_world

from .conftest import SCREENSHOTS, assert_accessible, sign_in

pytestmark = pytest.mark.browser

PORTRAIT_TABLET = {"width": 768, "height": 1024}


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"patient-version-{name}.png"), full_page=True)


@pytest.fixture
def world_with_plan(transactional_db):
    world = build_world()
    Organization.objects.filter(pk=world.org.pk).update(
        phone=DAY_PHONE, after_hours_phone=NIGHT_PHONE
    )
    make_plan(world, audit.Actor(user=world.cm))
    return world


def test_the_nurse_shows_prints_and_downloads_the_version_in_spanish(
    live_server, new_page, world_with_plan
):
    world, base = world_with_plan, live_server.url
    page = new_page(PORTRAIT_TABLET)
    sign_in(page, base, world.cm)
    page.goto(f"{base}/patients/{world.patient.pk}/care-plan/")
    # The patient's own intervention on the plan's page: "Who: The patient".
    mine = page.locator(".plan-row", has_text="Weigh yourself every morning")
    expect(mine.locator("dd").first).to_have_text("The patient")
    mine.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "patient-version-plan-page.png"))
    page.get_by_role("link", name="For the patient (large print)").click()

    expect(page.get_by_role("heading", level=1, name="My care plan at home")).to_be_visible()
    body_size = page.locator(".patient-version li").first.evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    assert body_size >= 20
    # What the patient does is the first group, right after the goals.
    groups = page.locator(".pv-group h3")
    expect(groups.first).to_have_text("You")
    assert_accessible(page, "the patient's version in English")
    shot(page, "en")

    page.get_by_role("link", name="Español").click()
    expect(page.get_by_role("heading", level=2, name="Mis metas")).to_be_visible()
    expect(page.get_by_role("button", name="Imprimir")).to_be_visible()
    expect(page.locator(".pv-group h3").first).to_have_text("Usted")
    assert_accessible(page, "the patient's version in Spanish")
    shot(page, "es")

    page.emulate_media(media="print")
    for hidden in (".site-header", ".patient-banner", ".chart-nav", ".pv-controls"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.get_by_role("heading", level=2, name="Cuándo llamar")).to_be_visible()
    shot(page, "es-print")
    page.emulate_media(media="screen")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Descargar PDF").click()
    download = download_info.value
    assert download.suggested_filename.startswith("care-plan-MH-")
    assert download.suggested_filename.endswith("-es.pdf")
    saved = SCREENSHOTS / "patient-version-es.pdf"
    download.save_as(saved)
    text = " ".join(pdf_text(saved.read_bytes()).split())
    assert "Mis metas" in text and "Llame al 911 de inmediato si:" in text and DAY_PHONE in text
    assert AuditEvent.objects.filter(action="patient.export", actor_id=world.cm.pk).exists()

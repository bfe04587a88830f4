"""The physician's plan of care in Chromium at 1024x768: draft it from the Care plan section,
fill the CMS-485 form (a category code refused first, naming its row), send it by fax, download
the PDF, mark it signed; and a plan of care unsigned for 35 days, red on the card, on Today and
first on "Orders awaiting signature". axe-core checks the form, the card and the list.
Screenshots (poc-*.png, and the PDF's first page through pdftoppm when it is installed) go to the
untracked screenshots/ folder."""

import shutil
import subprocess
from datetime import timedelta

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from careway.careplans import plan_of_care
from careway.careplans.models import PlanOfCare
from careway.core import audit
from tests.careplans.poc_helpers import VALID_NPI, plan_with_orders, ready_draft
from tests.factories import build_world

from .conftest import SCREENSHOTS, assert_accessible, sign_in

pytestmark = pytest.mark.browser

SIZE = {"width": 1024, "height": 768}


def shot(page: Page, name: str):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"poc-{name}.png"), full_page=True)


def test_draft_fill_send_download_and_mark_signed(live_server, new_page):
    world = build_world()
    plan_with_orders(world)
    base = live_server.url
    page = new_page(SIZE)
    sign_in(page, base, world.cm)
    page.goto(f"{base}{reverse('chart_section', args=[world.patient.pk, 'care-plan'])}")
    card = page.locator(".poc-card")
    expect(card).to_contain_text("No plan of care yet")
    card.get_by_role("button", name="Draft the plan of care").click()
    expect(page.locator(".poc-form")).to_contain_text("Certification (start of care)")
    expect(page.locator("input[name=dx_code_0]")).to_have_value("I50.9")
    soc = world.patient.episodes.first().start_of_care
    page.locator("input[name=dx_code_1]").fill("E11")
    page.get_by_label("Certifying practitioner's name").fill("Dr. Ana Lopez")
    page.locator("select[name=practitioner_kind]").select_option("NP")
    page.get_by_label("NPI").fill(VALID_NPI)
    page.locator("[name=practitioner_address]").fill("400 Main St, Springfield, IL 62701")
    page.get_by_label("Date of the face-to-face encounter").fill(str(soc - timedelta(days=4)))
    page.get_by_label("Performed by").fill("Dr. Sam Hill, hospitalist")
    page.locator("select[name=face_to_face_kind]").select_option("MD")
    page.get_by_label("Findings related to the primary reason").fill(
        "Heart failure; breathless after 10 feet."
    )
    page.get_by_label("Yes, homebound").check()
    page.get_by_label("Why homebound").fill(
        "Needs a walker and a person to leave home (one); leaving is a taxing effort (two)."
    )
    page.get_by_label("Prognosis").select_option("fair")
    page.get_by_label("Endurance").check()
    page.get_by_label("Walker").check()
    page.get_by_label("Systolic blood pressure: High (mmHg)").fill("160")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.locator(".error-summary")).to_contain_text("Diagnosis 2: E11")
    assert_accessible(page, "plan of care form with an error")
    page.locator("input[name=dx_code_1]").fill("E11.9")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.locator(".poc-card")).to_contain_text("Draft")
    poc = PlanOfCare.objects.get()
    page.goto(f"{base}{reverse('careplans:plan_of_care_edit', args=[world.patient.pk, poc.pk])}")
    shot(page, "form")
    page.get_by_role("link", name="Back to plans of care").click()
    page.get_by_label("Fax").check()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".poc-card")).to_contain_text("Sent for signature")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the PDF").first.click()
    pdf_path = SCREENSHOTS / "poc-sent.pdf"
    download.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "2", str(pdf_path),
             str(SCREENSHOTS / "poc-pdf")],
            check=True,
        )  # fmt: skip
    page.get_by_role("button", name="Mark signed").click()
    expect(page.locator(".poc-card")).to_contain_text("Signed")
    assert PlanOfCare.objects.get().status == "signed"


def test_an_order_unsigned_for_35_days_is_red_everywhere(live_server, new_page):
    world = build_world()
    actor = audit.Actor(user=world.cm)
    poc = ready_draft(world, actor)
    sent_on = plan_of_care.agency_today(world.org.pk) - timedelta(days=35)
    plan_of_care.send_plan_of_care(actor, poc, "fax", poc.version, sent_on=sent_on)
    base = live_server.url
    page = new_page(SIZE)
    sign_in(page, base, world.cm)
    page.goto(f"{base}{reverse('chart_section', args=[world.patient.pk, 'care-plan'])}")
    overdue = page.locator(".poc-card .status-urgent")
    expect(overdue).to_have_text("Overdue 5 days")
    page.locator(".poc-card").scroll_into_view_if_needed()
    assert_accessible(page, "care plan with an overdue plan of care")
    shot(page, "card-overdue")
    page.goto(f"{base}{reverse('careplans:orders_awaiting')}")
    expect(page.locator("table .status-urgent").first).to_contain_text("Overdue 5 days")
    assert_accessible(page, "orders awaiting signature")
    shot(page, "awaiting")
    page.goto(f"{base}{reverse('today')}")
    expect(page.get_by_role("heading", name="Orders overdue for signature (1)")).to_be_visible()

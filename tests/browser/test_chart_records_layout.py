"""The chart's records on the devices a nurse carries (issue 16): on a phone, long medication and
condition names wrap, nothing clinical is cut off, the page never scrolls sideways, no list is a
scrolling region, and the row actions are targets a finger can hit."""

import pytest
from django.urls import reverse

from careway.core import audit
from careway.patients import services
from careway.patients.models import RXNORM, SNOMED
from tests.factories import build_world

from .conftest import PHONE, assert_accessible, sign_in

# How the pages look: the same on any database (tests/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.database_independent]

LONG_MEDICATIONS = (
    "insulin human, isophane 70 UNT/ML / Regular Insulin, Human 30 UNT/ML Injectable "
    "Suspension [Humulin]",
    "Nitroglycerin 0.4 MG/ACTUAT Mucosal Spray",
    "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet",
)
LONG_CONDITIONS = (
    "Chronic congestive heart failure (disorder)",
    "Chronic obstructive bronchitis with acute lower respiratory infection (disorder)",
)
SIZES = {"phone": PHONE, "tablet": {"width": 1024, "height": 1366}}

# Every cell of a record list, and the lists themselves: what they hold must fit them.
CLIPPED = """() => [...document.querySelectorAll(
    '.chart-body table, .chart-body table th, .chart-body table td, .chart-body .table-wrap')]
  // A header row hidden for sight on a phone (clipped, read by screen readers) is not cut off.
  .filter(e => !e.closest('thead') || getComputedStyle(e.closest('thead')).clip === 'auto')
  .filter(e => e.scrollWidth > e.clientWidth + 1
            || e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .map(e => e.textContent.trim().slice(0, 60))"""
SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
SMALL_ACTIONS = """() => [...document.querySelectorAll('.chart-body .row-actions .button')]
  .filter(e => e.getBoundingClientRect().height < 44).map(e => e.textContent.trim())"""


@pytest.fixture
def long_world():
    world = build_world()
    system = audit.Actor(user=None)
    for i, name in enumerate(LONG_MEDICATIONS):
        services.add_medication(
            system,
            world.patient,
            {
                "display": name,
                "code_system": RXNORM,
                "code": str(106892 + i),
                "dose": "18 units",
                "route": "under the skin",
                "frequency": "twice daily before breakfast and supper",
                "indication": "type 2 diabetes",
            },
        )
    for i, name in enumerate(LONG_CONDITIONS):
        services.add_condition(
            system,
            world.patient,
            {"display": name, "code_system": SNOMED, "code": str(88805009 + i)},
        )
    return world


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_long_names_wrap_and_nothing_is_cut_off(live_server, new_page, long_world, size):
    page = new_page(SIZES[size])
    sign_in(page, live_server.url, long_world.cm)
    for section, names in (("medications", LONG_MEDICATIONS), ("conditions", LONG_CONDITIONS)):
        url = reverse(
            "chart_section", kwargs={"patient_id": long_world.patient.pk, "section": section}
        )
        page.goto(live_server.url + url)
        for name in names:
            shown = name.replace(" (disorder)", "")
            assert page.get_by_text(shown, exact=False).first.is_visible()
        assert "(disorder)" not in page.content()
        assert page.evaluate(SIDEWAYS) <= 0, section
        assert page.evaluate(CLIPPED) == [], section
        if size == "phone":
            assert page.evaluate(SMALL_ACTIONS) == [], section
            assert_accessible(page, f"{section} on a phone")


def test_the_edit_and_status_pages_fit_a_phone_and_pass_axe(live_server, new_page, long_world):
    from careway.patients.models import Medication

    med = Medication.objects.filter(patient=long_world.patient).order_by("pk").first()
    page = new_page(PHONE)
    sign_in(page, live_server.url, long_world.cm)
    for name in ("medication_edit", "medication_status"):
        kwargs = {"patient_id": long_world.patient.pk, "record_id": med.pk}
        page.goto(live_server.url + reverse(name, kwargs=kwargs))
        assert page.evaluate(SIDEWAYS) <= 0, name
        assert_accessible(page, f"{name} on a phone")
    page.get_by_label("Entered in error", exact=False).check()
    page.get_by_role("button", name="Save").click()
    assert page.locator("#id_reason_error").is_visible()
    page.get_by_label("Reason").fill("Recorded on the wrong chart")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/medications/")
    page.locator("summary", has_text="Entered in error").click()
    assert page.get_by_text("Recorded on the wrong chart", exact=False).is_visible()
    assert_accessible(page, "medications with a record entered in error")

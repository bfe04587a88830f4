"""A start-of-care assessment in Chromium on a tablet (1024x1366), from an empty chart to the
signature: every section filled the way a nurse fills it (tapping answer cards, typing readings),
saved by the page's autosave, a reload halfway that loses nothing, a refused early signature that
lists what is missing, then the signature, the locked record and its scores on the chart.

axe-core checks the chart's Assessments page, a section, the overview and the amend page.
Screenshots (assessment-*.png) go to the untracked screenshots/ folder like the other browser
tests'; with CAREWAY_DOCS_SCREENSHOTS=1 they replace the ones in docs/screenshots/ instead (each
run draws new times and dates, so a plain test run leaves the committed pictures alone)."""

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Dialog, Page, Route, expect

from careway.assessments import services, template
from careway.assessments.models import Assessment
from careway.core import audit
from tests.factories import build_world

from .conftest import SCREENSHOTS, assert_accessible, sign_in

pytestmark = pytest.mark.browser

TABLET_PORTRAIT = {"width": 1024, "height": 1366}
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# Readings a nurse types, by the question's linkId; any other number gets its lowest allowed value.
NUMBERS = {
    "ed-visits": "1",
    "length-of-stay": "5",
    "charlson": "2",
    "systolic": "136",
    "diastolic": "82",
    "heart-rate": "78",
    "respiratory-rate": "18",
    "temperature": "98.4",
    "oxygen-saturation": "95",
    "oxygen-flow": "2",
    "weight": "168.4",
    "height": "64",
    "seconds": "14.5",
    "pain": "4",
    "comfort-goal": "2",
    "wound-count": "1",
    "caregiver-hours": "20",
}
TEXTS = {
    "reason": "Home after five days in hospital for heart failure; needs daily weights taught.",
    "primary-diagnosis": "Heart failure",
    "facility": "General Hospital",
    "wound-locations": "Left heel",
    "locations": "Lower back",
    "caregiver-name": "Ann Hale",
    "agent-name": "Ann Hale",
    "agent-contact": "937-555-0199",
    "language": "English",
}
# Which answer card to tap, by section and questionnaire (q0 is the section's first): the first
# card unless named here (Braden lists its worst first; the second best is a middling skin).
CHOICES = {("skin", "q1"): -2}
# Scores the answers above must give, as the overview and the chart show them.
EXPECTED_SCORES = (
    ("Katz Index of Independence in Activities of Daily Living", "6 of 6", "Full function"),
    ("Timed Up and Go (TUG)", "14.5", "Higher fall risk"),
    ("Pain intensity (0-10 numeric rating)", "4 of 10", "Moderate"),
    ("Braden Scale for predicting pressure injury risk", "17 of 23", "At risk"),
)

# Every question on the page that is shown and not answered yet, in page order.
UNANSWERED_JS = """
(form) => {
  const found = [];
  for (const item of form.querySelectorAll(".q-item")) {
    if (item.closest("[hidden]")) continue;
    if (item.matches("fieldset.q-choice")) {
      const options = [...item.querySelectorAll(".q-options > label.q-option > input")];
      if (options.length && !options.some((o) => o.checked)) {
        found.push({kind: options[0].type, name: options[0].name, ids: options.map((o) => o.id)});
      }
      continue;
    }
    for (const el of item.querySelectorAll("input, textarea")) {
      if (el.closest(".q-item") !== item || el.type === "hidden") continue;
      if (el.name.endsWith(":other") || el.hasAttribute("data-other-of")) continue;
      if (!el.value.trim()) {
        const kind = el.tagName === "TEXTAREA" ? "textarea" : el.type;
        found.push({kind, name: el.name, ids: [el.id], min: el.getAttribute("min")});
      }
    }
  }
  return found;
}
"""

# Autosave bookkeeping in the page: when the last answer changed, and each save request sent
# (htmx:beforeRequest) and answered. Read only; the page's own scripts are unchanged.
SAVE_WATCH_JS = """
window.__saves = {lastChange: 0, requests: []};
document.addEventListener("change", () => { window.__saves.lastChange = performance.now(); }, true);
document.addEventListener("htmx:beforeRequest", (e) => {
  e.detail.requestConfig.__watch = {sent: performance.now(), done: false};
  window.__saves.requests.push(e.detail.requestConfig.__watch);
});
document.addEventListener("htmx:afterRequest", (e) => {
  const watch = e.detail.requestConfig && e.detail.requestConfig.__watch;
  if (watch) { watch.done = true; watch.ok = e.detail.successful; }
});
"""
SAVED_AFTER_LAST_CHANGE_JS = """
() => {
  const s = window.__saves;
  return s.requests.some((r) => r.sent > s.lastChange && r.done)
    && s.requests.every((r) => r.done);
}
"""


@pytest.fixture
def empty_chart():
    """A patient with an open episode (start of care 12 days ago) and no assessment at all."""
    world = build_world()
    assert not Assessment.objects.exists()
    return world


def shot(page: Page, name: str, full_page: bool = True) -> Path:
    folder = DOCS_SCREENSHOTS if os.environ.get("CAREWAY_DOCS_SCREENSHOTS") == "1" else SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"assessment-{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


# --- filling a section the way a nurse does ----------------------------------------------------


class Entered:
    """What was put into each field, to look for after a reload: checked answer cards by input
    id, typed values by input id."""

    def __init__(self) -> None:
        self.checked: dict[str, list[str]] = {}
        self.typed: dict[str, dict[str, str]] = {}

    def expect_on(self, page: Page, section: str) -> None:
        checked, typed = self.checked.get(section, []), self.typed.get(section, {})
        assert checked or typed, f"nothing was entered on {section}"
        for input_id in checked:
            expect(page.locator(f'[id="{input_id}"]')).to_be_checked()
        for input_id, value in typed.items():
            expect(page.locator(f'[id="{input_id}"]')).to_have_value(value)


def link_id(name: str) -> str:
    return name.split("-", 1)[1]


def value_for(question: dict[str, Any], visit: Any) -> str:
    key = link_id(question["name"])
    if question["kind"] == "number":
        return NUMBERS.get(key, question["min"] or "0")
    if question["kind"] == "date":
        days_before = {"admission-date": 6, "discharge-date": 1}.get(key, 0)
        return (visit - timedelta(days=days_before)).isoformat()
    return TEXTS.get(key, "Talked through with the patient and her daughter at the visit.")


def answer(page: Page, section: str, question: dict[str, Any], entered: Entered) -> None:
    if question["kind"] in ("radio", "checkbox"):
        pick = CHOICES.get((section, question["name"].split("-", 1)[0]), 0)
        option = question["ids"][pick]
        page.locator(f'label[for="{option}"]').click()
        entered.checked.setdefault(section, []).append(option)
        return
    field = page.locator(f'[id="{question["ids"][0]}"]')
    value = value_for(question, timezone.localdate())
    field.fill(value)
    field.press("Tab")  # leaving the field is the change the page saves on
    entered.typed.setdefault(section, {})[question["ids"][0]] = value


def fill_section(page: Page, section: str, entered: Entered, limit: int | None = None) -> int:
    """Answer every question the page shows, then those the answers revealed, and so on; stop
    after `limit` answers when given. Returns how many were answered."""
    form = page.locator("form.assessment-form")
    count, seen = 0, set()
    while waiting := form.evaluate(UNANSWERED_JS):
        for question in waiting:
            if limit is not None and count >= limit:
                return count
            assert question["name"] not in seen, f"answered but still empty: {question}"
            seen.add(question["name"])
            answer(page, section, question, entered)
            count += 1
    return count


def wait_until_saved(page: Page) -> None:
    """The page's own saved state after the last change: a save sent after it has come back,
    none is still on its way, and the status line says when it saved."""
    page.wait_for_function(SAVED_AFTER_LAST_CHANGE_JS, timeout=10_000)
    status = page.locator("#save-status")
    expect(status).to_contain_text("Saved at")
    expect(status).not_to_have_class(re.compile("save-problem"))


# --- the test ---------------------------------------------------------------------------------


def test_start_of_care_from_an_empty_chart_to_signature(live_server, new_page, empty_chart):
    w, base = empty_chart, live_server.url
    sections = template.comprehensive().sections_for(Assessment.TimePoint.START_OF_CARE)
    keys = [s.key for s in sections]
    titles = {s.key: s.title for s in sections}
    halfway = len(sections) // 2  # the section reloaded halfway (Skin, 8 of 15)

    page = new_page(TABLET_PORTRAIT)
    page.add_init_script(SAVE_WATCH_JS)
    sign_in(page, base, w.cm)
    chart = f"{base}/patients/{w.patient.pk}/assessments/"
    page.goto(chart)
    expect(page.get_by_text("No assessments yet.")).to_be_visible()
    expect(page.get_by_label("Time point")).to_have_value("start-of-care")
    assert_accessible(page, "chart assessments, none yet")
    page.get_by_role("button", name="Start or resume assessment").click()
    page.wait_for_url(f"**/{keys[0]}/")

    entered = Entered()
    for position, key in enumerate(keys[:halfway], start=1):
        expect(page.get_by_role("heading", level=2)).to_have_text(titles[key])
        expect(page.get_by_text(f"Section {position} of {len(keys)}")).to_be_visible()
        assert fill_section(page, key, entered) > 0
        wait_until_saved(page)
        page.get_by_role("button", name="Save and continue →").click()
        page.wait_for_url(f"**/{keys[position]}/")

    # Halfway: some answers on this section, saved by the page alone, then a reload.
    key = keys[halfway]
    assert fill_section(page, key, entered, limit=5) == 5
    wait_until_saved(page)
    assert_accessible(page, f"section {titles[key]}, part answered")
    # The screen as the nurse sees it, from the top: a full-page capture would paint the sticky
    # save bar halfway down the picture.
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "section-midway", full_page=False)
    page.reload()
    expect(page.get_by_role("heading", level=2)).to_have_text(titles[key])
    entered.expect_on(page, key)
    steps = page.locator(".assessment-aside .assessment-steps")
    expect(steps.get_by_role("listitem").filter(has_text=titles[key])).to_contain_text(
        "required left"
    )
    for earlier in keys[:halfway]:
        steps.get_by_role("link", name=titles[earlier]).click()
        page.wait_for_url(f"**/{earlier}/")
        entered.expect_on(page, earlier)

    # Signing now is refused, with what is missing listed section by section.
    page.get_by_role("link", name="← Start of care assessment").click()
    expect(page.get_by_text(f"{halfway} of {len(keys)} sections complete")).to_be_visible()
    page.get_by_role("button", name="Sign assessment").click()
    problems = page.locator("#problems")
    expect(problems).to_contain_text("Not signed yet")
    listed = problems.get_by_role("listitem").all_inner_texts()
    for later in keys[halfway:]:
        assert any(item.startswith(f"{titles[later]}: ") for item in listed), later
    for done in keys[:halfway]:
        assert not any(item.startswith(f"{titles[done]}: ") for item in listed), done
    assert Assessment.objects.get().status == Assessment.Status.DRAFT

    # The rest of the sections, then the signature.
    page.locator(".assessment-steps").get_by_role("link", name=titles[key]).click()
    page.wait_for_url(f"**/{key}/")
    for position, key in enumerate(keys[halfway:], start=halfway + 1):
        expect(page.get_by_role("heading", level=2)).to_have_text(titles[key])
        fill_section(page, key, entered)
        wait_until_saved(page)
        if position < len(keys):
            page.get_by_role("button", name="Save and continue →").click()
            page.wait_for_url(f"**/{keys[position]}/")
    page.get_by_role("button", name="Save and review").click()
    page.wait_for_url(f"**/assessments/{Assessment.objects.get().pk}/")
    expect(page.get_by_text(f"{len(keys)} of {len(keys)} sections complete")).to_be_visible()
    page.get_by_role("button", name="Sign assessment").click()
    expect(page.get_by_role("status")).to_contain_text("Assessment signed")
    assessment = Assessment.objects.get()
    assert assessment.status == Assessment.Status.SIGNED and assessment.signed_by == w.cm

    # Locked: no signature button, no section to edit, scores with their bands.
    expect(page.locator(".section-head .status-ok")).to_contain_text("Signed")
    expect(page.get_by_role("button", name="Sign assessment")).to_have_count(0)
    shown = page.locator("table").filter(has_text="Instrument").locator("tbody tr").all()
    assert len(shown) >= len(EXPECTED_SCORES)
    for instrument, score, band in EXPECTED_SCORES:
        row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=instrument))
        expect(row.get_by_role("cell").first).to_contain_text(score)
        expect(row.locator(".status")).to_have_text(band)
    findings = page.locator("section").filter(has=page.get_by_role("heading", name="Findings"))
    expect(findings).to_contain_text("Timed Up and Go: Higher fall risk")
    assert_accessible(page, "overview, signed")
    shot(page, "overview-signed")
    page.goto(f"{base}/patients/{w.patient.pk}/assessments/{assessment.pk}/{keys[0]}/")
    expect(page.locator(".assessment-parts :is(input, textarea, select):enabled")).to_have_count(0)
    expect(page.locator(f'[id="{entered.checked[keys[0]][0]}"]')).to_be_disabled()
    expect(page.get_by_role("button", name="Save and continue →")).to_have_count(0)
    expect(page.get_by_text("This assessment is signed.")).to_be_visible()
    entered.expect_on(page, keys[0])

    page.goto(chart)
    listing = page.locator("section").filter(
        has=page.get_by_role("heading", name="Assessments (1)")
    )
    expect(listing.get_by_role("row").filter(has_text="Start of care")).to_contain_text("Signed")
    due = page.locator("section").filter(has=page.get_by_role("heading", name="Due by Medicare"))
    expect(due.get_by_role("row").filter(has_text="Start of care")).to_contain_text("signed")
    expect(page.get_by_text(f"{len(shown)} scores from signed assessments")).to_be_visible()
    for instrument, score, band in EXPECTED_SCORES:
        trend = page.locator("figure.trend").filter(has_text=instrument)
        expect(trend).to_contain_text(f"Latest {score}")
        expect(trend.locator(".status")).to_have_text(band)
        expect(trend.locator("svg")).to_be_visible()
    assert_accessible(page, "chart assessments, signed")
    shot(page, "chart-scores")

    page.goto(f"{base}/patients/{w.patient.pk}/assessments/{assessment.pk}/")
    page.get_by_role("link", name="Amend PHQ-2").click()
    expect(page.get_by_role("heading", name="Amend: PHQ-2")).to_be_visible()
    # The form holds the signed answers (the section's q1 inputs are named a- here).
    phq2 = [i for i in entered.checked["cognition-mood"] if i.startswith("id_q1-")]
    assert phq2
    for input_id in phq2:
        expect(page.locator(f'[id="{input_id.replace("id_q1-", "id_a-", 1)}"]')).to_be_checked()
    assert_accessible(page, "amend PHQ-2")


def test_leaving_while_an_answer_is_still_unsaved_asks_first(live_server, new_page, empty_chart):
    """An answer is sent 400 ms after the tap. Leaving the section before its save has come back
    (here the save is held on the way) asks first; staying lets it land, and then nothing asks."""
    w, base = empty_chart, live_server.url
    assessment = services.start_assessment(audit.Actor(user=w.cm), w.patient, "start-of-care")
    page = new_page(TABLET_PORTRAIT)
    page.add_init_script(SAVE_WATCH_JS)
    sign_in(page, base, w.cm)
    section = f"{base}/patients/{w.patient.pk}/assessments/{assessment.pk}/cognition-mood/"
    page.goto(section)

    held: list[Route] = []
    asked: list[str] = []

    def hold_saves(route: Route) -> None:
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()

    def stay(dialog: Dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.route(section, hold_saves)
    page.on("dialog", stay)
    phq2 = page.get_by_role("region", name="PHQ-2 depression screen")
    interest = phq2.get_by_role("group", name=re.compile("little interest or pleasure"))
    with page.expect_request(lambda request: request.method == "POST"):
        interest.get_by_text("Nearly every day").click()
    falls = page.locator(".assessment-steps").get_by_role("link", name="Falls")
    with page.expect_event("dialog"):
        falls.click()
    assert asked == ["beforeunload"]
    assert page.url == section  # the nurse stayed

    held[0].continue_()
    page.unroute(section)
    wait_until_saved(page)
    falls.click()
    page.wait_for_url("**/falls/")
    assert asked == ["beforeunload"]  # saved: leaving no longer asks
    page.goto(section)
    expect(interest.get_by_label("Nearly every day")).to_be_checked()

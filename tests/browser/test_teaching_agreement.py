"""Teaching and agreement in Chromium at tablet size (1024x768, landscape): a nurse records the
teaching of the heart failure zones to the patient with a teach-back that needs reinforcement
(the task for the next visit appears), then the patient signs the plan with a finger on the pad
(pointer events: drawn here with the mouse, as a touch would), Clear works, the signature comes
back on the plan as SVG, and after a new revision the plan asks for agreement again.

axe-core checks the teaching form, the agreement form and the plan. Screenshots (teach-*.png)
go to the untracked screenshots/ folder like the other browser tests'."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from careway.careplans import services
from careway.careplans.models import Agreement, TeachingRecord
from careway.core import audit
from careway.patients.models import Task
from tests.factories import build_world

from .conftest import SCREENSHOTS, assert_accessible, sign_in

pytestmark = pytest.mark.browser

LANDSCAPE_TABLET = {"width": 1024, "height": 768}


def shot(page: Page, name: str, full: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"teach-{name}.png"
    page.screenshot(path=str(path), full_page=full)
    return path


def show(page: Page, selector: str) -> None:
    """Scroll `selector` to just under the patient banner, which stays on screen."""
    page.evaluate(
        """(selector) => {
            const banner = document.querySelector('.patient-banner, .banner');
            const below = banner ? banner.getBoundingClientRect().height + 8 : 8;
            const top = document.querySelector(selector).getBoundingClientRect().top;
            window.scrollBy(0, top - below);
        }""",
        selector,
    )


def draw(page: Page, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw strokes on the pad, each point as a fraction of its shown width and height."""
    box = page.locator("canvas[data-signature-pad]").bounding_box()
    assert box is not None
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=6)
        page.mouse.up()


NAME = [
    [(0.06, 0.7), (0.1, 0.3), (0.14, 0.7), (0.18, 0.3), (0.22, 0.7)],
    [(0.28, 0.55), (0.34, 0.35), (0.4, 0.6), (0.46, 0.4), (0.52, 0.62), (0.6, 0.45)],
    [(0.66, 0.5), (0.8, 0.52), (0.92, 0.4)],
]


@pytest.fixture
def world(transactional_db):
    w = build_world()
    actor = audit.Actor(user=w.cm)
    plan = services.start_plan(actor, w.patient)
    problem = services.add_problem(actor, plan, {"text": "Heart failure: fluid overload"})
    services.add_goal(
        actor,
        plan,
        {
            "patient_words": "I want to know when to call the nurse",
            "description": "Says back the heart failure zones and what to do in each",
            "problem": problem.pk,
            "teaching_topic": "heart-failure-zones",
        },
    )
    services.add_intervention(
        actor,
        plan,
        {
            "kind": "teach",
            "text": "Teach the heart failure zones with the handout",
            "discipline": "RN",
            "at_visits_of": "RN",
            "teaching_topic": "heart-failure-zones",
        },
    )
    services.set_frequency(actor, plan, {"discipline": "RN", "frequency": "3w1, 2w4"})
    w.extra["plan"] = plan
    return w


def test_teaching_with_teach_back_and_a_drawn_signature(live_server, new_page, world):
    page = new_page(LANDSCAPE_TABLET)
    sign_in(page, live_server.url, world.cm)
    page.goto(f"{live_server.url}/patients/{world.patient.pk}/care-plan/")
    expect(page.get_by_text("Needs the patient's agreement")).to_be_visible()
    expect(page.locator("#agreement")).to_contain_text("Not yet agreed")
    shot(page, "plan-needs-agreement", full=False)
    page.goto(f"{live_server.url}/patients/{world.patient.pk}/care-plan/teaching/new/")

    # Record the teaching, with the teach-back as one of three large choices.
    page.get_by_label("Topic").select_option("heart-failure-zones")
    page.get_by_label("Explained").check()
    page.get_by_label("Handout given").check()
    page.locator("label.result-needs-reinforcement").click()
    page.get_by_label("Notes").fill("Mixed up the yellow and red zones. Go over them again.")
    assert_accessible(page, "teaching form")
    shot(page, "form")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "form-top", full=False)
    show(page, ".methods")
    shot(page, "form-teach-back", full=False)
    page.get_by_role("button", name="Record teaching").click()
    expect(page.get_by_text("Teaching recorded: Heart failure: know your zones")).to_be_visible()
    record = TeachingRecord.objects.get()
    assert record.result == "needs-reinforcement" and record.explained and record.handout_given
    task = Task.objects.get(pk=record.follow_up_id)
    assert task.status == "open"
    teaching_card = page.locator("#teaching")
    expect(teaching_card).to_contain_text("Needs reinforcement")
    expect(teaching_card).to_contain_text("Task due")

    # The plan says it needs the patient's agreement; the patient signs with a finger.
    expect(page.get_by_text("Needs the patient's agreement")).to_be_visible()
    page.get_by_role("link", name="Record agreement").click()
    draw(page, [[(0.3, 0.5), (0.31, 0.5)]])
    page.get_by_role("button", name="Clear the signature").click()
    assert page.locator("#id_signature").input_value() == ""
    draw(page, NAME)
    assert page.locator("#id_signature").input_value().startswith("[[[")
    expect(page.get_by_label("Signature drawn on the tablet")).to_be_checked()
    assert_accessible(page, "agreement form")
    shot(page, "agreement-form")
    show(page, "[data-signature-field]")
    shot(page, "agreement-form-signed", full=False)
    page.get_by_role("button", name="Record agreement to revision").click()
    agreement = Agreement.objects.get()
    assert agreement.method == "signature" and len(agreement.signature) == 3
    card = page.locator("#agreement")
    expect(card).to_contain_text("Agreed to revision")
    expect(card.locator("svg.signature path")).to_have_count(3)
    assert_accessible(page, "plan with teaching and agreement")
    shot(page, "plan")
    show(page, "#agreement")
    shot(page, "plan-agreement-card", full=False)
    show(page, "#interventions-h")
    shot(page, "plan-intervention-teach-back", full=False)
    show(page, "#teaching")
    shot(page, "plan-teaching-card", full=False)

    # A new revision asks again.
    services.add_problem(audit.Actor(user=world.cm), world.extra["plan"], {"text": "Falls risk"})
    page.reload()
    expect(page.locator("#agreement")).to_contain_text("Ask again")
    expect(page.locator("#agreement")).to_contain_text("Problem added: Falls risk")
    show(page, ".plan-head")
    shot(page, "plan-ask-again", full=False)

    # Portrait tablet: the teach-back choices and the pad still fit.
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto(f"{live_server.url}/patients/{world.patient.pk}/care-plan/agreement/new/")
    show(page, "[data-signature-field]")
    shot(page, "agreement-form-portrait", full=False)
    page.goto(f"{live_server.url}/patients/{world.patient.pk}/care-plan/teaching/new/")
    show(page, ".methods")
    shot(page, "form-portrait", full=False)

"""Care plan suggestions in Chromium on a tablet (1024x1366, as the care plan flow): a heart
failure patient whose start-of-care assessment is signed with a high fall risk (MAHC-10 of 6) and
food insecurity (both AHC HRSN food questions "sometimes true").

The case manager opens the Care plan tab, sees what the chart suggests, and reads each group's
reasons (the condition, the MAHC-10 total and its day, the food finding); accepts three (a goal
edited first into the patient's own words, an intervention in one tap, the heart failure problem)
and rejects one with a reason. The plan then holds those rows and the problem the goal brought
with it; the rejected one is listed with its reason and stays out of the open list on a reload.
Then the plan's review falls due and is recorded from the plan's head.

axe-core checks the suggestions, the edit and reject forms and the plan. Screenshots
(careplan-suggestions-*.png) go to the untracked screenshots/ folder like the other browser
tests'."""

import re
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from careway.assessments import catalog, template
from careway.assessments import services as assessment_services
from careway.assessments.models import Response
from careway.assessments.services import SectionAnswers
from careway.careplans import services as plan_services
from careway.careplans.models import CarePlan, Goal, Intervention, Problem, Suggestion
from careway.core import audit
from careway.patients import services as patient_services
from tests.assessments import fill
from tests.assessments.test_services import fill_everything, section_of
from tests.factories import build_world

from .conftest import PHONE, SCREENSHOTS, assert_accessible, sign_in

pytestmark = pytest.mark.browser

TABLET_PORTRAIT = {"width": 1024, "height": 1366}
SNOMED = "http://snomed.info/sct"
PATIENT_WORDS = "I want to walk to church on Sunday without being afraid of falling"
REJECT_REASON = "No hospital stay: she was referred from her physician's office, not a discharge"


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"careplan-suggestions-{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # the sticky banner is drawn where it belongs
    page.screenshot(path=str(path), full_page=True)
    return path


def answer(actor, assessment, questionnaire_id: str, chosen: dict[str, int], choice: int = 0):
    """Save again the section that holds the instrument: its items answered with the option at
    `choice` (the first is the least need), those in `chosen` with the option at that index;
    the section's other instruments with their first options."""
    section = section_of(questionnaire_id)
    parts = next(s.parts for s in template.comprehensive().sections if s.key == section)
    saved = []
    for part in parts:
        questionnaire = catalog.shipped_by_id(part.questionnaire)
        answers = fill.answers(
            questionnaire, choice if part.questionnaire == questionnaire_id else 0
        )
        for item in fill.items_of(questionnaire):
            if part.questionnaire == questionnaire_id and item["linkId"] in chosen:
                answers[item["linkId"]] = [fill.answer_for(item, chosen[item["linkId"]])]
        version = Response.objects.get(
            assessment=assessment, section=section, questionnaire_url=questionnaire["url"]
        ).version
        saved.append(SectionAnswers(questionnaire["url"], answers, version))
    assessment_services.save_section(actor, assessment, section, saved)


MAHC_SIX_YES = dict.fromkeys(("age", "diagnoses", "falls", "incontinence", "vision", "mobility"), 1)
SOMETIMES_SHORT_OF_FOOD = {"food-worry": 1, "food-ran-out": 1}  # "Sometimes true"


@pytest.fixture
def assessed():
    """Heart failure on the chart, and a signed start-of-care assessment that found a high fall
    risk (MAHC-10 total 6) and food insecurity, and nothing else a template answers."""
    world = build_world()
    actor = audit.Actor(user=world.cm)
    with timezone.override(ZoneInfo(world.org.timezone)):
        patient_services.add_condition(
            actor,
            world.patient,
            {"code_system": SNOMED, "code": "84114007", "display": "Heart failure (disorder)"},
        )
        assessment = assessment_services.start_assessment(actor, world.patient, "start-of-care")
        fill_everything(world, assessment, choice=0)
        answer(actor, assessment, "mahc-10", MAHC_SIX_YES)
        answer(actor, assessment, "ahc-hrsn", SOMETIMES_SHORT_OF_FOOD)
        # The first option of these is the worst: a normal Mini-Cog and a Braden of no risk.
        answer(actor, assessment, "mini-cog", {}, choice=-1)
        answer(actor, assessment, "braden-scale", {}, choice=-1)
        assessment.refresh_from_db()
        assessment_services.sign_assessment(actor, assessment, assessment.version)
    return world


def suggestion(world, item: str) -> Suggestion:
    return Suggestion.objects.get(patient=world.patient, item=item)


def agency_today(world) -> date:
    return timezone.localdate(timezone=ZoneInfo(world.org.timezone))


def test_suggestions_from_a_signed_assessment_are_accepted_edited_and_rejected(
    live_server, new_page, assessed
):
    w, base = assessed, live_server.url
    templates = set(
        Suggestion.objects.filter(patient=w.patient, preventive=False).values_list(
            "template", flat=True
        )
    )
    assert templates == {"heart-failure", "fall-risk", "food-insecurity"}
    page = new_page(TABLET_PORTRAIT)
    sign_in(page, base, w.cm)

    # The Care plan tab: no plan yet, and what the chart suggests.
    page.goto(f"{base}{reverse('chart', args=[w.patient.pk])}")
    page.locator(".chart-nav").get_by_role("link", name="Care plan").click()
    expect(page.get_by_role("heading", name="No care plan yet")).to_be_visible()
    card = page.locator("section.suggestions-card")
    expect(card.get_by_role("heading", name="Suggested from the chart")).to_be_visible()
    open_plan_rows = Suggestion.objects.filter(
        patient=w.patient, status="open", preventive=False
    ).count()
    expect(card).to_contain_text(f"{open_plan_rows} suggestions for the plan")
    shot(page, "chart-card")
    card.get_by_role("link", name="Review suggestions").click()
    expect(page.get_by_role("heading", name="Suggestions for the care plan")).to_be_visible()

    # Each group, with reasons that name their evidence.
    day = agency_today(w).isoformat()
    expected = {
        "Heart failure": "Heart failure (SNOMED CT 84114007) is on the chart",
        "Fall risk": f"MAHC-10 total is 6, at or above 4, on {day}",
        "Food insecurity": "Food insecurity: worried food would run out (sometimes true)",
    }
    for title, reason in expected.items():
        group = page.locator("section.suggestion-group").filter(
            has=page.get_by_role("heading", name=re.compile(rf"^{title}"))
        )
        expect(group).to_have_count(1)
        problem = group.locator("li.suggestion").first
        expect(problem.locator(".tag")).to_have_text("Problem")
        expect(problem.locator(".why")).to_contain_text(reason)
    assert "SNOMED CT tag" not in page.content()
    expect(page.get_by_text("(disorder)")).to_have_count(0)
    assert_accessible(page, "suggestions")
    shot(page, "list")

    # 1. A goal, edited first into the patient's own words.
    goal_row = suggestion(w, "fall-no-falls")
    page.locator(f"#suggestion-{goal_row.pk}").get_by_role(
        "link", name=re.compile("^Edit, then accept")
    ).click()
    expect(page.get_by_role("heading", name="Accept a suggestion")).to_be_visible()
    expect(page.locator(".why")).to_contain_text(f"MAHC-10 total is 6, at or above 4, on {day}")
    words = page.get_by_label("In the patient's words")
    expect(page.get_by_text("What would you like to be able to do again")).to_be_visible()
    words.fill(PATIENT_WORDS)
    assert_accessible(page, "accept a goal, edited")
    shot(page, "edit-goal")
    page.get_by_role("button", name="Add to the plan").click()
    expect(page.get_by_text("Added to the care plan: No falls in the next 60 days")).to_be_visible()
    goal = Goal.objects.get(patient=w.patient)
    assert goal.patient_words == PATIENT_WORDS
    assert goal.description == "No falls in the next 60 days"

    # 2. An intervention as suggested, in one tap: it goes under the goal just accepted.
    check_row = suggestion(w, "fall-orthostatic")
    page.locator(f"#suggestion-{check_row.pk}").get_by_role(
        "button", name=re.compile("^Accept")
    ).click()
    expect(page.get_by_text(f"Added to the care plan: {check_row.text}")).to_be_visible()
    expect(page.locator(f"#suggestion-{check_row.pk}")).to_have_count(0)

    # 3. The heart failure problem, as suggested.
    hf_row = suggestion(w, "hf")
    page.locator(f"#suggestion-{hf_row.pk}").get_by_role(
        "button", name=re.compile("^Accept")
    ).click()
    expect(page.get_by_text(f"Added to the care plan: {hf_row.text}")).to_be_visible()

    # One rejected, with the reason.
    follow_up = suggestion(w, "hf-follow-up")
    page.locator(f"#suggestion-{follow_up.pk}").get_by_role(
        "link", name=re.compile("^Reject")
    ).click()
    expect(page.get_by_role("heading", name="Reject a suggestion")).to_be_visible()
    page.get_by_label("Why it does not fit this patient").fill(REJECT_REASON)
    assert_accessible(page, "reject a suggestion")
    shot(page, "reject")
    page.get_by_role("button", name="Reject", exact=True).click()
    expect(page.get_by_text(f"Rejected: {follow_up.text}")).to_be_visible()

    rejected = page.locator("section[aria-labelledby=rejected-h]")
    rejected.locator("summary").click()
    expect(rejected.locator(f"#suggestion-{follow_up.pk}")).to_contain_text(REJECT_REASON)
    expect(page.locator(".suggestion-group").locator(f"#suggestion-{follow_up.pk}")).to_have_count(
        0
    )
    # Three accepted, and the fall risk problem the goal brought with it.
    expect(page.get_by_text("4 suggestions accepted so far", exact=False)).to_be_visible()
    assert_accessible(page, "suggestions after deciding")
    shot(page, "decided")

    # A reload (the listener runs again on any new evidence): still rejected, still listed.
    plan_services.refresh_suggestions(audit.Actor(user=w.cm), [w.patient.pk])
    page.reload()
    expect(page.locator(".suggestion-group").locator(f"#suggestion-{follow_up.pk}")).to_have_count(
        0
    )
    expect(rejected).to_contain_text("Rejected (1)")
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.decision_reason) == ("rejected", REJECT_REASON)

    # The plan: the three rows accepted and the problem the goal brought with it.
    page.get_by_role("link", name="Back to the care plan").click()
    plan = CarePlan.objects.get(patient=w.patient)
    problems = {p.text for p in Problem.objects.filter(plan=plan)}
    assert problems == {"At risk for falls", hf_row.text}
    intervention = Intervention.objects.get(plan=plan)
    assert (intervention.text, intervention.goal_id) == (check_row.text, goal.pk)
    plan_problems = page.locator("section[aria-labelledby=problems-h] .row-title")
    expect(plan_problems).to_have_count(2)
    expect(page.locator("section[aria-labelledby=goals-h]")).to_contain_text(PATIENT_WORDS)
    expect(page.locator("section[aria-labelledby=interventions-h]")).to_contain_text(check_row.text)
    assert_accessible(page, "care plan from suggestions")
    shot(page, "plan")

    # The review falls due: recorded from the plan's head.
    plan_services.update_plan(
        audit.Actor(user=w.cm), plan, {"review_due": agency_today(w)}, plan.version
    )
    page.reload()
    review = page.locator("form.review-form")
    expect(review.get_by_role("button", name="Record the review")).to_be_visible()
    review.get_by_label("What the review with the patient found or changed").fill(
        "Went through the plan with her and her daughter; no changes."
    )
    assert_accessible(page, "care plan with its review due")
    shot(page, "review-due")
    review.get_by_role("button", name="Record the review").click()
    expect(page.get_by_text("Plan review recorded. The next review is due")).to_be_visible()
    expect(page.locator("form.review-form")).to_have_count(0)
    plan.refresh_from_db()
    assert plan.reviewed_at is not None and plan.review_due > agency_today(w)

    # What is left to decide, on a phone: one column, nothing past the window's edge.
    page.set_viewport_size(PHONE)
    page.goto(f"{base}{reverse('careplans:suggestions', args=[w.patient.pk])}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "phone")

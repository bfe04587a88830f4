"""The suggestions page and the plan review: a team member sees each suggestion with its reasons
and accepts it (as is, or edited into the patient's words) or rejects it with a reason; a
read-only member reads but cannot decide; everyone else gets 404. Plans fall due for review at a
hospital stay, an urgent flag or a resumption of care, and a review moves the date on."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from careway.careplans import services
from careway.careplans.models import CarePlan, Goal, Intervention, Suggestion
from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients import services as patient_services
from tests.factories import make_patient

pytestmark = pytest.mark.django_db

SNOMED = "http://snomed.info/sct"


@pytest.fixture(autouse=True)
def _agency_days(world):
    with timezone.override(ZoneInfo(world.org.timezone)):
        yield


@pytest.fixture
def actor(world):
    return audit.Actor(user=world.cm)


@pytest.fixture
def suggested(world, actor):
    patient_services.add_condition(
        actor,
        world.patient,
        {"code_system": SNOMED, "code": "84114007", "display": "Heart failure (disorder)"},
    )
    return Suggestion.objects.filter(patient=world.patient, template="heart-failure")


def url(name, patient, *args):
    return reverse(f"careplans:{name}", args=[patient.pk, *args])


def section(patient):
    return reverse("chart_section", args=[patient.pk, "care-plan"])


def test_the_care_plan_section_says_how_many_are_suggested(login, world, suggested):
    text = login(world.cm).get(section(world.patient)).content.decode()
    count = Suggestion.objects.filter(patient=world.patient, status="open", preventive=False)
    assert "Suggested from the chart" in text
    assert f"{count.count()} suggestions for the plan" in text
    assert url("suggestions", world.patient) in text


def test_the_list_shows_each_suggestion_with_its_reasons_and_is_audited(login, world, suggested):
    response = login(world.cm).get(url("suggestions", world.patient))
    text = response.content.decode()
    assert response.status_code == 200
    assert "Heart failure (SNOMED CT 84114007) is on the chart" in text
    for row in suggested:
        assert row.text in text.replace("&#x27;", "'")
    assert "Preventive care due" in text
    event = AuditEvent.objects.filter(actor_id=world.cm.pk).latest("seq")
    assert event.action == "patient.view" and event.detail["page"] == "suggestions"


def test_a_quick_accept_puts_the_row_in_a_new_draft_plan(login, world, suggested):
    row = suggested.filter(kind="intervention").first()
    response = login(world.cm).post(url("suggestion_accept", world.patient, row.pk), {"quick": "1"})
    assert response.status_code == 302
    plan = CarePlan.objects.get(patient=world.patient)
    assert plan.status == "draft"
    assert Intervention.objects.filter(plan=plan, text=row.text).exists()
    row.refresh_from_db()
    assert row.status == "accepted"


def test_edit_then_accept_keeps_the_patients_words(login, world, suggested):
    row = suggested.filter(kind="goal").first()
    client = login(world.cm)
    form = client.get(url("suggestion_accept", world.patient, row.pk)).content.decode()
    assert "In the patient" in form and row.text in form.replace("&#x27;", "'")
    response = client.post(
        url("suggestion_accept", world.patient, row.pk),
        {
            "description": row.text,
            "patient_words": "I want to dance at my granddaughter's wedding",
            "due_date": "",
            "reason": "",
        },
    )
    assert response.status_code == 302
    goal = Goal.objects.get(plan__patient=world.patient)
    assert goal.patient_words == "I want to dance at my granddaughter's wedding"


def test_a_bad_edit_names_the_field_and_keeps_what_was_typed(login, world, suggested):
    row = suggested.filter(kind="goal").first()
    response = login(world.cm).post(
        url("suggestion_accept", world.patient, row.pk),
        {"description": "", "patient_words": "Walk to the mailbox", "due_date": "not a day"},
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert "Walk to the mailbox" in text
    assert "Due" in text and "Goal" in text
    assert not CarePlan.objects.filter(patient=world.patient).exists()


def test_rejecting_needs_a_reason_and_keeps_it(login, world, suggested):
    row = suggested.filter(kind="problem").first()
    client = login(world.cm)
    address = url("suggestion_reject", world.patient, row.pk)
    response = client.post(address, {"reason": ""})
    assert response.status_code == 422
    assert "Why it does not fit this patient" in response.content.decode()
    response = client.post(
        address, {"reason": "Heart failure is managed by the cardiology program"}
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.status, row.decision_reason) == (
        "rejected",
        "Heart failure is managed by the cardiology program",
    )
    text = client.get(url("suggestions", world.patient)).content.decode()
    assert 'Rejected <span class="sub">(1)</span>' in text and "cardiology program" in text


def pages(world, row):
    return {
        "suggestions": url("suggestions", world.patient),
        "suggestion_accept": url("suggestion_accept", world.patient, row.pk),
        "suggestion_reject": url("suggestion_reject", world.patient, row.pk),
        "review": url("review", world.patient),
    }


def test_a_read_only_member_reads_the_suggestions_but_cannot_decide(login, world, suggested):
    row = suggested.first()
    client = login(world.scheduler)
    for name, address in pages(world, row).items():
        expected = 200 if name == "suggestions" else 403
        assert client.get(address).status_code == expected, name
        assert client.post(address, {"quick": "1", "reason": "x", "note": "x"}).status_code in (
            403,
        ), name
    row.refresh_from_db()
    assert row.status == "open"
    assert not CarePlan.objects.filter(patient=world.patient).exists()


@pytest.mark.parametrize("who", ["cm_other", "outsider", "auditor"])
def test_everyone_else_gets_404_on_every_page_and_post(login, world, suggested, who):
    row = suggested.first()
    client = login(getattr(world, who))
    for name, address in pages(world, row).items():
        assert client.get(address).status_code == 404, name
        assert client.post(address, {"quick": "1", "reason": "x"}).status_code == 404, name
    row.refresh_from_db()
    assert row.status == "open"


def test_a_suggestion_of_another_patient_is_404(login, world, actor, suggested):
    other = make_patient(world.branch, world.cm, mrn="MRN-OTHER")
    row = suggested.first()
    response = login(world.cm).post(url("suggestion_accept", other, row.pk), {"quick": "1"})
    assert response.status_code == 404


# --- plan reviews ------------------------------------------------------------------------------


def at(day, hour=10):
    return timezone.make_aware(datetime.combine(day, time(hour)))


def test_a_hospital_stay_brings_the_review_forward_and_a_review_moves_it_on(login, world, actor):
    plan = services.start_plan(actor, world.patient)
    first_due = plan.review_due
    today = timezone.localdate()
    assert first_due > today
    patient_services.add_encounter(
        actor,
        world.patient,
        {
            "kind": "IMP",
            "type_display": "Hospital admission",
            "period_start": at(today - timedelta(days=1)),
            "reason": "Heart failure exacerbation",
        },
    )
    plan.refresh_from_db()
    assert plan.review_due == today - timedelta(days=1)
    assert plan.review_reason == f"Hospital stay from {(today - timedelta(days=1)).isoformat()}"
    assert AuditEvent.objects.filter(action="careplan.review_due", patient_id=world.patient.pk)
    client = login(world.cm)
    text = client.get(section(world.patient)).content.decode()
    assert "Hospital stay from" in text and "Record the review" in text
    today_page = client.get(reverse("today")).content.decode()
    assert "Care plan review" in today_page and "Hospital stay from" in today_page
    response = client.post(url("review", world.patient), {"note": "", "version": plan.version})
    plan.refresh_from_db()
    assert plan.reviewed_at is None  # a review needs a note
    response = client.post(
        url("review", world.patient),
        {"note": "Reviewed after discharge; diuretic dose changed", "version": plan.version},
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.reviewed_at is not None and plan.review_due == first_due
    assert plan.revisions.filter(summary="Plan reviewed with the patient").exists()
    # The stay was before the review: it does not bring the review forward again.
    services.bring_reviews_forward(actor, [world.patient.pk])
    plan.refresh_from_db()
    assert plan.review_due == first_due


def test_a_new_urgent_flag_makes_the_plan_due_that_day(world, actor):
    plan = services.start_plan(actor, world.patient)
    patient_services.raise_flag(
        actor,
        world.patient,
        {"kind": "self-harm-risk", "label": "Thoughts of self-harm", "severity": "urgent"},
    )
    plan.refresh_from_db()
    assert plan.review_due == timezone.localdate()
    assert plan.review_reason.startswith("New urgent flag on ")
    assert plan.review_reason.endswith("Thoughts of self-harm")


def test_the_next_recertification_review_falls_every_sixty_days(world, actor):
    plan = services.start_plan(actor, world.patient)
    episode = plan.episode
    start = episode.start_of_care
    assert services.next_recertification(episode, start) == start + timedelta(days=55)
    assert services.next_recertification(episode, start + timedelta(days=55)) == start + timedelta(
        days=115
    )
    assert services.next_recertification(episode, start + timedelta(days=200)) == start + timedelta(
        days=235
    )


def test_the_caseload_says_how_many_are_suggested_and_sorts_by_it(login, world, suggested):
    other = make_patient(world.branch, world.cm, mrn="MRN-NONE", birth_date=datetime(1990, 1, 1))
    plan_rows = Suggestion.objects.filter(patient=world.patient, status="open", preventive=False)
    gaps = Suggestion.objects.filter(patient=world.patient, status="open", preventive=True)
    client = login(world.cm)
    text = client.get(reverse("caseload")).content.decode()
    assert f"{plan_rows.count()} suggested · {gaps.count()} preventive gaps" in text
    ordered = client.get(reverse("caseload") + "?sort=suggestions").content.decode()
    assert ordered.index(
        world.patient.family_name + ", " + world.patient.given_name
    ) < ordered.index(other.family_name + ", " + other.given_name)


def test_looking_for_significant_changes_reads_in_a_fixed_number_of_queries(world, actor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    patients = [world.patient] + [
        make_patient(world.branch, world.cm, mrn=f"MRN-REVIEW-{n}") for n in range(3)
    ]
    for patient in patients:
        services.start_plan(actor, patient)
    with CaptureQueriesContext(connection) as one:
        services.bring_reviews_forward(actor, [patients[0].pk])
    with CaptureQueriesContext(connection) as four:
        services.bring_reviews_forward(actor, [p.pk for p in patients])
    assert len(four) == len(one)

"""The care plan pages: the chart's Care plan section, the forms that build and revise a plan,
tasks from interventions, revisions; the three access tests on every page and every POST,
audited reads, conflicts, bad input named, and a plan page whose queries do not grow with it."""

import zoneinfo
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from careway.careplans import services
from careway.careplans.models import CarePlan, DisciplineFrequency, Goal, Intervention, Problem
from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients import services as patient_services
from careway.patients.models import PastGoal, Task

pytestmark = pytest.mark.django_db

SECTION = "care-plan"


@pytest.fixture
def actor(world):
    return audit.Actor(user=world.cm)


@pytest.fixture
def plan(world, actor):
    return services.start_plan(actor, world.patient)


def build(actor, plan, n=1):
    """n of each part: a problem, a goal on it, an intervention toward it; and one frequency."""
    for i in range(n):
        problem = services.add_problem(actor, plan, {"text": f"Fluid overload {i}"})
        goal = services.add_goal(
            actor,
            plan,
            {
                "patient_words": f"Keep my ankles from swelling {i}",
                "description": f"Weight within 2 lb of dry weight {i}",
                "problem": problem.pk,
                "measure": "weight",
                "target_low": 163,
                "target_high": 167,
            },
        )
        services.add_intervention(
            actor,
            plan,
            {
                "kind": "teach",
                "text": f"Teach daily weights {i}",
                "discipline": "RN",
                "at_visits_of": "RN",
                "frequency": "PRN x2 for dyspnea",
                "goal": goal.pk,
            },
        )
    if not DisciplineFrequency.objects.filter(plan=plan, discipline="RN").exists():
        services.set_frequency(actor, plan, {"discipline": "RN", "frequency": "3w1, 2w4"})


def section(patient):
    return reverse("chart_section", args=[patient.pk, SECTION])


def url(name, patient, *args):
    return reverse(f"careplans:{name}", args=[patient.pk, *args])


# --- the chart section ---------------------------------------------------------------------------


def test_no_plan_says_what_to_do_and_offers_to_start_it(login, world):
    text = login(world.cm).get(section(world.patient)).content.decode()
    assert "No care plan yet" in text and "Start the care plan" in text
    assert url("start", world.patient) in text
    assert "Plans from other settings (history)" in text


def test_a_read_only_member_sees_no_start_button(login, world):
    text = login(world.scheduler).get(section(world.patient)).content.decode()
    assert "No care plan yet" in text
    assert url("start", world.patient) not in text


def test_starting_the_plan(login, world):
    client = login(world.cm)
    response = client.post(url("start", world.patient))
    assert response.status_code == 302
    plan = CarePlan.objects.get(patient=world.patient)
    assert plan.status == CarePlan.Status.DRAFT and plan.revision == 1


def test_the_section_shows_the_plan_and_its_parts_and_is_audited(login, world, actor, plan):
    build(actor, plan)
    patient_services.add_contact(
        actor, world.patient, {"name": "June Hale", "relationship": "child"}
    )
    caregiver = world.patient.contacts.get()
    services.add_intervention(
        actor, plan, {"kind": "perform", "text": "Weigh each morning", "caregiver": caregiver.pk}
    )
    text = login(world.cm).get(section(world.patient)).content.decode()
    assert "Draft" in text and "Revision" in text and "Review due" in text
    assert "Fluid overload 0" in text
    assert "“Keep my ankles from swelling 0”" in text
    # The patient's words come before the measurable goal.
    assert text.index("Keep my ankles from swelling 0") < text.index("Weight within 2 lb")
    assert "Body weight: 163" in text  # the target in words
    assert "status-info" in text and "In progress" in text
    assert "Teach daily weights 0" in text and "Registered nurse" in text
    assert "Up to two" in text or "up to two" in text  # the intervention's own PRN, in words
    assert "3w1, 2w4" in text and "Three times a week for one week" in text
    assert "June Hale" in text and "Family caregiver" in text  # joined the team
    read = AuditEvent.objects.filter(action="patient.view", actor_id=world.cm.pk).latest("seq")
    assert read.detail["section"] == SECTION


def test_a_worsening_goal_shows_the_word_on_its_colour(login, world, actor, plan):
    build(actor, plan)
    Goal.objects.filter(plan=plan).update(achievement="worsening", achievement_rule="2 of 4 in")
    text = login(world.cm).get(section(world.patient)).content.decode()
    assert '<span class="status status-urgent">Worsening</span>' in text
    assert "2 of 4 in" in text


def test_plans_from_other_settings_show_as_history(login, world, actor, plan):
    patient_services_import_past_goal(world, actor)
    text = login(world.cm).get(section(world.patient)).content.decode()
    assert "Plans from other settings (history)" in text
    assert "Lose 5 pounds" in text


def patient_services_import_past_goal(world, actor):
    """A goal from another setting, as the FHIR import keeps one (through its service)."""
    from careway.core.writes import service

    @service
    def keep(actor):
        PastGoal.objects.create(
            organization_id=world.org.pk,
            patient=world.patient,
            display="Lose 5 pounds",
            lifecycle_status="completed",
        )

    keep(actor)


def test_the_plan_page_reads_in_a_fixed_number_of_queries(login, world, actor, plan):
    build(actor, plan, n=1)
    client = login(world.cm)
    client.get(section(world.patient))  # warm the session and caches
    with CaptureQueriesContext(connection) as small:
        assert client.get(section(world.patient)).status_code == 200
    build(actor, plan, n=6)
    with CaptureQueriesContext(connection) as large:
        assert client.get(section(world.patient)).status_code == 200
    assert len(large) == len(small)
    assert len(large) <= 40


# --- access, on every page and every POST --------------------------------------------------------


def pages(world, plan):
    """(url, takes a GET that only reads) for every care plan page of `plan`'s patient."""
    problem = Problem.objects.filter(plan=plan).first()
    goal = Goal.objects.filter(plan=plan).first()
    intervention = Intervention.objects.filter(plan=plan).first()
    frequency = DisciplineFrequency.objects.filter(plan=plan).first()
    p = world.patient
    return {
        "start": url("start", p),
        "plan_edit": url("plan_edit", p),
        "plan_status": url("plan_status", p),
        "problem_add": url("problem_add", p),
        "problem_edit": url("problem_edit", p, problem.pk),
        "goal_add": url("goal_add", p),
        "goal_edit": url("goal_edit", p, goal.pk),
        "intervention_add": url("intervention_add", p),
        "intervention_edit": url("intervention_edit", p, intervention.pk),
        "intervention_task": url("intervention_task", p, intervention.pk),
        "frequency_add": url("frequency_add", p),
        "frequency_edit": url("frequency_edit", p, frequency.pk),
        "revisions": url("revisions", p),
        "compare": url("compare", p),
    }


READ_ONLY_PAGES = {"revisions", "compare"}
# Pages that are buttons: a GET goes back to the plan.
BUTTONS = {"start", "intervention_task"}


def test_a_team_member_opens_every_page(login, world, actor, plan):
    build(actor, plan)
    client = login(world.cm)
    for name, address in pages(world, plan).items():
        response = client.get(address)
        expected = 302 if name in BUTTONS else 200
        assert response.status_code == expected, name
        if expected == 200:
            event = AuditEvent.objects.filter(actor_id=world.cm.pk).latest("seq")
            assert event.action == "patient.view" and event.detail["section"] == SECTION, name


def test_a_read_only_member_reads_but_cannot_write(login, world, actor, plan):
    build(actor, plan)
    client = login(world.scheduler)
    before = (plan.revision, Task.objects.count())
    for name, address in pages(world, plan).items():
        expected = 200 if name in READ_ONLY_PAGES else 403
        assert client.get(address).status_code == expected, name
        assert client.post(address, {"text": "x", "version": 1}).status_code == 403, name
    plan.refresh_from_db()
    assert (plan.revision, Task.objects.count()) == before
    denied = AuditEvent.objects.filter(actor_id=world.scheduler.pk, outcome="denied")
    assert denied.exists()


@pytest.mark.parametrize("who", ["cm_other", "outsider", "auditor"])
def test_everyone_else_gets_404_on_every_page_and_post(login, world, actor, plan, who):
    build(actor, plan)
    client = login(getattr(world, who))
    before = plan.revision
    for name, address in pages(world, plan).items():
        assert client.get(address).status_code == 404, name
        assert client.post(address, {"text": "x", "version": 1}).status_code == 404, name
    plan.refresh_from_db()
    assert plan.revision == before


# --- adding --------------------------------------------------------------------------------------


def goal_post(**extra):
    return {
        "patient_words": "Walk to the mailbox by spring",
        "description": "Weight within 2 lb of dry weight",
        "problem": "",
        "measure": "weight",
        "target_low": "163",
        "target_high": "167",
        "target_days": "",
        "task": "",
        "due_date": "",
        "reason": "Agreed at the kitchen table",
        **extra,
    }


def test_adding_a_goal(login, world, plan):
    response = login(world.cm).post(url("goal_add", world.patient), goal_post())
    goal = Goal.objects.get(plan=plan)
    assert response.status_code == 302
    assert response["Location"].endswith(f"#goal-{goal.pk}")
    assert goal.patient_words == "Walk to the mailbox by spring"
    assert goal.lifecycle_status == Goal.Lifecycle.PROPOSED  # the plan is a draft
    assert AuditEvent.objects.filter(action="careplan.goal.create", actor_id=world.cm.pk)
    assert plan.revisions.latest("number").reason == "Agreed at the kitchen table"


def test_a_goal_without_its_target_names_the_field_and_keeps_what_was_typed(login, world, plan):
    posted = goal_post(target_low="", target_high="")
    response = login(world.cm).post(url("goal_add", world.patient), posted)
    assert response.status_code == 422
    text = response.content.decode()
    assert "At most: Give the lowest or the highest weight, or both." in text
    assert "Walk to the mailbox by spring" in text
    assert not Goal.objects.filter(plan=plan).exists()


def test_adding_a_problem_from_the_chart(login, world, actor, plan):
    condition = patient_services.add_condition(
        actor, world.patient, {"display": "Heart failure", "code_system": "", "code": ""}
    )
    client = login(world.cm)
    form = client.get(url("problem_add", world.patient)).content.decode()
    assert f'value="condition:{condition.pk}"' in form
    response = client.post(
        url("problem_add", world.patient), {"from_chart": f"condition:{condition.pk}", "text": ""}
    )
    assert response.status_code == 302
    problem = Problem.objects.get(plan=plan)
    assert problem.text == "Heart failure" and problem.condition == condition
    text = client.get(section(world.patient)).content.decode()
    # The linked record's words are the problem's: said once.
    assert "A condition on the chart" in text and "chart: Heart failure" not in text


def test_a_problem_needs_words_or_a_chart_record(login, world, plan):
    response = login(world.cm).post(url("problem_add", world.patient), {"from_chart": ""})
    assert response.status_code == 422
    assert "Write the problem, or pick one from the chart." in response.content.decode()


def test_adding_an_intervention_for_a_caregiver(login, world, actor, plan):
    patient_services.add_contact(
        actor, world.patient, {"name": "June Hale", "relationship": "child"}
    )
    caregiver = world.patient.contacts.get()
    response = login(world.cm).post(
        url("intervention_add", world.patient),
        {
            "kind": "perform",
            "text": "Weigh her each morning",
            "who": f"caregiver:{caregiver.pk}",
            "at_visits_of": "",
            "frequency": "",
            "goal": "",
            "start_date": "",
            "end_date": "",
        },
    )
    assert response.status_code == 302
    row = Intervention.objects.get(plan=plan)
    agency_today = timezone.localdate(timezone=zoneinfo.ZoneInfo(world.org.timezone))
    assert row.caregiver == caregiver and row.start_date == agency_today


def test_a_wrong_frequency_is_named_and_kept(login, world, plan):
    response = login(world.cm).post(
        url("frequency_add", world.patient),
        {"discipline": "PT", "frequency": "3x1", "start_date": "", "end_date": ""},
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert "is not a frequency" in text and 'value="3x1"' in text
    assert not DisciplineFrequency.objects.filter(plan=plan).exists()


def test_setting_a_frequency_shows_it_in_words(login, world, plan):
    client = login(world.cm)
    response = client.post(
        url("frequency_add", world.patient),
        {"discipline": "PT", "frequency": "2W3", "start_date": "", "end_date": ""},
    )
    assert response.status_code == 302
    assert DisciplineFrequency.objects.get(plan=plan).frequency == "2w3"
    text = client.get(section(world.patient)).content.decode()
    assert "Twice a week for three weeks" in text


def test_the_frequency_field_reads_back_as_it_is_typed(login, world):
    client = login(world.cm)
    words = client.get(reverse("careplans:frequency_words"), {"frequency": "3w1, 2w4"})
    assert (
        "Three times a week for one week, then twice a week for four weeks"
        in words.content.decode()
    )
    wrong = client.get(reverse("careplans:frequency_words"), {"frequency": "3x1"})
    assert "is not a frequency" in wrong.content.decode()


# --- changing ------------------------------------------------------------------------------------


def test_editing_a_goal_sends_only_what_changed(login, world, actor, plan):
    build(actor, plan)
    goal = Goal.objects.get(plan=plan)
    client = login(world.cm)
    form = client.get(url("goal_edit", world.patient, goal.pk)).content.decode()
    assert 'name="version"' in form and 'name="original"' in form
    response = client.post(
        url("goal_edit", world.patient, goal.pk),
        edit_post(form, description="Weight within 3 lb of dry weight"),
    )
    assert response.status_code == 302
    goal.refresh_from_db()
    assert goal.description == "Weight within 3 lb of dry weight"
    assert goal.patient_words == "Keep my ankles from swelling 0"


def edit_post(form_html, **changes):
    """What the browser sends for the edit form as shown, with `changes` typed in."""
    import html
    import re

    data = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form_html):
        data[name] = html.unescape(value)
    for name, value in re.findall(
        r'<textarea[^>]*name="([^"]+)"[^>]*>\s*([^<]*)</textarea>', form_html
    ):
        data[name] = html.unescape(value).strip()
    for name, body in re.findall(
        r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form_html, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        data[name] = chosen.group(1) if chosen else ""
    for name, value in re.findall(
        r'<input type="radio" name="([^"]+)" value="([^"]*)"[^>]*checked', form_html
    ):
        data[name] = value
    data.pop("csrfmiddlewaretoken", None)
    return {**data, **changes}


def test_a_stale_edit_is_a_conflict_that_loses_nothing(login, world, actor, plan):
    build(actor, plan)
    goal = Goal.objects.get(plan=plan)
    client = login(world.cm)
    form = client.get(url("goal_edit", world.patient, goal.pk)).content.decode()
    services.update_goal(actor, goal, {"due_date": timezone.localdate() + timedelta(days=30)}, 1)
    response = client.post(
        url("goal_edit", world.patient, goal.pk),
        edit_post(form, description="My own new words", reason="Talked it over"),
    )
    assert response.status_code == 409
    text = response.content.decode()
    assert "Someone else changed this record while you were editing" in text
    assert "My own new words" in text and "Talked it over" in text
    assert "(you did not change this)" in text  # their due date, shown
    goal.refresh_from_db()
    assert goal.description != "My own new words" and goal.version == 2
    assert 'name="version" value="2"' in text
    # Saving again keeps both changes.
    again = client.post(url("goal_edit", world.patient, goal.pk), edit_post(text))
    assert again.status_code == 302
    goal.refresh_from_db()
    assert goal.description == "My own new words" and goal.due_date is not None


def test_entered_in_error_needs_a_reason(login, world, actor, plan):
    build(actor, plan)
    row = Intervention.objects.get(plan=plan)
    client = login(world.cm)
    form = client.get(url("intervention_edit", world.patient, row.pk)).content.decode()
    response = client.post(
        url("intervention_edit", world.patient, row.pk),
        edit_post(form, status="entered-in-error", reason=""),
    )
    assert response.status_code == 422
    assert "Reason for this change: Say why this was entered in error." in response.content.decode()
    ok = client.post(
        url("intervention_edit", world.patient, row.pk),
        edit_post(form, status="entered-in-error", reason="Wrong patient"),
    )
    assert ok.status_code == 302
    text = client.get(section(world.patient)).content.decode()
    assert f'id="intervention-{row.pk}"' not in text and "1 row entered in error" in text


def test_putting_the_plan_in_effect(login, world, actor, plan):
    build(actor, plan)
    client = login(world.cm)
    form = client.get(url("plan_status", world.patient)).content.decode()
    response = client.post(url("plan_status", world.patient), edit_post(form, status="active"))
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.status == CarePlan.Status.ACTIVE
    assert Goal.objects.get(plan=plan).lifecycle_status == Goal.Lifecycle.ACTIVE


def test_raising_a_task_from_an_intervention(login, world, actor, plan):
    build(actor, plan)
    row = Intervention.objects.get(plan=plan)
    response = login(world.cm).post(url("intervention_task", world.patient, row.pk))
    assert response.status_code == 302
    task = Task.objects.get(patient=world.patient, source=f"careplan.intervention:{row.pk}")
    assert task.title == "Teach: Teach daily weights 0"


# --- revisions -----------------------------------------------------------------------------------


def test_the_revisions_and_what_changed_between_two(login, world, actor, plan):
    build(actor, plan)
    goal = Goal.objects.get(plan=plan)
    services.update_goal(actor, goal, {"description": "Weight steady"}, 1, reason="Simpler")
    client = login(world.cm)
    listing = client.get(url("revisions", world.patient)).content.decode()
    assert "Goal changed: Weight steady" in listing and "Simpler" in listing
    assert "Plan started" in listing
    compared = client.get(url("compare", world.patient)).content.decode()
    assert "Changed" in compared and "Weight within 2 lb of dry weight 0" in compared
    assert "Weight steady" in compared
    whole = client.get(url("compare", world.patient), {"older": 0, "newer": 2})
    assert whole.status_code == 200
    assert "Added" in whole.content.decode()

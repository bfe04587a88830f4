"""A goal's progress page: what it shows for each kind of goal, the three access tests, the
override with its reason, conflicts, bad input, audit and query counts."""

import zoneinfo
from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from careway.careplans import services
from careway.careplans.models import Goal
from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients import services as patient_services
from tests.careplans.test_services import weigh, weight_goal

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _days_as_the_agency_counts_them(world):
    """The pages count days in the agency's zone: so do the readings and dates made here,
    whatever the hour is in UTC."""
    with timezone.override(zoneinfo.ZoneInfo(world.org.timezone)):
        yield


@pytest.fixture
def actor(world):
    return audit.Actor(user=world.cm)


@pytest.fixture
def plan(world, actor):
    return services.start_plan(actor, world.patient)


@pytest.fixture
def goal(world, actor, plan):
    """Worsening: the latest weight moved away from 163 to 167 lb."""
    for pounds, days_ago in ((168, 9), (168, 6), (167.5, 3), (171, 0)):
        weigh(actor, world.patient, pounds, days_ago)
    found = weight_goal(actor, plan)
    assert found.achievement == "worsening"
    return found


def url(goal) -> str:
    return reverse("careplans:goal", kwargs={"patient_id": goal.patient_id, "goal_id": goal.pk})


def override(client, goal, **data):
    return client.post(url(goal), {"version": goal.version, **data})


# --- what it shows -------------------------------------------------------------------------------


def test_the_page_shows_the_patients_words_the_target_and_the_status_with_its_rule(
    login, world, goal
):
    page = login(world.cm).get(url(goal))
    assert page.status_code == 200
    html = page.content.decode()
    assert "“Keep my ankles from swelling”" in html
    assert "Weight within 2 lb of dry weight (165 lb)" in html
    assert "Body weight: 163 to 167 lb" in html
    assert ">Worsening</span>" in html and "status-warning" in html
    assert goal.achievement_rule in html and "4 lb from the target" in html
    assert "Evaluated " in html


def test_the_trend_is_drawn_beside_the_target_and_the_readings_are_a_table(login, world, goal):
    html = login(world.cm).get(url(goal)).content.decode()
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert 'class="normal-range"' in svg and "Target: 163 to 167 lb" in svg
    # 168, 168, 167.5 and 171 lb are all outside 163 to 167: each a diamond.
    assert svg.count('class="point out-of-range"') == 4 and 'class="point"' not in svg
    table = html[html.index('class="list compact goal-readings"') :]
    assert "4 weights of the last year, newest first" in table
    assert "<td>171</td><td><strong>No</strong></td>" in table


def test_reading_the_page_is_audited(login, world, goal):
    login(world.cm).get(url(goal))
    read = AuditEvent.objects.filter(action="patient.view", actor_id=world.cm.pk).latest("seq")
    assert read.patient_id == world.patient.pk
    assert read.object_id == str(goal.pk)
    assert read.detail["section"] == "care-plan"


def test_a_goal_of_going_without_falls_shows_the_falls_and_the_days_counted(
    login, world, actor, plan
):
    goal = services.add_goal(
        actor,
        plan,
        {
            "patient_words": "Stay on my feet",
            "description": "No falls for 30 days",
            "measure": "falls",
            "target_days": 30,
            "start_date": timezone.localdate() - timedelta(days=20),
        },
    )
    for days_ago in (40, 5):
        fall(actor, world.patient, days_ago)
    html = login(world.cm).get(url(goal)).content.decode()
    assert '<strong class="big-number">5</strong> days counted without a fall, of 30' in html
    assert "2 falls on the chart" in html
    assert "No: before the goal began" in html


def test_an_override_of_an_event_goal_holds_until_cleared(login, world, actor, plan):
    goal = services.add_goal(
        actor, plan, {"description": "No falls for 30 days", "measure": "falls", "target_days": 30}
    )
    services.override_achievement(actor, goal, "improving", "Walker in use now", goal.version)
    html = login(world.cm).get(url(goal)).content.decode()
    assert "It holds until someone chooses to use the computed status again." in html
    assert "of a day after" not in html


def test_a_task_goal_shows_its_task(login, world, actor, plan):
    task = patient_services.add_task(
        actor, world.patient, {"title": "Grab bars installed in the bathroom"}
    )
    goal = services.add_goal(
        actor, plan, {"description": "Grab bars in place", "measure": "task", "task": task.pk}
    )
    html = login(world.cm).get(url(goal)).content.decode()
    assert "Grab bars installed in the bathroom" in html
    assert f"#task-{task.pk}" in html and "The task is open" in html


def test_a_goal_in_words_only_says_the_team_sets_its_status(login, world, actor, plan):
    goal = services.add_goal(actor, plan, {"patient_words": "See my granddaughter graduate"})
    html = login(world.cm).get(url(goal)).content.decode()
    assert "the team sets its status" in html and "None: a goal in words only" in html


def test_the_page_reads_in_the_same_number_of_queries_however_many_readings(
    login, world, actor, goal
):
    client = login(world.cm)
    client.get(url(goal))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(goal)).status_code == 200
        return len(queries)

    few = count()
    for days_ago in range(10, 60):
        weigh(actor, world.patient, 165, days_ago)
    assert count() == few


# --- the three access tests ----------------------------------------------------------------------


def test_a_team_member_with_careplans_edit_can_override(login, world, goal):
    client = login(world.rn)
    assert "Set this status" in client.get(url(goal)).content.decode()
    response = override(client, goal, status="no-change", reason="Scale was recalibrated")
    assert response.status_code == 302 and response.url == url(goal)
    goal.refresh_from_db()
    assert (goal.override, goal.override_by) == ("no-change", world.rn)


def test_a_read_only_member_sees_the_page_without_the_form_and_cannot_override(login, world, goal):
    client = login(world.scheduler)
    page = client.get(url(goal))
    assert page.status_code == 200 and "Set this status" not in page.content.decode()
    response = override(client, goal, status="achieved", reason="x")
    assert response.status_code == 403
    goal.refresh_from_db()
    assert goal.override == "" and goal.version == 1


@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_an_outsider_or_a_colleague_off_the_team_gets_404_audited(client, world, goal, who):
    client.force_login(getattr(world, who))
    before = AuditEvent.objects.filter(outcome="denied").count()
    assert client.get(url(goal)).status_code == 404
    assert override(client, goal, status="achieved", reason="x").status_code == 404
    assert AuditEvent.objects.filter(outcome="denied").count() == before + 2
    goal.refresh_from_db()
    assert goal.override == ""


def test_a_goal_of_another_patient_is_404_under_this_patients_address(login, world, goal):
    other = reverse(
        "careplans:goal", kwargs={"patient_id": world.outsider_patient.pk, "goal_id": goal.pk}
    )
    assert login(world.cm).get(other).status_code == 404


# --- overriding ----------------------------------------------------------------------------------


def test_an_active_override_says_who_when_why_and_until_when(login, world, goal):
    client = login(world.cm)
    override(client, goal, status="no-change", reason="Scale was recalibrated")
    html = client.get(url(goal)).content.decode()
    assert ">No change</span> <strong>set by hand</strong>" in html
    assert "Set by <strong>Cm Tester</strong>" in html
    assert "Reason: Scale was recalibrated" in html
    assert "It holds until a weight of a day after" in html
    assert "Computed from the chart: Worsening" in html
    assert "Use the computed status" in html


def test_use_the_computed_status_clears_the_override(login, world, actor, goal):
    goal = services.override_achievement(actor, goal, "no-change", "Scale off", goal.version)
    client = login(world.cm)
    response = client.post(url(goal), {"version": goal.version, "use_computed": "1"})
    assert response.status_code == 302
    goal.refresh_from_db()
    assert goal.override == "" and goal.shown_achievement == "worsening"
    assert "Use the computed status" not in client.get(url(goal)).content.decode()


def test_an_override_without_a_reason_names_the_field_and_writes_nothing(login, world, goal):
    response = override(login(world.cm), goal, status="achieved", reason="  ")
    assert response.status_code == 422
    assert "Say why the computed status does not hold." in response.content.decode()
    goal.refresh_from_db()
    assert goal.override == "" and goal.version == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status": "great", "reason": "x"}, "Choose one of the statuses offered."),
        ({"status": "", "reason": "x"}, "Choose the status to show instead"),
        ({"status": "achieved", "reason": "x" * 2001}, "Reason"),
        ({"status": "achieved", "reason": "x", "version": "abc"}, "reload the page"),
        ({"status": "achieved", "reason": "x", "version": ""}, "reload the page"),
    ],
)
def test_bad_input_is_named_never_a_500(login, world, goal, data, message):
    response = override(login(world.cm), goal, **data)
    assert response.status_code == 422
    assert message in response.content.decode()
    goal.refresh_from_db()
    assert goal.version == 1


def test_clearing_from_a_stale_page_without_a_version_says_so(login, world, goal):
    response = login(world.cm).post(url(goal), {"use_computed": "1"})
    assert response.status_code == 422 and "reload the page" in response.content.decode()


def test_a_stale_version_is_a_conflict_that_keeps_what_was_typed(login, world, actor, goal):
    stale = goal.version
    services.override_achievement(actor, goal, "improving", "Seen at the visit", goal.version)
    response = login(world.rn).post(
        url(goal), {"version": stale, "status": "achieved", "reason": "Dry weight reached"}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else changed this goal while you were looking at it" in html
    assert "Dry weight reached" in html and 'value="achieved" selected' in html
    assert f'name="version" value="{stale + 1}"' in html
    goal.refresh_from_db()
    assert goal.override == "improving"


def test_a_closed_plans_goals_cannot_be_overridden(login, world, actor, plan, goal):
    plan.refresh_from_db()
    services.update_plan(actor, plan, {"status": "completed"}, plan.version)
    client = login(world.cm)
    assert "Set this status" not in client.get(url(goal)).content.decode()
    response = override(client, goal, status="achieved", reason="x")
    assert response.status_code == 422 and "This plan is completed" in response.content.decode()
    assert Goal.objects.get(pk=goal.pk).override == ""


def fall(actor, patient, days_ago: int) -> None:
    day = timezone.localdate() - timedelta(days=days_ago)
    patient_services.record_observation(
        actor,
        patient,
        {
            "category": "survey",
            "code_system": "http://snomed.info/sct",
            "code": "1912002",
            "display": "Fall",
            "effective_at": timezone.make_aware(datetime.combine(day, time(9))),
        },
    )

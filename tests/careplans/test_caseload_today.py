"""Care plans on the caseload (the plan's state, goals off track) and on Today (goals off track,
plans due for review, intervention tasks under open tasks): what they say, how they sort, who
sees them, and queries that do not grow with the rows."""

import re
import zoneinfo
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from careway.careplans import services
from careway.core import audit
from tests.careplans.test_services import weigh, weight_goal
from tests.factories import make_patient

pytestmark = pytest.mark.django_db
CASELOAD = reverse("caseload")
TODAY = reverse("today")


@pytest.fixture(autouse=True)
def _days_as_the_agency_counts_them(world):
    """The pages count days in the agency's zone: so do the readings and dates made here,
    whatever the hour is in UTC."""
    with timezone.override(zoneinfo.ZoneInfo(world.org.timezone)):
        yield


@pytest.fixture
def actor(world):
    return audit.Actor(user=world.cm)


def names_in(response) -> list[str]:
    return re.findall(r'<a href="/patients/[0-9a-f-]+/">([^<]+)</a>', response.content.decode())


def cell(html: str, patient, column: str) -> str:
    """The text of one patient's cell in a column (the row's <td class="... col-KEY">)."""
    row = html[html.index(f"/patients/{patient.pk}/") :]
    row = row[: row.index("</tr>")]
    found = re.search(rf'<td class="[^"]*col-{column}"[^>]*>(.*?)</td>', row, re.S)
    assert found, column
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def active_plan(actor, patient, review_in_days: int = 30):
    plan = services.start_plan(actor, patient)
    review = timezone.localdate() + timedelta(days=review_in_days)
    return services.update_plan(
        actor, plan, {"status": "active", "review_due": review}, plan.version
    )


def worsening_goal(actor, plan, **extra):
    for pounds, days_ago in ((168, 9), (168, 6), (167.5, 3), (171, 0)):
        weigh(actor, plan.patient, pounds, days_ago)
    goal = weight_goal(actor, plan, **extra)
    assert goal.achievement == "worsening"
    return goal


@pytest.fixture
def plans(world, actor):
    """Hale: an active plan (revision 3), review overdue, one goal worsening. Adams: a draft.
    Baker: no plan. Young: active, review in a month, goals on track."""
    w = world
    hale = active_plan(actor, w.patient, review_in_days=-2)
    worsening_goal(actor, hale)
    adams = make_patient(w.branch, w.cm, given_name="Zoe", family_name="Adams")
    services.start_plan(actor, adams)
    baker = make_patient(w.branch, w.cm, given_name="Bo", family_name="Baker")
    young = make_patient(w.branch, w.cm, given_name="Ben", family_name="Young")
    services.add_goal(actor, active_plan(actor, young), {"patient_words": "Garden again"})
    w.extra.update(adams=adams, baker=baker, young=young)
    return w


# --- the caseload --------------------------------------------------------------------------------


def test_the_care_plan_column_says_what_state_each_plan_is_in(login, plans):
    html = login(plans.cm).get(CASELOAD).content.decode()
    assert ">Care plan" in html
    hale = cell(html, plans.patient, "care-plan")
    assert hale.startswith("Active") and "revision 3" in hale
    assert "Review overdue was due" in hale and "status-urgent" in html
    assert cell(html, plans.extra["adams"], "care-plan").startswith("Draft")
    assert cell(html, plans.extra["baker"], "care-plan") == "No plan"
    young = cell(html, plans.extra["young"], "care-plan")
    assert young.startswith("Active") and "Review" not in young


def test_a_review_within_a_week_is_due_in_amber(login, world, actor):
    active_plan(actor, world.patient, review_in_days=5)
    html = login(world.cm).get(CASELOAD).content.decode()
    assert "Review due by" in cell(html, world.patient, "care-plan")


def test_goals_off_track_counts_worsening_and_not_achieved_and_links_to_the_plan(login, plans):
    html = login(plans.cm).get(CASELOAD).content.decode()
    assert ">Goals off track" in html
    assert cell(html, plans.patient, "goals-off-track").startswith("1 off track")
    plan_url = reverse("chart_section", args=[plans.patient.pk, "care-plan"])
    assert f'<a href="{plan_url}"><span class="status status-warning">1 off track' in html
    assert cell(html, plans.extra["young"], "goals-off-track") == "None"
    assert cell(html, plans.extra["baker"], "goals-off-track") == "None"


def test_an_override_counts_as_the_shown_status(login, plans, actor):
    goal = plans.patient.care_plans.get().goals.get()
    services.override_achievement(actor, goal, "improving", "Diuretic doubled", goal.version)
    html = login(plans.cm).get(CASELOAD).content.decode()
    assert cell(html, plans.patient, "goals-off-track") == "None"


def test_sorts_by_goals_off_track_most_first(login, plans):
    names = names_in(login(plans.cm).get(CASELOAD, {"sort": "goals-off-track"}))
    assert names[0] == "Hale, Margaret"
    assert names_in(login(plans.cm).get(CASELOAD, {"sort": "-goals-off-track"}))[-1] == (
        "Hale, Margaret"
    )


def test_sorts_by_care_plan_the_most_pressing_first(login, plans):
    names = names_in(login(plans.cm).get(CASELOAD, {"sort": "care-plan"}))
    assert names == ["Hale, Margaret", "Baker, Bo", "Adams, Zoe", "Young, Ben"]


@pytest.mark.parametrize("query", [{}, {"sort": "care-plan"}, {"sort": "goals-off-track"}])
def test_the_caseload_does_not_grow_in_queries_with_plans_and_goals(login, world, actor, query):
    client = login(world.cm)
    worsening_goal(actor, active_plan(actor, world.patient))
    client.get(CASELOAD, query)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(CASELOAD, query).status_code == 200
        return len(queries)

    one = count()
    for n in range(5):
        patient = make_patient(world.branch, world.cm, given_name=f"P{n}", family_name="Many")
        worsening_goal(actor, active_plan(actor, patient, review_in_days=-n))
    assert count() == one


# --- Today ---------------------------------------------------------------------------------------


def today_list(html: str, key: str) -> str:
    start = html.index(f'id="today-{key}"')
    return html[start : html.index("</section>", start)]


def test_today_lists_goals_off_track_with_the_patients_words_the_rule_and_a_link(login, plans):
    html = login(plans.cm).get(TODAY).content.decode()
    found = today_list(html, "goals-off-track")
    goal = plans.patient.care_plans.get().goals.get()
    assert "Goals off track (1)" in found
    assert "“Keep my ankles from swelling”" in found
    assert "Worsening: Latest weight 4 lb from the target" in found
    assert "Needs attention" in found
    goal_url = reverse("careplans:goal", args=[plans.patient.pk, goal.pk])
    assert f'href="{goal_url}"' in found


def test_not_achieved_past_due_comes_first_as_overdue(login, world, actor):
    plan = active_plan(actor, world.patient)
    worsening_goal(actor, plan)
    late = weight_goal(
        actor,
        plan,
        patient_words="Fit in my good shoes",
        start_date=timezone.localdate() - timedelta(days=30),
        due_date=timezone.localdate() - timedelta(days=1),
    )
    assert late.achievement == "not-achieved"
    found = today_list(login(world.cm).get(TODAY).content.decode(), "goals-off-track")
    assert found.index("Fit in my good shoes") < found.index("Keep my ankles from swelling")
    first = found[found.index('<li class="today-row"') :]
    assert ">Overdue</span>" in first[: first.index("</li>")]


def test_an_overridden_goal_says_who_set_it_and_why(login, world, actor):
    goal = worsening_goal(actor, active_plan(actor, world.patient))
    services.override_achievement(actor, goal, "not-achieved", "Legs more swollen", goal.version)
    found = today_list(login(world.cm).get(TODAY).content.decode(), "goals-off-track")
    assert "Not achieved, set by Cm Tester: Legs more swollen" in found


def test_today_lists_plans_due_for_review(login, plans):
    found = today_list(login(plans.cm).get(TODAY).content.decode(), "care-plan-reviews")
    assert "Care plans due for review (1)" in found
    assert "The plan (active, revision 3) was due for review with the patient on" in found
    assert ">Overdue</span>" in found and "Young" not in found


def test_an_interventions_task_shows_under_open_tasks(login, world, actor):
    plan = active_plan(actor, world.patient)
    intervention = services.add_intervention(
        actor, plan, {"kind": "teach", "text": "Daily weights and the log", "discipline": "RN"}
    )
    services.raise_intervention_task(actor, intervention)
    found = today_list(login(world.cm).get(TODAY).content.decode(), "open-tasks")
    assert "Teach: Daily weights and the log" in found


def test_others_do_not_see_these_rows(login, plans):
    html = login(plans.outsider).get(TODAY).content.decode()
    assert "Keep my ankles" not in html and "Hale" not in html
    assert "No goal of your patients is worsening or past due." in html
    assert "No care plan is due for review." in html


def test_today_reads_in_a_fixed_number_of_queries(login, world, actor):
    client = login(world.supervisor)
    worsening_goal(actor, active_plan(actor, world.patient, review_in_days=-1))
    client.get(TODAY)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(TODAY).status_code == 200
        return len(queries)

    few = count()
    for n in range(4):
        patient = make_patient(world.branch, world.cm, given_name=f"P{n}")
        worsening_goal(actor, active_plan(actor, patient, review_in_days=-1))
    assert count() == few

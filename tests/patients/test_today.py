"""Today, and acting on flags and tasks (issue 16, point 11).

Today lists the urgent flags, open tasks and assessments due of the patients a person looks after,
each with its reason and a link to the chart; domains add lists by registering a source. Flags are
acknowledged and resolved, tasks completed, each with a note, versioned and audited. Every page
and action has the three access tests: the care team can; the read-only scheduler on the team
cannot write (403, nothing written, no buttons); a colleague off the team and another agency's
case manager get 404.
"""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients import services
from careway.patients.models import PatientFlag, Task
from careway.patients.today import TODAY_SOURCES
from tests.factories import make_patient

pytestmark = pytest.mark.django_db
TODAY = reverse("today")
SYSTEM = audit.Actor(user=None)


def urgent_flag(patient, kind="self-harm-risk", label="PHQ-9 item 9: thoughts of self-harm"):
    data = {"kind": kind, "label": label, "severity": "urgent", "source": "PHQ-9"}
    return services.raise_flag(SYSTEM, patient, data)


@services.service
def add_task(patient, **fields):
    data = {"title": "Urgent: thoughts of self-harm", "priority": "urgent", **fields}
    task = Task(organization_id=patient.organization_id, patient=patient, **data)
    task.save()
    return task


def flag_urls(flag):
    return {
        "ack": reverse("flag_acknowledge", args=[flag.patient_id, flag.pk]),
        "resolve": reverse("flag_resolve", args=[flag.patient_id, flag.pk]),
    }


def task_url(task):
    return reverse("task_complete", args=[task.patient_id, task.pk])


# --- the page --------------------------------------------------------------------------------


def test_today_lists_urgent_flags_open_tasks_and_assessments_due_with_reasons(login, world):
    flag = urgent_flag(world.patient)
    services.raise_flag(SYSTEM, world.patient, {"kind": "smoker", "label": "Smokes"})
    # Today is the agency's day (New York's), which the server's differs from in the evening.
    today = timezone.localdate(timezone=ZoneInfo(world.org.timezone))
    add_task(world.patient, detail="Assess safety today.", due_date=today)
    page = login(world.cm).get(TODAY).content.decode()
    assert "Urgent flags (1)" in page and "Open tasks (1)" in page
    assert "Depression: self-harm answer" in page
    assert "Raised " in page and "from PHQ-9" in page
    assert "Smokes" not in page  # only urgent flags
    assert "Assess safety today. Due today" in page
    # The world's patient started care 12 days ago with no assessment signed: overdue.
    assert "Assessments due and overdue (1)" in page
    assert "Start of care assessment" in page and "Was due" in page
    chart_flags = reverse("chart_section", args=[world.patient.pk, "flags"])
    assert f'href="{chart_flags}#flag-{flag.pk}"' in page
    assessments = reverse("chart_section", args=[world.patient.pk, "assessments"])
    assert f'href="{assessments}"' in page


def test_every_list_is_a_registered_source_and_the_assessments_domain_adds_its_own():
    keys = [source.key for source in TODAY_SOURCES]
    assert keys == [
        "urgent-flags",
        "open-tasks",
        "goals-off-track",
        "assessments-due",
        "care-plan-reviews",
        "orders-overdue",
    ]


def test_today_is_the_home_page_of_those_who_read_charts(login, world):
    assert login(world.cm).get(reverse("home")).url == TODAY
    nav = login(world.cm).get(TODAY).content.decode()
    assert f'href="{TODAY}"' in nav


def test_today_lists_only_the_persons_own_patients_and_audits_each(login, world):
    urgent_flag(world.patient)
    other = make_patient(world.branch, world.cm_other, given_name="Olive", family_name="Other")
    urgent_flag(other)
    urgent_flag(world.outsider_patient)
    # An emergency grant lets cm_other read Margaret's chart, not put her on their worklist.
    services.open_emergency_access(
        audit.Actor(user=world.cm_other), world.patient, "Covering a weekend call", 30
    )
    page = login(world.cm_other).get(TODAY).content.decode()
    assert "Other, Olive" in page and "Hale, Margaret" not in page
    listed = AuditEvent.objects.filter(action="patient.list", actor_id=world.cm_other.pk)
    assert {e.patient_id for e in listed} == {other.pk}
    assert listed.get().detail["page"] == "today"


def test_a_supervisor_sees_the_branch(login, world):
    other = make_patient(world.branch, world.cm_other, given_name="Olive", family_name="Other")
    urgent_flag(other)
    urgent_flag(world.patient)
    page = login(world.supervisor).get(TODAY).content.decode()
    assert "Other, Olive" in page and "Hale, Margaret" in page
    assert "Acknowledge" in page


def test_the_read_only_scheduler_sees_the_list_without_buttons(login, world):
    urgent_flag(world.patient)
    add_task(world.patient)
    page = login(world.scheduler).get(TODAY).content.decode()
    assert "Hale, Margaret" in page
    assert "Acknowledge" not in page and "Resolve" not in page and "Mark done" not in page


def test_roles_without_charts_have_no_today(login, world):
    assert login(world.auditor).get(TODAY).status_code == 404
    assert login(world.admin).get(TODAY).status_code == 404


def test_an_empty_today_says_what_to_do_next_and_shows_no_other_agency(login, world):
    urgent_flag(world.patient)
    add_task(world.patient)
    page = login(world.outsider).get(TODAY).content.decode()
    assert "Hale" not in page and "self-harm" not in page
    assert "No urgent flags on your patients." in page
    assert "No open tasks on your patients." in page


def test_today_reads_in_a_fixed_number_of_queries(login, world):
    client = login(world.supervisor)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(TODAY).status_code == 200
        return len(queries)

    urgent_flag(world.patient)
    add_task(world.patient)
    count()  # the session's first page does some once-only work
    few = count()
    for n in range(4):
        patient = make_patient(world.branch, world.cm, given_name=f"P{n}")
        urgent_flag(patient)
        add_task(patient, due_date=timezone.localdate() - timedelta(days=1))
    assert count() == few


# --- acknowledge, resolve, complete ----------------------------------------------------------


def test_acknowledging_from_today_keeps_the_flag_and_says_who_saw_it(login, world):
    flag = urgent_flag(world.patient)
    client = login(world.cm)
    response = client.post(flag_urls(flag)["ack"], {"version": flag.version, "return_to": "today"})
    assert response.status_code == 302 and response.url == TODAY
    flag.refresh_from_db()
    assert flag.active and flag.acknowledged_by == world.cm and flag.version == 2
    acknowledged = AuditEvent.objects.filter(action="flag.acknowledge", patient_id=world.patient.pk)
    assert acknowledged.exists()
    page = client.get(TODAY).content.decode()
    assert "Acknowledged by Cm Tester" in page
    assert ">Acknowledge<" not in page and "Resolve" in page


def test_resolving_needs_a_note_and_keeps_the_flag_in_the_charts_history(login, world):
    flag = urgent_flag(world.patient)
    client = login(world.cm)
    url = flag_urls(flag)["resolve"]
    assert client.get(url + "?return_to=today").status_code == 200
    empty = client.post(url, {"version": flag.version, "note": "  ", "return_to": "today"})
    assert empty.status_code == 200
    assert "Write a note" in empty.content.decode()
    flag.refresh_from_db()
    assert flag.active
    done = client.post(
        url, {"version": flag.version, "note": "Safety plan made with Dr Ames", "return_to": ""}
    )
    assert done.url == reverse("chart_section", args=[world.patient.pk, "flags"])
    flag.refresh_from_db()
    assert not flag.active and flag.resolved_by == world.cm
    assert flag.resolution_note == "Safety plan made with Dr Ames"
    assert "Urgent flags (0)" in client.get(TODAY).content.decode()
    chart = client.get(done.url).content.decode()
    assert "Resolved flags (1)" in chart and "Safety plan made with Dr Ames" in chart
    assert AuditEvent.objects.filter(action="flag.resolve", patient_id=world.patient.pk).exists()


def test_a_stale_version_is_a_conflict_and_keeps_the_note(login, world):
    flag = urgent_flag(world.patient)
    services.acknowledge_flag(audit.Actor(user=world.rn), flag, "", flag.version)
    response = login(world.cm).post(
        flag_urls(flag)["resolve"], {"version": 1, "note": "Called the patient"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Someone else changed this" in page and "Called the patient" in page
    assert "Acknowledged by Rn Tester" in page
    flag.refresh_from_db()
    assert flag.active and flag.version == 2


def test_a_resolved_flag_cannot_be_resolved_again(login, world):
    flag = urgent_flag(world.patient)
    services.resolve_flag(audit.Actor(user=world.rn), flag, "Done", flag.version)
    flag.refresh_from_db()
    response = login(world.cm).post(
        flag_urls(flag)["resolve"], {"version": flag.version, "note": "Again"}
    )
    assert response.status_code == 200
    assert "resolved already" in response.content.decode()


def test_completing_a_task_with_a_note(login, world):
    task = add_task(world.patient)
    client = login(world.cm)
    assert client.get(task_url(task)).status_code == 200
    data = {"version": task.version, "note": "Safety plan agreed", "return_to": "today"}
    response = client.post(task_url(task), data)
    assert response.url == TODAY
    task.refresh_from_db()
    assert task.status == Task.Status.DONE and task.completed_by == world.cm
    assert task.completion_note == "Safety plan agreed" and task.version == 2
    assert AuditEvent.objects.filter(action="task.complete", patient_id=world.patient.pk).exists()
    chart = client.get(reverse("chart_section", args=[world.patient.pk, "flags"])).content.decode()
    assert "Closed tasks (1)" in chart and "Safety plan agreed" in chart


def test_bad_input_names_the_field_and_never_fails(login, world):
    task = add_task(world.patient)
    response = login(world.cm).post(task_url(task), {"version": "x", "note": "y" * 3000})
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN


def actions(world):
    flag = urgent_flag(world.patient)
    task = add_task(world.patient)
    return [
        (flag_urls(flag)["ack"], flag, {"version": 1}),
        (flag_urls(flag)["resolve"], flag, {"version": 1, "note": "Done"}),
        (task_url(task), task, {"version": 1, "note": "Done"}),
    ]


def test_the_read_only_member_may_not_act_403_and_nothing_written(login, world):
    client = login(world.scheduler)
    for url, record, data in actions(world):
        assert client.get(url).status_code == 403
        assert client.post(url, data).status_code == 403
        record.refresh_from_db()
        assert record.version == 1
    chart = client.get(reverse("chart_section", args=[world.patient.pk, "flags"])).content.decode()
    assert "Acknowledge" not in chart and "Mark done" not in chart


@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_others_get_404_and_nothing_written(login, world, who):
    client = login(getattr(world, who))
    for url, record, data in actions(world):
        before = AuditEvent.objects.filter(outcome="denied").count()
        assert client.post(url, data).status_code == 404
        assert client.get(url).status_code == 404
        assert AuditEvent.objects.filter(outcome="denied").count() == before + 2
        record.refresh_from_db()
        assert record.version == 1


def test_a_record_named_under_another_patient_is_404(login, world):
    flag = urgent_flag(world.patient)
    mine = make_patient(world.branch, world.cm, given_name="Second")
    url = reverse("flag_acknowledge", args=[mine.pk, flag.pk])
    assert login(world.cm).post(url, {"version": 1}).status_code == 404
    flag.refresh_from_db()
    assert flag.acknowledged_at is None


def test_the_chart_shows_flags_with_their_actions(login, world):
    flag = urgent_flag(world.patient)
    page = login(world.cm).get(reverse("chart_section", args=[world.patient.pk, "flags"]))
    html = page.content.decode()
    assert f'id="flag-{flag.pk}"' in html
    assert re.search(r"Acknowledge<span class=\"visually-hidden\">", html)
    assert flag_urls(flag)["resolve"] in html


def test_resolved_flags_are_kept_not_deleted(world):
    flag = urgent_flag(world.patient)
    services.resolve_flag(audit.Actor(user=world.cm), flag, "Done", flag.version)
    assert PatientFlag.objects.filter(pk=flag.pk, active=False).exists()


def test_the_task_phq9_item_9_raises_says_which_answer_and_when(login, world):
    from careway.assessments import services as assessments
    from tests.assessments.test_services import PHQ9, phq9_answers, save

    assessment = assessments.start_assessment(
        audit.Actor(user=world.cm), world.patient, "start-of-care"
    )
    save(world, assessment, PHQ9, phq9_answers(0, item9=1))
    page = login(world.cm).get(TODAY).content.decode()
    visit = assessment.visit_date
    assert f"PHQ-9 item 9 answered “Several days” on {visit:%b} {visit.day}" in page
    assert "Depression: self-harm answer" in page

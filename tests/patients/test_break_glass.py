"""Emergency access: a reasoned, time-limited, audited grant that tells the branch's supervisors,
by a notification in Careway and an email sent from the task queue."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from careway.core import audit
from careway.core.models import AuditEvent, Notification
from careway.core.roles import Role
from careway.patients import access
from careway.patients import services as patient_services
from careway.patients.models import BreakGlassGrant
from tests.conftest import require_service
from tests.factories import make_user

pytestmark = pytest.mark.django_db
URL = reverse("break_glass")
REASON = "Patient called after a fall; on-call nurse needs her medication list."
MAY_BREAK_GLASS = ["supervisor", "cm", "cm_other", "rn", "outsider"]
MAY_NOT = ["admin", "auditor", "scheduler"]
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
DATABASE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def ask(client, mrn, reason=REASON, minutes=30):
    return client.post(URL, {"mrn": mrn, "reason": reason, "minutes": minutes})


def written():
    return (
        BreakGlassGrant.objects.count(),
        Notification.objects.count(),
        AuditEvent.objects.filter(action="patient.break_glass", outcome="success").count(),
    )


def test_anonymous_is_sent_to_sign_in(client, world):
    for response in (client.get(URL), ask(client, world.patient.mrn)):
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert written() == (0, 0, 0)


@pytest.mark.parametrize("who", MAY_BREAK_GLASS)
def test_clinical_roles_see_the_form(login, world, who):
    page = login(world.users()[who]).get(URL)
    assert page.status_code == 200
    assert page.context["form"]["minutes"].initial == world.org.break_glass_max_minutes


@pytest.mark.parametrize("who", MAY_NOT)
def test_other_roles_get_404_and_nothing_is_written(login, world, who):
    client = login(world.users()[who])
    assert client.get(URL).status_code == 404
    assert ask(client, world.patient.mrn).status_code == 404
    assert written() == (0, 0, 0)


def test_the_outsider_cannot_reach_another_agencys_patient(login, world):
    response = ask(login(world.outsider), world.patient.mrn)
    assert response.status_code == 400
    assert "No patient in your agency matches" in response.content.decode()
    assert written() == (0, 0, 0)
    failure = AuditEvent.objects.get(action="patient.break_glass")
    assert (failure.outcome, failure.chain_id, failure.patient_id) == (
        "failure",
        world.other_org.pk,
        None,
    )


def test_break_glass_grants_audits_notifies_and_emails(
    login, world, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    world.supervisor.email = "sato@example.org"
    world.supervisor.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = ask(login(world.cm_other), world.patient.mrn, minutes=30)
    assert response.url == reverse("chart", kwargs={"patient_id": world.patient.pk})

    grant = BreakGlassGrant.objects.get()
    assert (grant.user, grant.patient, grant.reason) == (world.cm_other, world.patient, REASON)
    assert grant.expires_at - grant.granted_at == timedelta(minutes=30)
    event = AuditEvent.objects.get(action="patient.break_glass")
    assert (event.actor_id, event.patient_id, event.reason) == (
        world.cm_other.pk,
        world.patient.pk,
        REASON,
    )
    assert event.detail == {"minutes": 30, "notified": [world.supervisor.pk], "found_by": "MRN"}
    notice = Notification.objects.get()
    assert (notice.recipient, notice.patient_id) == (world.supervisor, world.patient.pk)
    assert REASON in notice.body and world.patient.mrn in notice.body

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["sato@example.org"]
    # Email is not a safe channel: no patient name, MRN or reason in it.
    for secret in (world.patient.family_name, world.patient.mrn, REASON):
        assert secret not in email.subject + email.body
    assert access.get_patient_for(audit.Actor(user=world.cm_other), world.patient.pk)


def test_every_supervisor_of_the_branch_is_told_and_only_they(world, settings):
    settings.TASKS = IMMEDIATE
    second = make_user(world.org, world.branch, Role.SUPERVISOR, "sup_second", "RN")
    make_user(world.org, None, Role.AGENCY_ADMIN, "admin_second")
    other_branch = world.org.branches.create(name="Riverbend north")
    make_user(world.org, other_branch, Role.SUPERVISOR, "sup_north", "RN")
    patient_services.open_emergency_access(
        audit.Actor(user=world.cm_other), world.patient, REASON, 10
    )
    recipients = set(Notification.objects.values_list("recipient_id", flat=True))
    assert recipients == {world.supervisor.pk, second.pk}


def test_the_grant_expires(world):
    grant = patient_services.open_emergency_access(
        audit.Actor(user=world.cm_other), world.patient, REASON, 5
    )
    assert access.visible_patients(world.cm_other).filter(pk=world.patient.pk).exists()
    assert access.break_glass_grant_for(world.cm_other, world.patient) == grant
    BreakGlassGrant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not access.visible_patients(world.cm_other).filter(pk=world.patient.pk).exists()
    assert access.break_glass_grant_for(world.cm_other, world.patient) is None


def test_database_queue_holds_the_email_until_a_worker_runs_it(
    login, world, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from django_tasks_db.management.commands import db_worker
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = DATABASE
    world.supervisor.email = "sato@example.org"
    world.supervisor.save()
    with django_capture_on_commit_callbacks(execute=True):
        ask(login(world.cm_other), world.patient.mrn)
    queued = DBTaskResult.objects.get()
    assert queued.task_path == "careway.core.tasks.email_notification"
    assert queued.status == "READY" and mail.outbox == []
    # The worker recycles database connections between tasks; inside the test's transaction
    # that would close the connection holding the test data, so only that part is switched off.
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    queued.refresh_from_db()
    assert queued.status == "SUCCESSFUL"
    assert [m.to for m in mail.outbox] == [["sato@example.org"]]


def test_nothing_is_enqueued_when_the_grant_rolls_back(
    world, settings, django_capture_on_commit_callbacks
):
    from django.core.exceptions import ValidationError

    settings.TASKS = IMMEDIATE
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValidationError):
        patient_services.open_emergency_access(
            audit.Actor(user=world.cm_other), world.patient, "too short", 5
        )
    assert callbacks == [] and written() == (0, 0, 0)


@pytest.mark.redis
def test_redis_queue_runs_the_email_task(
    login, world, settings, django_capture_on_commit_callbacks
):
    require_service("Redis", "127.0.0.1", 6379)
    import django_rq
    from django_tasks_rq import Job
    from rq import SimpleWorker

    # A database number of this test's own, so other jobs on the shared Redis stay put.
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:6379/13"}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    queue = django_rq.get_queue("default", job_class=Job)
    queue.empty()
    world.supervisor.email = "sato@example.org"
    world.supervisor.save()
    with django_capture_on_commit_callbacks(execute=True):
        ask(login(world.cm_other), world.patient.mrn)
    assert queue.count == 1 and mail.outbox == []
    job = queue.jobs[0]
    assert job.func_name == "careway.core.tasks.email_notification"
    SimpleWorker([queue], connection=queue.connection, job_class=Job).work(burst=True)
    assert Job.fetch(job.id, connection=queue.connection).get_status() == "finished"
    assert [m.to for m in mail.outbox] == [["sato@example.org"]]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"reason": "needed it"}, "reason", "at least 15 characters"),
        ({"reason": ""}, "reason", "Give the reason"),
        ({"minutes": 61}, "minutes", "60 minutes or fewer"),
        ({"minutes": 0}, "minutes", "greater than or equal to 1"),
        ({"mrn": ""}, "mrn", "Give the MRN, or the family name and date of birth"),
        ({"mrn": "", "family_name": "Hale"}, "birth_date", "Give the date of birth"),
        ({"mrn": "", "birth_date": "1940-03-14"}, "family_name", "Give the family name"),
        ({"mrn": "", "family_name": "Hale", "birth_date": "14/03"}, "birth_date", "as a date"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(login, world, data, field, message):
    form = {"mrn": world.patient.mrn, "reason": REASON, "minutes": 30, **data}
    response = login(world.cm_other).post(URL, form)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert f'aria-describedby="id_{field}_helptext id_{field}_error"' in response.content.decode()
    assert written() == (0, 0, 0)


def test_unknown_mrn_is_a_clear_message_and_audited(login, world):
    response = ask(login(world.cm_other), "MRN-DOES-NOT-EXIST")
    assert "No patient in your agency matches" in response.content.decode()
    event = AuditEvent.objects.get(action="patient.break_glass")
    assert (event.outcome, event.detail["mrn"]) == ("failure", "MRN-DOES-NOT-EXIST")
    assert event.detail["why"] == "no patient matches" and event.reason == REASON
    assert written() == (0, 0, 0)


def test_someone_who_can_already_see_the_chart_gets_no_grant(login, world):
    response = ask(login(world.cm), world.patient.mrn)
    assert response.url == reverse("chart", kwargs={"patient_id": world.patient.pk})
    assert written() == (0, 0, 0)


# --- Notifications page --------------------------------------------------------------------


@pytest.fixture
def told(world, settings):
    settings.TASKS = IMMEDIATE
    patient_services.open_emergency_access(
        audit.Actor(user=world.cm_other), world.patient, REASON, 15
    )
    return world


def test_notifications_page_lists_mine_and_audits_the_patients_named(login, told):
    client = login(told.supervisor)
    page = client.get(reverse("notifications"))
    html = page.content.decode()
    assert "1 notification, 1 unread, newest first." in html
    assert "Emergency access by" in html and REASON in html
    listed = AuditEvent.objects.get(action="patient.list", actor_id=told.supervisor.pk)
    assert listed.patient_id == told.patient.pk and listed.detail == {"section": "notifications"}
    assert "No notifications" not in login(told.cm).get(reverse("notifications")).content.decode()
    assert list(login(told.cm).get(reverse("notifications")).context["page"]) == []


def test_mark_one_read_with_htmx_and_all_without(login, told):
    client = login(told.supervisor)
    notice = Notification.objects.get()
    fragment = client.post(
        reverse("notifications_mark_read"), {"id": notice.pk}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200 and "<h1>" not in fragment.content.decode()
    notice.refresh_from_db()
    assert notice.read_at is not None
    Notification.objects.update(read_at=None)
    assert client.post(reverse("notifications_mark_read")).url == reverse("notifications")
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_nobody_marks_someone_elses_notifications(login, told):
    notice = Notification.objects.get()
    login(told.cm).post(reverse("notifications_mark_read"), {"id": notice.pk})
    notice.refresh_from_db()
    assert notice.read_at is None


def test_notifications_query_count_is_constant(
    login, told, settings, django_assert_max_num_queries
):
    client = login(told.supervisor)
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("notifications"))
    for _ in range(5):
        patient_services.open_emergency_access(audit.Actor(user=told.rn), told.patient, REASON, 15)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("notifications"))


def test_the_chart_says_it_is_read_by_emergency_access(login, world):
    client = login(world.cm_other)
    reason = "Patient called the on-call line after a fall; her nurse is off today"
    client.post(reverse("break_glass"), {"mrn": world.patient.mrn, "reason": reason, "minutes": 30})
    chart = client.get(reverse("chart", kwargs={"patient_id": world.patient.pk}))
    assert chart.status_code == 200
    assert "Emergency access until" in chart.content.decode()
    own = login(world.cm).get(reverse("chart", kwargs={"patient_id": world.patient.pk}))
    assert "Emergency access until" not in own.content.decode()


# --- Finding the patient by family name and date of birth (issue 16, point 7) --------------


def by_name(client, family_name, birth_date="1940-03-14", given_name="", reason=REASON):
    form = {"family_name": family_name, "birth_date": birth_date, "given_name": given_name}
    return client.post(URL, {**form, "mrn": "", "reason": reason, "minutes": 30})


def failures(actor):
    return AuditEvent.objects.filter(
        action="patient.break_glass", outcome="failure", actor_id=actor.pk
    )


def test_one_exact_match_by_family_name_and_birth_date_opens_the_chart(login, world):
    response = by_name(login(world.cm_other), "hale")
    assert response.url == reverse("chart", kwargs={"patient_id": world.patient.pk})
    assert BreakGlassGrant.objects.get().patient == world.patient
    event = AuditEvent.objects.get(action="patient.break_glass", outcome="success")
    assert event.detail["found_by"] == "name and date of birth"


def test_the_family_name_matches_without_case_accents_or_extra_spaces(login, world):
    patient_services.update_patient(
        audit.Actor(user=world.cm),
        world.patient,
        {"family_name": "Hålé-Núñez"},
        world.patient.version,
    )
    response = by_name(login(world.cm_other), "  HALE-nunez ")
    assert response.status_code == 302
    assert BreakGlassGrant.objects.get().patient == world.patient


def test_a_near_match_is_no_match(login, world):
    client = login(world.cm_other)
    near = (("Hal", "1940-03-14"), ("Hales", "1940-03-14"), ("Hale", "1940-03-15"))
    for family_name, birth_date in near:
        response = by_name(client, family_name, birth_date)
        assert response.status_code == 400
        assert "No patient in your agency matches" in response.content.decode()
    assert written() == (0, 0, 0)


def test_several_exact_matches_ask_for_the_given_name_without_listing_them(login, world):
    from tests.factories import make_patient

    twin = make_patient(world.branch, world.cm, given_name="Martha", family_name="Hale")
    client = login(world.cm_other)
    response = by_name(client, "Hale")
    html = response.content.decode()
    assert response.status_code == 400
    assert "More than one patient" in " ".join(response.context["form"].errors["given_name"])
    for name in ("Margaret", "Martha", world.patient.mrn, twin.mrn):
        assert name not in html
    assert written() == (0, 0, 0)
    response = by_name(client, "Hale", given_name="martha")
    assert response.url == reverse("chart", kwargs={"patient_id": twin.pk})


def test_no_match_reads_the_same_whether_the_patient_is_in_another_agency_or_nowhere(login, world):
    client = login(world.outsider)
    elsewhere = by_name(client, "Hale", "1940-03-14")  # agency A's patient
    nowhere = by_name(client, "Hale", "1951-07-02")
    assert elsewhere.status_code == nowhere.status_code == 400
    assert elsewhere.context["form"].errors == nowhere.context["form"].errors
    assert written() == (0, 0, 0)


def test_every_search_that_opens_nothing_is_audited_with_what_was_asked(login, world):
    client = login(world.cm_other)
    by_name(client, "Nobody", "1951-07-02", reason="Patient on the phone, short of breath")
    event = failures(world.cm_other).get()
    assert event.detail == {
        "family_name": "Nobody",
        "birth_date": "1951-07-02",
        "given_name": "",
        "why": "no patient matches",
    }
    assert event.reason == "Patient on the phone, short of breath"


def test_searches_that_open_nothing_are_limited(login, world):
    client = login(world.cm_other)
    for attempt in range(patient_services.EMERGENCY_SEARCH_LIMIT):
        by_name(client, f"Nobody{attempt}")
    # Even the right details are refused now: the limit stops browsing by guesses.
    response = by_name(client, "Hale")
    assert response.status_code == 429
    assert "Too many searches" in response.content.decode()
    assert written() == (0, 0, 0)
    assert failures(world.cm_other).last().detail["why"] == "too many searches"
    # A colleague is not limited by someone else's searches.
    assert by_name(login(world.rn), "Nobody").status_code == 400


def test_the_search_needs_the_mrn_or_both_family_name_and_birth_date(login, world):
    client = login(world.cm_other)
    response = client.post(URL, {"family_name": "Hale", "reason": REASON, "minutes": 30})
    assert response.status_code == 400
    assert "date of birth" in " ".join(response.context["form"].errors["birth_date"])
    response = client.post(URL, {"reason": REASON, "minutes": 30})
    assert "MRN, or the family name and date of birth" in " ".join(
        response.context["form"].errors["mrn"]
    )
    # What was typed stays in the form.
    assert REASON in response.content.decode()
    assert written() == (0, 0, 0)


def test_the_chart_has_one_emergency_banner_with_one_time_in_the_agencys_zone(
    login, world, settings
):
    world.org.timezone = "America/Chicago"
    world.org.save()
    client = login(world.cm_other)
    response = ask(client, world.patient.mrn, minutes=30)
    chart = client.get(response.url)
    html = chart.content.decode()
    grant = BreakGlassGrant.objects.get()
    from zoneinfo import ZoneInfo

    until = grant.expires_at.astimezone(ZoneInfo("America/Chicago")).strftime("%H:%M")
    assert html.count("Emergency access until") == 1
    assert f"Emergency access until {until} (30 minutes left)" in html
    assert "break-the-glass" not in html  # the old second banner and its other time format
    assert not list(chart.context["messages"])


def test_asking_again_while_a_grant_runs_opens_a_new_grant_not_already_open(login, world):
    client = login(world.cm_other)
    ask(client, world.patient.mrn, minutes=5)
    response = ask(client, world.patient.mrn, minutes=30)
    assert response.url == reverse("chart", kwargs={"patient_id": world.patient.pk})
    assert BreakGlassGrant.objects.count() == 2
    chart = client.get(response.url)
    assert "no emergency access was needed" not in chart.content.decode()
    assert "(30 minutes left)" in chart.content.decode()

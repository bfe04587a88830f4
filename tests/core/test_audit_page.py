"""The audit log page, its CSV export and `careway audit verify`."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from careway.core import audit
from careway.core.models import AuditEvent
from tests.core.test_audit_chain import _tamper

pytestmark = pytest.mark.django_db
NOT_AUDITORS = ["admin", "supervisor", "cm", "cm_other", "rn", "scheduler", "outsider"]


def urls():
    return [reverse("audit_log"), reverse("audit_export")]


def rows_of(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_anonymous_is_sent_to_sign_in(client, world):
    for url in urls():
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_auditor_sees_the_page_and_the_export(login, world):
    client = login(world.auditor)
    for url in urls():
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("who", NOT_AUDITORS)
def test_everyone_else_gets_404_and_nothing_is_exported(login, world, who):
    client = login(world.users()[who])
    for url in urls():
        assert client.get(url).status_code == 404
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_events_name_their_patient_through_the_directory_patients_registers(login, world):
    audit.record(audit.Actor(user=world.cm), "patient.view", patient_id=world.patient.pk)
    # An event about a patient of another agency never shows that patient's name here.
    audit.record(audit.Actor(user=world.cm), "patient.view", patient_id=world.outsider_patient.pk)
    html = login(world.auditor).get(reverse("audit_log")).content.decode()
    assert "Hale, Margaret" in html and f"MRN {world.patient.mrn}" in html
    assert "Berg, Otto" not in html and world.outsider_patient.mrn not in html


def test_only_the_agencys_own_events_are_listed(login, world):
    audit.record(
        audit.Actor(user=world.outsider), "patient.view", patient_id=world.outsider_patient.pk
    )
    audit.record(audit.Actor(user=world.cm), "patient.view", patient_id=world.patient.pk)
    page = login(world.auditor).get(reverse("audit_log"))
    events = list(page.context["page"].object_list)
    assert events and all(e.organization_id == world.org.pk for e in events)
    exported = rows_of(login(world.auditor).get(reverse("audit_export")))
    assert world.outsider.username not in {row["actor_username"] for row in exported}


@pytest.fixture
def trail(world):
    """A small trail: two people, two patients' worth of actions, a denial, an old event."""
    cm, other = audit.Actor(user=world.cm), audit.Actor(user=world.cm_other)
    audit.record(cm, "patient.view", patient_id=world.patient.pk, detail={"section": "summary"})
    audit.record(cm, "patient.update", patient_id=world.patient.pk)
    audit.record(other, "patient.view", patient_id=world.patient.pk, outcome="denied")
    audit.record(other, "auth.login")
    return world


def listed(client, **filters):
    response = client.get(reverse("audit_log"), filters)
    assert response.status_code == 200
    return response, list(response.context["page"].object_list)


def test_filters_by_user_patient_action_and_outcome(login, trail):
    client = login(trail.auditor)
    _, by_user = listed(client, user=trail.cm_other.pk)
    assert {e.actor_id for e in by_user} == {trail.cm_other.pk}
    _, by_patient = listed(client, patient=str(trail.patient.pk))
    _, by_mrn = listed(client, patient=trail.patient.mrn)
    assert by_patient == by_mrn and {e.patient_id for e in by_mrn} == {trail.patient.pk}
    _, views = listed(client, action="patient.view")
    assert {e.action for e in views} == {"patient.view"}
    _, denied = listed(client, outcome="denied")
    assert [(e.actor_id, e.action) for e in denied] == [(trail.cm_other.pk, "patient.view")]
    _, nobody = listed(client, patient="NO-SUCH-MRN")
    assert nobody == []


def test_filters_by_day_in_the_agency_time_zone(login, trail):
    client = login(trail.auditor)
    today = timezone.localdate(timezone=timezone.get_fixed_timezone(0))
    _, future = listed(client, since=str(today + timedelta(days=2)))
    assert future == []
    _, recent = listed(
        client, since=str(today - timedelta(days=1)), until=str(today + timedelta(1))
    )
    assert len(recent) == AuditEvent.objects.filter(organization_id=trail.org.pk).count()
    response, none = listed(client, since=str(today), until=str(today - timedelta(days=3)))
    assert none == [] and "before the start date" in response.content.decode()


def test_sorting_is_stated_and_applied(login, trail):
    client = login(trail.auditor)
    response, newest = listed(client)
    assert "sorted newest first" in response.content.decode()
    assert newest == sorted(newest, key=lambda e: (e.occurred_at, e.seq), reverse=True)
    response, by_user = listed(client, sort="user")
    assert "sorted user A to Z" in response.content.decode()
    names = [e.actor_username for e in by_user]
    assert names == sorted(names)
    _, by_action = listed(client, sort="-action")
    actions = [e.action for e in by_action]
    assert actions == sorted(actions, reverse=True)


def test_pages_hold_fifty_and_say_how_many(login, world):
    audit.record_many(audit.Actor(user=world.cm), "patient.list", [world.patient.pk] * 120)
    total = AuditEvent.objects.filter(organization_id=world.org.pk).count()
    response, first = listed(login(world.auditor))
    assert len(first) == 50
    assert f"{total} events, sorted newest first" in response.content.decode()
    _, last = listed(login(world.auditor), page=3)
    assert len(last) == total - 100


def test_htmx_gets_only_the_results(login, trail):
    response = login(trail.auditor).get(
        reverse("audit_log"), {"outcome": "denied"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<h1>" not in html and "1 event, sorted newest first" in html


def test_page_query_count_is_constant(login, world, django_assert_max_num_queries):
    client = login(world.auditor)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("audit_log"))
    audit.record_many(audit.Actor(user=world.cm), "patient.list", [world.patient.pk] * 60)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("audit_log"))


def test_csv_export_streams_the_filtered_rows_and_is_audited(login, trail):
    client = login(trail.auditor)
    response = client.get(reverse("audit_export"), {"user": trail.cm.pk, "action": "patient."})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = rows_of(response)
    assert [row["action"] for row in rows] == ["patient.update", "patient.view", "patient.create"]
    assert all(row["actor_username"] == "cm_rivera" for row in rows)
    assert {row["patient_id"] for row in rows} == {str(trail.patient.pk)}
    export = AuditEvent.objects.get(action="audit.export")
    assert export.actor_id == trail.auditor.pk
    assert export.detail == {"filters": {"user": str(trail.cm.pk), "action": "patient."}}


def test_csv_cells_cannot_become_spreadsheet_formulas(login, world):
    audit.record(audit.Actor(user=world.cm), "patient.view", reason='=HYPERLINK("x")')
    rows = rows_of(login(world.auditor).get(reverse("audit_export"), {"action": "patient.view"}))
    assert rows[0]["reason"] == '\'=HYPERLINK("x")'


def test_csv_export_streams_lazily(login, world, django_assert_num_queries):
    audit.record_many(audit.Actor(user=world.cm), "patient.list", [world.patient.pk] * 30)
    response = login(world.auditor).get(reverse("audit_export"))
    stream = iter(response.streaming_content)
    # The response is returned before any event is read; rows are fetched as they are sent.
    with django_assert_num_queries(0):
        header = next(stream).decode()
    assert header.startswith("occurred_at_utc,chain,seq")
    with django_assert_num_queries(1):
        rows = list(stream)
    assert len(rows) == AuditEvent.objects.filter(organization_id=world.org.pk).count()


def test_verify_command_reports_an_intact_chain(world, capsys):
    audit.record(audit.Actor(user=world.cm), "auth.login")
    call_command("audit", "verify")
    out = capsys.readouterr().out
    assert f"Checked {AuditEvent.objects.count()} audit events." in out
    assert "audit chain intact" in out


def test_verify_command_fails_on_a_tampered_row(world, capsys):
    actor = audit.Actor(user=world.cm)
    for n in range(4):
        audit.record(actor, "patient.view", patient_id=world.patient.pk, reason=f"look {n}")
    target = AuditEvent.objects.get(chain_id=world.org.pk, seq=3)
    _tamper("UPDATE core_auditevent SET reason = 'changed' WHERE id = %s", [target.pk])
    with pytest.raises(CommandError) as failed:
        call_command("audit", "verify")
    assert failed.value.returncode == 1
    err = capsys.readouterr().err
    assert f"chain {world.org.pk}, event 3: content does not match its hash (edited)" in err


def test_column_headers_sort_and_say_which_way(login, trail):
    client = login(trail.auditor)
    html = client.get(reverse("audit_log")).content.decode()
    assert 'aria-sort="descending"><a class="sort-link" href="?sort=time">Time ▼' in html
    assert 'href="?sort=user">User' in html
    html = client.get(reverse("audit_log"), {"sort": "user", "outcome": "denied"}).content.decode()
    reverse_link = 'href="?sort=-user&amp;outcome=denied"'
    assert f'aria-sort="ascending"><a class="sort-link" {reverse_link}' in html


# --- issue 16: plain words, whole ids, and a search by the patient's name -----------------------


def _visible(html: str) -> str:
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_details_read_as_labelled_values_and_objects_by_their_name(login, world):
    audit.record(
        audit.Actor(user=world.cm),
        "patient.view",
        patient_id=world.patient.pk,
        obj=world.patient,
        detail={"section": "summary", "time_point": "start-of-care", "roles": ["a", "b"]},
    )
    html = login(world.auditor).get(reverse("audit_log")).content.decode()
    text = _visible(html)
    assert "patients.patient" not in text and "Patient" in text
    results = html[html.index('id="audit-results"') :]
    assert '{"' not in results and "{&quot;" not in results and "&quot;section" not in results
    assert "Section" in text and "summary" in text
    assert "Time point" in text and "start-of-care" in text and "a, b" in text


def test_ids_are_shown_whole(login, world):
    audit.record(
        audit.Actor(user=world.cm), "patient.view", patient_id=world.patient.pk, obj=world.patient
    )
    text = _visible(login(world.auditor).get(reverse("audit_log")).content.decode())
    assert text.count(str(world.patient.pk)) >= 2  # the patient and the object, not clipped
    assert "…" not in text


def test_searches_by_patient_name_and_by_part_of_an_mrn(login, trail):
    client = login(trail.auditor)
    expected = {trail.patient.pk}
    for typed in ("Hale", "hale", "Margaret", "Margaret Hale", "Hale, Margaret", "hale marg"):
        _, found = listed(client, patient=typed)
        assert found and {e.patient_id for e in found} == expected, typed
    _, by_mrn = listed(client, patient=trail.patient.mrn.lower())
    assert {e.patient_id for e in by_mrn} == expected
    _, nobody = listed(client, patient="Margaret Smith")
    assert nobody == []


def test_a_patient_of_another_agency_is_never_found_by_name(login, world):
    # An attempt on the other agency's patient is on this agency's trail by id only.
    audit.record(
        audit.Actor(user=world.cm),
        "patient.view",
        patient_id=world.outsider_patient.pk,
        outcome="denied",
    )
    client = login(world.auditor)
    for typed in ("Berg", "Otto", world.outsider_patient.mrn):
        _, found = listed(client, patient=typed)
        assert found == [], typed

"""The example domain works end to end through the shared frame: its section on the chart, its
column on the caseload, its write through an audited service."""

import pytest
from django.urls import reverse

from careway.core.models import AuditEvent

from .models import ExampleNote

pytestmark = pytest.mark.django_db


def test_a_member_adds_a_note_that_the_chart_and_caseload_show(login, world):
    client = login(world.cm)
    url = reverse("example_note_create", args=[world.patient.pk])
    response = client.post(url, {"text": "Brought the walker upstairs."})
    assert response.url == reverse("chart_section", args=[world.patient.pk, "example-notes"])
    note = ExampleNote.objects.get()
    assert (note.patient, note.organization, note.version) == (world.patient, world.org, 1)
    event = AuditEvent.objects.get(action="example_note.create")
    assert (event.actor_id, event.patient_id) == (world.cm.pk, world.patient.pk)
    section = client.get(response.url).content.decode()
    assert "Brought the walker upstairs." in section and "1 note," in section
    caseload = client.get(reverse("caseload"), {"sort": "-example-notes"}).content.decode()
    assert "sorted by notes (descending)" in caseload


def test_an_empty_note_is_refused_with_a_message_and_nothing_written(login, world):
    client = login(world.cm)
    url = reverse("example_note_create", args=[world.patient.pk])
    page = client.post(url, {"text": "  "}, follow=True)
    assert "write the note before adding it" in page.content.decode()
    assert not ExampleNote.objects.exists()

"""Every update keeps the version it replaces, and an old version reads back as it was."""

import pytest

from careway.core import audit
from careway.patients import history, services
from careway.patients.models import Observation, Patient, RecordVersion, RelatedPerson

pytestmark = pytest.mark.django_db


def test_an_update_keeps_the_version_it_replaces(world):
    actor = audit.Actor(user=world.cm)
    before = Patient.objects.get(pk=world.patient.pk)
    services.update_patient(actor, before, {"city": "Albany", "phone_home": "518-555-0100"}, 1)
    services.update_patient(actor, Patient.objects.get(pk=before.pk), {"city": "Troy"}, 2)

    first = history.as_of(Patient, before.pk, 1)
    second = history.as_of(Patient, before.pk, 2)
    assert first is not None and second is not None
    for field in before._meta.concrete_fields:
        assert getattr(first, field.attname) == getattr(before, field.attname), field.name
    assert (second.version, second.city, second.phone_home) == (2, "Albany", "518-555-0100")
    assert Patient.objects.get(pk=before.pk).version == 3
    assert [v.version for v in history.versions(Patient, before.pk)] == [1, 2]
    assert history.as_of(Patient, before.pk, 3) is None  # the live row is the newest


def test_an_update_that_changes_nothing_keeps_nothing(world):
    patient = Patient.objects.get(pk=world.patient.pk)
    services.update_patient(audit.Actor(user=world.cm), patient, {"city": patient.city}, 1)
    assert not RecordVersion.objects.exists()


def test_a_contacts_history_is_kept_too(world):
    actor = audit.Actor(user=world.cm)
    contact = services.add_contact(
        actor, world.patient, {"name": "Ann Hale", "relationship": "child"}
    )
    services.update_contact(actor, contact, {"phone": "555-0101"}, 1)
    old = history.as_of(RelatedPerson, contact.pk, 1)
    assert old is not None and old.phone == "" and old.patient_id == world.patient.pk


def test_blood_pressure_taken_together_is_one_panel(world):
    saved = services.record_observations(
        audit.Actor(user=world.cm),
        world.patient,
        [
            {
                "code": code,
                "display": name,
                "category": "vital-signs",
                "value": value,
                "unit": "mm[Hg]",
                "effective_at": "2026-11-20T10:00:00Z",
            }
            for code, name, value in [
                ("8480-6", "Systolic blood pressure", 128),
                ("8462-4", "Diastolic blood pressure", 76),
                ("8867-4", "Heart rate", 70),
            ]
        ],
    )
    by_code = {o.code: Observation.objects.get(pk=o.pk) for o in saved}
    systolic, diastolic, pulse = by_code["8480-6"], by_code["8462-4"], by_code["8867-4"]
    assert systolic.panel_id is not None and systolic.panel_id == diastolic.panel_id
    assert systolic.panel_code == diastolic.panel_code == "85354-9"
    assert pulse.panel_id is None and pulse.panel_code == ""

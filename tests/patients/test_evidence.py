"""The evidence hook (careway/patients/evidence.py): listeners hear of every write to the chart,
after each one or, inside `held()`, once at the end for every patient the block wrote to."""

import pytest

from careway.core import audit
from careway.patients import evidence, services
from careway.patients.models import Condition
from tests.factories import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard(monkeypatch):
    """A listener beside the registered ones, recording (actor, patients) for each call."""
    calls: list[tuple[audit.Actor, set]] = []
    listener = evidence.EvidenceListener("test-ear", lambda a, ids: calls.append((a, set(ids))))
    entries = dict(evidence.EVIDENCE_LISTENERS._entries, **{listener.key: listener})
    monkeypatch.setattr(evidence.EVIDENCE_LISTENERS, "_entries", entries)
    return calls


def condition(name: str) -> dict:
    return {"display": name, "code_system": "http://snomed.info/sct", "code": "84114007"}


def test_each_write_is_heard_as_it_happens(world, heard):
    actor = audit.Actor(user=world.cm)
    services.add_condition(actor, world.patient, condition("Heart failure"))
    services.add_condition(actor, world.patient, condition("COPD"))
    assert heard == [(actor, {world.patient.pk})] * 2


def test_held_writes_are_heard_once_at_the_end_per_actor(world, heard):
    cm, nurse = audit.Actor(user=world.cm), audit.Actor(user=None, via="demo")
    second = make_patient(world.branch, world.cm, given_name="Ada", family_name="Lind")
    heard.clear()
    with evidence.held():
        services.add_condition(cm, world.patient, condition("Heart failure"))
        services.add_condition(cm, second, condition("COPD"))
        services.add_condition(nurse, world.patient, condition("Diabetes"))
        with evidence.held():  # an inner block leaves the telling to the outer one
            services.add_condition(cm, world.patient, condition("Stroke"))
        assert heard == []
    assert heard == [(cm, {world.patient.pk, second.pk}), (nurse, {world.patient.pk})]


def test_a_failed_block_keeps_nothing_and_tells_no_one(world, heard):
    actor = audit.Actor(user=world.cm)
    with pytest.raises(RuntimeError), evidence.held():
        services.add_condition(actor, world.patient, condition("Heart failure"))
        raise RuntimeError("the writer failed half way")
    assert heard == []
    assert not Condition.objects.filter(patient=world.patient, display="Heart failure").exists()
    services.add_condition(actor, world.patient, condition("COPD"))  # heard again, at once
    assert heard == [(actor, {world.patient.pk})]

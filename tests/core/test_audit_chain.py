import itertools

import pytest
from django.db import connection

from careway.core import audit
from careway.core.models import AuditChain, AuditEvent

pytestmark = pytest.mark.django_db


def _events(world, n):
    actor = audit.Actor(user=world.cm, client_address="10.0.0.7")
    for i in range(n):
        audit.record(actor, "patient.view", patient_id=world.patient.pk, reason=f"look {i}")
    audit.record_many(actor, "patient.list", [world.patient.pk, world.outsider_patient.pk])


def test_chain_verifies_when_untouched(world):
    _events(world, 5)
    checked, broken = audit.verify_all()
    assert checked == AuditEvent.objects.count()
    assert broken == []


def test_events_are_append_only_in_python_and_in_the_database(world):
    _events(world, 1)
    event = AuditEvent.objects.filter(chain_id=world.org.pk).first()
    event.reason = "changed"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(Exception, match="append-only"), connection.cursor() as cur:
        cur.execute("UPDATE core_auditevent SET reason = 'x' WHERE id = %s", [event.pk])


def _tamper(sql, params):
    """Do what a database owner could: switch the guard off, change a row, switch it back."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_append_only")
            cur.execute(sql, params)
            cur.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_append_only")
        else:
            cur.execute("DROP TRIGGER core_auditevent_no_update")
            cur.execute("DROP TRIGGER core_auditevent_no_delete")
            cur.execute(sql, params)


def test_verify_reports_the_first_edited_event(world):
    _events(world, 6)
    target = AuditEvent.objects.get(chain_id=world.org.pk, seq=4)
    _tamper("UPDATE core_auditevent SET reason = 'nothing to see' WHERE id = %s", [target.pk])
    _, broken = audit.verify_all()
    assert [(b.chain_id, b.seq) for b in broken] == [(world.org.pk, 4)]
    assert "edited" in broken[0].problem


def test_verify_reports_a_deleted_event(world):
    _events(world, 6)
    target = AuditEvent.objects.get(chain_id=world.org.pk, seq=3)
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [target.pk])
    _, broken = audit.verify_all()
    assert [(b.chain_id, b.seq) for b in broken] == [(world.org.pk, 3)]
    assert "deleted" in broken[0].problem


def test_verify_reports_the_newest_event_deleted(world):
    _events(world, 3)
    last = AuditEvent.objects.filter(chain_id=world.org.pk).order_by("-seq").first()
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [last.pk])
    _, broken = audit.verify_all()
    assert [(b.chain_id, b.seq) for b in broken] == [(world.org.pk, last.seq)]


def test_record_many_writes_one_linked_event_per_patient(world):
    before = AuditEvent.objects.filter(chain_id=world.org.pk).count()
    audit.record_many(audit.Actor(user=world.cm), "patient.list", [world.patient.pk] * 3)
    rows = list(AuditEvent.objects.filter(chain_id=world.org.pk).order_by("seq")[before:])
    assert len(rows) == 3
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert audit.verify_all()[1] == []


def test_record_many_can_name_a_record_of_each_patient(world):
    actor = audit.Actor(user=world.cm)
    audit.record_many(
        actor, "goal.evaluate", [world.patient.pk] * 2, object_type="careplans.goal",
        object_ids=["g1", "g2"], detail={"to": "improving"},
    )  # fmt: skip
    rows = AuditEvent.objects.filter(action="goal.evaluate").order_by("seq")
    assert [(r.patient_id, r.object_type, r.object_id) for r in rows] == [
        (world.patient.pk, "careplans.goal", "g1"),
        (world.patient.pk, "careplans.goal", "g2"),
    ]
    assert audit.verify_all()[1] == []
    with pytest.raises(ValueError):
        audit.record_many(actor, "goal.evaluate", [world.patient.pk], object_ids=["a", "b"])


def test_a_long_list_is_written_in_several_inserts_and_still_links(world):
    ids = [world.patient.pk] * 1203
    audit.record_many(audit.Actor(user=world.cm), "patient.list", ids)
    assert AuditEvent.objects.filter(chain_id=world.org.pk, action="patient.list").count() == 1203
    assert audit.verify_all()[1] == []


def test_the_database_stores_what_the_hash_covers(world):
    """The raw insert must store each value exactly as the ORM reads it back, on both databases."""
    actor = audit.Actor(user=world.cm, client_address="2001:db8::7", via="api")
    audit.record(
        actor,
        "patient.view",
        patient_id=world.patient.pk,
        reason="ünïcode ✓",
        detail={"section": "vitals", "n": 3, "nested": {"a": [1, None]}},
    )
    stored = AuditEvent.objects.filter(chain_id=world.org.pk).order_by("-seq").first()
    assert stored.patient_id == world.patient.pk
    assert stored.detail == {"section": "vitals", "n": 3, "nested": {"a": [1, None]}, "via": "api"}
    assert audit.event_hash(stored) == stored.hash


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_on_postgresql_keep_one_unbroken_chain():
    """Eight threads append at once: every event gets its own number and the chain holds."""
    import threading

    from django.db import connections

    from tests.factories import make_org, make_user

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises writers itself)")
    org, branch = make_org("Concurrent Home Health")
    user = make_user(org, branch, "case_manager", "cm_threads")
    errors = []

    def append_many():
        try:
            actor = audit.Actor(user=user, client_address="10.1.1.1", via="api")
            for i in range(25):
                audit.record(actor, "patient.view", reason=f"read {i}")
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seqs = list(AuditEvent.objects.filter(chain_id=org.pk).values_list("seq", flat=True))
    assert sorted(seqs) == list(range(1, 201))
    assert audit.verify_chain(org.pk) is None


def _delete_chain(chain_id):
    """What an owner could do to make an agency's trail vanish: its events and its head."""
    _tamper("DELETE FROM core_auditevent WHERE chain_id = %s", [chain_id])
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditchain WHERE chain_id = %s", [chain_id])


def test_verify_reports_an_agency_whose_whole_chain_was_deleted(world):
    _events(world, 3)
    _delete_chain(world.other_org.pk)
    assert not AuditEvent.objects.filter(chain_id=world.other_org.pk).exists()
    _, broken = audit.verify_all()
    assert [(b.chain_id, b.problem) for b in broken] == [
        (world.other_org.pk, "the agency's chain is missing (its head was deleted)")
    ]


def test_an_agency_has_its_chain_from_the_start(db):
    from tests.factories import make_org

    org, _ = make_org("Quiet Home Health")
    head = AuditChain.objects.get(chain_id=org.pk)
    assert (head.last_seq, head.last_hash) == (0, audit.GENESIS_HASH)
    assert audit.verify_all()[1] == []


def test_verify_reports_a_deleted_head_whose_events_remain(world):
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditchain WHERE chain_id = %s", [world.org.pk])
    _, broken = audit.verify_all()
    assert [(b.chain_id, b.problem) for b in broken] == [
        (world.org.pk, "the agency's chain is missing (its head was deleted)")
    ]

import pytest
from django.core.exceptions import PermissionDenied

from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients import access
from careway.patients.access import Action
from careway.patients.models import BreakGlassGrant
from tests.factories import make_patient

pytestmark = pytest.mark.django_db


def test_care_team_member_sees_their_patient(world):
    assert list(access.visible_patients(world.cm)) == [world.patient]
    assert list(access.visible_patients(world.rn)) == [world.patient]


def test_colleague_off_the_team_sees_nothing_and_is_audited(world):
    actor = audit.Actor(user=world.cm_other)
    with pytest.raises(access.NotVisible):
        access.get_patient_for(actor, world.patient.pk)
    denied = AuditEvent.objects.get(outcome="denied")
    assert denied.patient_id == world.patient.pk
    assert denied.actor_id == world.cm_other.pk


def test_other_agency_patient_is_the_same_404_as_a_missing_one(world):
    actor = audit.Actor(user=world.outsider)
    with pytest.raises(access.NotVisible) as real:
        access.get_patient_for(actor, world.patient.pk)
    with pytest.raises(access.NotVisible) as missing:
        access.get_patient_for(actor, "00000000-0000-0000-0000-000000000000")
    assert str(real.value) == str(missing.value)


def test_supervisor_sees_the_whole_branch(world):
    second = make_patient(world.branch, world.cm_other)
    assert set(access.visible_patients(world.supervisor)) == {world.patient, second}


def test_admin_and_auditor_do_not_read_charts(world):
    for user in (world.admin, world.auditor):
        assert not access.visible_patients(user).exists()


def test_scheduler_reads_but_may_not_edit(world):
    actor = audit.Actor(user=world.scheduler)
    assert access.get_patient_for(actor, world.patient.pk) == world.patient
    with pytest.raises(PermissionDenied):
        access.get_patient_for(actor, world.patient.pk, access.Action.EDIT)


def test_break_glass_grant_gives_read_until_it_expires(world):
    from datetime import timedelta

    from django.utils import timezone

    grant = BreakGlassGrant.objects.create(
        organization=world.org,
        user=world.cm_other,
        patient=world.patient,
        reason="Patient fell, on call",
        expires_at=timezone.now() + timedelta(minutes=30),
    )
    actor = audit.Actor(user=world.cm_other)
    assert access.get_patient_for(actor, world.patient.pk) == world.patient
    with pytest.raises(PermissionDenied):
        access.get_patient_for(actor, world.patient.pk, access.Action.EDIT)
    grant.expires_at = timezone.now() - timedelta(seconds=1)
    grant.save()
    with pytest.raises(access.NotVisible):
        access.get_patient_for(actor, world.patient.pk)


def test_the_one_patient_check_agrees_with_the_list_for_every_user(world):
    """get_patient_for decides one patient with its own query; it must match visible_patients."""
    from datetime import timedelta

    from django.utils import timezone

    second = make_patient(world.branch, world.cm_other)
    BreakGlassGrant.objects.create(
        organization=world.org,
        user=world.rn,
        patient=second,
        reason="Covering a visit tonight",
        expires_at=timezone.now() + timedelta(minutes=30),
    )
    patients = [world.patient, second, world.outsider_patient]
    for user in world.users().values():
        listed = set(access.visible_patients(user))
        for patient in patients:
            try:
                access.get_patient_for(audit.Actor(user=user), patient.pk)
                readable = True
            except access.NotVisible:
                readable = False
            assert readable == (patient in listed), (user.username, patient.given_name)


def _note(world):
    from tests.example_domain import services as note_services

    return note_services.add_note(audit.Actor(user=world.cm), world.patient, "Walker upstairs")


def test_a_record_is_found_with_its_patient_for_the_team(world):
    from tests.example_domain.models import ExampleNote

    note = _note(world)
    found = access.get_record_for(audit.Actor(user=world.cm), ExampleNote, note.pk, Action.EDIT)
    assert found == note and found.patient == world.patient


@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_a_record_not_yours_is_the_same_404_as_none_and_is_audited(world, who):
    from tests.example_domain.models import ExampleNote

    note = _note(world)
    actor = audit.Actor(user=getattr(world, who))
    for record_id in (note.pk, 10**9, "not-a-number"):
        with pytest.raises(access.NotVisible):
            access.get_record_for(actor, ExampleNote, record_id)
    denied = AuditEvent.objects.filter(actor_id=actor.user.pk, outcome=AuditEvent.Outcome.DENIED)
    assert denied.count() == 3


def test_changing_a_record_needs_its_domains_own_permission(world, monkeypatch):
    from tests.example_domain.models import ExampleNote

    note = _note(world)
    actor = audit.Actor(user=world.cm)
    monkeypatch.setattr(ExampleNote, "edit_permission", "a.permission.nobody.holds")
    assert access.get_record_for(actor, ExampleNote, note.pk, Action.VIEW) == note
    with pytest.raises(PermissionDenied):
        access.get_record_for(actor, ExampleNote, note.pk, Action.EDIT)
    # The chart itself is still theirs to change: the permission is the record's domain's.
    assert access.get_patient_for(actor, world.patient.pk, Action.EDIT) == world.patient

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients import services
from careway.patients.models import CareTeamMember, Patient

pytestmark = pytest.mark.django_db


def test_create_patient_registers_episode_primary_case_manager_and_audit(world):
    actor = audit.Actor(user=world.cm)
    patient = services.create_patient(
        actor,
        world.branch,
        {
            "mrn": "R-1001",
            "given_name": "Ines",
            "family_name": "Duarte",
            "birth_date": date(1938, 5, 2),
            "sex": "female",
        },
    )
    assert patient.organization == world.org
    primary = CareTeamMember.objects.get(patient=patient, is_primary_case_manager=True)
    assert primary.user == world.cm
    assert AuditEvent.objects.filter(action="patient.create", patient_id=patient.pk).count() == 1


def test_ownership_fields_cannot_be_set_through_data(world):
    actor = audit.Actor(user=world.cm)
    with pytest.raises(ValidationError) as err:
        services.update_patient(
            actor, world.patient, {"organization_id": world.other_org.pk}, world.patient.version
        )
    assert "organization_id" in err.value.message_dict
    world.patient.refresh_from_db()
    assert world.patient.organization == world.org


def test_patient_cannot_be_created_in_another_agencys_branch(world):
    with pytest.raises(ValidationError) as err:
        services.create_patient(
            audit.Actor(user=world.cm),
            world.other_branch,
            {
                "mrn": "X",
                "given_name": "A",
                "family_name": "B",
                "birth_date": date(1940, 1, 1),
                "sex": "male",
            },
        )
    assert "branch" in err.value.message_dict
    assert not Patient.objects.filter(mrn="X").exists()


def test_stale_version_is_a_conflict_and_changes_nothing(world):
    actor = audit.Actor(user=world.cm)
    version = world.patient.version
    services.update_patient(actor, world.patient, {"preferred_name": "Peggy"}, version)
    with pytest.raises(services.VersionConflict) as conflict:
        services.update_patient(actor, world.patient, {"preferred_name": "Maggie"}, version)
    assert conflict.value.current.preferred_name == "Peggy"
    world.patient.refresh_from_db()
    assert world.patient.preferred_name == "Peggy"
    assert world.patient.version == version + 1


def test_an_update_that_changes_nothing_keeps_the_version_and_writes_no_event(world):
    actor = audit.Actor(user=world.cm)
    before = AuditEvent.objects.count()
    same = services.update_patient(
        actor, world.patient, {"given_name": world.patient.given_name}, world.patient.version
    )
    assert same.version == world.patient.version
    assert AuditEvent.objects.count() == before


def test_a_set_of_vitals_is_kept_whole_or_not_at_all(world):
    from django.utils import timezone

    from careway.patients.models import Observation

    actor = audit.Actor(user=world.rn)
    now = timezone.now()
    rows = [
        {
            "code": "8867-4",
            "display": "Heart rate",
            "category": "vital-signs",
            "value": 72,
            "unit": "/min",
            "effective_at": now,
        },
        {
            "code": "8310-5",
            "display": "Body temperature",
            "category": "not-a-category",
            "value": 37.0,
            "unit": "Cel",
            "effective_at": now,
        },
    ]
    with pytest.raises(ValidationError) as err:
        services.record_observations(actor, world.patient, rows)
    assert "8310-5.category" in err.value.message_dict
    assert not Observation.objects.filter(patient=world.patient).exists()


def test_new_primary_case_manager_replaces_the_old_one(world):
    episode = world.patient.episodes.get()
    services.add_care_team_member(
        audit.Actor(user=world.supervisor),
        episode,
        role=CareTeamMember.TeamRole.CASE_MANAGER,
        user=world.cm_other,
        primary_case_manager=True,
    )
    primaries = CareTeamMember.objects.filter(episode=episode, is_primary_case_manager=True)
    assert [m.user for m in primaries] == [world.cm_other]


def test_patient_data_cannot_be_saved_outside_a_service(world):
    world.patient.preferred_name = "Direct write"
    with pytest.raises(AssertionError, match="outside a service function"):
        world.patient.save()

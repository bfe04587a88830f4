"""Changing the clinical record: edits that keep the version they replace, status changes (stop,
resolve, mark inactive), entered in error (out of the lists, kept in the chart's history), and
people leaving the care team. Every change is versioned, audited and never a deletion."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import AuditEvent
from careway.fhir.mapping import to_fhir
from careway.patients import history, services
from careway.patients.models import (
    SNOMED,
    CareTeamMember,
    Condition,
    Medication,
    RecordVersion,
)
from tests.fhir.validate import assert_valid_r4

pytestmark = pytest.mark.django_db


def actor(world):
    return audit.Actor(user=world.cm)


def url(name, world, **kwargs):
    return reverse(name, kwargs={"patient_id": world.patient.pk, **kwargs})


def furosemide(world) -> Medication:
    return services.add_medication(
        actor(world), world.patient, {"display": "Furosemide 40 mg", "dose": "40 mg"}
    )


def heart_failure(world) -> Condition:
    return services.add_condition(
        actor(world),
        world.patient,
        {
            "display": "Chronic congestive heart failure (disorder)",
            "code_system": SNOMED,
            "code": "88805009",
        },
    )


# --- Services -------------------------------------------------------------------------------


def test_an_edit_keeps_the_version_it_replaces_and_is_audited(world):
    med = furosemide(world)
    saved = services.update_medication(actor(world), med, {"dose": "20 mg"}, med.version)
    assert (saved.version, saved.dose) == (2, "20 mg")
    [kept] = history.versions(Medication, med.pk)
    assert (kept.version, history.restore(Medication, kept).dose) == (1, "40 mg")
    assert AuditEvent.objects.filter(action="medication.update", object_id=str(med.pk)).exists()


def test_an_edit_from_a_stale_version_is_a_conflict_and_writes_nothing(world):
    med = furosemide(world)
    services.update_medication(actor(world), med, {"dose": "20 mg"}, 1)
    with pytest.raises(VersionConflict):
        services.update_medication(actor(world), med, {"dose": "80 mg"}, 1)
    with pytest.raises(VersionConflict):
        services.change_record_status(actor(world), med, "stopped", 1)
    med.refresh_from_db()
    assert (med.dose, med.status, med.version) == ("20 mg", "active", 2)


def test_stopping_a_medication_dates_it_and_taking_it_up_again_clears_the_date(world):
    med = furosemide(world)
    day = timezone.localdate() - timedelta(days=2)
    stopped = services.change_record_status(actor(world), med, "stopped", 1, on=day)
    assert (stopped.status, stopped.end_date) == ("stopped", day)
    again = services.change_record_status(actor(world), stopped, "active", 2)
    assert (again.status, again.end_date) == ("active", None)
    assert [v.version for v in history.versions(Medication, med.pk)] == [1, 2]


def test_resolving_a_condition_and_marking_an_allergy_inactive(world):
    condition = heart_failure(world)
    resolved = services.change_record_status(actor(world), condition, "resolved", 1)
    assert (resolved.clinical_status, resolved.abatement_date) == (
        "resolved",
        timezone.localdate(),
    )
    allergy = services.add_allergy(
        actor(world), world.patient, {"display": "Latex", "category": "environment"}
    )
    inactive = services.change_record_status(actor(world), allergy, "inactive", 1)
    assert inactive.clinical_status == "inactive"
    assert AuditEvent.objects.filter(action="allergy.status").count() == 1


def test_entered_in_error_needs_a_reason_and_is_final(world):
    condition = heart_failure(world)
    with pytest.raises(ValidationError) as refused:
        services.change_record_status(actor(world), condition, "entered-in-error", 1)
    assert "reason" in refused.value.message_dict
    voided = services.change_record_status(
        actor(world), condition, "entered-in-error", 1, reason="Another patient's diagnosis"
    )
    assert voided.verification_status == "entered-in-error"
    assert "Another patient's diagnosis" in voided.note
    event = AuditEvent.objects.get(action="condition.entered_in_error")
    assert event.reason == "Another patient's diagnosis"
    with pytest.raises(ValidationError):
        services.update_condition(actor(world), voided, {"display": "Heart failure"}, 2)
    assert Condition.objects.filter(pk=condition.pk).exists()


def test_statuses_not_offered_are_refused(world):
    med = furosemide(world)
    with pytest.raises(ValidationError):
        services.change_record_status(actor(world), med, "resolved", 1)


@pytest.mark.parametrize(
    ("make", "status", "resource_type", "element", "code"),
    [
        ("medication", "stopped", "MedicationStatement", "status", "stopped"),
        ("medication", "completed", "MedicationStatement", "status", "completed"),
        ("medication", "entered-in-error", "MedicationStatement", "status", "entered-in-error"),
        ("allergy", "inactive", "AllergyIntolerance", "clinicalStatus", "inactive"),
        ("allergy", "entered-in-error", "AllergyIntolerance", "verificationStatus", None),
        ("condition", "resolved", "Condition", "clinicalStatus", "resolved"),
        ("condition", "entered-in-error", "Condition", "verificationStatus", "entered-in-error"),
    ],
)
def test_changed_statuses_go_out_as_valid_fhir(world, make, status, resource_type, element, code):
    record = {
        "medication": lambda: furosemide(world),
        "allergy": lambda: services.add_allergy(
            actor(world), world.patient, {"display": "Latex", "category": "environment"}
        ),
        "condition": lambda: heart_failure(world),
    }[make]()
    changed = services.change_record_status(actor(world), record, status, 1, reason="Checked")
    resource = to_fhir(resource_type, changed)
    assert_valid_r4(resource)
    value = resource.get(element)
    if code is None:
        assert value is not None
    elif isinstance(value, dict):
        assert value["coding"][0]["code"] == code
    else:
        assert value == code


# --- Care team ------------------------------------------------------------------------------


def primary(world) -> CareTeamMember:
    return CareTeamMember.objects.get(patient=world.patient, is_primary_case_manager=True)


def test_the_primary_case_manager_leaves_only_when_another_is_named(world):
    manager = primary(world)
    with pytest.raises(ValidationError) as refused:
        services.end_care_team_membership(actor(world), manager, manager.version)
    assert "successor" in refused.value.message_dict
    ended = services.end_care_team_membership(
        actor(world), manager, manager.version, successor=world.cm_other
    )
    assert (ended.active, ended.is_primary_case_manager, ended.end_date) == (
        False,
        False,
        timezone.localdate(),
    )
    assert primary(world).user == world.cm_other
    assert CareTeamMember.objects.filter(pk=manager.pk).exists()
    assert RecordVersion.objects.filter(record_id=str(manager.pk), version=1).exists()


def test_a_team_member_leaves_with_a_stale_version_refused(world):
    member = services.add_care_team_member(
        actor(world), primary(world).episode, role="physician", external_name="Dr. Ana Ruiz"
    )
    with pytest.raises(VersionConflict):
        services.end_care_team_membership(actor(world), member, member.version + 1)
    services.end_care_team_membership(actor(world), member, member.version)
    assert not CareTeamMember.objects.get(pk=member.pk).active


def test_former_members_stay_in_the_teams_history(login, world):
    member = services.add_care_team_member(
        actor(world), primary(world).episode, role="physician", external_name="Dr. Ana Ruiz"
    )
    services.end_care_team_membership(actor(world), member, member.version)
    html = login(world.cm).get(url("chart_section", world, section="care-team")).content
    former = html.decode()[html.decode().index("Former members (1)") :]
    assert "Dr. Ana Ruiz" in former


# --- Pages ----------------------------------------------------------------------------------


def test_the_lists_offer_edit_status_and_entered_in_error(login, world):
    med = furosemide(world)
    html = login(world.cm).get(url("chart_section", world, section="medications")).content
    html = html.decode()
    assert url("medication_edit", world, record_id=med.pk) in html
    assert url("medication_status", world, record_id=med.pk) + "?to=entered-in-error" in html
    assert ">Stop<" in html


def test_read_only_members_see_no_actions(login, world):
    furosemide(world)
    html = login(world.scheduler).get(url("chart_section", world, section="medications"))
    assert b"Entered in error" not in html.content


def test_entered_in_error_leaves_the_list_and_shows_under_its_own_heading(login, world):
    condition = heart_failure(world)
    client = login(world.cm)
    response = client.post(
        url("condition_status", world, record_id=condition.pk),
        {"version": 1, "status": "entered-in-error", "reason": "Wrong chart"},
        follow=True,
    )
    html = response.content.decode()
    assert "marked entered in error" in html
    assert "0 conditions" in html
    history_area = html[html.index('class="record-history"') :]
    assert "Chronic congestive heart failure" in history_area and "Wrong chart" in history_area
    assert "(disorder)" not in html
    edit = client.get(url("condition_edit", world, record_id=condition.pk))
    assert edit.status_code == 404


def test_entered_in_error_without_a_reason_names_the_field(login, world):
    med = furosemide(world)
    response = login(world.cm).post(
        url("medication_status", world, record_id=med.pk),
        {"version": 1, "status": "entered-in-error"},
    )
    assert response.status_code == 200
    assert 'id="id_reason_error"' in response.content.decode()
    assert Medication.objects.get(pk=med.pk).status == "active"


def test_a_stale_status_change_is_shown_as_a_conflict(login, world):
    med = furosemide(world)
    services.update_medication(actor(world), med, {"dose": "20 mg"}, 1)
    response = login(world.cm).post(
        url("medication_status", world, record_id=med.pk), {"version": 1, "status": "stopped"}
    )
    assert response.status_code == 200
    assert "Someone else changed this record" in response.content.decode()
    assert Medication.objects.get(pk=med.pk).status == "active"


def test_a_stale_edit_keeps_both_peoples_changes_visible(login, world):
    med = furosemide(world)
    client = login(world.cm)
    page = client.get(url("medication_edit", world, record_id=med.pk)).content.decode()
    assert "Furosemide 40 mg" in page
    services.update_medication(actor(world), med, {"frequency": "twice daily"}, 1)
    from tests.html_forms import form_values

    values = form_values(page)
    values["dose"] = "80 mg"
    response = client.post(url("medication_edit", world, record_id=med.pk), values)
    html = response.content.decode()
    assert "Someone else changed this record" in html
    med.refresh_from_db()
    assert (med.dose, med.frequency) == ("40 mg", "twice daily")


def test_the_edit_page_shows_earlier_versions(login, world):
    med = furosemide(world)
    services.update_medication(actor(world), med, {"dose": "20 mg"}, 1)
    html = login(world.cm).get(url("medication_edit", world, record_id=med.pk)).content.decode()
    earlier = html[html.index("Earlier versions") :]
    assert "Version 1" in earlier and "40 mg" in earlier


def test_removing_the_primary_case_manager_asks_for_the_next(login, world):
    manager = primary(world)
    client = login(world.cm)
    remove = url("careteam_remove", world, member_id=manager.pk)
    response = client.post(remove, {"version": manager.version})
    assert 'id="id_successor_error"' in response.content.decode()
    assert CareTeamMember.objects.get(pk=manager.pk).active
    response = client.post(remove, {"version": manager.version, "successor": world.cm_other.pk})
    # They left the team, so the chart is no longer theirs to open: back to the caseload.
    assert response.url == reverse("caseload")
    assert primary(world).user == world.cm_other
    assert not CareTeamMember.objects.get(pk=manager.pk).active


def test_a_long_name_is_typed_in_a_box_that_wraps_and_kept_on_one_line(login, world):
    med = furosemide(world)
    client = login(world.cm)
    page = client.get(url("medication_edit", world, record_id=med.pk)).content.decode()
    assert '<textarea name="display"' in page
    from tests.html_forms import form_values

    values = form_values(page)
    values["display"] = "Insulin Lispro 100 UNT/ML\r\nInjectable Solution"
    client.post(url("medication_edit", world, record_id=med.pk), values)
    assert Medication.objects.get(pk=med.pk).display == (
        "Insulin Lispro 100 UNT/ML Injectable Solution"
    )


def test_a_stale_removal_is_shown_as_a_conflict(login, world):
    member = services.add_care_team_member(
        actor(world), primary(world).episode, role="physician", external_name="Dr. Ana Ruiz"
    )
    response = login(world.cm).post(
        url("careteam_remove", world, member_id=member.pk), {"version": member.version + 1}
    )
    assert "Someone else changed this record" in response.content.decode()
    assert CareTeamMember.objects.get(pk=member.pk).active

"""The forms: registering a patient, edits that collide, errors tied to their fields."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from careway.core.models import Branch, Membership
from careway.core.roles import Role
from careway.patients.forms import VitalSignsForm
from careway.patients.models import (
    CareTeamMember,
    Condition,
    EpisodeOfCare,
    Observation,
    Patient,
    RelatedPerson,
)
from tests.factories import join_team, make_patient, make_user
from tests.html_forms import form_values

from .test_views_access import add_contact, contact_data, patient_data

pytestmark = pytest.mark.django_db


def url(name, patient, **kwargs):
    return reverse(name, kwargs={"patient_id": patient.pk, **kwargs})


def yesterday() -> str:
    return (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")


def new_patient_post(home_branch, **changes):
    return {
        "branch": home_branch.pk,
        "referral_source": "Miami Valley Hospital",
        "referral_date": (timezone.localdate() - timedelta(days=3)).isoformat(),
        "start_of_care": (timezone.localdate() - timedelta(days=2)).isoformat(),
        "mrn": "RB9001",
        "given_name": "Harold",
        "family_name": "Kim",
        "birth_date": "1938-05-02",
        "sex": "male",
        "preferred_language": "en",
        "code_status": "full",
        "advance_directive": "none",
        **changes,
    }


def assert_field_error(html: str, field: str, text: str) -> None:
    """The message is shown at the field, tied to its input, and linked from the summary."""
    assert f'id="id_{field}_error"' in html
    error_list = html[html.index(f'id="id_{field}_error"') :]
    assert text in error_list[: error_list.index("</ul>")]
    tag = re.search(rf'<(input|select|textarea)[^>]*id="id_{field}"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in tag
    assert f"id_{field}_error" in re.search(r'aria-describedby="([^"]*)"', tag).group(1)
    summary = html[html.index('class="error-summary"') :]
    assert f'href="#id_{field}"' in summary[: summary.index("</div>")]


# --- New patient ----------------------------------------------------------------------------


def test_case_manager_registers_a_patient_and_becomes_primary_case_manager(login, world):
    response = login(world.cm).post(reverse("patient_create"), new_patient_post(world.branch))
    patient = Patient.objects.get(mrn="RB9001")
    assert response.status_code == 302
    assert response.url == reverse("chart", kwargs={"patient_id": patient.pk})
    episode = patient.episodes.get()
    assert episode.referral_source == "Miami Valley Hospital"
    assert episode.status == EpisodeOfCare.Status.ACTIVE
    manager = CareTeamMember.objects.get(patient=patient, is_primary_case_manager=True)
    assert manager.user == world.cm


def test_supervisor_picks_the_case_manager(login, world):
    client = login(world.supervisor)
    form = client.get(reverse("patient_create")).content.decode()
    assert 'name="case_manager"' in form
    post = new_patient_post(world.branch, case_manager=world.cm_other.pk)
    assert client.post(reverse("patient_create"), post).status_code == 302
    manager = CareTeamMember.objects.get(patient__mrn="RB9001", is_primary_case_manager=True)
    assert manager.user == world.cm_other


def test_case_managers_do_not_pick_a_case_manager(login, world):
    html = login(world.cm).get(reverse("patient_create")).content.decode()
    assert 'name="case_manager"' not in html


def test_branch_must_be_one_of_the_users(login, world):
    elsewhere = Branch.objects.create(organization=world.org, name="South office")
    html = login(world.cm).get(reverse("patient_create")).content.decode()
    assert "South office" not in html
    response = login(world.cm).post(
        reverse("patient_create"), new_patient_post(world.branch, branch=elsewhere.pk)
    )
    assert response.status_code == 200
    assert_field_error(response.content.decode(), "branch", "Select a valid choice")
    assert not Patient.objects.filter(mrn="RB9001").exists()
    foreign = login(world.cm).post(
        reverse("patient_create"), new_patient_post(world.branch, branch=world.other_branch.pk)
    )
    assert foreign.status_code == 200
    assert not Patient.objects.filter(mrn="RB9001").exists()


def test_new_patient_errors_name_their_fields_and_keep_the_input(login, world):
    post = new_patient_post(world.branch, family_name="", birth_date="2999-01-01")
    response = login(world.cm).post(reverse("patient_create"), post)
    html = response.content.decode()
    assert response.status_code == 200
    assert_field_error(html, "family_name", "This field is required")
    assert_field_error(html, "birth_date", "cannot be in the future")
    assert 'value="Harold"' in html  # what was typed is kept
    assert "There are 2 problems" in html
    assert not Patient.objects.filter(mrn="RB9001").exists()


def test_duplicate_mrn_is_an_error_on_the_mrn_field(login, world):
    post = new_patient_post(world.branch, mrn=world.patient.mrn)
    response = login(world.cm).post(reverse("patient_create"), post)
    assert response.status_code == 200
    assert_field_error(response.content.decode(), "mrn", "already exists")
    assert Patient.objects.filter(mrn=world.patient.mrn).count() == 1


# --- Edits that collide ---------------------------------------------------------------------


def test_second_editor_gets_the_conflict_and_keeps_their_values(login, world):
    patient = world.patient
    first, second = login(world.cm), Client()
    second.force_login(world.rn)
    edit_url = url("patient_edit", patient)
    assert first.get(edit_url).status_code == 200
    assert second.get(edit_url).status_code == 200
    form_of_second = patient_data(patient, given_name="Margo", phone_home="937-555-0142")

    saved = first.post(edit_url, patient_data(patient, given_name="Maggie"))
    assert saved.status_code == 302
    clash = second.post(edit_url, form_of_second)

    html = clash.content.decode()
    assert clash.status_code == 200
    assert "Someone else changed this record while you were editing" in html
    assert 'value="Margo"' in html and 'value="937-555-0142"' in html
    assert re.search(r"<td>Margo</td><td>Maggie</td>", html)  # yours vs saved now
    assert 'name="version" value="2"' in html  # saving again is deliberate, not blocked
    patient.refresh_from_db()
    assert (patient.given_name, patient.phone_home, patient.version) == ("Maggie", "", 2)

    again = second.post(edit_url, {**form_of_second, "version": "2"})
    assert again.status_code == 302
    patient.refresh_from_db()
    assert (patient.given_name, patient.phone_home) == ("Margo", "937-555-0142")


def test_saving_again_after_a_conflict_keeps_what_the_other_editor_changed(login, world):
    patient = world.patient
    first, second = login(world.cm), Client()
    second.force_login(world.rn)
    edit_url = url("patient_edit", patient)
    seconds_page = form_values(second.get(edit_url).content.decode())
    assert first.post(edit_url, patient_data(patient, given_name="Maggie")).status_code == 302

    clash = second.post(edit_url, {**seconds_page, "phone_home": "937-555-0142"})
    assert "Someone else changed this record" in clash.content.decode()
    again = second.post(edit_url, form_values(clash.content.decode()))

    assert again.status_code == 302
    patient.refresh_from_db()
    assert (patient.given_name, patient.phone_home) == ("Maggie", "937-555-0142")


def test_a_save_changes_only_the_fields_the_person_changed(login, world):
    patient = world.patient
    first, second = login(world.cm), Client()
    second.force_login(world.rn)
    edit_url = url("patient_edit", patient)
    seconds_page = form_values(second.get(edit_url).content.decode())
    first_page = form_values(first.get(edit_url).content.decode())
    assert first.post(edit_url, {**first_page, "preferred_name": "Peggy"}).status_code == 302
    # The second editor's page is stale, but they change a different field: still a conflict
    # (the version moved on), and once they confirm, both changes stand.
    clash = second.post(edit_url, {**seconds_page, "city": "Dayton"})
    assert second.post(edit_url, form_values(clash.content.decode())).status_code == 302
    patient.refresh_from_db()
    assert (patient.preferred_name, patient.city) == ("Peggy", "Dayton")


def test_contact_edit_conflict_keeps_the_second_editors_values(login, world):
    contact = add_contact(world.patient)
    first, second = login(world.cm), Client()
    second.force_login(world.rn)
    edit_url = url("contact_edit", world.patient, contact_id=contact.pk)
    stale = contact_data(contact, phone="555-0000")
    assert first.post(edit_url, contact_data(contact, phone="555-1111")).status_code == 302
    clash = second.post(edit_url, stale)
    html = clash.content.decode()
    assert "Someone else changed this record" in html
    assert 'value="555-0000"' in html
    contact.refresh_from_db()
    assert contact.phone == "555-1111"


def test_edit_saves_and_says_so(login, world):
    response = login(world.cm).post(
        url("patient_edit", world.patient),
        patient_data(world.patient, what_matters_most="My garden"),
        follow=True,
    )
    assert "Patient details saved." in response.content.decode()
    assert "My garden" in response.content.decode()


# --- Vital signs ----------------------------------------------------------------------------


def test_impossible_vitals_are_refused_naming_the_field_and_nothing_is_saved(login, world):
    post = {"effective_at": yesterday(), "systolic": "300", "diastolic": "80", "heart_rate": "72"}
    response = login(world.cm).post(url("vitals_create", world.patient), post)
    html = response.content.decode()
    assert response.status_code == 200
    assert_field_error(html, "systolic", "Systolic blood pressure of 300 mmHg is not possible")
    assert 'value="300"' in html and 'value="72"' in html
    assert Observation.objects.count() == 0  # the valid heart rate was not kept alone


def test_vitals_need_both_pressures_and_at_least_one_value(login, world):
    client = login(world.cm)
    half = client.post(
        url("vitals_create", world.patient), {"effective_at": yesterday(), "systolic": "120"}
    )
    assert_field_error(half.content.decode(), "diastolic", "Enter both blood pressure numbers")
    nothing = client.post(url("vitals_create", world.patient), {"effective_at": yesterday()})
    assert "Enter at least one vital sign" in nothing.content.decode()
    assert Observation.objects.count() == 0


def test_a_set_of_vitals_is_saved_together_with_loinc_codes(login, world):
    post = {
        "effective_at": yesterday(),
        "systolic": "128",
        "diastolic": "82",
        "oxygen_saturation": "93",
        "temperature": "98.6",
    }
    response = login(world.cm).post(url("vitals_create", world.patient), post)
    assert response.url == url("chart_section", world.patient, section="vitals")
    saved = {o.code: (o.value, o.unit) for o in Observation.objects.all()}
    assert saved == {
        "8480-6": (128, "mm[Hg]"),
        "8462-4": (82, "mm[Hg]"),
        "2708-6": (93, "%"),
        "8310-5": (98.6, "[degF]"),
    }
    assert {o.effective_at for o in Observation.objects.all()} == {
        Observation.objects.first().effective_at
    }


# --- Other forms ----------------------------------------------------------------------------


def test_condition_code_needs_its_system(login, world):
    post = {"display": "Heart failure", "clinical_status": "active", "code": "I50.9"}
    response = login(world.cm).post(url("condition_create", world.patient), post)
    assert_field_error(response.content.decode(), "code_system", "Choose the code system")
    assert not Condition.objects.exists()


def test_a_new_primary_diagnosis_replaces_the_old_one(login, world):
    client = login(world.cm)
    for name in ("COPD", "Heart failure"):
        post = {"display": name, "clinical_status": "active", "is_primary": "on"}
        assert client.post(url("condition_create", world.patient), post).status_code == 302
    assert Condition.objects.get(is_primary=True).display == "Heart failure"


def test_care_team_add_a_colleague_as_primary_case_manager(login, world):
    post = {
        "kind": "staff",
        "user": world.cm_other.pk,
        "role": "case_manager",
        "is_primary_case_manager": "on",
    }
    response = login(world.cm).post(url("careteam_add", world.patient), post)
    assert response.status_code == 302
    primary = CareTeamMember.objects.get(patient=world.patient, is_primary_case_manager=True)
    assert primary.user == world.cm_other


def test_care_team_add_a_family_contact(login, world):
    ann = add_contact(world.patient)
    post = {"kind": "family", "related_person": ann.pk, "role": "caregiver"}
    assert login(world.cm).post(url("careteam_add", world.patient), post).status_code == 302
    assert CareTeamMember.objects.filter(related_person=ann, active=True).exists()


def test_care_team_refuses_people_from_elsewhere(login, world):
    client = login(world.cm)
    outsider = {"kind": "staff", "user": world.outsider.pk, "role": "nurse"}
    response = client.post(url("careteam_add", world.patient), outsider)
    assert_field_error(response.content.decode(), "user", "Select a valid choice")
    other_contact = add_contact(world.outsider_patient, name="Not Yours")
    foreign = {"kind": "family", "related_person": other_contact.pk, "role": "caregiver"}
    response = client.post(url("careteam_add", world.patient), foreign)
    assert_field_error(response.content.decode(), "related_person", "Select a valid choice")
    missing = client.post(
        url("careteam_add", world.patient), {"kind": "external", "role": "physician"}
    )
    assert_field_error(missing.content.decode(), "external_name", "Choose or enter who is joining")
    assert not CareTeamMember.objects.filter(patient=world.patient, user=world.outsider).exists()


def test_only_a_colleague_can_be_primary_case_manager(login, world):
    post = {
        "kind": "external",
        "external_name": "Dr. Ruiz",
        "role": "physician",
        "is_primary_case_manager": "on",
    }
    response = login(world.cm).post(url("careteam_add", world.patient), post)
    assert_field_error(
        response.content.decode(), "is_primary_case_manager", "Only a colleague can be"
    )


def test_add_contact_and_the_radio_group_is_labelled(login, world):
    client = login(world.cm)
    html = client.get(url("careteam_add", world.patient)).content.decode()
    assert "<legend>Who is joining?</legend>" in html
    post = {"name": "Chris Kim", "relationship": "child", "is_primary_caregiver": "on"}
    assert client.post(url("contact_create", world.patient), post).status_code == 302
    assert RelatedPerson.objects.get(name="Chris Kim").is_primary_caregiver


def test_every_input_has_a_label(login, world):
    contact = add_contact(world.patient)
    client = login(world.cm)
    pages = [
        reverse("patient_create"),
        url("patient_edit", world.patient),
        url("contact_edit", world.patient, contact_id=contact.pk),
        url("contact_create", world.patient),
        url("condition_create", world.patient),
        url("medication_create", world.patient),
        url("allergy_create", world.patient),
        url("vitals_create", world.patient),
        url("careteam_add", world.patient),
    ]
    for page in pages:
        html = client.get(page).content.decode()
        form = html[html.index('<form method="post"') :]
        ids = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*id="([^"]+)"', form)
        assert ids, page
        for input_id in ids:
            assert f'for="{input_id}"' in form, (page, input_id)


def test_supervisor_of_the_branch_may_edit_without_being_on_the_team(login, world):
    other = make_patient(world.branch, world.cm_other, given_name="Iris")
    assert Membership.objects.filter(user=world.supervisor, role=Role.SUPERVISOR).exists()
    response = login(world.supervisor).post(
        url("patient_edit", other), patient_data(other, preferred_name="Iri")
    )
    assert response.status_code == 302


def test_clinician_on_the_team_may_add_vitals(login, world):
    aide = make_user(world.org, world.branch, Role.CLINICIAN, "hha_hill", "HHA")
    join_team(world.patient, aide, "aide")
    post = {"effective_at": yesterday(), "heart_rate": "80"}
    assert login(aide).post(url("vitals_create", world.patient), post).status_code == 302


def test_service_errors_on_a_vital_sign_land_on_its_field():
    form = VitalSignsForm({"effective_at": "2026-01-01T10:00", "heart_rate": "70"})
    assert form.is_valid()
    form.apply_service_errors(ValidationError({"8867-4.value": ["Not a number we can keep."]}))
    assert form.errors["heart_rate"] == ["Not a number we can keep."]


# --- Coverage ---------------------------------------------------------------------------------


def test_coverage_is_added_and_shown_as_the_primary_payer(login, world):
    client = login(world.cm)
    post = {
        "kind": "medicare_advantage",
        "payer_name": "Green Mountain Senior Advantage",
        "member_id": "GM-22817",
        "priority": "1",
        "start_date": "2026-01-01",
    }
    response = client.post(url("coverage_create", world.patient), post, follow=True)
    html = response.content.decode()
    assert "Coverage added." in html
    assert "Member ID GM-22817" in html
    assert "Green Mountain Senior Advantage" in html[html.index("patient-banner") :]


def test_coverage_errors_name_the_field_and_save_nothing(login, world):
    from careway.patients.models import Coverage

    post = {
        "kind": "medicare",
        "payer_name": "",
        "priority": "1",
        "start_date": "2026-05-01",
        "end_date": "2026-01-01",
    }
    response = login(world.cm).post(url("coverage_create", world.patient), post)
    html = response.content.decode()
    assert response.status_code == 200
    assert_field_error(html, "payer_name", "This field is required")
    assert_field_error(html, "end_date", "cannot be before the start date")
    assert not Coverage.objects.filter(patient=world.patient).exists()

"""The chart: the banner on every section, what each section shows, audit and query counts."""

import re
from datetime import timedelta
from itertools import count

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients import services
from careway.patients.models import ICD10CM, LOINC, Patient
from tests.factories import join_team, make_user

from .test_views_access import SECTIONS, add_contact

pytestmark = pytest.mark.django_db
SYSTEM = audit.Actor(user=None)
SERIAL = count(1)


def section_url(patient, section="summary"):
    return reverse("chart_section", kwargs={"patient_id": patient.pk, "section": section})


def vitals(patient, when, **values):
    codes = {"systolic": "8480-6", "diastolic": "8462-4", "heart_rate": "8867-4"}
    rows = [
        {
            "category": "vital-signs",
            "code_system": LOINC,
            "code": codes[key],
            "display": key,
            "effective_at": when,
            "value": value,
            "unit": "mm[Hg]" if key != "heart_rate" else "/min",
        }
        for key, value in values.items()
    ]
    return services.record_observations(SYSTEM, patient, rows)


# --- The banner -----------------------------------------------------------------------------


def test_banner_shows_who_the_patient_is_on_every_section(login, world):
    p = world.patient
    Patient.objects.filter(pk=p.pk).update(code_status="dnr")
    add_contact(p, name="Ann Hale", phone="937-555-0199", is_primary_caregiver=True)
    services.add_coverage(SYSTEM, p, {"kind": "medicare", "payer_name": "Medicare Part A"})
    services.add_allergy(
        SYSTEM, p, {"display": "Penicillin", "category": "medication", "criticality": "high"}
    )
    client = login(world.cm)
    for section in SECTIONS:
        html = client.get(section_url(p, section)).content.decode()
        banner = html[html.index('class="patient-banner"') : html.index("</section>")]
        assert "HALE, Margaret" in banner
        assert f"{p.age} years" in banner and "born Mar 14, 1940" in banner
        assert "Female" in banner
        assert '<strong class="status status-urgent">High</strong> Penicillin' in banner
        assert "Do not resuscitate (DNR)" in banner
        assert "Ann Hale" in banner and 'href="tel:937-555-0199"' in banner
        assert "Medicare Part A" in banner


def test_banner_tells_no_known_allergies_from_not_recorded(login, world):
    client = login(world.cm)
    assert "Allergies not recorded" in client.get(section_url(world.patient)).content.decode()
    Patient.objects.filter(pk=world.patient.pk).update(no_known_allergies=True)
    html = client.get(section_url(world.patient)).content.decode()
    assert "No known allergies" in html and "Allergies not recorded" not in html


def test_banner_is_sticky(login, world):
    stylesheet_path = settings.BASE_DIR / "careway" / "static" / "careway" / "careway.css"
    with open(stylesheet_path, encoding="utf-8") as stylesheet:
        css = stylesheet.read().replace(" ", "")
    assert ".patient-banner{position:sticky;" in css


# --- Sections -------------------------------------------------------------------------------


def test_summary_shows_what_matters_most(login, world):
    p = world.patient
    services.update_patient(
        SYSTEM,
        p,
        {
            "what_matters_most": "Going to church on Sundays",
            "preferred_language": "es",
            "interpreter_needed": True,
            "medicare_number": "1EG4TE5MK73",
            "phone_home": "937-555-0100",
        },
        p.version,
    )
    services.add_condition(SYSTEM, p, {"display": "Heart failure", "is_primary": True})
    services.add_medication(SYSTEM, p, {"display": "Furosemide"})
    services.add_medication(SYSTEM, p, {"display": "Old drug", "status": "stopped"})
    services.raise_flag(
        SYSTEM, p, {"kind": "high-fall-risk", "label": "High fall risk", "severity": "urgent"}
    )
    vitals(p, timezone.now() - timedelta(hours=2), systolic=150, diastolic=80)
    html = login(world.cm).get(reverse("chart", kwargs={"patient_id": p.pk})).content.decode()
    assert "Going to church on Sundays" in html
    assert "General Hospital" in html and "Active, day" in html
    assert "Heart failure" in html and "Primary" in html
    assert '<strong class="big-number">1</strong> active medication.' in html
    assert "150/80 mmHg" in html and "Stage 2 hypertension (ACC/AHA 2017)" in html
    assert "Urgent:</span> High fall risk" in html
    assert "Spanish" in html and "Interpreter needed" in html
    assert "1EG4TE5MK73" in html and "937-555-0100" in html and p.mrn in html


def test_conditions_active_first_with_codes(login, world):
    p = world.patient
    services.add_condition(
        SYSTEM,
        p,
        {"display": "Old fracture", "clinical_status": "resolved", "code": "S72.0"},
    )
    services.add_condition(
        SYSTEM, p, {"display": "Heart failure", "code_system": ICD10CM, "code": "I50.9"}
    )
    html = login(world.cm).get(section_url(p, "conditions")).content.decode()
    assert html.index("Heart failure") < html.index("Old fracture")
    assert "I50.9" in html and "ICD-10-CM" in html
    assert "2 conditions, active first" in html


def test_medications_show_dose_route_frequency_prn_and_rxnorm(login, world):
    p = world.patient
    services.add_medication(
        SYSTEM,
        p,
        {
            "display": "Acetaminophen 500 mg",
            "code_system": "http://www.nlm.nih.gov/research/umls/rxnorm",
            "code": "198440",
            "dose": "1000 mg",
            "route": "by mouth",
            "frequency": "every 6 hours",
            "as_needed": True,
            "indication": "pain",
        },
    )
    services.add_medication(SYSTEM, p, {"display": "Aspirin", "status": "stopped"})
    html = login(world.cm).get(section_url(p, "medications")).content.decode()
    for text in ("RxNorm", "198440", "1000 mg", "by mouth", "every 6 hours", "PRN", "pain"):
        assert text in html
    assert html.index("Taking now") < html.index("Acetaminophen") < html.index("Stopped or")
    assert html.index("Stopped or") < html.index("Aspirin")


def test_high_criticality_allergies_say_high(login, world):
    services.add_allergy(
        SYSTEM,
        world.patient,
        {"display": "Latex", "category": "environment", "criticality": "low"},
    )
    services.add_allergy(
        SYSTEM,
        world.patient,
        {"display": "Penicillin", "category": "medication", "criticality": "high"},
    )
    html = login(world.cm).get(section_url(world.patient, "allergies")).content.decode()
    table = html[html.index("<table") :]
    assert table.index("Penicillin") < table.index("Latex")
    assert '<strong class="status status-urgent">High</strong>' in table


def test_encounters_newest_first(login, world):
    now = timezone.now()
    for days, what in ((10, "Older visit"), (1, "Newest visit")):
        services.add_encounter(
            SYSTEM,
            world.patient,
            {"kind": "HH", "type_display": what, "period_start": now - timedelta(days=days)},
        )
    html = login(world.cm).get(section_url(world.patient, "encounters")).content.decode()
    assert html.index("Newest visit") < html.index("Older visit")
    assert "newest first" in html


def test_contacts_show_roles_and_consent(login, world):
    add_contact(
        world.patient,
        name="Ann Hale",
        is_primary_caregiver=True,
        is_emergency_contact=True,
        lives_with_patient=True,
        may_receive_information=True,
    )
    add_contact(world.patient, name="Bob Neighbour", relationship="friend")
    html = login(world.cm).get(section_url(world.patient, "contacts")).content.decode()
    assert html.index("Ann Hale") < html.index("Bob Neighbour")
    for text in ("Primary caregiver", "Emergency contact", "Lives with patient", "Son or daughter"):
        assert text in html
    assert '<span class="status status-ok">Yes</span>' in html
    assert '<span class="status status-warning">No</span>' in html


def test_care_team_groups_staff_family_and_external(login, world):
    episode = world.patient.episodes.get()
    ann = add_contact(world.patient, name="Ann Hale")
    services.add_care_team_member(SYSTEM, episode, role="caregiver", related_person=ann)
    services.add_care_team_member(SYSTEM, episode, role="physician", external_name="Dr. Ruiz")
    html = login(world.cm).get(section_url(world.patient, "care-team")).content.decode()
    assert "Agency staff (3)" in html
    assert "Cm Tester" in html and "Primary case manager" in html
    assert "Registered nurse" in html
    assert "Family caregivers (1)" in html and "Ann Hale" in html
    assert "Outside Careway (1)" in html and "Dr. Ruiz" in html


def test_vitals_draw_a_chart_and_a_table_with_words_for_out_of_range(login, world):
    now = timezone.now()
    vitals(world.patient, now - timedelta(days=3), systolic=182, diastolic=95, heart_rate=72)
    vitals(world.patient, now - timedelta(days=1), systolic=118, diastolic=76, heart_rate=70)
    vitals(world.patient, now - timedelta(days=120), systolic=140, diastolic=90)
    html = login(world.cm).get(section_url(world.patient, "vitals")).content.decode()
    assert html.count('role="img"') == 2  # blood pressure and heart rate have readings
    assert "No readings in the last 90 days" in html  # body temperature
    assert "Blood pressure, last 90 days" in html
    assert 'class="normal-range"' in html
    assert "6 readings in the last 90 days" in html  # the 120-day-old set is left out
    assert '<strong class="status status-urgent">High: over 160</strong>' in html
    assert re.search(r"<td>182\b", html)
    assert not re.search(r"<td>140\b", html)  # older than 90 days
    assert "Pain severity" not in html  # shown only when there are pain scores


def test_vitals_empty_state(login, world):
    html = login(world.cm).get(section_url(world.patient, "vitals")).content.decode()
    assert "No vital signs in the last 90 days" in html
    assert "Record a set of vital signs" in html


@pytest.mark.parametrize("section", SECTIONS)
def test_each_view_audits_one_read_with_its_section(login, world, section):
    login(world.cm).get(section_url(world.patient, section))
    events = AuditEvent.objects.filter(action="patient.view", patient_id=world.patient.pk)
    assert [(e.detail, e.outcome, e.actor_id) for e in events] == [
        ({"section": section}, "success", world.cm.pk)
    ]


# --- Query counts ---------------------------------------------------------------------------


def _fill(patient, n, world):
    now = timezone.now()
    episode = patient.episodes.get()
    for i in range(n):
        services.add_condition(SYSTEM, patient, {"display": f"Problem {i}", "code": f"R{i}"})
        services.add_medication(SYSTEM, patient, {"display": f"Drug {i}"})
        services.add_allergy(
            SYSTEM, patient, {"display": f"Thing {i}", "category": "food", "criticality": "high"}
        )
        services.add_encounter(
            SYSTEM,
            patient,
            {"kind": "HH", "type_display": f"Visit {i}", "period_start": now - timedelta(days=i)},
        )
        contact = add_contact(patient, name=f"Contact {i}", is_primary_caregiver=i == 0)
        services.add_care_team_member(SYSTEM, episode, role="caregiver", related_person=contact)
        user = make_user(world.org, world.branch, "clinician", f"rn_{next(SERIAL)}", "RN")
        join_team(patient, user, "nurse")
        services.raise_flag(SYSTEM, patient, {"kind": f"k{i}", "label": f"Flag {i}"})
        vitals(patient, now - timedelta(days=i, hours=1), systolic=120 + i, diastolic=80)


@pytest.mark.parametrize("section", SECTIONS)
def test_query_count_does_not_grow_with_rows(login, world, section):
    client = login(world.cm)
    _fill(world.patient, 1, world)
    client.get(section_url(world.patient, section))
    with CaptureQueriesContext(connection) as few:
        assert client.get(section_url(world.patient, section)).status_code == 200
    _fill(world.patient, 29, world)
    with CaptureQueriesContext(connection) as many:
        assert client.get(section_url(world.patient, section)).status_code == 200
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]


def test_long_sections_are_paged(login, world):
    for i in range(30):
        services.add_condition(SYSTEM, world.patient, {"display": f"Problem {i:02d}"})
    client = login(world.cm)
    # Each row names its condition once as the row's header (its action buttons name it too).
    first = client.get(section_url(world.patient, "conditions")).content.decode()
    assert first.count('data-label="Condition">Problem ') == 25 and "Page 1 of 2" in first
    second = client.get(section_url(world.patient, "conditions"), {"page": 2}).content.decode()
    assert second.count('data-label="Condition">Problem ') == 5 and "Problem 29" in second


def test_form_pages_show_the_banner_and_audit_the_read(login, world):
    url = reverse("vitals_create", kwargs={"patient_id": world.patient.pk})
    html = login(world.cm).get(url).content.decode()
    assert 'class="patient-banner"' in html
    event = AuditEvent.objects.get(action="patient.view", patient_id=world.patient.pk)
    assert event.detail == {"section": "vitals", "form": "Record vital signs"}

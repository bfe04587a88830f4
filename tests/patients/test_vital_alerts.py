"""Vital signs that say the right things: a guideline's category is a label, an alert is raised
only past the agency's notify-if thresholds, old readings say they are old, and the charts fit
their readings (issue 16, point 5)."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients import alerts, services
from careway.patients.models import LOINC, VitalAlertSetting

pytestmark = pytest.mark.django_db
SYSTEM = audit.Actor(user=None)
CODES = {
    "systolic": ("8480-6", "mm[Hg]"),
    "diastolic": ("8462-4", "mm[Hg]"),
    "heart_rate": ("8867-4", "/min"),
    "oxygen_saturation": ("2708-6", "%"),
    "pain": ("72514-3", "{score}"),
}


def vitals(patient, when, **values):
    rows = [
        {
            "category": "vital-signs",
            "code_system": LOINC,
            "code": CODES[key][0],
            "display": key,
            "effective_at": when,
            "value": value,
            "unit": CODES[key][1],
        }
        for key, value in values.items()
    ]
    return services.record_observations(SYSTEM, patient, rows)


def page(client, patient, section="summary"):
    url = reverse("chart_section", kwargs={"patient_id": patient.pk, "section": section})
    reply = client.get(url)
    assert reply.status_code == 200
    return reply.content.decode()


URGENT = 'class="status status-urgent"'


# --- thresholds and labels -----------------------------------------------------------------


def test_the_thresholds_of_a_patient_are_the_agency_defaults_until_the_agency_sets_its_own(world):
    found = alerts.alert_thresholds(world.patient)
    assert found.source == "Careway defaults"
    assert found.limit("systolic").above == 160 and found.limit("systolic").below == 90
    assert found.limit("oxygen_saturation").below == 90
    assert found.limit("temperature").above == 100.4
    assert found.weight_gain_day == 3 and found.weight_gain_week == 5


@pytest.mark.parametrize("section", ["summary", "vitals"])
def test_122_over_82_is_labelled_stage_1_but_raises_no_alert(login, world, section):
    vitals(world.patient, timezone.now() - timedelta(hours=2), systolic=122, diastolic=82)
    html = page(login(world.cm), world.patient, section)
    assert "Stage 1 hypertension (ACC/AHA 2017)" in html
    assert URGENT not in html
    assert "out-of-range" not in html


@pytest.mark.parametrize("section", ["summary", "vitals"])
def test_170_over_95_raises_an_alert_past_the_default_threshold(login, world, section):
    vitals(world.patient, timezone.now() - timedelta(hours=2), systolic=170, diastolic=95)
    html = page(login(world.cm), world.patient, section)
    assert "Stage 2 hypertension (ACC/AHA 2017)" in html
    assert re.search(URGENT + r">High: over 160<", html)
    assert html.count(URGENT) == 1  # diastolic 95 is under its threshold of 100


def test_a_low_oxygen_saturation_raises_an_alert(login, world):
    vitals(world.patient, timezone.now() - timedelta(hours=2), oxygen_saturation=88)
    html = page(login(world.cm), world.patient, "vitals")
    assert re.search(URGENT + r">Low: under 90<", html)
    assert 'class="point out-of-range"' in html


def test_an_agency_threshold_change_takes_effect(login, world):
    vitals(world.patient, timezone.now() - timedelta(hours=2), systolic=150, diastolic=82)
    client = login(world.cm)
    assert URGENT not in page(client, world.patient)
    setting = alerts.agency_setting(world.org)
    values = {**alerts.default_values(), "systolic_above": 140}
    services.set_vital_alert_thresholds(
        audit.Actor(user=world.admin), world.org, values, setting.version
    )
    assert re.search(URGENT + r">High: over 140<", page(client, world.patient))
    assert alerts.alert_thresholds(world.patient).source == "Agency thresholds"


# --- old readings --------------------------------------------------------------------------


def test_old_readings_say_when_they_were_taken_and_that_they_are_old(login, world):
    long_ago = timezone.now() - timedelta(days=800)
    vitals(world.patient, long_ago, heart_rate=72)
    vitals(world.patient, timezone.now() - timedelta(days=2), systolic=118, diastolic=76)
    html = page(login(world.cm), world.patient)
    local = timezone.localtime(long_ago)
    assert f"from {local:%b %Y}, 2 years ago" in html
    assert html.count('class="status status-old"') == 1  # the blood pressure is recent


def test_a_chart_with_only_old_readings_says_when_the_latest_were_taken(login, world):
    long_ago = timezone.now() - timedelta(days=800)
    vitals(world.patient, long_ago, heart_rate=72)
    html = page(login(world.cm), world.patient, "vitals")
    local = timezone.localtime(long_ago, ZoneInfo(world.org.timezone))  # the page's zone
    assert f"The latest were taken {local:%b} {local.day}, {local:%Y}, 2" in html
    assert 'role="img"' not in html  # no empty charts


# --- charts --------------------------------------------------------------------------------


def x_ticks(svg):
    return re.findall(r'class="tick x-tick"[^>]*>([^<]+)<', svg)


def y_ticks(svg):
    return [float(v) for v in re.findall(r'class="tick y-tick"[^>]*>([-\d.]+)<', svg)]


def chart_of(html, key):
    start = html.index(f'id="chart-{key}-title"')
    return html[start : html.index("</svg>", start)]


def test_one_reading_is_charted_in_a_short_window_around_it(login, world):
    when = timezone.now() - timedelta(days=30)
    vitals(world.patient, when, heart_rate=72)
    svg = chart_of(page(login(world.cm), world.patient, "vitals"), "heart_rate")
    ticks = x_ticks(svg)
    local = timezone.localtime(when, ZoneInfo(world.org.timezone))  # the page's zone
    first, last = local - timedelta(days=7), local + timedelta(days=7)
    assert ticks[0] == f"{first:%b} {first.day}" and ticks[-1] == f"{last:%b} {last.day}"


def test_the_pain_chart_spans_0_to_10_and_its_caption_reads_well(login, world):
    vitals(world.patient, timezone.now() - timedelta(days=1), pain=1)
    html = page(login(world.cm), world.patient, "vitals")
    ticks = y_ticks(chart_of(html, "pain"))
    assert ticks[0] == 0 and ticks[-1] == 10
    caption = re.search(r"1 reading on [^<]*", html).group(0)
    assert "1 readings" not in html
    assert "Latest: pain 1 of 10." in caption
    assert "0 to 10" not in caption


# --- the agency's thresholds page ----------------------------------------------------------


URL = "vital_alert_thresholds"


def form_values(**changes):
    values = {
        key: "" if value is None else f"{value:g}" for key, value in alerts.default_values().items()
    }
    return {**values, **{k: str(v) for k, v in changes.items()}}


def test_an_agency_admin_sees_and_sets_the_thresholds(login, world):
    client = login(world.admin)
    html = client.get(reverse(URL)).content.decode()
    assert "Vital sign alerts" in html and 'value="160"' in html
    version = alerts.agency_setting(world.org).version
    reply = client.post(reverse(URL), {**form_values(systolic_above=150), "version": version})
    assert reply.status_code == 302
    setting = VitalAlertSetting.objects.get(organization=world.org)
    assert setting.values["systolic_above"] == 150 and setting.version == version + 1
    event = AuditEvent.objects.get(action="vital_alerts.set")
    assert event.actor_id == world.admin.pk
    assert event.detail["changed"] == {"systolic_above": [160, 150]}
    assert login(world.supervisor).get(reverse(URL)).status_code == 200


def test_case_managers_read_the_thresholds_but_cannot_change_them(login, world):
    client = login(world.cm)
    html = client.get(reverse(URL)).content.decode()
    assert "over 160" in html and "<form" not in html.split("<main", 1)[1]
    reply = client.post(reverse(URL), {**form_values(systolic_above=150), "version": 0})
    assert reply.status_code == 403
    assert not VitalAlertSetting.objects.exists()
    assert not AuditEvent.objects.filter(action="vital_alerts.set").exists()


def test_roles_without_charts_get_404_and_another_agency_keeps_its_own(login, world):
    assert login(world.auditor).get(reverse(URL)).status_code == 404
    assert login(world.auditor).post(reverse(URL), form_values()).status_code == 404
    outsider = login(world.outsider)
    assert outsider.post(reverse(URL), {**form_values(systolic_above=150)}).status_code == 403
    services.set_vital_alert_thresholds(
        audit.Actor(user=world.admin),
        world.org,
        {**alerts.default_values(), "systolic_above": 140},
        alerts.agency_setting(world.org).version,
    )
    assert alerts.agency_thresholds(world.other_org.pk).limit("systolic").above == 160
    assert "over 160" in outsider.get(reverse(URL)).content.decode()


def test_a_bad_threshold_is_named_and_nothing_is_saved(login, world):
    client = login(world.admin)
    reply = client.post(reverse(URL), {**form_values(systolic_above="high"), "version": 0})
    assert reply.status_code == 400
    assert "Systolic" in reply.content.decode()
    reply = client.post(
        reverse(URL), {**form_values(systolic_above=80, systolic_below=90), "version": 0}
    )
    assert reply.status_code == 400
    assert "must be above the low threshold" in reply.content.decode()
    assert not VitalAlertSetting.objects.exists()


def test_a_stale_save_is_a_conflict_and_overwrites_nothing(login, world):
    admin = login(world.admin)
    services.set_vital_alert_thresholds(
        audit.Actor(user=world.supervisor),
        world.org,
        {**alerts.default_values(), "heart_rate_above": 120},
        0,
    )
    reply = admin.post(reverse(URL), {**form_values(systolic_above=150), "version": 0})
    assert reply.status_code == 409
    assert "someone else changed these thresholds" in reply.content.decode()
    setting = VitalAlertSetting.objects.get()
    assert setting.values["systolic_above"] == 160 and setting.values["heart_rate_above"] == 120


def test_the_assessments_vital_signs_section_says_old_readings_are_old(login, world):
    from careway.assessments import services as assessment_services

    long_ago = timezone.now() - timedelta(days=800)
    vitals(world.patient, long_ago, heart_rate=72)
    assessment = assessment_services.start_assessment(
        audit.Actor(user=world.cm), world.patient, "start-of-care"
    )
    url = reverse("assessment_section", args=[world.patient.pk, assessment.pk, "vitals"])
    html = login(world.cm).get(url).content.decode()
    local = timezone.localtime(long_ago)
    assert f"from {local:%b %Y}, 2 years ago" in html and 'class="status status-old"' in html


def test_another_agencys_admin_changes_only_their_own_thresholds(login, world):
    from careway.core.roles import Role
    from tests.factories import make_user

    their_admin = make_user(world.other_org, None, Role.AGENCY_ADMIN, "admin_other")
    reply = login(their_admin).post(reverse(URL), {**form_values(systolic_above=170), "version": 0})
    assert reply.status_code == 302
    assert alerts.agency_thresholds(world.other_org.pk).limit("systolic").above == 170
    assert alerts.agency_thresholds(world.org.pk).limit("systolic").above == 160
    assert not VitalAlertSetting.objects.filter(organization=world.org).exists()

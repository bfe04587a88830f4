"""The physician's plan of care: certification rules, the ICD-10-CM map, sending and signing with
the agency's deadline, the PDF read back, and notify-if parameters as alert thresholds."""

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import simple_icd_10_cm as icd
from django.core.exceptions import ValidationError
from django.utils import timezone

from careway.careplans import certification, icd10, plan_of_care, services
from careway.careplans.models import PlanOfCare, Practitioner
from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import AuditEvent
from careway.patients import alerts
from careway.patients import services as patient_services
from careway.patients.vitals import vital_signs
from careway.toolkit.pdf import pdf_text

from .poc_helpers import VALID_NPI, ready_draft


@pytest.fixture(autouse=True)
def _agency_days(world):
    with timezone.override(ZoneInfo(world.org.timezone)):
        yield


@pytest.fixture
def actor(world):
    return audit.Actor(user=world.cm)


# --- the ICD-10-CM map ---------------------------------------------------------------------------


def test_every_mapped_code_is_a_billable_icd10cm_code():
    content = json.loads(icd10.MAP_FILE.read_text())
    assert content["sources"] and content["terms"]
    for entry in content["entries"]:
        assert icd.is_valid_item(entry["code"]) and icd.is_leaf(entry["code"]), entry
        assert entry["mapping"] in ("nlm", "careway")


def test_the_map_covers_the_snomed_codes_of_the_suggestion_rules():
    rules = json.loads((icd10.MAP_FILE.parent / "rules" / "suggestions.json").read_text())["rules"]
    wanted = {
        code
        for rule in rules
        for spec in rule["when"].get("condition", {}).get("codes", [])
        if spec["system"] == icd10.SNOMED
        for code in spec.get("codes", [])
    }
    assert wanted - {c for e in icd10.entries() for c in e.snomed} == set()


def test_a_category_is_refused_naming_the_row():
    found = certification.diagnosis_problems(
        [{"code": "I50.22", "principal": True}, {"code": "I50"}]
    )
    assert "diagnoses.1.code" in found
    assert found["diagnoses.1.code"].startswith("Diagnosis 2: I50 (Heart failure) is a category")
    assert "not a billable code" in found["diagnoses.1.code"]


def test_exactly_one_principal():
    assert "diagnoses" in certification.diagnosis_problems([{"code": "I10"}])
    two = [{"code": "I10", "principal": True}, {"code": "E11.9", "principal": True}]
    assert "2 are marked" in certification.diagnosis_problems(two)["diagnoses"]
    assert certification.diagnosis_problems([{"code": "i10", "principal": True}]) == {}


def test_a_draft_proposes_diagnoses_with_the_snomed_code_beside(world, actor):
    poc = ready_draft(world, actor)
    principal, other = poc.diagnoses
    assert principal["code"] == "I50.9" and principal["principal"]
    assert principal["snomed"] == "88805009"
    assert other["code"] == "E11.9" and not other["principal"]


def test_an_icd10_code_on_the_condition_is_used_as_is():
    proposed = icd10.propose(
        [icd10.ChartCondition(icd10.ICD10CM, "I5022", "Chronic systolic HF", "", False)]
    )
    assert proposed[0]["code"] == "I50.22" and proposed[0]["snomed"] == ""


# --- certification rules ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["MD", "DO", "DPM", "NP", "CNS", "PA"])
def test_allowed_practitioners_may_certify(kind):
    assert certification.may_certify(kind)
    assert certification.practitioner_problem(kind) == ""


def test_a_nurse_midwife_may_not_certify():
    assert not certification.may_certify(Practitioner.CNM)
    assert "nurse-midwife may not certify" in certification.practitioner_problem("CNM")


@pytest.mark.parametrize("kind", ["CNM", "RN", ""])
def test_refused_practitioner_kinds_stop_sending(world, actor, kind):
    poc = ready_draft(world, actor, practitioner_kind=kind) if kind != "RN" else None
    if poc is None:
        assert certification.practitioner_problem("RN")
        return
    assert "practitioner_kind" in certification.problems(poc)


@pytest.mark.parametrize(
    ("offset", "ok"), [(-91, False), (-90, True), (0, True), (30, True), (31, False)]
)
def test_face_to_face_window_edges(world, actor, offset, ok):
    soc = world.patient.episodes.first().start_of_care
    poc = ready_draft(world, actor, face_to_face_date=soc + timedelta(days=offset))
    assert ("face_to_face_date" not in certification.problems(poc)) is ok


def test_face_to_face_by_a_nurse_midwife_is_refused(world, actor):
    poc = ready_draft(world, actor, face_to_face_kind="CNM")
    assert "face_to_face_kind" in certification.problems(poc)


def test_a_recertification_needs_no_face_to_face(world, actor):
    poc = ready_draft(world, actor, face_to_face_date=None, face_to_face_findings="")
    poc.kind = PlanOfCare.Kind.RECERTIFICATION
    assert not {k for k in certification.problems(poc) if k.startswith("face_to_face")}


def test_homebound_and_its_reason_are_required(world, actor):
    poc = ready_draft(world, actor, homebound=None)
    assert "homebound" in certification.problems(poc)
    poc = plan_of_care.update_plan_of_care(
        actor, poc, {"homebound": True, "homebound_reason": ""}, poc.version
    )
    assert "criterion one" in certification.problems(poc)["homebound_reason"]


def test_npi_check_digit():
    assert certification.npi_problem(VALID_NPI) == ""
    assert "check digit" in certification.npi_problem("1234567890")
    assert "10 digits" in certification.npi_problem("12345")


def test_certification_periods_follow_the_episodes_recertification_days(world):
    episode = world.patient.episodes.first()
    soc = episode.start_of_care
    first = certification.period_on(episode, soc)
    assert (first.number, first.start, first.end) == (1, soc, soc + timedelta(days=59))
    assert first.kind == "certification"
    assert first.recertification_from == services.next_recertification(episode, soc)
    assert first.recertification_from == soc + timedelta(days=55)
    second = certification.period_on(episode, soc + timedelta(days=60))
    assert (second.number, second.start) == (2, soc + timedelta(days=60))
    assert second.kind == "recertification"
    assert certification.period_on(episode, soc + timedelta(days=59)).number == 1
    assert certification.period_on(episode, soc + timedelta(days=119)).number == 2


# --- sending, signing, overdue ------------------------------------------------------------------


def test_send_checks_problems_freezes_content_and_stores_the_pdf(world, actor):
    poc = ready_draft(world, actor, practitioner_npi="")
    with pytest.raises(ValidationError) as error:
        plan_of_care.send_plan_of_care(actor, poc, "fax", poc.version)
    assert "practitioner_npi" in error.value.message_dict
    poc = plan_of_care.update_plan_of_care(actor, poc, {"practitioner_npi": VALID_NPI}, poc.version)
    sent = plan_of_care.send_plan_of_care(actor, poc, "fax", poc.version)
    assert sent.status == "sent" and sent.sent_pdf
    assert sent.content["orders"][0]["frequency"] == "3w1, 2w4"
    assert "three times a week" in sent.content["orders"][0]["in_words"].lower()
    assert AuditEvent.objects.filter(action="plan_of_care.send", object_id=str(sent.pk)).exists()
    with pytest.raises(ValidationError):
        plan_of_care.update_plan_of_care(actor, sent, {"prognosis": "good"}, sent.version)


def test_a_stale_version_is_a_conflict(world, actor):
    poc = ready_draft(world, actor)
    with pytest.raises(VersionConflict):
        plan_of_care.update_plan_of_care(actor, poc, {"prognosis": "good"}, poc.version - 1)


def test_a_category_code_is_refused_on_save(world, actor):
    poc = ready_draft(world, actor)
    with pytest.raises(ValidationError) as error:
        plan_of_care.update_plan_of_care(
            actor, poc, {"diagnoses": [{"code": "I50", "principal": True}]}, poc.version
        )
    assert "diagnoses.0.code" in error.value.message_dict


@pytest.mark.parametrize("days", [30, 14])
def test_overdue_edges_with_the_agency_deadline(world, actor, days):
    world.org.order_signature_days = days
    world.org.save()
    poc = ready_draft(world, actor)
    sent_on = plan_of_care.agency_today(world.org.pk) - timedelta(days=6)
    sent = plan_of_care.send_plan_of_care(actor, poc, "portal", poc.version, sent_on=sent_on)
    assert plan_of_care._local_day(sent.sent_at, world.org.pk) == sent_on
    assert sent.due_by == sent_on + timedelta(days=days)
    assert not plan_of_care.is_overdue(sent, sent.due_by)
    assert plan_of_care.is_overdue(sent, sent.due_by + timedelta(days=1))
    assert plan_of_care.overdue_days(sent, sent.due_by + timedelta(days=1)) == 1


def test_mark_signed_not_before_sent_nor_in_the_future(world, actor):
    poc = ready_draft(world, actor)
    sent = plan_of_care.send_plan_of_care(actor, poc, "fax", poc.version)
    today = plan_of_care.agency_today(world.org.pk)
    for bad in (today - timedelta(days=1), today + timedelta(days=1)):
        with pytest.raises(ValidationError) as error:
            plan_of_care.mark_plan_of_care_signed(actor, sent, bad, sent.version)
        assert "signed_on" in error.value.message_dict
    signed = plan_of_care.mark_plan_of_care_signed(actor, sent, today, sent.version)
    assert signed.status == "signed" and not plan_of_care.is_overdue(signed, today + timedelta(99))
    assert AuditEvent.objects.filter(action="plan_of_care.sign").count() == 1


def test_verbal_orders_are_tracked_on_the_same_deadline(world, actor):
    world.org.order_signature_days = 14
    world.org.save()
    plan = ready_draft(world, actor).plan
    with pytest.raises(ValidationError) as error:
        plan_of_care.take_verbal_order(
            actor, plan, {"text": "Add PT eval", "practitioner_name": "Dr. X",
                          "practitioner_kind": "CNM"}
        )  # fmt: skip
    assert "practitioner_kind" in error.value.message_dict
    order = plan_of_care.take_verbal_order(
        actor, plan, {"text": "PT evaluate and treat", "discipline": "PT",
                      "practitioner_name": "Dr. Ana Lopez", "practitioner_kind": "MD"}
    )  # fmt: skip
    sent_on = plan_of_care.agency_today(world.org.pk) - timedelta(days=20)
    with pytest.raises(ValidationError) as error:
        plan_of_care.send_verbal_order(
            actor, order, "fax", order.version, sent_on=sent_on + timedelta(days=21)
        )
    assert "sent_on" in error.value.message_dict
    sent = plan_of_care.send_verbal_order(actor, order, "fax", order.version, sent_on=sent_on)
    assert sent.due_by == sent_on + timedelta(days=14)
    assert not plan_of_care.is_overdue(sent, sent_on + timedelta(days=14))
    assert plan_of_care.is_overdue(sent, sent_on + timedelta(days=15))
    signed = plan_of_care.mark_verbal_order_signed(
        actor, sent, plan_of_care.agency_today(world.org.pk), sent.version
    )
    assert signed.status == "signed"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"verbal_order.create", "verbal_order.send", "verbal_order.sign"} <= actions


def test_a_second_draft_for_the_period_is_refused(world, actor):
    poc = ready_draft(world, actor)
    with pytest.raises(ValidationError) as error:
        plan_of_care.draft_plan_of_care(actor, poc.plan)
    assert "period" in error.value.message_dict


def test_in_the_recertification_window_the_next_period_is_drafted(world, actor):
    poc = ready_draft(world, actor)
    plan_of_care.send_plan_of_care(actor, poc, "fax", poc.version)
    window = poc.period_end - timedelta(days=4)
    recert = plan_of_care.draft_plan_of_care(actor, poc.plan, today=window)
    assert recert.kind == "recertification"
    assert recert.period_start == poc.period_end + timedelta(days=1)
    assert recert.practitioner_name == "Dr. Ana Lopez"  # carried over


# --- the PDF --------------------------------------------------------------------------------------


def test_the_pdf_has_every_cms_485_element_with_the_patients_values(world, actor):
    world.org.address = "88 River Road, Springfield, IL 62702"
    world.org.phone = "217-555-0199"
    world.org.save()
    poc = ready_draft(world, actor)
    plan_of_care.take_verbal_order(
        actor, poc.plan, {"text": "Start of care: SN 3w1 2w4", "practitioner_name": "Dr. Ana Lopez",
                          "practitioner_kind": "MD"}
    )  # fmt: skip
    sent = plan_of_care.send_plan_of_care(actor, poc, "fax", poc.version)
    text = " ".join(pdf_text(bytes(sent.sent_pdf)).split())
    patient = world.patient
    soc = patient.episodes.first().start_of_care
    expected = [
        "HI claim no. (MBI)", "1EG4TE5MK73",
        "Start of care date", f"{soc:%m/%d/%Y}",
        "Certification period", f"From {sent.period_start:%m/%d/%Y} to {sent.period_end:%m/%d/%Y}",
        "Medical record no.", patient.mrn,
        "Riverbend Home Health", "88 River Road, Springfield, IL 62702", "217-555-0199",
        "Margaret Hale", "12 Orchard Lane", "Springfield, IL 62704",
        "Date of birth", "03/14/1940", "Sex", "Female",
        "Furosemide 40 MG Oral Tablet, 40 mg, once daily, by mouth",
        "Principal diagnosis",
        f"I50.9 Heart failure, unspecified, date {soc - timedelta(days=3):%m/%d/%Y}",
        "Surgical procedure", "None in the last 90 days",
        "Other pertinent diagnoses", "E11.9 Type 2 diabetes mellitus without complications",
        "DME and supplies", "Walker; bathroom scale",
        "Safety measures", "Fall precautions; clear pathways",
        "Nutritional requirements", "2 g sodium diet",
        "Allergies", "Penicillin (hives)",
        "Functional limitations", "[X] 6 Endurance", "[X] A Dyspnea with minimal exertion",
        "Activities permitted", "[X] 3 Up as tolerated", "[X] B Walker",
        "Mental status", "Oriented", "Prognosis", "Fair",
        "Orders for discipline and treatments", "Registered nurse (RN): 3w1, 2w4",
        f"from {soc:%m/%d/%Y} to",
        "Systolic blood pressure: notify if above 160 mmHg",
        "Weight: notify if up more than 3 lb in a day",
        "Goal: Weight within 2 lb of dry weight", "Rehabilitation potential",
        "Good for return to walking indoors", "Discharge plans",
        "verbal SOC", "Start of care: SN 3w1 2w4",
        "Dr. Ana Lopez", "400 Main St, Springfield, IL 62701", f"NPI {VALID_NPI}",
        "I certify that this patient is confined to the home",
        "Face-to-face encounter", f"{soc - timedelta(days=5):%m/%d/%Y}", "Dr. Sam Hill",
        "Homebound", "criterion two",
        "Signature", "Date",
    ]  # fmt: skip
    missing = [item for item in expected if item not in text]
    assert missing == []


# --- notify-if parameters become the alert thresholds ----------------------------------------


def _sign(key):
    return next(s for s in vital_signs() if s.key == key)


def test_a_drafts_parameters_do_not_apply(world, actor):
    ready_draft(world, actor, notify_if={"systolic_above": 140})
    thresholds = alerts.alert_thresholds(world.patient)
    assert thresholds.limit("systolic").above == 160
    assert "Plan of care" not in thresholds.source


def test_sent_parameters_are_the_patients_thresholds_at_their_edges(world, actor):
    poc = ready_draft(
        world, actor,
        notify_if={"systolic_above": 150, "systolic_below": 95, "weight_gain_day": 2},
    )  # fmt: skip
    plan_of_care.send_plan_of_care(actor, poc, "fax", poc.version)
    thresholds = alerts.alert_thresholds(world.patient)
    assert thresholds.source.startswith("Plan of care") and "Dr. Ana Lopez" in thresholds.source
    systolic = _sign("systolic")
    assert thresholds.alert(systolic, 150) == ""
    assert thresholds.alert(systolic, 151) == "High: over 150"
    assert thresholds.alert(systolic, 95) == ""
    assert thresholds.alert(systolic, 94) == "Low: under 95"
    # The agency's (defaults) still hold for what the physician did not give.
    assert thresholds.limit("diastolic").above == 100


def test_the_usual_parameters_at_their_edges(world, actor):
    poc = ready_draft(world, actor)  # systolic above 160 or below 90, weight up 3 lb in a day
    plan_of_care.send_plan_of_care(actor, poc, "fax", poc.version)
    thresholds = alerts.alert_thresholds(world.patient)
    systolic = _sign("systolic")
    assert thresholds.alert(systolic, 160) == ""
    assert thresholds.alert(systolic, 161) == "High: over 160"
    assert thresholds.alert(systolic, 90) == ""
    assert thresholds.alert(systolic, 89) == "Low: under 90"
    at = timezone.make_aware(datetime.combine(date(2026, 12, 2), time(10)))
    before = [(at - timedelta(days=1), 170.0)]
    assert thresholds.weight_alert(173.0, at, before) == ""
    assert thresholds.weight_alert(173.5, at, before) == "Gain of 3.5 lb in a day"


def test_the_chart_shows_the_thresholds_source(world, actor, client):
    poc = ready_draft(world, actor, notify_if={"systolic_above": 150})
    plan_of_care.send_plan_of_care(actor, poc, "fax", poc.version)
    patient_services.record_observation(
        actor, world.patient,
        {"category": "vital-signs", "code_system": "http://loinc.org", "code": "8480-6",
         "display": "Systolic blood pressure", "effective_at": timezone.now(), "value": 155,
         "unit": "mm[Hg]"},
    )  # fmt: skip
    client.force_login(world.cm)
    page = client.get(f"/patients/{world.patient.pk}/vitals/").content.decode()
    assert "Plan of care" in page and "ordered by Dr. Ana Lopez" in page
    assert "High: over 150" in page


def test_an_unspecified_code_gives_way_to_a_specific_one_of_its_category():
    """Diabetes with neuropathy (E11.40) and diabetes without complications (E11.9) are not coded
    together: the specific code stays, taking the unspecified one's place as principal."""
    proposed = icd10.propose(
        [
            icd10.ChartCondition(icd10.ICD10CM, "E11.9", "Type 2 diabetes", "", True),
            icd10.ChartCondition(icd10.ICD10CM, "I10", "Hypertension", "", False),
            icd10.ChartCondition(icd10.ICD10CM, "E11.40", "Diabetic neuropathy", "", False),
        ]
    )
    assert [(row["code"], row["principal"]) for row in proposed] == [
        ("E11.40", True),
        ("I10", False),
    ]


def test_careway_starts_without_reading_the_code_set():
    """Reading ICD-10-CM takes about 2 s; every `careway` command and worker would pay it at
    start if the code set were read when the app loads rather than when a code is checked."""
    import os
    import subprocess
    import sys

    check = (
        "import sys, django; django.setup(); from django.urls import resolve; resolve('/');"
        "from careway.careplans import icd10; assert 'simple_icd_10_cm' not in sys.modules;"
        "assert icd10.code_problem('I50.9') == ''; assert 'simple_icd_10_cm' in sys.modules"
    )
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="careway.settings")
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

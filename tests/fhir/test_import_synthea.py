"""The twelve Synthea patients (/work/shared/data/synthea), imported in one go.

The values checked were read by hand from the bundles: each patient's active conditions, current
medications with what they are for, allergies, latest vital signs and visits.
"""

import hashlib
from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest

from careway.core import audit
from careway.core.models import AuditEvent
from careway.fhir.importer import import_files
from careway.fhir.mapping import taken_in
from careway.fhir.models import SourceRecord
from careway.patients import history
from careway.patients.models import (
    Allergy,
    CareTeamMember,
    Condition,
    Encounter,
    EpisodeOfCare,
    Immunization,
    Medication,
    Observation,
    PastCarePlan,
    PastGoal,
    Patient,
    Procedure,
    RecordVersion,
)
from tests.conftest import SHARED_DATA

SYNTHEA = SHARED_DATA / "synthea"
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("synthea_data")]
ELSY = "Elsy_Hermiston_1855d3e9-7940-462d-834e-9595a4457919.json"
RECORD_MODELS = (
    Patient,
    EpisodeOfCare,
    CareTeamMember,
    Condition,
    Medication,
    Allergy,
    Observation,
    Encounter,
    Immunization,
    Procedure,
    PastCarePlan,
    PastGoal,
    RecordVersion,
    SourceRecord,
)


def import_all(world, user=None):
    return import_files(audit.Actor(user=user or world.cm), world.org, world.branch, [SYNTHEA])


def resources_by_type() -> Counter:
    found: Counter = Counter()
    for path in SYNTHEA.glob("*.json"):
        for entry in orjson.loads(path.read_bytes())["entry"]:
            found[entry["resource"]["resourceType"]] += 1
    return found


def chart(family: str) -> Patient:
    return Patient.objects.get(family_name=family)


def row_counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in RECORD_MODELS}


@pytest.fixture
def synthea(world):
    report = import_all(world)
    assert report.ok, [str(p) for p in report.problems]
    return report


def test_all_twelve_bundles_import_in_one_go(world, synthea):
    expected = resources_by_type()
    for kind, count in expected.items():
        outcome = "created" if kind in taken_in() else "not_taken_in"
        assert synthea.counts[kind][outcome] == count, kind
    assert set(synthea.counts) == set(expected)
    assert {"Claim", "ExplanationOfBenefit", "DiagnosticReport"} <= {
        kind for kind, row in synthea.counts.items() if row["not_taken_in"]
    }
    imported = Patient.objects.filter(organization=world.org).exclude(pk=world.patient.pk)
    assert imported.count() == 12
    assert (
        EpisodeOfCare.objects.filter(
            patient__in=imported, status="referred", referral_source="Imported record"
        ).count()
        == 12
    )
    assert (
        CareTeamMember.objects.filter(
            patient__in=imported, user=world.cm, is_primary_case_manager=True
        ).count()
        == 12
    )
    assert AuditEvent.objects.filter(action="patient.create", patient_id__in=imported).count() == 12
    event = AuditEvent.objects.get(action="fhir.import")
    digests = {f["name"]: f["sha256"] for f in event.detail["files"]}
    assert digests[ELSY] == hashlib.sha256((SYNTHEA / ELSY).read_bytes()).hexdigest()
    assert len(digests) == 12


def test_a_patients_registry_details(synthea):
    elsy = chart("Hermiston")
    assert (elsy.given_name, elsy.birth_date.isoformat(), elsy.sex) == (
        "Elsy",
        "1931-08-18",
        "female",
    )
    assert (elsy.address_line, elsy.city, elsy.state, elsy.postal_code) == (
        "410 Crist Glen",
        "New Bedford",
        "MA",
        "02740",
    )
    assert (elsy.latitude, elsy.longitude) == (41.661303, -70.937913)
    assert elsy.phone_home == "555-443-7005"
    assert elsy.mrn == "1855d3e9-7940-462d-834e-9595a4457919"


def test_active_conditions(synthea):
    active = Condition.objects.filter(patient=chart("Lucio"), clinical_status="active")
    assert sorted(active.values_list("display", flat=True)) == [
        "Alzheimer's disease (disorder)",
        "Body mass index 30+ - obesity (finding)",
        "Hyperlipidemia",
    ]
    hermiston = Condition.objects.filter(patient=chart("Hermiston"), clinical_status="active")
    assert set(hermiston.values_list("display", flat=True)) == {
        "Hypertension",
        "Body mass index 30+ - obesity (finding)",
        "Hyperlipidemia",
        "Polyp of colon",
        "Anemia (disorder)",
        "Pulmonary emphysema (disorder)",
    }
    assert Condition.objects.get(patient=chart("Hermiston"), code="38341003").code_system == (
        "http://snomed.info/sct"
    )


def test_current_medications_with_what_they_are_for(synthea):
    current = Medication.objects.filter(patient=chart("Hermiston"), status="active")
    assert sorted(current.values_list("display", "indication", "kind")) == [
        (
            "60 ACTUAT Fluticasone propionate 0.25 MG/ACTUAT / salmeterol 0.05 MG/ACTUAT Dry "
            "Powder Inhaler",
            "Pulmonary emphysema (disorder)",
            "request",
        ),
        ("Hydrochlorothiazide 25 MG", "Hypertension", "request"),
        ("Simvistatin 10 MG", "Hyperlipidemia", "request"),
    ]
    assert not Medication.objects.filter(patient=chart("Schuster"), status="active").exists()
    stopped = Medication.objects.get(patient=chart("Schuster"), display__startswith="Clopidogrel")
    assert (stopped.status, stopped.prescriber) == ("stopped", "Dr. Giovanni Greenfelder")


def test_allergies(synthea):
    herman = Allergy.objects.filter(patient=chart("Herman"))
    assert sorted(herman.values_list("display", "category", "clinical_status")) == [
        ("Allergy to fish", "food", "active"),
        ("Allergy to tree pollen", "food", "active"),
        ("House dust mite allergy", "food", "active"),
    ]
    assert not Allergy.objects.filter(patient=chart("Gibson")).exists()


def test_latest_vital_signs(synthea):
    elsy = chart("Hermiston")
    vitals = Observation.objects.filter(patient=elsy, category="vital-signs")
    weight = vitals.filter(code="29463-7").latest("effective_at")
    # 77.20306179526472 kg in the JSON, kept in pounds, the unit Careway charts weight in.
    assert (weight.value, weight.unit) == (pytest.approx(77.20306179526472 / 0.45359237), "[lb_av]")
    assert weight.effective_at == datetime(2021, 3, 2, 15, 27, tzinfo=UTC)
    pressure = vitals.filter(panel_code="55284-4", effective_at=weight.effective_at)
    assert dict(pressure.values_list("code", "value")) == {
        "8480-6": pytest.approx(147.4423435225779),
        "8462-4": pytest.approx(95.58555334880718),
    }
    assert len(set(pressure.values_list("panel_id", flat=True))) == 1
    # Measured at the visit of that day, which was imported from the same bundle.
    assert weight.encounter is not None
    assert weight.encounter.period_start == weight.effective_at


def test_encounters(synthea):
    visits = Encounter.objects.filter(patient=chart("Lucio"))
    assert visits.count() == 53
    latest = visits.latest("period_start")
    assert (latest.kind, latest.type_display, latest.status) == (
        "AMB",
        "Follow-up encounter",
        "finished",
    )
    assert latest.period_start == datetime(2020, 9, 19, 19, 8, 38, tzinfo=UTC)
    assert latest.period_end == datetime(2020, 9, 19, 19, 23, 38, tzinfo=UTC)
    assert Encounter.objects.filter(patient=chart("Herman")).count() == 35


def test_a_second_import_changes_nothing(world, synthea):
    before = row_counts()
    events = AuditEvent.objects.exclude(action="fhir.import").count()

    again = import_all(world)

    assert again.ok
    assert again.total("created") == again.total("updated") == again.total("rejected") == 0
    for kind, row in again.counts.items():
        expected = "unchanged" if kind in taken_in() else "not_taken_in"
        assert row[expected] == sum(row.values()), kind
    assert row_counts() == before
    assert not RecordVersion.objects.exists()
    assert not Patient.objects.filter(version__gt=1).exists()
    assert AuditEvent.objects.exclude(action="fhir.import").count() == events


def test_an_admin_imports_them_without_becoming_anyones_case_manager(world):
    report = import_all(world, user=world.admin)
    assert report.ok
    assert not CareTeamMember.objects.filter(user=world.admin).exists()
    assert EpisodeOfCare.objects.filter(referral_source="Imported record").count() == 12


def test_a_moved_patient_updates_and_keeps_the_old_address(world, synthea, tmp_path):
    bundle = orjson.loads((SYNTHEA / ELSY).read_bytes())
    bundle["entry"][0]["resource"]["address"][0].update(
        line=["7 Harbor View Road"], city="Fairhaven", postalCode="02719"
    )
    moved = tmp_path / ELSY
    moved.write_bytes(orjson.dumps(bundle))
    elsy = chart("Hermiston")

    report = import_files(audit.Actor(user=world.cm), world.org, world.branch, [moved])

    assert report.counts["Patient"]["updated"] == 1
    assert report.total("updated") == 1 and report.total("created") == 0
    now = chart("Hermiston")
    assert (now.pk, now.version, now.address_line, now.city, now.postal_code) == (
        elsy.pk,
        2,
        "7 Harbor View Road",
        "Fairhaven",
        "02719",
    )
    before = history.as_of(Patient, elsy.pk, 1)
    assert before is not None and (before.address_line, before.city) == (
        "410 Crist Glen",
        "New Bedford",
    )
    update = AuditEvent.objects.get(action="patient.update", patient_id=elsy.pk)
    assert update.actor_id == world.cm.pk

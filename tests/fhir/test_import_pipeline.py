"""FHIR import with small hand-made files: what is created, matched, updated, refused and reported.

Each bad-input test checks the exact fields of the report a user reads: file, line (NDJSON) or
entry (bundle), resource type and id, the element at fault and why.
"""

import copy
import hashlib
import json
from pathlib import Path

import psycopg
import pytest
from django.core.exceptions import PermissionDenied

from careway.core import audit
from careway.core.models import AuditEvent
from careway.fhir import importer
from careway.fhir.importer import FileRecord, Problem, import_files, parse_reference
from careway.fhir.models import ImportRun, SourceRecord
from careway.patients import history
from careway.patients.models import (
    Allergy,
    CareTeamMember,
    Condition,
    Coverage,
    Encounter,
    EpisodeOfCare,
    Medication,
    Observation,
    Patient,
    RecordVersion,
    RelatedPerson,
)
from tests.fhir.samples import HOSPITAL, bundle, patient

pytestmark = pytest.mark.django_db


def heart_rate(oid: str, subject: str = "Patient/p1", value: float = 72, **extra) -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": "Pulse"},
        "subject": {"reference": subject},
        "effectiveDateTime": "2026-11-01T09:00:00+00:00",
        "valueQuantity": {"value": value, "unit": "/min"},
        **extra,
    }


def condition(cid: str, subject: str = "Patient/p1", **extra) -> dict:
    return {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "38341003",
                    "display": "Hypertension",
                }
            ]
        },
        "subject": {"reference": subject},
        "onsetDateTime": "2015-03-01",
        **extra,
    }


@pytest.fixture
def files(tmp_path):
    class Files:
        def json(self, name: str, data) -> Path:
            path = tmp_path / name
            path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
            return path

        def ndjson(self, name: str, lines: list) -> Path:
            path = tmp_path / name
            text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
            path.write_text(text + "\n")
            return path

    return Files()


def run(world, *paths, user=None, **kwargs):
    actor = audit.Actor(user=user or world.cm, via="cli")
    return import_files(actor, world.org, world.branch, paths, **kwargs)


def imported(family: str = "Okonkwo") -> Patient:
    return Patient.objects.get(family_name=family)


def problem_fields(problem: Problem) -> tuple:
    return (
        problem.file,
        problem.line,
        problem.entry,
        problem.resource_type,
        problem.resource_id,
        problem.path,
    )


# --- what an import creates ----------------------------------------------------------------------


def test_a_bundle_creates_the_patient_and_their_record(world, files):
    report = run(
        world,
        files.json("b.json", bundle(patient(), heart_rate("o1", "urn:uuid:p1"), condition("c1"))),
    )
    assert report.ok, report.problems
    new = imported()
    assert (new.given_name, new.birth_date.isoformat(), new.mrn) == (
        "Adaeze",
        "1941-06-02",
        "H-1001",
    )
    assert (new.organization_id, new.branch_id, new.version) == (world.org.pk, world.branch.pk, 1)
    pulse = Observation.objects.get(patient=new)
    assert (pulse.code, pulse.value, pulse.organization_id) == ("8867-4", 72, world.org.pk)
    assert Condition.objects.get(patient=new).display == "Hypertension"
    assert report.counts["Patient"]["created"] == 1
    assert report.counts["Observation"]["created"] == 1
    assert report.counts["Condition"]["created"] == 1


def test_a_new_patient_gets_a_referred_episode_with_the_importing_case_manager(world, files):
    run(world, files.json("b.json", bundle(patient())))
    episode = EpisodeOfCare.objects.get(patient=imported())
    assert (episode.status, episode.referral_source) == ("referred", "Imported record")
    assert episode.branch_id == world.branch.pk
    team = CareTeamMember.objects.get(episode=episode)
    assert (team.user_id, team.role, team.is_primary_case_manager) == (
        world.cm.pk,
        "case_manager",
        True,
    )


def test_an_admin_import_leaves_the_primary_case_manager_to_be_chosen(world, files):
    report = run(world, files.json("b.json", bundle(patient())), user=world.admin)
    assert report.ok
    assert EpisodeOfCare.objects.filter(patient=imported(), status="referred").exists()
    assert not CareTeamMember.objects.filter(patient=imported()).exists()


def test_types_not_taken_in_are_counted_and_listed_never_dropped_silently(world, files):
    practitioner = {
        "resourceType": "Practitioner",
        "id": "dr1",
        "name": [{"prefix": ["Dr."], "given": ["Ana"], "family": "Reyes"}],
    }
    visit = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "urn:uuid:p1"},
        "participant": [{"individual": {"reference": "urn:uuid:dr1"}}],
        "serviceProvider": {"reference": "Organization?identifier=urn:npi|123"},
        "period": {"start": "2026-10-01T10:00:00+00:00"},
    }
    claim = {"resourceType": "Claim", "id": "cl1"}
    report = run(world, files.json("b.json", bundle(patient(), practitioner, visit, claim)))
    assert report.ok, report.problems
    assert report.counts["Practitioner"]["not_taken_in"] == 1
    assert report.counts["Claim"]["not_taken_in"] == 1
    assert report.counts["Encounter"]["created"] == 1
    # The practitioner is not kept as a record, but the visit knows who it was with.
    assert Encounter.objects.get(patient=imported()).practitioner == "Dr. Ana Reyes"


def test_an_allergy_ends_no_known_allergies(world, files):
    Patient.objects.filter(pk=world.patient.pk).update(no_known_allergies=True)
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "a1",
        "patient": {
            "reference": f"Patient?identifier=urn:careway:fhir:mrn:{world.org.pk}|"
            f"{world.patient.mrn}"
        },
        "category": ["medication"],
        "code": {"text": "Penicillin"},
        "clinicalStatus": {"coding": [{"code": "active"}]},
    }
    report = run(world, files.ndjson("allergies.ndjson", [allergy]))
    assert report.ok, report.problems
    assert Allergy.objects.get(patient=world.patient).display == "Penicillin"
    assert not Patient.objects.get(pk=world.patient.pk).no_known_allergies


# --- idempotency and updates ---------------------------------------------------------------------


def _row_counts() -> dict[str, int]:
    models = (Patient, Observation, Condition, EpisodeOfCare, CareTeamMember, RecordVersion)
    return {m.__name__: m.objects.count() for m in (*models, SourceRecord)}


def test_importing_the_same_file_twice_changes_nothing(world, files):
    path = files.json("b.json", bundle(patient(), heart_rate("o1"), condition("c1")))
    run(world, path)
    before = _row_counts()
    events = AuditEvent.objects.filter(action__startswith="patient.").count()

    again = run(world, path)

    assert again.ok
    assert {k: row["unchanged"] for k, row in again.counts.items()} == {
        "Patient": 1,
        "Observation": 1,
        "Condition": 1,
    }
    assert again.total("created") == again.total("updated") == 0
    assert _row_counts() == before
    assert imported().version == 1 and Observation.objects.get().version == 1
    assert AuditEvent.objects.filter(action__startswith="patient.").count() == events


def test_a_changed_patient_updates_what_changed_and_keeps_the_old_version(world, files):
    first = patient()
    run(world, files.json("v1.json", bundle(first, heart_rate("o1"))))
    old = imported()
    moved = copy.deepcopy(first)
    moved["address"] = [{"line": ["3 Birch Lane"], "city": "Troy", "state": "NY"}]

    report = run(world, files.json("v2.json", bundle(moved, heart_rate("o1"))))

    assert report.counts["Patient"]["updated"] == 1
    assert report.counts["Observation"]["unchanged"] == 1
    now = imported()
    assert (now.pk, now.version, now.address_line, now.city) == (old.pk, 2, "3 Birch Lane", "Troy")
    kept = history.as_of(Patient, now.pk, 1)
    assert kept is not None and (kept.address_line, kept.city) == ("12 Elm Street", "Albany")
    assert Patient.objects.filter(family_name="Okonkwo").count() == 1  # no duplicate
    update = AuditEvent.objects.get(action="patient.update", patient_id=now.pk)
    assert update.detail["source"] == "Imported record"
    source = SourceRecord.objects.get(resource_type="Patient", source_key="p1")
    assert source.content_hash == importer.canonical_hash(moved)


def test_a_corrected_measurement_updates_its_record_and_keeps_the_old_value(world, files):
    run(world, files.ndjson("a.ndjson", [patient(), heart_rate("o1", value=72)]))
    report = run(world, files.ndjson("b.ndjson", [patient(), heart_rate("o1", value=68)]))
    assert report.counts["Observation"]["updated"] == 1
    pulse = Observation.objects.get()
    assert (pulse.value, pulse.version) == (68, 2)
    assert history.as_of(Observation, pulse.pk, 1).value == 72


def test_a_new_version_that_changes_nothing_careway_keeps_is_unchanged(world, files):
    run(world, files.json("a.json", bundle(patient())))
    touched = patient(meta={"lastUpdated": "2026-11-20T10:00:00+00:00"})
    report = run(world, files.json("b.json", bundle(touched)))
    assert report.counts["Patient"]["unchanged"] == 1
    assert imported().version == 1 and not RecordVersion.objects.exists()


def test_the_source_qualifies_the_id(world, files):
    one = patient(meta={"source": "http://ehr-one.example"})
    other = patient(mrn="H-2002", family="Mensah", meta={"source": "http://ehr-two.example"})
    report = run(world, files.ndjson("two-sources.ndjson", [one, other]))
    assert report.counts["Patient"]["created"] == 2  # the same id "p1", but two sources
    keys = set(SourceRecord.objects.filter(source_key__endswith="|p1").values_list("source_key"))
    assert keys == {("http://ehr-one.example|p1",), ("http://ehr-two.example|p1",)}


def test_a_patient_already_known_by_identifier_is_matched_not_duplicated(world, files):
    run(world, files.json("a.json", bundle(patient())))
    # The same person from another system: another id, but the same hospital identifier.
    again = patient(pid="other-system-7", phone="x")
    del again["phone"]
    again["telecom"] = [{"system": "phone", "value": "518-555-0101", "use": "home"}]
    report = run(world, files.json("b.json", bundle(again)))
    assert report.counts["Patient"]["updated"] == 1
    assert Patient.objects.filter(family_name="Okonkwo").count() == 1
    assert imported().phone_home == "518-555-0101"


def test_a_patient_registered_by_hand_is_matched_by_mrn(world, files):
    same = patient(mrn=world.patient.mrn, family=world.patient.family_name)
    same["name"][0]["given"] = [world.patient.given_name]
    report = run(world, files.json("b.json", bundle(same, heart_rate("o1"))))
    assert report.ok, report.problems
    assert report.counts["Patient"]["updated"] == 1
    assert Observation.objects.get().patient_id == world.patient.pk
    assert Patient.objects.filter(mrn=world.patient.mrn).count() == 1


def blood_pressure(oid: str, systolic: float, diastolic: float | None = 80) -> dict:
    def component(code: str, value: float) -> dict:
        return {
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {"value": value, "unit": "mm[Hg]"},
        }

    panel = heart_rate(oid)
    del panel["valueQuantity"]
    panel["code"] = {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}
    panel["component"] = [component("8480-6", systolic)]
    if diastolic is not None:
        panel["component"].append(component("8462-4", diastolic))
    return panel


def test_a_corrected_blood_pressure_changes_only_the_component_that_changed(world, files):
    run(world, files.ndjson("a.ndjson", [patient(), blood_pressure("bp1", 150, None)]))
    assert Observation.objects.get().code == "8480-6"  # the first version measured one part

    corrected = blood_pressure("bp1", 145, 85)
    report = run(world, files.ndjson("b.ndjson", [patient(), corrected]))

    assert report.counts["Observation"]["updated"] == 1
    rows = {o.code: o for o in Observation.objects.filter(patient=imported())}
    assert (rows["8480-6"].value, rows["8480-6"].version) == (145, 2)
    assert (rows["8462-4"].value, rows["8462-4"].version) == (85, 1)  # measured in the new one
    assert rows["8480-6"].panel_id == rows["8462-4"].panel_id is not None
    assert history.as_of(Observation, rows["8480-6"].pk, 1).value == 150


# --- references ----------------------------------------------------------------------------------


def test_ndjson_refers_to_a_patient_imported_earlier_from_another_file(world, files):
    run(world, files.json("patients.json", bundle(patient())))
    lines = [
        heart_rate("o1", "Patient/p1", 70),
        heart_rate("o2", f"Patient?identifier={HOSPITAL}|H-1001", 71),
        heart_rate("o3", "https://ehr.example.org/fhir/Patient/p1/_history/3", 72),
        {**heart_rate("o4"), "subject": {"identifier": {"system": HOSPITAL, "value": "H-1001"}}},
    ]
    report = run(world, files.ndjson("Observation.ndjson", lines))
    assert report.ok, report.problems
    assert report.counts["Observation"]["created"] == 4
    values = sorted(Observation.objects.filter(patient=imported()).values_list("value", flat=True))
    assert values == [70, 71, 72, 72]
    assert AuditEvent.objects.filter(action="patient.update", patient_id=imported().pk).exists()


def test_references_within_a_bundle_by_absolute_url_and_identifier(world, files):
    base = "https://ehr.example.org/fhir"
    resources = [
        patient(),
        heart_rate("o1", f"{base}/Patient/p1"),
        heart_rate("o2", f"Patient?identifier={HOSPITAL}|H-1001"),
    ]
    urls = [f"{base}/Patient/p1", f"{base}/Observation/o1", f"{base}/Observation/o2"]
    report = run(world, files.json("b.json", bundle(*resources, kind="collection", urls=urls)))
    assert report.ok, report.problems
    assert Observation.objects.filter(patient=imported()).count() == 2


def test_text_fields_take_the_words_of_what_they_refer_to(world, files):
    run(world, files.json("a.json", bundle(patient(), condition("c1"))))
    npi = "http://hl7.org/fhir/sid/us-npi"
    prescriber = {
        "resourceType": "Practitioner",
        "id": "dr9",
        "identifier": [{"system": npi, "value": "99"}],
        "name": [{"prefix": ["Dr."], "given": ["Ana"], "family": "Reyes"}],
    }
    order = {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Lisinopril 10 MG Oral Tablet"},
        "subject": {"reference": "Patient/p1"},
        "requester": {"reference": f"Practitioner?identifier={npi}|99"},
        "reasonReference": [{"reference": "Condition/c1"}],  # imported with the first file
    }
    report = run(world, files.ndjson("orders.ndjson", [prescriber, order]))
    assert report.ok, report.problems
    medication = Medication.objects.get(patient=imported())
    assert (medication.display, medication.indication, medication.prescriber) == (
        "Lisinopril 10 MG Oral Tablet",
        "Hypertension",
        "Dr. Ana Reyes",
    )


def visit(eid: str, subject: str, **extra) -> dict:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HH"},
        "subject": {"reference": subject},
        "period": {"start": "2026-10-01T10:00:00+00:00"},
        **extra,
    }


def test_a_visit_links_to_its_careway_episode_only_if_it_is_that_patients(world, files):
    own = world.patient.episodes.get()
    other = world.outsider_patient.episodes.get()
    hale = f"Patient?identifier=urn:careway:fhir:mrn:{world.org.pk}|{world.patient.mrn}"
    lines = [
        visit("e1", hale, episodeOfCare=[{"reference": f"EpisodeOfCare/{own.pk}"}]),
        visit("e2", hale, episodeOfCare=[{"reference": f"EpisodeOfCare/{other.pk}"}]),
        visit("e3", hale, episodeOfCare=[{"reference": "EpisodeOfCare/987654"}]),
    ]
    report = run(world, files.ndjson("visits.ndjson", lines))
    assert report.ok, report.problems
    assert list(Encounter.objects.order_by("pk").values_list("episode_id", flat=True)) == [
        own.pk,
        None,  # another agency's episode is never linked
        None,  # no such episode: nothing to link to, and not an error
    ]


def test_contacts_and_coverage_with_the_payer_named_by_reference(world, files):
    payer = {"resourceType": "Organization", "id": "org1", "name": "Medicare Part A"}
    coverage = {
        "resourceType": "Coverage",
        "id": "cov1",
        "status": "active",
        "beneficiary": {"reference": "urn:uuid:p1"},
        "payor": [{"reference": "urn:uuid:org1"}],
        "type": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.221.5", "code": "1"}]},
        "subscriberId": "1EG4-TE5-MK73",
    }
    daughter = {
        "resourceType": "RelatedPerson",
        "id": "rp1",
        "patient": {"reference": "urn:uuid:p1"},
        "name": [{"given": ["Ngozi"], "family": "Okonkwo"}],
        "telecom": [{"system": "phone", "value": "518-555-0199"}],
    }
    report = run(world, files.json("b.json", bundle(patient(), payer, coverage, daughter)))
    assert report.ok, report.problems
    plan = Coverage.objects.get(patient=imported())
    assert (plan.payer_name, plan.kind, plan.member_id) == (
        "Medicare Part A",
        "medicare",
        "1EG4-TE5-MK73",
    )
    contact = RelatedPerson.objects.get(patient=imported())
    assert (contact.name, contact.phone) == ("Ngozi Okonkwo", "518-555-0199")


def test_a_payer_with_no_name_anywhere_is_a_problem(world, files):
    coverage = {
        "resourceType": "Coverage",
        "id": "cov1",
        "status": "active",
        "beneficiary": {"reference": "urn:uuid:p1"},
        "payor": [{"reference": "Organization?identifier=urn:payers|77"}],
    }
    report = run(world, files.ndjson("coverage.ndjson", [patient(), coverage]))
    assert problem_fields(report.problems[0]) == (
        "coverage.ndjson",
        2,
        None,
        "Coverage",
        "cov1",
        "payer_name",
    )
    assert report.counts["Patient"]["created"] == 1 and not Coverage.objects.exists()


def test_a_bulk_export_imports_whatever_order_its_files_are_given_in(world, files):
    measured = heart_rate("o1", encounter={"reference": "Encounter/e1"})
    given = [  # alphabetical, as a glob gives them: each refers to files after it
        files.ndjson("Encounter.ndjson", [visit("e1", "Patient/p1")]),
        files.ndjson("Observation.ndjson", [measured]),
        files.ndjson("Patient.ndjson", [patient()]),
    ]
    report = run(world, *given)
    assert report.ok, report.problems
    assert [f.name for f in report.files] == [
        "Patient.ndjson",
        "Encounter.ndjson",
        "Observation.ndjson",
    ]
    pulse = Observation.objects.get(patient=imported())
    assert pulse.encounter == Encounter.objects.get(patient=imported())


def test_references_parse_in_every_form():
    assert parse_reference("urn:uuid:abc") == importer.Ref("urn:uuid:abc")
    literal = parse_reference("http://x.org/fhir/Patient/p-1/_history/2")
    assert (literal.resource_type, literal.resource_id) == ("Patient", "p-1")
    conditional = parse_reference("Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|99")
    assert (conditional.resource_type, conditional.system, conditional.value) == (
        "Practitioner",
        "http://hl7.org/fhir/sid/us-npi",
        "99",
    )
    logical = parse_reference({"identifier": {"system": "s", "value": "v"}}, "Patient")
    assert (logical.resource_type, logical.system, logical.value) == ("Patient", "s", "v")
    assert parse_reference("#contained") is None and parse_reference({"display": "x"}) is None


# --- bad input -----------------------------------------------------------------------------------


def test_a_file_that_is_not_json_is_reported_and_the_next_file_imports(world, files):
    broken = files.json("broken.json", b'{"resourceType": "Bundle", "type": ')
    good = files.json("good.json", bundle(patient()))
    report = run(world, broken, good)
    assert [problem_fields(p) for p in report.problems] == [("broken.json", None, None, "", "", "")]
    assert report.problems[0].reason.startswith("not valid JSON")
    assert "line 1" in report.problems[0].reason
    assert imported().mrn == "H-1001"


@pytest.mark.parametrize(
    ("content", "path", "reason"),
    [
        ([patient()], "", "expected a FHIR Bundle (a JSON object), found a list"),
        (patient(), "resourceType", "expected a Bundle, found a Patient"),
        (
            {"resourceType": "Bundle", "type": "searchset", "entry": []},
            "Bundle.type",
            "Bundle.type 'searchset' is not imported",
        ),
    ],
)
def test_a_file_of_the_wrong_kind_is_reported(world, files, content, path, reason):
    report = run(world, files.json("wrong.json", content))
    assert report.problem_count == 1
    assert problem_fields(report.problems[0]) == ("wrong.json", None, None, "", "", path)
    assert report.problems[0].reason.startswith(reason)
    assert not Patient.objects.filter(mrn="H-1001").exists()


def test_a_file_that_does_not_exist_is_reported(world, tmp_path):
    report = run(world, tmp_path / "missing.ndjson")
    assert problem_fields(report.problems[0]) == ("missing.ndjson", None, None, "", "", "")
    assert "cannot be read" in report.problems[0].reason


def test_an_invalid_entry_rejects_its_whole_bundle_while_the_next_file_imports(world, files):
    no_birth_date = patient()
    del no_birth_date["birthDate"]
    failing = files.json("failing.json", bundle(condition("c1"), no_birth_date, heart_rate("o1")))
    good = files.json(
        "good.json",
        bundle(patient(pid="p2", mrn="H-2", family="Mensah"), heart_rate("o9", "urn:uuid:p2")),
    )

    report = run(world, failing, good)

    invalid = report.problems[1]
    assert problem_fields(invalid) == (
        "failing.json",
        None,
        1,
        "Patient",
        "p1",
        "Patient.birthDate",
    )
    assert "missing" in invalid.reason
    assert str(invalid).startswith("failing.json, Bundle.entry[1]: Patient/p1: Patient.birthDate:")
    # What pointed at the invalid patient cannot be imported either, and says why.
    dependants = [report.problems[0], report.problems[2]]
    assert [(p.resource_type, p.entry, p.path) for p in dependants] == [
        ("Condition", 0, "subject"),
        ("Observation", 2, "subject"),
    ]
    assert all("refers to 'Patient/p1', which is not imported" in p.reason for p in dependants)
    assert report.problems[3].reason.startswith("nothing from this bundle was imported")
    assert report.problem_count == 4
    assert not Patient.objects.filter(mrn="H-1001").exists()
    assert not Condition.objects.exists() and Observation.objects.count() == 1
    assert imported("Mensah").mrn == "H-2"
    assert report.counts["Patient"] == {
        "created": 1, "updated": 0, "unchanged": 0, "not_taken_in": 0, "invalid": 1, "rejected": 0
    }  # fmt: skip


def test_a_dangling_reference_rejects_a_collection_bundle_too(world, files):
    dangling = heart_rate("o2", "Patient/nobody")
    report = run(
        world,
        files.json("c.json", bundle(patient(), heart_rate("o1"), dangling, kind="collection")),
    )
    problem = report.problems[0]
    assert problem_fields(problem) == ("c.json", None, 2, "Observation", "o2", "subject")
    assert problem.reason.startswith("dangling reference 'Patient/nobody'")
    assert not Patient.objects.filter(mrn="H-1001").exists()
    assert not Observation.objects.exists()
    assert report.counts["Observation"]["rejected"] == 1
    assert report.counts["Observation"]["invalid"] == 1


def test_bad_ndjson_lines_are_reported_and_skipped_and_the_rest_import(world, files):
    no_effective = heart_rate("o3")
    del no_effective["effectiveDateTime"]
    lines = [
        patient(),
        '{"resourceType": "Observation", "id": ',
        no_effective,
        heart_rate("o4", "Patient/ghost"),
        "[1, 2]",
        "",
        heart_rate("o7"),
        {"id": "x8"},
    ]
    report = run(world, files.ndjson("obs.ndjson", lines))
    found = [problem_fields(p) for p in report.problems]
    assert found == [
        ("obs.ndjson", 2, None, "", "", ""),
        ("obs.ndjson", 5, None, "", "", ""),
        ("obs.ndjson", 3, None, "Observation", "o3", "Observation.effective[x]"),
        ("obs.ndjson", 4, None, "Observation", "o4", "subject"),
        ("obs.ndjson", 8, None, "", "x8", "resourceType"),
    ]
    assert report.problems[0].reason.startswith("not valid JSON")
    assert report.problems[1].reason.startswith("expected one FHIR resource (a JSON object)")
    assert "dangling reference 'Patient/ghost'" in report.problems[3].reason
    assert report.counts["Observation"]["created"] == 1 and report.counts["Patient"]["created"] == 1
    assert Observation.objects.get().value == 72


def test_ndjson_imports_in_batches_each_on_its_own(world, files, monkeypatch):
    monkeypatch.setattr(importer, "BATCH_LINES", 2)
    lines = [patient(), heart_rate("o1"), heart_rate("o2", "Patient/ghost"), heart_rate("o3")]
    seen = []
    report = run(world, files.ndjson("obs.ndjson", lines), on_progress=seen.append)
    assert [p.resources for p in seen] == [2, 4]
    assert seen[-1].bytes_done == seen[-1].bytes_total > seen[0].bytes_done > 0
    assert report.counts["Observation"] == {
        "created": 2, "updated": 0, "unchanged": 0, "not_taken_in": 0, "invalid": 1, "rejected": 0
    }  # fmt: skip


def test_ndjson_is_read_line_by_line(files):
    path = files.ndjson("five.ndjson", [heart_rate(f"o{n}") for n in range(5)])
    batches = importer.read_file(path, FileRecord(path.name, path.stat().st_size), batch_lines=2)
    first = next(batches)  # a generator: the rest of the file is not read yet
    assert [e.line for e in first.entries] == [1, 2]
    assert first.bytes_read < path.stat().st_size
    assert [[e.line for e in b.entries] for b in batches] == [[3, 4], [5]]


def test_a_reference_to_the_wrong_kind_of_resource_is_reported(world, files):
    wrong = heart_rate("o1", encounter={"reference": "Condition/c1"})
    report = run(world, files.ndjson("wrong.ndjson", [patient(), condition("c1"), wrong]))
    problem = report.problems[0]
    assert problem_fields(problem) == ("wrong.ndjson", 3, None, "Observation", "o1", "encounter")
    assert problem.reason == (
        "refers to 'Condition/c1', a Condition resource, where Careway needs a reference to its "
        "encounter record"
    )


def test_a_json_file_of_ndjson_lines_gets_a_hint(world, files):
    lines = files.ndjson("lines.json", [patient(), heart_rate("o1")])
    report = run(world, lines)
    assert report.problems[0].reason.endswith("(one resource a line? Name the file .ndjson)")


def test_a_batch_the_database_refuses_leaves_nothing_and_the_import_goes_on(
    world, files, monkeypatch
):
    from careway.fhir import services

    real = services._write_sources
    calls = []

    def refuse_once(writer, plan):
        calls.append(plan)
        if len(calls) == 1:
            raise psycopg.errors.StringDataRightTruncation("value too long for type varchar(40)")
        return real(writer, plan)

    monkeypatch.setattr(services, "_write_sources", refuse_once)
    refused = files.ndjson("refused.ndjson", [patient(), heart_rate("o1")])
    good = files.json("good.json", bundle(patient(pid="p2", mrn="H-2", family="Mensah")))

    report = run(world, refused, good)

    assert [problem_fields(p) for p in report.problems] == [
        ("refused.ndjson", None, None, "", "", "")
    ]
    assert report.problems[0].reason == (
        "nothing from lines 1 to 2 was imported: the database refused it (value too long for "
        "type varchar(40))"
    )
    assert (
        report.counts["Patient"]["rejected"] == 1 and report.counts["Observation"]["rejected"] == 1
    )
    assert not Patient.objects.filter(mrn="H-1001").exists() and not Observation.objects.exists()
    assert not SourceRecord.objects.filter(source_key="p1").exists()
    assert imported("Mensah").mrn == "H-2"


def test_the_same_resource_twice_with_different_content_is_a_problem(world, files):
    lines = [patient(), heart_rate("o1", value=70), heart_rate("o1", value=90)]
    report = run(world, files.ndjson("twice.ndjson", lines))
    assert problem_fields(report.problems[0]) == ("twice.ndjson", 3, None, "Observation", "o1", "")
    assert "appears again with different content (first at line 2)" in report.problems[0].reason
    assert Observation.objects.get().value == 70


def test_a_batch_costs_the_same_few_queries_whatever_its_size(world, files):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run(world, files.json("patient.json", bundle(patient())))

    def queries_for(count: int, name: str) -> int:
        lines = [heart_rate(f"{name}{n}", value=60 + n) for n in range(count)]
        path = files.ndjson(f"{name}.ndjson", lines)
        with CaptureQueriesContext(connection) as captured:
            report = run(world, path)
        assert report.counts["Observation"]["created"] == count
        return len(captured)

    # 40 rows still fit one INSERT on SQLite (bulk_create splits at its 999 parameters).
    assert queries_for(3, "small") == queries_for(40, "large")


# --- audit, progress and who may import ----------------------------------------------------------


def test_the_import_event_names_each_file_by_sha256_and_size(world, files):
    first = files.json("one.json", bundle(patient()))
    second = files.ndjson("two.ndjson", [heart_rate("o1")])
    report = run(world, first, second)
    event = AuditEvent.objects.get(action="fhir.import")
    assert (event.organization_id, event.patient_id, event.actor_id) == (
        world.org.pk,
        None,
        world.cm.pk,
    )
    assert event.detail["files"] == [
        {
            "name": p.name,
            "bytes": p.stat().st_size,
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
        }
        for p in (first, second)
    ]
    assert event.detail["counts"] == report.counts and event.detail["problems"] == 0
    created = AuditEvent.objects.get(action="patient.create", patient_id=imported().pk)
    assert created.detail["import_run"] == str(report.run.pk)
    assert created.detail["via"] == "cli"


def test_an_upload_run_gets_progress_and_keeps_its_own_file_details(world, files):
    path = files.json("upload.json", bundle(patient()))
    run_row = ImportRun.objects.create(
        organization=world.org,
        branch=world.branch,
        started_by=world.cm,
        files=[{"name": "upload.json", "original_name": "Ada's record.json", "bytes": 1}],
    )
    report = run(world, path, run=run_row)
    run_row.refresh_from_db()
    assert report.run.pk == run_row.pk
    assert (run_row.status, run_row.percent, run_row.problem_count) == ("done", 100, 0)
    assert run_row.bytes_done == run_row.bytes_total == path.stat().st_size
    assert run_row.files == [
        {
            "name": "upload.json",
            "original_name": "Ada's record.json",
            "bytes": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
    ]
    assert run_row.counts["Patient"]["created"] == 1
    assert SourceRecord.objects.filter(import_run=run_row).count() == 2  # the id and the MRN


def test_problems_are_kept_in_the_run(world, files):
    report = run(world, files.ndjson("bad.ndjson", ["nope", heart_rate("o1", "Patient/ghost")]))
    run_row = ImportRun.objects.get(pk=report.run.pk)
    assert run_row.problem_count == 2
    assert [(p["file"], p["line"]) for p in run_row.problems] == [
        ("bad.ndjson", 1),
        ("bad.ndjson", 2),
    ]


@pytest.mark.parametrize("who", ["outsider", "rn", "scheduler", "supervisor", "auditor"])
def test_only_the_agencys_admins_and_case_managers_may_import(world, files, who):
    path = files.json("b.json", bundle(patient()))
    with pytest.raises(PermissionDenied):
        run(world, path, user=getattr(world, who))
    assert not Patient.objects.filter(mrn="H-1001").exists()
    assert not ImportRun.objects.exists()
    denied = AuditEvent.objects.get(action="fhir.import")
    assert (denied.outcome, denied.actor_id) == ("denied", getattr(world, who).pk)


def test_a_branch_of_another_agency_is_refused(world, files):
    actor = audit.Actor(user=world.cm)
    with pytest.raises(PermissionDenied):
        import_files(
            actor, world.org, world.other_branch, [files.json("b.json", bundle(patient()))]
        )
    assert not Patient.objects.filter(mrn="H-1001").exists()


def test_a_changed_coverage_updates_and_keeps_the_old_version(world, files):
    from careway.patients import history

    payer = {"resourceType": "Organization", "id": "org1", "name": "Medicare Part A"}
    coverage = {
        "resourceType": "Coverage",
        "id": "cov1",
        "status": "active",
        "beneficiary": {"reference": "urn:uuid:p1"},
        "payor": [{"reference": "urn:uuid:org1"}],
        "subscriberId": "1EG4-TE5-MK73",
    }
    assert run(world, files.json("a.json", bundle(patient(), payer, coverage))).ok
    changed = {**coverage, "subscriberId": "1EG4-TE5-MK99"}
    report = run(world, files.json("b.json", bundle(patient(), payer, changed)))
    assert report.ok, report.problems
    assert report.counts["Coverage"]["updated"] == 1
    plan = Coverage.objects.get(patient=imported())
    assert (plan.member_id, plan.version) == ("1EG4-TE5-MK99", 2)
    assert history.as_of(Coverage, plan.pk, 1).member_id == "1EG4-TE5-MK73"


# --- whose charts an import may write to ---------------------------------------------------------


def mrn_reference(world, mrn: str) -> str:
    return f"Patient?identifier=urn:careway:fhir:mrn:{world.org.pk}|{mrn}"


def grant_to(user, patient):
    from datetime import timedelta

    from django.utils import timezone

    from careway.patients.models import BreakGlassGrant

    return BreakGlassGrant.objects.create(
        organization=patient.organization,
        user=user,
        patient=patient,
        reason="Fell at home, on call tonight",
        expires_at=timezone.now() + timedelta(minutes=30),
    )


def the_same_words(one: Problem, other: Problem, one_ref: str, other_ref: str) -> bool:
    """Whether two problems read alike but for the reference each names."""
    return problem_fields(one) == problem_fields(other) and one.reason.replace(
        one_ref, "<ref>"
    ) == other.reason.replace(other_ref, "<ref>")


def chart_of(patient: Patient) -> tuple:
    fresh = Patient.objects.get(pk=patient.pk)
    return (
        fresh.version,
        fresh.address_line,
        *(m.objects.filter(patient=patient).count() for m in (Observation, Condition, Medication)),
    )


@pytest.mark.parametrize("who", ["cm_other", "grant_holder", "admin"])
def test_an_import_writes_nothing_to_a_chart_the_importer_may_not_change(world, files, who):
    user = world.admin if who == "admin" else world.cm_other
    if who == "grant_holder":
        grant_to(world.cm_other, world.patient)  # break the glass: read, never write
    before = chart_of(world.patient)
    hale, nobody = mrn_reference(world, world.patient.mrn), mrn_reference(world, "NO-SUCH-MRN")
    path = files.ndjson("o.ndjson", [heart_rate("o1", hale)])
    refused = run(world, path, user=user)
    missing = run(world, files.ndjson("o.ndjson", [heart_rate("o1", nobody)]), user=user)

    (problem,) = refused.problems
    assert problem_fields(problem) == ("o.ndjson", 1, None, "Observation", "o1", "subject")
    assert problem.reason.startswith(f"dangling reference {hale!r}")
    # Whether the patient exists is not for the importer to learn.
    assert the_same_words(problem, missing.problems[0], hale, nobody)
    assert refused.counts["Observation"]["invalid"] == 1
    assert chart_of(world.patient) == before
    assert not AuditEvent.objects.filter(
        patient_id=world.patient.pk, actor_id=user.pk, outcome="success"
    ).exists()
    denied = AuditEvent.objects.get(patient_id=world.patient.pk, actor_id=user.pk)
    assert (denied.action, denied.outcome) == ("patient.edit", "denied")
    assert denied.detail["import_run"] == str(refused.run.pk)


def test_every_way_of_naming_a_patient_is_refused_alike(world, files):
    first = run(world, files.json("a.json", bundle(patient())))  # cm's own new patient
    assert first.ok
    forms = [
        "Patient/p1",
        "urn:uuid:p1",
        f"Patient?identifier={HOSPITAL}|H-1001",
        mrn_reference(world, "H-1001"),
    ]
    lines = [heart_rate(f"o{n}", ref) for n, ref in enumerate(forms)]
    lines.append(
        {**heart_rate("o9"), "subject": {"identifier": {"system": HOSPITAL, "value": "H-1001"}}}
    )
    report = run(world, files.ndjson("o.ndjson", lines), user=world.cm_other)
    assert [p.path for p in report.problems] == ["subject"] * 5
    assert all(p.reason.startswith("dangling reference") for p in report.problems)
    assert not Observation.objects.exists()


def test_a_registration_is_updated_only_by_whom_may_change_the_patient(world, files):
    before = chart_of(world.patient)
    same = patient(mrn=world.patient.mrn, family=world.patient.family_name)
    same["address"] = [{"line": ["99 Taken Road"], "city": "Troy", "state": "NY"}]
    by_mrn = run(world, files.json("mrn.json", bundle(same)), user=world.cm_other)
    (problem,) = [p for p in by_mrn.problems if p.resource_type == "Patient"]
    assert problem_fields(problem) == ("mrn.json", None, 0, "Patient", "p1", "Patient.identifier")
    assert "you may not change" in problem.reason
    assert chart_of(world.patient) == before

    assert run(world, files.json("a.json", bundle(patient(pid="h7", mrn="H-7")))).ok  # by cm
    moved = patient(pid="h7", mrn="H-7")
    moved["address"] = [{"line": ["1 Elsewhere"], "city": "Troy", "state": "NY"}]
    by_id = run(world, files.json("b.json", bundle(moved)), user=world.cm_other)
    assert [(p.resource_type, p.path) for p in by_id.problems if p.resource_type] == [
        ("Patient", "Patient.id")
    ]
    assert Patient.objects.get(mrn="H-7").address_line == "12 Elm Street"


def test_a_record_imported_before_is_changed_only_by_whom_may_change_its_patient(world, files):
    assert run(world, files.ndjson("a.ndjson", [patient(), heart_rate("o1", value=72)])).ok
    own = make_patient_of(world.cm_other)
    again = run(world, files.ndjson("b.ndjson", [heart_rate("o1", value=50)]), user=world.cm_other)
    assert [(p.path, p.reason.split(":")[0]) for p in again.problems] == [
        ("subject", "dangling reference 'Patient/p1'")
    ]
    # Pointed at a patient of their own, it still may not move there or change.
    moved = heart_rate("o1", mrn_reference(world, own.mrn), value=50)
    report = run(world, files.ndjson("c.ndjson", [moved]), user=world.cm_other)
    assert [p.path for p in report.problems] == ["Observation.subject"]
    pulse = Observation.objects.get()
    assert (pulse.value, pulse.version, pulse.patient_id) == (72, 1, imported().pk)


def test_an_unchanged_copy_tells_a_colleague_no_more_than_a_new_resource(world, files):
    hale, nobody = mrn_reference(world, world.patient.mrn), mrn_reference(world, "NO-SUCH-MRN")
    assert run(world, files.ndjson("o.ndjson", [heart_rate("o1", hale)])).ok  # by cm
    copy_ = run(world, files.ndjson("o.ndjson", [heart_rate("o1", hale)]), user=world.cm_other)
    missing = run(world, files.ndjson("o.ndjson", [heart_rate("o2", nobody)]), user=world.cm_other)
    assert copy_.counts == {"Observation": {**dict.fromkeys(importer.OUTCOMES, 0), "invalid": 1}}
    (problem,), (other,) = copy_.problems, missing.problems
    assert (problem.path, other.path) == ("subject", "subject")
    assert problem.reason.replace(hale, "<ref>") == other.reason.replace(nobody, "<ref>")
    assert AuditEvent.objects.filter(
        action="patient.edit", outcome="denied", actor_id=world.cm_other.pk
    ).exists()


def make_patient_of(user) -> Patient:
    from tests.factories import make_patient

    return make_patient(user.memberships.get().branch, user, given_name="Iris", family_name="Lund")


def test_words_are_never_taken_from_a_record_of_a_chart_the_importer_may_not_change(world, files):
    assert run(world, files.ndjson("a.ndjson", [patient(), condition("c1")])).ok
    own = make_patient_of(world.cm_other)
    order = {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Lisinopril 10 MG Oral Tablet"},
        "subject": {"reference": mrn_reference(world, own.mrn)},
        "reasonReference": [{"reference": "Condition/c1"}],  # Okonkwo's, on cm's team only
    }
    report = run(world, files.ndjson("m.ndjson", [order]), user=world.cm_other)
    (problem,) = report.problems
    assert (problem.path, problem.reason.split(":")[0]) == (
        "indication",
        "dangling reference 'Condition/c1'",
    )
    assert not Medication.objects.exists()


def test_an_admin_imports_new_referrals_whole_however_they_are_split(world, files, monkeypatch):
    monkeypatch.setattr(importer, "BATCH_LINES", 1)  # each line a batch of its own
    given = [
        files.ndjson("Patient.ndjson", [patient()]),
        files.ndjson("Observation.ndjson", [heart_rate("o1"), heart_rate("o2", "urn:uuid:p1")]),
    ]
    report = run(world, *given, user=world.admin)
    assert report.ok, report.problems
    assert Observation.objects.filter(patient=imported()).count() == 2
    # Once imported, the patient is their care team's: not even a copy is the admin's to bring.
    again = run(world, *given, user=world.admin)
    assert [(p.resource_type, p.path) for p in again.problems] == [
        ("Patient", "Patient.id"),
        ("Observation", "subject"),
        ("Observation", "subject"),
    ]
    assert again.total("unchanged") == 0
    moved = patient()
    moved["address"] = [{"line": ["3 Birch Lane"], "city": "Troy", "state": "NY"}]
    later = run(world, files.ndjson("Patient.ndjson", [moved]), user=world.admin)
    assert [p.path for p in later.problems] == ["Patient.id"]
    assert imported().address_line == "12 Elm Street"


def test_checking_whose_charts_a_batch_writes_to_costs_the_same_queries_whatever_its_size(
    world, files
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert run(world, files.ndjson("a.ndjson", [patient(), visit("e1", "Patient/p1")])).ok

    def queries_for(count: int, name: str, user) -> int:
        lines = [
            heart_rate(f"{name}{n}", value=60 + n, encounter={"reference": "Encounter/e1"})
            for n in range(count)
        ]
        with CaptureQueriesContext(connection) as captured:
            run(world, files.ndjson(f"{name}.ndjson", lines), user=user)
        return len(captured)

    assert queries_for(3, "small", world.cm) == queries_for(40, "large", world.cm)
    queries_for(1, "warm", world.cm_other)  # cm_other's roles, read once and kept
    assert queries_for(3, "few", world.cm_other) == queries_for(40, "many", world.cm_other)
    assert Observation.objects.filter(encounter__isnull=False).count() == 43


# --- repeating elements that become rows ---------------------------------------------------------


def _panel(count: int, same: bool = False) -> dict:
    panel = blood_pressure("bp1", 120, 80)
    template = panel["component"][0]
    panel["component"] = [
        {
            **template,
            "code": {
                "coding": [{"system": "http://loinc.org", "code": "8480-6" if same else f"{n}-0"}]
            },
        }
        for n in range(count)
    ]
    return panel


def _care_plan(**extra) -> dict:
    return {
        "resourceType": "CarePlan",
        "id": "cp1",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
        **extra,
    }


def _response(items: list) -> dict:
    return {
        "resourceType": "QuestionnaireResponse",
        "id": "qr1",
        "status": "completed",
        "questionnaire": "http://example.org/Questionnaire/x",
        "subject": {"reference": "Patient/p1"},
        "item": items,
    }


def _nested(depth: int) -> list:
    items: list = []
    for _ in range(depth):
        items = [{"linkId": "g", "item": items}]
    return items


ACTIVITY = {"detail": {"code": {"text": "Walk daily"}, "status": "in-progress"}}
MANY = [
    (_panel(5000, same=True), "Observation.component"),
    (_panel(51), "Observation.component"),
    (_panel(3, same=True), "Observation.component[1].code"),
    (
        condition("c1", identifier=[{"system": "urn:x", "value": str(n)} for n in range(51)]),
        "Condition.identifier",
    ),
    (_care_plan(activity=[ACTIVITY] * 101), "CarePlan.activity"),
    (_care_plan(addresses=[{"display": "Falls"}] * 51), "CarePlan.addresses"),
    (_response([{"linkId": str(n)} for n in range(1001)]), "QuestionnaireResponse.item"),
    (_response(_nested(21)), "QuestionnaireResponse.item"),
    (
        _response([{"linkId": "1", "answer": [{"valueString": "x"}] * 51}]),
        "QuestionnaireResponse.item[0].answer",
    ),
    (patient(telecom=[{"system": "phone", "value": "555-0100"}] * 21), "Patient.telecom"),
]


@pytest.mark.parametrize(("resource", "element"), MANY, ids=[e for _, e in MANY])
def test_too_many_of_a_repeating_element_is_refused_naming_it(world, files, resource, element):
    lines = [resource] if resource["resourceType"] == "Patient" else [patient(), resource]
    report = run(world, files.ndjson("many.ndjson", lines))
    (problem,) = report.problems
    assert (problem.line, problem.path) == (len(lines), element)
    assert problem.reason.startswith(f"{element}: ")
    assert not SourceRecord.objects.filter(resource_type=resource["resourceType"]).exists()
    assert Observation.objects.count() == 0

"""A resource type is declared once, in its mapping module (careway/fhir/mapping/__init__.py):
import, the API and its CapabilityStatement, search and bulk export all take it from there, and
keep no list of types of their own that a new type would have to be added to."""

import json
import pkgutil
from typing import Any

import pytest

from careway.core import audit
from careway.fhir import export, importer, mapping, search
from careway.fhir.mapping import (
    Export,
    Incoming,
    ResourceDeclaration,
    changed_after,
    patient_rows,
    resources,
)
from careway.fhir.mapping import common as c
from careway.patients.models import Immunization
from tests.fhir.api_client import export_token, fhir_as, ids, resource_of
from tests.fhir.samples import bundle, patient

pytestmark = pytest.mark.django_db

# Modules of the mapping package that declare no type of their own.
HELPERS = {"common", "api_writes", "resources", "plan_common"}


def test_every_mapping_module_is_loaded_and_declares_what_it_maps():
    modules = {m.name for m in pkgutil.iter_modules(mapping.__path__)} - HELPERS
    assert {name for name in modules if not hasattr(resources, name)} == set()
    declared = [*mapping.REGISTRY.values(), *(d for also in mapping.ALSO.values() for d in also)]
    declaring = {(d.to_fhir or d.from_fhir).__module__.rpartition(".")[2] for d in declared}
    assert declaring == modules


# A throwaway type for the test below: a Flag, kept in the Immunization table (any patient
# record would do), declared as a mapping module declares a type.


def flag_to_fhir(record: Immunization) -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "id": str(record.pk),
        "meta": c.meta(record),
        "status": "active",
        "code": {"text": record.display},
        "subject": c.patient_ref(record),
        "period": {"start": c.instant(record.occurred_at)},
    }


def flag_from_fhir(resource: dict[str, Any]) -> Incoming:
    row = {
        "code_system": "",
        "code": "",
        "display": c.required_text(c.obj(resource, "code", "Flag"), "text", "Flag.code"),
        "occurred_at": c.parse_datetime(resource["period"]["start"], "Flag.period.start"),
    }
    return Incoming(
        resource_type="Flag",
        model=Immunization,
        rows=[row],
        subject=c.reference(resource, "subject", "Flag"),
        source_id=c.text(resource, "id", "Flag"),
    )


FLAG = ResourceDeclaration(
    "Flag",
    Immunization,
    from_fhir=flag_from_fhir,
    to_fhir=flag_to_fhir,
    search=search.SearchDeclaration(
        order=("-occurred_at", "-id"),
        sort_description="most recent first",
        params=search.with_patient({"_id": search.IdParam(locate=search.locate_by_int)}),
    ),
    export=Export(rows=patient_rows(Immunization), changed_since=changed_after("recorded_at")),
    notes=("A type declared by a test.",),
)


@pytest.fixture
def flag_declared(monkeypatch):
    # As mapping.register() records it, and taken out again after the test.
    monkeypatch.setitem(mapping.REGISTRY, FLAG.name, FLAG)


@pytest.fixture
def data_dir(tmp_path, settings):
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_a_type_declared_in_one_place_is_taken_in_served_searched_and_exported(
    world, data_dir, flag_declared
):
    flag = {
        "resourceType": "Flag",
        "id": "f1",
        "status": "active",
        "code": {"text": "Lives alone; key under the mat"},
        "subject": {"reference": "urn:uuid:p1"},
        "period": {"start": "2026-05-03T14:30:00+00:00"},
    }
    path = data_dir / "flag.json"
    path.write_text(json.dumps(bundle(patient(), flag)))
    actor = audit.Actor(user=world.cm)
    report = importer.import_files(actor, world.org, world.branch, [path])
    assert report.ok, [p.as_dict() for p in report.problems]
    assert report.counts["Flag"]["created"] == 1

    fhir = fhir_as(world.cm)
    statement = resource_of(fhir.get("metadata"))
    (listed,) = [r for r in statement["rest"][0]["resource"] if r["type"] == "Flag"]
    assert {p["name"] for p in listed["searchParam"]} == {"patient", "subject", "_id"}
    assert "A type declared by a test." in listed["documentation"]

    record = Immunization.objects.get(display="Lives alone; key under the mat")
    found = resource_of(fhir.get(f"Flag?patient={record.patient_id}"))
    assert found["total"] == 1 and ids(found) == [str(record.pk)]
    assert resource_of(fhir.get(f"Flag/{record.pk}"))["code"]["text"] == flag["code"]["text"]

    assert "Flag" in export.available_types()
    url = "https://test/fhir/R4/Patient/$export"
    job = export.create_job(actor, export_token(world.cm), url, ["Flag"], None)
    export.run(job)
    assert job.output == [{"type": "Flag", "count": 1}]
    (line,) = export.file_path(job, "Flag").read_text().splitlines()
    assert json.loads(line)["id"] == str(record.pk)

"""The import page in Chromium: a case manager uploads a referral's FHIR bundle, reads the report
with its problems, and finds the patient on their caseload; axe finds no serious violation."""

import json

import pytest
from playwright.sync_api import expect

from careway.patients.models import Patient
from tests.factories import build_world
from tests.fhir.samples import bundle, patient

from .conftest import TABLET, assert_accessible, screenshot, sign_in

pytestmark = pytest.mark.browser

PATIENT = patient(
    "ref-1", mrn="H-5521", family="Adeyemi", name=[{"family": "Adeyemi", "given": ["Folake"]}]
)
CONDITION = {
    "resourceType": "Condition",
    "id": "c-1",
    "subject": {"reference": "urn:uuid:ref-1"},
    "code": {
        "coding": [
            {"system": "http://snomed.info/sct", "code": "84114007", "display": "Heart failure"}
        ]
    },
    "clinicalStatus": {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
        ]
    },
}


def write(tmp_path, name, resources):
    path = tmp_path / name
    path.write_text(json.dumps(bundle(*resources, kind="collection")))
    return str(path)


def test_upload_a_referral_and_read_the_report(live_server, new_page, tmp_path, settings):
    settings.DATA_DIR = tmp_path
    world = build_world()
    good = write(tmp_path, "referral.json", [PATIENT, CONDITION])
    bad = write(tmp_path, "broken.json", [{**PATIENT, "id": "ref-2", "birthDate": "soon"}])
    page = new_page(TABLET)
    sign_in(page, live_server.url, world.cm)
    page.get_by_role("link", name="Import records").click()
    expect(page.get_by_role("heading", name="Import records")).to_be_visible()
    assert_accessible(page, "import page")

    page.get_by_label("FHIR files").set_input_files([good, bad])
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Report")).to_be_visible()
    expect(page.get_by_text("Finished", exact=True)).to_be_visible()
    report = page.get_by_role("table", name="What each kind of resource became")
    expect(report.get_by_role("row", name="Condition 1 0 0 0 0 0")).to_be_visible()
    problems = page.get_by_role("table", name="Each problem found, where and why")
    expect(problems.get_by_role("row", name="broken.json").first).to_contain_text(
        "Patient.birthDate"
    )
    assert_accessible(page, "import report")
    screenshot(page, "tablet-10-import-report")
    assert Patient.objects.filter(organization=world.org, mrn="H-5521").exists()

    page.get_by_role("link", name="My caseload").click()
    page.get_by_role("link", name="Adeyemi, Folake").click()
    expect(page.get_by_text("Heart failure")).to_be_visible()

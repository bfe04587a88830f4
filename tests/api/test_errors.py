"""Every error is RFC 9457 problem details naming the field at fault; never a 500 for bad input."""

import logging

import pytest
from django.test import Client

from careway.patients import services
from careway.patients.models import Observation, Patient
from careway.toolkit import api as toolkit_api
from tests.api.conftest import problem_fields

pytestmark = pytest.mark.django_db

VITAL = {
    "display": "Heart rate",
    "category": "vital-signs",
    "effective_at": "2026-01-05T14:30:00Z",
    "value": 72,
}

BAD_OBSERVATIONS = [
    ({**VITAL, "category": "vibes"}, "category"),
    ({**VITAL, "effective_at": "yesterday"}, "effective_at"),
    ({**VITAL, "effective_at": "2026-01-05T14:30:00"}, "effective_at"),  # no time zone
    ({**VITAL, "effective_at": "9999-12-31T23:00:00-05:00"}, "effective_at"),  # past year 9999
    ({**VITAL, "effective_at": "0001-01-01T00:00:00+05:00"}, "effective_at"),  # before year 1
    ({**VITAL, "value": "seventy"}, "value"),
    ({**VITAL, "value": 10**400}, "value"),
    ({**VITAL, "display": "x" * 301}, "display"),
    ({**VITAL, "display": "Heart\x00rate"}, "display"),
    ({**VITAL, "display": "\ud800"}, "display"),
    ({**VITAL, "display": "   "}, "display"),
    ({**VITAL, "patient": 1}, "patient"),
    ({**VITAL, "organization": 1}, "organization"),
    ({**VITAL, "recorded_by": 1}, "recorded_by"),
    ({key: v for key, v in VITAL.items() if key != "category"}, "category"),
]


# The logger of the API's error answers (careway/toolkit/api.py), by its module's name.
PROBLEMS_LOGGER = toolkit_api.logger.name


@pytest.fixture
def no_unexpected_errors(caplog):
    """Fails the test if the last-resort handler ran: bad input must never reach it."""
    with caplog.at_level(logging.ERROR, logger=PROBLEMS_LOGGER):
        yield
    assert not [r for r in caplog.records if r.name == PROBLEMS_LOGGER]


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail", "errors"} <= set(body)
    return body


@pytest.mark.parametrize(("body", "field"), BAD_OBSERVATIONS)
def test_bad_observation_names_the_field_and_writes_nothing(
    world, api_as, no_unexpected_errors, body, field
):
    response = api_as(world.cm).post(f"/patients/{world.patient.pk}/observations", body)
    assert_problem(response, 422)
    assert field in problem_fields(response)
    assert not Observation.objects.exists()


def test_not_a_number_is_refused(world, api_as, no_unexpected_errors):
    api = api_as(world.cm)
    raw = (
        '{"display": "HR", "category": "vital-signs", '
        '"effective_at": "2026-01-05T14:30:00Z", "value": NaN}'
    )
    response = api.client.post(
        f"/api/v1/patients/{world.patient.pk}/observations",
        raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert_problem(response, 422)
    assert problem_fields(response) == ["value"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        ("offset=-1", "offset"),
        ("offset=99999999999999999999999", "offset"),
        ("birth_date=1950-02-30", "birth_date"),
        ("q=%00", "q"),
        ("name=" + "a" * 101, "name"),
        ("active=perhaps", "active"),
    ],
)
def test_bad_query_parameters_name_the_parameter(world, api_as, no_unexpected_errors, query, field):
    response = api_as(world.cm).get(f"/patients?{query}")
    assert_problem(response, 422)
    assert problem_fields(response) == [field]


def test_bad_path_parameter_names_it(world, api_as, no_unexpected_errors):
    response = api_as(world.cm).get("/patients/not-a-uuid/conditions")
    assert_problem(response, 422)
    assert problem_fields(response) == ["patient_id"]


@pytest.mark.parametrize(
    ("raw", "status"),
    [("{not json", 400), ("[1, 2]", 422), ('"a string"', 422), ("null", 422), ("", 422)],
)
def test_a_body_that_is_not_a_json_object_is_a_problem_naming_the_body(
    world, api_as, no_unexpected_errors, raw, status
):
    api = api_as(world.cm)
    response = api.client.post(
        "/api/v1/patients",
        raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert_problem(response, status)
    assert problem_fields(response) == ["body"]
    assert Patient.objects.count() == 2


def test_a_service_validation_error_is_422_with_the_field(world, api_as, no_unexpected_errors):
    url = f"/patients/{world.patient.pk}"
    response = api_as(world.cm).patch(url, {"email": "not-an-address"}, if_match='"1"')
    body = assert_problem(response, 422)
    assert problem_fields(response) == ["email"]
    assert "email" in body["detail"]
    assert Patient.objects.get(pk=world.patient.pk).email == ""


def test_a_duplicate_mrn_is_409_naming_mrn(world, api_as, no_unexpected_errors):
    body = {
        "mrn": world.patient.mrn,
        "given_name": "Ann",
        "family_name": "Lee",
        "birth_date": "1950-01-01",
        "sex": "female",
    }
    response = api_as(world.cm).post("/patients", body)
    assert_problem(response, 409)
    assert problem_fields(response) == ["mrn"]
    assert Patient.objects.filter(mrn=world.patient.mrn).count() == 1


def test_out_of_range_coordinates_name_the_field(world, api_as, no_unexpected_errors):
    url = f"/patients/{world.patient.pk}"
    response = api_as(world.cm).patch(url, {"latitude": 91, "longitude": -181}, if_match='"1"')
    assert_problem(response, 422)
    assert problem_fields(response) == ["latitude", "longitude"]


def test_the_last_resort_handler_logs_and_answers_a_problem(world, api_as, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug nobody foresaw")

    monkeypatch.setattr(services, "add_allergy", broken)
    with caplog.at_level(logging.ERROR, logger=PROBLEMS_LOGGER):
        response = api_as(world.cm).post(
            f"/patients/{world.patient.pk}/allergies", {"display": "Latex", "category": "food"}
        )
    body = assert_problem(response, 500)
    assert "bug" not in body["detail"]
    assert any(
        r.name == PROBLEMS_LOGGER and "Unexpected error" in r.getMessage() for r in caplog.records
    )


def test_unknown_api_paths_are_404(world, client):
    assert Client().get("/api/v1/nothing-here").status_code == 404


@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_body_too_large_is_413_with_a_problem_body(world, api_as, no_unexpected_errors, method):
    # The probe's finding: any body over about 2.5 MB answered 500 here (FHIR answered 413).
    large = {"display": "x" * (3 * 1024 * 1024), "category": "food"}
    api = api_as(world.cm)
    path = f"/patients/{world.patient.pk}" + ("/allergies" if method == "post" else "")
    body = assert_problem(getattr(api, method)(path, large), 413)
    assert "larger than Careway accepts" in body["detail"]
    assert body["errors"] == [{"field": "body", "message": body["detail"]}]

"""The patient endpoints as an integrator uses them: lists, search, versions, clinical record."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from careway.core import audit
from careway.core.models import AuditEvent, Branch, Membership
from careway.core.roles import Role
from careway.patients import services
from careway.patients.models import Observation, Patient
from tests.api.conftest import problem_fields
from tests.factories import make_patient

pytestmark = pytest.mark.django_db

NEW_PATIENT = {
    "mrn": "NEW-1",
    "given_name": "Walter",
    "family_name": "Osei",
    "birth_date": "1939-11-30",
    "sex": "male",
}


def patients_of(world, count: int) -> list[Patient]:
    return [
        make_patient(world.branch, world.cm, given_name=f"Pat{n:02d}", family_name="Zimmer")
        for n in range(count)
    ]


def test_list_is_sorted_by_name_and_paginated_with_links(world, api_as):
    patients_of(world, 4)
    api = api_as(world.cm)
    first = api.get("/patients?limit=2").json()
    assert first["count"] == 5
    assert [p["family_name"] for p in first["items"]] == ["Hale", "Zimmer"]
    assert first["previous"] is None
    assert "offset=2" in first["next"] and "limit=2" in first["next"]
    second = api.get(first["next"]).json()
    assert [p["given_name"] for p in second["items"]] == ["Pat01", "Pat02"]
    assert "offset=0" in second["previous"]
    last = api.get("/patients?limit=2&offset=4").json()
    assert len(last["items"]) == 1 and last["next"] is None


def test_listed_patients_are_audited_one_event_each(world, api_as):
    patients_of(world, 2)
    response = api_as(world.cm).get("/patients?q=zimmer")
    listed = {item["id"] for item in response.json()["items"]}
    events = AuditEvent.objects.filter(action="patient.list", actor_id=world.cm.pk)
    assert {str(e.patient_id) for e in events} == listed and len(listed) == 2
    assert events.first().detail == {"filters": ["q"], "via": "api"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=hal", {"Hale"}),
        ("q=mrn-find", {"Zimmer"}),
        ("name=margaret hale", {"Hale"}),
        ("name=margaret zimmer", set()),
        ("mrn=MRN-FIND-1", {"Zimmer"}),
        ("mrn=MRN-FIND", set()),
        ("birth_date=1950-05-05", {"Zimmer"}),
        ("active=false", {"Inactive"}),
        ("active=true", {"Hale", "Zimmer"}),
    ],
)
def test_filters(world, api_as, query, expected):
    make_patient(
        world.branch, world.cm, family_name="Zimmer", mrn="mrn-find-1", birth_date=date(1950, 5, 5)
    )
    make_patient(world.branch, world.cm, family_name="Inactive", active=False)
    items = api_as(world.cm).get(f"/patients?{query}").json()["items"]
    assert {p["family_name"] for p in items} == expected


def test_output_hides_internal_fields(world, api_as):
    body = api_as(world.cm).get(f"/patients/{world.patient.pk}").json()
    assert not {"organization", "organization_id", "created_at", "recorded_by"} & set(body)
    assert body["version"] == 1 and body["branch_id"] == world.branch.pk


def test_read_returns_the_version_as_etag_and_is_audited(world, api_as):
    response = api_as(world.cm).get(f"/patients/{world.patient.pk}")
    assert response["ETag"] == '"1"'
    event = AuditEvent.objects.filter(action="patient.view").latest("seq")
    assert event.detail["section"] == "registration"


def test_create_takes_the_only_branch_and_makes_the_caller_case_manager(world, api_as):
    response = api_as(world.cm).post("/patients", NEW_PATIENT)
    assert response.status_code == 201
    patient = Patient.objects.get(pk=response.json()["id"])
    assert patient.branch == world.branch and patient.organization == world.org
    assert response["Location"].endswith(f"/api/v1/patients/{patient.pk}")
    assert AuditEvent.objects.filter(action="patient.create", patient_id=patient.pk).exists()
    assert api_as(world.cm).get(f"/patients/{patient.pk}").status_code == 200


def test_with_several_branches_the_client_must_choose(world, api_as):
    second = Branch.objects.create(organization=world.org, name="North office")
    Membership.objects.create(
        user=world.cm, organization=world.org, branch=second, role=Role.CASE_MANAGER
    )
    api = api_as(world.cm)
    unchosen = api.post("/patients", NEW_PATIENT)
    assert unchosen.status_code == 422 and problem_fields(unchosen) == ["branch_id"]
    assert "North office" in unchosen.json()["errors"][0]["message"]
    chosen = api.post("/patients", {**NEW_PATIENT, "branch_id": second.pk})
    assert chosen.status_code == 201 and chosen.json()["branch_id"] == second.pk


def test_body_cannot_set_organization_id_or_version_on_create(world, api_as):
    body = {**NEW_PATIENT, "organization": world.other_org.pk, "id": "x", "version": 7}
    response = api_as(world.cm).post("/patients", body)
    assert response.status_code == 422
    assert set(problem_fields(response)) == {"organization", "id", "version"}
    assert not Patient.objects.filter(mrn="NEW-1").exists()


def test_update_with_if_match_bumps_the_version(world, api_as):
    api = api_as(world.cm)
    url = f"/patients/{world.patient.pk}"
    response = api.patch(url, {"preferred_name": "Peggy"}, if_match='"1"')
    assert response.status_code == 200
    assert response["ETag"] == '"2"' and response.json()["preferred_name"] == "Peggy"
    event = AuditEvent.objects.get(action="patient.update")
    assert event.detail["fields"] == ["preferred_name"]


def test_stale_version_is_412_and_changes_nothing(world, api_as):
    api = api_as(world.cm)
    url = f"/patients/{world.patient.pk}"
    assert api.patch(url, {"preferred_name": "Peggy", "version": 1}).status_code == 200
    stale = api.put(url, {**NEW_PATIENT, "mrn": "CHANGED"}, if_match='"1"')
    assert stale.status_code == 412
    assert stale["Content-Type"] == "application/problem+json"
    assert stale["ETag"] == '"2"'
    assert problem_fields(stale) == ["version"]
    patient = Patient.objects.get(pk=world.patient.pk)
    assert (patient.version, patient.mrn, patient.preferred_name) == (2, world.patient.mrn, "Peggy")
    assert AuditEvent.objects.filter(action="patient.update").count() == 1


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_without_a_version_is_428(world, api_as, method):
    body = {**NEW_PATIENT} if method == "put" else {"preferred_name": "Peggy"}
    response = getattr(api_as(world.cm), method)(f"/patients/{world.patient.pk}", body)
    assert response.status_code == 428
    assert problem_fields(response) == ["If-Match"]
    assert Patient.objects.get(pk=world.patient.pk).version == 1


@pytest.mark.parametrize("if_match", ["*", "W/", '"abc"', '"0"', "1,2"])
def test_unreadable_if_match_is_400(world, api_as, if_match):
    url = f"/patients/{world.patient.pk}"
    response = api_as(world.cm).patch(url, {"preferred_name": "Peggy"}, if_match=if_match)
    assert response.status_code == 400 and problem_fields(response) == ["If-Match"]


def test_if_match_and_body_version_must_agree(world, api_as):
    url = f"/patients/{world.patient.pk}"
    response = api_as(world.cm).patch(url, {"preferred_name": "P", "version": 2}, if_match='"1"')
    assert response.status_code == 400 and problem_fields(response) == ["version"]


def test_put_replaces_every_field(world, api_as):
    url = f"/patients/{world.patient.pk}"
    api = api_as(world.cm)
    api.patch(url, {"city": "Springfield"}, if_match='"1"')
    response = api.put(url, {**NEW_PATIENT, "version": 2})
    assert response.status_code == 200
    assert response.json()["city"] == "" and response.json()["given_name"] == "Walter"


def test_clinical_records_are_created_listed_and_audited(world, api_as):
    api = api_as(world.cm)
    base = f"/patients/{world.patient.pk}"
    made = api.post(f"{base}/allergies", {"display": "Latex", "category": "environment"})
    assert made.status_code == 201
    assert set(made.json()) >= {"id", "version", "display", "category", "clinical_status"}
    assert "patient" not in made.json() and "organization" not in made.json()
    listed = api.get(f"{base}/allergies").json()
    assert listed["count"] == 1 and listed["items"][0]["display"] == "Latex"
    view = AuditEvent.objects.filter(action="patient.view").latest("seq")
    assert view.detail["section"] == "allergies" and view.patient_id == world.patient.pk
    write = AuditEvent.objects.get(action="allergy.create")
    assert (write.actor_id, write.patient_id) == (world.cm.pk, world.patient.pk)
    assert write.detail["via"] == "api"


def _observe(world, code: str, category: str, days_ago: int) -> Observation:
    return services.record_observation(
        audit.Actor(user=world.cm),
        world.patient,
        {
            "code": code,
            "display": code,
            "category": category,
            "effective_at": timezone.now() - timedelta(days=days_ago),
            "value": 1.0,
        },
    )


def test_observation_filters(world, api_as):
    _observe(world, "8867-4", "vital-signs", 1)
    _observe(world, "8867-4", "vital-signs", 10)
    _observe(world, "2345-7", "laboratory", 2)
    api = api_as(world.cm)
    base = f"/patients/{world.patient.pk}/observations"

    def codes(query: str) -> list[tuple[str, str]]:
        return [(o["code"], o["category"]) for o in api.get(f"{base}?{query}").json()["items"]]

    assert codes("category=laboratory") == [("2345-7", "laboratory")]
    assert len(codes("code=8867-4")) == 2
    since = (timezone.now() - timedelta(days=5)).date().isoformat()
    assert codes(f"date_from={since}") == [("8867-4", "vital-signs"), ("2345-7", "laboratory")]
    until = (timezone.now() - timedelta(days=5)).date().isoformat()
    assert codes(f"date_to={until}") == [("8867-4", "vital-signs")]


def test_a_new_primary_condition_replaces_the_old_one(world, api_as):
    api = api_as(world.cm)
    url = f"/patients/{world.patient.pk}/conditions"
    api.post(url, {"display": "Heart failure", "is_primary": True})
    api.post(url, {"display": "COPD", "is_primary": True})
    items = api.get(url).json()["items"]
    assert [(c["display"], c["is_primary"]) for c in items] == [
        ("COPD", True),
        ("Heart failure", False),
    ]


def count_queries(request) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = request()
    assert response.status_code == 200
    return len(queries)


def test_patient_list_query_count_does_not_grow_with_rows(world, api_as):
    api = api_as(world.cm)
    api.get("/patients")  # the first use of a token also stamps last_used_at
    with_one = count_queries(lambda: api.get("/patients"))
    patients_of(world, 9)
    with_ten = count_queries(lambda: api.get("/patients"))
    assert with_ten == with_one <= 10


ADDERS = {
    "conditions": lambda actor, world, n: services.add_condition(
        actor, world.patient, {"display": f"C{n}"}
    ),
    "medications": lambda actor, world, n: services.add_medication(
        actor, world.patient, {"display": f"M{n}"}
    ),
    "allergies": lambda actor, world, n: services.add_allergy(
        actor, world.patient, {"display": f"A{n}", "category": "food"}
    ),
    "observations": lambda actor, world, n: _observe(world, f"C{n}", "survey", n),
}


@pytest.mark.parametrize("section", sorted(ADDERS))
def test_clinical_list_query_count_does_not_grow_with_rows(world, api_as, section):
    actor = audit.Actor(user=world.cm)
    api = api_as(world.cm)
    url = f"/patients/{world.patient.pk}/{section}"
    ADDERS[section](actor, world, 0)
    api.get(url)
    with_one = count_queries(lambda: api.get(url))
    for n in range(1, 10):
        ADDERS[section](actor, world, n)
    with_ten = count_queries(lambda: api.get(url))
    assert api.get(url).json()["count"] == 10
    assert with_ten == with_one <= 11

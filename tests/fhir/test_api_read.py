"""The FHIR API's front door and reads: the capability statement, tokens and scopes, read and
vread per type, who may see what (404 for everything not yours), audit, formats and odd input."""

import pytest
from django import urls
from django.http import HttpResponse
from django.urls import resolve, reverse

from careway.core import audit, tokens
from careway.core.models import ApiToken, AuditEvent
from careway.fhir import api, search
from careway.patients import services
from careway.patients.models import Patient
from tests.fhir.api_client import fhir_as, full_chart, issue_of, resource_of, resources_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def chart(world):
    """A record of every type for Margaret (cm's patient) and for Otto (the other agency's)."""
    for who in ("patient", "outsider_patient"):
        world.extra[who] = full_chart(getattr(world, who))
    return world


def records_of(world, who="patient"):
    return resources_of(getattr(world, who), world.extra[who])


# --- capability statement -------------------------------------------------------------------------


def test_metadata_needs_no_token_and_lists_what_is_served(client):
    statement = resource_of(client.get("/fhir/R4/metadata"))
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    assert "json" in statement["format"]
    (rest,) = statement["rest"]
    assert rest["mode"] == "server"
    assert "Bearer" in rest["security"]["description"]
    by_type = {r["type"]: r for r in rest["resource"]}
    assert set(by_type) == set(api.served_types())
    for name, declared in api.served_types().items():
        listed = by_type[name]
        assert {p["name"] for p in listed["searchParam"]} == set(declared.search.params)
        interactions = {i["code"] for i in listed["interaction"]}
        writable = name in ("Patient", "Observation")
        expected = {"read", "search-type"} | ({"vread"} if declared.search.versioned else set())
        expected |= {"create", "update"} if writable else set()
        expected |= {"create"} if name == "QuestionnaireResponse" else set()
        assert interactions == expected, name
        assert listed["versioning"] == ("versioned" if declared.search.versioned else "no-version")
    assert by_type["Observation"]["searchInclude"] == [
        "Observation:patient",
        "Observation:subject",
    ]
    assert "searchInclude" not in by_type["Patient"]
    # Nothing is listed that this API does not do: no system history, batches or transactions.
    assert "interaction" not in rest
    # Bulk export is listed only while a route serves it (see the test below).
    if rest.get("operation"):
        assert resolve("/fhir/R4/$export").func.__module__ != api.__name__


def bulk_export_stand_in(request):
    return HttpResponse(status=202)


# A URL configuration with Bulk Data export routes, as the export work will add them.
urlpatterns = [
    urls.path("fhir/R4/$export", bulk_export_stand_in),
    urls.path("fhir/R4/Patient/$export", bulk_export_stand_in),
    urls.path("", urls.include("careway.fhir.urls")),
]


@pytest.mark.urls(__name__)
def test_metadata_lists_bulk_export_once_a_route_serves_it(client):
    statement = resource_of(client.get("/fhir/R4/metadata"))
    (rest,) = statement["rest"]
    assert rest["operation"] == [
        {
            "name": "export",
            "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
        }
    ]
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert patient["operation"][0]["definition"].endswith("/patient-export")
    observation = next(r for r in rest["resource"] if r["type"] == "Observation")
    assert "operation" not in observation


def sample_value(param, world) -> str:
    """A well-formed value for one declared search parameter."""
    if isinstance(param, search.PatientParam):
        return f"Patient/{world.patient.pk}"
    if isinstance(param, search.DateParam):
        return "ge2020"
    if isinstance(param, search.TokenParam) and param.codes:
        return next(iter(param.codes))
    return "a"


def test_metadata_lists_only_search_parameters_that_answer(chart):
    fhir = fhir_as(chart.cm)
    statement = resource_of(fhir.get("metadata"))
    for listed in statement["rest"][0]["resource"]:
        declared = api.served_types()[listed["type"]].search.params
        for param in listed["searchParam"]:
            value = sample_value(declared[param["name"]], chart)
            response = fhir.get(f"{listed['type']}?{param['name']}={value}")
            assert resource_of(response)["type"] == "searchset", (listed["type"], param["name"])


# --- authentication ------------------------------------------------------------------------------


def endpoints(world):
    pid = world.patient.pk
    return [
        ("get", "Patient"),
        ("get", f"Patient/{pid}"),
        ("get", f"Patient/{pid}/_history/1"),
        ("post", "Patient"),
        ("put", f"Patient/{pid}"),
        ("get", "Observation?category=vital-signs"),
        ("post", "Observation"),
    ]


def test_anonymous_requests_get_401_with_an_operation_outcome(world):
    anonymous = fhir_as(None)
    for method, path in endpoints(world):
        body = {"resourceType": "Patient"} if method in ("post", "put") else None
        response = anonymous.call(method, path, body)
        issue = issue_of(response, 401)
        assert issue["code"] == "login", path
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_signed_in_browser_session_is_not_a_token(client, world):
    client.force_login(world.cm)
    response = client.get(f"/fhir/R4/Patient/{world.patient.pk}")
    assert issue_of(response, 401)["code"] == "login"


def test_an_unknown_token_is_refused_and_audited(world):
    response = fhir_as(None).get(f"Patient/{world.patient.pk}", authorization="Bearer cw_nope")
    assert issue_of(response, 401)["diagnostics"] == "The token is not recognised."
    event = AuditEvent.objects.filter(action="token.rejected").latest("occurred_at")
    assert event.outcome == "denied" and event.detail["via"] == "fhir"


def test_a_revoked_token_is_refused(world):
    fhir = fhir_as(world.cm)
    token = ApiToken.objects.get(token_hash=ApiToken.hash_token(fhir.token))
    tokens.revoke_token(audit.Actor.system(), token)
    assert issue_of(fhir.get(f"Patient/{world.patient.pk}"), 401)["code"] == "login"


def test_a_token_without_the_fhir_scopes_gets_403(world):
    json_api_only = fhir_as(world.cm, ("patients:read", "patients:write"))
    for method, path in endpoints(world):
        body = {"resourceType": "Patient"} if method in ("post", "put") else None
        issue = issue_of(json_api_only.call(method, path, body), 403)
        assert "scope" in issue["diagnostics"]


def test_a_read_only_token_cannot_write(world):
    reader = fhir_as(world.cm, ("fhir:read",))
    assert resource_of(reader.get(f"Patient/{world.patient.pk}"))["id"] == str(world.patient.pk)
    for method, path in endpoints(world):
        if method in ("post", "put"):
            response = reader.call(method, path, {"resourceType": "Patient"})
            assert "fhir:write" in issue_of(response, 403)["diagnostics"]


# --- read ----------------------------------------------------------------------------------------


def test_members_read_every_type_with_version_headers_and_an_audit_event(chart):
    fhir = fhir_as(chart.cm)
    for kind, ident in records_of(chart):
        before = AuditEvent.objects.count()
        response = fhir.get(f"{kind}/{ident}")
        resource = resource_of(response)
        assert (resource["resourceType"], resource["id"]) == (kind, ident)
        if kind == "CareTeam":  # made from the episode and its members: no version of its own
            assert "meta" not in resource and not response.has_header("ETag")
        else:
            assert resource["meta"]["versionId"] == "1" and response["ETag"] == 'W/"1"'
        if "lastUpdated" in resource.get("meta", {}):
            assert response["Last-Modified"].endswith("GMT")
        event = AuditEvent.objects.order_by("-id").first()
        assert AuditEvent.objects.count() == before + 1
        assert (event.action, event.patient_id, event.actor_id) == (
            "patient.view",
            chart.patient.pk,
            chart.cm.pk,
        )
        assert event.detail == {"resource": f"{kind}/{ident}", "via": "fhir"}


def test_a_blood_pressure_panel_is_one_observation_with_two_components(chart):
    systolic, _ = chart.extra["patient"]["bp"]
    panel = resource_of(fhir_as(chart.cm).get(f"Observation/{systolic.panel_id}"))
    assert panel["code"]["coding"][0]["code"] == "85354-9"
    values = {
        c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in panel["component"]
    }
    assert values == {"8480-6": 128, "8462-4": 76}
    assert panel["subject"] == {"reference": f"Patient/{chart.patient.pk}"}
    # A member of a panel is not a resource of its own.
    issue = issue_of(fhir_as(chart.cm).get(f"Observation/{systolic.pk}"), 404)
    assert issue["code"] == "not-found"


@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_another_agency_or_a_colleague_off_the_team_gets_404_and_is_audited(chart, who):
    fhir = fhir_as(getattr(chart, who))
    for kind, ident in records_of(chart):
        before = AuditEvent.objects.filter(outcome="denied").count()
        issue = issue_of(fhir.get(f"{kind}/{ident}"), 404)
        assert issue["diagnostics"] == "There is no such resource, or it is not yours to see."
        assert AuditEvent.objects.filter(outcome="denied").count() == before + 1, kind
        issue_of(fhir.get(f"{kind}/{ident}/_history/1"), 404)


def test_a_record_that_does_not_exist_looks_exactly_like_one_not_yours(chart):
    fhir = fhir_as(chart.outsider)
    mine = fhir.get(f"Condition/{chart.extra['patient']['condition'].pk}")
    absent = fhir.get("Condition/987654321")
    assert mine.status_code == absent.status_code == 404
    assert mine.content == absent.content


def test_the_supervisor_and_a_read_only_team_member_read_too(chart):
    for user in (chart.supervisor, chart.scheduler):
        fhir = fhir_as(user, ("fhir:read",))
        for kind, ident in records_of(chart):
            assert resource_of(fhir.get(f"{kind}/{ident}"))["id"] == ident


@pytest.mark.parametrize(
    "path",
    [
        "Patient/not-a-uuid",
        "Patient/" + "9" * 64,
        "Observation/" + "9" * 40,
        "Observation/-1",
        "Condition/0",
        "Condition/1.5",
        "Condition/%C3%A9t%C3%A9",
        "Patient/00000000-0000-0000-0000-000000000000/_history/1",
        "Condition/1/_history/abc",
    ],
)
def test_odd_ids_are_404_never_an_error(chart, path):
    assert issue_of(fhir_as(chart.cm).get(path), 404)["code"] == "not-found"


def test_unknown_types_and_interactions_answer_with_an_operation_outcome(chart):
    fhir = fhir_as(chart.cm)
    assert issue_of(fhir.get("Practitioner/1"), 404)["code"] == "not-supported"
    assert issue_of(fhir.get("Basic?code=x"), 404)["code"] == "not-supported"
    assert issue_of(fhir.get(f"Patient/{chart.patient.pk}/_history"), 404)["code"] == (
        "not-supported"
    )
    assert issue_of(fhir.get("Patient/$everything"), 404)["code"] == "not-found"
    assert issue_of(fhir.get(""), 404)["code"] == "not-supported"
    response = fhir.call("DELETE", f"Patient/{chart.patient.pk}")
    assert issue_of(response, 405)["code"] == "not-supported"
    assert response["Allow"] == "GET, PUT"


# --- vread ---------------------------------------------------------------------------------------


def test_vread_gives_the_current_and_every_earlier_version(chart):
    patient = Patient.objects.get(pk=chart.patient.pk)
    services.update_patient(audit.Actor(user=chart.cm), patient, {"city": "Albany"}, 1)
    fhir = fhir_as(chart.cm)
    old = fhir.get(f"Patient/{patient.pk}/_history/1")
    assert old["ETag"] == 'W/"1"'
    assert "address" not in resource_of(old)
    new = resource_of(fhir.get(f"Patient/{patient.pk}/_history/2"))
    assert new["address"][0]["city"] == "Albany" and new["meta"]["versionId"] == "2"
    assert resource_of(fhir.get(f"Patient/{patient.pk}"))["meta"]["versionId"] == "2"
    for missing in ("3", "0", "99999999999"):
        issue = issue_of(fhir.get(f"Patient/{patient.pk}/_history/{missing}"), 404)
        assert "no version" in issue["diagnostics"]
    event = AuditEvent.objects.filter(action="patient.view").latest("id")
    assert event.detail["resource"] == f"Patient/{patient.pk}"


def test_vread_of_every_type_at_its_first_version(chart):
    fhir = fhir_as(chart.cm)
    for kind, ident in records_of(chart):
        if kind == "CareTeam":
            issue = issue_of(fhir.get(f"{kind}/{ident}/_history/1"), 404)
            assert issue["code"] == "not-supported"
            continue
        resource = resource_of(fhir.get(f"{kind}/{ident}/_history/1"))
        assert (resource["id"], resource["meta"]["versionId"]) == (ident, "1")
        event = AuditEvent.objects.latest("id")
        assert event.detail["resource"] == f"{kind}/{ident}/_history/1"


# --- formats -------------------------------------------------------------------------------------


def test_json_is_served_as_asked_and_anything_else_is_406(chart):
    fhir = fhir_as(chart.cm)
    path = f"Patient/{chart.patient.pk}"
    assert fhir.get(path)["Content-Type"] == "application/fhir+json; charset=utf-8"
    assert fhir.get(path + "?_format=json")["Content-Type"].startswith("application/fhir+json")
    plain = fhir.get(path + "?_format=application/json")
    assert plain.status_code == 200 and plain["Content-Type"].startswith("application/json")
    assert fhir.get(path, accept="application/json")["Content-Type"].startswith("application/json")
    assert fhir.get(path, accept="text/html,*/*;q=0.8").status_code == 200
    assert fhir.get(path + "?_format=application/fhir+json").status_code == 200
    for refused in (fhir.get(path + "?_format=xml"), fhir.get(path, accept="application/fhir+xml")):
        assert refused.status_code == 406
        assert refused.json()["issue"][0]["code"] == "not-supported"


def test_the_routes_are_named():
    assert reverse("fhir_metadata") == "/fhir/R4/metadata"
    assert reverse("fhir_instance", args=["Patient", "x"]) == "/fhir/R4/Patient/x"

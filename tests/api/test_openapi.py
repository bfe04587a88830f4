"""The OpenAPI document integrators build clients from: auth, scopes and error responses."""

import re

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def openapi(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(openapi: dict):
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_every_operation_names_its_token_scope_and_accepts_a_session(openapi):
    for method, _path, operation in operations(openapi):
        scope = "patients:read" if method == "GET" else "patients:write"
        assert operation["security"] == [{"ApiTokenAuth": [scope]}, {"BrowserSessionAuth": []}]
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["ApiTokenAuth"]["type"] == "http"
    assert schemes["ApiTokenAuth"]["scheme"] == "bearer"
    assert schemes["BrowserSessionAuth"]["in"] == "cookie"


def test_every_operation_documents_its_problems(openapi):
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for method, path, operation in operations(openapi):
        expected = {"401", "403", "404", "422"} if "{patient_id}" in path else {"401", "403", "422"}
        if method != "GET":
            expected |= {"400", "409"}
        if method in {"PUT", "PATCH"}:
            expected |= {"412", "428"}
        documented = {s for s in operation["responses"] if int(s) >= 400}
        assert expected <= documented, (method, path)
        for status in documented:
            assert operation["responses"][status]["content"] == {
                "application/problem+json": problem
            }


def test_input_schemas_never_take_ownership_fields(openapi):
    schemas = openapi["components"]["schemas"]
    inputs = [name for name in schemas if name.endswith(("Create", "Replace", "Patch"))]
    # The patients API's, the care plans API's, the care plan templates API's, the plan of
    # care's (PlanOfCarePatch), teaching and agreement's, and the handouts'.
    assert len(inputs) == 7 + 10 + 2 + 1 + 2 + 2
    owners = {"id", "organization", "organization_id", "patient", "patient_id", "plan", "plan_id"}
    actions = ["SuggestionAccept", "AcceptEdits", "SuggestionReject", "PlanReview"]
    for name in [*inputs, "PlanStart", "AchievementOverride", *actions]:
        fields = set(schemas[name]["properties"])
        assert not fields & owners, name
        assert schemas[name]["additionalProperties"] is False
        # Only updates say which version they were made against (a review changes the plan).
        is_update = name.endswith(("Replace", "Patch")) or name in {
            "AchievementOverride",
            "PlanReview",
        }
        assert ("version" in fields) == is_update, name


def test_output_schemas_hide_internal_fields(openapi):
    schemas = openapi["components"]["schemas"]
    for name in [n for n in schemas if n.endswith("Out")]:
        fields = set(schemas[name]["properties"])
        assert not fields & {"organization", "organization_id", "patient", "recorded_by"}, name


def test_the_api_docs_page_loads_no_script_or_style_from_elsewhere(client):
    # The docs are public (they describe shapes, never data), but they run on Careway's origin,
    # where a script from a CDN could call the API with a signed-in person's session: every
    # script and style must be Careway's own (django-ninja's files, served as static files).
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.content.decode())
    assert sources and all(s.startswith("/") for s in sources), sources

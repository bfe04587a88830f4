"""A FHIR API client for the tests of /fhir/R4, and the clinical records they read.

`fhir_as(user)` holds a fresh token of that user (scopes fhir:read and fhir:write unless told);
`fhir_as(None)` is anonymous. Records are made through the services, as Careway itself does.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from django.test import Client

from careway.core import audit, tokens
from careway.core.models import ApiToken, User
from careway.patients import services
from careway.patients.models import Observation, Patient
from tests.fhir.validate import assert_valid_r4

BASE = "/fhir/R4/"
BOTH = ("fhir:read", "fhir:write")
FHIR_JSON = "application/fhir+json"
TAKEN = datetime(2026, 5, 3, 14, 30, tzinfo=UTC)


class Fhir:
    def __init__(self, token: str | None = None):
        self.client = Client()
        self.token = token

    def call(self, method: str, path: str, body: Any = None, **headers: str):
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        if self.token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        url = path if path.startswith(("/", "http")) else BASE + path
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs["data"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
            kwargs["content_type"] = extra.pop("HTTP_CONTENT_TYPE", FHIR_JSON)
        return getattr(self.client, method.lower())(url, **kwargs, **extra)

    def get(self, path: str, **headers: str):
        return self.call("GET", path, **headers)

    def post(self, path: str, body: Any, **headers: str):
        return self.call("POST", path, body, **headers)

    def put(self, path: str, body: Any, **headers: str):
        return self.call("PUT", path, body, **headers)


def fhir_as(user: User | None, scopes: tuple[str, ...] = BOTH) -> Fhir:
    if user is None:
        return Fhir()
    raw, _ = tokens.create_token(audit.Actor.system(), user, "fhir test", scopes, 30)
    return Fhir(raw)


def export_token(user: User) -> ApiToken:
    """A read token of `user`, for a bulk export started without a request (which lives as long
    as the token that asked for it)."""
    _, token = tokens.create_token(audit.Actor.system(), user, "export test", ("fhir:read",), 1)
    return token


def resource_of(response, status: int = 200) -> dict[str, Any]:
    """The response's resource, after checking its status, media type and R4 validity."""
    assert response.status_code == status, response.content.decode()[:2000]
    assert response["Content-Type"].startswith(FHIR_JSON)
    body = response.json()
    assert_valid_r4(body)
    return body


def issue_of(response, status: int) -> dict[str, Any]:
    """The one issue of an OperationOutcome answer with `status`."""
    outcome = resource_of(response, status)
    assert outcome["resourceType"] == "OperationOutcome"
    (issue,) = outcome["issue"]
    return issue


def matches(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def included(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "include"]


def ids(bundle: dict[str, Any]) -> list[str]:
    return [r["id"] for r in matches(bundle)]


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((k["url"] for k in bundle["link"] if k["relation"] == relation), None)


# --- records ------------------------------------------------------------------------------------


def _actor() -> audit.Actor:
    return audit.Actor.system()


def vital(patient: Patient, code: str, value: float, when: datetime = TAKEN, **more) -> Observation:
    data = {
        "code_system": "http://loinc.org",
        "code": code,
        "display": {"8867-4": "Heart rate", "29463-7": "Body weight"}.get(code, code),
        "category": "vital-signs",
        "value": value,
        "unit": {"8867-4": "/min", "29463-7": "[lb_av]"}.get(code, "1"),
        "effective_at": when,
        **more,
    }
    return services.record_observation(_actor(), patient, data)


def blood_pressure(
    patient: Patient, systolic: float, diastolic: float, when: datetime = TAKEN
) -> list[Observation]:
    rows = [
        {
            "code_system": "http://loinc.org",
            "code": code,
            "display": name,
            "category": "vital-signs",
            "value": value,
            "unit": "mm[Hg]",
            "effective_at": when,
        }
        for code, name, value in [
            ("8480-6", "Systolic blood pressure", systolic),
            ("8462-4", "Diastolic blood pressure", diastolic),
        ]
    ]
    return services.record_observations(_actor(), patient, rows)


def lab(patient: Patient, code: str, value: float, when: datetime = TAKEN) -> Observation:
    return vital(patient, code, value, when, category="laboratory", display="Hemoglobin A1c")


def condition(patient: Patient, display: str = "Heart failure", **more) -> Any:
    data = {"code_system": "http://snomed.info/sct", "code": "84114007", "display": display}
    return services.add_condition(_actor(), patient, {**data, **more})


def medication(patient: Patient, kind: str = "statement", **more) -> Any:
    data = {
        "kind": kind,
        "code_system": "http://www.nlm.nih.gov/research/umls/rxnorm",
        "code": "197361",
        "display": "Amlodipine 5 MG Oral Tablet",
        "dose": "5 mg",
        "frequency": "once daily",
    }
    return services.add_medication(_actor(), patient, {**data, **more})


def allergy(patient: Patient, **more) -> Any:
    data = {"display": "Penicillin", "category": "medication", "reaction": "Hives"}
    return services.add_allergy(_actor(), patient, {**data, **more})


def contact(patient: Patient, **more) -> Any:
    data = {"name": "Ann Hale", "relationship": "child", "phone": "555-0101"}
    return services.add_contact(_actor(), patient, {**data, **more})


def encounter(patient: Patient, start: datetime = TAKEN, **more) -> Any:
    data = {
        "kind": "HH",
        "type_display": "Home health visit",
        "period_start": start,
        "period_end": start + timedelta(hours=1),
    }
    return services.add_encounter(_actor(), patient, {**data, **more})


def full_chart(patient: Patient) -> dict[str, Any]:
    """One record of every type served, for one patient (its CareTeam is its episode's)."""
    return {
        "condition": condition(patient),
        "pulse": vital(patient, "8867-4", 72),
        "bp": blood_pressure(patient, 128, 76),
        "statement": medication(patient),
        "request": medication(patient, kind="request", prescriber="Dr. Jones"),
        "allergy": allergy(patient),
        "contact": contact(patient),
        "encounter": encounter(patient),
        "episode": patient.episodes.get(),
    }


def resources_of(patient: Patient, made: dict[str, Any]) -> list[tuple[str, str]]:
    """(type, id) of each resource in a full_chart()."""
    return [
        ("Patient", str(patient.pk)),
        ("Condition", str(made["condition"].pk)),
        ("Observation", str(made["pulse"].pk)),
        ("Observation", str(made["bp"][0].panel_id)),
        ("MedicationStatement", str(made["statement"].pk)),
        ("MedicationRequest", str(made["request"].pk)),
        ("AllergyIntolerance", str(made["allergy"].pk)),
        ("RelatedPerson", str(made["contact"].pk)),
        ("Encounter", str(made["encounter"].pk)),
        ("EpisodeOfCare", str(made["episode"].pk)),
        ("CareTeam", str(made["episode"].pk)),
    ]

"""Every domain has one shape; this module checks each one, the tests' example domain included.

A domain (careway/patients, careway/assessments, and each one to come) is an app whose models
include patient records. For each, whatever its name:
- every model that belongs to a patient is a PatientRecord (so the write guard, export and
  `access.get_record_for` find it), and the write guard covers it; each is written by bulk
  export, or says why not;
- it declares its permissions in `<app>/permissions.py` (ALL) and registers them;
- each chart section it registers opens for a member of the care team, with the read audited,
  and answers 404 to a colleague off the team, to another agency and to roles without charts,
  with the denial audited;
- each caseload column it registers shows on the caseload;
- every page of it about a patient answers 404 to another agency, and every page that takes a
  POST about a patient refuses a read-only member of the team (403) before writing anything.
The example domain in tests/example_domain passes this module without touching core or patients:
that is the proof that a new domain is added in one shape (DEVELOPERS.md, "Adding a domain").
"""

import uuid
from importlib import import_module

import pytest
from django.apps import AppConfig, apps
from django.db.models import ForeignKey
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from careway.core.models import AuditEvent
from careway.core.permissions import PERMISSIONS
from careway.core.roles import Role
from careway.patients.frame import CASELOAD_COLUMNS, CHART_SECTIONS
from careway.patients.models import Patient, PatientRecord, patient_data_models

pytestmark = pytest.mark.django_db

# Models that point at a patient without being a record of them, and why.
NOT_RECORDS = {"patients.breakglassgrant": "an access grant, not a record of the patient's care"}
# Pages about a patient that only read, whatever the method.
READ_PAGES = {"chart", "chart_section"}
# Patient records that bulk export does not write as resources of their own, and why. A new
# kind of record is either exported (a declaration in careway/fhir/mapping with `export`) or
# named here: a chart's records are never left out of an export by accident.
NOT_EXPORTED = {
    "patients.recordversion": "earlier versions of records: export writes each as it is now",
    "patients.careteammember": "written inside its episode's CareTeam",
    "patients.patientflag": "Careway's own signal to its staff, drawn from exported records",
    "patients.task": "Careway's own worklist, not part of the patient's record elsewhere",
    "assessments.assessment": "written as its QuestionnaireResponses, one per questionnaire",
    "assessments.amendment": "written as the corrected QuestionnaireResponse",
    "assessments.finding": "drawn from the exported answers and scores again on import",
    "example_domain.examplenote": "the tests' example domain serves no FHIR",
    "careplans.careplanrevision": "a plan's earlier revisions: export writes the plan as it is now",
    "careplans.problem": "written inside its plan's CarePlan.addresses (a Condition, or in words)",
    "careplans.suggestion": "Careway's own proposals, worked out again from the exported chart",
}


def domain_apps() -> list[AppConfig]:
    return [
        config
        for config in apps.get_app_configs()
        if any(issubclass(m, PatientRecord) for m in config.get_models())
    ]


DOMAINS = [config.label for config in domain_apps()]


def test_the_domains_are_found():
    assert {"patients", "assessments", "example_domain"} <= set(DOMAINS)


def _owned_by(config: AppConfig, function: object) -> bool:
    return getattr(function, "__module__", "").startswith(config.name)


def sections_of(config: AppConfig):
    return [s for s in CHART_SECTIONS if _owned_by(config, s.context)]


def columns_of(config: AppConfig):
    return [c for c in CASELOAD_COLUMNS if c.cell_template.startswith(f"{config.label}/")]


def patient_urls_of(config: AppConfig) -> list[tuple[str, URLPattern]]:
    """The domain's named pages about a patient, each with its name as `reverse` takes it: with
    the namespaces it is included under ("careplans:goal_add")."""
    found = []

    def walk(patterns, namespace=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace != "api":
                    inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                    walk(entry.url_patterns, inner)
            elif (
                entry.name
                and "patient_id" in entry.pattern.converters
                and _owned_by(config, entry.callback)
            ):
                found.append((f"{namespace}{entry.name}", entry))

    walk(get_resolver().url_patterns)
    return found


def url_for(name: str, pattern: URLPattern, patient: Patient) -> str:
    """The page's URL for `patient`; any other part is one that names nothing (so the page must
    refuse before it looks)."""
    samples = {"int": 1, "uuid": uuid.uuid4(), "slug": "x", "str": "x"}
    kwargs = {}
    for part, converter in pattern.pattern.converters.items():
        kind = type(converter).__name__.removesuffix("Converter").lower()
        kwargs[part] = patient.pk if part == "patient_id" else samples[kind]
    return reverse(name, kwargs=kwargs)


def patient_rows() -> int:
    return sum(model._default_manager.count() for model in patient_data_models())


@pytest.mark.parametrize("label", DOMAINS)
def test_what_belongs_to_a_patient_is_a_guarded_patient_record(label):
    config = apps.get_app_config(label)
    guarded = set(patient_data_models())
    for model in config.get_models():
        to_patient = any(
            isinstance(f, ForeignKey) and f.related_model is Patient for f in model._meta.fields
        )
        if model is Patient or model._meta.label_lower in NOT_RECORDS or not to_patient:
            continue
        assert issubclass(model, PatientRecord), f"{model._meta.label} must be a PatientRecord"
        assert model in guarded
        assert model.edit_permission in PERMISSIONS, model._meta.label


@pytest.mark.parametrize("label", DOMAINS)
def test_its_records_are_exported_or_say_why_not(label):
    from careway.fhir import mapping

    exported = {
        declared.model
        for name in mapping.REGISTRY
        for declared in mapping.sources(name)
        if declared.export is not None
    }
    for model in apps.get_app_config(label).get_models():
        if issubclass(model, PatientRecord) and model not in exported:
            assert model._meta.label_lower in NOT_EXPORTED, f"{model._meta.label} is not exported"
    assert set(NOT_EXPORTED) <= {m._meta.label_lower for m in patient_data_models()}


@pytest.mark.parametrize("label", DOMAINS)
def test_a_domain_declares_and_registers_its_permissions(label):
    declared = import_module(f"{apps.get_app_config(label).name}.permissions").ALL
    assert declared, f"{label}/permissions.py declares no permission"
    for permission in declared:
        assert PERMISSIONS.get(permission.code) == permission
        assert permission.roles <= set(Role.values), permission.code


@pytest.mark.parametrize("label", DOMAINS)
def test_its_chart_sections_open_for_the_team_and_are_audited(login, world, label):
    sections = sections_of(apps.get_app_config(label))
    if label != "patients":
        assert sections, f"{label} registers no chart section"
    for section in sections:
        url = reverse("chart_section", args=[world.patient.pk, section.key])
        page = login(world.cm).get(url)
        assert page.status_code == 200, section.key
        assert section.title in page.content.decode()
        read = AuditEvent.objects.filter(
            action="patient.view", actor_id=world.cm.pk, patient_id=world.patient.pk
        ).order_by("-seq")[0]
        assert read.detail["section"] == section.key


@pytest.mark.parametrize("label", DOMAINS)
def test_its_chart_sections_are_404_to_everyone_else(client, world, label):
    for section in sections_of(apps.get_app_config(label)):
        url = reverse("chart_section", args=[world.patient.pk, section.key])
        for someone in (world.cm_other, world.outsider, world.admin, world.auditor):
            client.force_login(someone)
            assert client.get(url).status_code == 404, (section.key, someone.username)
        denied = AuditEvent.objects.filter(
            actor_id=world.cm_other.pk, outcome=AuditEvent.Outcome.DENIED
        )
        assert denied.exists()


@pytest.mark.parametrize("label", DOMAINS)
def test_its_caseload_columns_show(login, world, label):
    """To the case manager, or to the supervisor when the column is theirs (a case manager
    column); never to a role without it."""
    pages = {
        who: login(who).get(reverse("caseload")).content.decode()
        for who in (world.cm, world.supervisor)
    }
    for column in columns_of(apps.get_app_config(label)):
        who = world.cm if world.cm.has_perm_code(column.permission) else world.supervisor
        assert who.has_perm_code(column.permission), column.key
        assert f">{column.title}" in pages[who], column.key
        if who is world.supervisor:
            assert f">{column.title}" not in pages[world.cm], column.key


@pytest.mark.parametrize("label", DOMAINS)
def test_its_patient_pages_are_404_to_another_agency_and_write_nothing(client, world, label):
    client.force_login(world.outsider)
    before = patient_rows()
    for name, pattern in patient_urls_of(apps.get_app_config(label)):
        url = url_for(name, pattern, world.patient)
        assert client.get(url).status_code == 404, pattern.name
        assert client.post(url, {"text": "x"}).status_code in (404, 405), pattern.name
    assert patient_rows() == before


@pytest.mark.parametrize("label", DOMAINS)
def test_read_only_members_cannot_write_through_its_pages(client, world, label):
    client.force_login(world.scheduler)  # on the care team, with read-only access
    before = patient_rows()
    for name, pattern in patient_urls_of(apps.get_app_config(label)):
        if pattern.name in READ_PAGES or set(pattern.pattern.converters) != {"patient_id"}:
            continue
        response = client.post(url_for(name, pattern, world.patient), {"text": "x"})
        assert response.status_code == 403, pattern.name
    assert patient_rows() == before

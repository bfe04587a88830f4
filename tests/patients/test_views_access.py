"""The three access tests on every patient page and form.

Anonymous: sent to sign in. A member of the care team: 200 (and a valid form saves). The
read-only scheduler on a write: 403 and nothing written. A colleague off the team and an outsider
from another agency: 404, nothing written, and a denied audit event.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients import services
from careway.patients.forms import ContactForm, PatientForm
from careway.patients.models import (
    Allergy,
    CareTeamMember,
    Condition,
    Coverage,
    Medication,
    Observation,
    Patient,
    RelatedPerson,
)

pytestmark = pytest.mark.django_db

SECTIONS = [
    "summary",
    "conditions",
    "medications",
    "allergies",
    "vitals",
    "assessments",
    "encounters",
    "contacts",
    "care-team",
]


def form_data(form) -> dict[str, Any]:
    """What a browser would post for an unbound form's current values."""
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is True:
            data[name] = "on"
        elif value in (False, None):
            continue
        elif isinstance(value, datetime):
            data[name] = timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")
        elif isinstance(value, date):
            data[name] = value.isoformat()
        else:
            data[name] = value
    return data


def patient_data(patient: Patient, **changes: Any) -> dict[str, Any]:
    return {**form_data(PatientForm(instance=patient)), **changes}


def contact_data(contact: RelatedPerson, **changes: Any) -> dict[str, Any]:
    return {**form_data(ContactForm(instance=contact)), **changes}


def add_contact(patient: Patient, **overrides: Any) -> RelatedPerson:
    data = {"name": "Ann Hale", "relationship": "child", "phone": "937-555-0199", **overrides}
    return services.add_contact(audit.Actor(user=None), patient, data)


@dataclass
class Write:
    """One write page: its URL, a valid post, and how to tell whether it wrote."""

    name: str
    url: Callable[[Any], str]
    post: Callable[[Any], dict[str, Any]]
    written: Callable[[Any], int]


def _url(name: str, **extra: Any) -> Callable[[Any], str]:
    def build(w):
        kwargs = {"patient_id": w.patient.pk}
        kwargs.update({k: v(w) for k, v in extra.items()})
        return reverse(name, kwargs=kwargs)

    return build


WRITES = [
    Write(
        "patient_edit",
        _url("patient_edit"),
        lambda w: patient_data(w.patient, given_name="Changed"),
        lambda w: Patient.objects.filter(given_name="Changed").count(),
    ),
    Write(
        "contact_create",
        _url("contact_create"),
        lambda w: {"name": "New Contact", "relationship": "friend"},
        lambda w: RelatedPerson.objects.filter(name="New Contact").count(),
    ),
    Write(
        "contact_edit",
        _url("contact_edit", contact_id=lambda w: w.extra["contact"].pk),
        lambda w: contact_data(w.extra["contact"], name="Renamed"),
        lambda w: RelatedPerson.objects.filter(name="Renamed").count(),
    ),
    Write(
        "condition_create",
        _url("condition_create"),
        lambda w: {"display": "Heart failure", "clinical_status": "active"},
        lambda w: Condition.objects.count(),
    ),
    Write(
        "medication_create",
        _url("medication_create"),
        lambda w: {"display": "Furosemide 40 mg", "status": "active"},
        lambda w: Medication.objects.count(),
    ),
    Write(
        "allergy_create",
        _url("allergy_create"),
        lambda w: {"display": "Penicillin", "category": "medication", "criticality": "high"},
        lambda w: Allergy.objects.count(),
    ),
    Write(
        "vitals_create",
        _url("vitals_create"),
        lambda w: {
            "effective_at": (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "systolic": "132",
            "diastolic": "84",
        },
        lambda w: Observation.objects.count(),
    ),
    Write(
        "coverage_create",
        _url("coverage_create"),
        lambda w: {"kind": "medicare", "payer_name": "Medicare Part A", "priority": "1"},
        lambda w: Coverage.objects.filter(payer_name="Medicare Part A").count(),
    ),
    Write(
        "careteam_add",
        _url("careteam_add"),
        lambda w: {"kind": "external", "external_name": "Dr. Ana Ruiz", "role": "physician"},
        lambda w: CareTeamMember.objects.filter(external_name="Dr. Ana Ruiz").count(),
    ),
]


def _record(key: str) -> Callable[[Any], Any]:
    return lambda w: w.extra[key].pk


WRITES += [
    Write(
        "condition_edit",
        _url("condition_edit", record_id=_record("condition")),
        lambda w: {"version": 1, "display": "Renamed condition"},
        lambda w: Condition.objects.filter(display="Renamed condition").count(),
    ),
    Write(
        "condition_status",
        _url("condition_status", record_id=_record("condition")),
        lambda w: {"version": 1, "status": "resolved"},
        lambda w: Condition.objects.filter(clinical_status="resolved").count(),
    ),
    Write(
        "medication_edit",
        _url("medication_edit", record_id=_record("medication")),
        lambda w: {"version": 1, "display": "Renamed medication"},
        lambda w: Medication.objects.filter(display="Renamed medication").count(),
    ),
    Write(
        "medication_status",
        _url("medication_status", record_id=_record("medication")),
        lambda w: {"version": 1, "status": "entered-in-error", "reason": "Wrong patient"},
        lambda w: Medication.objects.filter(status="entered-in-error").count(),
    ),
    Write(
        "allergy_edit",
        _url("allergy_edit", record_id=_record("allergy")),
        lambda w: {
            "version": 1,
            "display": "Renamed allergy",
            "category": "environment",
            "criticality": "low",
        },
        lambda w: Allergy.objects.filter(display="Renamed allergy").count(),
    ),
    Write(
        "allergy_status",
        _url("allergy_status", record_id=_record("allergy")),
        lambda w: {"version": 1, "status": "inactive"},
        lambda w: Allergy.objects.filter(clinical_status="inactive").count(),
    ),
    Write(
        "careteam_remove",
        _url("careteam_remove", member_id=_record("physician")),
        lambda w: {"version": 1},
        lambda w: CareTeamMember.objects.filter(active=False).count(),
    ),
]
WRITE_IDS = [w.name for w in WRITES]


@pytest.fixture
def w(world):
    system = audit.Actor(user=None)
    world.extra["contact"] = add_contact(world.patient)
    world.extra["condition"] = services.add_condition(
        system, world.patient, {"display": "Heart failure"}
    )
    world.extra["medication"] = services.add_medication(
        system, world.patient, {"display": "Furosemide 40 mg"}
    )
    world.extra["allergy"] = services.add_allergy(
        system, world.patient, {"display": "Latex", "category": "environment"}
    )
    episode = CareTeamMember.objects.get(patient=world.patient, user=world.cm).episode
    world.extra["physician"] = services.add_care_team_member(
        system, episode, role="physician", external_name="Dr. Lee Park"
    )
    return world


def chart_urls(patient_id) -> list[str]:
    urls = [reverse("chart", kwargs={"patient_id": patient_id})]
    urls += [
        reverse("chart_section", kwargs={"patient_id": patient_id, "section": s}) for s in SECTIONS
    ]
    return urls


def denied_events(patient_id) -> int:
    return AuditEvent.objects.filter(patient_id=patient_id, outcome="denied").count()


# --- Anonymous ------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in_from_every_page(client, w):
    urls = [reverse("caseload"), reverse("patient_create"), *chart_urls(w.patient.pk)]
    urls += [write.url(w) for write in WRITES]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login")), url


@pytest.mark.parametrize("write", WRITES, ids=WRITE_IDS)
def test_anonymous_post_writes_nothing(client, w, write):
    before = write.written(w)
    response = client.post(write.url(w), write.post(w))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert write.written(w) == before


# --- Members --------------------------------------------------------------------------------


def test_member_sees_every_page(login, w):
    client = login(w.cm)
    urls = [reverse("caseload"), reverse("patient_create"), *chart_urls(w.patient.pk)]
    urls += [write.url(w) for write in WRITES]
    for url in urls:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("write", WRITES, ids=WRITE_IDS)
def test_member_saves_and_returns_to_the_chart_section(login, w, write):
    client = login(w.cm)
    before = write.written(w)
    response = client.post(write.url(w), write.post(w), follow=True)
    assert response.redirect_chain, response.content.decode()[:3000]
    target = response.redirect_chain[-1][0]
    assert target.startswith(reverse("chart", kwargs={"patient_id": w.patient.pk}))
    assert write.written(w) > before
    assert b'class="message message-success"' in response.content


def test_scheduler_reads_every_chart_section(login, w):
    client = login(w.scheduler)
    for url in chart_urls(w.patient.pk):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"Edit patient details" not in response.content


# --- Read-only on writes --------------------------------------------------------------------


@pytest.mark.parametrize("write", WRITES, ids=WRITE_IDS)
def test_scheduler_may_not_write(login, w, write):
    client = login(w.scheduler)
    before = write.written(w)
    assert client.get(write.url(w)).status_code == 403
    assert client.post(write.url(w), write.post(w)).status_code == 403
    assert write.written(w) == before
    assert denied_events(w.patient.pk) == 2


def test_scheduler_may_not_register_patients(login, w):
    client = login(w.scheduler)
    before = Patient.objects.count()
    assert client.get(reverse("patient_create")).status_code == 404
    response = client.post(reverse("patient_create"), {"given_name": "X", "family_name": "Y"})
    assert response.status_code == 404
    assert Patient.objects.count() == before


# --- Not on the team, other agency ----------------------------------------------------------


@pytest.mark.parametrize("who", ["cm_other", "outsider"])
def test_not_visible_chart_pages_are_404_and_audited(login, w, who):
    client = login(getattr(w, who))
    urls = chart_urls(w.patient.pk)
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert denied_events(w.patient.pk) == len(urls)
    assert (
        not AuditEvent.objects.filter(patient_id=w.patient.pk, action="patient.view")
        .exclude(outcome="denied")
        .exists()
    )


@pytest.mark.parametrize("who", ["cm_other", "outsider"])
@pytest.mark.parametrize("write", WRITES, ids=WRITE_IDS)
def test_not_visible_writes_are_404_and_write_nothing(login, w, who, write):
    client = login(getattr(w, who))
    before = write.written(w)
    assert client.get(write.url(w)).status_code == 404
    assert client.post(write.url(w), write.post(w)).status_code == 404
    assert write.written(w) == before
    assert denied_events(w.patient.pk) == 2


def test_outsider_caseload_does_not_list_other_agencies(login, w):
    response = login(w.outsider).get(reverse("caseload"))
    assert response.status_code == 200
    assert b"Hale" not in response.content
    assert b"Berg" in response.content


def test_an_unknown_section_is_404(login, w):
    url = reverse("chart_section", kwargs={"patient_id": w.patient.pk, "section": "billing"})
    assert login(w.cm).get(url).status_code == 404


def test_contact_of_another_patient_is_404(login, w):
    other = add_contact(w.outsider_patient, name="Someone Else")
    url = reverse("contact_edit", kwargs={"patient_id": w.patient.pk, "contact_id": other.pk})
    assert login(w.cm).get(url).status_code == 404

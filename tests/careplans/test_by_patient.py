"""An intervention the patient does themself (Intervention.by_patient, issue 19): "Weigh yourself
every morning and write it down". One kind of someone an intervention: the patient alone, never
beside a discipline, a clinician or a caregiver (the team's part is an intervention of its own);
it may still be done at a discipline's visits. Here: the service's rules naming the field, the
database's constraint behind them, the revision's words, the form and the plan's page, template
parsing of "who": "patient" and a suggestion accepted from one. The API is in test_api.py, FHIR in
tests/fhir/test_careplan_by_patient.py, the patient's version in test_patient_version.py."""

import copy
import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from careway.careplans import plan_templates, revisions, services
from careway.careplans.models import CarePlanRevision, Intervention
from careway.careplans.plan_templates import TemplateError, parse_template
from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients import services as patient_services
from careway.patients.models import Task

pytestmark = pytest.mark.django_db

WEIGH = "Weigh yourself every morning and write it down"


@pytest.fixture
def actor(world):
    return audit.Actor(user=world.cm)


@pytest.fixture
def plan(world, actor):
    return services.start_plan(actor, world.patient)


def the_patients(actor, plan, **extra):
    data = {"kind": "monitor", "text": WEIGH, "by_patient": True, **extra}
    return services.add_intervention(actor, plan, data)


def url(name, patient, *args):
    return reverse(f"careplans:{name}", args=[patient.pk, *args])


# --- the service ---------------------------------------------------------------------------------


def test_the_patient_does_it_audited_and_in_the_revision_in_words(world, actor, plan):
    row = the_patients(actor, plan, at_visits_of="RN", frequency="qd x30")
    assert (row.by_patient, row.discipline, row.clinician_id, row.caregiver_id) == (
        True,
        "",
        None,
        None,
    )
    assert row.at_visits_of == "RN"  # the nurse looks at the log at her visits
    assert revisions.who_of(row) == "The patient"
    event = AuditEvent.objects.get(action="careplan.intervention.create", object_id=str(row.pk))
    assert event.patient_id == world.patient.pk
    newest = CarePlanRevision.objects.filter(plan=plan).order_by("-number").first()
    (shown,) = newest.content["interventions"].values()
    assert shown["who"] == "The patient" and shown["text"] == WEIGH


@pytest.mark.parametrize("other", ["caregiver", "discipline", "clinician"])
def test_the_patient_alone_the_other_someone_is_named(world, actor, plan, other):
    daughter = patient_services.add_contact(
        actor, world.patient, {"name": "June Hale", "relationship": "child"}
    )
    value = {"caregiver": daughter.pk, "discipline": "RN", "clinician": world.rn.pk}[other]
    with pytest.raises(ValidationError) as error:
        the_patients(actor, plan, **{other: value})
    assert list(error.value.message_dict) == [other]
    assert "The patient does this one" in error.value.message_dict[other][0]
    assert not Intervention.objects.filter(plan=plan).exists()


def test_changing_who_says_so_in_the_differences(actor, plan):
    row = services.add_intervention(
        actor, plan, {"kind": "monitor", "text": WEIGH, "discipline": "RN"}
    )
    with pytest.raises(ValidationError) as error:  # the discipline must go too
        services.update_intervention(actor, row, {"by_patient": True}, row.version)
    assert list(error.value.message_dict) == ["discipline"]
    changed = services.update_intervention(
        actor, row, {"by_patient": True, "discipline": ""}, row.version, reason="She weighs"
    )
    assert changed.by_patient and changed.version == row.version + 1
    *_, older, newer = CarePlanRevision.objects.filter(plan=plan).order_by("number")
    (change,) = revisions.differences(older.content, newer.content)
    (who,) = change.fields
    assert (who.label, who.before, who.after) == ("Who", "Registered nurse", "The patient")
    assert newer.reason == "She weighs"


def test_the_database_refuses_the_patient_beside_a_discipline(actor, plan):
    row = the_patients(actor, plan)
    with pytest.raises(IntegrityError), transaction.atomic():
        Intervention.objects.filter(pk=row.pk).update(discipline="RN")
    with pytest.raises(IntegrityError), transaction.atomic():
        Intervention.objects.filter(pk=row.pk).update(by_patient=False)  # then no one does it


def test_a_task_from_the_patients_intervention_goes_to_the_case_manager(world, actor, plan):
    row = the_patients(actor, plan)
    task = services.raise_intervention_task(actor, row)
    assert isinstance(task, Task)
    assert task.detail == "From the care plan. Carried out by: The patient."


# --- the form and the plan's page ----------------------------------------------------------------


def form_post(**changes):
    return {
        "kind": "monitor",
        "text": WEIGH,
        "who": "patient",
        "at_visits_of": "",
        "frequency": "",
        "goal": "",
        "teaching_topic": "",
        "start_date": "",
        "end_date": "",
        **changes,
    }


def test_the_form_offers_the_patient_and_the_page_shows_it(login, world, plan):
    client = login(world.cm)
    form = client.get(url("intervention_add", world.patient)).content.decode()
    assert '<option value="patient">The patient</option>' in form
    response = client.post(url("intervention_add", world.patient), form_post())
    assert response.status_code == 302
    row = Intervention.objects.get(plan=plan)
    assert row.by_patient and row.discipline == ""
    page = client.get(reverse("chart_section", args=[world.patient.pk, "care-plan"]))
    text = page.content.decode()
    shown = text[text.index(f'id="intervention-{row.pk}"') :]
    assert re.search(r"<dt>Who</dt><dd>The patient</dd>", shown[: shown.index("</li>")])


def test_editing_keeps_the_patient_chosen_and_another_who_replaces_it(login, world, actor, plan):
    row = the_patients(actor, plan)
    client = login(world.cm)
    form = client.get(url("intervention_edit", world.patient, row.pk)).content.decode()
    assert re.search(r'<option value="patient"[^>]*selected', form)
    data = {**form_post(who="discipline:RN"), "status": "active", "version": row.version}
    response = client.post(url("intervention_edit", world.patient, row.pk), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    row.refresh_from_db()
    assert (row.by_patient, row.discipline) == (False, "RN")


# --- templates and suggestions -------------------------------------------------------------------


def heart_failure_template():
    return json.loads((plan_templates.CONTENT / "heart-failure.json").read_text(encoding="utf-8"))


def test_a_template_intervention_may_say_the_patient_does_it():
    template = plan_templates.shipped()["heart-failure"]
    item = template.items["hf-weigh-self"]
    assert item.fields == {
        "kind": "monitor",
        "discipline": "",
        "by_patient": True,
        "frequency": "",
    }
    assert template.items["hf-weigh-daily"].fields["by_patient"] is False
    for key in ("heart-failure", "diabetes", "copd", "hypertension", "fall-risk"):
        patients = [
            i for i in plan_templates.shipped()[key].items.values() if i.fields.get("by_patient")
        ]
        assert patients, key


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"who": "family"}, "interventions[1].who"),
        ({"discipline": "RN"}, "interventions[1].discipline"),
    ],
)
def test_a_wrong_who_in_a_template_is_named(change, field):
    raw = copy.deepcopy(heart_failure_template())
    assert raw["interventions"][1]["who"] == "patient"
    raw["interventions"][1].update(change)
    with pytest.raises(TemplateError) as error:
        parse_template(raw, shipped=False)
    assert list(error.value.errors) == [field]


def test_a_suggestion_the_patient_does_is_accepted_as_theirs(world, actor):
    from careway.careplans.models import Suggestion

    patient_services.add_condition(
        actor,
        world.patient,
        {"code_system": "http://snomed.info/sct", "code": "84114007", "display": "Heart failure"},
    )
    rows = Suggestion.objects.filter(patient=world.patient, template="heart-failure", status="open")
    mine = services.accept_suggestion(actor, rows.get(item="hf-weigh-self"))
    assert (mine.by_patient, mine.discipline) == (True, "")
    # Given to a discipline when accepting, it is the team's; and the other way round.
    log = services.accept_suggestion(actor, rows.get(item="hf-symptom-log"), {"discipline": "RN"})
    assert (log.by_patient, log.discipline) == (False, "RN")
    teach = services.accept_suggestion(
        actor, rows.get(item="hf-weigh-daily"), {"discipline": "patient"}
    )
    assert (teach.by_patient, teach.discipline) == (True, "")


def test_the_agency_template_page_says_the_patient(login, world):
    response = login(world.admin).get(
        reverse("careplans:template_detail", kwargs={"key": "heart-failure"})
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Weigh yourself every morning" in text and "The patient" in text

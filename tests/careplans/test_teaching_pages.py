"""The teaching and agreement pages of the chart's Care plan section: the Teaching and Agreement
cards, recording teaching with its teach-back, marking a record entered in error, recording an
agreement drawn on the tablet or verbal with a witness; the three access tests on every page
and POST, audited reads and writes, bad input named, the teaching topic on the goal and
intervention forms, and the intervention's latest teach-back beside it."""

import json

import pytest
from django.urls import reverse

from careway.careplans import services, teaching
from careway.careplans.models import Agreement, Goal, Intervention, TeachingRecord
from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients import services as patient_services
from careway.patients.models import Task

pytestmark = pytest.mark.django_db

TOPIC = "heart-failure-zones"
SIGNATURE = [[[20, 150], [60, 60], [100, 150], [140, 60]], [[200, 100], [320, 110], [420, 90]]]


@pytest.fixture
def actor(world):
    return audit.Actor(user=world.cm)


@pytest.fixture
def plan(world, actor):
    return services.start_plan(actor, world.patient)


@pytest.fixture
def record(world, actor, plan):
    data = {"topic": TOPIC, "audience": "patient", "explained": True, "result": "understood"}
    return teaching.record_teaching(actor, world.patient, data)


def section(patient):
    return reverse("chart_section", args=[patient.pk, "care-plan"])


def url(name, patient, *args):
    return reverse(f"careplans:{name}", args=[patient.pk, *args])


def pages(world, record):
    return {
        "teaching_add": url("teaching_add", world.patient),
        "teaching_error": url("teaching_error", world.patient, record.pk),
        "agreement_add": url("agreement_add", world.patient),
    }


def counts():
    return (
        TeachingRecord.objects.count(),
        TeachingRecord.objects.filter(status="entered-in-error").count(),
        Agreement.objects.count(),
    )


# --- access --------------------------------------------------------------------------------------


def test_a_member_of_the_team_opens_every_page_and_each_read_is_audited(login, world, record):
    client = login(world.cm)
    for name, address in pages(world, record).items():
        response = client.get(address)
        assert response.status_code == 200, name
        assert AuditEvent.objects.filter(
            action="patient.view",
            actor_id=world.cm.pk,
            detail__page=name.replace("_add", "").replace("teaching_error", "teaching-error"),
        ).exists(), name


def test_a_read_only_member_cannot_write(login, world, record):
    client = login(world.scheduler)
    before = counts()
    for name, address in pages(world, record).items():
        assert client.get(address).status_code == 403, name
        assert client.post(address, {"reason": "x", "version": 1}).status_code == 403, name
    assert counts() == before
    # They read the plan, with its Teaching and Agreement cards, and no buttons.
    text = client.get(section(world.patient)).content.decode()
    assert "Teaching (1)" in text and "Not agreed" in text
    assert url("teaching_add", world.patient) not in text
    assert url("agreement_add", world.patient) not in text


@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_everyone_else_gets_404_on_every_page_and_post(login, world, record, who):
    client = login(getattr(world, who))
    before = counts()
    for name, address in pages(world, record).items():
        assert client.get(address).status_code == 404, name
        assert client.post(address, {"reason": "x", "version": 1}).status_code == 404, name
    assert counts() == before


def test_another_patients_record_is_not_found_here(login, world, actor, record):
    outsider_patient_record = record
    other = world.outsider_patient
    client = login(world.cm)
    address = url("teaching_error", other, outsider_patient_record.pk)
    assert client.get(address).status_code == 404


# --- the plan page -------------------------------------------------------------------------------


def test_the_plan_says_when_the_current_revision_needs_agreement(login, world, actor, plan):
    client = login(world.cm)
    text = client.get(section(world.patient)).content.decode()
    assert "Needs the patient's agreement" in text and "Not yet agreed" in text
    assert url("agreement_add", world.patient) in text
    teaching.record_agreement(
        actor, plan, {"who": "patient", "method": "signature", "signature": SIGNATURE}
    )
    text = client.get(section(world.patient)).content.decode()
    assert "Agreed to revision 1, the current one." in text
    assert '<svg class="signature"' in text and '<path d="M 20 150 L 60 60' in text
    assert "Needs the patient" not in text
    services.add_problem(actor, plan, {"text": "Fluid overload"})
    text = client.get(section(world.patient)).content.decode()
    assert "Ask again" in text and "revision 2: ask again" in text
    assert "Problem added: Fluid overload" in text and "Needs the patient's agreement" in text


def test_the_teaching_card_lists_the_records(login, world, actor, plan, record):
    contact = patient_services.add_contact(
        actor, world.patient, {"name": "June Hale", "relationship": "child"}
    )
    teaching.record_teaching(
        actor,
        world.patient,
        {
            "topic": TOPIC,
            "audience": "caregiver",
            "caregiver": contact.pk,
            "demonstrated": True,
            "handout_given": True,
            "result": "needs-reinforcement",
            "notes": "Mixed up the zones",
        },
    )
    text = login(world.cm).get(section(world.patient)).content.decode()
    assert "Teaching (2)" in text and "Newest first" in text
    assert "June Hale" in text and "Demonstrated, handout given" in text
    assert "Needs reinforcement" in text and "Understood" in text and "Mixed up the zones" in text
    assert text.index("June Hale") < text.index("The patient")  # newest first
    assert "Task due" in text


def test_an_intervention_shows_its_latest_teach_back(login, world, actor, plan):
    row = services.add_intervention(
        actor,
        plan,
        {"kind": "teach", "text": "Teach the zones", "discipline": "RN", "teaching_topic": TOPIC},
    )
    client = login(world.cm)
    text = client.get(section(world.patient)).content.decode()
    assert "Not taught yet" in text
    teaching.record_teaching(
        actor,
        world.patient,
        {
            "topic": TOPIC,
            "audience": "patient",
            "explained": True,
            "result": "not-understood",
            "intervention": row.pk,
        },
    )
    text = client.get(section(world.patient)).content.decode()
    block = text[text.index(f'id="intervention-{row.pk}"') :]
    block = block[: block.index("</li>")]
    assert "Teach-back" in block and "Not understood" in block
    # Its "Record teaching" opens the form with the topic and the intervention chosen.
    page = client.get(f"{url('teaching_add', world.patient)}?topic={TOPIC}&intervention={row.pk}")
    form = page.content.decode()
    assert f'<option value="{TOPIC}" selected>' in form
    assert f'<option value="{row.pk}" selected>' in form


# --- recording teaching --------------------------------------------------------------------------


def test_recording_teaching_from_the_form(login, world, plan):
    client = login(world.cm)
    page = client.get(url("teaching_add", world.patient)).content.decode()
    assert "Heart failure: know your zones" in page and "Teach-back result" in page
    response = client.post(
        url("teaching_add", world.patient),
        {
            "topic": TOPIC,
            "audience": "patient",
            "methods": ["explained", "handout_given"],
            "result": "needs-reinforcement",
            "notes": "Go over the yellow zone",
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("#teaching")
    made = TeachingRecord.objects.get()
    assert made.explained and made.handout_given and not made.demonstrated
    assert made.follow_up is not None and made.follow_up.status == Task.Status.OPEN
    assert AuditEvent.objects.filter(action="careplan.teaching.create", actor_id=world.cm.pk)
    assert AuditEvent.objects.filter(action="task.create", actor_id=world.cm.pk)


def test_bad_teaching_is_named_and_nothing_is_saved(login, world, plan):
    client = login(world.cm)
    response = client.post(
        url("teaching_add", world.patient),
        {
            "topic": TOPIC,
            "audience": "caregiver",
            "result": "",
        },
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert "nothing was saved" in text
    assert "Say how it was taught" in text and "Choose the teach-back result" in text
    response = client.post(
        url("teaching_add", world.patient),
        {
            "topic": TOPIC,
            "audience": "caregiver",
            "methods": ["explained"],
            "result": "understood",
        },
    )
    assert response.status_code == 422
    assert "Choose the caregiver taught" in response.content.decode()
    assert not TeachingRecord.objects.exists()


def test_marking_a_record_entered_in_error(login, world, record):
    client = login(world.cm)
    address = url("teaching_error", world.patient, record.pk)
    response = client.post(address, {"version": record.version, "reason": ""})
    assert response.status_code == 422
    response = client.post(address, {"version": record.version + 3, "reason": "Wrong topic"})
    assert response.status_code == 409
    assert "Someone changed this record" in response.content.decode()
    response = client.post(address, {"version": record.version, "reason": "Wrong topic"})
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.status == "entered-in-error"
    assert (
        AuditEvent.objects.get(action="careplan.teaching.entered_in_error").reason == "Wrong topic"
    )
    text = client.get(section(world.patient)).content.decode()
    assert "Entered in error" in text


# --- recording agreement -------------------------------------------------------------------------


def test_recording_a_drawn_signature(login, world, plan):
    client = login(world.cm)
    page = client.get(url("agreement_add", world.patient)).content.decode()
    assert "data-signature-pad" in page and "Clear the signature" in page
    assert "verbally with a witness" in page  # the path for those who cannot draw
    response = client.post(
        url("agreement_add", world.patient),
        {
            "revision": plan.revision,
            "who": "patient",
            "method": "signature",
            "signature": json.dumps(SIGNATURE),
        },
    )
    assert response.status_code == 302, response.content.decode()
    row = Agreement.objects.get()
    assert row.revision == 1 and len(row.signature) == 2
    assert AuditEvent.objects.filter(action="careplan.agreement.create", actor_id=world.cm.pk)


def test_a_dot_is_not_a_signature_and_a_verbal_agreement_needs_a_witness(login, world, plan):
    client = login(world.cm)
    address = url("agreement_add", world.patient)
    response = client.post(
        address,
        {"revision": 1, "who": "patient", "method": "signature", "signature": "[[[300, 100]]]"},
    )
    assert response.status_code == 422 and "only a dot" in response.content.decode()
    response = client.post(address, {"revision": 1, "who": "patient", "method": "verbal"})
    assert response.status_code == 422 and "Name the witness" in response.content.decode()
    response = client.post(
        address, {"revision": 1, "who": "patient", "method": "verbal", "witness_name": "Rosa Diaz"}
    )
    assert response.status_code == 302
    assert Agreement.objects.get().witness_name == "Rosa Diaz"


def test_an_agreement_to_a_revision_since_changed_is_refused(login, world, actor, plan):
    client = login(world.cm)
    services.add_problem(actor, plan, {"text": "Fluid overload"})
    response = client.post(
        url("agreement_add", world.patient),
        {
            "revision": 1,
            "who": "patient",
            "method": "verbal",
            "witness_name": "Rosa Diaz",
        },
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert "from revision 1 to revision 2" in text
    assert 'name="revision" value="2"' in text  # shown again, for the current revision
    assert not Agreement.objects.exists()


# --- the topic on goals and interventions --------------------------------------------------------


def test_the_goal_and_intervention_forms_offer_the_agencys_topics(login, world, plan):
    client = login(world.cm)
    for name in ("goal_add", "intervention_add"):
        page = client.get(url(name, world.patient)).content.decode()
        assert 'name="teaching_topic"' in page and "Heart failure: know your zones" in page
    response = client.post(
        url("goal_add", world.patient),
        {
            "description": "Knows the heart failure zones",
            "teaching_topic": TOPIC,
        },
    )
    assert response.status_code == 302
    goal = Goal.objects.get()
    assert goal.teaching_topic == TOPIC and goal.measure == "teach-back"
    response = client.post(
        url("intervention_add", world.patient),
        {
            "kind": "teach",
            "text": "Teach the zones",
            "who": "discipline:RN",
            "teaching_topic": TOPIC,
        },
    )
    assert response.status_code == 302
    assert Intervention.objects.get().teaching_topic == TOPIC
    text = client.get(section(world.patient)).content.decode()
    assert "Teach-back understood: Heart failure zones" in text
    assert f"?topic={TOPIC}&amp;goal={goal.pk}" in text  # record teaching from the goal

"""Teaching and agreement on the living care plan (careway/careplans/teaching.py): a topic of the
agency's handout library taught with its teach-back, the follow-up task that "needs
reinforcement" raises and "understood" closes, a goal met by teaching, and the patient's
agreement to a revision of the plan, asked again after a later one; bad input named by field."""

import json
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from careway.careplans import services, teaching
from careway.careplans.handouts import CONTENT
from careway.careplans.models import AgencyHandout, Agreement, Goal, TeachingRecord
from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import AuditEvent
from careway.patients import services as patient_services
from careway.patients.models import Task

pytestmark = pytest.mark.django_db

TOPIC = "heart-failure-zones"
OTHER = "walker-safety"
# Strokes on the 600 x 200 pad: a name written across the box.
SIGNATURE = [[[20, 150], [60, 60], [100, 150], [140, 60]], [[200, 100], [320, 110], [420, 90]]]


@pytest.fixture
def actor(world):
    return audit.Actor(user=world.cm)


@pytest.fixture
def plan(world, actor):
    return services.start_plan(actor, world.patient)


@pytest.fixture
def other_topic(world):
    """An agency's own handout: a second topic of its library."""
    content = json.loads((CONTENT / f"{TOPIC}.json").read_text(encoding="utf-8"))
    content["key"] = OTHER
    content["title"] = {"en": "Using your walker safely", "es": "Cómo usar su andador"}
    return AgencyHandout.objects.create(
        organization=world.org,
        key=OTHER,
        version=1,
        title="Using your walker safely",
        content=content,
    )


@pytest.fixture
def caregiver(world, actor):
    return patient_services.add_contact(
        actor, world.patient, {"name": "June Hale", "relationship": "child"}
    )


def teach(actor, patient, **data):
    values = {"topic": TOPIC, "audience": "patient", "explained": True, "result": "understood"}
    return teaching.record_teaching(actor, patient, {**values, **data})


def agency_today(world) -> date:
    """The agency's day (New York), which is not UTC's in its evening."""
    return timezone.localdate(timezone=ZoneInfo(world.org.timezone))


def errors_of(excinfo):
    return excinfo.value.message_dict


# --- teaching ------------------------------------------------------------------------------------


def test_teaching_keeps_the_topic_as_it_was_taught_and_is_audited(world, actor, plan):
    record = teach(actor, world.patient, handout_given=True, notes="Said the zones back")
    assert record.plan == plan and record.taught_by == world.cm
    assert record.topic_title == "Heart failure: know your zones"
    assert record.handout_version == "1" and record.language == "en"
    event = AuditEvent.objects.get(action="careplan.teaching.create")
    assert event.patient_id == world.patient.pk and event.object_id == str(record.pk)
    assert event.detail["result"] == "understood"


def test_teaching_is_given_in_the_patients_language(world, actor, plan):
    patient_services.update_patient(
        actor, world.patient, {"preferred_language": "es-MX"}, world.patient.version
    )
    world.patient.refresh_from_db()
    record = teach(actor, world.patient)
    assert record.language == "es"
    assert record.topic_title == "Insuficiencia cardiaca: conozca sus zonas"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"topic": "no-such-topic"}, "topic"),
        ({"audience": "neighbour"}, "audience"),
        ({"audience": "caregiver"}, "caregiver"),
        ({"explained": False}, "methods"),
        ({"result": "maybe"}, "result"),
        ({"result": ""}, "result"),
        ({"goal": "00000000-0000-0000-0000-000000000000"}, "goal"),
        ({"intervention": "not-a-uuid"}, "intervention"),
        ({"notes": "x" * 2001}, "notes"),
        ({"taught_by": 1}, "taught_by"),
    ],
)
def test_bad_teaching_is_named_by_field_and_writes_nothing(world, actor, plan, data, field):
    with pytest.raises(ValidationError) as excinfo:
        teach(actor, world.patient, **data)
    assert field in errors_of(excinfo)
    assert not TeachingRecord.objects.exists()


def test_a_caregiver_must_be_an_active_contact_of_this_patient(world, actor, plan, caregiver):
    other = patient_services.add_contact(
        actor, world.outsider_patient, {"name": "Someone Else", "relationship": "child"}
    )
    with pytest.raises(ValidationError) as excinfo:
        teach(actor, world.patient, audience="caregiver", caregiver=other.pk)
    assert "caregiver" in errors_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        teach(actor, world.patient, audience="patient", caregiver=caregiver.pk)
    assert "caregiver" in errors_of(excinfo)
    record = teach(actor, world.patient, audience="caregiver", caregiver=caregiver.pk)
    assert record.caregiver == caregiver


def test_needs_reinforcement_raises_a_task_and_understood_closes_it(world, actor, plan):
    first = teach(actor, world.patient, result="needs-reinforcement")
    task = first.follow_up
    assert task is not None and task.status == Task.Status.OPEN
    assert task.assigned_to == world.cm and task.title.startswith("Reinforce teaching:")
    # No visit frequency for the teacher's discipline: due in a week.
    assert task.due_date == agency_today(world) + timedelta(days=7)
    # Again before the next visit: the same task, not a second one.
    again = teach(actor, world.patient, result="needs-reinforcement", demonstrated=True)
    assert again.follow_up == task and Task.objects.filter(patient=world.patient).count() == 1
    teach(actor, world.patient, result="understood")
    task.refresh_from_db()
    assert task.status == Task.Status.DONE
    assert "Teach-back understood" in task.completion_note and "the patient" in task.completion_note
    assert AuditEvent.objects.filter(action="task.complete", object_id=str(task.pk)).exists()


def test_not_understood_raises_an_urgent_task_to_teach_it_another_way(world, actor, plan):
    record = teach(actor, world.patient, result="not-understood")
    task = record.follow_up
    assert task is not None and task.status == Task.Status.OPEN
    assert task.priority == "urgent" and task.title.startswith("Teach again:")
    assert "not understood" in task.detail and "another way" in task.detail
    # Then needs reinforcement: still the one task, and understood closes it.
    assert teach(actor, world.patient, result="needs-reinforcement").follow_up == task
    teach(actor, world.patient, result="understood")
    task.refresh_from_db()
    assert task.status == Task.Status.DONE


def test_a_follow_up_goes_with_the_teaching_entered_in_error(world, actor, plan):
    first = teach(actor, world.patient, result="needs-reinforcement")
    second = teach(actor, world.patient, result="needs-reinforcement", demonstrated=True)
    task = first.follow_up
    teaching.mark_teaching_entered_in_error(actor, second, "Another patient", second.version)
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN  # the first teaching still needs it
    first.refresh_from_db()
    teaching.mark_teaching_entered_in_error(actor, first, "Another patient", first.version)
    task.refresh_from_db()
    assert task.status == Task.Status.CANCELLED
    assert task.completion_note.endswith("entered in error: Another patient")
    assert AuditEvent.objects.filter(action="task.cancel", object_id=str(task.pk)).exists()


def test_understood_on_another_topic_leaves_the_task_open(world, actor, plan, other_topic):
    task = teach(actor, world.patient, result="needs-reinforcement").follow_up
    teach(actor, world.patient, topic=OTHER, result="understood")
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN


def test_the_follow_up_falls_due_at_the_next_visit_of_the_teachers_discipline(world, actor, plan):
    # cm is a registered nurse; RN visits 3w1, 2w4 from the start of care 12 days ago: in week
    # 2 (twice a week) the next visit is 4 days away.
    services.set_frequency(actor, plan, {"discipline": "RN", "frequency": "3w1, 2w4"})
    task = teach(actor, world.patient, result="needs-reinforcement").follow_up
    assert task.due_date == agency_today(world) + timedelta(days=4)


def test_a_teacher_without_a_person_leaves_the_task_to_the_primary_case_manager(world, plan):
    record = teach(audit.Actor(user=None), world.patient, result="needs-reinforcement")
    assert record.follow_up.assigned_to == world.cm


def test_entered_in_error_needs_a_reason_and_the_version(world, actor, plan):
    record = teach(actor, world.patient)
    with pytest.raises(ValidationError) as excinfo:
        teaching.mark_teaching_entered_in_error(actor, record, "  ", record.version)
    assert "reason" in errors_of(excinfo)
    with pytest.raises(VersionConflict):
        teaching.mark_teaching_entered_in_error(actor, record, "Wrong patient", record.version + 1)
    marked = teaching.mark_teaching_entered_in_error(actor, record, "Wrong patient", record.version)
    assert marked.status == TeachingRecord.Status.ENTERED_IN_ERROR
    event = AuditEvent.objects.get(action="careplan.teaching.entered_in_error")
    assert event.reason == "Wrong patient"
    with pytest.raises(ValidationError):
        teaching.mark_teaching_entered_in_error(actor, marked, "Again", marked.version)


# --- a goal met by teaching ----------------------------------------------------------------------


def teaching_goal(actor, plan, **data):
    return services.add_goal(
        actor,
        plan,
        {"description": "Knows the heart failure zones", "teaching_topic": TOPIC, **data},
    )


def test_a_goal_with_a_topic_is_met_when_the_latest_teach_back_is_understood(world, actor, plan):
    goal = teaching_goal(actor, plan)
    assert goal.measure == "teach-back" and goal.achievement == "in-progress"
    assert "No teach-back" in goal.achievement_rule
    teach(actor, world.patient, result="not-understood")
    goal.refresh_from_db()
    assert goal.achievement == "in-progress"
    teach(actor, world.patient, result="needs-reinforcement")
    goal.refresh_from_db()
    assert goal.achievement == "improving"
    record = teach(actor, world.patient, result="understood")
    goal.refresh_from_db()
    assert goal.achievement == "achieved"
    assert "understood" in goal.achievement_rule and "the patient" in goal.achievement_rule
    assert AuditEvent.objects.filter(action="careplan.goal.evaluate").exists()
    # The understood teach-back entered in error: the goal goes back to the one before.
    teaching.mark_teaching_entered_in_error(actor, record, "Another topic", record.version)
    goal.refresh_from_db()
    assert goal.achievement == "improving"


def test_a_caregivers_teach_back_counts_for_the_goal(world, actor, plan, caregiver):
    goal = teaching_goal(actor, plan)
    teach(actor, world.patient, audience="caregiver", caregiver=caregiver.pk)
    goal.refresh_from_db()
    assert goal.achievement == "achieved" and "June Hale" in goal.achievement_rule


def test_a_later_worse_teach_back_undoes_the_goal(world, actor, plan):
    goal = teaching_goal(actor, plan)
    teach(actor, world.patient, result="understood")
    teach(actor, world.patient, result="needs-reinforcement")
    goal.refresh_from_db()
    assert goal.achievement == "worsening"


def test_a_teaching_goal_names_its_topic_and_no_other_measure(world, actor, plan):
    with pytest.raises(ValidationError) as excinfo:
        teaching_goal(actor, plan, teaching_topic="no-such-topic")
    assert "teaching_topic" in errors_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        teaching_goal(actor, plan, measure="weight", target_high=170)
    assert "teaching_topic" in errors_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        services.add_goal(actor, plan, {"description": "Knows it", "measure": "teach-back"})
    assert "teaching_topic" in errors_of(excinfo)
    assert not Goal.objects.exists()


def test_a_goal_keeps_a_topic_the_agency_retired(world, actor, plan, other_topic):
    goal = teaching_goal(actor, plan, teaching_topic=OTHER)
    AgencyHandout.objects.filter(pk=other_topic.pk).update(active=False)
    changed = services.update_goal(actor, goal, {"description": "Uses the walker"}, goal.version)
    assert changed.teaching_topic == OTHER
    with pytest.raises(ValidationError) as excinfo:
        teaching_goal(actor, plan, teaching_topic=OTHER)
    assert "teaching_topic" in errors_of(excinfo)


def test_an_interventions_topic_must_be_the_agencys(world, actor, plan):
    data = {"kind": "teach", "text": "Teach the zones", "discipline": "RN"}
    with pytest.raises(ValidationError) as excinfo:
        services.add_intervention(actor, plan, {**data, "teaching_topic": "nope"})
    assert "teaching_topic" in errors_of(excinfo)
    row = services.add_intervention(actor, plan, {**data, "teaching_topic": TOPIC})
    assert row.teaching_topic == TOPIC


# --- agreement -----------------------------------------------------------------------------------


def agree(actor, plan, **data):
    values = {"who": "patient", "method": "signature", "signature": SIGNATURE}
    return teaching.record_agreement(actor, plan, {**values, **data})


def test_never_agreed_then_agreed_then_asked_again_after_a_new_revision(world, actor, plan):
    state = teaching.agreement_state(plan)
    assert state.state == "never" and state.needs_agreement
    row = agree(actor, plan, revision=plan.revision)
    assert row.revision == plan.revision == 1 and row.recorded_by == world.cm
    assert row.signature == [[[float(x), float(y)] for x, y in s] for s in SIGNATURE]
    event = AuditEvent.objects.get(action="careplan.agreement.create")
    assert event.detail == {"revision": 1, "who": "patient", "method": "signature"}
    state = teaching.agreement_state(plan)
    assert state.state == "agreed" and not state.needs_agreement and state.agreement == row
    services.add_problem(actor, plan, {"text": "Fluid overload"})
    state = teaching.agreement_state(plan)
    assert state.state == "ask-again" and state.needs_agreement
    assert "Revision 1 was agreed to" in state.words and "revision 2: ask again" in state.words
    assert state.changes == ["Problem added: Fluid overload"]


def test_an_agreement_to_a_revision_no_longer_current_is_refused(world, actor, plan):
    shown = plan.revision
    services.add_problem(actor, plan, {"text": "Fluid overload"})
    with pytest.raises(ValidationError) as excinfo:
        agree(actor, plan, revision=shown)
    assert "revision" in errors_of(excinfo)
    assert not Agreement.objects.exists()


def test_a_verbal_agreement_needs_a_witness(world, actor, plan):
    with pytest.raises(ValidationError) as excinfo:
        agree(actor, plan, method="verbal", signature=[])
    assert "witness_name" in errors_of(excinfo)
    row = agree(actor, plan, method="verbal", signature=[], witness_name="  Rosa   Diaz ")
    assert row.witness_name == "Rosa Diaz" and row.signature == []


def test_a_representative_is_a_guardian_or_healthcare_agent(world, actor, plan, caregiver):
    with pytest.raises(ValidationError) as excinfo:
        agree(actor, plan, who="representative", representative=caregiver.pk)
    assert "representative" in errors_of(excinfo)
    agent = patient_services.add_contact(
        actor, world.patient, {"name": "Paul Hale", "relationship": "agent"}
    )
    row = agree(actor, plan, who="representative", representative=agent.pk)
    assert row.representative == agent
    assert teaching.agreed_by(row) == "Paul Hale (Healthcare agent (POA))"
    with pytest.raises(ValidationError) as excinfo:
        agree(actor, plan, who="patient", representative=agent.pk)
    assert "representative" in errors_of(excinfo)


@pytest.mark.parametrize(
    ("signature", "words"),
    [
        ([], "empty"),
        ("", "empty"),
        ([[]], "empty"),
        ("not json", "could not be read"),
        ({"x": 1}, "list of strokes"),
        ([[[100, 100]]], "only a dot"),
        ([[[100, 100], [102, 101], [101, 103]]], "only a dot"),
        ([[[100, 100], [700, 100]]], "outside the 600 x 200 box"),
        ([[[100, -1], [300, 100]]], "outside"),
        ([[[100, 100, 3], [300, 100]]], "not [x, y] numbers"),
        ([[[True, 100], [300, 100]]], "not [x, y] numbers"),
        ([[["100", 100], [300, 100]]], "not [x, y] numbers"),
        ([[[float("nan"), 100], [300, 100]]], "not [x, y] numbers"),
        ([[100, 200]], "not [x, y] numbers"),
        ([[]] + [[[1, 1], [300, 100]]] * 0 + [5], "not a list of [x, y] points"),
        ([[[10, 10], [300, 100]]] * 61, "more than 60 strokes"),
        ([[[10.0 + i % 500, 100] for i in range(1001)]], "too many points"),
    ],
)
def test_bad_signatures_are_refused_with_a_clear_message(world, actor, plan, signature, words):
    with pytest.raises(ValidationError) as excinfo:
        agree(actor, plan, signature=signature)
    assert words in errors_of(excinfo)["signature"][0]
    assert not Agreement.objects.exists()


def test_a_signature_as_json_text_is_read(world, actor, plan):
    row = agree(actor, plan, signature=json.dumps(SIGNATURE))
    assert len(row.signature) == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"who": "neighbour"}, "who"),
        ({"method": "telepathy"}, "method"),
        ({"method": "verbal", "witness_name": "Rosa Diaz"}, "signature"),
        ({"recorded_by": 1}, "recorded_by"),
    ],
)
def test_bad_agreements_are_named_by_field(world, actor, plan, data, field):
    with pytest.raises(ValidationError) as excinfo:
        agree(actor, plan, **data)
    assert field in errors_of(excinfo)


def test_a_closed_plan_takes_no_agreement(world, actor, plan):
    closed = services.update_plan(actor, plan, {"status": "completed"}, plan.version)
    with pytest.raises(ValidationError) as excinfo:
        agree(actor, closed)
    assert "plan" in errors_of(excinfo)


def test_signature_paths_draw_each_stroke():
    assert teaching.signature_paths([[[1, 2], [3.5, 4]], [[5, 6]]]) == [
        "M 1 2 L 3.5 4",
        "M 5 6 L 5 6",
    ]

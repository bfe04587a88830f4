"""The care plan's services: building, revising, conflicts, and goals computed from the chart."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from careway.careplans import revisions, services
from careway.careplans.models import CarePlan, CarePlanRevision, Goal
from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import AuditEvent
from careway.patients import services as patient_services
from careway.patients.models import CareTeamMember, Task


@pytest.fixture(autouse=True)
def _agency_days(world):
    """Goals count the agency's days (New York's): so do these tests, at any hour of the day."""
    with timezone.override(ZoneInfo(world.org.timezone)):
        yield


@pytest.fixture
def actor(world):
    return audit.Actor(user=world.cm)


@pytest.fixture
def plan(world, actor):
    return services.start_plan(actor, world.patient)


def weigh(actor, patient, pounds, days_ago, hour=10):
    day = timezone.localdate() - timedelta(days=days_ago)
    patient_services.record_observation(
        actor,
        patient,
        {
            "category": "vital-signs",
            "code_system": "http://loinc.org",
            "code": "29463-7",
            "display": "Body weight",
            "effective_at": timezone.make_aware(datetime.combine(day, time(hour))),
            "value": pounds,
            "unit": "[lb_av]",
        },
    )


def weight_goal(actor, plan, **extra):
    return services.add_goal(
        actor,
        plan,
        {
            "patient_words": "Keep my ankles from swelling",
            "description": "Weight within 2 lb of dry weight (165 lb)",
            "measure": "weight",
            "target_low": 163,
            "target_high": 167,
            **extra,
        },
    )


def test_a_plan_starts_as_a_draft_of_the_current_episode_with_revision_one(world, plan):
    assert plan.status == CarePlan.Status.DRAFT
    assert plan.episode == world.patient.episodes.get()
    assert plan.revision == 1
    first = plan.revisions.get()
    assert first.summary == "Plan started" and first.author == world.cm
    soc = plan.episode.start_of_care
    assert plan.review_due == soc + timedelta(days=55)
    assert AuditEvent.objects.filter(action="careplan.create", patient_id=world.patient.pk)


def test_one_plan_per_episode(world, actor, plan):
    with pytest.raises(ValidationError) as error:
        services.start_plan(actor, world.patient)
    assert "episode" in error.value.message_dict


def test_a_problem_linked_to_a_condition_takes_its_words_and_code(world, actor, plan):
    condition = patient_services.add_condition(
        actor,
        world.patient,
        {
            "display": "Heart failure (disorder)",
            "code_system": "http://snomed.info/sct",
            "code": "84114007",
        },
    )
    problem = services.add_problem(actor, plan, {"condition": condition.pk, "text": ""})
    assert (problem.text, problem.source, problem.code) == (
        "Heart failure",
        "condition",
        "84114007",
    )


def test_a_problem_cannot_link_another_patients_condition(world, actor, plan):
    other = patient_services.add_condition(
        audit.Actor(user=world.outsider), world.outsider_patient, {"display": "Diabetes"}
    )
    with pytest.raises(ValidationError) as error:
        services.add_problem(actor, plan, {"condition": other.pk, "text": "x"})
    assert "condition" in error.value.message_dict


def test_a_goal_turns_worsening_when_a_new_weight_moves_away_from_the_target(world, actor, plan):
    for pounds, days_ago in ((168, 9), (168, 6), (167.5, 3)):
        weigh(actor, world.patient, pounds, days_ago)
    goal = weight_goal(actor, plan)
    assert goal.achievement == "improving"
    weigh(actor, world.patient, 171, 0)
    goal.refresh_from_db()
    assert goal.achievement == "worsening"
    assert "4 lb from the target" in goal.achievement_rule
    assert AuditEvent.objects.filter(action="careplan.goal.evaluate", object_id=str(goal.pk))


def test_three_of_four_weights_within_target_is_achieved_with_the_rule_in_words(world, actor, plan):
    goal = weight_goal(actor, plan)
    for pounds, days_ago in ((170, 9), (166, 6), (165, 3), (164, 0)):
        weigh(actor, world.patient, pounds, days_ago)
    goal.refresh_from_db()
    assert goal.achievement == "achieved"
    assert goal.achievement_rule == "3 of the last 4 weights within 163 to 167 lb."


def test_an_override_holds_until_a_reading_of_a_later_day(world, actor, plan):
    weigh(actor, world.patient, 171, 3)
    weigh(actor, world.patient, 170, 2)
    goal = weight_goal(actor, plan)
    goal = services.override_achievement(
        actor, goal, "no-change", "Scale was recalibrated", goal.version
    )
    assert goal.shown_achievement == "no-change"
    assert plan.revisions.last().summary.startswith("Goal status set to no change")
    weigh(actor, world.patient, 172, 0)  # the same day: the override stands
    goal.refresh_from_db()
    assert goal.shown_achievement == "no-change"
    weigh(actor, world.patient, 173, -1)
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert services.recompute_goals_for(actor, {world.patient.pk}, tomorrow) == 1
    goal.refresh_from_db()
    assert goal.override == "" and goal.shown_achievement == "worsening"


def test_an_override_needs_a_reason(actor, plan):
    goal = weight_goal(actor, plan)
    with pytest.raises(ValidationError) as error:
        services.override_achievement(actor, goal, "achieved", " ", goal.version)
    assert "reason" in error.value.message_dict


def test_a_task_goal_is_achieved_when_its_task_is_done(world, actor, plan):
    task = patient_services.add_task(
        actor, world.patient, {"title": "Order a shower chair", "assigned_to": world.cm.pk}
    )
    goal = services.add_goal(
        actor, plan, {"description": "Shower chair in place", "measure": "task", "task": task.pk}
    )
    assert goal.achievement == "in-progress"
    patient_services.complete_task(actor, task, "Delivered by the supplier", task.version)
    goal.refresh_from_db()
    assert goal.achievement == "achieved"


def test_a_target_needs_a_value_named_in_the_message(actor, plan):
    with pytest.raises(ValidationError) as error:
        services.add_goal(actor, plan, {"description": "Lower pressure", "measure": "systolic"})
    assert "target_high" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.add_goal(
            actor,
            plan,
            {"description": "x", "measure": "systolic", "target_low": 150, "target_high": 140},
        )
    assert "target_low" in error.value.message_dict


def test_two_people_changing_one_goal_get_a_conflict_not_a_lost_change(world, actor, plan):
    goal = weight_goal(actor, plan)
    services.update_goal(actor, goal, {"due_date": timezone.localdate()}, goal.version)
    with pytest.raises(VersionConflict):
        services.update_goal(
            audit.Actor(user=world.rn), goal, {"description": "Other words"}, goal.version
        )
    goal.refresh_from_db()
    assert goal.description.startswith("Weight within")


def test_frequencies_are_normalized_and_errors_name_the_part(actor, plan):
    row = services.set_frequency(actor, plan, {"discipline": "RN", "frequency": "3W1,2w4"})
    assert row.frequency == "3w1, 2w4"
    assert row.end_date == row.start_date + timedelta(days=34)
    with pytest.raises(ValidationError) as error:
        services.set_frequency(actor, plan, {"discipline": "PT", "frequency": "2w3, 9x"})
    assert "9x" in error.value.message_dict["frequency"][0]
    with pytest.raises(ValidationError) as error:
        services.set_frequency(actor, plan, {"discipline": "RN", "frequency": "1w2"})
    assert "discipline" in error.value.message_dict


def test_a_caregiver_given_an_intervention_joins_the_team(world, actor, plan):
    daughter = patient_services.add_contact(
        actor, world.patient, {"name": "Ruth Hale", "relationship": "child"}
    )
    row = services.add_intervention(
        actor,
        plan,
        {
            "kind": "perform",
            "text": "Weigh each morning and write it down",
            "caregiver": daughter.pk,
        },
    )
    member = CareTeamMember.objects.get(episode=plan.episode, related_person=daughter)
    assert member.role == "caregiver"
    assert revisions.who_of(row) == "Ruth Hale (son or daughter)"


def test_an_intervention_raises_a_task_on_the_case_managers_list(world, actor, plan):
    row = services.add_intervention(
        actor, plan, {"kind": "coordinate", "text": "Call cardiology", "discipline": "RN"}
    )
    task = services.raise_intervention_task(actor, row)
    assert task.assigned_to == world.cm and task.status == Task.Status.OPEN
    assert task.title == "Coordinate: Call cardiology"
    assert task.source == f"careplan.intervention:{row.pk}"


def test_revisions_are_whole_and_differences_say_what_changed(world, actor, plan):
    goal = weight_goal(actor, plan)
    services.update_goal(
        actor, goal, {"target_high": 168}, goal.version, reason="Cardiology's new dry weight"
    )
    *_, older, newer = CarePlanRevision.objects.filter(plan=plan).order_by("number")
    assert newer.reason == "Cardiology's new dry weight" and newer.author == world.cm
    changes = revisions.differences(older.content, newer.content)
    assert [(c.what, c.how) for c in changes] == [("Goal", "changed")]
    (field,) = changes[0].fields
    assert field.label == "Target"
    assert (field.before, field.after) == (
        "Body weight: 163 to 167 lb",
        "Body weight: 163 to 168 lb",
    )
    first = plan.revisions.first()
    added = revisions.differences(first.content, newer.content)
    assert [(c.what, c.how, c.name) for c in added] == [
        ("Goal", "added", "Weight within 2 lb of dry weight (165 lb)")
    ]


def test_putting_a_plan_in_effect_activates_its_proposed_goals(actor, plan):
    goal = weight_goal(actor, plan)
    assert goal.lifecycle_status == Goal.Lifecycle.PROPOSED
    services.update_plan(actor, plan, {"status": "active"}, plan.version)
    goal.refresh_from_db()
    assert goal.lifecycle_status == Goal.Lifecycle.ACTIVE


def test_a_completed_plan_is_not_revised(actor, plan):
    services.update_plan(actor, plan, {"status": "completed"}, plan.version)
    plan.refresh_from_db()
    with pytest.raises(ValidationError) as error:
        weight_goal(actor, plan)
    assert "plan" in error.value.message_dict


def test_the_nightly_recompute_marks_a_goal_past_its_due_date_not_achieved(world, actor, plan):
    from careway.careplans import tasks

    weigh(actor, world.patient, 171, 1)
    goal = weight_goal(actor, plan, due_date=timezone.localdate() + timedelta(days=3))
    assert goal.achievement == "in-progress"
    done = tasks.recompute_agency(world.org.pk, today=timezone.localdate() + timedelta(days=4))
    goal.refresh_from_db()
    assert (done.patients, done.goals_changed) == (1, 1)
    assert goal.achievement == "not-achieved"
    assert goal.achievement_rule.startswith("Due ")
    event = AuditEvent.objects.get(action="careplan.goal.evaluate", object_id=str(goal.pk))
    assert event.actor_id is None and event.detail["to"] == "not-achieved"


def test_of_two_readings_on_one_day_the_later_one_is_the_latest(world, actor, plan):
    weigh(actor, world.patient, 168, 6)
    weigh(actor, world.patient, 167.5, 3)
    weigh(actor, world.patient, 172, 1, hour=18)  # recorded first, taken last
    weigh(actor, world.patient, 166, 1, hour=8)
    goal = weight_goal(actor, plan)
    assert goal.achievement == "worsening"
    assert goal.achievement_rule.startswith("Latest weight 5 lb from the target")


@pytest.mark.parametrize(
    "counts, field",
    [({"needed": 5, "window": 4}, "needed"), ({"needed": 5}, "needed"), ({"window": 2}, "window")],
)
def test_readings_needed_above_those_counted_are_refused_whichever_is_left_to_the_measure(
    world, actor, plan, counts, field
):
    # The weight measure needs 3 of the last 4 readings unless the goal says otherwise.
    with pytest.raises(ValidationError) as error:
        weight_goal(actor, plan, **counts)
    assert list(error.value.message_dict) == [field]

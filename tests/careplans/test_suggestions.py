"""Suggestions from the chart: proposed with their reasons, accepted into the plan (edited first
or not), rejected with a reason until the evidence changes, and preventive care gaps."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from careway.assessments import catalog
from careway.assessments import services as assessment_services
from careway.assessments.questionnaires import response_items
from careway.careplans import services
from careway.careplans.models import CarePlan, Goal, Intervention, Problem, Suggestion
from careway.core import audit
from careway.core.models import AuditEvent
from careway.patients import services as patient_services
from tests.assessments import fill

MAHC = catalog.shipped_by_id("mahc-10")
STEADI = catalog.shipped_by_id("steadi-home-safety")
SNOMED = "http://snomed.info/sct"
CVX = "http://hl7.org/fhir/sid/cvx"


@pytest.fixture(autouse=True)
def _agency_days(world):
    with timezone.override(ZoneInfo(world.org.timezone)):
        yield


@pytest.fixture
def actor(world):
    return audit.Actor(user=world.cm)


def heart_failure(actor, patient):
    return patient_services.add_condition(
        actor,
        patient,
        {"code_system": SNOMED, "code": "84114007", "display": "Heart failure (disorder)"},
    )


def at(days_ago: int):
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(10)))


def file_mahc(actor, patient, yes: int, days_ago: int = 0):
    """A MAHC-10 filed with `yes` risk factors answered yes (its total)."""
    answers = {
        item["linkId"]: [fill.answer_for(item, 1 if index < yes else 0)]
        for index, item in enumerate(fill.items_of(MAHC))
    }
    items = response_items(MAHC, answers)
    return assessment_services.record_response(actor, patient, MAHC["url"], items, at(days_ago))


def open_rows(patient, template=None):
    rows = Suggestion.objects.filter(patient=patient, status="open")
    return rows.filter(template=template) if template else rows


def test_a_condition_on_the_chart_brings_its_templates_rows_with_the_reason(world, actor):
    assert not open_rows(world.patient).filter(preventive=False).exists()
    heart_failure(actor, world.patient)
    rows = list(open_rows(world.patient, "heart-failure"))
    assert {r.kind for r in rows} == {"problem", "goal", "intervention"}
    assert all("Heart failure (SNOMED CT 84114007) is on the chart" in r.reasons for r in rows), (
        rows[0].reasons
    )
    assert (
        AuditEvent.objects.filter(
            action="careplan.suggestion.create", patient_id=world.patient.pk
        ).count()
        == Suggestion.objects.filter(patient=world.patient).count()
    )
    # Nothing entered the plan.
    assert not CarePlan.objects.filter(patient=world.patient).exists()


def test_a_score_at_its_cut_point_suggests_with_the_score_value_and_day(world, actor):
    file_mahc(actor, world.patient, yes=3, days_ago=1)
    assert not open_rows(world.patient, "fall-risk").exists()
    file_mahc(actor, world.patient, yes=6)
    row = open_rows(world.patient, "fall-risk").filter(kind="problem").get()
    day = timezone.localdate().isoformat()
    assert f"MAHC-10 total is 6, at or above 4, on {day}" in row.reasons


def test_a_rejected_suggestion_stays_rejected_until_its_evidence_changes(world, actor):
    file_mahc(actor, world.patient, yes=5, days_ago=3)
    row = open_rows(world.patient, "fall-risk").filter(kind="problem").get()
    with pytest.raises(ValidationError) as error:
        services.reject_suggestion(actor, row, "  ")
    assert "reason" in error.value.message_dict
    services.reject_suggestion(actor, row, "Falls are managed by her PT program already")
    # The same evidence again (another listener run, a night's refresh): still rejected.
    services.refresh_suggestions(actor, [world.patient.pk])
    row.refresh_from_db()
    assert row.status == "rejected" and row.decision_reason.startswith("Falls are managed")
    assert AuditEvent.objects.filter(action="careplan.suggestion.reject", reason__contains="PT")
    # A new score: it comes back, saying what changed.
    file_mahc(actor, world.patient, yes=8)
    row.refresh_from_db()
    assert row.status == "open"
    today = timezone.localdate().isoformat()
    assert f"now: MAHC-10 total is 8, at or above 4, on {today}" in row.what_changed
    assert "no longer: MAHC-10 total is 5" in row.what_changed
    assert "Falls are managed by her PT program already" in row.what_changed
    assert AuditEvent.objects.filter(action="careplan.suggestion.revive", patient_id=row.patient_id)


def test_accepting_a_goal_starts_the_plan_and_brings_its_problem_in_the_patients_words(
    world, actor
):
    heart_failure(actor, world.patient)
    goal_row = open_rows(world.patient, "heart-failure").filter(kind="goal").first()
    made = services.accept_suggestion(
        actor,
        goal_row,
        {"patient_words": "Stay out of the hospital for my granddaughter's wedding"},
    )
    assert isinstance(made, Goal)
    assert made.patient_words == "Stay out of the hospital for my granddaughter's wedding"
    assert made.description == goal_row.text
    plan = CarePlan.objects.get(patient=world.patient)
    assert plan.status == "draft" and made.plan_id == plan.pk
    problem = Problem.objects.get(plan=plan)
    assert made.problem_id == problem.pk
    assert (problem.code_system, problem.code) != ("", "")
    goal_row.refresh_from_db()
    assert (goal_row.status, goal_row.accepted_as) == ("accepted", str(made.pk))
    problem_row = open_rows(world.patient, "heart-failure").filter(kind="problem").first()
    assert problem_row is None  # accepted with the goal
    assert Suggestion.objects.get(
        patient=world.patient, template="heart-failure", kind="problem"
    ).accepted_as == str(problem.pk)
    assert plan.revisions.filter(reason__contains="Heart failure (SNOMED CT 84114007)").exists()
    assert AuditEvent.objects.filter(action="careplan.suggestion.accept").count() == 2


def test_an_accepted_intervention_joins_its_problem_and_goal_and_is_not_suggested_again(
    world, actor
):
    heart_failure(actor, world.patient)
    rows = open_rows(world.patient, "heart-failure")
    from careway.careplans.plan_templates import shipped

    template = shipped()["heart-failure"]
    with_goal = next(i for i in template.of_kind("intervention") if i.goal)
    goal_suggestion = rows.get(item=with_goal.goal)
    goal = services.accept_suggestion(actor, goal_suggestion)
    intervention = services.accept_suggestion(
        actor, rows.get(item=with_goal.key), {"discipline": "LPN"}
    )
    assert isinstance(intervention, Intervention)
    assert (intervention.goal_id, intervention.problem_id) == (goal.pk, goal.problem_id)
    assert intervention.discipline == "LPN"
    services.refresh_suggestions(actor, [world.patient.pk])
    assert Intervention.objects.filter(plan=goal.plan).count() == 1
    assert Suggestion.objects.get(item=with_goal.key, patient=world.patient).status == "accepted"
    with pytest.raises(ValidationError):
        services.accept_suggestion(actor, Suggestion.objects.get(item=with_goal.key))


def test_an_edit_that_breaks_a_rule_is_refused_with_the_field_named(world, actor):
    heart_failure(actor, world.patient)
    goal_row = open_rows(world.patient, "heart-failure").filter(kind="goal").first()
    with pytest.raises(ValidationError) as error:
        services.accept_suggestion(actor, goal_row, {"measure": "weight"})
    assert "measure" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.accept_suggestion(
            actor, goal_row, {"due_date": timezone.localdate() - timedelta(days=400)}
        )
    assert "due_date" in error.value.message_dict
    goal_row.refresh_from_db()
    assert goal_row.status == "open"
    assert not CarePlan.objects.filter(patient=world.patient).exists()


def test_suggestions_the_chart_no_longer_supports_lapse_and_come_back_with_it(world, actor):
    condition = heart_failure(actor, world.patient)
    assert open_rows(world.patient, "heart-failure").exists()
    patient_services.change_record_status(
        actor, condition, "entered-in-error", condition.version, reason="Wrong patient"
    )
    assert not open_rows(world.patient, "heart-failure").exists()
    assert Suggestion.objects.filter(template="heart-failure", status="lapsed").exists()
    assert AuditEvent.objects.filter(action="careplan.suggestion.lapse")
    heart_failure(actor, world.patient)
    assert open_rows(world.patient, "heart-failure").exists()


def test_each_steadi_hazard_is_suggested_with_its_own_fix(world, actor):
    hazards = ("floor-rugs", "bedroom-lamp")
    answers = {
        item["linkId"]: [fill.answer_for(item, 1 if item["linkId"] in hazards else 0)]
        for item in fill.items_of(STEADI)
    }
    items = response_items(STEADI, answers)
    assessment_services.record_response(actor, world.patient, STEADI["url"], items, at(0))
    fixes = open_rows(world.patient, "fall-risk").filter(item__startswith="fall-home-fix:")
    assert {r.item for r in fixes} == {"fall-home-fix:floor-rugs", "fall-home-fix:bedroom-lamp"}
    assert all(r.text and "{fix}" not in r.text for r in fixes)
    assert len({r.text for r in fixes}) == 2
    rugs = fixes.get(item="fall-home-fix:floor-rugs")
    assert any("rug" in reason.lower() for reason in rugs.reasons)


def test_a_preventive_gap_opens_for_an_older_adult_with_the_recommendation(world, actor):
    patient = world.patient
    assert patient.age >= 65
    services.refresh_suggestions(actor, [patient.pk])
    flu = open_rows(patient).get(item="flu-vaccine")
    assert flu.preventive and "CDC adult immunization schedule" in flu.recommendation
    season = timezone.localdate().year if timezone.localdate().month >= 8 else None
    assert any(
        r.startswith("No influenza vaccine this season") and (not season or str(season) in r)
        for r in flu.reasons
    ), flu.reasons
    assert any(r.startswith("Age ") for r in flu.reasons)
    # Accepting it puts the vaccine on the plan as an intervention under "preventive care".
    made = services.accept_suggestion(actor, flu)
    assert isinstance(made, Intervention) and made.problem.text


def test_a_patient_without_an_open_episode_gets_no_suggestions(world, actor):
    from careway.patients.models import EpisodeOfCare

    EpisodeOfCare.objects.filter(patient=world.patient).update(status="discharged")
    heart_failure(actor, world.patient)
    assert services.refresh_suggestions(actor, [world.patient.pk]) == 0
    assert not Suggestion.objects.filter(patient=world.patient).exists()


def test_the_nightly_refresh_covers_every_patient_in_care_and_a_second_night_changes_nothing(
    world, actor
):
    from io import StringIO

    from django.core.management import call_command

    from careway.careplans import tasks
    from careway.patients.models import EpisodeOfCare
    from tests.factories import make_patient

    make_patient(world.branch, world.cm, mrn="MRN-NIGHT")
    first = tasks.refresh_agency(world.org.pk, chunk=1)
    in_care = (
        EpisodeOfCare.objects.filter(organization=world.org, status__in=services.OPEN_EPISODE)
        .values("patient_id")
        .distinct()
        .count()
    )
    assert first.patients == in_care == 2
    assert tasks.refresh_agency(world.org.pk).changed == 0
    out = StringIO()
    call_command("refresh_suggestions", agency=world.org.slug, stdout=out)
    assert "2 patients in care" in out.getvalue()
    assert Suggestion.objects.filter(item="flu-vaccine", status="open").count() == 2

import pytest
from django.core.management import call_command
from django.db.models import Count, Q

from careway.core import audit
from careway.core.models import AuditEvent, Membership
from careway.core.roles import Role
from careway.demo import bulk
from careway.patients import access
from careway.patients.models import (
    CareTeamMember,
    Condition,
    Coverage,
    EpisodeOfCare,
    Medication,
    Observation,
    Patient,
    RelatedPerson,
)

pytestmark = pytest.mark.django_db


def _per_patient(model, org):
    counts = model.objects.filter(organization=org).values("patient").annotate(n=Count("id"))
    return {row["n"] for row in counts}


def test_builds_300_patients_with_50_observations_each_and_shows_progress(bench):
    org, out = bench
    assert org.is_demo
    assert Patient.objects.filter(organization=org).count() == 300
    vitals = Observation.objects.filter(organization=org, category="vital-signs").exclude(
        code="72514-3"
    )
    assert {row["n"] for row in vitals.values("patient").annotate(n=Count("id"))} == {50}
    assert "patients 300/300 (100%)" in out
    assert "300 patients in" in out


def test_every_patient_has_an_episode_team_conditions_medications_contacts(bench):
    org, _ = bench
    assert EpisodeOfCare.objects.filter(organization=org).count() == 300
    primaries = CareTeamMember.objects.filter(organization=org, is_primary_case_manager=True)
    assert primaries.count() == 300
    assert _per_patient(Condition, org) <= {2, 3, 4}
    assert _per_patient(Medication, org) <= set(range(3, 9))
    assert min(_per_patient(RelatedPerson, org)) >= 1
    assert min(_per_patient(Coverage, org)) >= 1
    assert Condition.objects.filter(organization=org, is_primary=True).count() == 300


def test_case_managers_carry_about_sixty_patients_and_see_them(bench):
    org, _ = bench
    managers = Membership.objects.filter(organization=org, role=Role.CASE_MANAGER)
    assert managers.count() >= 300 / bulk.PATIENTS_PER_CASE_MANAGER
    loads = (
        CareTeamMember.objects.filter(organization=org, is_primary_case_manager=True)
        .values("user")
        .annotate(n=Count("id"))
    )
    assert max(row["n"] for row in loads) <= bulk.PATIENTS_PER_CASE_MANAGER
    manager = managers.first().user
    visible = access.visible_patients(manager)
    assert visible.count() == next(r["n"] for r in loads if r["user"] == manager.pk)


def test_one_audit_event_per_patient_and_the_chain_verifies(bench):
    org, _ = bench
    created = AuditEvent.objects.filter(chain_id=org.pk, action="patient.create")
    patient_ids = set(Patient.objects.filter(organization=org).values_list("id", flat=True))
    assert set(created.values_list("patient_id", flat=True)) == patient_ids
    assert created.count() == 300
    checked, broken = audit.verify_all()
    assert checked > 300 and broken == []


def test_running_again_leaves_the_agency_untouched(bench, capsys):
    before = Observation.objects.count(), AuditEvent.objects.count()
    call_command("demo", patients=300)
    assert (Observation.objects.count(), AuditEvent.objects.count()) == before
    assert "already exists" in capsys.readouterr().out


def test_each_blood_pressure_is_one_panel_of_systolic_and_diastolic(bench):
    org, _ = bench
    pressures = Observation.objects.filter(organization=org, code__in=["8480-6", "8462-4"])
    per_panel = pressures.values("panel_id")
    panels = per_panel.annotate(n=Count("id"), codes=Count("code", distinct=True))
    assert not pressures.filter(panel_id__isnull=True).exists()
    assert {(row["n"], row["codes"]) for row in panels} == {(2, 2)}
    assert set(pressures.values_list("panel_code", flat=True)) == {"85354-9"}
    others = Observation.objects.filter(organization=org).exclude(code__in=["8480-6", "8462-4"])
    assert others.filter(code="72514-3").exists()  # pain scores the care plans' goals follow
    assert not others.filter(panel_id__isnull=False).exists()


# --- care plans ---------------------------------------------------------------------------------


def test_every_patient_has_a_plan_with_3_to_6_goals_5_to_10_interventions_2_or_3_disciplines(
    bench,
):
    from careway.careplans.models import CarePlan, DisciplineFrequency, Goal, Intervention

    org, out = bench
    assert CarePlan.objects.filter(organization=org).count() == 300
    assert _per_patient(Goal, org) <= set(range(3, 7))
    assert _per_patient(Intervention, org) <= set(range(5, 11))
    assert _per_patient(DisciplineFrequency, org) <= {2, 3}
    assert set(Intervention.objects.values_list("kind", flat=True)) == set(Intervention.Kind)
    assert "of which care plans" in out


def test_bulk_goal_statuses_vary_and_are_what_the_services_compute(bench):
    """The loader works statuses out in memory; the services, reading the chart, agree."""
    from django.db import transaction

    from careway.careplans import services
    from careway.careplans.models import Goal

    org, _ = bench
    statuses = set(Goal.objects.filter(organization=org).values_list("achievement", flat=True))
    assert {"improving", "worsening", "achieved", "in-progress"} <= statuses
    patients = list(Patient.objects.filter(organization=org).values_list("id", flat=True))
    with transaction.atomic():
        actor = audit.Actor.system(via="task", organization_id=org.pk)
        assert services.recompute_goals_for(actor, patients) == 0
        transaction.set_rollback(True)


def test_bulk_revision_holds_the_plan_as_the_services_would_keep_it(bench):
    from careway.careplans import revisions
    from careway.careplans.models import CarePlan

    org, _ = bench
    for plan in CarePlan.objects.filter(organization=org)[:60]:
        revision = plan.revisions.get()
        assert revision.number == plan.revision == 1
        assert revision.content == revisions.content_of(plan)


def test_caregivers_carrying_an_intervention_are_on_the_team_and_each_plan_is_audited(bench):
    from careway.careplans.models import CarePlan, Intervention

    org, _ = bench
    carried = Intervention.objects.filter(organization=org, caregiver__isnull=False)
    assert carried.exists()
    for intervention in carried[:50]:
        assert CareTeamMember.objects.filter(
            episode_id=intervention.plan.episode_id,
            related_person_id=intervention.caregiver_id,
            role="caregiver",
        ).exists()
    created = AuditEvent.objects.filter(chain_id=org.pk, action="careplan.create")
    plans = set(CarePlan.objects.filter(organization=org).values_list("patient_id", flat=True))
    assert set(created.values_list("patient_id", flat=True)) == plans


# --- assessments and preventive history ---------------------------------------------------------
# Shares are of the 300 patients; each bound lies about three standard deviations either side of
# the share the loader aims at (it is seeded: a run always finds the same).

QUESTIONNAIRE = "urn:careway:fhir:Questionnaire:"
STEADI_HAZARDS = {
    "floor-furniture", "floor-rugs", "floor-clutter", "floor-cords", "stairs-clutter",
    "stairs-broken", "stairs-no-light", "stairs-one-switch", "stairs-bulb", "stairs-carpet",
    "stairs-rails", "kitchen-high", "kitchen-stool", "bedroom-lamp", "bedroom-dark",
    "bath-slippery", "bath-support",
}  # fmt: skip


def _scored(org, instrument: str, key: str = "total", **value) -> set:
    """The patients with a current score of the instrument (within `value`'s bounds)."""
    from careway.assessments.models import Score

    scores = Score.objects.filter(
        organization=org,
        questionnaire_url=QUESTIONNAIRE + instrument,
        key=key,
        current=True,
        **value,
    )
    return set(scores.values_list("patient_id", flat=True))


def _share(patients) -> float:
    return len(set(patients)) / 300


def _agency_today():
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    return timezone.localdate(timezone=ZoneInfo(bulk.BENCH_TIMEZONE))


def test_every_patient_has_one_signed_start_of_care_assessment_by_their_case_manager(bench):
    from zoneinfo import ZoneInfo

    from careway.assessments.models import Assessment

    org, out = bench
    assessments = Assessment.objects.filter(organization=org).select_related("episode")
    assert assessments.count() == 300
    assert set(assessments.values_list("status", "time_point", "template")) == {
        ("signed", "start-of-care", "comprehensive")
    }
    managers = dict(
        CareTeamMember.objects.filter(organization=org, is_primary_case_manager=True).values_list(
            "episode_id", "user_id"
        )
    )
    zone = ZoneInfo(bulk.BENCH_TIMEZONE)
    for assessment in assessments:
        assert assessment.visit_date == assessment.episode.start_of_care
        assert assessment.signed_at.astimezone(zone).date() == assessment.visit_date
        assert assessment.signed_by_id == managers[assessment.episode_id]
    signed = AuditEvent.objects.filter(chain_id=org.pk, action="assessment.sign")
    assert sorted(signed.values_list("object_id", flat=True)) == sorted(
        str(pk) for pk in assessments.values_list("id", flat=True)
    )
    for label in ("assessments.Score", "patients.Immunization", "(assessment.sign)"):
        assert label in out


def test_each_patient_is_scored_on_what_a_start_of_care_scores(bench):
    from careway.assessments.models import Response, Score

    org, _ = bench
    for instrument in ("katz-adl", "phq-2", "mahc-10", "braden-scale", "pain-nrs"):
        assert len(_scored(org, instrument)) == 300, instrument
    assert len(_scored(org, "ahc-hrsn", key="safety")) == 300
    assert len(_scored(org, "steadi-home-safety", key="hazards")) == 300
    assert 0.15 <= _share(_scored(org, "mcsi")) <= 0.55  # some of the caregivers
    assert _scored(org, "phq-9") >= _scored(org, "phq-2", value__gte=3)  # positive screens
    ranges = set(Score.objects.filter(organization=org).values_list("key", "minimum", "maximum"))
    assert {("total", 0, 10), ("total", 6, 23), ("total", 0, 27), ("total", 0, 6)} <= ranges
    # Each questionnaire answered has its response, in its section; by default without answers.
    responses = Response.objects.filter(organization=org)
    assert responses.count() == Score.objects.filter(organization=org).count() + 300
    assert ("falls", QUESTIONNAIRE + "mahc-10") in set(
        responses.values_list("section", "questionnaire_url")
    )
    assert all(items == [] for items in responses.values_list("items", flat=True))


def test_scores_and_findings_come_at_the_shares_asked_for(bench):
    from careway.assessments.models import Finding

    org, _ = bench
    at_risk = _scored(org, "mahc-10", value__gte=4)
    assert 0.30 <= _share(at_risk) <= 0.52
    assert 0.10 <= _share(_scored(org, "phq-9", value__gte=10)) <= 0.26
    assert 0.12 <= _share(_scored(org, "braden-scale", value__lte=18)) <= 0.28
    findings = Finding.objects.filter(organization=org)

    def found(kind: str) -> set:
        return set(findings.filter(kind=kind).values_list("patient_id", flat=True))

    assert found("high-fall-risk") == at_risk
    assert found("pressure-injury-risk") == _scored(org, "braden-scale", value__lte=18)
    assert 0.06 <= _share(found("food-insecurity")) <= 0.19
    assert 0.003 <= _share(found("self-harm-risk")) <= 0.03
    assert 0.35 <= _share(found("home-hazard")) <= 0.65
    assert 0.10 <= _share(found("caregiver-support")) <= 0.40
    hazards = findings.filter(kind="home-hazard")
    assert set(hazards.values_list("source", flat=True)) <= STEADI_HAZARDS
    assert not hazards.filter(fix="").exists()  # each STEADI hazard comes with its fix
    harm = findings.filter(kind="self-harm-risk")
    assert set(harm.values_list("severity", "source")) == {("urgent", "9")}


def test_findings_raise_one_flag_per_kind_and_urgent_ones_a_task_for_the_case_manager(bench):
    from django.db.models import F

    from careway.assessments.models import Finding
    from careway.patients.models import PatientFlag, Task

    org, _ = bench
    flags = PatientFlag.objects.filter(organization=org)
    kinds = flags.values("patient", "kind").annotate(n=Count("id"))
    assert {row["n"] for row in kinds} == {1}
    assert set(flags.values_list("active", flat=True)) == {True}
    findings = Finding.objects.filter(organization=org)
    assert not findings.filter(flag__isnull=True).exists()
    assert not findings.exclude(flag__kind=F("kind")).exists()
    assert not findings.exclude(flag__patient=F("patient")).exists()
    sources = dict(flags.values_list("kind", "category").distinct())
    assert sources["high-fall-risk"] == "High fall risk"
    titles = dict(flags.values_list("kind", "source").distinct())
    assert titles["high-fall-risk"].startswith("MAHC-10")
    assert titles["food-insecurity"].startswith("AHC Health-Related Social Needs")
    assert titles["home-hazard"].startswith("Check for Safety")
    urgent = findings.filter(severity="urgent")
    assert urgent.exists()
    for finding in urgent:
        task = Task.objects.get(
            patient=finding.patient, source=f"assessment:{finding.assessment_id}:{finding.kind}"
        )
        assert (task.priority, task.title, task.status) == ("urgent", finding.label[:200], "done")
        assert task.assigned_to_id == finding.assessment.signed_by_id


def test_the_pain_score_is_the_charts_pain_reading_of_the_visit(bench):
    from careway.assessments.models import Score

    org, _ = bench
    pain = Score.objects.filter(organization=org, questionnaire_url=QUESTIONNAIRE + "pain-nrs")
    readings = set(
        Observation.objects.filter(organization=org, code="72514-3").values_list(
            "patient_id", "effective_at", "value"
        )
    )
    assert set(pain.values_list("patient_id", "observed_at", "value")) <= readings


def test_charts_show_vaccines_at_the_shares_asked_for(bench):
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from django.db.models import Count as Counted
    from django.utils import timezone

    from careway.demo import bulk_preventive
    from careway.patients.models import Immunization

    org, _ = bench
    today = _agency_today()
    zone = ZoneInfo(bulk.BENCH_TIMEZONE)
    season = datetime.combine(bulk_preventive.season_start(today), time(0), zone)
    given = Immunization.objects.filter(organization=org)
    assert set(given.values_list("code_system", "status")) == {
        ("http://hl7.org/fhir/sid/cvx", "completed")
    }
    assert set(given.values_list("code", flat=True)) <= set(bulk_preventive.VACCINES)
    assert not given.filter(occurred_at__gt=timezone.now()).exists()

    def patients(**where) -> set:
        return set(given.filter(**where).values_list("patient_id", flat=True))

    flu = patients(code__in=["140", "150", "197"], occurred_at__gte=season)
    assert 0.60 <= _share(flu) <= 0.80
    assert patients(code__in=["140", "150", "197"], occurred_at__lt=season)  # seasons before
    complete = patients(code="216") | (patients(code="133") & patients(code="33"))
    assert 0.60 <= _share(complete) <= 0.80
    zoster = given.filter(code="187").values("patient").annotate(n=Counted("id"))
    assert {row["n"] for row in zoster} == {1, 2}
    assert 0.30 <= _share(row["patient"] for row in zoster if row["n"] == 2) <= 0.50
    covid = [str(code) for code in range(300, 314)]
    others = {"140", "150", "197", "216", "133", "33", "187", "113", "115"}
    assert set(given.values_list("code", flat=True)) - others <= set(covid)
    assert 0.35 <= _share(patients(code__in=covid, occurred_at__gte=season)) <= 0.55
    ten_years = datetime.combine(today - timedelta(days=3652), time(0), zone)
    assert 0.50 <= _share(patients(code__in=["113", "115"], occurred_at__gte=ten_years)) <= 0.70


def test_charts_show_colonoscopies_and_a1c_results_at_the_shares_asked_for(bench):
    from datetime import timedelta

    from django.db.models import Max

    from careway.demo import bulk_preventive, content
    from careway.patients.models import Procedure

    org, _ = bench
    today = _agency_today()
    ages = {
        pk: today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        for pk, born in Patient.objects.filter(organization=org).values_list("id", "birth_date")
    }
    due = {pk for pk, age in ages.items() if 45 <= age <= 75}
    assert len(due) > 40
    done = Procedure.objects.filter(
        organization=org, code_system="http://snomed.info/sct", code="73761001"
    )
    recent = done.filter(performed_start__date__gte=today - timedelta(days=3652))
    assert 0.45 <= len(due & set(recent.values_list("patient_id", flat=True))) / len(due) <= 0.75
    codes = content.codes()["conditions"]
    diabetes = [codes[key]["snomed"] for key in bulk_preventive.DIABETES]
    diabetic = set(
        Condition.objects.filter(organization=org, code__in=diabetes).values_list(
            "patient_id", flat=True
        )
    )
    assert len(diabetic) > 40
    a1c = Observation.objects.filter(organization=org, code="4548-4")
    assert set(a1c.values_list("patient_id", flat=True)) <= diabetic
    assert set(a1c.values_list("category", "unit", "code_system")) == {
        ("laboratory", "%", "http://loinc.org")
    }
    last = a1c.values("patient_id").annotate(last=Max("effective_at"))
    lately = {row["patient_id"] for row in last if row["last"].date() >= today - timedelta(183)}
    assert 0.60 <= len(lately) / len(diabetic) <= 0.90


def test_goals_follow_the_assessments_scores_and_the_a1c_results(bench):
    from careway.careplans.models import Goal

    org, _ = bench
    statuses = dict(
        Goal.objects.filter(organization=org, measure__in=["phq-9", "a1c"])
        .values_list("measure")
        .annotate(n=Count("achievement", filter=~Q(achievement="in-progress")))
    )
    assert statuses["phq-9"] > 0 and statuses["a1c"] > 0

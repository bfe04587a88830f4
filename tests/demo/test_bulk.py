import pytest
from django.core.management import call_command
from django.db.models import Count

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
    vitals = Observation.objects.filter(organization=org).exclude(code="72514-3")
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

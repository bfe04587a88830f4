from datetime import timedelta

import pyotp
import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.db.models import Count, Min
from django.utils import timezone

from careway.careplans.models import (
    CarePlan,
    CarePlanRevision,
    DisciplineFrequency,
    Goal,
    Intervention,
)
from careway.core import audit
from careway.core.models import AuditEvent, Membership, Organization, User
from careway.core.roles import TWO_FACTOR_REQUIRED_ROLES, Discipline, Role
from careway.demo import build, content
from careway.patients import access
from careway.patients.models import (
    ICD10CM,
    LOINC,
    RXNORM,
    SNOMED,
    Allergy,
    CareTeamMember,
    Condition,
    Coverage,
    Encounter,
    EpisodeOfCare,
    Medication,
    Observation,
    Patient,
    PatientFlag,
    RelatedPerson,
)

pytestmark = pytest.mark.django_db
ALL_MODELS = (
    Organization, User, Membership, Patient, EpisodeOfCare, CareTeamMember, RelatedPerson,
    Coverage, Condition, Medication, Allergy, Encounter, Observation, PatientFlag, AuditEvent,
    CarePlan, CarePlanRevision, Goal, Intervention,
)  # fmt: skip


def _orgs(demo):
    return [agency.organization for agency, _ in demo]


def test_builds_two_demo_agencies_with_one_branch_each(demo):
    assert [created for _, created in demo] == [True, True]
    orgs = _orgs(demo)
    assert [o.name for o in orgs] == ["Riverbend Home Health", "Cedar Valley Home Care"]
    assert all(o.is_demo and o.branches.count() == 1 for o in orgs)


def test_every_role_and_discipline_exists_in_each_agency(demo):
    for org in _orgs(demo):
        memberships = Membership.objects.filter(organization=org, active=True)
        assert {m.role for m in memberships} == set(Role.values)
        clinicians = {m.discipline for m in memberships if m.role == Role.CLINICIAN}
        assert clinicians == set(Discipline.values)
        assert memberships.filter(role=Role.CASE_MANAGER).count() == 2


def test_the_demo_password_passes_the_validators_and_signs_everyone_in(demo):
    password = content.demo_password()
    users = User.objects.filter(organization__in=_orgs(demo))
    assert users.count() == 26
    for user in users:
        validate_password(password, user)
        assert user.check_password(password)


def test_two_factor_roles_have_their_documented_confirmed_secret(demo):
    documented = {
        s["username"]: s.get("totp_secret", "") for a in content.agencies() for s in a["staff"]
    }
    for user in User.objects.filter(organization__in=_orgs(demo)):
        if user.roles & TWO_FACTOR_REQUIRED_ROLES:
            assert user.totp_secret == documented[user.username] != ""
            assert user.totp_confirmed_at is not None
            assert len(pyotp.TOTP(user.totp_secret).now()) == 6
        else:
            assert user.totp_secret == "" and user.totp_confirmed_at is None


def test_each_agency_has_twelve_patients_with_an_episode_and_a_primary_case_manager(demo):
    today = timezone.localdate()
    for org in _orgs(demo):
        patients = Patient.objects.filter(organization=org)
        assert patients.count() == 12
        for patient in patients:
            episode = patient.episodes.get()
            assert episode.referral_source and episode.referral_date
            assert today - timedelta(days=60) <= episode.start_of_care <= today
            primary = episode.care_team.get(is_primary_case_manager=True, active=True)
            assert primary.user.roles == {Role.CASE_MANAGER}
            assert 68 <= patient.age <= 95
            assert len(patient.medicare_number) == 11
        statuses = set(EpisodeOfCare.objects.filter(organization=org).values_list("status", flat=1))
        assert statuses == {"active", "discharged"}


def test_patients_have_caregivers_on_the_team_and_consent_flags(demo):
    patients = Patient.objects.filter(organization__in=_orgs(demo))
    cared_for = patients.filter(contacts__is_primary_caregiver=True).distinct()
    assert cared_for.count() >= 22  # a few live alone, with a neighbour to call
    for patient in patients:
        assert patient.contacts.filter(is_emergency_contact=True).exists()
        caregivers = patient.contacts.filter(is_primary_caregiver=True)
        on_team = patient.care_team.filter(role="caregiver").values_list("related_person", flat=1)
        assert set(on_team) == {c.pk for c in caregivers}
        roles = set(patient.care_team.values_list("role", flat=True))
        assert {"nurse", "therapist", "aide", "scheduler", "physician"} <= roles
    consent = RelatedPerson.objects.values_list("may_receive_information", flat=True)
    assert set(consent) == {True, False}


def test_languages_and_interpreters(demo):
    patients = Patient.objects.filter(organization__in=_orgs(demo))
    interpreted = set(
        patients.filter(interpreter_needed=True).values_list("preferred_language", flat=True)
    )
    assert {"es", "vi", "yue"} <= interpreted
    assert patients.exclude(gender_identity="").exists()


def test_conditions_are_coded_with_one_primary_and_medications_in_rxnorm(demo):
    for patient in Patient.objects.filter(organization__in=_orgs(demo)):
        conditions = Condition.objects.filter(patient=patient)
        assert conditions.filter(is_primary=True).count() == 1
        assert set(conditions.values_list("code_system", flat=True)) == {SNOMED}
        assert 3 <= Medication.objects.filter(patient=patient).count() <= 8
    assert Condition.objects.filter(note__contains=ICD10CM).exists()
    meds = Medication.objects.all()
    assert set(meds.values_list("code_system", flat=True)) == {RXNORM}
    assert meds.filter(status="stopped").exists() and meds.filter(as_needed=True).exists()


def test_codes_come_from_the_content_file_and_every_code_list_names_its_source(demo):
    codes = content.codes()
    sources = {s["id"] for s in codes["sources"]}
    for section in ("conditions", "medications", "allergies"):
        assert all(entry["source"] in sources for entry in codes[section].values())
    known = {c["snomed"] for c in codes["conditions"].values()}
    assert set(Condition.objects.values_list("code", flat=True)) <= known


def test_no_known_allergies_matches_the_allergy_list(demo):
    patients = Patient.objects.filter(organization__in=_orgs(demo))
    with_allergies = patients.annotate(n=Count("allergy")).filter(n__gt=0)
    assert with_allergies.exists()
    assert not with_allergies.filter(no_known_allergies=True).exists()
    assert patients.filter(no_known_allergies=True).annotate(n=Count("allergy")).filter(n=0)


def test_months_of_vital_signs_on_encounters(demo):
    today = timezone.localdate()
    for patient in Patient.objects.filter(organization__in=_orgs(demo)):
        vitals = Observation.objects.filter(patient=patient, category="vital-signs")
        assert vitals.filter(code_system=LOINC).count() == vitals.count() > 50
        first = vitals.aggregate(first=Min("effective_at"))["first"]
        assert (today - first.date()).days >= 90
        # Readings outside a visit encounter are the vital signs of a signed assessment.
        visits = set(
            patient.assessments.filter(status="signed").values_list("visit_date", flat=True)
        )
        loose = vitals.filter(encounter__isnull=True)
        assert {timezone.localdate(o.effective_at) for o in loose} <= visits
        kinds = set(patient.encounters.values_list("kind", flat=True))
        assert {"IMP", "HH"} <= kinds


def _weights(patient):
    rows = Observation.objects.filter(patient=patient, code="29463-7").order_by("effective_at")
    return list(rows.values_list("value", flat=True))


def test_heart_failure_weight_climbs_and_copd_oxygen_is_low(demo):
    hale = Patient.objects.get(family_name="Hale")
    weights = _weights(hale)
    assert weights[-1] - min(weights[:-4]) >= 4
    castillo = Patient.objects.get(family_name="Castillo")
    spo2 = Observation.objects.filter(patient=castillo, code="2708-6")
    assert max(spo2.values_list("value", flat=True)) <= 92
    assert PatientFlag.objects.filter(patient=castillo, severity="urgent").exists()
    assert PatientFlag.objects.filter(kind="high-fall-risk").count() >= 4


@pytest.mark.parametrize("level", [0.0, 0.2, 0.5, 1.0])
def test_demo_timed_up_and_go_times_are_realistic_seconds(level):
    """Older adults take about 8 to 12 s when well (Bohannon 2006); frail ones 20 s and more.
    Never half a second."""
    import random

    from careway.assessments import catalog
    from careway.demo.assessments import answers_at

    tug = catalog.shipped_by_id("tug")
    times = [
        answers_at(tug, level, random.Random(seed))["seconds"][0]["valueDecimal"]
        for seed in range(50)
    ]
    assert all(7 <= t <= 35 for t in times), times
    assert all(t == round(t, 1) for t in times)


def test_demo_timed_up_and_go_scores_are_seconds_on_both_sides_of_12(demo):
    from careway.assessments import catalog
    from careway.assessments.models import Score

    scores = list(
        Score.objects.filter(questionnaire_url=catalog.shipped_by_id("tug")["url"]).values_list(
            "value", flat=True
        )
    )
    assert scores and all(7 <= s <= 35 for s in scores), scores
    assert min(scores) < 12 <= max(scores)  # some at risk of falls, some not


def test_case_managers_see_their_own_patients_and_not_the_other_agency(demo):
    for agency, _ in demo:
        for case_manager in agency.staff_with("case_manager"):
            visible = set(access.visible_patients(case_manager))
            managed = set(
                Patient.objects.filter(
                    care_team__user=case_manager, care_team__is_primary_case_manager=True
                )
            )
            assert managed and managed <= visible
            assert {p.organization_id for p in visible} == {agency.organization.pk}


def test_everything_is_audited_on_the_agency_chain_and_the_chain_verifies(demo):
    for org in _orgs(demo):
        events = AuditEvent.objects.filter(chain_id=org.pk)
        assert events.filter(action="patient.create").count() == 12
        assert (
            events.filter(action="observation.create").count()
            == Observation.objects.filter(organization=org).count()
        )
        assert set(events.values_list("detail__via", flat=True)) == {"demo"}
    checked, broken = audit.verify_all()
    assert checked > 0 and broken == []


def test_running_again_changes_nothing_and_prints_the_sign_in_table(demo, capsys):
    before = {model.__name__: model.objects.count() for model in ALL_MODELS}
    call_command("demo")
    after = {model.__name__: model.objects.count() for model in ALL_MODELS}
    assert after == before
    out = capsys.readouterr().out
    assert "already there, left unchanged" in out
    assert "cm.rivera" in out and "MNQXEZLXMF4S2ZDFNVXS24TCFVZXK4DF" in out


def test_docs_demo_users_matches_the_content():
    from django.conf import settings

    docs = settings.BASE_DIR / "docs" / "demo-users.md"
    assert docs.read_text(encoding="utf-8") == build.sign_in_markdown()


def test_demo_blood_pressures_are_panels(demo):
    pressures = Observation.objects.filter(code__in=["8480-6", "8462-4"])
    assert pressures.exists() and not pressures.filter(panel_id__isnull=True).exists()
    per_panel = pressures.values("panel_id").annotate(n=Count("id"))
    assert {row["n"] for row in per_panel} == {2}


@pytest.mark.parametrize(
    "questionnaire_id", ["braden-scale", "phq-9", "katz-adl", "morse-fall-scale"]
)
def test_a_demo_patient_who_is_well_scores_well_whichever_way_the_options_run(questionnaire_id):
    """Braden lists its worst answer first, PHQ-9 its best: a well patient is well on both."""
    import random

    from careway.assessments import catalog, engine
    from careway.demo.assessments import answers_at

    questionnaire = catalog.shipped_by_id(questionnaire_id)
    instrument = engine.load(questionnaire)
    answers = answers_at(questionnaire, 0.0, random.Random(1))
    items = [{"linkId": k, "answer": v} for k, v in answers.items()]
    assert engine.score(instrument, {"item": items}).flags == []
    worst = answers_at(questionnaire, 1.0, random.Random(1))
    items = [{"linkId": k, "answer": v} for k, v in worst.items()]
    assert engine.score(instrument, {"item": items}).flags != []


def test_demo_lace_answers_are_the_ones_the_record_gives(demo):
    from careway.assessments import catalog, lace, queries
    from careway.assessments.models import Response

    url = catalog.shipped_by_id("lace")["url"]
    responses = Response.objects.filter(questionnaire_url=url, assessment__status="signed")
    assert responses.exists()
    for response in responses.select_related("assessment__patient"):
        found = queries.lace_from_record(
            response.assessment.patient, response.assessment.visit_date
        )
        saved = {item["linkId"]: item["answer"] for item in response.items}
        assert saved[lace.CHARLSON] == found.answers[lace.CHARLSON], response.assessment.patient


def test_every_signed_demo_assessment_is_signed_by_a_case_manager_on_the_team(demo):
    from careway.assessments.models import Assessment

    signed = Assessment.objects.filter(status="signed").select_related("episode")
    assert signed.exists()
    for assessment in signed:
        assert assessment.signed_by is not None, assessment.pk
        team = set(assessment.episode.care_team.values_list("user_id", flat=True))
        assert assessment.signed_by_id in team
        assert Role.CASE_MANAGER in assessment.signed_by.roles


# --- care plans ---------------------------------------------------------------------------------


def _plans(demo):
    return CarePlan.objects.filter(organization__in=_orgs(demo))


def test_care_plans_at_every_stage(demo):
    plans = _plans(demo)
    assert {p.status for p in plans} == {"draft", "active", "completed"}
    without = Patient.objects.filter(organization__in=_orgs(demo), care_plans__isnull=True)
    assert without.filter(episodes__status="active").exists()  # new: no plan yet
    today = timezone.localdate()
    assert plans.filter(status=CarePlan.Status.ACTIVE, review_due__lt=today).exists()
    assert not plans.filter(status="completed", episode__status="active").exists()


def test_active_goals_improve_and_worsen_as_the_chart_says(demo):
    goals = Goal.objects.filter(plan__in=_plans(demo).filter(status="active"))
    worsening = goals.filter(achievement="worsening")
    assert worsening.filter(measure="weight", patient__family_name="Hale").exists()
    assert goals.filter(achievement="improving", measure="systolic").exists()
    assert goals.filter(achievement="improving", measure="pain").exists()
    assert goals.filter(achievement__in=["achieved", "sustaining"], measure="phq-9").exists()
    assert all(g.achievement_rule for g in goals.exclude(measure=""))
    assert goals.exclude(patient_words="").count() == goals.count()


def test_goals_and_suggestions_are_in_step_with_the_charts(demo):
    """The demo tells the care plans of each chart once, when it is written whole
    (evidence.held): working everything out again now changes nothing."""
    from careway.careplans import services as careplan_services

    patients = list(
        Patient.objects.filter(organization__in=_orgs(demo)).values_list("pk", flat=True)
    )
    actor = audit.Actor(user=None, via="test")
    assert careplan_services.recompute_goals_for(actor, patients) == 0
    assert careplan_services.refresh_suggestions(actor, patients) == 0


def test_a_family_caregiver_on_the_team_carries_an_intervention(demo):
    carried = Intervention.objects.filter(plan__in=_plans(demo), caregiver__isnull=False)
    assert carried.exists()
    for intervention in carried:
        assert CareTeamMember.objects.filter(
            episode_id=intervention.plan.episode_id,
            related_person_id=intervention.caregiver_id,
            role="caregiver",
            active=True,
        ).exists()
    kinds = Intervention.objects.filter(plan__in=_plans(demo)).values_list("kind", flat=True)
    assert set(kinds) == set(Intervention.Kind)


def test_the_patient_does_one_in_heart_failure_and_diabetes_plans(demo):
    """content/careplans.json: a "patient" who, in the heart failure and diabetes families; the
    patient's version lists it under "You", first."""
    from careway.careplans.patient_version import build_version

    mine = Intervention.objects.filter(plan__in=_plans(demo), by_patient=True)
    texts = set(mine.values_list("text", flat=True))
    assert any(t.startswith("Weigh yourself every morning") for t in texts)
    assert any(t.startswith("Check your blood sugar") for t in texts)
    assert not mine.exclude(discipline="").exists()
    row = mine.filter(plan__status="active").select_related("plan").first()
    assert row is not None
    version = build_version(row.plan, "en")
    assert version.groups[0].title == "You" and row.text in [
        t.text for t in version.groups[0].tasks
    ]


def test_discipline_frequencies_and_revisions_with_reasons(demo):
    from careway.careplans import revisions

    frequencies = DisciplineFrequency.objects.filter(plan__in=_plans(demo))
    assert {("RN", "3w1, 2w4"), ("PT", "2w3"), ("HHA", "2w4")} <= set(
        frequencies.values_list("discipline", "frequency")
    )
    assert frequencies.filter(discipline="RN").count() == _plans(demo).count()
    changes = CarePlanRevision.objects.filter(plan__in=_plans(demo), number__gt=1)
    assert changes.exclude(reason="").count() >= 10
    for plan in _plans(demo):
        newest = plan.revisions.get(number=plan.revision)
        assert newest.content == revisions.content_of(plan)
        assert newest.author.roles == {Role.CASE_MANAGER}


def test_cm_rivera_caseload_has_a_mix_of_plans(demo):
    rivera = User.objects.get(username="cm.rivera")
    patients = access.visible_patients(rivera).filter(
        care_team__user=rivera, care_team__is_primary_case_manager=True
    )
    statuses = {p.care_plans.first().status if p.care_plans.exists() else None for p in patients}
    assert {None, "active", "completed"} <= statuses
    shown = set(Goal.objects.filter(patient__in=patients).values_list("achievement", flat=True))
    assert {"worsening", "improving"} <= shown


# --- issue 19: agreement, teaching, the physician's plan of care, the patient's version --------


def test_a_plan_of_care_has_been_unsigned_for_35_days_and_is_overdue(demo, login, client):
    from zoneinfo import ZoneInfo

    from careway.careplans import plan_of_care
    from careway.careplans.models import PlanOfCare

    org = Organization.objects.get(slug="riverbend-demo")
    today = timezone.localdate(timezone=ZoneInfo(org.timezone))
    late = PlanOfCare.objects.get(organization=org, status="sent")
    sent_on = timezone.localdate(late.sent_at, timezone=ZoneInfo(org.timezone))
    assert (today - sent_on).days == 35 and late.signed_on is None
    assert plan_of_care.is_overdue(late, today)
    assert late.sent_pdf and late.content["orders"]
    # Its case manager sees it overdue on the orders awaiting signature.
    cm = CareTeamMember.objects.get(episode_id=late.episode_id, is_primary_case_manager=True).user
    login(cm)
    page = client.get("/orders/awaiting-signature/").content.decode()
    assert late.patient.family_name in page and "Overdue" in page
    # The others in effect were signed a week after they went (or wait, sent days ago).
    others = PlanOfCare.objects.exclude(pk=late.pk)
    assert others.filter(status="signed").count() >= 10
    assert not any(plan_of_care.is_overdue(p, today) for p in others)


def test_a_spanish_speaking_patient_reads_the_plan_in_spanish(demo):
    from careway.careplans.patient_version import build_version, language_of

    patient = Patient.objects.get(given_name="Eduardo", family_name="Castillo")
    assert patient.preferred_language == "es"
    lang, missing = language_of(patient)
    assert (lang, missing) == ("es", False)
    version = build_version(patient.care_plans.get(), lang)
    assert version.title == "Mi plan de cuidado en casa"
    assert version.goals and version.visits and version.red_flags
    assert "(802) 555-0142" in {line.number for line in version.phones}


def test_plans_in_effect_are_agreed_and_taught(demo):
    from careway.careplans import teaching
    from careway.careplans.models import Agreement, TeachingRecord
    from careway.patients.models import Task

    for plan in CarePlan.objects.filter(status__in=["active", "completed"]):
        agreement = Agreement.objects.filter(plan=plan).first()
        assert agreement is not None, plan.patient
        assert agreement.method == "verbal" or len(agreement.signature) == 3
        state = teaching.agreement_state(plan)
        assert state.state in ("agreed", "ask-again"), state
    assert TeachingRecord.objects.filter(result="understood").exists()
    # A heart failure patient's zones need reinforcement: a task for the next visit.
    reinforce = TeachingRecord.objects.filter(result="needs-reinforcement").first()
    assert reinforce.topic == "heart-failure-zones"
    assert reinforce.follow_up.status == Task.Status.OPEN


def test_each_agency_s_charts_are_dated_by_its_own_day(monkeypatch):
    """At 00:30 UTC it is still the evening before in the agencies' zones: the demo counts its
    days (a plan of care sent 35 days ago, visits, readings) from each agency's own today."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    moment = datetime(2026, 12, 8, 0, 30, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    seen = {}
    monkeypatch.setattr(
        build, "_ensure_agency", lambda spec, today: seen.setdefault(spec["slug"], today)
    )
    build.build_demo()
    for spec in content.agencies():
        assert seen[spec["slug"]] == moment.astimezone(ZoneInfo(spec["timezone"])).date()
    assert set(seen.values()) == {moment.date() - timedelta(days=1)}

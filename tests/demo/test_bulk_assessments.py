"""The benchmark agency's assessments are what signing them would have kept.

The loader is run here keeping each response's answers (`keep_answers=True`); the answers are then
put through the assessment services' own functions, the ones signing calls, and what those would
write is compared with what the loader wrote.
"""

import random
import uuid
from datetime import date, timedelta

import pytest
from django.db import transaction
from django.db.models import Q
from django.forms.models import model_to_dict
from django.test import override_settings

from careway.assessments import catalog, engine, services
from careway.assessments.answers import check_items
from careway.assessments.models import Assessment, Finding, Score
from careway.core import audit
from careway.core.models import AuditEvent
from careway.core.writes import service
from careway.demo import bulk, bulk_assessments, bulk_preventive
from careway.demo.bulk_careplans import Caregiver, PatientFacts, TeamMember
from careway.patients.models import Observation, PatientFlag, Task

from .conftest import FAST_HASHER

pytestmark = pytest.mark.django_db
PATIENTS = 120  # patients 73, 77 and 104 give urgent answers
LOADED_AT = {"created_at", "updated_at", "recorded_at"}
SCORE_FIELDS = [
    "organization",
    "patient",
    "assessment",
    "response",
    "amendment",
    "questionnaire_url",
    "instrument_title",
    "key",
    "label",
    "value",
    "minimum",
    "maximum",
    "band",
    "meaning",
    "flag",
    "code_system",
    "code",
    "observed_at",
    "current",
]
FINDING_FIELDS = [
    "organization",
    "patient",
    "assessment",
    "questionnaire_url",
    "kind",
    "label",
    "severity",
    "fix",
    "source",
    "flag",
]


@pytest.fixture(scope="module")
def agency(django_db_setup, django_db_blocker):
    """A small benchmark agency whose responses keep their answers."""
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=FAST_HASHER),
        transaction.atomic(),
    ):
        yield bulk.build_benchmark_agency(PATIENTS, keep_answers=True).organization
        transaction.set_rollback(True)


def _signed(agency):
    return Assessment.objects.filter(organization=agency).select_related("patient")


def test_the_answers_are_complete_and_fit_their_questionnaires(agency):
    responses = 0
    for assessment in _signed(agency):
        for response in assessment.responses.all():
            entry = catalog.entry(agency.pk, response.questionnaire_url)
            checked = check_items(entry.questionnaire, response.items, "items", completed=True)
            assert checked == response.items, response.questionnaire_url
            responses += 1
    assert responses >= 8 * PATIENTS


def test_signing_the_answers_keeps_the_same_scores_findings_and_flags(agency):
    """services._keep_scores and _keep_findings, as sign_assessment calls them, on each
    response: the same scores, the same findings pointing at the same flags, and no flag raised,
    changed or resolved (rolled back after)."""
    actor = audit.Actor.system(via="task", organization_id=agency.pk)

    @service
    def sign_again(assessment: Assessment) -> tuple[list, list]:
        scores, findings = [], []
        for response in assessment.responses.order_by("pk"):
            entry = catalog.entry(agency.pk, response.questionnaire_url)
            result = engine.score(entry.instrument, {"item": response.items})
            kept = services._keep_scores(
                assessment, response, entry, result, assessment.signed_at, amendment=None
            )
            scores += [model_to_dict(score, SCORE_FIELDS) for score in kept]
            before = set(Finding.objects.filter(assessment=assessment).values_list("pk", flat=True))
            services._keep_findings(actor, assessment, entry, result)
            found = Finding.objects.filter(assessment=assessment).exclude(pk__in=before)
            findings += [model_to_dict(finding, FINDING_FIELDS) for finding in found]
        return scores, findings

    # Half the patients, and every one with an urgent answer.
    sample = _signed(agency).filter(
        Q(patient__mrn__lte=f"LS-{PATIENTS // 2:07d}") | Q(findings__severity="urgent")
    )
    checked = 0
    with transaction.atomic():
        for assessment in sample.distinct():
            loaded_scores = [
                model_to_dict(score, SCORE_FIELDS)
                for score in Score.objects.filter(assessment=assessment).order_by("pk")
            ]
            loaded_findings = [
                model_to_dict(finding, FINDING_FIELDS)
                for finding in Finding.objects.filter(assessment=assessment).order_by("pk")
            ]
            flags = list(
                PatientFlag.objects.filter(patient=assessment.patient).order_by("pk").values()
            )
            events = AuditEvent.objects.count()
            scores, findings = sign_again(assessment)
            assert scores == loaded_scores
            assert sorted(findings, key=repr) == sorted(loaded_findings, key=repr)
            after = PatientFlag.objects.filter(patient=assessment.patient).order_by("pk")
            assert list(after.values()) == flags
            assert AuditEvent.objects.count() == events  # no flag raised, changed or resolved
            checked += 1
        transaction.set_rollback(True)
    assert checked == PATIENTS // 2 + 3


def test_the_pain_reading_is_the_one_signing_records(agency):
    for assessment in _signed(agency):
        response = assessment.responses.get(questionnaire_url__endswith=":pain-nrs")
        entry = catalog.entry(agency.pk, response.questionnaire_url)
        taken = services._taken_at(assessment, assessment.signed_at)
        expected = services._vital_signs(entry.questionnaire, response.items, taken)
        readings = Observation.objects.filter(
            patient=assessment.patient, code="72514-3", effective_at=taken
        )
        assert [
            {key: getattr(reading, key) for key in expected[0]} for reading in readings
        ] == expected
        assert readings.get().recorded_by_id == assessment.signed_by_id


def test_urgent_answers_leave_the_task_the_services_would_make_done_by_the_case_manager(agency):
    actor = audit.Actor.system(via="task", organization_id=agency.pk)
    urgent = Finding.objects.filter(organization=agency, severity="urgent").select_related(
        "assessment", "flag"
    )
    assert {finding.kind for finding in urgent} == {"self-harm-risk", "interpersonal-safety"}

    @service
    def task_again(finding: Finding) -> Task:
        assessment = finding.assessment
        response = assessment.responses.get(questionnaire_url=finding.questionnaire_url)
        entry = catalog.entry(agency.pk, response.questionnaire_url)
        found = engine.score(entry.instrument, {"item": response.items}).findings
        made = next(f for f in found if f.kind == finding.kind)
        answered = services._answered(entry, response.items, made.source)
        return services._task_for(actor, assessment, finding.flag, made, answered)

    with transaction.atomic():
        for finding in urgent:
            loaded = Task.objects.get(source=f"assessment:{finding.assessment_id}:{finding.kind}")
            made = task_again(finding)  # a new one: the loaded task is done
            assert made.pk != loaded.pk
            fields = ("assigned_to_id", "title", "detail", "priority", "source", "patient_id")
            assert [getattr(loaded, f) for f in fields] == [getattr(made, f) for f in fields]
            assert (loaded.status, loaded.completed_by_id) == ("done", loaded.assigned_to_id)
        transaction.set_rollback(True)


# --- the same seed, the same rows -----------------------------------------------------------


def _facts(number: int) -> PatientFacts:
    return PatientFacts(
        number=number,
        patient_id=uuid.UUID(int=number + 1),
        episode_id=number + 1,
        start_of_care=date(2026, 11, 2),
        scenario="hip_fracture",
        case={},
        primary_problem="Closed fracture of hip",
        team=[TeamMember(1, "Case Manager", "case_manager", None)],
        caregiver=Caregiver(2, "Ana Ruiz", "spouse", lives_with=True),
        caregiver_member_id=3,
        conditions=["hip_fracture", "osteoporosis", "t2dm"],
        medications=5,
        birth_date=date(1946, 5, 17),
    )


def _rows(seed: int) -> tuple:
    zone = bulk.ZoneInfo(bulk.BENCH_TIMEZONE)
    assessments = bulk_assessments.BulkAssessments(1, seed, zone)
    preventive = bulk_preventive.BulkPreventive(1, date(2026, 12, 1), seed, zone)
    out = bulk_assessments.AssessmentRows()
    history: dict = {bulk_preventive.Immunization: [], bulk_preventive.Procedure: []}
    results: list = []
    for number in range(40):
        facts = _facts(number)
        assessments.rows(facts, out)
        results += preventive.rows(facts, history)
    # Without the columns left to their defaults: when the loader started.
    drawn = {}
    for model, rows in [*history.items(), (Observation, results)]:
        names = preventive.shapes[model].attnames
        drawn[model] = [
            {n: v for n, v in zip(names, row, strict=True) if n not in LOADED_AT} for row in rows
        ]
    return out.rows, drawn


def test_a_seed_always_draws_the_same_assessments_and_history():
    first, second, other = _rows(7), _rows(7), _rows(8)
    assert first == second
    assert first != other
    scores = [row["value"] for row in first[0][Score]]
    assert len(set(scores)) > 10  # the 40 patients are not all alike


def test_the_history_stays_before_today_and_in_each_vaccines_years():
    today = date(2026, 8, 20)  # early in a season: its doses are from July 1 on
    preventive = bulk_preventive.BulkPreventive(1, today, 3, bulk.ZoneInfo("UTC"))
    history = {bulk_preventive.Immunization: [], bulk_preventive.Procedure: []}
    for number in range(300):
        facts = _facts(number)
        facts.birth_date = date(1950, 1, 1) + timedelta(days=random.Random(number).randint(0, 7000))
        preventive.rows(facts, history)
    shape = preventive.shapes[bulk_preventive.Immunization]
    code, at = shape.attnames.index("code"), shape.attnames.index("occurred_at")
    doses = [(row[code], row[at].date()) for row in history[bulk_preventive.Immunization]]
    assert max(day for _, day in doses) <= today
    assert min(day for code, day in doses if code == "187") >= date(2018, 1, 1)
    assert min(day for code, day in doses if code == "216") >= date(2022, 1, 1)
    this_season = {c for c, day in doses if day >= date(2026, 7, 1)}
    assert this_season <= {"140", "309", "312", "313", "216", "33", "187", "113", "115"}
    assert {"140", "309"} <= this_season

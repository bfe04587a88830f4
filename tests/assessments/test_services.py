"""Assessments from start to signature and amendment, through the services that audit."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from careway.assessments import catalog, services, template
from careway.assessments.models import Amendment, Assessment, Finding, Response, Score
from careway.assessments.questionnaires import response_items
from careway.assessments.services import SectionAnswers
from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import AuditEvent
from careway.patients.models import EpisodeOfCare, PatientFlag, Task
from tests.assessments import fill

pytestmark = pytest.mark.django_db

PHQ9 = catalog.shipped_by_id("phq-9")
PHQ2 = catalog.shipped_by_id("phq-2")
MAHC = catalog.shipped_by_id("mahc-10")


def actor(user):
    return audit.Actor(user=user)


def section_of(questionnaire_id: str) -> str:
    for section in template.comprehensive().sections:
        if any(p.questionnaire == questionnaire_id for p in section.parts):
            return section.key
    raise AssertionError(f"{questionnaire_id} is in no section")


def save(world, assessment, questionnaire, answers, version=None):
    key = section_of(questionnaire["id"])
    current = Response.objects.filter(
        assessment=assessment, section=key, questionnaire_url=questionnaire["url"]
    ).first()
    if version is None:
        version = current.version if current else 0
    return services.save_section(
        actor(world.cm),
        assessment,
        key,
        [SectionAnswers(questionnaire["url"], answers, version)],
    )


def fill_everything(world, assessment, choice=0):
    """Answer every required item of every section of the assessment's time point."""
    for section in template.comprehensive().sections_for(assessment.time_point):
        parts = []
        for part in section.parts:
            questionnaire = catalog.shipped_by_id(part.questionnaire)
            current = Response.objects.filter(
                assessment=assessment, section=section.key, questionnaire_url=questionnaire["url"]
            ).first()
            parts.append(
                SectionAnswers(
                    questionnaire["url"],
                    fill.answers(questionnaire, choice),
                    current.version if current else 0,
                )
            )
        services.save_section(actor(world.cm), assessment, section.key, parts)
    assessment.refresh_from_db()


def phq9_answers(points_each: int, item9: int = 0):
    answers = {}
    for item in fill.items_of(PHQ9):
        points = item9 if item["linkId"] == "9" else points_each
        answers[item["linkId"]] = [fill.answer_for(item, points)]
    return answers


def start(world, time_point="start-of-care"):
    return services.start_assessment(actor(world.cm), world.patient, time_point)


def test_starting_an_assessment_makes_an_audited_draft_and_starting_again_resumes_it(world):
    first = start(world)
    assert (first.status, first.time_point, first.episode.patient_id) == (
        "draft",
        "start-of-care",
        world.patient.pk,
    )
    assert start(world).pk == first.pk
    assert Assessment.objects.count() == 1
    assert AuditEvent.objects.filter(action="assessment.create", patient_id=world.patient.pk)


def test_an_unknown_time_point_or_no_open_episode_is_refused_with_the_field_named(world):
    with pytest.raises(ValidationError) as error:
        start(world, "whenever")
    assert "time_point" in error.value.message_dict
    EpisodeOfCare.objects.filter(patient=world.patient).update(status="discharged")
    with pytest.raises(ValidationError) as error:
        start(world)
    assert "episode" in error.value.message_dict


def test_saving_keeps_the_answers_and_a_stale_version_is_a_conflict_that_writes_nothing(world):
    assessment = start(world)
    [saved] = save(world, assessment, PHQ2, fill.answers(PHQ2, 0))
    assert saved.version == 1
    [again] = save(world, assessment, PHQ2, fill.answers(PHQ2, -1))
    assert again.version == 2
    with pytest.raises(VersionConflict):
        save(world, assessment, PHQ2, fill.answers(PHQ2, 0), version=1)
    response = Response.objects.get(pk=saved.pk)
    assert response.version == 2
    assert "answer" in str(response.items)
    assert AuditEvent.objects.filter(action="assessment.save").count() == 2


def test_a_questionnaire_that_is_not_in_the_section_is_refused(world):
    assessment = start(world)
    with pytest.raises(ValidationError):
        services.save_section(
            actor(world.cm),
            assessment,
            section_of("mahc-10"),
            [SectionAnswers(PHQ9["url"], phq9_answers(1), 0)],
        )


def not_an_option(answers, link_id):
    """The answers with `link_id` answered by a code its options do not have."""
    coding = dict(answers[link_id][0]["valueCoding"], code="LA-nonsense")
    return {**answers, link_id: [{"valueCoding": coding}]}


def test_answers_that_do_not_fit_the_questionnaire_are_refused_naming_the_item(world):
    assessment = start(world)
    version = assessment.version
    cases = [
        (
            not_an_option(phq9_answers(1), "2"),
            "item.where(linkId='2').answer[0].valueCoding",
            ("question 2 (Over the last 2 weeks", "not one of its answers"),
        ),
        (
            {**phq9_answers(1), "nine": [{"valueInteger": 1}]},
            "item.where(linkId='nine')",
            ("'nine' is not an item of",),
        ),
    ]
    for answers, field, words in cases:
        with pytest.raises(ValidationError) as error:
            save(world, assessment, PHQ9, answers)
        assert list(error.value.message_dict) == [field]
        assert all(w in error.value.message_dict[field][0] for w in words)
    assessment.refresh_from_db()
    assert assessment.version == version
    assert not Response.objects.exists()
    assert not AuditEvent.objects.filter(action="assessment.save").exists()


def test_one_part_that_does_not_fit_refuses_the_whole_section_and_writes_nothing(world):
    assessment = start(world)
    section = next(s for s in template.comprehensive().sections if len(s.parts) > 1)
    urls = [catalog.shipped_by_id(part.questionnaire)["url"] for part in section.parts]
    parts = [
        SectionAnswers(url, fill.answers(catalog.shipped_by_id(part.questionnaire)), 0)
        for url, part in zip(urls, section.parts, strict=True)
    ]
    parts[-1] = SectionAnswers(urls[-1], {"no-such-item": [{"valueString": "x"}]}, 0)
    with pytest.raises(ValidationError) as error:
        services.save_section(actor(world.cm), assessment, section.key, parts)
    assert list(error.value.message_dict) == ["item.where(linkId='no-such-item')"]
    assert not Response.objects.exists()
    assert not PatientFlag.objects.exists() and not Task.objects.exists()


def test_phq9_item_9_above_zero_raises_an_urgent_flag_and_task_the_moment_it_is_saved(world):
    assessment = start(world)
    save(world, assessment, PHQ9, phq9_answers(0, item9=1))
    flag = PatientFlag.objects.get(patient=world.patient, kind="self-harm-risk", active=True)
    assert flag.severity == "urgent"
    task = Task.objects.get(patient=world.patient, status="open")
    assert (task.priority, task.assigned_to, task.due_date) == (
        "urgent",
        world.cm,
        timezone.localdate(),
    )
    # Its urgency is its priority; the title says what it is, once (Today shows "Urgent" beside
    # it, so a title beginning "Urgent:" read "Urgent Urgent:").
    assert task.title == flag.label and not task.title.lower().startswith("urgent")
    # Saving the section again (autosave) raises nothing twice.
    save(world, assessment, PHQ9, phq9_answers(0, item9=2))
    assert PatientFlag.objects.filter(kind="self-harm-risk", active=True).count() == 1
    assert Task.objects.filter(patient=world.patient).count() == 1
    assert AuditEvent.objects.filter(action="task.create", patient_id=world.patient.pk).count() == 1


def test_signing_is_refused_while_required_answers_are_missing_and_names_the_sections(world):
    assessment = start(world)
    with pytest.raises(ValidationError) as error:
        services.sign_assessment(actor(world.cm), assessment, assessment.version)
    messages = error.value.messages
    titles = [s.title for s in template.comprehensive().sections_for("start-of-care")]
    assert any(m.startswith(titles[0]) for m in messages)
    assert Assessment.objects.get(pk=assessment.pk).status == "draft"


def test_signing_keeps_scores_raises_flags_and_locks_the_assessment(world):
    assessment = start(world)
    fill_everything(world, assessment, choice=-1)
    signed = services.sign_assessment(actor(world.cm), assessment, assessment.version)
    assert signed.status == "signed" and signed.signed_by == world.cm
    mahc = Score.objects.get(assessment=assessment, questionnaire_url=MAHC["url"], current=True)
    assert mahc.value == mahc.maximum
    assert mahc.flag == "high-fall-risk"
    assert PatientFlag.objects.filter(patient=world.patient, kind="high-fall-risk", active=True)
    assert Finding.objects.filter(assessment=assessment, kind="high-fall-risk").exists()
    assert AuditEvent.objects.filter(action="assessment.sign", patient_id=world.patient.pk)
    with pytest.raises(ValidationError):
        save(world, assessment, PHQ2, fill.answers(PHQ2, 0))


def test_a_stale_page_cannot_sign(world):
    assessment = start(world)
    fill_everything(world, assessment)
    with pytest.raises(VersionConflict):
        services.sign_assessment(actor(world.cm), assessment, assessment.version - 1)


def test_an_amendment_keeps_the_original_and_supersedes_its_scores(world):
    assessment = start(world)
    fill_everything(world, assessment, choice=-1)
    services.sign_assessment(actor(world.cm), assessment, assessment.version)
    response = Response.objects.get(assessment=assessment, questionnaire_url=MAHC["url"])
    original = list(response.items)
    with pytest.raises(ValidationError) as error:
        services.amend_response(actor(world.cm), response, fill.answers(MAHC, 0), "  ")
    assert "reason" in error.value.message_dict
    amendment = services.amend_response(
        actor(world.cm),
        response,
        fill.answers(MAHC, 0),
        "Answers were entered for the wrong patient",
    )
    response.refresh_from_db()
    assert response.items == original
    assert services.effective_items(response) == amendment.items
    old, new = Score.objects.filter(response=response).order_by("pk")
    assert (old.current, new.current, new.amendment_id) == (False, True, amendment.pk)
    assert new.value == new.minimum
    # The fall-risk flag the signature raised is resolved by the correction.
    assert not PatientFlag.objects.filter(patient=world.patient, kind="high-fall-risk", active=True)
    assert Amendment.objects.filter(assessment=assessment).count() == 1
    assert AuditEvent.objects.filter(action="assessment.amend", patient_id=world.patient.pk)


def test_an_amendment_that_does_not_fit_the_questionnaire_is_refused_and_writes_nothing(world):
    assessment = start(world)
    fill_everything(world, assessment)
    services.sign_assessment(actor(world.cm), assessment, assessment.version)
    response = Response.objects.get(assessment=assessment, questionnaire_url=PHQ9["url"])
    scores = list(Score.objects.filter(response=response).values_list("pk", "current"))
    answers = not_an_option(fill.answers(PHQ9, 0), "3")
    with pytest.raises(ValidationError) as error:
        services.amend_response(actor(world.cm), response, answers, "Read back wrongly")
    assert list(error.value.message_dict) == ["item.where(linkId='3').answer[0].valueCoding"]
    assert not Amendment.objects.exists()
    assert list(Score.objects.filter(response=response).values_list("pk", "current")) == scores


def test_a_draft_is_edited_not_amended(world):
    assessment = start(world)
    [response] = save(world, assessment, PHQ2, fill.answers(PHQ2, 0))
    with pytest.raises(ValidationError):
        services.amend_response(actor(world.cm), response, fill.answers(PHQ2, 0), "typo")


def test_a_later_assessment_that_no_longer_finds_a_risk_resolves_its_flag(world):
    first = start(world)
    fill_everything(world, first, choice=-1)
    services.sign_assessment(actor(world.cm), first, first.version)
    assert PatientFlag.objects.filter(kind="high-fall-risk", active=True).count() == 1
    follow_up = start(world, "follow-up")
    fill_everything(world, follow_up, choice=0)
    services.sign_assessment(actor(world.cm), follow_up, follow_up.version)
    flag = PatientFlag.objects.get(kind="high-fall-risk")
    assert not flag.active and flag.resolved_at is not None
    assert AuditEvent.objects.filter(action="flag.resolve", patient_id=world.patient.pk)


def test_a_second_start_of_care_assessment_after_signing_is_refused(world):
    first = start(world)
    fill_everything(world, first)
    services.sign_assessment(actor(world.cm), first, first.version)
    with pytest.raises(ValidationError) as error:
        start(world)
    assert "amend" in str(error.value)


def test_a_response_from_elsewhere_is_filed_signed_and_scored(world):
    response = services.record_response(
        actor(world.cm), world.patient, PHQ9["url"], _items(phq9_answers(2)), timezone.now()
    )
    assert response.assessment.status == "signed"
    score = Score.objects.get(response=response, key="total")
    # Eight items at 2 points and item 9 at 0.
    assert (score.value, score.band) == (16.0, "Moderately severe")
    with pytest.raises(ValidationError) as error:
        services.record_response(actor(world.cm), world.patient, "urn:nowhere", [], None)
    assert "questionnaire" in error.value.message_dict


def test_a_response_from_elsewhere_must_answer_every_required_question(world):
    partial = _items({k: v for k, v in phq9_answers(2).items() if k != "9"})
    with pytest.raises(ValidationError) as error:
        services.record_response(actor(world.cm), world.patient, PHQ9["url"], partial, None)
    assert list(error.value.message_dict) == ["items.where(linkId='9')"]
    assert not Assessment.objects.exists() and not Score.objects.exists()


def _items(answers):
    return response_items(PHQ9, answers)

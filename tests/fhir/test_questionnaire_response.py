"""Assessments over FHIR: each questionnaire's answers as a QuestionnaireResponse and each current
score as an Observation (category survey) derived from it; read, searched, exported and audited
like the chart's other records; a completed QuestionnaireResponse created through the API or an
import is filed as a signed assessment and scored again, so a response exported by one agency
and imported by another gives the same scores."""

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from careway.assessments import catalog, services
from careway.assessments.models import Amendment, Assessment, Response, Score
from careway.assessments.questionnaires import response_items
from careway.core import audit
from careway.core.models import AuditEvent
from careway.core.roles import Role
from careway.fhir import codes, export, importer
from careway.fhir.api import served_types
from careway.fhir.models import SourceRecord
from tests.factories import make_org, make_patient, make_user
from tests.fhir.api_client import (
    export_token,
    fhir_as,
    ids,
    issue_of,
    link,
    matches,
    resource_of,
    vital,
)
from tests.fhir.samples import bundle, patient
from tests.fhir.validate import assert_valid_r4

pytestmark = pytest.mark.django_db

PHQ9 = catalog.shipped_by_id("phq-9")
GAD7 = catalog.shipped_by_id("gad-7")
AUTHORED = datetime(2026, 5, 3, 15, 0, tzinfo=UTC)
QR_TYPE = "QuestionnaireResponse"


def items_for(questionnaire: dict, points: list[int]) -> list[dict]:
    """QuestionnaireResponse.item as another system sends it: each question answered with the
    option at `points[n]`, as a plain coding."""
    out = []
    for question, chosen in zip(questionnaire["item"], points, strict=True):
        option = question["answerOption"][chosen]["valueCoding"]
        coding = {k: option[k] for k in ("system", "code", "display") if k in option}
        out.append({"linkId": question["linkId"], "answer": [{"valueCoding": coding}]})
    return out


def phq9(points: list[int]) -> list[dict]:
    return items_for(PHQ9, points)


def page_answers(questionnaire: dict, points: list[int]) -> dict[str, list[dict]]:
    """The answers as the assessment page posts them: each the option as the Questionnaire
    writes it."""
    return {
        question["linkId"]: [dict(question["answerOption"][chosen])]
        for question, chosen in zip(questionnaire["item"], points, strict=True)
    }


def file_response(user, patient, points: list[int], authored=AUTHORED, questionnaire=PHQ9):
    """A completed response, filed as a signed assessment with its answers as Careway keeps
    them."""
    items = response_items(questionnaire, page_answers(questionnaire, points))
    return services.record_response(
        audit.Actor(user=user), patient, questionnaire["url"], items, authored
    )


def amend(user, response: Response, points: list[int], reason: str = "Read back wrongly"):
    answers = page_answers(PHQ9, points)
    return services.amend_response(audit.Actor(user=user), response, answers, reason)


def qr_body(patient_id, points: list[int], **change) -> dict:
    return {
        "resourceType": QR_TYPE,
        "questionnaire": f"{PHQ9['url']}|{PHQ9['version']}",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": "2026-05-03T15:00:00+00:00",
        "item": phq9(points),
        **change,
    }


def current_score(response: Response) -> Score:
    return Score.objects.get(response=response, current=True, key="total")


def qr_id(response: Response) -> str:
    return f"qr-{response.pk}"


def score_id(score: Score) -> str:
    return f"score-{score.pk}"


# --- read -----------------------------------------------------------------------------------------


def test_a_signed_response_reads_as_a_completed_questionnaire_response(world):
    response = file_response(world.cm, world.patient, [1, 2, 1, 1, 0, 0, 1, 0, 0])
    body = resource_of(fhir_as(world.cm).get(f"{QR_TYPE}/{qr_id(response)}"))
    assert body["id"] == qr_id(response)
    assert body["questionnaire"] == "urn:careway:fhir:Questionnaire:phq-9|1"
    assert body["status"] == "completed"
    assert body["subject"] == {"reference": f"Patient/{world.patient.pk}"}
    assert datetime.fromisoformat(body["authored"]) == AUTHORED
    assert body["author"] == {"display": world.cm.display_name}
    answered = {i["linkId"]: i["answer"][0]["valueCoding"]["code"] for i in body["item"]}
    assert answered["2"] == PHQ9["item"][1]["answerOption"][2]["valueCoding"]["code"]
    assert len(answered) == 9


def test_each_current_score_reads_as_a_survey_observation_derived_from_its_response(world):
    response = file_response(world.cm, world.patient, [1, 2, 1, 1, 0, 0, 1, 0, 0])
    score = current_score(response)
    body = resource_of(fhir_as(world.cm).get(f"Observation/{score_id(score)}"))
    assert body["status"] == "final"
    assert body["category"][0]["coding"][0] == {
        "system": codes.OBSERVATION_CATEGORY,
        "code": "survey",
        "display": "Survey",
    }
    loinc, careway = body["code"]["coding"]
    assert loinc == {"system": codes.LOINC, "code": "44261-6"}  # PHQ-9 total score
    assert careway == {"system": codes.SCORE, "code": "phq-9/total", "display": "PHQ-9 total"}
    assert body["valueQuantity"] == {
        "value": 6,
        "unit": "{score}",
        "system": codes.UCUM,
        "code": "{score}",
    }
    assert body["interpretation"] == [{"text": score.band}] and score.band
    assert body["derivedFrom"] == [{"reference": f"{QR_TYPE}/{qr_id(response)}"}]
    assert datetime.fromisoformat(body["effectiveDateTime"]) == AUTHORED
    assert body["subject"] == {"reference": f"Patient/{world.patient.pk}"}


def test_a_score_without_a_loinc_code_has_only_careways_code(world):
    katz = catalog.shipped_by_id("katz-adl")
    points = [0] * len(katz["item"])
    response = file_response(world.cm, world.patient, points, questionnaire=katz)
    score = Score.objects.get(response=response, current=True)
    body = resource_of(fhir_as(world.cm).get(f"Observation/{score_id(score)}"))
    assert body["code"]["coding"] == [
        {"system": codes.SCORE, "code": f"katz-adl/{score.key}", "display": score.label}
    ]


ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"


def uploaded_questionnaire() -> dict:
    """A small scored Questionnaire of an agency's own (not shipped with Careway)."""

    def option(code: str, points: int) -> dict:
        return {
            "valueCoding": {
                "system": "http://agency.example/answers",
                "code": code,
                "extension": [{"url": ORDINAL, "valueDecimal": points}],
            }
        }

    return {
        "resourceType": "Questionnaire",
        "id": "home-check",
        "url": "http://agency.example/Questionnaire/home-check",
        "version": "2",
        "title": "Home check",
        "status": "active",
        "item": [
            {
                "linkId": link,
                "text": f"Hazard {link}?",
                "type": "choice",
                "required": True,
                "answerOption": [option("no", 0), option("yes", 1)],
            }
            for link in ("rugs", "stairs")
        ],
        "extension": [
            {
                "url": "urn:careway:fhir:StructureDefinition:score",
                "extension": [
                    {"url": "key", "valueString": "hazards"},
                    {"url": "label", "valueString": "Home hazards"},
                    {"url": "item", "valueString": "rugs"},
                    {"url": "item", "valueString": "stairs"},
                ],
            }
        ],
    }


def test_an_agencys_own_instrument_takes_responses_and_its_scores_use_its_id(world):
    questionnaire = uploaded_questionnaire()
    services.upload_instrument(audit.Actor(user=world.admin), world.org, questionnaire)
    answers = [
        {
            "linkId": link,
            "answer": [{"valueCoding": {"system": "http://agency.example/answers", "code": "yes"}}],
        }
        for link in ("rugs", "stairs")
    ]
    body = qr_body(world.patient.pk, [0] * 9, item=answers)
    body["questionnaire"] = f"{questionnaire['url']}|2"
    fhir = fhir_as(world.cm)
    created = resource_of(fhir.post(QR_TYPE, body), 201)
    assert created["questionnaire"] == f"{questionnaire['url']}|2"
    found = resource_of(fhir.get(f"Observation?code={codes.SCORE}|home-check/hazards"))
    (score,) = matches(found)
    assert score["code"]["coding"] == [
        {"system": codes.SCORE, "code": "home-check/hazards", "display": "Home hazards"}
    ]
    assert score["valueQuantity"]["value"] == 2
    # Another agency does not have it.
    theirs = qr_body(world.outsider_patient.pk, [0] * 9, item=answers)
    theirs["questionnaire"] = questionnaire["url"]
    refused = fhir_as(world.outsider).post(QR_TYPE, theirs)
    assert issue_of(refused, 422)["expression"] == ["QuestionnaireResponse.questionnaire"]


def test_reads_are_audited_with_the_resource(world):
    response = file_response(world.cm, world.patient, [0] * 9)
    fhir = fhir_as(world.cm)
    for path in (
        f"{QR_TYPE}/{qr_id(response)}",
        f"Observation/{score_id(current_score(response))}",
    ):
        resource_of(fhir.get(path))
        event = AuditEvent.objects.filter(action="patient.view", actor_id=world.cm.pk).latest("seq")
        assert event.patient_id == world.patient.pk
        assert event.detail["resource"] == path and event.detail["via"] == "fhir"


@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_responses_and_scores_not_yours_are_404_like_ones_that_do_not_exist(world, who):
    response = file_response(world.cm, world.patient, [0] * 9)
    score = current_score(response)
    fhir = fhir_as(getattr(world, who))
    for kind, ident, absent in (
        (QR_TYPE, qr_id(response), "qr-99999999"),
        ("Observation", score_id(score), "score-99999999"),
    ):
        not_yours = fhir.get(f"{kind}/{ident}")
        missing = fhir.get(f"{kind}/{absent}")
        assert issue_of(not_yours, 404) == issue_of(missing, 404)
    assert AuditEvent.objects.filter(
        actor_id=getattr(world, who).pk, outcome=AuditEvent.Outcome.DENIED
    ).exists()
    searched = resource_of(fhir.get(f"{QR_TYPE}?patient={world.patient.pk}"))
    assert searched["total"] == 0


def test_a_read_only_team_member_reads_them(world):
    response = file_response(world.cm, world.patient, [0] * 9)
    resource_of(fhir_as(world.scheduler).get(f"{QR_TYPE}/{qr_id(response)}"))


def test_a_draft_is_in_progress_and_an_amended_response_shows_its_corrected_answers(world):
    actor = audit.Actor(user=world.cm)
    draft = services.start_assessment(actor, world.patient, "follow-up")
    key = next(
        s.key
        for s in services.template.comprehensive().sections_for("follow-up")
        if any(p.questionnaire == "phq-9" for p in s.parts)
    )
    answers = page_answers(PHQ9, [0] * 9)
    (saved,) = services.save_section(
        actor, draft, key, [services.SectionAnswers(PHQ9["url"], answers, 0)]
    )
    fhir = fhir_as(world.cm)
    in_progress = resource_of(fhir.get(f"{QR_TYPE}/{qr_id(saved)}"))
    assert in_progress["status"] == "in-progress"

    response = file_response(world.cm, world.patient, [0] * 9)
    first = current_score(response)
    amendment = amend(world.cm, response, [3] * 9)
    body = resource_of(fhir.get(f"{QR_TYPE}/{qr_id(response)}"))
    assert body["status"] == "amended"
    assert datetime.fromisoformat(body["authored"]) == amendment.signed_at
    codes_given = {i["answer"][0]["valueCoding"]["code"] for i in body["item"]}
    assert codes_given == {PHQ9["item"][0]["answerOption"][3]["valueCoding"]["code"]}
    # The score the amendment replaced is no longer served; the new one says it was amended.
    issue_of(fhir.get(f"Observation/{score_id(first)}"), 404)
    now = resource_of(fhir.get(f"Observation/{score_id(current_score(response))}"))
    assert now["status"] == "amended" and now["valueQuantity"]["value"] == 27


def test_a_score_has_no_versions_and_neither_may_be_replaced(world):
    response = file_response(world.cm, world.patient, [0] * 9)
    score = current_score(response)
    fhir = fhir_as(world.cm)
    issue_of(fhir.get(f"Observation/{score_id(score)}/_history/1"), 404)
    body = resource_of(fhir.get(f"Observation/{score_id(score)}"))
    refused = fhir.put(f"Observation/{score_id(score)}", body, if_match='W/"1"')
    assert issue_of(refused, 405)["code"] == "not-supported"
    qr = resource_of(fhir.get(f"{QR_TYPE}/{qr_id(response)}"))
    assert issue_of(fhir.put(f"{QR_TYPE}/{qr_id(response)}", qr), 405)["code"] == "not-supported"
    assert Score.objects.get(pk=score.pk).value == 0


def test_the_capability_statement_lists_questionnaire_response_as_created_not_updated(client):
    statement = resource_of(client.get("/fhir/R4/metadata"))
    (listed,) = [r for r in statement["rest"][0]["resource"] if r["type"] == QR_TYPE]
    assert {i["code"] for i in listed["interaction"]} == {"read", "search-type", "create"}
    assert {p["name"] for p in listed["searchParam"]} == set(served_types()[QR_TYPE].search.params)
    assert {"patient", "questionnaire", "authored", "status"} <= set(
        served_types()[QR_TYPE].search.params
    )


# --- search ---------------------------------------------------------------------------------------


@pytest.fixture
def answered(world):
    """Margaret: PHQ-9 in March (total 2) and May (total 9), GAD-7 in April, a pulse in May;
    Otto (the other agency's) a PHQ-9 of his own."""
    march = datetime(2026, 3, 2, 10, tzinfo=UTC)
    april = datetime(2026, 4, 6, 10, tzinfo=UTC)
    world.extra["march"] = file_response(world.cm, world.patient, [1, 1] + [0] * 7, march)
    world.extra["may"] = file_response(world.cm, world.patient, [1] * 9)
    world.extra["gad"] = file_response(world.cm, world.patient, [0] * 7, april, questionnaire=GAD7)
    world.extra["pulse"] = vital(world.patient, "8867-4", 72, AUTHORED - timedelta(hours=1))
    world.extra["otto"] = file_response(world.outsider, world.outsider_patient, [2] * 9)
    return world


def test_responses_are_searched_by_patient_questionnaire_authored_and_status(answered):
    w = answered
    fhir = fhir_as(w.cm)
    march, may, gad = (qr_id(w.extra[k]) for k in ("march", "may", "gad"))

    def found(query: str) -> list[str]:
        return ids(resource_of(fhir.get(f"{QR_TYPE}?{query}")))

    assert found(f"patient={w.patient.pk}") == [may, gad, march]  # most recently authored first
    assert found(f"subject=Patient/{w.patient.pk}&questionnaire={PHQ9['url']}") == [may, march]
    assert found(f"questionnaire={PHQ9['url']}|1") == [may, march]
    assert found(f"questionnaire={PHQ9['url']}|2") == []
    assert found("authored=ge2026-04-01") == [may, gad]
    assert found("authored=le2026-04-30") == [gad, march]
    assert found("authored=2026-03-02") == [march]
    assert found("status=completed") == [may, gad, march]
    assert found("status=in-progress,amended") == []
    assert found(f"_id={march}") == [march]
    assert qr_id(w.extra["otto"]) not in found("")
    issue = issue_of(fhir.get(f"{QR_TYPE}?status=finished"), 400)
    assert issue["expression"] == ["status"]


def test_scores_are_found_among_observations_by_category_code_and_date(answered):
    w = answered
    fhir = fhir_as(w.cm)
    may, march = current_score(w.extra["may"]), current_score(w.extra["march"])
    gad = current_score(w.extra["gad"])
    pulse = str(w.extra["pulse"].pk)

    def found(query: str) -> list[str]:
        bundle_ = resource_of(fhir.get(f"Observation?{query}"))
        assert bundle_["total"] == len(ids(bundle_))
        return ids(bundle_)

    survey = [score_id(may), score_id(gad), score_id(march)]
    assert found(f"patient={w.patient.pk}&category=survey") == survey
    # Both kinds of observation, most recently taken first.
    assert found(f"patient={w.patient.pk}") == [
        score_id(may),
        pulse,
        score_id(gad),
        score_id(march),
    ]
    assert found("category=vital-signs") == [pulse]
    assert found("code=http://loinc.org|44261-6") == [score_id(may), score_id(march)]
    assert found("code=44261-6") == [score_id(may), score_id(march)]
    assert found(f"code={codes.SCORE}|gad-7/total") == [score_id(gad)]
    assert found(f"code={codes.SCORE}|") == survey
    assert found("category=survey&date=ge2026-04-01") == [score_id(may), score_id(gad)]
    assert found(f"_id={score_id(march)}") == [score_id(march)]
    assert score_id(current_score(w.extra["otto"])) not in found("")


def test_a_page_of_observations_runs_across_both_kinds_in_order(answered):
    w = answered
    fhir = fhir_as(w.cm)
    everything = ids(resource_of(fhir.get(f"Observation?patient={w.patient.pk}")))
    pages, url = [], f"Observation?patient={w.patient.pk}&_count=3"
    while url:
        page = resource_of(fhir.get(url))
        assert page["total"] == 4
        pages += ids(page)
        url = link(page, "next")
    assert pages == everything
    included = resource_of(
        fhir.get("Observation?category=survey&_count=1&_include=Observation:patient")
    )
    assert [e["resource"]["id"] for e in included["entry"]] == [
        score_id(current_score(w.extra["may"])),
        str(w.patient.pk),
    ]


def test_searches_are_audited_with_the_patients_shown(answered):
    w = answered
    resource_of(fhir_as(w.cm).get(f"{QR_TYPE}?status=completed"))
    event = AuditEvent.objects.filter(action="patient.view", actor_id=w.cm.pk).latest("seq")
    assert event.patient_id == w.patient.pk
    assert event.detail["resource"] == QR_TYPE and event.detail["search"] == ["status"]


def count_queries(fhir, query: str) -> int:
    with CaptureQueriesContext(connection) as counted:
        assert len(matches(resource_of(fhir.get(query)))) > 0
    return len(counted)


def test_search_queries_do_not_grow_with_the_rows(world):
    w = world
    fhir = fhir_as(w.cm)
    file_response(w.cm, w.patient, [0] * 9)
    vital(w.patient, "8867-4", 70)
    queries = [
        f"{QR_TYPE}?_include={QR_TYPE}:patient",
        "Observation?category=survey",
        "Observation",
    ]
    fhir.get("Patient")  # the token's first use notes when it was used
    few = {query: count_queries(fhir, query) for query in queries}
    for n in range(6):
        other = make_patient(w.branch, w.cm, given_name=f"P{n}")
        file_response(w.cm, other, [n % 4] * 9)
        response = file_response(w.cm, w.patient, [1] * 9, AUTHORED + timedelta(days=n))
        amend(w.cm, response, [2] * 9)
        vital(other, "8867-4", 60 + n)
    for query in queries:
        assert count_queries(fhir, query) == few[query], query


# --- create ---------------------------------------------------------------------------------------


def test_a_completed_response_is_filed_as_a_signed_assessment_and_scored(world):
    fhir = fhir_as(world.cm)
    response = fhir.post(QR_TYPE, qr_body(world.patient.pk, [3, 3, 2, 2, 1, 1, 0, 0, 0]))
    created = resource_of(response, 201)
    saved = Response.objects.get()
    assert created["id"] == qr_id(saved) and created["status"] == "completed"
    assert response["Location"].endswith(f"/fhir/R4/{QR_TYPE}/{qr_id(saved)}")
    assessment = saved.assessment
    assert (assessment.status, assessment.patient_id, assessment.signed_by_id) == (
        Assessment.Status.SIGNED,
        world.patient.pk,
        world.cm.pk,
    )
    assert assessment.signed_at == AUTHORED
    assert current_score(saved).value == 12
    event = AuditEvent.objects.get(action="assessment.import")
    assert (event.actor_id, event.patient_id, event.detail["via"]) == (
        world.cm.pk,
        world.patient.pk,
        "fhir",
    )
    # Its answers are kept as the Questionnaire writes them (the option codings, with points).
    assert saved.items[0]["answer"][0] == PHQ9["item"][0]["answerOption"][3]


def test_a_read_only_team_member_may_not_create_one(world):
    response = fhir_as(world.scheduler).post(QR_TYPE, qr_body(world.patient.pk, [0] * 9))
    assert issue_of(response, 403)["code"] == "forbidden"
    assert not Response.objects.exists()
    assert AuditEvent.objects.filter(
        actor_id=world.scheduler.pk, outcome=AuditEvent.Outcome.DENIED
    ).exists()


@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_a_response_for_a_patient_not_yours_is_404(world, who):
    response = fhir_as(getattr(world, who)).post(QR_TYPE, qr_body(world.patient.pk, [0] * 9))
    assert issue_of(response, 404)["code"] == "not-found"
    assert not Response.objects.exists()


def test_a_read_scope_token_cannot_create_one(world):
    response = fhir_as(world.cm, ("fhir:read",)).post(QR_TYPE, qr_body(world.patient.pk, [0] * 9))
    issue_of(response, 403)
    assert not Response.objects.exists()


def _without_item_9(body: dict) -> dict:
    body["item"] = body["item"][:8]
    return body


def _bad_option(body: dict) -> dict:
    body["item"][0]["answer"][0]["valueCoding"]["code"] = "LA-nonsense"
    return body


def _two_answers(body: dict) -> dict:
    body["item"][0]["answer"] = body["item"][0]["answer"] * 2
    return body


BAD = [
    ({"subject": None}, 400, "required", "QuestionnaireResponse.subject", "Patient/<id>"),
    ({"subject": {"reference": "Group/1"}}, 400, "invalid", "QuestionnaireResponse.subject", ""),
    ({"status": "in-progress"}, 422, "business-rule", "QuestionnaireResponse.status", "completed"),
    ({"status": "done"}, 400, "invalid", "QuestionnaireResponse.status", "unknown code"),
    ({"questionnaire": None}, 400, "invalid", "QuestionnaireResponse.questionnaire", "missing"),
    (
        {"questionnaire": "http://example.org/Questionnaire/unknown"},
        422,
        "not-found",
        "QuestionnaireResponse.questionnaire",
        "uploads the Questionnaire",
    ),
    (
        {"item": [{"linkId": "99", "answer": [{"valueInteger": 1}]}]},
        422,
        "value",
        "QuestionnaireResponse.item[0].linkId",
        "'99' is not an item",
    ),
    (
        {"item": [{"linkId": "1", "answer": [{"valueInteger": 1}]}]},
        422,
        "value",
        "QuestionnaireResponse.item[0].answer[0].valueInteger",
        "answer with valueCoding",
    ),
    (_bad_option, 422, "code-invalid", "QuestionnaireResponse.item[0].answer[0].valueCoding", ""),
    (_two_answers, 422, "value", "QuestionnaireResponse.item[0]", "one answer only"),
    (
        _without_item_9,
        422,
        "required",
        "QuestionnaireResponse.item.where(linkId='9')",
        "not answered",
    ),
    ({"item": "1"}, 400, "invalid", "QuestionnaireResponse.item", "expected a list"),
    ({"authored": "2026-05-03T15:00:00"}, 400, "invalid", "QuestionnaireResponse.authored", ""),
    (
        {"authored": "0001-01-01T00:00:00+05:00"},
        400,
        "invalid",
        "QuestionnaireResponse.authored",
        "outside",
    ),
]


@pytest.mark.parametrize(("change", "status", "code", "expression", "words"), BAD)
def test_bad_input_is_refused_naming_the_element_and_nothing_is_filed(
    world, change, status, code, expression, words
):
    body = qr_body(world.patient.pk, [1] * 9)
    if callable(change):
        body = change(copy.deepcopy(body))
    else:
        body = {k: v for k, v in {**body, **change}.items() if v is not None}
    issue = issue_of(fhir_as(world.cm).post(QR_TYPE, body), status)
    assert (issue["code"], issue["expression"]) == (code, [expression])
    assert words in issue["diagnostics"]
    assert not Assessment.objects.exists() and not Score.objects.exists()


@pytest.mark.parametrize("pain", [-7, 11, 99])
def test_a_pain_score_outside_the_scale_is_422_naming_the_answer_and_nothing_is_filed(world, pain):
    # The probe's finding: a completed response with pain -7 was filed, signed, with no score.
    nrs = catalog.shipped_by_id("pain-nrs")
    body = qr_body(
        world.patient.pk,
        [0] * 9,
        questionnaire=nrs["url"],
        item=[{"linkId": "pain", "answer": [{"valueInteger": pain}]}],
    )
    issue = issue_of(fhir_as(world.cm).post(QR_TYPE, body), 422)
    assert issue["code"] == "code-invalid"
    assert issue["expression"] == ["QuestionnaireResponse.item[0].answer[0].valueInteger"]
    assert "not one of its answers" in issue["diagnostics"]
    assert not Assessment.objects.exists() and not Score.objects.exists()


def test_a_score_observation_is_refused_since_the_response_carries_it(world):
    response = file_response(world.cm, world.patient, [0] * 9)
    fhir = fhir_as(world.cm)
    score = resource_of(fhir.get(f"Observation/{score_id(current_score(response))}"))
    posted = fhir.post("Observation", {k: v for k, v in score.items() if k != "id"})
    assert issue_of(posted, 422)["expression"] == ["Observation.derivedFrom"]
    assert Score.objects.count() == 1


# --- export and import ----------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path, settings):
    settings.DATA_DIR = tmp_path
    return tmp_path


def run_export(user) -> tuple[export.ExportJob, dict[str, list[dict]]]:
    job = export.create_job(
        audit.Actor(user=user), export_token(user), "https://test/fhir/R4/Patient/$export", [], None
    )
    export.run(job)
    files = {}
    for item in job.output:
        path = export.file_path(job, item["type"])
        files[item["type"]] = [json.loads(line) for line in path.read_text().splitlines()]
    return job, files


def test_bulk_export_writes_responses_and_their_scores(world, data_dir):
    response = file_response(world.cm, world.patient, [2] * 9)
    vital(world.patient, "8867-4", 72)
    _, files = run_export(world.cm)
    (exported,) = files[QR_TYPE]
    assert exported["id"] == qr_id(response)
    scores = [o for o in files["Observation"] if o["id"].startswith("score-")]
    assert [s["valueQuantity"]["value"] for s in scores] == [18]
    assert len(files["Observation"]) == 2
    for resource in [*files[QR_TYPE], *files["Observation"]]:
        assert_valid_r4(resource)


def test_an_export_since_a_time_takes_the_responses_signed_or_amended_since(world, data_dir):
    old = file_response(world.cm, world.patient, [0] * 9, AUTHORED - timedelta(days=60))
    recent = file_response(world.cm, world.patient, [1] * 9)
    since = AUTHORED - timedelta(days=1)

    def exported() -> dict[str, list[str]]:
        types = [QR_TYPE, "Observation"]
        token = export_token(world.cm)
        job = export.create_job(audit.Actor(user=world.cm), token, "https://test/", types, since)
        export.run(job)
        return {
            item["type"]: [
                json.loads(line)["id"]
                for line in export.file_path(job, item["type"]).read_text().splitlines()
            ]
            for item in job.output
        }

    assert exported() == {
        QR_TYPE: [qr_id(recent)],
        "Observation": [score_id(current_score(recent))],
    }
    amend(world.cm, old, [2] * 9)  # amended now: changed since, and so is its new score
    after = exported()
    assert sorted(after[QR_TYPE]) == sorted([qr_id(old), qr_id(recent)])
    assert score_id(current_score(old)) in after["Observation"]


def normalised(resource: dict) -> str:
    """A resource without what each agency writes its own way: ids, meta, who signed."""

    def strip(value):
        if isinstance(value, dict):
            return {
                k: (v.split("/")[0] if k == "reference" else strip(v))
                for k, v in value.items()
                if k not in ("id", "meta", "author")
            }
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(resource), sort_keys=True)


def test_an_exported_response_imported_by_another_agency_scores_the_same(world, data_dir):
    amended = file_response(world.cm, world.patient, [1] * 9)
    amend(world.cm, amended, [3, 3, 3, 2, 2, 2, 1, 1, 0])
    file_response(world.cm, world.patient, [2, 2, 1, 1, 0, 0, 3], questionnaire=GAD7)
    job, first = run_export(world.cm)

    harbor, harbor_branch = make_org("Harbor Home Care")
    receiver = make_user(harbor, harbor_branch, Role.CASE_MANAGER, "cm_harbor")
    paths = [export.file_path(job, kind) for kind in first]
    report = importer.import_files(audit.Actor(user=receiver), harbor, harbor_branch, paths)
    assert report.problem_count == 0, [p.as_dict() for p in report.problems]
    assert report.counts[QR_TYPE]["created"] == 2
    # The scores in the export are not taken in: the responses' own scores are worked out again.
    assert report.counts[importer.DERIVED_SCORE]["not_taken_in"] == 2

    theirs = Score.objects.filter(organization=harbor, current=True)
    ours = Score.objects.filter(organization=world.org, current=True)
    assert sorted(theirs.values_list("questionnaire_url", "key", "value", "band")) == sorted(
        ours.values_list("questionnaire_url", "key", "value", "band")
    )
    assert all(
        a.status == Assessment.Status.SIGNED for a in Assessment.objects.filter(organization=harbor)
    )

    _, second = run_export(receiver)
    for kind in (QR_TYPE, "Observation"):
        before = sorted(normalised(r) for r in first[kind])
        after = sorted(normalised(r) for r in second[kind])
        if kind == QR_TYPE:
            # Imported, the amended response is a completed one with the amended answers.
            before = [b.replace('"status": "amended"', '"status": "completed"') for b in before]
        else:
            before = [b.replace('"status": "amended"', '"status": "final"') for b in before]
        assert after == before, kind


def test_importing_the_same_response_again_changes_nothing_and_a_newer_one_amends(
    world, data_dir, tmp_path
):
    resource = qr_body("p1", [1] * 9, id="ext-qr-1")
    path = tmp_path / "first.json"
    path.write_text(json.dumps(bundle(patient(), resource)))
    actor = audit.Actor(user=world.cm)
    first = importer.import_files(actor, world.org, world.branch, [path])
    assert first.problem_count == 0, [p.as_dict() for p in first.problems]
    assert first.counts[QR_TYPE]["created"] == 1
    saved = Response.objects.get()
    assert SourceRecord.objects.get(resource_type=QR_TYPE).record_id == str(saved.pk)
    assert current_score(saved).value == 9

    again = importer.import_files(actor, world.org, world.branch, [path])
    assert again.counts[QR_TYPE]["unchanged"] == 1 and Response.objects.count() == 1

    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(bundle(patient(), qr_body("p1", [2] * 9, id="ext-qr-1"))))
    updated = importer.import_files(actor, world.org, world.branch, [newer])
    assert updated.counts[QR_TYPE]["updated"] == 1
    assert Response.objects.count() == 1
    (amendment,) = Amendment.objects.filter(response=saved)
    assert "import" in amendment.reason.lower()
    assert current_score(saved).value == 18
    assert Score.objects.filter(response=saved).count() == 2  # the first is kept, superseded


def test_an_import_reports_responses_that_do_not_fit_naming_the_element(world, tmp_path):
    lines = [
        patient(),
        qr_body("p1", [1] * 9, id="good"),
        qr_body("p1", [1] * 9, id="unknown", questionnaire="http://example.org/Questionnaire/x"),
        qr_body("p1", [1] * 9, id="draft", status="in-progress"),
        _bad_option(qr_body("p1", [1] * 9, id="bad-option")),
    ]
    path = tmp_path / "responses.ndjson"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    report = importer.import_files(audit.Actor(user=world.cm), world.org, world.branch, [path])
    assert report.counts[QR_TYPE]["created"] == 1 and report.counts[QR_TYPE]["invalid"] == 3
    problems = {p.resource_id: p for p in report.problems}
    assert problems["unknown"].path == "QuestionnaireResponse.questionnaire"
    assert problems["unknown"].line == 3
    assert problems["draft"].path == "QuestionnaireResponse.status"
    assert problems["bad-option"].path == "QuestionnaireResponse.item[0].answer[0].valueCoding"
    assert Response.objects.count() == 1


def test_an_import_skips_scores_as_derived_and_says_so(world, tmp_path):
    score = {
        "resourceType": "Observation",
        "id": "s1",
        "status": "final",
        "code": {"coding": [{"system": codes.LOINC, "code": "44261-6"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-05-03T15:00:00+00:00",
        "valueQuantity": {"value": 27},
        "derivedFrom": [{"reference": "QuestionnaireResponse/qr1"}],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle(patient(), qr_body("p1", [1] * 9, id="qr1"), score)))
    report = importer.import_files(audit.Actor(user=world.cm), world.org, world.branch, [path])
    assert report.ok
    assert report.counts[importer.DERIVED_SCORE] == {
        **dict.fromkeys(importer.OUTCOMES, 0),
        "not_taken_in": 1,
    }
    assert "Observation" not in report.counts
    (kept,) = Score.objects.all()
    assert kept.value == 9  # worked out from the answers, not the 27 the Observation claimed


def test_a_newer_response_cannot_move_to_another_patient(world, tmp_path):
    actor = audit.Actor(user=world.cm)
    first = tmp_path / "first.ndjson"
    first.write_text(
        "\n".join(json.dumps(r) for r in (patient(), qr_body("p1", [1] * 9, id="qr1")))
    )
    importer.import_files(actor, world.org, world.branch, [first])
    moved = tmp_path / "moved.ndjson"
    other = patient("p2", mrn="H-2002", family="Mensah")
    moved.write_text("\n".join(json.dumps(r) for r in (other, qr_body("p2", [2] * 9, id="qr1"))))
    report = importer.import_files(actor, world.org, world.branch, [moved])
    (problem,) = report.problems
    assert problem.path == "QuestionnaireResponse.subject"
    assert not Amendment.objects.exists()

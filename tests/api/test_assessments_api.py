"""The assessments endpoints as an integrator uses them: a patient's assessments and scores, one
assessment whole, and saving one questionnaire of a section; who may do what (the member can, a
read-only team member cannot write, anyone else gets 404), the audit trail, the 409 of a stale
save, and answers that do not fit their Questionnaire refused naming the item."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from careway.assessments import catalog, services, template
from careway.assessments.models import Assessment, Response, Score
from careway.assessments.questionnaires import response_items
from careway.core import audit
from careway.core.models import AuditEvent
from tests.api.conftest import problem_fields
from tests.assessments import fill

pytestmark = pytest.mark.django_db

PHQ9 = catalog.shipped_by_id("phq-9")
GAD7 = catalog.shipped_by_id("gad-7")
AUTHORED = datetime(2026, 5, 3, 15, 0, tzinfo=UTC)
# PHQ-9 answers adding up to 16 (moderately severe), item 9 (self-harm) answered "not at all".
POINTS_16 = [2] * 8 + [0]


def page_answers(questionnaire: dict, points: list[int]) -> dict[str, list[dict]]:
    """The answers as the assessment page posts them: each the option as the Questionnaire
    writes it."""
    return {
        question["linkId"]: [dict(question["answerOption"][chosen])]
        for question, chosen in zip(questionnaire["item"], points, strict=True)
    }


def items_of(questionnaire: dict, points: list[int]) -> list[dict]:
    """QuestionnaireResponse.item as a client sends them (plain codings)."""
    out = []
    for question, chosen in zip(questionnaire["item"], points, strict=True):
        option = question["answerOption"][chosen]["valueCoding"]
        coding = {k: option[k] for k in ("system", "code", "display") if k in option}
        out.append({"linkId": question["linkId"], "answer": [{"valueCoding": coding}]})
    return out


def signed(user, patient, points=POINTS_16, when=AUTHORED, questionnaire=PHQ9) -> Response:
    items = response_items(questionnaire, page_answers(questionnaire, points))
    return services.record_response(
        audit.Actor(user=user), patient, questionnaire["url"], items, when
    )


def phq9_section(time_point: str = "follow-up") -> str:
    for section in template.comprehensive().sections_for(time_point):
        if any(part.questionnaire == "phq-9" for part in section.parts):
            return section.key
    raise AssertionError("no section of the template asks the PHQ-9")


@pytest.fixture
def draft(world) -> Assessment:
    return services.start_assessment(audit.Actor(user=world.cm), world.patient, "follow-up")


def save_url(assessment: Assessment, section: str | None = None) -> str:
    return f"/assessments/{assessment.pk}/sections/{section or phq9_section()}"


def save_body(points: list[int] | None = None, version: int = 0, **change) -> dict:
    body = {
        "questionnaire_url": PHQ9["url"],
        "version": version,
        "items": items_of(PHQ9, points or [1] * 9),
    }
    return {**body, **change}


# --- a patient's assessments ----------------------------------------------------------------------


def test_a_patients_assessments_list_the_latest_visit_first_with_their_scores(world, api_as, draft):
    older = signed(world.cm, world.patient, [0] * 9, AUTHORED - timedelta(days=30))
    newer = signed(world.cm, world.patient, POINTS_16)
    body = api_as(world.cm).get(f"/patients/{world.patient.pk}/assessments").json()
    assert body["count"] == 3
    listed = body["items"]
    assert [a["id"] for a in listed] == [
        str(a.pk) for a in sorted([draft, older.assessment, newer.assessment], key=_by_visit)
    ]
    first = next(a for a in listed if a["id"] == str(newer.assessment_id))
    assert (first["status"], first["time_point"], first["signed_by"]) == (
        "signed",
        "follow-up",
        world.cm.display_name,
    )
    assert first["visit_date"] == "2026-05-03" and first["template"] == "imported"
    (score,) = first["scores"]
    assert (score["key"], score["value"], score["band"], score["code"]) == (
        "total",
        16,
        "Moderately severe",
        "44261-6",
    )
    waiting = next(a for a in listed if a["id"] == str(draft.pk))
    assert (waiting["status"], waiting["signed_at"], waiting["scores"]) == ("draft", None, [])


def _by_visit(assessment: Assessment):
    return (-assessment.visit_date.toordinal(), -assessment.created_at.timestamp())


def test_listing_is_audited_as_a_view_of_the_patients_assessments(world, api_as):
    signed(world.cm, world.patient)
    api_as(world.cm).get(f"/patients/{world.patient.pk}/assessments")
    event = AuditEvent.objects.filter(action="patient.view", actor_id=world.cm.pk).latest("seq")
    assert event.patient_id == world.patient.pk
    assert event.detail == {"section": "assessments", "via": "api"}


def test_a_read_only_team_member_reads_assessments_and_scores(world, api_as):
    signed(world.cm, world.patient)
    api = api_as(world.scheduler)
    assert api.get(f"/patients/{world.patient.pk}/assessments").json()["count"] == 1
    assert api.get(f"/patients/{world.patient.pk}/scores").json()["count"] == 1


@pytest.mark.parametrize("path", ["assessments", "scores"])
@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_others_get_404_for_a_patients_assessments_and_scores(world, api_as, who, path):
    signed(world.cm, world.patient)
    user = getattr(world, who)
    response = api_as(user).get(f"/patients/{world.patient.pk}/{path}")
    assert response.status_code == 404
    absent = api_as(user).get(f"/patients/{uuid.uuid4()}/{path}")
    assert absent.json() == response.json()
    assert AuditEvent.objects.filter(
        actor_id=user.pk, patient_id=world.patient.pk, outcome=AuditEvent.Outcome.DENIED
    ).exists()


# --- one assessment -------------------------------------------------------------------------------


def test_a_signed_assessment_reads_whole_with_answers_scores_findings_and_amendments(world, api_as):
    response = signed(world.cm, world.patient)
    worse = page_answers(PHQ9, [3] * 8 + [0])
    services.amend_response(audit.Actor(user=world.cm), response, worse, "Read back wrongly")
    body = api_as(world.cm).get(f"/assessments/{response.assessment_id}").json()
    assert body["status"] == "signed" and body["amended"] is True
    (section,) = body["sections"]
    assert (section["key"], section["title"]) == ("imported", "Received from another system")
    (answers,) = section["responses"]
    assert answers["fhir_id"] == f"qr-{response.pk}"
    assert answers["title"] == PHQ9["title"]
    assert answers["items"] == response.items  # as signed
    assert answers["effective_items"] == services.effective_items(response)  # as amended
    assert answers["effective_items"] != answers["items"]
    (score,) = body["scores"]  # the amended one; the score it replaced is left out
    assert (score["value"], score["amended"]) == (24, True)
    (amendment,) = body["amendments"]
    assert (amendment["reason"], amendment["signed_by"]) == (
        "Read back wrongly",
        world.cm.display_name,
    )
    assert {f["kind"] for f in body["findings"]} >= {"moderately-severe-depression"}


def test_a_draft_lists_the_sections_its_time_point_asks_and_what_is_saved(world, api_as, draft):
    key = phq9_section()
    services.save_section(
        audit.Actor(user=world.cm),
        draft,
        key,
        [services.SectionAnswers(PHQ9["url"], page_answers(PHQ9, [1] * 9), 0)],
    )
    body = api_as(world.cm).get(f"/assessments/{draft.pk}").json()
    asked = template.comprehensive().sections_for("follow-up")
    assert [s["key"] for s in body["sections"]] == [s.key for s in asked]
    section = next(s for s in body["sections"] if s["key"] == key)
    assert PHQ9["url"] in {q["questionnaire_url"] for q in section["questionnaires"]}
    (saved,) = section["responses"]
    assert (saved["questionnaire_url"], saved["version"]) == (PHQ9["url"], 1)
    assert body["scores"] == [] and body["findings"] == [] and body["amendments"] == []


def test_reading_an_assessment_is_audited_with_the_assessment(world, api_as):
    response = signed(world.cm, world.patient)
    api_as(world.cm).get(f"/assessments/{response.assessment_id}")
    event = AuditEvent.objects.filter(action="patient.view", actor_id=world.cm.pk).latest("seq")
    assert (event.patient_id, event.object_id) == (world.patient.pk, str(response.assessment_id))
    assert event.object_type == "assessments.assessment"


@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_an_assessment_not_yours_is_404_like_one_that_does_not_exist(world, api_as, who):
    response = signed(world.cm, world.patient)
    user = getattr(world, who)
    not_yours = api_as(user).get(f"/assessments/{response.assessment_id}")
    absent = api_as(user).get(f"/assessments/{uuid.uuid4()}")
    assert not_yours.status_code == absent.status_code == 404
    assert not_yours.json() == absent.json()
    assert AuditEvent.objects.filter(actor_id=user.pk, outcome=AuditEvent.Outcome.DENIED).exists()


def test_another_agencys_assessment_is_404_to_its_own_case_manager_too(world, api_as):
    theirs = signed(world.outsider, world.outsider_patient)
    assert api_as(world.cm).get(f"/assessments/{theirs.assessment_id}").status_code == 404
    assert api_as(world.outsider).get(f"/assessments/{theirs.assessment_id}").status_code == 200


# --- scores ---------------------------------------------------------------------------------------


def test_scores_come_newest_first_and_filter_by_instrument_and_key(world, api_as):
    march = signed(world.cm, world.patient, [0] * 9, datetime(2026, 3, 1, tzinfo=UTC))
    gad = signed(world.cm, world.patient, [1] * 7, datetime(2026, 4, 1, tzinfo=UTC), GAD7)
    may = signed(world.cm, world.patient)
    api = api_as(world.cm)
    url = f"/patients/{world.patient.pk}/scores"

    def values(query: str = "") -> list[tuple[str, float]]:
        items = api.get(f"{url}{query}").json()["items"]
        return [(s["questionnaire_url"], s["value"]) for s in items]

    assert values() == [(PHQ9["url"], 16), (GAD7["url"], 7), (PHQ9["url"], 0)]
    assert values("?instrument=phq-9") == [(PHQ9["url"], 16), (PHQ9["url"], 0)]
    assert values(f"?instrument={GAD7['url']}") == [(GAD7["url"], 7)]
    assert values("?instrument=phq-9&key=none") == []
    assert values("?instrument=unknown") == []
    # An amendment replaces its score: only the current one is listed, dated when amended.
    services.amend_response(
        audit.Actor(user=world.cm), march, page_answers(PHQ9, [1] * 8 + [0]), "Corrected"
    )
    listed = api.get(f"{url}?instrument=phq-9").json()["items"]
    assert sorted(s["value"] for s in listed) == [8, 16]
    corrected = Score.objects.get(response=march, current=True)
    assert listed == sorted(listed, key=lambda s: (s["observed_at"], s["id"]), reverse=True)
    assert next(s for s in listed if s["value"] == 8)["id"] == corrected.pk
    assert {gad.pk, may.pk} <= set(Score.objects.values_list("response_id", flat=True))
    event = AuditEvent.objects.filter(action="patient.view", actor_id=world.cm.pk).latest("seq")
    assert event.detail == {"section": "scores", "filters": ["instrument"], "via": "api"}


def test_scores_page_with_links(world, api_as):
    for n in range(3):
        signed(world.cm, world.patient, [n] * 8 + [0], AUTHORED - timedelta(days=n))
    api = api_as(world.cm)
    first = api.get(f"/patients/{world.patient.pk}/scores?limit=2").json()
    assert first["count"] == 3 and [s["value"] for s in first["items"]] == [0, 8]
    assert [s["value"] for s in api.get(first["next"]).json()["items"]] == [16]


# --- saving a section -----------------------------------------------------------------------------


def test_a_case_manager_saves_answers_and_saves_again_from_the_version_read(world, api_as, draft):
    api = api_as(world.cm)
    first = api.post(save_url(draft), save_body([1] * 9))
    assert first.status_code == 201, first.json()
    saved = first.json()
    assert (saved["version"], saved["questionnaire_url"], saved["updated_by"]) == (
        1,
        PHQ9["url"],
        world.cm.display_name,
    )
    # Kept as the page keeps them: each answer the Questionnaire's own option.
    assert saved["items"][0]["answer"][0] == PHQ9["item"][0]["answerOption"][1]
    again = api.post(save_url(draft), save_body([2] * 9, version=1))
    assert again.status_code == 200 and again.json()["version"] == 2
    response = Response.objects.get(assessment=draft)
    assert response.items == again.json()["items"] and response.version == 2
    events = AuditEvent.objects.filter(action="assessment.save", patient_id=world.patient.pk)
    assert events.count() == 2 and events.first().detail["via"] == "api"


def test_a_stale_save_is_409_with_the_current_version_and_changes_nothing(world, api_as, draft):
    api = api_as(world.cm)
    api.post(save_url(draft), save_body([1] * 9))
    api.post(save_url(draft), save_body([2] * 9, version=1))
    stale = api.post(save_url(draft), save_body([3] * 8 + [0], version=1))
    assert stale.status_code == 409
    assert stale["Content-Type"] == "application/problem+json"
    problem = stale.json()
    assert problem["current_version"] == 2 and problem_fields(stale) == ["version"]
    assert "version 2" in problem["detail"]
    assert Response.objects.get(assessment=draft).version == 2
    # Nothing saved yet, but the client thinks there was: a conflict too, with version 0.
    gad = {"questionnaire_url": GAD7["url"], "version": 3, "items": items_of(GAD7, [0] * 7)}
    first_time = api.post(save_url(draft), gad)
    assert first_time.status_code == 409 and first_time.json()["current_version"] == 0
    assert not Response.objects.filter(questionnaire_url=GAD7["url"]).exists()


def test_answers_that_do_not_fit_are_422_naming_the_item_and_nothing_is_saved(world, api_as, draft):
    api = api_as(world.cm)
    bad_option = save_body()
    bad_option["items"][2]["answer"][0]["valueCoding"]["code"] = "LA-nonsense"
    cases = [
        (bad_option, "items[2].answer[0].valueCoding"),
        (save_body(items=[{"linkId": "nine", "answer": [{"valueInteger": 1}]}]), "items[0].linkId"),
        (
            save_body(items=[{"linkId": "1", "answer": [{"valueString": "often"}]}]),
            "items[0].answer[0].valueString",
        ),
        (save_body(items=[{"answer": []}]), "items[0].linkId"),
        (
            save_body(items=[{"linkId": "1", "answer": [{"valueCoding": {"code": "a\x00"}}]}]),
            "items[0].answer[0].valueCoding.code",
        ),
        (save_body(questionnaire_url=GAD7["url"] + "-x"), "questionnaire_url"),
        (save_body(version=-1), "version"),
        (save_body(signed=True), "signed"),
    ]
    for body, field in cases:
        response = api.post(save_url(draft), body)
        assert response.status_code == 422, (field, response.json())
        assert problem_fields(response) == [field], response.json()
    assert not Response.objects.exists()


def test_numbers_outside_their_options_or_range_are_422_naming_the_item(world, api_as, draft):
    # The probe's finding: a pain score of 99 was stored. The pain scale takes 0 to 10 as its
    # answer options; the comfort goal takes an integer from 0 to 10 (minValue, maxValue).
    api = api_as(world.cm)
    nrs, soc_pain = catalog.shipped_by_id("pain-nrs"), catalog.shipped_by_id("soc-pain")
    cases = [
        (
            nrs,
            [{"linkId": "pain", "answer": [{"valueInteger": 99}]}],
            "items[0].answer[0].valueInteger",
        ),
        (
            nrs,
            [{"linkId": "pain", "answer": [{"valueInteger": -7}]}],
            "items[0].answer[0].valueInteger",
        ),
        (
            soc_pain,
            [
                {"linkId": "has-pain", "answer": [{"valueBoolean": True}]},
                {"linkId": "comfort-goal", "answer": [{"valueInteger": 11}]},
            ],
            "items[1].answer[0].valueInteger",
        ),
    ]
    for questionnaire, items, field in cases:
        body = save_body(questionnaire_url=questionnaire["url"], items=items)
        response = api.post(save_url(draft, "pain"), body)
        assert response.status_code == 422, (field, response.json())
        assert problem_fields(response) == [field], response.json()
    assert not Response.objects.exists()
    kept = api.post(
        save_url(draft, "pain"),
        save_body(
            questionnaire_url=nrs["url"],
            items=[{"linkId": "pain", "answer": [{"valueInteger": 7}]}],
        ),
    )
    assert kept.status_code == 201


def test_a_partial_save_is_kept_as_it_goes(world, api_as, draft):
    # Required answers are needed to sign, not to save: a visit is saved as it goes.
    response = api_as(world.cm).post(save_url(draft), save_body(items=items_of(PHQ9, [1] * 9)[:3]))
    assert response.status_code == 201
    assert [i["linkId"] for i in response.json()["items"]] == ["1", "2", "3"]


def test_a_section_the_assessment_does_not_ask_is_404(world, api_as, draft):
    response = api_as(world.cm).post(save_url(draft, "no-such-section"), save_body())
    assert response.status_code == 404


def sign_everything(user, assessment: Assessment) -> Assessment:
    """Answer every part of every section the time point asks (the first option, or a valid
    value), and sign."""
    actor = audit.Actor(user=user)
    for section in template.comprehensive().sections_for(assessment.time_point):
        parts = [
            services.SectionAnswers(
                catalog.shipped_by_id(part.questionnaire)["url"],
                fill.answers(catalog.shipped_by_id(part.questionnaire)),
                0,
            )
            for part in section.parts
        ]
        services.save_section(actor, assessment, section.key, parts)
    assessment.refresh_from_db()
    return services.sign_assessment(actor, assessment, assessment.version)


def test_a_signed_assessment_is_not_saved_over(world, api_as, draft):
    signed_one = sign_everything(world.cm, draft)
    version = Response.objects.get(assessment=draft, questionnaire_url=PHQ9["url"]).version
    refused = api_as(world.cm).post(save_url(signed_one), save_body(version=version))
    assert refused.status_code == 422
    assert "signed" in refused.json()["detail"] and "amendment" in refused.json()["detail"]
    assert Response.objects.get(assessment=draft, questionnaire_url=PHQ9["url"]).version == version


def test_one_received_from_another_system_has_no_sections_to_fill(world, api_as):
    response = signed(world.cm, world.patient)
    url = f"/assessments/{response.assessment_id}/sections/{phq9_section()}"
    assert api_as(world.cm).post(url, save_body(version=1)).status_code == 404


def test_a_read_only_team_member_may_not_save_and_is_audited(world, api_as, draft):
    response = api_as(world.scheduler).post(save_url(draft), save_body())
    assert response.status_code == 403
    assert not Response.objects.exists()
    assert AuditEvent.objects.filter(
        actor_id=world.scheduler.pk,
        patient_id=world.patient.pk,
        outcome=AuditEvent.Outcome.DENIED,
    ).exists()


@pytest.mark.parametrize("who", ["outsider", "cm_other"])
def test_others_get_404_when_saving_and_nothing_is_saved(world, api_as, draft, who):
    response = api_as(getattr(world, who)).post(save_url(draft), save_body())
    assert response.status_code == 404
    assert not Response.objects.exists()


def test_scopes_hold_a_read_token_cannot_save_and_a_write_token_cannot_read(world, api_as, draft):
    read_only = api_as(world.cm, scopes=("patients:read",))
    refused = read_only.post(save_url(draft), save_body())
    assert refused.status_code == 403 and "patients:write" in refused.json()["detail"]
    write_only = api_as(world.cm, scopes=("patients:write",))
    assert write_only.get(f"/assessments/{draft.pk}").status_code == 403
    assert not Response.objects.exists()


def test_anonymous_requests_get_401(world, api_as, draft):
    anonymous = api_as(None)
    assert anonymous.get(f"/assessments/{draft.pk}").status_code == 401
    assert anonymous.post(save_url(draft), save_body()).status_code == 401
    assert anonymous.get(f"/patients/{world.patient.pk}/scores").status_code == 401


# --- cost -----------------------------------------------------------------------------------------


def count_queries(request) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = request()
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("path", ["assessments", "scores"])
def test_list_query_count_does_not_grow_with_rows(world, api_as, path):
    api = api_as(world.cm)
    url = f"/patients/{world.patient.pk}/{path}"
    signed(world.cm, world.patient)
    api.get(url)  # the first use of a token also stamps last_used_at
    with_one = count_queries(lambda: api.get(url))
    for n in range(1, 10):
        response = signed(world.cm, world.patient, [n % 4] * 8 + [0], AUTHORED - timedelta(n))
        services.amend_response(
            audit.Actor(user=world.cm), response, page_answers(PHQ9, [1] * 9), "Corrected"
        )
    with_ten = count_queries(lambda: api.get(url))
    assert api.get(url).json()["count"] == 10
    assert with_ten == with_one <= 12

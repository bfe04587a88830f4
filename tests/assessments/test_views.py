"""The assessment pages: the three access tests on each, save as you go, signing, amending,
the caseload's due column, and an agency's instruments."""

import json
import re

import pytest
from django.urls import reverse

from careway.assessments import catalog, engine, services, template
from careway.assessments.models import Assessment, BandSetting, Instrument, Response
from careway.core.models import AuditEvent
from tests.assessments import fill
from tests.assessments.test_services import actor, fill_everything, start

pytestmark = pytest.mark.django_db

PHQ2 = catalog.shipped_by_id("phq-2")


def section_url(w, assessment, key):
    return reverse("assessment_section", args=[w.patient.pk, assessment.pk, key])


def first_section(assessment):
    return template.comprehensive().sections_for(assessment.time_point)[0]


def section_with(questionnaire_id):
    for section in template.comprehensive().sections:
        for index, part in enumerate(section.parts):
            if part.questionnaire == questionnaire_id:
                return section, index
    raise AssertionError(questionnaire_id)


def posted(questionnaire, answers, prefix):
    """What the browser posts for these answers (the form's own field names)."""
    from careway.assessments import form

    data = {}
    for field in form.flat_fields(form.form_fields(questionnaire, answers, prefix)):
        for name, value in field.posted_values():
            data.setdefault(name, []).append(value)
    return data


# --- the chart section -----------------------------------------------------------------------


def test_member_sees_what_is_due_and_can_start(login, world):
    page = login(world.cm).get(reverse("chart_section", args=[world.patient.pk, "assessments"]))
    assert page.status_code == 200
    text = page.content.decode()
    # The demo world's start of care was 12 days ago: the start-of-care assessment is overdue.
    assert "Start of care" in text and "Overdue" in text
    assert f'action="{reverse("assessment_start", args=[world.patient.pk])}"' in text


def test_read_only_member_sees_the_section_without_the_start_form(login, world):
    page = login(world.scheduler).get(
        reverse("chart_section", args=[world.patient.pk, "assessments"])
    )
    assert page.status_code == 200
    assert reverse("assessment_start", args=[world.patient.pk]) not in page.content.decode()


@pytest.mark.parametrize("who", ["cm_other", "outsider"])
def test_not_visible_is_404_on_every_assessment_page_and_write(login, world, who):
    assessment = start(world)
    client = login(getattr(world, who))
    pages = [
        reverse("chart_section", args=[world.patient.pk, "assessments"]),
        reverse("assessment", args=[world.patient.pk, assessment.pk]),
        section_url(world, assessment, first_section(assessment).key),
    ]
    for url in pages:
        assert client.get(url).status_code == 404, url
    writes = [
        reverse("assessment_start", args=[world.patient.pk]),
        reverse("assessment_sign", args=[world.patient.pk, assessment.pk]),
        section_url(world, assessment, first_section(assessment).key),
    ]
    for url in writes:
        assert client.post(url, {"time_point": "follow-up", "version": "1"}).status_code == 404
    assert Assessment.objects.count() == 1 and not Response.objects.exists()
    assert AuditEvent.objects.filter(outcome="denied", patient_id=world.patient.pk).exists()


def test_read_only_member_cannot_start_save_or_sign(login, world):
    assessment = start(world)
    client = login(world.scheduler)
    assert client.get(section_url(world, assessment, "history")).status_code == 200
    section, index = section_with("phq-2")
    data = posted(PHQ2, fill.answers(PHQ2), f"q{index}")
    assert client.post(section_url(world, assessment, section.key), data).status_code == 403
    assert client.post(reverse("assessment_start", args=[world.patient.pk])).status_code == 403
    sign = reverse("assessment_sign", args=[world.patient.pk, assessment.pk])
    assert client.post(sign, {"version": assessment.version}).status_code == 403
    assert not Response.objects.exists()


def test_an_assessment_of_another_patient_is_404(login, world):
    other = services.start_assessment(actor(world.outsider), world.outsider_patient, "follow-up")
    url = reverse("assessment", args=[world.patient.pk, other.pk])
    assert login(world.cm).get(url).status_code == 404


# --- starting, saving, signing ---------------------------------------------------------------


def test_starting_goes_to_the_first_section(login, world):
    client = login(world.cm)
    reply = client.post(
        reverse("assessment_start", args=[world.patient.pk]),
        {"time_point": "start-of-care", "visit_date": "2026-12-03"},
    )
    assessment = Assessment.objects.get()
    assert reply.status_code == 302
    assert reply["Location"] == section_url(world, assessment, first_section(assessment).key)
    assert str(assessment.visit_date) == "2026-12-03"


def test_a_bad_visit_date_is_named_and_starts_nothing(login, world):
    client = login(world.cm)
    reply = client.post(
        reverse("assessment_start", args=[world.patient.pk]),
        {"time_point": "start-of-care", "visit_date": "yesterday"},
        follow=True,
    )
    assert "Visit date" in reply.content.decode()
    assert not Assessment.objects.exists()


def test_autosave_keeps_the_answers_and_returns_the_new_versions(login, world):
    assessment = start(world)
    section, index = section_with("phq-2")
    client = login(world.cm)
    data = {**posted(PHQ2, fill.answers(PHQ2, -1), f"q{index}"), f"q{index}:version": "0"}
    reply = client.post(section_url(world, assessment, section.key), data, HTTP_X_AUTOSAVE="1")
    assert reply.status_code == 200
    assert "Saved at" in reply.content.decode()
    assert (
        f'id="q{index}:version"' in reply.content.decode() and 'value="1"' in reply.content.decode()
    )
    # The step list beside the form is sent too: this section is no longer "Not started".
    steps = reply.content.decode().split('id="assessment-steps"', 1)[1]
    mine = steps.split(f"/{section.key}/", 1)[1].split("</li>", 1)[0]
    assert 'hx-swap-oob="true"' in steps.split(">", 1)[0] and "Not started" not in mine
    response = Response.objects.get(assessment=assessment, questionnaire_url=PHQ2["url"])
    page = client.get(section_url(world, assessment, section.key)).content.decode()
    # Reopened later, the section shows what was saved and its score.
    assert response.version == 1
    assert "PHQ-2" in page and "6" in page


def test_a_stale_autosave_is_a_conflict_and_overwrites_nothing(login, world):
    assessment = start(world)
    section, index = section_with("phq-2")
    client = login(world.cm)
    url = section_url(world, assessment, section.key)
    first = {**posted(PHQ2, fill.answers(PHQ2, -1), f"q{index}"), f"q{index}:version": "0"}
    client.post(url, first, HTTP_X_AUTOSAVE="1")
    stale = {**posted(PHQ2, fill.answers(PHQ2, 0), f"q{index}"), f"q{index}:version": "0"}
    reply = client.post(url, stale, HTTP_X_AUTOSAVE="1")
    assert reply.status_code == 409
    assert "another device" in reply.content.decode()
    assert Response.objects.get(questionnaire_url=PHQ2["url"]).version == 1


def test_a_mistyped_number_is_shown_back_with_its_question_and_the_rest_is_kept(login, world):
    assessment = start(world)
    section, index = section_with("soc-vitals")
    vitals = catalog.shipped_by_id("soc-vitals")
    from careway.assessments import form

    data = posted(vitals, {"heart-rate": [72]}, f"q{index}")
    data[form.field_name(f"q{index}", "respiratory-rate")] = ["eighteen"]
    reply = login(world.cm).post(section_url(world, assessment, section.key), data)
    text = reply.content.decode()
    assert reply.status_code == 422
    assert 'value="eighteen"' in text  # what was typed is there to correct, not blanked
    assert "Respiratory rate" in text
    saved = Response.objects.get(assessment=assessment, questionnaire_url=vitals["url"])
    assert any(item["linkId"] == "heart-rate" for item in saved.items)


def test_signing_an_incomplete_assessment_lists_what_is_missing(login, world):
    assessment = start(world)
    reply = login(world.cm).post(
        reverse("assessment_sign", args=[world.patient.pk, assessment.pk]),
        {"version": assessment.version},
    )
    assert reply.status_code == 422
    text = reply.content.decode()
    assert "required answer" in text and first_section(assessment).title in text
    assert Assessment.objects.get().status == "draft"


def test_signing_a_complete_assessment_locks_it_and_shows_its_results(login, world):
    assessment = start(world)
    fill_everything(world, assessment, choice=-1)
    client = login(world.cm)
    reply = client.post(
        reverse("assessment_sign", args=[world.patient.pk, assessment.pk]),
        {"version": assessment.version},
        follow=True,
    )
    text = reply.content.decode()
    assert "Assessment signed" in text and "High" in text
    assert Assessment.objects.get().status == "signed"
    chart = client.get(
        reverse("chart_section", args=[world.patient.pk, "assessments"])
    ).content.decode()
    assert "<svg" in chart and "first score" in chart
    caseload = client.get(reverse("caseload")).content.decode()
    assert "Recertification" in caseload


def test_a_signed_assessment_is_amended_with_a_reason(login, world):
    assessment = start(world)
    fill_everything(world, assessment, choice=-1)
    services.sign_assessment(actor(world.cm), assessment, assessment.version)
    response = Response.objects.get(assessment=assessment, questionnaire_url=PHQ2["url"])
    url = reverse("assessment_amend", args=[world.patient.pk, assessment.pk, response.pk])
    client = login(world.cm)
    assert client.get(url).status_code == 200
    data = posted(PHQ2, fill.answers(PHQ2, 0), "a")
    missing_reason = client.post(url, data)
    assert missing_reason.status_code == 422
    assert "Reason for the correction" in missing_reason.content.decode()
    done = client.post(url, {**data, "reason": "Misheard the answer"})
    assert done.status_code == 302
    assert response.amendments.count() == 1
    assert login(world.scheduler).post(url, {**data, "reason": "x"}).status_code == 403


def test_the_caseload_says_which_assessment_is_due(login, world):
    text = login(world.cm).get(reverse("caseload")).content.decode()
    assert "Assessment due" in text and "Start of care" in text and "Overdue" in text


# --- an agency's instruments -----------------------------------------------------------------


def small_questionnaire(**changes):
    return {
        "resourceType": "Questionnaire",
        "url": "https://example.org/Questionnaire/sleep",
        "version": "1",
        "title": "Sleep check",
        "status": "active",
        "item": [{"linkId": "1", "text": "Sleeping well?", "type": "boolean"}],
        **changes,
    }


def test_only_instrument_managers_see_the_instruments_page(login, world):
    url = reverse("instrument_list")
    assert login(world.admin).get(url).status_code == 200
    assert login(world.cm).get(url).status_code == 404
    assert login(world.auditor).get(url).status_code == 404


def test_an_admin_uploads_a_questionnaire_that_renders_and_says_why_it_is_not_scored(login, world):
    client = login(world.admin)
    reply = client.post(
        reverse("instrument_list"),
        {"questionnaire_json": json.dumps(small_questionnaire())},
        follow=True,
    )
    assert "Sleep check added" in reply.content.decode()
    upload = Instrument.objects.get()
    assert not upload.scorable
    assert "defines no score" in upload.why_not_scored
    assert AuditEvent.objects.filter(action="instrument.upload").exists()


def test_a_broken_upload_is_named_and_nothing_is_added(login, world):
    client = login(world.admin)
    reply = client.post(reverse("instrument_list"), {"questionnaire_json": "{not json"})
    assert reply.status_code == 422 and "not valid JSON" in reply.content.decode()
    reply = client.post(
        reverse("instrument_list"),
        {"questionnaire_json": json.dumps({"resourceType": "Patient"})},
    )
    assert reply.status_code == 422 and "not a FHIR Questionnaire" in reply.content.decode()
    assert not Instrument.objects.exists()
    assert login(world.cm).post(reverse("instrument_list"), {}).status_code == 404


def test_an_agency_sets_its_own_morse_band_edges(login, world):
    morse = catalog.shipped_by_id("morse-fall-scale")
    rule = catalog.scored_instrument(world.org.pk, morse).scores[0]
    url = reverse("instrument_bands", args=["morse-fall-scale", rule.key])
    client = login(world.admin)
    assert client.get(url).status_code == 200
    edges = {}
    for i, band in enumerate(rule.bands):
        edges[f"min-{i}"] = f"{band.low:g}"
        edges[f"max-{i}"] = f"{band.high:g}"
    # Move the high-risk edge from 45 to 51 (the other published convention).
    edges["max-1"], edges["min-2"] = "50", "51"
    assert client.post(url, edges).status_code == 302
    banded = catalog.scored_instrument(world.org.pk, morse)
    assert [(b.low, b.high) for b in banded.scores[0].bands][1:] == [(25, 50), (51, 125)]
    overlapping = {**edges, "max-1": "60"}
    reply = client.post(url, overlapping)
    assert reply.status_code == 422
    assert BandSetting.objects.get().bands[1]["max"] == 50
    assert login(world.cm).get(url).status_code == 404


# --- what the record already holds ------------------------------------------------------------


def test_the_lace_questions_come_filled_from_the_record_with_where_each_came_from(login, world):
    from datetime import UTC, datetime

    from careway.assessments import form
    from careway.patients import services as chart
    from careway.patients.models import Encounter

    def encounter(kind, start, end):
        chart.add_encounter(
            actor(world.cm),
            world.patient,
            {
                "kind": kind,
                "type_display": kind,
                "period_start": datetime(*start, 10, tzinfo=UTC),
                "period_end": datetime(*end, 15, tzinfo=UTC),
            },
        )

    encounter(Encounter.Kind.EMERGENCY, (2026, 10, 2), (2026, 10, 2))  # counts: months before
    encounter(Encounter.Kind.EMERGENCY, (2026, 11, 20), (2026, 11, 20))  # the admission's own
    encounter(Encounter.Kind.INPATIENT, (2026, 11, 20), (2026, 11, 25))
    icd = "http://hl7.org/fhir/sid/icd-10-cm"
    for code, display in [("I50.9", "Heart failure"), ("E11.9", "Type 2 diabetes")]:
        chart.add_condition(
            actor(world.cm), world.patient, {"code_system": icd, "code": code, "display": display}
        )
    assessment = start(world)
    section, index = section_with("lace")
    page = login(world.cm).get(section_url(world, assessment, section.key)).content.decode()

    def value_of(link_id):
        name = form.field_name(f"q{index}", link_id)
        return page.split(f'name="{name}"', 1)[1].split('value="', 1)[1].split('"', 1)[0]

    assert value_of("length-of-stay") == "5"
    assert value_of("charlson") == "3"  # heart failure 2, diabetes 1
    assert value_of("ed-visits") == "1"  # the visit that led to the admission does not count
    emergent = form.field_name(f"q{index}", "emergent")
    assert re.search(rf'name="{emergent}" value="yes"[^>]*checked', page)
    assert "From the record" in page and "I50.9" in page
    # Nothing is saved until the nurse saves the section: the record's answers are a proposal.
    assert not Response.objects.filter(questionnaire_url=catalog.shipped_by_id("lace")["url"])


def test_with_nothing_on_the_record_the_lace_questions_are_asked_empty(login, world):
    from careway.assessments import form

    assessment = start(world)
    section, index = section_with("lace")
    page = login(world.cm).get(section_url(world, assessment, section.key)).content.decode()
    name = form.field_name(f"q{index}", "length-of-stay")
    assert 'value=""' in page.split(f'name="{name}"', 1)[1][:400]
    assert "From the record" not in page


def test_fixed_bands_are_shown_as_fixed_and_not_offered_for_editing(login, world):
    mahc = catalog.shipped_by_id("mahc-10")
    rule = engine.load(mahc).scores[0]
    client = login(world.admin)
    listing = client.get(reverse("instrument_list")).content.decode()
    edit = reverse("instrument_bands", args=["mahc-10", rule.key])
    assert edit not in listing
    assert reverse("instrument_bands", args=["morse-fall-scale", "total"]) in listing
    assert "fixed by its terms" in listing
    assert client.get(edit).status_code == 404
    assert client.post(edit, {"min-0": "0", "max-0": "5"}).status_code == 404
    assert not BandSetting.objects.exists()


@pytest.mark.parametrize(
    "hostile",
    [
        "[" * 100_000 + "]" * 100_000,  # nested past any parser's depth
        json.dumps(
            {"resourceType": "Questionnaire", "url": "urn:x:deep", "status": "active"}
        ).replace(
            '"status"',
            '"item": '
            + '[{"linkId": "g", "type": "group", "item": ' * 900
            + "[]"
            + "}]" * 900
            + ', "status"',
        ),
    ],
)
def test_a_hostile_upload_is_refused_with_a_message_never_an_error(login, world, hostile):
    reply = login(world.admin).post(reverse("instrument_list"), {"questionnaire_json": hostile})
    assert reply.status_code == 422
    assert "nested too deeply" in reply.content.decode()
    assert not Instrument.objects.exists()


def test_another_agencys_instruments_and_band_edges_are_its_own(login, world):
    from careway.core.roles import Role
    from tests.factories import make_user

    login(world.admin).post(
        reverse("instrument_list"), {"questionnaire_json": json.dumps(small_questionnaire())}
    )
    morse = catalog.shipped_by_id("morse-fall-scale")
    rule = catalog.scored_instrument(world.org.pk, morse).scores[0]
    edges = {}
    for i, band in enumerate(rule.bands):
        edges[f"min-{i}"], edges[f"max-{i}"] = f"{band.low:g}", f"{band.high:g}"
    edges["max-1"], edges["min-2"] = "50", "51"
    bands_url = reverse("instrument_bands", args=["morse-fall-scale", rule.key])
    assert login(world.admin).post(bands_url, edges).status_code == 302

    other_admin = make_user(world.other_org, None, Role.AGENCY_ADMIN, "admin_other")
    from django.test import Client

    theirs_client = Client()  # a browser of their own: no messages left from the first admin's
    theirs_client.force_login(other_admin)
    page = theirs_client.get(reverse("instrument_list")).content.decode()
    assert page.count("Morse Fall Scale") and "Sleep check" not in page
    theirs = catalog.scored_instrument(world.other_org.pk, morse).scores[0]
    assert [(b.low, b.high) for b in theirs.bands] == [(b.low, b.high) for b in rule.bands]
    assert small_questionnaire()["url"] not in catalog.entries(
        world.other_org.pk, [small_questionnaire()["url"]]
    )


def test_a_trend_chart_spans_the_scores_range_and_shades_its_risk_bands_as_one(world):
    from django.utils import timezone

    from careway.assessments import queries

    assessment = start(world)
    fill_everything(world, assessment, choice=0)
    services.sign_assessment(actor(world.cm), assessment, assessment.version)
    trends = {t.title: t for t in queries.trends(world.patient, timezone.now())}
    braden = next(t for title, t in trends.items() if title.startswith("Braden"))
    ticks = [float(v) for v in re.findall(r'class="tick y-tick"[^>]*>([-\d.]+)<', braden.svg)]
    assert ticks[0] <= 6 and 23 <= ticks[-1] < 30  # Braden runs 6 to 23
    assert braden.svg.count('class="risk-range"') == 1  # 6-18 as one stretch, no white stripes
    assert 'class="normal-range"' not in braden.svg

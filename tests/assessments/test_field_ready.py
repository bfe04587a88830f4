"""Issue 16, field-ready pages: a signed assessment names its signer (or says the signer was not
recorded), and the Instruments page speaks plainly (no `urn:` ids, no "paste the JSON", its
shipped list really sorted by name)."""

import re

import pytest
from django.urls import reverse

from careway.assessments import services
from careway.assessments.models import Assessment
from tests.assessments.test_services import actor, fill_everything, start

pytestmark = pytest.mark.django_db


def signed(world):
    assessment = start(world)
    fill_everything(world, assessment, choice=-1)
    services.sign_assessment(actor(world.cm), assessment, assessment.version)
    return Assessment.objects.get(pk=assessment.pk)


def text_of(html: str) -> str:
    """The words a person reads: tags dropped, white space folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_signed_assessment_names_its_signer_with_their_discipline(login, world):
    assessment = signed(world)
    name = world.cm.display_name
    client = login(world.cm)
    page = text_of(
        client.get(reverse("assessment", args=[world.patient.pk, assessment.pk])).content.decode()
    )
    assert f"by {name}, RN" in page
    chart = text_of(
        client.get(
            reverse("chart_section", args=[world.patient.pk, "assessments"])
        ).content.decode()
    )
    assert f"{name}, RN" in chart


def test_an_assessment_signed_with_no_person_recorded_says_so_and_never_ends_in_by(login, world):
    assessment = signed(world)
    Assessment.objects.filter(pk=assessment.pk).update(signed_by=None)  # as an import files one
    client = login(world.cm)
    for url in (
        reverse("assessment", args=[world.patient.pk, assessment.pk]),
        reverse("chart_section", args=[world.patient.pk, "assessments"]),
    ):
        page = text_of(client.get(url).content.decode())
        assert "signer not recorded" in page, url
        assert not re.search(r"\bby\s*(Draft|Scores|Signed|$|\.|,)", page), url


def test_the_instruments_page_uses_no_technical_words(login, world):
    page = login(world.admin).get(reverse("instrument_list")).content.decode()
    visible = text_of(re.sub(r"<details.*?</details>", "", page, flags=re.S))
    assert "urn:" not in visible
    assert "paste the JSON" not in visible
    assert "Upload a FHIR Questionnaire file" in visible


def test_the_shipped_instruments_are_listed_by_name_as_the_page_says(login, world):
    page = login(world.admin).get(reverse("instrument_list"))
    titles = [entry.title for entry in page.context["shipped"]]
    assert titles == sorted(titles, key=str.casefold)
    assert "Sorted by name" in page.content.decode()


@pytest.mark.parametrize("section", ["history", "problems", "medications"])
def test_the_chart_beside_a_section_shows_plain_names(login, world, section):
    # Imported conditions and medicines carry SNOMED CT tags ("(disorder)"); the list beside the
    # questions shows the name a nurse says, as the chart does.
    from careway.core import audit as core_audit
    from careway.patients import services as patient_services
    from careway.patients.models import SNOMED

    who = core_audit.Actor(user=None)
    patient_services.add_condition(
        who,
        world.patient,
        {
            "display": "Chronic congestive heart failure (disorder)",
            "code_system": SNOMED,
            "code": "88805009",
        },
    )
    patient_services.add_medication(who, world.patient, {"display": "Sodium fluoride (substance)"})
    assessment = start(world)
    url = reverse("assessment_section", args=[world.patient.pk, assessment.pk, section])
    page = text_of(login(world.cm).get(url).content.decode())
    assert "(disorder)" not in page and "(substance)" not in page


def test_a_timed_test_is_scored_in_seconds_on_the_signed_assessment(login, world):
    # Timed Up and Go counts seconds, not points: the score says so where it is shown.
    assessment = signed(world)
    html = login(world.cm).get(reverse("assessment", args=[world.patient.pk, assessment.pk]))
    cells = re.findall(r'<td class="score-cell"[^>]*>(.*?)</td>', html.content.decode(), re.S)
    timed = [text_of(cell) for cell in cells if "seconds" in cell]
    assert len(timed) == 1 and re.match(r"\s*[\d.]+ seconds", timed[0]), cells

"""Clinical words as a nurse reads them: no SNOMED semantic tags, no bare codes, no system words."""

import pytest
from django.template import Context, Template

from careway.patients.display import coded_as, plain_name, plain_source, role_and_discipline
from careway.patients.models import ICD10CM, RXNORM, SNOMED


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("Chronic congestive heart failure (disorder)", "Chronic congestive heart failure"),
        ("Body mass index 30+ - obesity (finding)", "Body mass index 30+ - obesity"),
        ("Medication review due (situation)", "Medication review due"),
        ("Allergy to mould (substance)", "Allergy to mould"),
        ("Hypertension", "Hypertension"),
        ("Nitroglycerin 0.4 MG/ACTUAT Mucosal Spray", "Nitroglycerin 0.4 MG/ACTUAT Mucosal Spray"),
        # A parenthesis that is not a semantic tag is part of the name.
        ("Diabetes (type 2)", "Diabetes (type 2)"),
        ("Prediabetes (disorder)  ", "Prediabetes"),
        ("", ""),
    ],
)
def test_plain_name_drops_only_a_trailing_semantic_tag(stored, shown):
    assert plain_name(stored) == shown


def test_codes_are_never_bare():
    assert coded_as(SNOMED, "88805009") == "SNOMED CT 88805009"
    assert coded_as(ICD10CM, "I50.9") == "ICD-10-CM I50.9"
    assert coded_as(RXNORM, "564666") == "RxNorm 564666"
    assert coded_as("", "") == ""
    assert coded_as("urn:oid:1.2.3", "X1") == "Code X1"


def test_an_import_is_named_in_plain_words():
    assert plain_source("FHIR import") == "Imported record"
    assert plain_source("Miami Valley Hospital") == "Miami Valley Hospital"


@pytest.mark.parametrize(
    ("role", "discipline", "shown"),
    [
        ("Nurse", "Registered nurse", "Registered nurse"),
        ("Case manager", "Registered nurse", "Case manager · Registered nurse"),
        ("Therapist", "Physical therapist", "Physical therapist"),
        ("Social worker", "Medical social worker", "Medical social worker"),
        ("Nurse", "", "Nurse"),
    ],
)
def test_a_discipline_that_repeats_the_role_is_shown_once(role, discipline, shown):
    assert role_and_discipline(role, discipline) == shown


def test_the_filters_are_there_for_every_template():
    rendered = Template(
        "{% load clinical %}{{ name|plain_name }} · {% coded_as system code %}"
    ).render(Context({"name": "Asthma (disorder)", "system": SNOMED, "code": "195967001"}))
    assert rendered == "Asthma · SNOMED CT 195967001"


@pytest.mark.django_db
def test_no_chart_page_shows_a_semantic_tag_or_the_import_as_referrer(login, world):
    from django.urls import reverse
    from django.utils import timezone

    from careway.core import audit
    from careway.patients import services
    from careway.patients.models import EpisodeOfCare

    system = audit.Actor(user=None)
    services.add_condition(
        system,
        world.patient,
        {
            "display": "Chronic congestive heart failure (disorder)",
            "code_system": SNOMED,
            "code": "88805009",
            "is_primary": True,
        },
    )
    services.add_allergy(
        system,
        world.patient,
        {
            "display": "Allergy to mould (substance)",
            "category": "food",
            "reaction": "Wheal (finding)",
        },
    )
    services.add_encounter(
        system,
        world.patient,
        {
            "kind": "AMB",
            "type_display": "Encounter for check up (procedure)",
            "reason": "Acute bronchitis (disorder)",
            "period_start": timezone.now(),
        },
    )
    EpisodeOfCare.objects.filter(patient=world.patient).update(referral_source="FHIR import")
    client = login(world.cm)
    pages = [reverse("caseload"), reverse("chart", kwargs={"patient_id": world.patient.pk})]
    pages += [
        reverse("chart_section", kwargs={"patient_id": world.patient.pk, "section": section})
        for section in ("conditions", "allergies", "encounters")
    ]
    for url in pages:
        html = client.get(url).content.decode()
        for word in ("(disorder)", "(substance)", "(procedure)", "(finding)", "FHIR import"):
            assert word not in html, (url, word)
    summary = client.get(pages[1]).content.decode()
    assert "Imported record" in summary and "SNOMED CT 88805009" in summary
    assert "Chronic congestive heart failure" in client.get(pages[0]).content.decode()


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("yue", "Cantonese"),
        ("es", "Spanish"),
        ("zh-Hant", "Traditional Chinese"),
        ("hmn", "Hmong"),
        ("so-SO", "Somali"),
        ("xx", "xx"),
    ],
)
def test_a_language_is_named_in_words(code, name):
    from careway.patients.queries import language_name

    assert language_name(code) == name

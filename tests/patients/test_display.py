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

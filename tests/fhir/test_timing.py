"""Visit frequencies as FHIR R4 timings and back: each part a valid ServiceRequest timing, the
round trip exact, and a timing the notation cannot say refused naming the element."""

import pytest
from hypothesis import given, settings

from careway.careplans.frequency import FrequencyError, parse
from careway.fhir import timing
from tests.careplans.test_frequency import frequencies
from tests.fhir.validate import assert_valid_r4


def service_request(elements: dict) -> dict:
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/1"},
        "code": {"text": "Skilled nursing visits"},
        **elements,
    }


def test_each_part_is_its_own_timing_in_order():
    parts = timing.to_fhir(parse("3w1, 2w4, PRN x2 for dyspnea"))
    assert [p["occurrenceTiming"]["repeat"].get("frequency") for p in parts] == [3, 2, None]
    first = parts[0]["occurrenceTiming"]["repeat"]
    assert (first["period"], first["periodUnit"], first["boundsDuration"]["value"]) == (1, "wk", 1)
    assert parts[2] == {
        "occurrenceTiming": {"repeat": {"count": 2}},
        "asNeededCodeableConcept": {"text": "dyspnea"},
    }
    for part in parts:
        assert_valid_r4(service_request(part))


@settings(max_examples=60)
@given(frequencies)
def test_any_frequency_goes_to_fhir_and_back_the_same(frequency):
    parts = timing.to_fhir(frequency)
    for part in parts:
        assert_valid_r4(service_request(part))
    assert timing.from_fhir(parts) == frequency


@pytest.mark.parametrize(
    ("request_elements", "element"),
    [
        ({}, "occurrenceTiming"),
        (
            {
                "occurrenceTiming": {
                    "repeat": {
                        "frequency": 2,
                        "period": 2,
                        "periodUnit": "wk",
                        "boundsDuration": {"value": 2, "code": "wk"},
                    }
                }
            },
            "occurrenceTiming.repeat.period",
        ),
        (
            {
                "occurrenceTiming": {
                    "repeat": {
                        "frequency": 2,
                        "period": 1,
                        "periodUnit": "h",
                        "boundsDuration": {"value": 2, "code": "h"},
                    }
                }
            },
            "occurrenceTiming.repeat.periodUnit",
        ),
        (
            {
                "occurrenceTiming": {
                    "repeat": {
                        "frequency": 2.5,
                        "period": 1,
                        "periodUnit": "wk",
                        "boundsDuration": {"value": 2, "code": "wk"},
                    }
                }
            },
            "occurrenceTiming.repeat.frequency",
        ),
        (
            {"occurrenceTiming": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk"}}},
            "occurrenceTiming.repeat.boundsDuration.value",
        ),
        (
            {"occurrenceTiming": {"repeat": {}}, "asNeededBoolean": True},
            "occurrenceTiming.repeat.count",
        ),
        (
            {
                "occurrenceTiming": {
                    "repeat": {
                        "frequency": 3,
                        "period": 1,
                        "periodUnit": "d",
                        "boundsDuration": {"value": 2, "code": "d"},
                    }
                }
            },
            "occurrenceTiming.repeat.frequency",
        ),
    ],
)
def test_a_timing_the_notation_cannot_say_is_refused_naming_the_element(request_elements, element):
    with pytest.raises(FrequencyError) as refused:
        timing.part_from_fhir(request_elements)
    assert refused.value.part == element


def test_a_timing_beyond_the_notations_limits_is_refused_with_its_message():
    too_many = timing.part_to_fhir(parse("3w1").parts[0])
    too_many["occurrenceTiming"]["repeat"]["frequency"] = 40
    with pytest.raises(FrequencyError, match="asks for 40 visits a week"):
        timing.part_from_fhir(too_many)

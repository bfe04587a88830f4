"""A Questionnaire with every kind of item the form draws (groups, help, units, limits,
enableWhen, choices of every value type, open choices, value sets, quantities, read-only and
hidden items), and an answer to each: what the form, the answer checker and the Questionnaire
model are tested against."""

from typing import Any

from careway.assessments.questionnaires import HIDDEN, ITEM_CONTROL, UNIT_OPTION
from tests.assessments import fill

UNIT = fill.UNIT
EVERYTHING: dict[str, Any] = {
    "resourceType": "Questionnaire",
    "url": "urn:test:everything",
    "item": [
        {"linkId": "intro", "type": "display", "text": "Ask the patient, not the family."},
        {
            "linkId": "vitals",
            "type": "group",
            "text": "Readings",
            "item": [
                {
                    "linkId": "pulse",
                    "type": "integer",
                    "text": "Heart rate",
                    "required": True,
                    "extension": [
                        {"url": UNIT, "valueCoding": {"code": "/min", "display": "beats/min"}},
                        {"url": fill.MIN_VALUE, "valueInteger": 20},
                        {"url": fill.MAX_VALUE, "valueInteger": 250},
                    ],
                },
                {
                    "linkId": "temp",
                    "type": "decimal",
                    "text": "Temperature",
                    "extension": [
                        {"url": fill.MIN_VALUE, "valueDecimal": 85},
                        {"url": fill.MAX_VALUE, "valueDecimal": 110},
                    ],
                },
                {
                    "linkId": "fast",
                    "type": "display",
                    "text": "Pulse above 100",
                    "enableWhen": [{"question": "pulse", "operator": ">", "answerInteger": 100}],
                },
            ],
        },
        {"linkId": "smokes", "type": "boolean", "text": "Smokes", "required": True},
        {
            "linkId": "packs",
            "type": "decimal",
            "text": "Packs a day",
            "required": True,
            "enableWhen": [{"question": "smokes", "operator": "=", "answerBoolean": True}],
        },
        {
            "linkId": "color",
            "type": "choice",
            "text": "Skin colour",
            "answerOption": [
                {"valueCoding": {"system": "urn:s", "code": "pink", "display": "Pink"}},
                {"valueCoding": {"system": "urn:s", "code": "pale", "display": "Pale"}},
            ],
        },
        {
            "linkId": "pale-where",
            "type": "string",
            "text": "Where pale",
            "maxLength": 20,
            "enableWhen": [
                {
                    "question": "color",
                    "operator": "=",
                    "answerCoding": {"system": "urn:s", "code": "pale"},
                }
            ],
            "item": [
                {
                    "linkId": "pale-help",
                    "type": "display",
                    "text": "Lips, nail beds or skin",
                    "extension": [
                        {
                            "url": ITEM_CONTROL,
                            "valueCodeableConcept": {"coding": [{"code": "help"}]},
                        }
                    ],
                }
            ],
        },
        {
            "linkId": "aids",
            "type": "open-choice",
            "text": "Walking aids",
            "repeats": True,
            "answerOption": [{"valueString": "Cane"}, {"valueString": "Walker"}],
        },
        {
            "linkId": "lives",
            "type": "open-choice",
            "text": "Lives with",
            "answerOption": [{"valueString": "Alone"}, {"valueString": "Spouse"}],
        },
        {
            "linkId": "stairs",
            "type": "choice",
            "text": "Steps to the door",
            "answerOption": [{"valueInteger": 0}, {"valueInteger": 3}, {"valueInteger": 10}],
        },
        {
            "linkId": "visit-day",
            "type": "choice",
            "text": "Preferred first visit",
            "answerOption": [{"valueDate": "2025-04-01"}, {"valueDate": "2025-04-02"}],
        },
        {"linkId": "notes", "type": "text", "text": "Notes", "maxLength": 200},
        {"linkId": "places", "type": "string", "text": "Places", "repeats": True},
        {"linkId": "born", "type": "date", "text": "Date of birth"},
        {"linkId": "seen", "type": "dateTime", "text": "Seen at"},
        {"linkId": "meds-at", "type": "time", "text": "Medicines taken at"},
        {
            "linkId": "weight",
            "type": "quantity",
            "text": "Weight",
            "extension": [
                {"url": UNIT_OPTION, "valueCoding": {"system": "urn:u", "code": "kg"}},
                {"url": UNIT_OPTION, "valueCoding": {"system": "urn:u", "code": "lb"}},
            ],
        },
        {"linkId": "girth", "type": "quantity", "text": "Calf girth"},
        {
            "linkId": "county",
            "type": "choice",
            "text": "County",
            "answerValueSet": "http://example.org/ValueSet/counties",
        },
        {"linkId": "site", "type": "url", "text": "Pharmacy web site"},
        {"linkId": "mrn", "type": "string", "text": "Record number", "readOnly": True},
        {
            "linkId": "calc",
            "type": "integer",
            "text": "Calculated",
            "extension": [{"url": HIDDEN, "valueBoolean": True}],
        },
        {
            "linkId": "either",
            "type": "string",
            "text": "Asked for smokers or pale skin",
            "enableBehavior": "any",
            "enableWhen": [
                {"question": "smokes", "operator": "=", "answerBoolean": True},
                {"question": "color", "operator": "exists", "answerBoolean": True},
            ],
        },
        {
            "linkId": "smoker-group",
            "type": "group",
            "text": "Smoking history",
            "enableWhen": [{"question": "smokes", "operator": "=", "answerBoolean": True}],
            "item": [{"linkId": "years", "type": "integer", "text": "Years smoked"}],
        },
    ],
}

ALL_ANSWERS = {
    "pulse": [{"valueInteger": 72}],
    "temp": [{"valueDecimal": 98.6}],
    "smokes": [{"valueBoolean": True}],
    "packs": [{"valueDecimal": 0.5}],
    "color": [{"valueCoding": {"system": "urn:s", "code": "pale", "display": "Pale"}}],
    "pale-where": [{"valueString": "Nail beds"}],
    "aids": [{"valueString": "Walker"}, {"valueString": "Grab bars"}],
    "lives": [{"valueString": "Daughter"}],
    "stairs": [{"valueInteger": 3}],
    "visit-day": [{"valueDate": "2025-04-02"}],
    "notes": [{"valueString": "Lives upstairs.\nKey under the mat."}],
    "places": [{"valueString": "Kitchen"}, {"valueString": "Porch"}],
    "born": [{"valueDate": "1941-02-03"}],
    "seen": [{"valueDateTime": "2025-03-31T14:30:00Z"}],
    "meds-at": [{"valueTime": "08:00:00"}],
    "weight": [{"valueQuantity": {"value": 61.5, "unit": "kg", "system": "urn:u", "code": "kg"}}],
    "girth": [{"valueQuantity": {"value": 33, "unit": "cm"}}],
    "county": [{"valueCoding": {"display": "Dane"}}],
    "site": [{"valueUri": "https://pharmacy.example.org/"}],
    "mrn": [{"valueString": "MRN-001"}],
    "calc": [{"valueInteger": 4}],
    "either": [{"valueString": "yes"}],
    "years": [{"valueInteger": 30}],
}

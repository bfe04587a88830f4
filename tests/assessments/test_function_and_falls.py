"""Katz ADL, Lawton IADL, Morse Fall Scale and Timed Up and Go as shipped: range, every band
edge, a worked example and the direction of the total. Sources and the band edges chosen are
cited in each content file; worked examples are computed by the published scoring rules."""

import pytest
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from careway.assessments import engine, instruments

KATZ = ["bathing", "dressing", "toileting", "transferring", "continence", "feeding"]
LAWTON = ["telephone", "shopping", "food", "housekeeping", "laundry", "transport",
          "medication", "finances"]  # fmt: skip
# Each Lawton domain's answers, best first, with the points Lawton & Brody 1969 give them.
LAWTON_POINTS = {
    "telephone": {"a": 1, "b": 1, "c": 1, "d": 0},
    "shopping": {"a": 1, "b": 0, "c": 0, "d": 0},
    "food": {"a": 1, "b": 0, "c": 0, "d": 0},
    "housekeeping": {"a": 1, "b": 1, "c": 1, "d": 1, "e": 0},
    "laundry": {"a": 1, "b": 1, "c": 0},
    "transport": {"a": 1, "b": 1, "c": 1, "d": 0, "e": 0},
    "medication": {"a": 1, "b": 0, "c": 0},
    "finances": {"a": 1, "b": 1, "c": 0},
}
# Each Morse item's answers, least risk first, with the points Morse 1989 gives them.
MORSE = {
    "history": {"no": 0, "yes": 25},
    "diagnosis": {"no": 0, "yes": 15},
    "aid": {"none": 0, "device": 15, "furniture": 30},
    "iv": {"no": 0, "yes": 20},
    "gait": {"normal": 0, "weak": 10, "impaired": 20},
    "mental": {"oriented": 0, "forgets": 15},
}


def coded(system: str, answers: dict[str, str]) -> dict:
    items = [
        {"linkId": link, "answer": [{"valueCoding": {"system": system, "code": f"{link}-{code}"}}]}
        for link, code in answers.items()
    ]
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}


def total(qid: str, response: dict) -> engine.Score:
    return engine.score(instruments.instrument(qid), response).scores["total"]


def katz(independent: list[bool]) -> dict:
    answers = {
        link: "independent" if ok else "dependent"
        for link, ok in zip(KATZ, independent, strict=True)
    }
    return coded("urn:careway:fhir:katz-adl", answers)


def lawton(answers: dict[str, str]) -> dict:
    return coded("urn:careway:fhir:lawton-iadl", answers)


def morse(answers: dict[str, str]) -> dict:
    return coded("urn:careway:fhir:morse-fall-scale", answers)


def tug(seconds) -> engine.Result:
    response = {"resourceType": "QuestionnaireResponse", "item": [
        {"linkId": "seconds", "answer": [{"valueDecimal": seconds}]}]}  # fmt: skip
    return engine.score(instruments.instrument("tug"), response)


# --- Katz ADL -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("independent", "band", "flag"),
    [(0, "Severe impairment", "adl-dependence"), (2, "Severe impairment", "adl-dependence"),
     (3, "Moderate impairment", ""), (4, "Moderate impairment", ""),
     (5, "Moderate impairment", ""), (6, "Full function", "")],
)  # fmt: skip
def test_katz_every_band_edge(independent, band, flag):
    # Hartford "Try This" Issue 2: 6 full function, 4 moderate, 2 or less severe impairment.
    score = total("katz-adl", katz([True] * independent + [False] * (6 - independent)))
    assert (score.value, score.band.label, score.band.flag) == (independent, band, flag)
    assert (score.minimum, score.maximum) == (0, 6)


def test_katz_worked_example_names_the_dependence_on_the_chart():
    # Independent in feeding and continence only, dependent in bathing, dressing, toileting and
    # transferring: 2 points, severe impairment.
    answers = {"bathing": False, "dressing": False, "toileting": False, "transferring": False,
               "continence": True, "feeding": True}  # fmt: skip
    result = engine.score(instruments.instrument("katz-adl"), katz(list(answers.values())))
    assert result.scores["total"].value == 2
    assert result.flags == ["adl-dependence"]


def test_katz_one_activity_left_out_gives_no_total():
    response = katz([True] * 6)
    response["item"] = [i for i in response["item"] if i["linkId"] != "feeding"]
    score = total("katz-adl", response)
    assert score.value is None and "feeding not answered" in score.why_not


@given(st.lists(st.booleans(), min_size=6, max_size=6), st.integers(0, 5))
def test_katz_stays_in_range_and_falls_when_an_activity_is_lost(independent, which):
    before = total("katz-adl", katz(independent)).value
    assert 0 <= before <= 6 and before == sum(independent)
    worse = list(independent)
    worse[which] = False
    after = total("katz-adl", katz(worse)).value
    assert after == before - (1 if independent[which] else 0)


# --- Lawton IADL --------------------------------------------------------------------------------


def test_lawton_runs_from_0_to_8_without_bands():
    best = total("lawton-iadl", lawton({link: "a" for link in LAWTON}))
    worst = total("lawton-iadl", lawton({link: list(LAWTON_POINTS[link])[-1] for link in LAWTON}))
    assert (best.value, worst.value) == (8, 0)
    assert (best.minimum, best.maximum) == (0, 8)
    # Lawton & Brody publish no cut-points: Careway shows the total and raises nothing.
    assert best.band is None and worst.band is None


@pytest.mark.parametrize(("link", "points"), LAWTON_POINTS.items())
def test_lawton_every_answer_carries_its_published_point(link, points):
    for code, point in points.items():
        answers = {other: "a" for other in LAWTON}
        answers[link] = code
        assert total("lawton-iadl", lawton(answers)).value == 7 + point, (link, code)


def test_lawton_worked_example():
    # Uses the telephone, needs help to shop, heats ready meals, does light housework, washes
    # small items, travels by taxi with help, takes medicines from a prepared dosette, pays for
    # day-to-day things but not bills: 1+0+0+1+1+0+0+1 = 4.
    answers = {"telephone": "a", "shopping": "c", "food": "c", "housekeeping": "b",
               "laundry": "b", "transport": "d", "medication": "b", "finances": "b"}  # fmt: skip
    result = engine.score(instruments.instrument("lawton-iadl"), lawton(answers))
    assert result.scores["total"].value == 4 and result.flags == []


@given(st.fixed_dictionaries({link: st.sampled_from(list(p)) for link, p in LAWTON_POINTS.items()}),
       st.sampled_from(LAWTON))  # fmt: skip
def test_lawton_stays_in_range_and_never_rises_when_an_answer_gets_worse(answers, which):
    before = total("lawton-iadl", lawton(answers)).value
    assert 0 <= before <= 8
    assert before == sum(LAWTON_POINTS[link][code] for link, code in answers.items())
    options = list(LAWTON_POINTS[which])
    worse = dict(
        answers, **{which: options[min(len(options) - 1, options.index(answers[which]) + 1)]}
    )
    after = total("lawton-iadl", lawton(worse)).value
    change = LAWTON_POINTS[which][worse[which]] - LAWTON_POINTS[which][answers[which]]
    assert after == before + change and change <= 0


# --- Morse Fall Scale ---------------------------------------------------------------------------


def morse_answers(points: dict[str, int]) -> dict[str, str]:
    """Answer codes for the given points of each item (items not named score 0)."""
    out = {}
    for link, options in MORSE.items():
        wanted = points.get(link, 0)
        out[link] = next(code for code, p in options.items() if p == wanted)
    return out


@pytest.mark.parametrize(
    ("points", "value", "band", "flag"),
    [
        ({}, 0, "Low risk", ""),
        ({"gait": 20}, 20, "Low risk", ""),
        ({"history": 25}, 25, "Moderate risk", ""),
        ({"aid": 30, "gait": 10}, 40, "Moderate risk", ""),
        ({"diagnosis": 15, "aid": 30}, 45, "High risk", "high-fall-risk"),
        ({"history": 25, "diagnosis": 15}, 40, "Moderate risk", ""),
        ({"history": 25, "aid": 15, "gait": 10}, 50, "High risk", "high-fall-risk"),
        ({"history": 25, "diagnosis": 15, "aid": 30, "iv": 20, "gait": 20, "mental": 15},
         125, "High risk", "high-fall-risk"),
    ],
)  # fmt: skip
def test_morse_every_band_edge(points, value, band, flag):
    # Careway's edges (see the source extension): 0-24 low, 25-44 moderate, 45 and above high.
    # Morse totals move in steps of 5, so 20/25 and 40/45 are the totals either side of an edge.
    score = total("morse-fall-scale", morse(morse_answers(points)))
    assert (score.value, score.band.label, score.band.flag) == (value, band, flag)
    assert (score.minimum, score.maximum) == (0, 125)
    assert score.code == {"system": "http://loinc.org", "code": "59460-6"}


def test_morse_worked_example():
    # Fell last month (25), several diagnoses (15), walks with a frame (15), no IV (0), weak gait
    # (10), knows their limits (0): 65, high risk.
    answers = {"history": "yes", "diagnosis": "yes", "aid": "device", "iv": "no",
               "gait": "weak", "mental": "oriented"}  # fmt: skip
    result = engine.score(instruments.instrument("morse-fall-scale"), morse(answers))
    assert result.scores["total"].value == 65
    assert result.flags == ["high-fall-risk"]


@given(st.fixed_dictionaries({link: st.sampled_from(list(p)) for link, p in MORSE.items()}),
       st.sampled_from(list(MORSE)))  # fmt: skip
def test_morse_stays_in_range_and_rises_when_an_answer_gets_worse(answers, which):
    before = total("morse-fall-scale", morse(answers)).value
    assert 0 <= before <= 125
    options = list(MORSE[which])
    index = options.index(answers[which])
    worse = dict(answers, **{which: options[min(len(options) - 1, index + 1)]})
    after = total("morse-fall-scale", morse(worse)).value
    assert after == before + MORSE[which][worse[which]] - MORSE[which][answers[which]]
    assert after >= before and (after > before) == (index < len(options) - 1)


# --- Timed Up and Go ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "band", "flags"),
    [(0, "Within normal limits", []), (7.5, "Within normal limits", []),
     (11.99, "Within normal limits", []), (11.9999, "Within normal limits", []),
     (12, "Higher fall risk", ["high-fall-risk"]), (12.01, "Higher fall risk", ["high-fall-risk"]),
     (30, "Higher fall risk", ["high-fall-risk"])],
)  # fmt: skip
def test_tug_twelve_seconds_or_more_is_higher_fall_risk(seconds, band, flags):
    # CDC STEADI: 12 seconds or more to complete the TUG means a higher risk of falling.
    result = tug(seconds)
    assert (result.scores["tug"].value, result.scores["tug"].band.label) == (seconds, band)
    assert result.flags == flags


def test_tug_a_time_just_under_twelve_is_never_left_without_a_band():
    # Scores are rounded to four places, so 11.99996 s is 12.0 and counts as 12 seconds.
    assert tug(11.99994).scores["tug"].band.label == "Within normal limits"
    assert tug(11.99996).scores["tug"].band.label == "Higher fall risk"


def test_tug_claims_no_fixed_range_and_a_missing_time_gives_no_score():
    result = tug(9.4)
    assert (result.scores["tug"].minimum, result.scores["tug"].maximum) == (None, None)
    empty = engine.score(instruments.instrument("tug"), {"resourceType": "QuestionnaireResponse"})
    assert empty.scores["tug"].value is None and empty.unanswered == ["seconds"]


# --- shipped ------------------------------------------------------------------------------------


def test_the_command_lists_the_function_and_falls_instruments(capsys):
    call_command("instruments", "list")
    listed = capsys.readouterr().out
    for qid in ("katz-adl", "lawton-iadl", "morse-fall-scale", "tug"):
        assert qid in listed


@pytest.mark.parametrize("qid", ["katz-adl", "lawton-iadl", "morse-fall-scale", "tug"])
def test_each_file_cites_its_source_wording_and_terms(qid):
    questionnaire = instruments.shipped()[qid]
    urls = {ext["url"] for ext in questionnaire["extension"]}
    assert {engine.CAREWAY + "source", engine.CAREWAY + "wording"} <= urls
    assert questionnaire["copyright"]
    assert instruments.instrument(qid).scorable

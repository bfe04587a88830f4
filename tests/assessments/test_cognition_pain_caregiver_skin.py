"""The Braden Scale, Mini-Cog, 0-10 pain rating and Modified Caregiver Strain Index as shipped:
range, every band edge, worked examples and the direction of the total. Sources are cited in
each content file; worked examples here are computed by the published scoring rules."""

import pytest
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from careway.assessments import engine, instruments

BRADEN = ["sensory", "moisture", "activity", "mobility", "nutrition", "friction"]
BRADEN_TOP = [4, 4, 4, 4, 4, 3]
MCSI = [
    "sleep", "inconvenient", "physical", "confining", "family", "plans", "demands",
    "emotional", "behaviour", "changed", "work", "financial", "overwhelmed",
]  # fmt: skip
MCSI_CODES = {0: "no", 1: "sometimes", 2: "regular"}


def coded(system: str, answers: dict[str, str]) -> dict:
    items = [
        {"linkId": link, "answer": [{"valueCoding": {"system": system, "code": code}}]}
        for link, code in answers.items()
    ]
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}


def braden(points: list[int]) -> dict:
    codes = {link: f"{link}-{p}" for link, p in zip(BRADEN, points, strict=True)}
    return coded("urn:careway:fhir:braden", codes)


def mini_cog(recall: int, clock_normal: bool) -> dict:
    clock = "clock-normal" if clock_normal else "clock-abnormal"
    return coded("urn:careway:fhir:mini-cog", {"recall": f"recall-{recall}", "clock": clock})


def pain(value) -> dict:
    return {"resourceType": "QuestionnaireResponse", "item": [
        {"linkId": "pain", "answer": [{"valueInteger": value}]}]}  # fmt: skip


def mcsi(points: list[int]) -> dict:
    codes = {link: MCSI_CODES[p] for link, p in zip(MCSI, points, strict=True)}
    return coded("urn:careway:fhir:mcsi", codes)


def scored(qid: str, response: dict) -> engine.Result:
    return engine.score(instruments.instrument(qid), response)


def braden_spread(total: int) -> list[int]:
    """Subscale points (1-4, friction 1-3) that add up to `total` (6-23)."""
    points = [1] * 6
    extra = total - 6
    for index, top in enumerate(BRADEN_TOP):
        step = min(top - 1, extra)
        points[index] += step
        extra -= step
    assert extra == 0
    return points


# --- Braden ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band", "flagged"),
    [
        (23, "No risk", False),
        (19, "No risk", False),
        (18, "At risk", True),
        (15, "At risk", True),
        (14, "Moderate risk", True),
        (13, "Moderate risk", True),
        (12, "High risk", True),
        (10, "High risk", True),
        (9, "Very high risk", True),
        (6, "Very high risk", True),
    ],
)
def test_braden_every_band_edge(total, band, flagged):
    # Bergstrom/Braden risk levels: 19-23 none, 15-18 at risk, 13-14 moderate, 10-12 high,
    # 9 or less very high; Careway flags 18 and below.
    result = scored("braden-scale", braden(braden_spread(total)))
    score = result.scores["total"]
    assert (score.value, score.band.label) == (total, band)
    assert (score.minimum, score.maximum) == (6, 23)
    assert (result.flags == ["pressure-injury-risk"]) is flagged


def test_braden_worked_example_and_extremes():
    # Slightly limited sensation (3), often damp (2), chairfast (2), slightly limited mobility
    # (3), probably inadequate nutrition (2), potential friction problem (2): 14, moderate risk.
    score = scored("braden-scale", braden([3, 2, 2, 3, 2, 2])).scores["total"]
    assert (score.value, score.band.label) == (14, "Moderate risk")
    assert scored("braden-scale", braden([1] * 6)).scores["total"].value == 6
    assert scored("braden-scale", braden(BRADEN_TOP)).scores["total"].value == 23


def test_braden_friction_has_no_fourth_level_and_a_missing_subscale_is_named():
    bad_response = braden([4, 4, 4, 4, 4, 3])
    bad_response["item"][5]["answer"][0]["valueCoding"]["code"] = "friction-4"
    bad = scored("braden-scale", bad_response).scores["total"]
    assert bad.value is None and "friction carries no points" in bad.why_not
    partial = braden([4, 4, 4, 4, 4, 3])
    del partial["item"][4]
    result = scored("braden-scale", partial)
    assert result.scores["total"].value is None and result.unanswered == ["nutrition"]
    assert "nutrition not answered" in result.scores["total"].why_not


@given(
    st.tuples(*(st.integers(1, top) for top in BRADEN_TOP)).map(list),
    st.integers(0, 5),
)
def test_braden_stays_in_range_and_falls_when_a_subscale_gets_worse(points, which):
    before = scored("braden-scale", braden(points)).scores["total"].value
    assert 6 <= before <= 23
    worse = list(points)
    worse[which] = max(1, worse[which] - 1)  # for Braden, worse means fewer points
    after = scored("braden-scale", braden(worse)).scores["total"].value
    assert after == before - (points[which] - worse[which])
    assert after <= before


# --- Mini-Cog -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recall", "clock_normal", "total", "positive"),
    [
        (0, False, 0, True),
        (2, False, 2, True),
        (0, True, 2, True),
        (1, True, 3, False),
        (3, False, 3, False),
        (3, True, 5, False),
    ],
)
def test_mini_cog_total_under_three_is_a_positive_screen(recall, clock_normal, total, positive):
    # mini-cog.com scoring: a point per word recalled, 2 for a normal clock; 0-2 is positive.
    result = scored("mini-cog", mini_cog(recall, clock_normal))
    score = result.scores["total"]
    assert score.value == total and (score.minimum, score.maximum) == (0, 5)
    assert (result.flags == ["possible-cognitive-impairment"]) is positive
    assert score.band.label == ("Positive screen" if positive else "Negative screen")


@pytest.mark.parametrize("recall", [0, 1, 2, 3])
@pytest.mark.parametrize("clock_normal", [False, True])
def test_mini_cog_total_agrees_with_borsons_original_algorithm(recall, clock_normal):
    # Borson 2000: no word recalled, or 1-2 recalled with an abnormal clock, screens positive;
    # 3 words, or 1-2 with a normal clock, screens negative. The 0-5 total says the same.
    original = recall == 0 or (recall < 3 and not clock_normal)
    flags = scored("mini-cog", mini_cog(recall, clock_normal)).flags
    assert (flags == ["possible-cognitive-impairment"]) is original


@given(st.integers(0, 3), st.booleans(), st.booleans())
def test_mini_cog_stays_in_range_and_falls_when_a_task_gets_worse(recall, clock, worse_recall):
    before = scored("mini-cog", mini_cog(recall, clock)).scores["total"].value
    assert 0 <= before <= 5
    if worse_recall:
        after = scored("mini-cog", mini_cog(max(0, recall - 1), clock)).scores["total"].value
        assert after == before - (1 if recall else 0)
    else:
        after = scored("mini-cog", mini_cog(recall, False)).scores["total"].value
        assert after == before - (2 if clock else 0)


# --- Pain 0-10 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rating", "band", "flagged"),
    [(0, "No pain", False), (1, "Mild", False), (3, "Mild", False), (4, "Moderate", False),
     (6, "Moderate", False), (7, "Severe", True), (10, "Severe", True)],
)  # fmt: skip
def test_pain_every_band_edge(rating, band, flagged):
    # Serlin 1995 cut-points: 1-3 mild, 4-6 moderate, 7-10 severe.
    result = scored("pain-nrs", pain(rating))
    score = result.scores["total"]
    assert (score.value, score.band.label, score.minimum, score.maximum) == (rating, band, 0, 10)
    assert score.code == {"system": "http://loinc.org", "code": "72514-3"}
    assert (result.flags == ["severe-pain"]) is flagged


@pytest.mark.parametrize("rating", [11, -1, 5.5])
def test_pain_outside_the_scale_is_refused_not_scored(rating):
    score = scored("pain-nrs", pain(rating)).scores["total"]
    assert score.value is None and "pain carries no points" in score.why_not


@given(st.integers(0, 10))
def test_pain_stays_in_range_and_rises_when_it_gets_worse(rating):
    before = scored("pain-nrs", pain(rating)).scores["total"].value
    assert before == rating and 0 <= before <= 10
    after = scored("pain-nrs", pain(min(10, rating + 1))).scores["total"].value
    assert after == min(10, rating + 1) and after >= before


# --- Modified Caregiver Strain Index --------------------------------------------------------


@pytest.mark.parametrize("total", [0, 1, 13, 25, 26])
def test_mcsi_totals_across_the_range_have_one_band_and_no_flag(total):
    # Thornton & Travis 2003 publish no cut-point, so no total raises a finding.
    points = [min(2, max(0, total - 2 * i)) for i in range(13)]
    assert sum(points) == total
    result = scored("mcsi", mcsi(points))
    score = result.scores["total"]
    assert (score.value, score.minimum, score.maximum) == (total, 0, 26)
    assert score.band.label == "Scored (no published cut-point)" and result.flags == []


def test_mcsi_worked_example():
    # Regular sleep disturbance and physical strain (2 + 2), sometimes confined, upset by
    # behaviour and overwhelmed (1 + 1 + 1), everything else "no": 7 of 26.
    points = [0] * 13
    for link, value in {"sleep": 2, "physical": 2, "confining": 1, "behaviour": 1,
                        "overwhelmed": 1}.items():  # fmt: skip
        points[MCSI.index(link)] = value
    assert scored("mcsi", mcsi(points)).scores["total"].value == 7


@given(st.lists(st.integers(0, 2), min_size=13, max_size=13), st.integers(0, 12))
def test_mcsi_stays_in_range_and_rises_when_an_answer_gets_worse(points, which):
    before = scored("mcsi", mcsi(points)).scores["total"].value
    assert 0 <= before <= 26
    worse = list(points)
    worse[which] = min(2, worse[which] + 1)
    after = scored("mcsi", mcsi(worse)).scores["total"].value
    assert after == before + (worse[which] - points[which]) and after >= before


# --- shipped --------------------------------------------------------------------------------


@pytest.mark.parametrize("qid", ["braden-scale", "mini-cog", "pain-nrs", "mcsi"])
def test_each_instrument_states_its_terms_source_and_wording(qid):
    questionnaire = instruments.shipped()[qid]
    extensions = {e["url"]: e.get("valueString") for e in questionnaire["extension"]}
    assert questionnaire["copyright"]
    assert extensions["urn:careway:fhir:StructureDefinition:source"]
    assert "own wording" in extensions["urn:careway:fhir:StructureDefinition:wording"]
    assert instruments.instrument(qid).scorable


def test_instruments_list_names_them(capsys):
    call_command("instruments", "list")
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert {"braden-scale", "mini-cog", "pain-nrs", "mcsi"} <= listed

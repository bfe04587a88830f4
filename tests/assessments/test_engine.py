"""The scoring engine on the shipped instruments: every band edge, the item 9 alert, conditional
items, and responses it must refuse to score rather than guess. Worked examples follow the
published scoring (sources cited in each content file)."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careway.assessments import engine, instruments

LOINC = "http://loinc.org"
ANSWERS = {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}


def response(points: list[int | None], first: int = 1) -> dict:
    items = []
    for number, value in enumerate(points, start=first):
        if value is None:
            continue
        coding = {"system": LOINC, "code": ANSWERS[value]}
        items.append({"linkId": str(number), "answer": [{"valueCoding": coding}]})
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}


def spread(total: int, items: int) -> list[int]:
    """Answers (0-3 each) that add up to `total`."""
    answers = []
    for _ in range(items):
        answers.append(min(3, total))
        total -= answers[-1]
    assert total == 0
    return answers


def total_of(qid: str, answers: list[int | None]) -> engine.Score:
    return engine.score(instruments.instrument(qid), response(answers)).scores["total"]


@pytest.mark.parametrize(
    ("total", "band", "flag"),
    [
        (0, "None to minimal", ""),
        (4, "None to minimal", ""),
        (5, "Mild", "mild-depression"),
        (9, "Mild", "mild-depression"),
        (10, "Moderate", "moderate-depression"),
        (14, "Moderate", "moderate-depression"),
        (15, "Moderately severe", "moderately-severe-depression"),
        (19, "Moderately severe", "moderately-severe-depression"),
        (20, "Severe", "severe-depression"),
        (27, "Severe", "severe-depression"),
    ],
)
def test_phq9_every_band_edge(total, band, flag):
    # Kroenke 2001: 5, 10, 15 and 20 are the cut-points of mild, moderate, moderately severe and
    # severe depression; the total runs from 0 to 27.
    score = total_of("phq-9", spread(total, 9))
    assert (score.value, score.band.label, score.band.flag) == (total, band, flag)
    assert (score.minimum, score.maximum) == (0, 27)
    assert score.code == {"system": LOINC, "code": "44261-6"}


def test_phq9_item_9_raises_an_urgent_alert_whatever_the_total():
    answers = [0, 0, 0, 0, 0, 0, 0, 0, 1]  # a total of 1: "none to minimal"
    result = engine.score(instruments.instrument("phq-9"), response(answers))
    assert result.scores["total"].band.label == "None to minimal"
    (alert,) = result.alerts
    assert (alert.item, alert.severity) == ("9", "urgent")
    assert "safety" in alert.label
    quiet = engine.score(instruments.instrument("phq-9"), response([3] * 8 + [0]))
    assert quiet.alerts == [] and quiet.scores["total"].value == 24


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "Minimal"), (4, "Minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"),
     (14, "Moderate"), (15, "Severe"), (21, "Severe")],
)  # fmt: skip
def test_gad7_every_band_edge(total, band):
    # Spitzer 2006: cut-points 5, 10 and 15; the total runs from 0 to 21.
    score = total_of("gad-7", spread(total, 7))
    assert (score.value, score.band.label, score.maximum) == (total, band, 21)


@pytest.mark.parametrize(("answers", "positive"), [([0, 0], False), ([1, 1], False),
                                                   ([2, 1], True), ([3, 3], True)])  # fmt: skip
def test_phq2_is_positive_from_three(answers, positive):
    # Kroenke 2003: a PHQ-2 of 3 or more is a positive screen.
    score = total_of("phq-2", answers)
    assert (score.band.flag == "positive-depression-screen") is positive
    assert (score.minimum, score.maximum) == (0, 6)


def test_an_unanswered_item_is_named_and_no_total_is_guessed():
    result = engine.score(instruments.instrument("phq-9"), response([1, 2, 0, None, 1, 0, 0, 0, 0]))
    assert result.scores["total"].value is None
    assert "4 not answered" in result.scores["total"].why_not
    assert result.unanswered == ["4"]


def test_an_answer_that_carries_no_points_is_named():
    bad = response([1] * 9)
    bad["item"][0]["answer"][0]["valueCoding"]["code"] = "LA-unknown"
    score = engine.score(instruments.instrument("phq-9"), bad).scores["total"]
    assert score.value is None and "1 carries no points" in score.why_not


@given(st.lists(st.integers(0, 3), min_size=9, max_size=9), st.integers(0, 8))
def test_phq9_stays_in_range_and_rises_when_an_answer_gets_worse(answers, which):
    before = total_of("phq-9", answers).value
    assert 0 <= before <= 27
    worse = list(answers)
    worse[which] = min(3, worse[which] + 1)
    after = total_of("phq-9", worse).value
    assert after == before + (worse[which] - answers[which])


def conditional_questionnaire() -> dict:
    def option(code, points):
        return {"valueCoding": {"code": code, "extension": [
            {"url": engine.ORDINAL, "valueDecimal": points}]}}  # fmt: skip

    return {
        "resourceType": "Questionnaire",
        "item": [
            {"linkId": "fell", "type": "choice", "required": True,
             "answerOption": [option("no", 0), option("yes", 1)]},
            {"linkId": "injured", "type": "choice", "required": True,
             "enableWhen": [{"question": "fell", "operator": "=",
                             "answerCoding": {"code": "yes"}}],
             "answerOption": [option("no", 0), option("yes", 2)]},
            {"linkId": "tug", "type": "decimal", "required": True},
        ],
        "extension": [
            {"url": engine.SCORE, "extension": [
                {"url": "key", "valueString": "falls"},
                {"url": "item", "valueString": "fell"},
                {"url": "item", "valueString": "injured"}]},
            {"url": engine.SCORE, "extension": [
                {"url": "key", "valueString": "tug"},
                {"url": "item", "valueString": "tug"},
                {"url": "band", "extension": [
                    {"url": "min", "valueDecimal": 0}, {"url": "max", "valueDecimal": 11.99},
                    {"url": "label", "valueString": "Within normal limits"}]},
                {"url": "band", "extension": [
                    {"url": "min", "valueDecimal": 12}, {"url": "max", "valueDecimal": 999},
                    {"url": "label", "valueString": "Higher fall risk"},
                    {"url": "flag", "valueCode": "high-fall-risk"}]}]},
        ],
    }  # fmt: skip


def answer(link, **value):
    return {"linkId": link, "answer": [value]}


def test_a_disabled_item_is_neither_required_nor_counted_and_timed_measures_band():
    instrument = engine.load(conditional_questionnaire())
    no_fall = {
        "item": [answer("fell", valueCoding={"code": "no"}), answer("tug", valueDecimal=9.4)]
    }
    result = engine.score(instrument, no_fall)
    assert result.scores["falls"].value == 0 and result.unanswered == []
    assert result.scores["tug"].band.label == "Within normal limits"
    # Seconds have no fixed range: none is claimed.
    assert (result.scores["tug"].minimum, result.scores["tug"].maximum) == (None, None)
    fell = {"item": [answer("fell", valueCoding={"code": "yes"}), answer("tug", valueDecimal=14)]}
    result = engine.score(instrument, fell)
    assert result.unanswered == ["injured"] and result.scores["falls"].value is None
    assert result.flags == ["high-fall-risk"]


@pytest.mark.parametrize(
    ("questionnaire", "where"),
    [
        ({"resourceType": "Patient"}, "resourceType"),
        ({"resourceType": "Questionnaire", "item": [{"type": "choice"}]}, "linkId"),
        ({"resourceType": "Questionnaire", "item": [{"linkId": "a"}, {"linkId": "a"}]}, "linkId"),
        ({"resourceType": "Questionnaire", "item": [{"linkId": "a"}], "extension": [
            {"url": engine.SCORE, "extension": [{"url": "key", "valueString": "t"},
                                                {"url": "item", "valueString": "zz"}]}]}, "item"),
    ],
)  # fmt: skip
def test_a_questionnaire_that_cannot_be_used_names_the_element(questionnaire, where):
    with pytest.raises(engine.InstrumentError) as error:
        engine.load(questionnaire)
    assert where in error.value.where


# --- findings: bands, answers and alerts ---------------------------------------------------------


def ordinal(code: str, points: float, *extensions: dict) -> dict:
    return {"valueCoding": {"system": "urn:test", "code": code, "extension": [
        {"url": engine.ORDINAL, "valueDecimal": points}, *extensions]}}  # fmt: skip


def found(label: str, flag: str | None = None, fix: str | None = None, severity: str | None = None):
    parts = [{"url": "label", "valueString": label}]
    parts += [{"url": "flag", "valueCode": flag}] if flag else []
    parts += [{"url": "fix", "valueString": fix}] if fix else []
    parts += [{"url": "severity", "valueCode": severity}] if severity else []
    return {"url": engine.FINDING, "extension": parts}


def home_questionnaire() -> dict:
    """Stairs asked only where there are stairs; each hazard a finding with its fix; a count of
    hazards with a flagged band; an alert with a flag."""
    stairs_yes = {"question": "stairs", "operator": "=", "answerCoding": {"code": "yes"}}
    return {
        "resourceType": "Questionnaire",
        "item": [
            {"linkId": "rugs", "type": "choice", "answerOption": [
                ordinal("no", 0),
                ordinal("yes", 1, found("Loose rugs", "home-hazard", "Tape them down"))]},
            {"linkId": "stairs", "type": "choice", "answerOption": [
                {"valueCoding": {"code": "no"}}, {"valueCoding": {"code": "yes"}}]},
            {"linkId": "rail", "type": "choice", "enableWhen": [stairs_yes], "answerOption": [
                ordinal("no", 0),
                # A finding may sit on the answerOption as well as on its Coding.
                {**ordinal("yes", 1), "extension": [
                    found("No stair rail", "home-hazard", "Fit a rail", "urgent")]}]},
            {"linkId": "problems", "type": "choice", "repeats": True, "answerOption": [
                {"valueCoding": {"code": "none"}},
                {"valueCoding": {"code": "mold", "extension": [found("Mold", "housing-quality")]}},
                {"valueCoding": {"code": "pests", "extension": [found("Pests")]}}]},
        ],
        "extension": [
            {"url": engine.SCORE, "extension": [
                {"url": "key", "valueString": "hazards"},
                {"url": "label", "valueString": "Hazards"},
                {"url": "item", "valueString": "rugs"}, {"url": "item", "valueString": "rail"},
                {"url": "band", "extension": [
                    {"url": "min", "valueDecimal": 0}, {"url": "max", "valueDecimal": 1},
                    {"url": "label", "valueString": "Few"}]},
                {"url": "band", "extension": [
                    {"url": "min", "valueDecimal": 2}, {"url": "max", "valueDecimal": 2},
                    {"url": "label", "valueString": "Many"},
                    {"url": "flag", "valueCode": "home-hazard"},
                    {"url": "severity", "valueCode": "info"}]}]},
            {"url": engine.ALERT, "extension": [
                {"url": "item", "valueString": "rail"}, {"url": "above", "valueDecimal": 0},
                {"url": "label", "valueString": "Stairs without a rail"},
                {"url": "flag", "valueCode": "stair-danger"}]},
        ],
    }  # fmt: skip


def coded_answers(**codes) -> dict:
    items = []
    for link, chosen in codes.items():
        values = chosen if isinstance(chosen, list) else [chosen]
        items.append({"linkId": link, "answer": [{"valueCoding": {"code": c}} for c in values]})
    return {"resourceType": "QuestionnaireResponse", "item": items}


def test_the_chosen_answer_lists_its_finding_with_its_fix_and_severity():
    instrument = engine.load(home_questionnaire())
    result = engine.score(instrument, coded_answers(rugs="yes", stairs="no", problems="none"))
    assert [(f.kind, f.label, f.severity, f.source, f.fix) for f in result.findings] == [
        ("home-hazard", "Loose rugs", "warning", "rugs", "Tape them down")
    ]
    calm = engine.score(instrument, coded_answers(rugs="no", stairs="no", problems="none"))
    assert calm.findings == [] and calm.flags == []


def test_a_disabled_item_raises_nothing_whatever_its_answer():
    instrument = engine.load(home_questionnaire())
    no_stairs = engine.score(instrument, coded_answers(rugs="no", stairs="no", rail="yes"))
    assert no_stairs.findings == [] and no_stairs.alerts == []
    stairs = engine.score(instrument, coded_answers(rugs="no", stairs="yes", rail="yes"))
    assert [(f.label, f.severity, f.by) for f in stairs.findings] == [
        ("No stair rail", "urgent", "answer"),
        ("Stairs without a rail", "urgent", "alert"),
    ]


def test_each_answer_of_a_several_answer_item_raises_its_own_finding():
    instrument = engine.load(home_questionnaire())
    result = engine.score(instrument, coded_answers(rugs="no", stairs="no",
                                                    problems=["mold", "pests"]))  # fmt: skip
    assert [(f.kind, f.label) for f in result.findings] == [("housing-quality", "Mold"),
                                                             ("", "Pests")]  # fmt: skip
    # A finding without a flag is listed but raises no flag.
    assert result.flags == ["housing-quality"]


def test_a_flagged_band_is_a_finding_and_alert_flags_are_findings_not_flags():
    instrument = engine.load(home_questionnaire())
    result = engine.score(instrument, coded_answers(rugs="yes", stairs="yes", rail="yes"))
    assert result.scores["hazards"].band.label == "Many"
    assert [(f.kind, f.label, f.severity, f.source, f.by) for f in result.findings] == [
        ("home-hazard", "Hazards: Many", "info", "hazards", "band"),
        ("home-hazard", "Loose rugs", "warning", "rugs", "answer"),
        ("home-hazard", "No stair rail", "urgent", "rail", "answer"),
        ("stair-danger", "Stairs without a rail", "urgent", "rail", "alert"),
    ]
    # Each kind once; the alert's flag is with the alert.
    assert result.flags == ["home-hazard"]
    assert [(a.item, a.flag) for a in result.alerts] == [("rail", "stair-danger")]
    out = result.as_dict()
    assert out["findings"][0] == {"kind": "home-hazard", "label": "Hazards: Many",
                                  "severity": "info", "source": "hazards", "fix": "",
                                  "by": "band"}  # fmt: skip
    assert out["scores"][0]["band"]["severity"] == "info"


def test_the_same_finding_twice_is_listed_once_at_its_most_severe():
    questionnaire = home_questionnaire()
    # The rail item finds "Loose rugs" too, urgently.
    rail_yes = questionnaire["item"][2]["answerOption"][1]
    rail_yes["extension"] = [found("Loose rugs", "home-hazard", "Fit a rail", "urgent")]
    result = engine.score(engine.load(questionnaire),
                          coded_answers(rugs="yes", stairs="yes", rail="yes"))  # fmt: skip
    rugs = [f for f in result.findings if f.label == "Loose rugs"]
    assert [(f.severity, f.source, f.fix) for f in rugs] == [("urgent", "rugs", "Tape them down")]


def test_phq9_item_9_is_an_urgent_self_harm_finding_whatever_the_total():
    result = engine.score(instruments.instrument("phq-9"), response([0] * 8 + [1]))
    assert result.scores["total"].band.label == "None to minimal"
    (finding,) = result.findings
    assert (finding.kind, finding.severity, finding.source, finding.by) == (
        "self-harm-risk", "urgent", "9", "alert")  # fmt: skip
    assert "safety" in finding.label
    moderate = engine.score(instruments.instrument("phq-9"), response([2] * 5 + [0] * 3 + [2]))
    assert [(f.kind, f.severity) for f in moderate.findings] == [
        ("moderate-depression", "warning"), ("self-harm-risk", "urgent")]  # fmt: skip
    assert moderate.findings[0].label == "PHQ-9 total: Moderate"


def test_a_questionnaire_without_scores_still_lists_what_its_answers_find():
    questionnaire = home_questionnaire()
    questionnaire["extension"] = []
    instrument = engine.load(questionnaire)
    result = engine.score(instrument, coded_answers(rugs="yes"))
    assert not instrument.scorable and "defines no score" in result.why_not
    assert [f.label for f in result.findings] == ["Loose rugs"]
    assert result.as_dict()["scored"] is False
    assert result.as_dict()["findings"][0]["fix"] == "Tape them down"


@pytest.mark.parametrize(
    ("finding", "where"),
    [
        (found(""), "label"),
        ({"url": engine.FINDING, "extension": [{"url": "flag", "valueCode": "x"}]}, "label"),
        (found("Rugs", "Home Hazard"), "flag"),
        (found("Rugs", "home-hazard", severity="critical"), "severity"),
    ],
)
def test_a_finding_that_cannot_be_used_names_the_element(finding, where):
    questionnaire = home_questionnaire()
    questionnaire["item"][0]["answerOption"][1]["valueCoding"]["extension"][1] = finding
    with pytest.raises(engine.InstrumentError) as error:
        engine.load(questionnaire)
    assert "answerOption[1]" in error.value.where and where in error.value.where


# --- points by range -----------------------------------------------------------------------------


def ranged(*ranges: tuple[float | None, float | None, float], kind: str = "integer") -> dict:
    def part(low, high, points):
        parts = [{"url": "min", "valueDecimal": low}] if low is not None else []
        parts += [{"url": "max", "valueInteger": high}] if high is not None else []
        return {"url": engine.POINTS_BY_RANGE,
                "extension": [*parts, {"url": "points", "valueDecimal": points}]}  # fmt: skip

    return {
        "resourceType": "Questionnaire",
        "item": [{"linkId": "days", "type": kind, "extension": [part(*r) for r in ranges]}],
        "extension": [{"url": engine.SCORE, "extension": [
            {"url": "key", "valueString": "l"}, {"url": "item", "valueString": "days"}]}],
    }  # fmt: skip


STAY = [(0, 0, 0), (1, 3, 2), (4, 13, 5), (14, None, 7)]


@pytest.mark.parametrize(
    ("days", "points"),
    [(0, 0), (1, 2), (3, 2), (4, 5), (13, 5), (14, 7), (400, 7), (3.5, None), (-1, None)],
)
def test_a_measured_answer_takes_the_points_of_the_range_that_holds_it(days, points):
    instrument = engine.load(ranged(*STAY))
    score = engine.score(instrument, {"item": [answer("days", valueDecimal=days)]}).scores["l"]
    assert score.value == points
    if points is None:
        # Between ranges or below them: no points, and the score says so.
        assert "days carries no points" in score.why_not
    else:
        # The score's range is that of the points, not of the raw number.
        assert (score.minimum, score.maximum) == (0, 7)


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_points_by_range_never_fall_when_the_measure_rises(less, more):
    instrument = engine.load(ranged(*STAY))
    low, high = sorted((less, more))

    def points(days):
        return engine.score(instrument, {"item": [answer("days", valueInteger=days)]}).scores["l"]

    assert 0 <= points(low).value <= points(high).value <= 7


@pytest.mark.parametrize(
    ("questionnaire", "message"),
    [
        (ranged((0, 5, 1), (5, 9, 2)), "overlap"),
        (ranged((None, 5, 1), (None, 9, 2)), "overlap"),
        (ranged((0, None, 1), (9, None, 2)), "overlap"),
        (ranged((5, 1, 1)), "above max"),
        (ranged((0, 1, 1), kind="string"), "integer or decimal"),
    ],
)
def test_ranges_that_cannot_be_used_are_named(questionnaire, message):
    with pytest.raises(engine.InstrumentError) as error:
        engine.load(questionnaire)
    assert message in error.value.reason


def test_an_item_scores_by_its_options_or_by_ranges_not_both():
    questionnaire = ranged(*STAY)
    questionnaire["item"][0]["answerOption"] = [{"valueInteger": 1}]
    with pytest.raises(engine.InstrumentError, match="not both"):
        engine.load(questionnaire)


# --- an agency's own band edges ------------------------------------------------------------------


def morse_total(total: int) -> dict:
    # Morse points by item; each total in steps of 5 up to 125 has a set of answers.
    points = {"history": [0, 25], "diagnosis": [0, 15], "aid": [0, 15, 30], "iv": [0, 20],
              "gait": [0, 10, 20], "mental": [0, 15]}  # fmt: skip
    codes = {"history": ["no", "yes"], "diagnosis": ["no", "yes"],
             "aid": ["none", "device", "furniture"], "iv": ["no", "yes"],
             "gait": ["normal", "weak", "impaired"], "mental": ["oriented", "forgets"]}  # fmt: skip
    for choice in itertools.product(*(range(len(p)) for p in points.values())):
        if sum(p[c] for p, c in zip(points.values(), choice, strict=True)) == total:
            items = [
                {"linkId": link, "answer": [{"valueCoding": {
                    "system": "urn:careway:fhir:morse-fall-scale",
                    "code": f"{link}-{codes[link][c]}"}}]}
                for link, c in zip(points, choice, strict=True)
            ]  # fmt: skip
            return {"resourceType": "QuestionnaireResponse", "item": items}
    raise AssertionError(f"no Morse answers add up to {total}")


MORSE_BOOK = [  # Morse 2009's example levels: 0-24, 25-50, 51 and above
    {"min": 0, "max": 24, "label": "No risk"},
    {"min": 25, "max": 50, "label": "Low risk"},
    {"min": 51, "max": 125, "label": "High risk", "flag": "high-fall-risk"},
]


@pytest.mark.parametrize(
    ("total", "shipped", "book"),
    [(20, "Low risk", "No risk"), (25, "Moderate risk", "Low risk"), (45, "High risk", "Low risk"),
     (50, "High risk", "Low risk"), (55, "High risk", "High risk")],
)  # fmt: skip
def test_a_changed_edge_changes_the_band(total, shipped, book):
    published = instruments.instrument("morse-fall-scale")
    agency = engine.with_bands(published, "total", engine.bands_from_json(MORSE_BOOK))
    assert engine.score(published, morse_total(total)).scores["total"].band.label == shipped
    result = engine.score(agency, morse_total(total))
    assert (result.scores["total"].value, result.scores["total"].band.label) == (total, book)
    assert ("high-fall-risk" in result.flags) is (book == "High risk")
    # The published instrument is left as it was.
    assert [b.high for b in published.scores[0].bands] == [24, 44, 125]


@pytest.mark.parametrize(
    ("bands", "where", "reason"),
    [
        ([{"min": 0, "max": 24, "label": "Low"}, {"min": 24, "max": 125, "label": "High"}],
         "bands", "overlap"),
        ([{"min": 0, "max": 24, "label": "Low"}, {"min": 26, "max": 125, "label": "High"}],
         "bands", "a total of 25 falls in no band"),
        ([{"min": 5, "max": 125, "label": "High"}], "bands", "a total of 0 falls in no band"),
        ([{"min": 0, "max": 100, "label": "Low"}], "bands", "a total of 101 falls in no band"),
        ([{"min": 0, "max": 24, "label": "Low"}, {"min": 60, "max": 25, "label": "High"}],
         "bands[1]", "above where it ends"),
        ([], "bands", "at least one band"),
    ],
)  # fmt: skip
def test_band_edges_that_do_not_make_sense_are_refused_and_named(bands, where, reason):
    published = instruments.instrument("morse-fall-scale")
    with pytest.raises(engine.InstrumentError) as error:
        engine.with_bands(published, "total", engine.bands_from_json(bands))
    assert error.value.where == where and reason in error.value.reason


def test_bands_for_a_score_the_instrument_does_not_have_are_refused():
    with pytest.raises(engine.InstrumentError, match="no score 'tot'"):
        engine.with_bands(instruments.instrument("phq-9"), "tot", [engine.Band(0, 27, "All")])


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"min": 0}, "bands"),
        ([{"max": 4, "label": "Low"}], "bands[0].min"),
        ([{"min": "0", "max": 4, "label": "Low"}], "bands[0].min"),
        ([{"min": True, "max": 4, "label": "Low"}], "bands[0].min"),
        ([{"min": 0, "max": float("nan"), "label": "Low"}], "bands[0].max"),
        ([{"min": 0, "max": 4, "label": " "}], "bands[0].label"),
        ([{"min": 0, "max": 4, "label": "Low", "flag": "Low Risk"}], "bands[0].flag"),
        ([{"min": 0, "max": 4, "label": "Low", "severity": "high"}], "bands[0].severity"),
    ],
)
def test_stored_bands_that_cannot_be_read_are_named(data, where):
    with pytest.raises(engine.InstrumentError) as error:
        engine.bands_from_json(data)
    assert error.value.where == where


@pytest.mark.parametrize("qid", sorted(instruments.shipped()))
def test_every_shipped_band_survives_being_stored_and_applied(qid):
    instrument = instruments.instrument(qid)
    for rule in instrument.scores:
        if not rule.bands:
            continue
        stored = engine.bands_to_json(rule.bands)
        assert engine.bands_from_json(stored) == rule.bands
        if rule.bands_fixed:
            continue  # see the next test
        again = engine.with_bands(instrument, rule.key, engine.bands_from_json(stored))
        assert next(r for r in again.scores if r.key == rule.key) == rule


def test_bands_the_instrument_terms_fix_cannot_be_changed():
    # MAHC-10: "the scoring mechanism and threshold for risk ... may not be altered".
    mahc = instruments.instrument("mahc-10")
    bands = engine.bands_from_json(engine.bands_to_json(mahc.scores[0].bands))
    with pytest.raises(engine.InstrumentError, match="do not allow changing its bands"):
        engine.with_bands(mahc, "total", bands)


def test_a_questionnaire_whose_bands_overlap_does_not_load():
    questionnaire = home_questionnaire()
    many = questionnaire["extension"][0]["extension"][-1]["extension"]
    many[0]["valueDecimal"] = 1  # "Many" now starts where "Few" ends
    with pytest.raises(engine.InstrumentError, match="overlap"):
        engine.load(questionnaire)

"""The Questionnaire form: what a nurse answers on the tablet is what is saved and scored.

Every test goes through the page the way a browser does: the fields are drawn with the real
template (careway/assessments/form.py), the HTML is read back into what a browser would post
(checked radios, typed text), and `answers.parse` turns that into answers."""

import json
import re
from datetime import UTC
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.http import QueryDict
from django.template.loader import render_to_string
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careway.assessments import engine, form
from careway.assessments.answers import Parsed, parse
from careway.assessments.questionnaires import UNIT_OPTION, answers_from_response, response_items
from tests.assessments import fill
from tests.assessments.every_kind import ALL_ANSWERS, EVERYTHING

CONTENT = Path(form.__file__).resolve().parent / "content"
SHIPPED = sorted(CONTENT.glob("*.json"))
EXTERNAL = ["AHC-HRSN-questionnaire.json", "PRAPARE-questionnaire.json"]


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


# --- reading the page as a browser does ------------------------------------------------------


class Page(HTMLParser):
    """The form's inputs as a browser sees and submits them, and the labels and ids around them."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: list[tuple[str, str]] = []
        self.controls: list[dict[str, str]] = []  # each visible input, select, textarea
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.fieldsets: list[dict[str, Any]] = []  # open fieldsets: has a legend, radio names
        self.ungrouped: list[str] = []  # radio or checkbox names outside a fieldset with legend
        self.textarea: dict[str, str] | None = None
        self.select: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v if v is not None else "" for k, v in attrs}
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "label" and "for" in a:
            self.label_for.add(a["for"])
        elif tag == "fieldset":
            self.fieldsets.append({"legend": False})
        elif tag == "legend" and self.fieldsets:
            self.fieldsets[-1]["legend"] = True
        elif tag == "input":
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox"):
                if not any(f["legend"] for f in self.fieldsets):
                    self.ungrouped.append(a["name"])
                if "checked" in a:
                    self.posted.append((a["name"], a.get("value", "on")))
            else:
                self.posted.append((a["name"], a.get("value", "")))
            if kind != "hidden":
                self.controls.append(a)
        elif tag == "textarea":
            self.textarea = {"name": a["name"], "text": ""}
            self.controls.append(a)
        elif tag == "select":
            self.select = {"name": a["name"], "options": [], "chosen": None}
            self.controls.append(a)
        elif tag == "option" and self.select is not None:
            self.select["options"].append(a.get("value", ""))
            if "selected" in a:
                self.select["chosen"] = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.textarea["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "fieldset" and self.fieldsets:
            self.fieldsets.pop()
        elif tag == "textarea" and self.textarea is not None:
            text = self.textarea["text"]
            # A browser drops the one line break that follows <textarea>.
            self.posted.append((self.textarea["name"], text[1:] if text[:1] == "\n" else text))
            self.textarea = None
        elif tag == "select" and self.select is not None:
            chosen = self.select["chosen"]
            first = self.select["options"][0] if self.select["options"] else ""
            self.posted.append((self.select["name"], chosen if chosen is not None else first))
            self.select = None


def draw(questionnaire, answers, prefix="q0", errors=None, posted=None) -> str:
    fields = form.form_fields(questionnaire, answers, prefix, errors, posted=posted)
    return render_to_string("assessments/_questionnaire.html", {"fields": fields})


def read(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def as_post(pairs: list[tuple[str, str]]) -> QueryDict:
    post = QueryDict(mutable=True)
    for name, value in pairs:
        post.appendlist(name, value)
    return post


def submit(questionnaire, answers, prefix="q0") -> Parsed:
    """Draw the form with these answers, post it untouched, read it back."""
    page = read(draw(questionnaire, answers, prefix))
    return parse(questionnaire, as_post(page.posted), prefix)


def plain(answers):
    return {link: [next(iter(v.values())) for v in values] for link, values in answers.items()}


def asked(questionnaire, answers):
    """The answers to items enableWhen asks for: the engine's rule for each item, nothing inside
    a group that is not asked, and an answer to an item not asked counts for no other item (FHIR:
    a disabled item has no answer), until nothing changes."""
    counted = dict(answers)
    while True:
        keep = set(asked_items(questionnaire.get("item", []), plain(counted)))
        narrowed = {k: v for k, v in answers.items() if k in keep}
        if narrowed == counted:
            return counted
        counted = narrowed


def asked_items(items, values, parent_on=True):
    for raw in items:
        on = parent_on and engine._enabled(engine._item(raw, ""), values)
        if on:
            yield raw["linkId"]
        yield from asked_items(raw.get("item", []), values, on)


# --- every shipped instrument and section ----------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
@pytest.mark.parametrize("choice", [0, -1], ids=["first-answers", "last-answers"])
def test_every_shipped_questionnaire_round_trips_through_the_page(path, choice):
    questionnaire = load(path)
    answers = fill.answers(questionnaire, choice)
    parsed = submit(questionnaire, answers)
    assert parsed.errors == {}
    # What the page gives back is every answer the form asks for, unchanged.
    assert parsed.answers == asked(questionnaire, answers)
    response = {"item": response_items(questionnaire, parsed.answers)}
    assert engine.answers_of(response) == plain(parsed.answers)
    assert answers_from_response(response) == parsed.answers
    # ...and it scores as the answers filled in directly do.
    instrument = engine.load(questionnaire)
    direct_items = response_items(questionnaire, asked(questionnaire, answers))
    direct = engine.score(instrument, {"item": direct_items})
    assert engine.score(instrument, response).as_dict() == direct.as_dict()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_scored_instrument_scores_the_same_after_the_page(path):
    questionnaire = load(path)
    instrument = engine.load(questionnaire)
    if not instrument.scorable:
        pytest.skip(f"{path.name} defines no score")
    worst = fill.answers(questionnaire, -1)
    parsed = submit(questionnaire, worst)
    result = engine.score(instrument, {"item": response_items(questionnaire, parsed.answers)})
    assert result.why_not == ""
    assert all(s.value is not None for s in result.scores.values()), result.as_dict()


def sound_html(html: str) -> Page:
    """What axe-core checks first: unique ids, a label for every control, radio groups in a
    fieldset with a legend, aria-describedby pointing at elements that exist."""
    page = read(html)
    duplicated = {i for i in page.ids if page.ids.count(i) > 1}
    assert not duplicated, duplicated
    unlabelled = [c for c in page.controls if c.get("id") not in page.label_for]
    assert not unlabelled, unlabelled
    assert not page.ungrouped, page.ungrouped
    for ref in re.findall(r'aria-describedby="([^"]*)"', html):
        for one in ref.split():
            assert one in page.ids, one
    assert all(re.fullmatch(r"\S+", i) for i in page.ids)
    return page


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_form_is_sound_html(path):
    questionnaire = load(path)
    sound_html(draw(questionnaire, fill.answers(questionnaire, -1)))
    sound_html(draw(questionnaire, {}))


@pytest.mark.parametrize("name", EXTERNAL)
def test_external_questionnaires_render_every_item_with_a_label(name, shared_data):
    questionnaire = load(shared_data("questionnaires", name))
    html = draw(questionnaire, {})
    page = sound_html(html)
    fields = list(form.flat_fields(form.form_fields(questionnaire, {}, "q0")))
    for item in fill.items_of(questionnaire):
        field = next(f for f in fields if f.link_id == item["linkId"])
        # The question is on the page under its own words, and it can be answered.
        assert field.label.endswith(" ".join(item["text"].split()))
        assert f'name="{field.name}"' in html
        assert any(c.get("name") == field.name for c in page.controls)
    answers = fill.answers(questionnaire, -1)
    parsed = submit(questionnaire, answers)
    assert (parsed.errors, parsed.answers) == ({}, asked(questionnaire, answers))


# --- a form with every kind of item (tests/assessments/every_kind.py) -----------------------------


def test_every_kind_of_item_round_trips_through_the_page():
    parsed = submit(EVERYTHING, ALL_ANSWERS)
    assert parsed.errors == {}
    assert parsed.answers == ALL_ANSWERS
    response = {"item": response_items(EVERYTHING, parsed.answers)}
    assert engine.answers_of(response) == plain(ALL_ANSWERS)
    assert answers_from_response(response) == ALL_ANSWERS


def test_the_form_nests_groups_and_keeps_help_units_and_limits():
    html = draw(EVERYTHING, ALL_ANSWERS)
    sound_html(html)
    # A group is a fieldset with its title as legend, its questions inside.
    group = html[html.index('id="id_q0-vitals"') :]
    assert group.index("<legend>Readings</legend>") < group.index('name="q0-pulse"')
    assert group.index('name="q0-temp"') < group.index("</fieldset>")
    # Numbers: a number input that steps, limits and says its unit beside the box.
    pulse = re.search(r'<input type="number" id="id_q0-pulse"[^>]*>', html).group(0)
    assert all(a in pulse for a in ('step="1"', 'min="20"', 'max="250"', 'value="72"'))
    assert 'aria-describedby="id_q0-pulse:help id_q0-pulse:unit"' in pulse
    assert '<span class="q-unit" id="id_q0-pulse:unit">beats/min</span>' in html
    assert 'step="any"' in re.search(r'<input[^>]*name="q0-temp"[^>]*>', html).group(0)
    assert 'maxlength="20"' in re.search(r'<input[^>]*name="q0-pale-where"[^>]*>', html).group(0)
    # A help item is the question's help, not a question of its own.
    assert '<p class="help" id="id_q0-pale-where:help">Lips, nail beds or skin</p>' in html
    # A value set Careway cannot expand: typed, and the page says so.
    assert "cannot be shown here: type the answer" in html
    # Read-only: shown, not an input the nurse can change; hidden: not shown at all.
    assert "MRN-001" in html and not re.search(r'<input type="text"[^>]*name="q0-mrn"', html)
    assert '<input type="hidden" name="q0-mrn" value="MRN-001">' in html
    assert "Calculated" not in html


def test_yes_no_and_choices_are_large_labelled_radio_buttons():
    html = draw(EVERYTHING, {"smokes": [{"valueBoolean": False}]})
    yes_no = html[html.index('id="id_q0-smokes"') :]
    yes_no = yes_no[: yes_no.index("</fieldset>")]
    assert yes_no.startswith('id="id_q0-smokes"') and "<legend>Smokes</legend>" in yes_no
    assert re.search(r'<label class="q-option" for="id_q0-smokes:0"><input type="radio"[^>]*'
                     r'value="true"> <span>Yes</span></label>', yes_no)  # fmt: skip
    assert re.search(r'value="false" checked> <span>No</span>', yes_no)
    css = (Path(form.__file__).parents[1] / "static/assessments/questionnaire.css").read_text()
    assert "min-height: var(--touch)" in css and ":has(input:checked)" in css
    assert ":has(input:focus-visible)" in css


@pytest.mark.parametrize("path", [*SHIPPED, None], ids=lambda p: p.stem if p else "everything")
def test_posted_values_are_what_the_page_posts(path):
    """Tests elsewhere post a form through Field.posted_values without drawing it."""
    questionnaire = load(path) if path else EVERYTHING
    answers = fill.answers(questionnaire, -1) if path else ALL_ANSWERS
    fields = form.flat_fields(form.form_fields(questionnaire, answers, "q0"))
    claimed = sorted(pair for f in fields for pair in f.posted_values())
    page = read(draw(questionnaire, answers))
    assert claimed == sorted(pair for pair in page.posted if pair[1])
    assert parse(questionnaire, as_post(claimed), "q0") == submit(questionnaire, answers)


# --- errors name the question and keep the rest --------------------------------------------------


def posted_for(answers, **typed):
    page = read(draw(EVERYTHING, answers))
    pairs = [(k, v) for k, v in page.posted if k.removeprefix("q0-") not in typed]
    return as_post(pairs + [(f"q0-{k}", v) for k, vs in typed.items() for v in vs])


@pytest.mark.parametrize(
    ("typed", "link", "message"),
    [
        ({"pulse": ["seventy"]}, "pulse", "Heart rate: enter a whole number"),
        ({"pulse": ["7.5"]}, "pulse", "Heart rate: enter a whole number"),
        ({"pulse": ["300"]}, "pulse", "Heart rate: enter a number from 20 to 250 beats/min"),
        ({"temp": ["80"]}, "temp", "Temperature: enter a number from 85 to 110"),
        ({"temp": ["NaN"]}, "temp", "Temperature: enter a number"),
        ({"color": ["purple"]}, "color", "Skin colour: choose one of the answers given"),
        ({"color": ["pink", "pale"]}, "color", "Skin colour: choose one answer only"),
        ({"smokes": ["maybe"]}, "smokes", "Smokes: choose Yes or No"),
        ({"born": ["1941-02-30"]}, "born", "Date of birth: enter a date"),
        ({"meds-at": ["8 o'clock"]}, "meds-at", "Medicines taken at: enter a time"),
        ({"pale-where": ["x" * 21]}, "pale-where", "Where pale: write at most 20 characters"),
        ({"stairs": ["4"]}, "stairs", "Steps to the door: choose one of the answers given"),
    ],
)
def test_an_error_names_the_question_and_keeps_every_other_answer(typed, link, message):
    parsed = parse(EVERYTHING, posted_for(ALL_ANSWERS, **typed), "q0")
    assert list(parsed.errors) == [link]
    assert parsed.errors[link].startswith(message)
    assert parsed.answers == {k: v for k, v in ALL_ANSWERS.items() if k != link}


def test_the_error_shows_beside_its_field_with_what_was_typed():
    post = posted_for(ALL_ANSWERS, pulse=["300"])
    parsed = parse(EVERYTHING, post, "q0")
    html = draw(EVERYTHING, parsed.answers, errors=parsed.errors, posted=post)
    sound_html(html)
    pulse = re.search(r'<input type="number" id="id_q0-pulse"[^>]*>', html).group(0)
    assert 'value="300"' in pulse and 'aria-invalid="true"' in pulse
    assert "id_q0-pulse:error" in pulse  # aria-describedby
    assert re.search(r'<p class="field-error" id="id_q0-pulse:error">Heart rate: enter a number '
                     r"from 20 to 250 beats/min</p>", html)  # fmt: skip


def test_a_choice_error_is_described_on_its_fieldset():
    parsed = parse(EVERYTHING, posted_for(ALL_ANSWERS, color=["purple"]), "q0")
    html = draw(EVERYTHING, parsed.answers, errors=parsed.errors)
    fieldset = re.search(r'<fieldset class="[^"]*has-error" id="id_q0-color"[^>]*>', html).group(0)
    assert 'aria-describedby="id_q0-color:error"' in fieldset


# --- enableWhen -----------------------------------------------------------------------------------


def test_answers_to_questions_not_asked_are_dropped():
    answers = {**ALL_ANSWERS, "smokes": [{"valueBoolean": False}]}
    parsed = submit(EVERYTHING, answers)
    assert parsed.errors == {}
    # Not a smoker: packs, and the smoking group's years, are not asked and not kept.
    assert "packs" not in parsed.answers and "years" not in parsed.answers
    # "either" is still asked: the skin colour is answered (enableBehavior any).
    assert parsed.answers["either"] == [{"valueString": "yes"}]
    # Not pale: "Where pale" goes; "either" goes too once neither condition holds.
    answers["color"] = [{"valueCoding": {"system": "urn:s", "code": "pink"}}]
    assert "pale-where" not in submit(EVERYTHING, answers).answers
    del answers["color"]
    assert "either" not in submit(EVERYTHING, answers).answers


def test_a_bad_answer_to_a_disabled_question_is_no_error():
    post = posted_for({**ALL_ANSWERS, "smokes": [{"valueBoolean": False}]}, packs=["lots"])
    assert "packs" not in parse(EVERYTHING, post, "q0").errors


def test_an_answer_that_hangs_on_a_mistyped_one_is_kept():
    questionnaire = {
        "resourceType": "Questionnaire",
        "item": [
            {"linkId": "falls", "type": "integer", "text": "Falls this year"},
            {
                "linkId": "how",
                "type": "string",
                "text": "How",
                "enableWhen": [{"question": "falls", "operator": ">", "answerInteger": 0}],
            },
        ],
    }
    post = as_post([("q0-falls", "two"), ("q0-how", "Tripped on a rug")])
    parsed = parse(questionnaire, post, "q0")
    assert parsed.errors == {"falls": "Falls this year: enter a whole number"}
    assert parsed.answers == {"how": [{"valueString": "Tripped on a rug"}]}


def test_a_question_whose_controller_is_not_asked_is_not_asked_either():
    questionnaire = {
        "resourceType": "Questionnaire",
        "item": [
            {"linkId": "a", "type": "boolean", "text": "A"},
            {
                "linkId": "b",
                "type": "boolean",
                "text": "B",
                "enableWhen": [{"question": "a", "operator": "=", "answerBoolean": True}],
            },
            {
                "linkId": "c",
                "type": "string",
                "text": "C",
                "enableWhen": [{"question": "b", "operator": "=", "answerBoolean": True}],
            },
        ],
    }
    answers = {
        "a": [{"valueBoolean": False}],
        "b": [{"valueBoolean": True}],
        "c": [{"valueString": "x"}],
    }
    assert submit(questionnaire, answers).answers == {"a": [{"valueBoolean": False}]}
    fields = {f.link_id: f for f in form.form_fields(questionnaire, answers, "q0")}
    assert (fields["b"].enabled, fields["c"].enabled) == (False, False)


def rule_of(html: str, name: str) -> dict[str, Any]:
    found = re.search(rf'data-q="{name}" data-enable-when="([^"]*)"', html)
    return json.loads(unescape(found.group(1)))


def test_conditional_items_carry_their_conditions_for_the_script_and_in_words():
    html = draw(EVERYTHING, {})
    assert rule_of(html, "q0-packs") == {
        "behavior": "all",
        "conditions": [{"q": "q0-smokes", "op": "=", "kind": "token", "value": "true"}],
    }
    # Not asked yet: marked, and shown with its condition until the script hides it.
    assert re.search(r'data-q="q0-packs" data-enable-when="[^"]*" data-enabled="false">', html)
    assert "Asked when “Smokes” is Yes." in html
    assert rule_of(html, "q0-pale-where")["conditions"][0]["value"] == "pale"
    assert rule_of(html, "q0-fast")["conditions"][0] == {
        "q": "q0-pulse", "op": ">", "kind": "number", "value": 100,
    }  # fmt: skip
    assert rule_of(html, "q0-either")["behavior"] == "any"
    smoker = draw(EVERYTHING, {"smokes": [{"valueBoolean": True}]})
    assert re.search(r'data-q="q0-packs" data-enable-when="[^"]*">', smoker)  # asked now


def test_the_script_reads_the_conditions_the_page_writes():
    script = (Path(form.__file__).parents[1] / "static/assessments/enable-when.js").read_text()
    for key in ('"data-enable-when"', "condition.q", "condition.op", "condition.kind",
                "condition.value", "rule.behavior", "data-lines", "data-other-of"):  # fmt: skip
        assert key in script, key
    assert form.OTHER in script  # the "Other" radio's value


# --- names, ids and escaping ------------------------------------------------------------------

NASTY = '<script>alert("x")</script> 1.1/a:b~c'


def nasty_questionnaire():
    return {
        "resourceType": "Questionnaire",
        "item": [
            {"linkId": NASTY, "type": "boolean", "text": "<script>alert('t')</script> Falls?"},
            {
                "linkId": "x",
                "type": "choice",
                "text": "<b>bold</b>",
                "answerOption": [{"valueCoding": {"code": '"><script>', "display": "<img src=x>"}}],
                "enableWhen": [{"question": NASTY, "operator": "=", "answerBoolean": True}],
            },
            {"linkId": "a b", "type": "string", "text": "With a space"},
            {"linkId": "a~20~b", "type": "string", "text": "Looks escaped"},
        ],
    }


def test_item_text_and_link_ids_are_escaped_and_names_stay_distinct():
    questionnaire = nasty_questionnaire()
    answers = {
        NASTY: [{"valueBoolean": True}],
        "x": [{"valueCoding": {"code": '"><script>', "display": "<img src=x>"}}],
        "a b": [{"valueString": "<script>x</script>"}],
        "a~20~b": [{"valueString": "two"}],
    }
    html = draw(questionnaire, answers)
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt; Falls?" in html
    sound_html(html)
    names = {f.name for f in form.flat_fields(form.form_fields(questionnaire, {}, "q0"))}
    assert len(names) == 4 and all(re.fullmatch(r"q0-[A-Za-z0-9._~-]+", n) for n in names)
    parsed = submit(questionnaire, answers)
    assert (parsed.errors, parsed.answers) == ({}, answers)


def test_two_questionnaires_on_one_page_do_not_share_names_or_ids():
    first = draw(EVERYTHING, ALL_ANSWERS, prefix="q0")
    second = draw(EVERYTHING, ALL_ANSWERS, prefix="q1")
    sound_html(first + second)
    assert parse(EVERYTHING, as_post(read(first).posted), "q1").answers == {}


# --- answers the form cannot show ---------------------------------------------------------------


def test_an_answer_the_form_cannot_show_is_named_not_hidden():
    fields = form.form_fields(
        EVERYTHING, {"color": [{"valueCoding": {"code": "grey", "display": "Grey"}}]}, "q0"
    )
    color = next(f for f in fields if f.link_id == "color")
    assert not any(o.checked for o in color.options)
    assert "Recorded before and not one of this form's answers: Grey" in color.help


# --- any answer set round-trips ---------------------------------------------------------------

SAFE_TEXT = (
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=30)
    .map(lambda s: " ".join(s.split()))
    .filter(bool)
)


def answer_sets(questionnaire) -> st.SearchStrategy[dict[str, list[dict[str, Any]]]]:
    """Any answers a nurse could give on the page: for each item nothing, or valid answers."""
    per_item = {}
    for item in fill.items_of(questionnaire):
        per_item[item["linkId"]] = st.one_of(st.none(), values_for(item))
    return st.fixed_dictionaries(per_item).map(lambda d: {k: v for k, v in d.items() if v})


def values_for(item) -> st.SearchStrategy[list[dict[str, Any]]]:
    kind, repeats = item["type"], bool(item.get("repeats"))
    length = item.get("maxLength", 30)
    text = SAFE_TEXT.filter(lambda s: len(s) <= length)
    if item.get("answerValueSet"):
        return text.map(lambda s: [{"valueCoding": {"display": s}}])
    if kind == "boolean":
        return st.booleans().map(lambda b: [{"valueBoolean": b}])
    if kind not in ("choice", "open-choice") and item.get("answerOption"):
        # An integer (or date, time, string) question that lists its answers takes only those.
        listed = [
            {k: v for k, v in o.items() if k.startswith("value")} for o in item["answerOption"]
        ]
        return st.sampled_from(listed).map(lambda o: [o])
    if kind in ("choice", "open-choice"):
        options = [
            {k: v for k, v in o.items() if k.startswith("value")} for o in item["answerOption"]
        ]
        labels = {str(next(iter(o.values()))) for o in options} | {
            o.get("valueCoding", {}).get("code") for o in options
        }
        other = text.filter(lambda s: s not in labels and s != form.OTHER)
        if repeats:
            picked = st.lists(st.sampled_from(range(len(options))), unique=True).map(sorted)
            written = (
                st.lists(other, unique=True, max_size=3) if kind == "open-choice" else st.just([])
            )
            return st.tuples(picked, written).map(
                lambda t: [options[i] for i in t[0]] + [{"valueString": w} for w in t[1]]
            )
        one = st.sampled_from(options).map(lambda o: [o])
        if kind == "open-choice":
            one = one | other.map(lambda s: [{"valueString": s}])
        return one
    if kind in ("integer", "decimal"):
        low, high = fill._bound(item, fill.MIN_VALUE), fill._bound(item, fill.MAX_VALUE)
        if kind == "integer":
            numbers = st.integers(int(low) if low is not None else -(2**31),
                                  int(high) if high is not None else 2**31 - 1)  # fmt: skip
            return numbers.map(lambda n: [{"valueInteger": n}])
        floats = st.floats(low if low is not None else -1e12, high if high is not None else 1e12,
                           allow_nan=False, allow_infinity=False)  # fmt: skip
        return floats.map(lambda f: [{"valueDecimal": f + 0.0}])
    if kind == "string" and repeats:
        return st.lists(text, min_size=1, max_size=3).map(
            lambda xs: [{"valueString": x} for x in xs]
        )
    if kind in ("string", "text"):
        return text.map(lambda s: [{"valueString": s}])
    if kind == "date":
        return st.dates().map(lambda d: [{"valueDate": d.isoformat()}])
    if kind == "dateTime":
        moments = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0))
        return moments.map(lambda d: [{"valueDateTime": d.isoformat().replace("+00:00", "Z")}])
    if kind == "time":
        times = st.times().map(lambda t: t.replace(microsecond=0).isoformat())
        return times.map(lambda t: [{"valueTime": t}])
    if kind == "url":
        return st.from_regex(r"https://[a-z]{1,10}\.example/[a-z0-9]{0,8}", fullmatch=True).map(
            lambda u: [{"valueUri": u}]
        )
    if kind == "quantity":
        return st.tuples(st.floats(-1e6, 1e6), quantity_units(item)).map(
            lambda t: [{"valueQuantity": {"value": t[0] + 0.0, **t[1]}}]
        )
    raise AssertionError(f"no answers for {kind}")


def quantity_units(item) -> st.SearchStrategy[dict[str, Any]]:
    units = [e["valueCoding"] for e in item.get("extension", []) if e["url"] == UNIT_OPTION]
    if units:
        return st.sampled_from(units).map(
            lambda u: {
                "unit": u.get("display") or u["code"],
                "system": u["system"],
                "code": u["code"],
            }
        )
    return SAFE_TEXT.map(lambda s: {"unit": s})


def check_round_trip(questionnaire, answers):
    parsed = submit(questionnaire, answers)
    assert parsed.errors == {}
    assert parsed.answers == asked(questionnaire, answers)
    response = {"item": response_items(questionnaire, parsed.answers)}
    assert engine.answers_of(response) == plain(parsed.answers)
    instrument = engine.load(questionnaire)
    if instrument.scorable:
        direct = {"item": response_items(questionnaire, asked(questionnaire, answers))}
        assert (
            engine.score(instrument, response).as_dict()
            == engine.score(instrument, direct).as_dict()
        )


SHIPPED_BY_NAME = {path.stem: load(path) for path in SHIPPED}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SHIPPED_BY_NAME)).flatmap(
    lambda name: st.tuples(st.just(name), answer_sets(SHIPPED_BY_NAME[name]))
))  # fmt: skip
def test_any_answer_set_to_a_shipped_questionnaire_round_trips(case):
    name, answers = case
    check_round_trip(SHIPPED_BY_NAME[name], answers)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_answer_set_to_the_form_with_every_kind_of_item_round_trips(data):
    answers = data.draw(answer_sets(EVERYTHING))
    # Read-only and hidden answers ride along; the rest come from what the page shows.
    check_round_trip(EVERYTHING, answers)


# --- in a browser: the script, the keyboard, axe-core ------------------------------------------

STATIC = Path(form.__file__).resolve().parents[1] / "static"


def standalone(questionnaire, answers, errors=None) -> str:
    """The form on a page of its own, with Careway's styles and the script inlined."""
    css = (STATIC / "careway/careway.css").read_text()
    css += (STATIC / "assessments/questionnaire.css").read_text()
    script = (STATIC / "assessments/enable-when.js").read_text()
    body = draw(questionnaire, answers, errors=errors)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Questionnaire</title><style>{css}</style></head><body><main id='main'>"
        f'<h1>Assessment</h1><form method="post">{body}<button type="submit">Save</button>'
        f"</form></main><script>{script}</script></body></html>"
    )


def open_page(browser, html, viewport=None, javascript=True):
    from tests.browser.conftest import TABLET

    context = browser.new_context(viewport=viewport or TABLET, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(5_000)
    page.set_content(html)
    return page


def by_id(page, element_id):
    return page.locator(f'[id="{element_id}"]')


def browser_post(page) -> QueryDict:
    pairs = page.evaluate("() => [...new FormData(document.querySelector('form'))]")
    return as_post([(name, value) for name, value in pairs])


def test_in_a_browser_questions_appear_and_go_as_answers_change(browser):
    page = open_page(browser, standalone(EVERYTHING, {}))
    packs = page.locator('[data-q="q0-packs"]')
    assert packs.is_hidden() and page.locator('[data-q="q0-smoker-group"]').is_hidden()
    page.get_by_role("group", name="Smokes").get_by_role("radio", name="Yes").click()
    assert packs.is_visible() and page.get_by_label("Years smoked").is_visible()
    # The written condition is for a page without the script.
    assert by_id(page, "id_q0-packs:when").is_hidden()
    page.get_by_label("Packs a day").fill("1.5")
    page.get_by_role("group", name="Smokes").get_by_role("radio", name="No").click()
    assert packs.is_hidden()
    # A number condition: the display shows above 100.
    fast = page.locator('[data-q="q0-fast"]')
    page.get_by_label("Heart rate").fill("120")
    assert fast.is_visible()
    page.get_by_label("Heart rate").fill("80")
    assert fast.is_hidden()
    # Writing an "other" answer picks "Other".
    by_id(page, "id_q0-lives:other").fill("Son")
    assert by_id(page, "id_q0-lives:other-option").is_checked()
    # What the browser posts reads back; the hidden smoker's answer is dropped by the server.
    parsed = parse(EVERYTHING, browser_post(page), "q0")
    assert parsed.errors == {}
    assert parsed.answers == {
        "pulse": [{"valueInteger": 80}],
        "smokes": [{"valueBoolean": False}],
        "lives": [{"valueString": "Son"}],
    }
    page.context.close()


def test_in_a_browser_a_question_under_a_hidden_one_hides_too(browser):
    questionnaire = {
        "resourceType": "Questionnaire",
        "item": [
            {"linkId": "a", "type": "boolean", "text": "First"},
            {
                "linkId": "b",
                "type": "boolean",
                "text": "Second",
                "enableWhen": [{"question": "a", "operator": "=", "answerBoolean": True}],
            },
            {
                "linkId": "c",
                "type": "string",
                "text": "Third",
                "enableWhen": [{"question": "b", "operator": "=", "answerBoolean": True}],
            },
        ],
    }
    page = open_page(browser, standalone(questionnaire, {}))
    page.get_by_role("group", name="First").get_by_role("radio", name="Yes").click()
    page.get_by_role("group", name="Second").get_by_role("radio", name="Yes").click()
    assert page.get_by_label("Third").is_visible()
    page.get_by_role("group", name="First").get_by_role("radio", name="No").click()
    assert page.get_by_label("Third").is_hidden()
    page.context.close()


def test_in_a_browser_answers_are_big_targets_that_a_keyboard_can_use(browser):
    page = open_page(browser, standalone(EVERYTHING, {}))
    yes = page.get_by_role("group", name="Skin colour").locator("label.q-option").first
    assert yes.bounding_box()["height"] >= 44
    page.get_by_label("Temperature").focus()
    page.keyboard.press("Tab")  # to the first radio of "Smokes"
    page.keyboard.press("Space")
    assert by_id(page, "id_q0-smokes:0").is_checked()
    page.keyboard.press("ArrowRight")
    assert by_id(page, "id_q0-smokes:1").is_checked()
    label = page.locator('label[for="id_q0-smokes:1"]')
    assert label.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"  # focus shows
    checked = label.evaluate("el => getComputedStyle(el).backgroundColor")
    unchecked = page.locator('label[for="id_q0-smokes:0"]').evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert checked != unchecked
    page.context.close()


def test_without_javascript_every_question_shows_with_its_condition(browser):
    page = open_page(browser, standalone(EVERYTHING, {}), javascript=False)
    assert page.get_by_label("Packs a day").is_visible()
    assert by_id(page, "id_q0-packs:when").is_visible()
    page.context.close()


@pytest.mark.database_independent  # how the form looks (tests/conftest.py)
@pytest.mark.parametrize("viewport", ["TABLET", "PHONE"])
def test_in_a_browser_axe_finds_no_serious_violation(browser, viewport, shared_data):
    from tests.browser import conftest

    forms = [
        (EVERYTHING, ALL_ANSWERS, None),
        (EVERYTHING, {}, {"pulse": "Heart rate: enter a number"}),
    ]
    forms += [(load(path), {}, None) for path in SHIPPED]
    forms += [(load(shared_data("questionnaires", name)), {}, None) for name in EXTERNAL]
    page = open_page(browser, "<!doctype html><title>x</title>", getattr(conftest, viewport))
    for questionnaire, answers, errors in forms:
        page.set_content(standalone(questionnaire, answers, errors))
        conftest.assert_accessible(page, questionnaire.get("url", "form"))
    page.context.close()

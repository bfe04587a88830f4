"""The teaching handout library (issue 19): the shipped handouts are read and checked, each in
English and Spanish with its sources and terms; a wrong handout is refused naming every field by
its path; the language shown follows the patient's preferred language (BCP 47) where a
translation exists."""

import copy
import json

import pytest

from careway.careplans import handouts
from careway.careplans.handouts import HandoutError, language_for, parse_handout

REQUIRED = {
    "heart-failure-zones",
    "fall-prevention-home",
    "low-blood-sugar",
    "inhaler-use",
    "pressure-injury-prevention",
    "medication-side-effects",
    "infection-signs",
}


def shipped_raw(key: str = "low-blood-sugar") -> dict:
    return json.loads((handouts.CONTENT / f"{key}.json").read_text(encoding="utf-8"))


def test_the_required_handouts_are_shipped_in_english_and_spanish():
    shipped = handouts.shipped()
    assert set(shipped) >= REQUIRED
    for key, handout in shipped.items():
        assert handout.languages == ("en", "es"), key
        assert handout.version and handout.terms, key
        assert set(handout.title) == set(handout.summary) == {"en", "es"}, key
        for index, section in enumerate(handout.sections):
            assert set(section.heading) == set(section.text) == {"en", "es"}, (key, index)
            assert len(section.text["en"]) == len(section.text["es"]), (key, index)
            assert section.style in handouts.STYLES
        for source in handout.sources:
            assert source["title"] and source["publisher"] and source["year"], key
            assert source["url"].startswith("https://"), key


def test_the_title_falls_back_to_english():
    handout = handouts.shipped()["low-blood-sugar"]
    assert handout.title_in("es").startswith("Azúcar baja")
    assert handout.title_in("vi") == handout.title_in("en")
    assert handout.in_language("fr") == "en"
    assert "regla del 15" in handout.text_in("es")


@pytest.mark.parametrize(
    ("preferred", "expected"),
    [
        ("es", "es"),
        ("es-MX", "es"),
        ("ES_us", "es"),
        ("en-US", "en"),
        ("zh-Hant", "en"),
        ("", "en"),
        ("  es  ", "es"),
    ],
)
def test_the_language_for_a_preferred_language(preferred, expected):
    assert language_for(preferred, ("en", "es")) == expected


def test_spanish_is_not_chosen_when_the_handout_has_none():
    assert language_for("es-MX", ("en",)) == "en"


def test_a_wrong_handout_is_refused_naming_every_field_by_its_path():
    raw = shipped_raw()
    raw["key"] = "Low Sugar"
    del raw["title"]["es"]
    raw["sections"][2]["text"]["es"] = []
    raw["sections"][1]["text"]["en"][3] = ""
    raw["sections"][0]["style"] = "table"
    raw["sections"][3]["heading"] = "When"
    raw["sources"][0]["url"] = "diabetes.org"
    raw["colour"] = "blue"
    with pytest.raises(HandoutError) as refused:
        parse_handout(raw)
    assert set(refused.value.errors) == {
        "key",
        "title.es",
        "sections[2].text.es",
        "sections[1].text.en[3]",
        "sections[0].style",
        "sections[3].heading",
        "sources[0].url",
        "colour",
    }
    assert (
        "Spanish" in refused.value.errors["title.es"] or "Espa" in refused.value.errors["title.es"]
    )


def test_not_an_object_and_empty_parts_are_named():
    with pytest.raises(HandoutError) as refused:
        parse_handout(["a list"])
    assert set(refused.value.errors) == {"handout"}
    with pytest.raises(HandoutError) as empty:
        parse_handout({"key": "x", "version": "1", "title": {"en": "X"}, "sections": []})
    assert {"sections", "sources", "terms", "title.es"} <= set(empty.value.errors)


def test_an_agency_handout_may_be_in_english_only():
    raw = shipped_raw()
    english_only = copy.deepcopy(raw)
    for part in ("title", "summary"):
        del english_only[part]["es"]
    for section in english_only["sections"]:
        del section["heading"]["es"], section["text"]["es"]
    english_only["sources"], english_only["terms"] = [], ""
    handout = parse_handout(english_only, shipped=False)
    assert handout.languages == ("en",) and not handout.shipped
    assert handout.title_in("es") == raw["title"]["en"]
    with pytest.raises(HandoutError) as shipped:
        parse_handout(english_only)
    assert "title.es" in shipped.value.errors and "sections[0].text.es" in shipped.value.errors


def test_a_half_translated_agency_handout_is_shown_in_english():
    raw = shipped_raw()
    del raw["sections"][1]["heading"]["es"], raw["sections"][1]["text"]["es"]
    handout = parse_handout(raw, shipped=False)
    assert handout.languages == ("en",)
    mixed = copy.deepcopy(shipped_raw())
    del mixed["sections"][1]["text"]["es"]
    with pytest.raises(HandoutError) as refused:
        parse_handout(mixed, shipped=False)
    assert set(refused.value.errors) == {"sections[1].text"}


def test_every_shipped_file_is_named_for_its_key():
    for path in handouts.CONTENT.glob("*.json"):
        assert json.loads(path.read_text(encoding="utf-8"))["key"] == path.stem

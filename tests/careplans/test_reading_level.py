"""Reading level of every text Careway ships for patients (issue 19): each handout whole and each
of its sections, and each red flag group, in English and in Spanish, when it has three sentences
or more. English: Flesch-Kincaid grade 6 or below; Spanish: Fernández-Huerta 80 or above (the
"fácil" band). The thresholds are the issue's; a failing text is rewritten, never the limit."""

import re
from collections.abc import Iterator

import pytest

from careway.careplans import handouts, red_flags
from tests.careplans.readability import (
    ENGLISH_MAX_GRADE,
    SPANISH_MIN_EASE,
    english_grade,
    scored,
    spanish_ease,
)

LANGUAGES = ("en", "es")


def shipped_texts() -> Iterator[tuple[str, str, str]]:
    """(where, language, text) for every shipped text a patient reads."""
    for key, handout in handouts.shipped().items():
        where = f"content/handouts/{key}.json"
        for lang in LANGUAGES:
            yield where, lang, handout.text_in(lang)
            for index, section in enumerate(handout.sections):
                lines = (section.heading_in(lang), *section.text_in(lang))
                text = "\n".join(handouts._sentence(line) for line in lines)
                yield f"{where} sections[{index}]", lang, text
    for group in red_flags.groups():
        for lang in LANGUAGES:
            yield f"content/red_flags.json group {group.key}", lang, group.text_in(lang)


TEXTS = [t for t in shipped_texts() if scored(t[2])]


def longest_sentences(text: str, count: int = 3) -> list[str]:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    return sorted(sentences, key=lambda s: len(s.split()), reverse=True)[:count]


def test_every_handout_and_every_red_flag_group_is_scored_in_both_languages():
    scored_places = {(where, lang) for where, lang, _ in TEXTS}
    for key in handouts.shipped():
        for lang in LANGUAGES:
            assert (f"content/handouts/{key}.json", lang) in scored_places
    for group in red_flags.groups():
        for lang in LANGUAGES:
            assert (f"content/red_flags.json group {group.key}", lang) in scored_places


@pytest.mark.parametrize(("where", "lang", "text"), TEXTS, ids=[f"{w} {la}" for w, la, _ in TEXTS])
def test_shipped_text_is_at_a_plain_reading_level(where, lang, text):
    longest = "\n  ".join(longest_sentences(text))
    if lang == "en":
        grade = english_grade(text)
        assert grade <= ENGLISH_MAX_GRADE, (
            f"{where} ({lang}): Flesch-Kincaid grade {grade:.1f}, above {ENGLISH_MAX_GRADE}. "
            f"Longest sentences:\n  {longest}"
        )
    else:
        ease = spanish_ease(text)
        assert ease >= SPANISH_MIN_EASE, (
            f"{where} ({lang}): Fernández-Huerta {ease:.1f}, below {SPANISH_MIN_EASE}. "
            f"Longest sentences:\n  {longest}"
        )


def test_a_hard_text_fails_with_its_score_and_longest_sentences():
    hard = (
        "Cardiovascular decompensation necessitates immediate communication with healthcare "
        "professionals. Additional symptomatology includes paroxysmal nocturnal dyspnea. "
        "Pharmacological modification may be indicated."
    )
    assert english_grade(hard) > ENGLISH_MAX_GRADE
    with pytest.raises(AssertionError) as failed:
        test_shipped_text_is_at_a_plain_reading_level("example.json", "en", hard)
    message = str(failed.value)
    assert "example.json (en)" in message and "Flesch-Kincaid grade" in message
    assert "Cardiovascular decompensation necessitates" in message

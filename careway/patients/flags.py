"""The category of a flag: its kind in words, the same for every patient who has it.

A flag's `kind` is a short code raised by an instrument, the demo or a person; its `label` says
what was found for this one patient. The caseload filters by category, so that "High fall risk"
finds every patient with that kind of flag, whatever their own detail reads. Categories are data
(content/flag_categories.json); a kind not listed there reads as its own code in words.
"""

import json
from functools import cache
from pathlib import Path

CONTENT_FILE = Path(__file__).parent / "content" / "flag_categories.json"
CATEGORY_LIMIT = 100
# What may stand between a category and the detail: colon, hyphen, en and em dash, comma.
SEPARATORS = ":-\u2013\u2014,; "


@cache
def _categories() -> dict[str, str]:
    with CONTENT_FILE.open(encoding="utf-8") as file:
        return dict(json.load(file)["categories"])


def category_of(kind: str) -> str:
    """'high-fall-risk' -> 'High fall risk'; an unlisted 'weight_gain' -> 'Weight gain'."""
    code = kind.strip().lower()
    listed = _categories().get(code.replace("_", "-"))
    if listed:
        return listed
    words = " ".join(code.replace("_", " ").replace("-", " ").split())
    return (words[:1].upper() + words[1:])[:CATEGORY_LIMIT] or "Other"


def detail_of(label: str, category: str) -> str:
    """The label without the category it may start with ('High fall risk: numb feet' in the
    category 'High fall risk' -> 'numb feet'); empty when the label says only the category."""
    text = label.strip()
    if not text.lower().startswith(category.lower()):
        return text
    rest = text[len(category) :].lstrip(" ")
    if rest and rest[0] not in SEPARATORS:
        return text  # the category's words go on into a sentence of their own
    return rest.lstrip(SEPARATORS).strip()

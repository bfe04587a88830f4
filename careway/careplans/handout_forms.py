"""The agency's handout editor (careway/careplans/agency_content_forms.py): the handout as JSON
text, checked by the service (handouts.parse_handout), whose refusal names each field by its path
in the handout ("sections[2].text.es"); and the skeleton a new handout starts from.
"""

from typing import Any

from .agency_content_forms import ContentForm

# A starting point that reads as the format does: one section in English and Spanish, its words
# left for the person to write (saving it as it is names each blank field).
SKELETON: dict[str, Any] = {
    "key": "",
    "version": "1",
    "title": {"en": "", "es": ""},
    "summary": {"en": "", "es": ""},
    "sections": [
        {"heading": {"en": "", "es": ""}, "style": "list", "text": {"en": [""], "es": [""]}}
    ],
    "sources": [{"title": "", "publisher": "", "year": "", "url": ""}],
    "terms": "",
}


class HandoutForm(ContentForm):
    noun = "handout"

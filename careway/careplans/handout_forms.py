"""The form of the agency's handout editor: the handout as JSON text, a note of what changed, and
the version the person started from (hidden, so that a save over someone else's is a conflict,
not an overwrite).

The form only reads the text as JSON; what the handout says is checked by the service
(handouts.parse_handout), whose refusal names each field by its path in the handout
("sections[2].text.es"). `handout_problems` keeps those paths, to be listed above the text box.
"""

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from careway.toolkit.forms import CarewayForm

from .services import NOTE_LIMIT

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


def as_text(content: Any) -> str:
    """A handout as the text box shows it: indented, one field a line."""
    return json.dumps(content, indent=2, ensure_ascii=False)


class HandoutForm(CarewayForm, forms.Form):
    content = forms.CharField(
        label="Handout, as JSON",
        strip=False,
        error_messages={"required": "Write the handout (start from the one shown)."},
        widget=forms.Textarea(attrs={"rows": 28, "class": "template-json"}),
    )
    note = forms.CharField(
        label="What changed, and why",
        required=False,
        max_length=NOTE_LIMIT,
        help_text="Kept with this version in the handout's history.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handout_problems: list[tuple[str, str]] = []

    def clean_content(self) -> Any:
        text = self.cleaned_data["content"]
        try:
            return json.loads(text)
        except RecursionError as error:
            raise ValidationError("Nested too deeply to be a handout.") from error
        except json.JSONDecodeError as error:
            raise ValidationError(
                f"Not valid JSON: line {error.lineno}, column {error.colno}: {error.msg}."
            ) from error

    def apply_handout_errors(self, error: ValidationError) -> None:
        """A service's refusal: the note's own error on the note, every other field of the
        handout (by its path) in `handout_problems`, listed above the text box."""
        for path, messages in error.message_dict.items():
            for message in messages:
                if path == "note":
                    self.add_error("note", message)
                else:
                    self.handout_problems.append((path, message))

    def problems(self) -> list[tuple[str, str, str]]:
        """(the field's id, what it is, the message) for every problem, in page order."""
        found = [("id_content", "Handout", str(m)) for m in self.errors.get("content", [])]
        found += [("id_content", path, message) for path, message in self.handout_problems]
        found += [("id_note", "Note", str(m)) for m in self.errors.get("note", [])]
        found += [("", "Version", str(m)) for m in self.errors.get("version", [])]
        found += [("", "", str(m)) for m in self.non_field_errors()]
        return found

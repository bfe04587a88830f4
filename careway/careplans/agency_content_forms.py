"""The form of the editor of the agency's versioned content (careway/careplans/agency_content.py):
the template or handout as JSON text, a note of what changed, and the version the person started
from (hidden, so that a save over someone else's is a conflict, not an overwrite).

The form only reads the text as JSON; what it says is checked by the service, whose refusal
names each field by its path in the content ("goals[2].measure", "sections[2].text.es").
`content_problems` keeps those paths, to be listed above the text box.
"""

import json
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError

from careway.toolkit.forms import CarewayForm

from .agency_content import NOTE_LIMIT


def as_text(content: Any) -> str:
    """The content as the text box shows it: indented, one field a line."""
    return json.dumps(content, indent=2, ensure_ascii=False)


class ContentForm(CarewayForm, forms.Form):
    noun: ClassVar[str]  # "template", "handout": in its labels and messages

    content = forms.CharField(
        strip=False,
        widget=forms.Textarea(
            attrs={
                "rows": 28,
                "class": "template-json",
                "spellcheck": "false",
                "autocapitalize": "off",
                "autocomplete": "off",
                "autocorrect": "off",
            }
        ),
    )
    note = forms.CharField(label="What changed, and why", required=False, max_length=NOTE_LIMIT)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        content = self.fields["content"]
        content.label = f"{self.noun.capitalize()}, as JSON"
        content.error_messages["required"] = f"Write the {self.noun} (start from the one shown)."
        self.fields["note"].help_text = f"Kept with this version in the {self.noun}'s history."
        self.content_problems: list[tuple[str, str]] = []

    def clean_content(self) -> Any:
        text = self.cleaned_data["content"]
        try:
            return json.loads(text)
        except RecursionError as error:
            raise ValidationError(f"Nested too deeply to be a {self.noun}.") from error
        except json.JSONDecodeError as error:
            raise ValidationError(
                f"Not valid JSON: line {error.lineno}, column {error.colno}: {error.msg}."
            ) from error

    def apply_content_errors(self, error: ValidationError) -> None:
        """A service's refusal: the note's own error on the note, every other field of the
        content (by its path) in `content_problems`, listed above the text box."""
        for path, messages in error.message_dict.items():
            for message in messages:
                if path == "note":
                    self.add_error("note", message)
                else:
                    self.content_problems.append((path, message))

    def problems(self) -> list[tuple[str, str, str]]:
        """(the field's id, what it is, the message) for every problem, in page order."""
        what = self.noun.capitalize()
        found = [("id_content", what, str(m)) for m in self.errors.get("content", [])]
        found += [("id_content", path, message) for path, message in self.content_problems]
        found += [("id_note", "Note", str(m)) for m in self.errors.get("note", [])]
        found += [("", "Version", str(m)) for m in self.errors.get("version", [])]
        found += [("", "", str(m)) for m in self.non_field_errors()]
        return found

"""The form of the agency's template editor: the template as JSON text, a note of what changed,
and the version the person started from (hidden, so that a save over someone else's is a
conflict, not an overwrite).

The form only reads the text as JSON; what the template says is checked by the service
(plan_templates.parse_template), whose refusal names each field by its path in the template
("goals[2].measure"). `template_problems` keeps those paths, to be listed above the text box.
"""

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from careway.toolkit.forms import CarewayForm

from .services import NOTE_LIMIT

# A starting point that reads as the format does: one problem, one goal and one intervention,
# their words left for the person to write (saving it as it is names each blank field).
SKELETON: dict[str, Any] = {
    "key": "",
    "version": "1",
    "title": "",
    "summary": "",
    "sources": [""],
    "terms": "",
    "problems": [{"key": "problem-1", "text": ""}],
    "goals": [
        {
            "key": "goal-1",
            "problem": "problem-1",
            "description": "",
            "ask": "",
            "due_in_days": 30,
        }
    ],
    "interventions": [
        {
            "key": "intervention-1",
            "problem": "problem-1",
            "goal": "goal-1",
            "kind": "teach",
            "text": "",
            "discipline": "RN",
        }
    ],
}


def as_text(content: Any) -> str:
    """A template as the text box shows it: indented, one field a line."""
    return json.dumps(content, indent=2, ensure_ascii=False)


class TemplateForm(CarewayForm, forms.Form):
    content = forms.CharField(
        label="Template, as JSON",
        strip=False,
        error_messages={"required": "Write the template (start from the one shown)."},
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
    note = forms.CharField(
        label="What changed, and why",
        required=False,
        max_length=NOTE_LIMIT,
        help_text="Kept with this version in the template's history.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.template_problems: list[tuple[str, str]] = []

    def clean_content(self) -> Any:
        text = self.cleaned_data["content"]
        try:
            return json.loads(text)
        except RecursionError as error:
            raise ValidationError("Nested too deeply to be a template.") from error
        except json.JSONDecodeError as error:
            raise ValidationError(
                f"Not valid JSON: line {error.lineno}, column {error.colno}: {error.msg}."
            ) from error

    def apply_template_errors(self, error: ValidationError) -> None:
        """A service's refusal: the note's own error on the note, every other field of the
        template (by its path) in `template_problems`, listed above the text box."""
        for path, messages in error.message_dict.items():
            for message in messages:
                if path == "note":
                    self.add_error("note", message)
                else:
                    self.template_problems.append((path, message))

    def problems(self) -> list[tuple[str, str, str]]:
        """(the field's id, what it is, the message) for every problem, in page order."""
        found = [("id_content", "Template", str(m)) for m in self.errors.get("content", [])]
        found += [("id_content", path, message) for path, message in self.template_problems]
        found += [("id_note", "Note", str(m)) for m in self.errors.get("note", [])]
        found += [("", "Version", str(m)) for m in self.errors.get("version", [])]
        found += [("", "", str(m)) for m in self.non_field_errors()]
        return found

"""The agency's template editor (careway/careplans/agency_content_forms.py): the template as JSON
text, checked by the service (plan_templates.parse_template), whose refusal names each field by
its path in the template ("goals[2].measure"); and the skeleton a new template starts from.
"""

from typing import Any

from .agency_content_forms import ContentForm

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


class TemplateForm(ContentForm):
    noun = "template"

"""Forms of the teaching and agreement pages (careway/careplans/teaching_views.py).

They never save: a view passes `service_data()` to careway/careplans/teaching.py, which checks
everything again, writes and audits; the choices here are the patient's own (their contacts,
the current plan's goals and interventions, the agency's teaching topics).
"""

import uuid
from collections.abc import Mapping
from typing import Any, cast

from django import forms

from careway.patients.models import Patient, RelatedPerson
from careway.toolkit.forms import CarewayForm

from . import queries, teaching
from .models import Agreement, CarePlan, TeachingRecord

METHOD_CHOICES = [
    ("explained", "Explained"),
    ("demonstrated", "Demonstrated"),
    ("handout_given", "Handout given"),
]
RESULT_HELP = {
    TeachingRecord.Result.UNDERSTOOD: "Said it back in their own words, or showed it.",
    TeachingRecord.Result.REINFORCE: "Partly: a task is raised to teach it again next visit.",
    TeachingRecord.Result.NOT_UNDERSTOOD: "Could not say it back or show it.",
}


class TeachingForm(CarewayForm, forms.Form):
    fieldsets = (
        ("What was taught", ("topic", "goal", "intervention")),
        ("To whom", ("audience", "caregiver")),
        ("How", ("methods",)),
        ("Teach-back", ("result", "notes")),
    )

    topic = forms.ChoiceField(label="Topic")
    audience = forms.ChoiceField(
        label="Taught to", choices=TeachingRecord.Audience.choices, widget=forms.RadioSelect
    )
    caregiver = forms.ChoiceField(
        label="Caregiver", required=False, help_text="Which caregiver, when a caregiver was taught."
    )
    methods = forms.MultipleChoiceField(
        label="How it was taught",
        choices=METHOD_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Say how it was taught: tick at least one."},
    )
    result = forms.ChoiceField(
        label="Teach-back result",
        choices=TeachingRecord.Result.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose the teach-back result."},
    )
    notes = forms.CharField(
        label="Notes",
        required=False,
        max_length=teaching.NOTES_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What they said back, what to go over again.",
    )
    goal = forms.ChoiceField(label="For the goal", required=False)
    intervention = forms.ChoiceField(label="For the intervention", required=False)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        patient: Patient,
        plan: CarePlan | None,
        initial: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(data, initial=dict(initial or {}))
        from .handouts import ENGLISH, handouts_for

        topics = handouts_for(patient.organization_id)
        self._choose(
            "topic",
            [("", "Choose a topic"), *((k, h.title_in(ENGLISH)) for k, h in topics.items())],
        )
        contacts = queries.caregivers_of(patient)
        self._choose(
            "caregiver",
            [("", "Choose the caregiver"), *((str(c.pk), _contact_label(c)) for c in contacts)],
        )
        goals = queries.goals_of(plan) if plan is not None else []
        self._choose("goal", [("", "No goal"), *((str(g.pk), g.description) for g in goals)])
        rows = queries.interventions_of(plan) if plan is not None else []
        self._choose(
            "intervention", [("", "No intervention"), *((str(i.pk), i.text) for i in rows)]
        )
        if not self.is_bound:
            self.initial.setdefault("audience", TeachingRecord.Audience.PATIENT)

    def _choose(self, name: str, choices: list[tuple[str, Any]]) -> None:
        cast(forms.ChoiceField, self.fields[name]).choices = choices

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        methods = set(data["methods"])
        return {
            "topic": data["topic"],
            "audience": data["audience"],
            "caregiver": int(data["caregiver"]) if data.get("caregiver") else None,
            **{name: name in methods for name, _label in METHOD_CHOICES},
            "result": data["result"],
            "notes": data.get("notes", ""),
            "goal": uuid.UUID(data["goal"]) if data.get("goal") else None,
            "intervention": uuid.UUID(data["intervention"]) if data.get("intervention") else None,
        }

    def apply_service_errors(self, error: Any) -> None:
        if hasattr(error, "error_dict"):
            for name in teaching.METHODS:
                if name in error.error_dict:
                    error.error_dict.setdefault("methods", []).extend(error.error_dict.pop(name))
        super().apply_service_errors(error)

    def result_options(self) -> list[tuple[Any, str]]:
        """The result's radio buttons with a line of help each (the page draws them large)."""
        return [(radio, RESULT_HELP.get(radio.data["value"], "")) for radio in self["result"]]


def _contact_label(contact: RelatedPerson) -> str:
    return f"{contact.name} ({contact.get_relationship_display().lower()})"


class TeachingErrorForm(CarewayForm, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label="Why it was entered in error",
        max_length=teaching.REASON_LIMIT,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why this teaching record was entered in error."},
    )


class AgreementForm(CarewayForm, forms.Form):
    fieldsets = (
        ("Who", ("who", "representative")),
        ("How", ("method", "witness_name", "notes")),
    )

    revision = forms.IntegerField(widget=forms.HiddenInput)
    who = forms.ChoiceField(
        label="Who agreed", choices=Agreement.Who.choices, widget=forms.RadioSelect
    )
    representative = forms.ChoiceField(
        label="Legal representative",
        required=False,
        help_text="A contact recorded as the patient's legal guardian or healthcare agent (POA).",
    )
    method = forms.ChoiceField(
        label="How they agreed", choices=Agreement.Method.choices, widget=forms.RadioSelect
    )
    signature = forms.CharField(widget=forms.HiddenInput, required=False)
    witness_name = forms.CharField(
        label="Witness",
        required=False,
        max_length=200,
        help_text="For a verbal agreement: the name of the person who heard it with you.",
    )
    notes = forms.CharField(
        label="Notes", required=False, max_length=teaching.NOTES_LIMIT,
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip

    def __init__(self, data: Mapping[str, Any] | None = None, *, plan: CarePlan) -> None:
        super().__init__(data, initial={"revision": plan.revision, "who": "patient"})
        contacts = [
            c
            for c in queries.caregivers_of(plan.patient)
            if c.relationship in teaching.REPRESENTATIVES
        ]
        cast(forms.ChoiceField, self.fields["representative"]).choices = [
            (
                "",
                "Choose the representative"
                if contacts
                else "No guardian or healthcare agent is recorded",
            ),
            *((str(c.pk), _contact_label(c)) for c in contacts),
        ]

    def _field_for(self, name: str, problem: Any) -> str | None:
        # The revision travels hidden: its error is the page's, at the top.
        return None if name == "revision" else super()._field_for(name, problem)

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        method = data["method"]
        return {
            "who": data["who"],
            "representative": int(data["representative"]) if data.get("representative") else None,
            "method": method,
            "signature": data.get("signature", "") if method == Agreement.Method.SIGNATURE else [],
            "witness_name": data.get("witness_name", "")
            if method == Agreement.Method.VERBAL
            else "",
            "notes": data.get("notes", ""),
            "revision": data["revision"],
        }

"""Forms of the care plan pages: what a person may type to build and revise a plan.

Forms never save: a view passes `service_data()` to careway/careplans/services.py, which checks,
writes, audits and makes the revision. Every form is built for one plan (its choices are that
plan's problems and goals, that patient's chart), and carries an optional reason for the change.
An edit carries the version the person started from and the values they saw (hidden), so that
only what they changed is sent; when someone else saved first (VersionConflict) the form comes
back on top of what is saved now, with everything they typed, and a table of what differs.
"""

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any, cast

from django import forms
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse_lazy
from django.utils import timezone

from careway.core.roles import Discipline
from careway.patients.display import plain_name
from careway.patients.models import Patient, Task
from careway.toolkit.forms import CarewayForm

from . import measures, queries, services
from .models import CarePlan, DisciplineFrequency, Goal, Intervention, Problem
from .plan_templates import WHO_PATIENT

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class FrequencyInput(forms.TextInput):
    """A frequency notation, read back in words under the field: by the page for the value it
    shows, and as the person types (htmx asks careplans:frequency_words)."""

    template_name = "careplans/widgets/frequency.html"

    def __init__(self) -> None:
        super().__init__(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "off",
                "spellcheck": "false",
                "hx-get": reverse_lazy("careplans:frequency_words"),
                "hx-trigger": "input changed delay:300ms",
                "hx-target": "next .frequency-words",
                "hx-swap": "innerHTML",
            }
        )

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["words"] = queries.words_of_frequency(str(value or ""))
        return context


ENTERED_IN_ERROR = "entered-in-error"
Choices = list[tuple[str, Any]]


class PlanForm(CarewayForm, forms.Form):
    """A form of one plan; with `row`, an edit of that row (see the module's docstring)."""

    ORIGINAL = "original"
    # The fields that are the row's own, in order (the rest is the reason and the hidden parts).
    row_fields: tuple[str, ...] = ()
    # The row's fields an edit offers besides those (its status).
    edit_fields: tuple[str, ...] = ()

    reason = forms.CharField(
        label="Reason for this change",
        required=False,
        max_length=services.REASON_LIMIT,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with the plan's revision. Needed when something was entered in error.",
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        plan: CarePlan,
        row: Any = None,
        initial: Mapping[str, Any] | None = None,
    ) -> None:
        self.plan, self.row = plan, row
        saved = self.values_of(row) if row is not None else {}
        super().__init__(data, initial={**saved, **(initial or {})})
        if row is None:
            for name in self.edit_fields:
                del self.fields[name]
        self.order_fields([*self.names(), "reason"])
        self.set_choices()
        if row is not None:
            self.fields["version"] = forms.IntegerField(widget=forms.HiddenInput)
            self.fields[self.ORIGINAL] = forms.CharField(widget=forms.HiddenInput, required=False)
            if self.is_bound:
                self.initial.update(self._started_from())
            else:
                self.initial.setdefault("version", row.version)
                self.initial[self.ORIGINAL] = json.dumps(saved, cls=DjangoJSONEncoder)

    # --- what each form says about its row ---

    def values_of(self, row: Any) -> dict[str, Any]:
        """The row's values as this form's fields hold them."""
        return {name: self.value_of(row, name) for name in self.names()}

    def value_of(self, row: Any, name: str) -> Any:
        return _field_value(getattr(row, name))

    def set_choices(self) -> None:
        """Fill the choices that depend on the plan (its problems, goals, the chart)."""

    def choose(self, name: str, choices: Choices) -> None:
        cast(forms.ChoiceField, self.fields[name]).choices = choices

    def to_service(self, names: Iterable[str]) -> dict[str, Any]:
        """The service's data for these fields of the form."""
        return {name: self.cleaned_data[name] for name in names}

    # --- shared ---

    def grouped_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        # An add form has no status: its group is left out rather than shown empty.
        return [(legend, fields) for legend, fields in super().grouped_fields() if fields]

    def names(self) -> tuple[str, ...]:
        return (*self.row_fields, *self.edit_fields)

    def _started_from(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.data.get(self.add_prefix(self.ORIGINAL)) or "{}")
        except ValueError:
            return {}
        started = {}
        for name in self.names():
            if name in raw and name in self.fields:
                try:
                    started[name] = self.fields[name].to_python(raw[name])
                except forms.ValidationError:
                    continue
        return started

    def changed_row_fields(self) -> list[str]:
        return [name for name in self.changed_data if name in self.names()]

    def service_data(self) -> dict[str, Any]:
        names = self.changed_row_fields() if self.row is not None else self.names()
        return self.to_service([n for n in names if n in self.fields])

    @property
    def reason_given(self) -> str:
        return self.cleaned_data.get("reason", "")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        status = next((data.get(n) for n in self.edit_fields if "status" in n), "")
        if status == ENTERED_IN_ERROR and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why this was entered in error.")
        return data

    def rebased_on(self, current: Any) -> "PlanForm":
        """What is saved now with this person's changes (and reason) on top."""
        typed = {name: self.cleaned_data[name] for name in self.changed_row_fields()}
        typed["reason"] = self.cleaned_data.get("reason", "")
        return type(self)(
            plan=self.plan, row=current, initial={**typed, "version": current.version}
        )

    def differences_from(self, current: Any) -> list[tuple[str, str, str]]:
        """(label, your change, what is saved now) for each field either person changed."""
        theirs = self.values_of(current)
        mine = set(self.changed_row_fields())
        rows = []
        for name in self.names():
            if name not in self.fields:
                continue
            field = self.fields[name]
            if name in mine:
                yours = self.cleaned_data.get(name)
                if _same(yours, theirs[name]):
                    continue
                rows.append((str(field.label), _shown(field, yours), _shown(field, theirs[name])))
            elif not _same(self.initial.get(name), theirs[name]):
                rows.append(
                    (str(field.label), "(you did not change this)", _shown(field, theirs[name]))
                )
        return rows


def _field_value(value: Any) -> Any:
    """A model value as a form field holds it: a related row by its id, as text."""
    if hasattr(value, "pk"):
        return str(value.pk)
    if isinstance(value, uuid.UUID):
        return str(value)
    return "" if value is None else value


def _same(a: Any, b: Any) -> bool:
    return ("" if a is None else str(a)) == ("" if b is None else str(b))


def _shown(field: forms.Field, value: Any) -> str:
    if value in (None, ""):
        return "(blank)"
    for _group, options in _flat(getattr(field, "choices", ()) or ()):
        if str(options[0]) == str(value):
            return str(options[1])
    if isinstance(value, date):
        return f"{value:%b} {value.day}, {value.year}"
    return str(value)


def _flat(choices: Iterable[Any]) -> Iterable[tuple[str, tuple[Any, Any]]]:
    for value, label in choices:
        if isinstance(label, list | tuple):
            for option in label:
                yield str(value), option
        else:
            yield "", (value, label)


def _id(value: str, kind: type = int) -> Any:
    return kind(value) if value else None


# --- the plan itself -----------------------------------------------------------------------------


class PlanEditForm(PlanForm):
    row_fields = ("title", "review_due")

    title = forms.CharField(max_length=200)
    review_due = forms.DateField(
        label="Review due",
        required=False,
        widget=DATE_WIDGET,
        help_text="When the plan is next reviewed with the patient.",
    )


class PlanStatusForm(PlanForm):
    edit_fields = ("status",)

    status = forms.ChoiceField(label="New status", widget=forms.RadioSelect)

    def set_choices(self) -> None:
        offered = {
            CarePlan.Status.ACTIVE: "In effect: the team works to it",
            CarePlan.Status.ON_HOLD: "On hold",
            CarePlan.Status.COMPLETED: "Completed: the episode's care is done",
            CarePlan.Status.ENTERED_IN_ERROR: "Entered in error (say why below)",
        }
        self.choose(
            "status",
            [(value, label) for value, label in offered.items() if value != self.plan.status],
        )


# --- problems ------------------------------------------------------------------------------------


class ProblemAddForm(PlanForm):
    row_fields = ("from_chart", "text")
    service_field_aliases = {
        "condition": "from_chart",
        "flag": "from_chart",
        "finding": "from_chart",
        "source": "from_chart",
    }

    from_chart = forms.ChoiceField(
        label="From the chart",
        required=False,
        help_text="A condition, a flag or a finding of a signed assessment; or write it below.",
    )
    text = forms.CharField(
        label="Problem",
        max_length=300,
        required=False,
        help_text="In words. Left blank, the chart record's words are used.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def set_choices(self) -> None:
        found = queries.chart_records_for_problems(self.plan.patient)
        groups: Choices = [("", "Nothing from the chart: I write it below")]
        if found.conditions:
            groups.append(
                (
                    "Conditions",
                    [(f"condition:{c.pk}", plain_name(c.display)) for c in found.conditions],
                )
            )
        if found.flags:
            groups.append(("Flags", [(f"flag:{f.pk}", f.label) for f in found.flags]))
        if found.findings:
            groups.append(
                (
                    "Assessment findings",
                    [
                        (
                            f"finding:{f.pk}",
                            f"{f.label} ({f.assessment.visit_date:%b} "
                            f"{f.assessment.visit_date.day})",
                        )
                        for f in found.findings
                    ],
                )
            )
        self.choose("from_chart", groups)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("from_chart") and not (data.get("text") or "").strip():
            self.add_error("text", "Write the problem, or pick one from the chart.")
        return data

    def to_service(self, names: Iterable[str]) -> dict[str, Any]:
        data: dict[str, Any] = {"text": " ".join(self.cleaned_data["text"].split())}
        picked = self.cleaned_data.get("from_chart") or ""
        if picked:
            kind, _, pk = picked.partition(":")
            data[kind] = int(pk)
        return data


class ProblemEditForm(PlanForm):
    row_fields = ("text",)
    edit_fields = ("status",)

    text = forms.CharField(
        label="Problem", max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )
    status = forms.ChoiceField(choices=Problem.Status.choices)

    def to_service(self, names: Iterable[str]) -> dict[str, Any]:
        data = super().to_service(names)
        if "text" in data:
            data["text"] = " ".join(data["text"].split())
        return data


# --- goals ---------------------------------------------------------------------------------------


def _unit_help() -> str:
    units = sorted({m.unit for m in measures.measures().values() if m.takes_range and m.unit})
    return f"In the measure's own unit ({', '.join(units)})."


class GoalForm(PlanForm):
    row_fields = (
        "patient_words",
        "description",
        "problem",
        "measure",
        "target_low",
        "target_high",
        "target_days",
        "task",
        "teaching_topic",
        "due_date",
    )
    edit_fields = ("lifecycle_status",)
    fieldsets = (
        ("The goal", ("patient_words", "description", "problem")),
        (
            "How it is measured",
            (
                "measure",
                "due_date",
                "target_low",
                "target_high",
                "target_days",
                "task",
                "teaching_topic",
            ),
        ),
        ("Status", ("lifecycle_status",)),
        ("Why", ("reason",)),
    )

    patient_words = forms.CharField(
        label="In the patient's words",
        max_length=300,
        required=False,
        help_text='As the patient says it, for example "Walk to the mailbox by spring".',
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    description = forms.CharField(
        label="Goal",
        max_length=300,
        required=False,
        help_text="The measurable goal, as the team writes it. Left blank: the patient's words.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    problem = forms.ChoiceField(label="For the problem", required=False)
    measure = forms.ChoiceField(label="Measured by", required=False)
    target_low = forms.FloatField(label="At least", required=False, help_text=_unit_help())
    target_high = forms.FloatField(
        label="At most", required=False, help_text="Give at least, at most, or both."
    )
    target_days = forms.IntegerField(
        label="Days without it",
        required=False,
        min_value=1,
        max_value=366,
        help_text="For falls, hospital stays or emergency visits.",
    )
    task = forms.ChoiceField(
        label="The task that achieves it", required=False, help_text="For “A task done”."
    )
    teaching_topic = forms.ChoiceField(
        label="Met by teaching",
        required=False,
        help_text="Met when the latest teach-back on this topic is “understood” (leave "
        "“Measured by” blank).",
    )
    due_date = forms.DateField(label="Due by", required=False, widget=DATE_WIDGET)
    lifecycle_status = forms.ChoiceField(label="Status", choices=Goal.Lifecycle.choices)

    def set_choices(self) -> None:
        self.choose(
            "problem",
            [
                ("", "Not linked to a problem"),
                *((str(p.pk), p.text) for p in queries.problems_of(self.plan)),
            ],
        )
        self.choose(
            "measure",
            [
                ("", "Nothing on the chart: a goal in words"),
                *measures.choices(),
            ],
        )
        tasks = queries.open_tasks(self.plan.patient)
        if self.row is not None and self.row.task_id:
            tasks = tasks | Task.objects.filter(pk=self.row.task_id)
        self.choose(
            "task",
            [
                ("", "No task"),
                *((str(t.pk), t.title) for t in tasks),
            ],
        )
        self.choose("teaching_topic", topic_choices(self.plan, self.row, "Not met by teaching"))

    def to_service(self, names: Iterable[str]) -> dict[str, Any]:
        data = super().to_service(names)
        if "problem" in data:
            data["problem"] = _id(data["problem"], uuid.UUID)
        if "task" in data:
            data["task"] = _id(data["task"])
        for text in ("patient_words", "description"):
            if text in data:
                data[text] = " ".join(data[text].split())
        return data


# --- interventions -------------------------------------------------------------------------------


class InterventionForm(PlanForm):
    row_fields = (
        "kind",
        "text",
        "who",
        "at_visits_of",
        "frequency",
        "goal",
        "teaching_topic",
        "start_date",
        "end_date",
    )
    edit_fields = ("status",)
    service_field_aliases = {
        "discipline": "who",
        "clinician": "who",
        "caregiver": "who",
        "by_patient": "who",
    }
    fieldsets = (
        ("What", ("kind", "text", "goal", "teaching_topic")),
        ("Who and when", ("who", "at_visits_of", "frequency", "start_date", "end_date")),
        ("Status", ("status",)),
        ("Why", ("reason",)),
    )

    kind = forms.ChoiceField(choices=Intervention.Kind.choices, widget=forms.RadioSelect)
    text = forms.CharField(
        label="Intervention",
        max_length=300,
        help_text="What will be done, for example: Teach daily weights and when to call.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    who = forms.ChoiceField(label="Who carries it out")
    at_visits_of = forms.ChoiceField(label="At the visits of", required=False)
    frequency = forms.CharField(
        label="Its own frequency",
        max_length=120,
        required=False,
        help_text="Only where it differs from those visits, for example PRN x2 for dyspnea.",
        widget=FrequencyInput(),
    )
    goal = forms.ChoiceField(label="Toward the goal", required=False)
    teaching_topic = forms.ChoiceField(
        label="Teaching topic",
        required=False,
        help_text="For a teaching intervention: its latest teach-back shows beside it.",
    )
    start_date = forms.DateField(label="Start", required=False, widget=DATE_WIDGET)
    end_date = forms.DateField(label="End", required=False, widget=DATE_WIDGET)
    status = forms.ChoiceField(choices=Intervention.Status.choices)

    def set_choices(self) -> None:
        patient: Patient = self.plan.patient
        clinicians = queries.clinicians_on_team(self.plan)
        # Someone who has left the team still carries the interventions they had until changed.
        former = self.row.clinician if self.row is not None else None
        if former is not None and former.pk not in {u.pk for u in clinicians}:
            clinicians.append(former)
        caregivers = list(queries.caregivers_of(patient))
        groups: Choices = [
            ("", "Choose who"),
            # What the patient does themself ("Weigh yourself every morning"): the patient's
            # version lists it under "You".
            (WHO_PATIENT, "The patient"),
            ("A discipline", [(f"discipline:{v}", label) for v, label in Discipline.choices]),
        ]
        if clinicians:
            groups.append(
                (
                    "A clinician on the team",
                    [(f"clinician:{u.pk}", u.display_name) for u in clinicians],
                )
            )
        if caregivers:
            groups.append(
                (
                    "A family caregiver",
                    [
                        (f"caregiver:{c.pk}", f"{c.name} ({c.get_relationship_display().lower()})")
                        for c in caregivers
                    ],
                )
            )
        self.choose("who", groups)
        self.choose(
            "at_visits_of",
            [
                ("", "Not at a discipline's visits"),
                *Discipline.choices,
            ],
        )
        self.choose(
            "goal",
            [
                ("", "Not linked to a goal"),
                *((str(g.pk), g.description) for g in queries.goals_of(self.plan)),
            ],
        )
        self.choose("teaching_topic", topic_choices(self.plan, self.row, "No teaching topic"))
        if self.row is None:
            self.fields["start_date"].initial = timezone.localdate()

    def value_of(self, row: Any, name: str) -> Any:
        return _who_of(row) if name == "who" else super().value_of(row, name)

    def to_service(self, names: Iterable[str]) -> dict[str, Any]:
        names = list(names)
        data = super().to_service(n for n in names if n != "who")
        if "who" in names:
            kind, _, value = self.cleaned_data["who"].partition(":")
            data["discipline"] = value if kind == "discipline" else ""
            data["clinician"] = _id(value) if kind == "clinician" else None
            data["caregiver"] = _id(value) if kind == "caregiver" else None
            data["by_patient"] = kind == WHO_PATIENT
        if "goal" in data:
            data["goal"] = _id(data["goal"], uuid.UUID)
        if "text" in data:
            data["text"] = " ".join(data["text"].split())
        return _without_blank_start(data)


def topic_choices(plan: CarePlan, row: Any, blank: str) -> Choices:
    """The agency's teaching topics (its handout library), by title; a row's topic the agency
    has since retired stays offered, so that saving the row does not lose it."""
    from .handouts import ENGLISH, handouts_for

    topics = handouts_for(plan.organization_id)
    choices: Choices = [(key, h.title_in(ENGLISH)) for key, h in topics.items()]
    kept = getattr(row, "teaching_topic", "") if row is not None else ""
    if kept and kept not in topics:
        choices.append((kept, f"{measures.topic_words(kept)} (retired)"))
    return [("", blank), *choices]


def _without_blank_start(data: dict[str, Any]) -> dict[str, Any]:
    """A blank start is the default start (today, or the start of care), never no start."""
    if "start_date" in data and data["start_date"] is None:
        del data["start_date"]
    return data


def _who_of(row: Intervention) -> str:
    if row.by_patient:
        return WHO_PATIENT
    if row.clinician_id:
        return f"clinician:{row.clinician_id}"
    if row.caregiver_id:
        return f"caregiver:{row.caregiver_id}"
    return f"discipline:{row.discipline}" if row.discipline else ""


# --- visit frequencies ---------------------------------------------------------------------------


class FrequencyForm(PlanForm):
    row_fields = ("discipline", "frequency", "start_date", "end_date")
    edit_fields = ("status",)

    discipline = forms.ChoiceField(choices=Discipline.choices)
    frequency = forms.CharField(
        max_length=120,
        help_text="Visits a week and weeks (3w1, 2w4), a month (1m2), daily (qd x5), "
        "as needed (PRN x2 for dyspnea).",
        widget=FrequencyInput(),
    )
    start_date = forms.DateField(
        label="Start",
        required=False,
        widget=DATE_WIDGET,
        help_text="Week 1 is this day and the six after it. Blank: the start of care.",
    )
    end_date = forms.DateField(
        label="End", required=False, widget=DATE_WIDGET, help_text="Blank: worked out from it."
    )
    status = forms.ChoiceField(choices=DisciplineFrequency.Status.choices)

    def to_service(self, names: Iterable[str]) -> dict[str, Any]:
        return _without_blank_start(super().to_service(names))


# --- suggestions ---------------------------------------------------------------------------------


class SuggestionAcceptForm(CarewayForm, forms.Form):
    """A suggestion as it will go into the plan, for the person to change first: a goal put in
    the patient's own words, an intervention given to another discipline. Only the fields of its
    kind of row are offered (services.ACCEPT_EDITS)."""

    text = forms.CharField(label="Problem", max_length=300)
    description = forms.CharField(label="Goal", max_length=300)
    patient_words = forms.CharField(
        label="In the patient's words",
        max_length=300,
        required=False,
        help_text="As the patient says it.",
    )
    due_date = forms.DateField(label="Due", required=False, widget=DATE_WIDGET)
    discipline = forms.ChoiceField(
        label="Carried out by", choices=[*Discipline.choices, (WHO_PATIENT, "The patient")]
    )
    frequency = forms.CharField(
        label="How often, where it differs from the visits",
        max_length=120,
        required=False,
        widget=FrequencyInput(),
    )
    reason = forms.CharField(
        label="Note for the plan's revision",
        required=False,
        max_length=services.REASON_LIMIT,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional. Left blank, the revision keeps the suggestion's reasons.",
    )

    KIND_FIELDS = {
        "problem": ("text",),
        "goal": ("description", "patient_words", "due_date"),
        "intervention": ("text", "discipline", "frequency"),
    }

    def __init__(self, data: Any = None, *, suggestion: Any, item: Any = None) -> None:
        initial: dict[str, Any] = {"discipline": "RN"}
        if suggestion.kind == "goal":
            initial["description"] = suggestion.text
            if item is not None and item.due_in_days:
                initial["due_date"] = timezone.localdate() + timedelta(days=item.due_in_days)
            if item is not None and item.ask:
                self.ask = item.ask
        else:
            initial["text"] = suggestion.text
        if item is not None and suggestion.kind == "intervention":
            initial["discipline"] = (
                WHO_PATIENT if item.fields.get("by_patient") else item.fields.get("discipline")
            ) or "RN"
            initial["frequency"] = item.fields.get("frequency", "")
        super().__init__(data, initial=initial)
        keep = {*self.KIND_FIELDS[suggestion.kind], "reason"}
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if suggestion.kind == "problem":
            self.fields["text"].label = "Problem"
        elif suggestion.kind == "intervention":
            self.fields["text"].label = "Intervention"
        if getattr(self, "ask", ""):
            self.fields["patient_words"].help_text = f"Ask: “{self.ask}” Write the answer as said."
        self.kind = suggestion.kind

    def edits(self) -> dict[str, Any]:
        """What differs from the suggestion as offered (the service takes only edits)."""
        return {
            name: self.cleaned_data[name]
            for name in self.KIND_FIELDS[self.kind]
            if self.cleaned_data.get(name) not in (None, "")
            and self.cleaned_data[name] != self.initial.get(name)
        }


class SuggestionRejectForm(CarewayForm, forms.Form):
    reason = forms.CharField(
        label="Why it does not fit this patient",
        max_length=services.REASON_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="It stays rejected, with this reason, until the chart behind it changes.",
    )

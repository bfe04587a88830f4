"""The plan of care's forms: the draft (CMS-485 fields, checkbox lists, the diagnoses picker
rows, the notify-if numbers), sending, marking signed, and a verbal order."""

from typing import Any

from django import forms

from careway.core.roles import Discipline
from careway.patients import alerts
from careway.toolkit.forms import CarewayForm

from . import certification
from .models import PlanOfCare, Practitioner
from .plan_of_care import SEND_HOW

DIAGNOSIS_ROWS = 8
PRACTITIONER_CHOICES = [("", "Choose")] + [
    (k.value, k.label) for k in Practitioner if k in certification.CERTIFYING
]
NOTIFY_PREFIX = "notify_"


class PlanOfCareForm(CarewayForm, forms.ModelForm):
    """A draft's fields; the diagnoses come as rows (`diagnosis_rows`) the template draws."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    surgical_procedure = forms.CharField(
        required=False, max_length=300, help_text="With its date, or 'None'."
    )
    functional_limitations = forms.MultipleChoiceField(
        label="Functional limitations (18.A)", required=False,
        choices=certification.FUNCTIONAL_LIMITATIONS, widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    activities_permitted = forms.MultipleChoiceField(
        label="Activities permitted (18.B)", required=False,
        choices=certification.ACTIVITIES_PERMITTED, widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    mental_status_items = forms.MultipleChoiceField(
        label="Mental status (19)", required=False,
        choices=certification.MENTAL_STATUS, widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    homebound = forms.TypedChoiceField(
        label="Homebound", required=False, coerce=lambda v: v == "yes", empty_value=None,
        choices=[("yes", "Yes, homebound"), ("no", "No")], widget=forms.RadioSelect,
    )  # fmt: skip

    class Meta:
        model = PlanOfCare
        fields = [
            "practitioner_name", "practitioner_kind", "practitioner_npi", "practitioner_address",
            "practitioner_phone", "face_to_face_date", "face_to_face_practitioner",
            "face_to_face_kind", "face_to_face_findings", "homebound_reason", "prognosis",
            "rehab_potential", "discharge_plans", "safety_measures", "nutritional_requirements",
            "equipment_supplies", "hospitalization_risk",
        ]  # fmt: skip
        labels = {
            "face_to_face_date": "Date of the face-to-face encounter",
            "face_to_face_practitioner": "Performed by",
            "face_to_face_findings": "Findings related to the primary reason for home health",
            "homebound_reason": "Why homebound (criterion one and criterion two)",
            "practitioner_name": "Certifying practitioner's name",
            "practitioner_npi": "NPI",
            "practitioner_address": "Address",
            "practitioner_phone": "Phone",
        }
        widgets = {
            "face_to_face_date": forms.DateInput(attrs={"type": "date"}),
            **{name: forms.Textarea(attrs={"rows": 2}) for name in (
                "face_to_face_findings", "homebound_reason", "rehab_potential",
                "discharge_plans", "safety_measures", "nutritional_requirements",
                "equipment_supplies", "hospitalization_risk")},
        }  # fmt: skip

    fieldsets = (
        ("Certifying practitioner", ("practitioner_name", "practitioner_kind",
                                     "practitioner_npi", "practitioner_address",
                                     "practitioner_phone")),
        ("Face-to-face encounter (start of care only)", (
            "face_to_face_date", "face_to_face_practitioner", "face_to_face_kind",
            "face_to_face_findings")),
        ("Homebound status", ("homebound", "homebound_reason")),
        ("Condition and plan", ("surgical_procedure", "mental_status_items", "prognosis",
                                "rehab_potential", "discharge_plans", "hospitalization_risk")),
        ("Safety, nutrition, equipment", ("safety_measures", "nutritional_requirements",
                                          "equipment_supplies")),
        ("Functional limitations and activities permitted", ("functional_limitations",
                                                             "activities_permitted")),
    )  # fmt: skip

    def __init__(self, data: Any = None, *, poc: PlanOfCare) -> None:
        initial = {
            "version": poc.version,
            "surgical_procedure": poc.content.get("surgical_procedure", ""),
            "functional_limitations": poc.functional_limitations,
            "activities_permitted": poc.activities_permitted,
            "mental_status_items": _mental_keys(poc.mental_status),
            "homebound": {True: "yes", False: "no"}.get(poc.homebound),  # type: ignore[arg-type]
            **{f"{NOTIFY_PREFIX}{k}": v for k, v in poc.notify_if.items()},
        }
        super().__init__(data, instance=poc, initial=initial)
        self.poc = poc
        labels = {
            "practitioner_kind": "Kind of practitioner",
            "face_to_face_kind": "Kind of practitioner who saw the patient",
        }
        for name, label in labels.items():
            self.fields[name] = forms.ChoiceField(
                label=label,
                choices=PRACTITIONER_CHOICES, required=False,
                help_text="A certified nurse-midwife may not certify home health.",
            )  # fmt: skip
        for field in alerts.fields():
            self.fields[f"{NOTIFY_PREFIX}{field.name}"] = forms.FloatField(
                label=f"{field.label} ({field.unit})", required=False, min_value=0.1
            )
        self.diagnosis_rows = self._diagnosis_rows()

    def notify_fields(self) -> list[forms.BoundField]:
        return [self[f"{NOTIFY_PREFIX}{f.name}"] for f in alerts.fields()]

    def _diagnosis_rows(self) -> list[dict[str, Any]]:
        if self.is_bound:
            rows = [
                {"code": self.data.get(f"dx_code_{i}", ""),
                 "onset": self.data.get(f"dx_onset_{i}", ""),
                 "snomed": self.data.get(f"dx_snomed_{i}", ""),
                 "snomed_display": self.data.get(f"dx_snomed_display_{i}", ""),
                 "principal": self.data.get("dx_principal") == str(i)}
                for i in range(DIAGNOSIS_ROWS)
            ]  # fmt: skip
        else:
            rows = [dict(row) for row in self.poc.diagnoses]
        empty = {"code": "", "onset": "", "snomed": "", "snomed_display": "", "principal": False}
        rows += [empty] * (DIAGNOSIS_ROWS - len(rows))
        return [{**row, "index": i} for i, row in enumerate(rows[:DIAGNOSIS_ROWS])]

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        names = [*self.Meta.fields, "surgical_procedure", "functional_limitations",
                 "activities_permitted", "homebound"]  # fmt: skip
        found: dict[str, Any] = {name: data.get(name) for name in names}
        for name in self.Meta.fields:
            if found[name] is None and name != "face_to_face_date":
                found[name] = ""
        keys = dict(certification.MENTAL_STATUS)
        found["mental_status"] = ", ".join(keys[k] for k in data["mental_status_items"])
        found["notify_if"] = {
            f.name: data[f"{NOTIFY_PREFIX}{f.name}"]
            for f in alerts.fields()
            if data.get(f"{NOTIFY_PREFIX}{f.name}") is not None
        }
        found["diagnoses"] = [
            {"code": row["code"], "onset": row["onset"], "snomed": row["snomed"],
             "snomed_display": row.get("snomed_display", ""), "principal": row["principal"]}
            for row in self.diagnosis_rows
            if str(row["code"]).strip()
        ]  # fmt: skip
        return found

    def apply_service_errors(self, error: Any) -> None:
        if hasattr(error, "error_dict"):
            moved: dict[str, list[Any]] = {}
            for name, problems in error.error_dict.items():
                target = name
                if name.startswith("diagnoses"):
                    target = "__all__"
                elif name.startswith("notify_if."):
                    target = NOTIFY_PREFIX + name.removeprefix("notify_if.")
                elif name == "mental_status":
                    target = "mental_status_items"
                moved.setdefault(target, []).extend(problems)
            for name, problems in moved.items():
                for problem in problems:
                    self.add_error(None if name not in self.fields else name, problem)
            return
        super().apply_service_errors(error)


def _mental_keys(text: str) -> list[str]:
    words = {w.strip() for w in (text or "").split(",")}
    return [key for key, label in certification.MENTAL_STATUS if label in words]


class SendForm(CarewayForm, forms.Form):
    how = forms.ChoiceField(
        label="Send by", choices=list(SEND_HOW.items()), widget=forms.RadioSelect
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class SignedForm(CarewayForm, forms.Form):
    signed_on = forms.DateField(
        label="Date the practitioner signed", widget=forms.DateInput(attrs={"type": "date"})
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class VerbalOrderForm(CarewayForm, forms.Form):
    text = forms.CharField(label="Order, as given", widget=forms.Textarea(attrs={"rows": 3}))
    discipline = forms.ChoiceField(required=False, choices=[("", "Any"), *list(Discipline.choices)])
    practitioner_name = forms.CharField(label="Given by", max_length=200)
    practitioner_kind = forms.ChoiceField(label="Practitioner", choices=PRACTITIONER_CHOICES)
    read_back = forms.BooleanField(
        label="I read the order back to the practitioner, who confirmed it", required=False
    )

    def service_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)

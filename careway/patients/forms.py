"""Forms of the patient pages: what a person may type, checked before a service writes it.

Forms never save: a view passes `service_data()` to the service in careway/patients/services.py,
which writes and audits. Ownership fields (organization, patient, version) are not form fields,
except `version`, which travels in a hidden input so that a stale edit is caught as a conflict.
"""

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.utils import timezone

from careway.core.models import Branch, Membership, Organization, User
from careway.core.roles import Role
from careway.toolkit.forms import CarewayForm, VersionedForm

from . import alerts
from .models import (
    ICD10CM,
    LOINC,
    RXNORM,
    SNOMED,
    Allergy,
    CareTeamMember,
    Condition,
    Coverage,
    EpisodeOfCare,
    Medication,
    Patient,
    RelatedPerson,
)
from .services import EmergencySearch
from .vitals import VitalSign, sign_for_code, vital_signs

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
NAME_WIDGET = forms.Textarea(attrs={"rows": 2, "class": "name-input"})
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
# Staff roles that can be named on a care team (admins and auditors do not read charts).
CARE_TEAM_ROLES = (Role.SUPERVISOR, Role.CASE_MANAGER, Role.CLINICIAN, Role.SCHEDULER)


PATIENT_FIELDSETS = (
    ("Name and identity", ("given_name", "middle_name", "family_name", "preferred_name",
                           "birth_date", "sex", "gender_identity", "pronouns", "mrn")),
    ("Language", ("preferred_language", "interpreter_needed")),
    ("Home address and phones", ("address_line", "address_line2", "city", "state",
                                 "postal_code", "phone_home", "phone_mobile", "email")),
    ("Coverage identifiers", ("medicare_number", "medicaid_number")),
    ("Care preferences", ("code_status", "advance_directive", "no_known_allergies",
                          "what_matters_most")),
)  # fmt: skip
PATIENT_FIELDS = tuple(name for _, names in PATIENT_FIELDSETS for name in names)


class PatientForm(VersionedForm, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput)
    fieldsets = PATIENT_FIELDSETS
    model_field_names = PATIENT_FIELDS

    class Meta:
        model = Patient
        fields = PATIENT_FIELDS
        widgets = {
            "birth_date": DATE_WIDGET,
            "what_matters_most": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "mrn": "The agency's medical record number.",
            "state": "Two letters, for example OH.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "version" not in self.initial:
            self.initial["version"] = self.instance.version

    def clean_birth_date(self):
        born = self.cleaned_data["birth_date"]
        if born > timezone.localdate():
            raise ValidationError("Date of birth cannot be in the future.")
        if born.year < 1880:
            raise ValidationError("Check the year of birth.")
        return born

    def clean_state(self) -> str:
        return self.cleaned_data["state"].upper()


EPISODE_FIELDS = ("referral_source", "referral_date", "start_of_care")


class PatientCreateForm(PatientForm):
    """A new patient, their first episode, the branch and (for supervisors) the case manager."""

    version = None
    branch = forms.ModelChoiceField(queryset=Branch.objects.none(), empty_label=None)
    referral_source = forms.CharField(
        max_length=200, required=False, help_text="For example: the hospital or physician."
    )
    referral_date = forms.DateField(required=False, widget=DATE_WIDGET)
    start_of_care = forms.DateField(
        required=False, widget=DATE_WIDGET, help_text="Leave blank until the first visit."
    )
    case_manager = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="Me",
        label="Primary case manager",
        help_text="Who will manage this patient's care. Leave as 'Me' to take the patient.",
    )
    service_field_aliases = {"primary_case_manager": "case_manager"}
    fieldsets = (
        ("Referral and branch", ("branch", "case_manager", *EPISODE_FIELDS)),
        *PATIENT_FIELDSETS,
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = branches_of(user)
        if user.supervised_branch_ids():
            self.fields["case_manager"].queryset = case_managers_of(user)
        else:
            del self.fields["case_manager"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        referred, started = data.get("referral_date"), data.get("start_of_care")
        if referred and started and started < referred:
            self.add_error("start_of_care", "Start of care cannot be before the referral date.")
        return data

    def episode_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in EPISODE_FIELDS}
        started = data["start_of_care"]
        admitted = started is not None and started <= timezone.localdate()
        data["status"] = EpisodeOfCare.Status.ACTIVE if admitted else EpisodeOfCare.Status.REFERRED
        return data


def branches_of(user: User):
    """The branches a person works at; agency-wide members may use any branch of the agency."""
    branches = Branch.objects.filter(organization_id=user.organization_id).order_by("name")
    memberships = user.active_memberships()
    if any(m.branch_id is None for m in memberships):
        return branches
    return branches.filter(pk__in=user.branch_ids())


def case_managers_of(user: User):
    return case_managers_in(user.organization_id)


def case_managers_in(organization_id: int):
    return (
        User.objects.filter(
            organization_id=organization_id,
            is_active=True,
            memberships__active=True,
            memberships__role=Role.CASE_MANAGER,
        )
        .distinct()
        .order_by("last_name", "first_name")
    )


CONTACT_FIELDS = (
    "name", "relationship", "phone", "email", "lives_with_patient", "is_primary_caregiver",
    "is_emergency_contact", "may_receive_information", "notes",
)  # fmt: skip


class ContactForm(VersionedForm, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput)
    model_field_names = CONTACT_FIELDS

    class Meta:
        model = RelatedPerson
        fields = CONTACT_FIELDS
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "version" not in self.initial:
            self.initial["version"] = self.instance.version


class ContactCreateForm(ContactForm):
    version = None


CODE_SYSTEM_CHOICES = [
    ("", "No code"),
    (ICD10CM, "ICD-10-CM"),
    (SNOMED, "SNOMED CT"),
]


class CodedForm(CarewayForm):
    """A coded clinical record: a code needs its system, and the words are always kept."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        code, system = data.get("code", ""), data.get("code_system", "")
        if code and not system:
            self.add_error("code_system", "Choose the code system the code comes from.")
        if system and not code:
            self.add_error("code", "Enter the code, or choose 'No code'.")
        return data


def one_line(text: str) -> str:
    """A name typed in a box that wraps, kept as one line."""
    return " ".join(text.split())


CONDITION_FIELDS = (
    "display", "code_system", "code", "clinical_status", "onset_date", "abatement_date",
    "is_primary", "note",
)  # fmt: skip


class ConditionForm(CodedForm, forms.ModelForm):
    code_system = forms.ChoiceField(choices=CODE_SYSTEM_CHOICES, required=False)
    model_field_names = CONDITION_FIELDS

    class Meta:
        model = Condition
        fields = CONDITION_FIELDS
        labels = {"display": "Condition", "code": "Diagnosis code"}
        help_texts = {"display": "In words, e.g. Heart failure.", "code": "For example: I50.9"}
        widgets = {
            # A long name (imported names run to 300 characters) wraps instead of hiding.
            "display": NAME_WIDGET,
            "onset_date": DATE_WIDGET,
            "abatement_date": DATE_WIDGET,
            "note": forms.Textarea(attrs={"rows": 3}),
        }

    def clean_display(self) -> str:
        return one_line(self.cleaned_data["display"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        onset, ended = data.get("onset_date"), data.get("abatement_date")
        if onset and ended and ended < onset:
            self.add_error("abatement_date", "Resolved date cannot be before the onset date.")
        return data


MEDICATION_FIELDS = (
    "display", "code", "dose", "route", "frequency", "as_needed", "indication", "prescriber",
    "status", "start_date", "end_date", "note",
)  # fmt: skip


class MedicationForm(CarewayForm, forms.ModelForm):
    model_field_names = MEDICATION_FIELDS

    class Meta:
        model = Medication
        fields = MEDICATION_FIELDS
        labels = {"display": "Medication", "code": "RxNorm code (RxCUI)"}
        help_texts = {
            "display": "Name and strength, e.g. Furosemide 40 mg tablet.",
            "code": "Optional: the RxNorm concept number, digits only.",
        }
        widgets = {
            "display": NAME_WIDGET,
            "start_date": DATE_WIDGET,
            "end_date": DATE_WIDGET,
            "note": forms.Textarea(attrs={"rows": 3}),
        }

    def clean_display(self) -> str:
        return one_line(self.cleaned_data["display"])

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip()
        if code and not code.isdigit():
            raise ValidationError("An RxNorm code is digits only, e.g. 310429.")
        return code

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        data["code_system"] = RXNORM if data["code"] else ""
        return data


ALLERGY_FIELDS = (
    "display", "category", "criticality", "reaction", "code_system", "code", "note",
)  # fmt: skip


class AllergyForm(CodedForm, forms.ModelForm):
    code_system = forms.ChoiceField(
        choices=[("", "No code"), (SNOMED, "SNOMED CT"), (RXNORM, "RxNorm")], required=False
    )
    model_field_names = ALLERGY_FIELDS

    class Meta:
        model = Allergy
        fields = ALLERGY_FIELDS
        labels = {"display": "Allergic to", "criticality": "Criticality"}
        help_texts = {
            "display": "The substance, e.g. Penicillin.",
            "criticality": "High: a future reaction could be life-threatening.",
        }
        widgets = {"note": forms.Textarea(attrs={"rows": 3})}


class RecordEditForm(VersionedForm):
    """An edit of a clinical record that started from a version; its status changes apart
    (RecordStatusForm), so an edit never stops, resolves or voids a record by the way."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Added here: a mixin's class attributes are not form fields.
        self.fields["version"] = forms.IntegerField(widget=forms.HiddenInput)
        if self.instance.pk and "version" not in self.initial:
            self.initial["version"] = self.instance.version


CONDITION_EDIT_FIELDS = tuple(f for f in CONDITION_FIELDS if f != "clinical_status")


class ConditionEditForm(RecordEditForm, ConditionForm):
    model_field_names = CONDITION_EDIT_FIELDS

    class Meta(ConditionForm.Meta):
        fields = CONDITION_EDIT_FIELDS


MEDICATION_EDIT_FIELDS = tuple(f for f in MEDICATION_FIELDS if f != "status")


class MedicationEditForm(RecordEditForm, MedicationForm):
    model_field_names = MEDICATION_EDIT_FIELDS

    class Meta(MedicationForm.Meta):
        fields = MEDICATION_EDIT_FIELDS

    def service_data(self) -> dict[str, Any]:
        data = RecordEditForm.service_data(self)
        if "code" in data:
            data["code_system"] = RXNORM if data["code"] else ""
        return data


class AllergyEditForm(RecordEditForm, AllergyForm):
    pass


ENTERED_IN_ERROR = "entered-in-error"
# What each kind of record calls its statuses when a person changes one, and the date that
# ends it; the statuses themselves are the model's (and FHIR's).
STATUS_WORDING = {
    Condition: ("Resolved or inactive since", "The date it resolved; today if blank."),
    Medication: ("Stopped or completed on", "The last day it was taken; today if blank."),
    Allergy: ("", ""),
}


class RecordStatusForm(CarewayForm, forms.Form):
    """Change a record's status, or mark it entered in error (with the reason)."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    status = forms.ChoiceField(label="New status", widget=forms.RadioSelect)
    on = forms.DateField(required=False, widget=DATE_WIDGET)
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed when the record was entered in error; kept in the record's note.",
    )

    def __init__(self, *args: Any, record: Any, choices: Iterable[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model = type(record)
        labels = dict(model._meta.get_field(_status_field(model)).choices)
        current = getattr(record, _status_field(model))
        self.fields["status"].choices = [
            *((value, labels[value]) for value in choices if value != current),
            (ENTERED_IN_ERROR, "Entered in error: it was never true of this patient"),
        ]
        self.initial.setdefault("version", record.version)
        date_label, date_help = STATUS_WORDING[model]
        if date_label:
            self.fields["on"].label, self.fields["on"].help_text = date_label, date_help
        else:
            del self.fields["on"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("status") == ENTERED_IN_ERROR and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why this record was entered in error.")
        on = data.get("on")
        if on and on > timezone.localdate():
            self.add_error("on", "The date cannot be in the future.")
        return data


def _status_field(model: type) -> str:
    return "status" if model is Medication else "clinical_status"


class CareTeamRemoveForm(CarewayForm, forms.Form):
    """Someone leaves the team; the primary case manager only once another is named."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    successor = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="New primary case manager",
        help_text="A team always has a primary case manager: name who takes over.",
        empty_label="Choose a case manager",
    )

    def __init__(self, *args: Any, member: CareTeamMember, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault("version", member.version)
        if member.is_primary_case_manager:
            field = self.fields["successor"]
            field.queryset = case_managers_in(member.organization_id).exclude(pk=member.user_id)
            field.label_from_instance = lambda u: u.display_name
        else:
            del self.fields["successor"]


COVERAGE_FIELDS = ("kind", "payer_name", "member_id", "priority", "start_date", "end_date")


class CoverageForm(CarewayForm, forms.ModelForm):
    model_field_names = COVERAGE_FIELDS

    class Meta:
        model = Coverage
        fields = COVERAGE_FIELDS
        labels = {
            "kind": "Type of coverage",
            "payer_name": "Payer or plan name",
            "member_id": "Member ID",
        }
        help_texts = {
            "payer_name": "As on the card, for example Medicare Part A.",
            "member_id": "The member or subscriber number on the card.",
        }
        widgets = {"start_date": DATE_WIDGET, "end_date": DATE_WIDGET}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The end date cannot be before the start date.")
        return cleaned


class VitalField(forms.FloatField):
    """One reading; values that cannot be real are refused with the sign's name and unit."""

    def __init__(self, sign: VitalSign) -> None:
        super().__init__(
            required=False,
            label=f"{sign.label} ({sign.unit_display})",
            widget=forms.NumberInput(
                attrs={"inputmode": "decimal", "step": "1" if sign.decimals == 0 else "0.1"}
            ),
        )
        self.sign = sign

    def validate(self, value: float | None) -> None:
        super().validate(value)
        if value is None:
            return
        sign = self.sign
        if not sign.entry_min <= value <= sign.entry_max:
            raise ValidationError(
                f"{sign.label} of {value:g} {sign.unit_display} is not possible; enter a value "
                f"between {sign.entry_min:g} and {sign.entry_max:g}."
            )
        if sign.whole_numbers and value != int(value):
            raise ValidationError(
                f"{sign.label} is a whole number from {sign.entry_min:g} to {sign.entry_max:g}."
            )


class VitalSignsForm(CarewayForm, forms.Form):
    """A set of vital signs taken together: kept all at once, or not at all."""

    effective_at = forms.DateTimeField(label="Taken at", widget=DATETIME_WIDGET)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault("effective_at", timezone.localtime().replace(second=0))
        for sign in vital_signs():
            self.fields[sign.key] = VitalField(sign)

    def clean_effective_at(self):
        taken = self.cleaned_data["effective_at"]
        if taken > timezone.now() + timedelta(minutes=5):
            raise ValidationError("The time taken cannot be in the future.")
        return taken

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        entered = [sign for sign in vital_signs() if data.get(sign.key) is not None]
        if not entered and not self.errors:
            raise ValidationError("Enter at least one vital sign.")
        systolic, diastolic = data.get("systolic"), data.get("diastolic")
        if (systolic is None) != (diastolic is None) and "systolic" not in self.errors:
            missing = "diastolic" if diastolic is None else "systolic"
            self.add_error(missing, "Enter both blood pressure numbers, or neither.")
        elif systolic is not None and diastolic is not None and diastolic >= systolic:
            self.add_error("diastolic", "Diastolic pressure must be lower than systolic.")
        return data

    def observation_rows(self) -> list[dict[str, Any]]:
        taken = self.cleaned_data["effective_at"]
        return [
            {
                "category": "vital-signs",
                "code_system": LOINC,
                "code": sign.code,
                "display": sign.label,
                "effective_at": taken,
                "value": self.cleaned_data[sign.key],
                "unit": sign.unit,
            }
            for sign in vital_signs()
            if self.cleaned_data.get(sign.key) is not None
        ]

    def apply_service_errors(self, error: ValidationError) -> None:
        # record_observations names problems "<LOINC code>.<field>"; show them on the sign.
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for key, problems in error.error_dict.items():
            code, _, _field = key.partition(".")
            sign = sign_for_code(code)
            for problem in problems:
                self.add_error(sign.key if sign else None, problem)


class CareTeamForm(CarewayForm, forms.ModelForm):
    """Someone joins the team: a colleague, a family contact, or someone outside Careway."""

    class Kind:
        STAFF = "staff"
        FAMILY = "family"
        EXTERNAL = "external"

    kind = forms.ChoiceField(
        label="Who is joining?",
        choices=[
            (Kind.STAFF, "A colleague at this agency"),
            (Kind.FAMILY, "A family member or contact of the patient"),
            (Kind.EXTERNAL, "Someone outside Careway (for example a physician)"),
        ],
        widget=forms.RadioSelect,
        initial=Kind.STAFF,
    )

    class Meta:
        model = CareTeamMember
        fields = ("user", "related_person", "external_name", "role", "is_primary_case_manager")
        labels = {
            "user": "Colleague",
            "related_person": "Family member or contact",
            "external_name": "Name (outside Careway)",
            "is_primary_case_manager": "Make them the primary case manager",
        }
        help_texts = {
            "user": "When a colleague is joining.",
            "related_person": "When a family member joins: add them under Contacts first.",
            "external_name": "When someone outside Careway joins, e.g. Dr. Ana Ruiz, cardiology.",
            "is_primary_case_manager": "Replaces the current primary case manager.",
        }

    fieldsets = (
        ("Person", ("kind", "user", "related_person", "external_name")),
        ("Role on the team", ("role", "is_primary_case_manager")),
    )

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = colleagues_in(patient.organization_id)
        self.fields["user"].label_from_instance = lambda u: u.display_name
        self.fields["user"].empty_label = "Choose a colleague"
        self.fields["related_person"].empty_label = "Choose a contact"
        self.fields["related_person"].queryset = RelatedPerson.objects.filter(
            patient=patient, active=True
        ).order_by("name")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        needed = {
            self.Kind.STAFF: "user",
            self.Kind.FAMILY: "related_person",
            self.Kind.EXTERNAL: "external_name",
        }
        for this_kind, field in needed.items():
            if kind == this_kind and not data.get(field):
                self.add_error(field, "Choose or enter who is joining.")
            elif kind != this_kind:
                data[field] = "" if field == "external_name" else None
        if data.get("is_primary_case_manager"):
            self._check_primary_case_manager(data)
        return data

    def _check_primary_case_manager(self, data: dict[str, Any]) -> None:
        if data.get("kind") != self.Kind.STAFF:
            self.add_error("is_primary_case_manager", "Only a colleague can be case manager.")
        elif data.get("role") != CareTeamMember.TeamRole.CASE_MANAGER:
            self.add_error("role", "The primary case manager's role is Case manager.")

    def validate_unique(self) -> None:
        # The service checks the team's constraints with the episode in place; checking them
        # here, without it, would only repeat clean()'s "who is joining" as a cryptic message.
        return

    def member_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "role": data["role"],
            "user": data.get("user"),
            "related_person": data.get("related_person"),
            "external_name": data.get("external_name", ""),
            "primary_case_manager": bool(data.get("is_primary_case_manager")),
        }


def colleagues_in(organization_id: int):
    staff = Membership.objects.filter(active=True, role__in=CARE_TEAM_ROLES)
    return (
        User.objects.filter(organization_id=organization_id, is_active=True)
        .filter(pk__in=staff.values("user_id"))
        .order_by("last_name", "first_name")
    )


class CaseloadFilterForm(forms.Form):
    """The caseload's search, filters and sort, read from the query string."""

    EPISODES = [("open", "Active episodes"), ("closed", "Discharged"), ("all", "All")]
    UNFILTERED = {"q": "", "flag": "", "episodes": "open", "case_manager": ""}

    q = forms.CharField(label="Search by name or MRN", required=False, max_length=100, strip=True)
    flag = forms.ChoiceField(label="Flag", required=False)
    episodes = forms.ChoiceField(label="Episodes", choices=EPISODES, required=False)
    case_manager = forms.ChoiceField(label="Case manager", required=False)
    # The table's headers sort it; this select does the same where they are hidden (a phone).
    sort = forms.ChoiceField(label="Sort by", required=False)

    def __init__(
        self,
        *args: Any,
        flag_choices: Iterable[tuple[str, str]] = (),
        sorts: Iterable[tuple[str, str]] = (("name", "Name"),),
        case_managers: Iterable[tuple[str, str]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.fields["flag"].choices = [("", "Any flag"), *flag_choices]
        # The columns it may sort by, (key, title): the name, and each sortable column shown.
        sorts = list(sorts)
        self.sorts = frozenset(key for key, _ in sorts)
        self.fields["sort"].choices = [
            (f"{'-' if descending else ''}{key}", f"{title}, {direction}")
            for key, title in sorts
            for descending, direction in ((False, "ascending"), (True, "descending"))
        ]
        # Only a supervisor filters by case manager; for anyone else the field is not there.
        if case_managers is None:
            del self.fields["case_manager"]
        else:
            self.fields["case_manager"].choices = [("", "Any case manager"), *case_managers]

    def value(self, name: str, default: str = "") -> str:
        """The cleaned value, or the default when absent or not valid (a stale bookmark)."""
        if not self.is_valid() and name in self.errors:
            return default
        return self.cleaned_data.get(name) or default

    def criteria(self) -> dict[str, str]:
        """The search and filters to apply: q, flag, episodes and case_manager."""
        return {name: self.value(name, default) for name, default in self.UNFILTERED.items()}

    @property
    def sort_key(self) -> tuple[str, bool]:
        """(column, descending); unknown sorts fall back to name."""
        raw = self.value("sort", "name")
        descending = raw.startswith("-")
        column = raw.lstrip("-")
        return (column, descending) if column in self.sorts else ("name", False)


class BreakGlassForm(CarewayForm, forms.Form):
    """Who the patient is (family name and date of birth, or the MRN) and why the chart is
    needed now. The search finds one exact match or none: see services.find_patient_for_emergency.
    """

    family_name = forms.CharField(
        label="Family name",
        required=False,
        max_length=100,
        help_text="As on the patient's papers. Capitals and accents do not matter.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    birth_date = forms.DateField(
        label="Date of birth",
        required=False,
        help_text="With the family name.",
        widget=DATE_WIDGET,
        error_messages={"invalid": "Enter the date of birth as a date, like 1940-03-14."},
    )
    given_name = forms.CharField(
        label="Given name",
        required=False,
        max_length=100,
        help_text="Only needed when more than one patient has the same family name and date "
        "of birth.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    mrn = forms.CharField(
        label="Or the MRN",
        required=False,
        max_length=40,
        help_text="The exact medical record number, as on the referral. Use it instead of the "
        "name and date of birth.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    reason = forms.CharField(
        min_length=15,
        error_messages={
            "min_length": "Give a reason of at least 15 characters (this has %(show_value)d).",
            "required": "Give the reason you need this chart now.",
        },
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why you need this chart now. Your supervisor reads this. At least 15 "
        "characters.",
    )
    minutes = forms.IntegerField(min_value=1, label="Minutes of access")
    fieldsets = (
        ("Find the patient", ("family_name", "birth_date", "given_name", "mrn")),
        ("Why you need the chart", ("reason", "minutes")),
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = organization.break_glass_max_minutes
        minutes = self.fields["minutes"]
        minutes.initial = limit
        minutes.widget.attrs["max"] = limit
        minutes.validators.append(
            MaxValueValidator(limit, message=f"Choose {limit} minutes or fewer.")
        )
        minutes.help_text = f"Up to {limit} minutes of read-only access."

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in ("mrn", "family_name", "given_name"):
            data[name] = (data.get(name) or "").strip()
        if data["mrn"] or "birth_date" in self.errors:
            return data
        if data["family_name"] and not data.get("birth_date"):
            self.add_error("birth_date", "Give the date of birth with the family name.")
        elif data.get("birth_date") and not data["family_name"]:
            self.add_error("family_name", "Give the family name with the date of birth.")
        elif not data["family_name"]:
            self.add_error("mrn", "Give the MRN, or the family name and date of birth.")
        return data

    def search(self) -> EmergencySearch:
        data = self.cleaned_data
        if data["mrn"]:
            return EmergencySearch(mrn=data["mrn"])
        return EmergencySearch(
            family_name=data["family_name"],
            birth_date=data["birth_date"],
            given_name=data["given_name"],
        )


class WorklistNoteForm(CarewayForm, forms.Form):
    """Acknowledge or resolve a flag, or complete a task: a note, the version the person saw,
    and the page to go back to (a name from RETURN_TO, never a URL from the client)."""

    RETURN_TO = (("today", "Today"), ("chart", "The chart"))

    note = forms.CharField(
        label="Note",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    return_to = forms.ChoiceField(choices=RETURN_TO, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, note_required: bool, note_help: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["note"].required = note_required
        self.fields["note"].help_text = note_help
        if note_required:
            self.fields["note"].error_messages["required"] = f"Write a note: {note_help.lower()}"


class VitalAlertForm(CarewayForm, forms.Form):
    """The agency's notify-if thresholds: a number each, or blank for no alert that way."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in alerts.fields():
            self.fields[field.name] = forms.FloatField(
                label=f"{field.label} ({field.unit})",
                required=False,
                widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
                error_messages={"invalid": "Enter a number, or leave it blank for no alert."},
            )

    def thresholds(self) -> dict[str, float | None]:
        return {field.name: self.cleaned_data.get(field.name) for field in alerts.fields()}

"""Input for the sign-in, people and audit pages.

Forms only parse and check what was typed; the organization a row belongs to always comes from
the signed-in person, never from the form.
"""

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.exceptions import ValidationError

from .models import AuditEvent, Branch, Organization, User
from .roles import Discipline, Role


class SignInForm(forms.Form):
    username = forms.CharField(
        max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )
    password = forms.CharField(
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Six-digit code",
        max_length=12,
        help_text="From your authenticator app. A new code appears every 30 seconds.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": r"[0-9 ]*"}
        ),
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].replace(" ", "")
        if not (code.isdigit() and len(code) == 6):
            raise ValidationError("Enter the six digits shown in your authenticator app.")
        return code


class RoleForm(forms.Form):
    """One role at a branch (or agency-wide), with the discipline for clinical roles."""

    # No preselected role: an admin must pick one rather than grant the first by accident.
    role = forms.ChoiceField(choices=[("", "Choose a role"), *Role.choices])
    branch = forms.ModelChoiceField(
        queryset=Branch.objects.none(),
        required=False,
        empty_label="Agency-wide (no branch)",
        help_text="Supervisors supervise this branch; case managers and clinicians work in it.",
    )
    discipline = forms.ChoiceField(choices=[("", "None"), *Discipline.choices], required=False)

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = Branch.objects.filter(organization=organization)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("role") == Role.SUPERVISOR and not data.get("branch"):
            self.add_error("branch", "Choose the branch this supervisor supervises.")
        return data


class UserCreateForm(RoleForm):
    username = forms.CharField(
        max_length=150,
        help_text="Letters, digits and . _ - only; used to sign in.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(required=False, help_text="For notifications. Optional.")
    password = forms.CharField(
        label="Initial password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=" ".join(password_validators_help_texts()),
    )

    field_order = ["first_name", "last_name", "username", "email", "role", "branch", "discipline"]

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError("That username is taken; choose another.")
        return username

    def user_fields(self) -> dict[str, str]:
        return {k: self.cleaned_data[k] for k in ("username", "first_name", "last_name", "email")}


class AuditFilterForm(forms.Form):
    SORTS = {
        "-time": ("-occurred_at", "-seq"),
        "time": ("occurred_at", "seq"),
        "user": ("actor_username", "-occurred_at", "-seq"),
        "-user": ("-actor_username", "-occurred_at", "-seq"),
        "action": ("action", "-occurred_at", "-seq"),
        "-action": ("-action", "-occurred_at", "-seq"),
    }
    SORT_LABELS = {
        "-time": "newest first",
        "time": "oldest first",
        "user": "user A to Z, then newest first",
        "-user": "user Z to A, then newest first",
        "action": "action A to Z, then newest first",
        "-action": "action Z to A, then newest first",
    }

    user = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Anyone"
    )
    patient = forms.CharField(
        required=False, max_length=64, help_text="Name, MRN or patient id.", label="Patient"
    )
    action = forms.CharField(
        required=False,
        max_length=60,
        help_text="Starts with, for example patient. or auth.login",
        widget=forms.TextInput(attrs={"list": "audit-actions"}),
    )
    outcome = forms.ChoiceField(required=False, choices=[("", "Any"), *AuditEvent.Outcome.choices])
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    sort = forms.ChoiceField(
        required=False, choices=list(SORT_LABELS.items()), initial="-time", label="Sort by"
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["user"].queryset = User.objects.filter(organization=organization).order_by(
            "username"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return data

    def sort_key(self) -> str:
        return (self.cleaned_data.get("sort") if self.is_bound else "") or "-time"

    def day_bounds(self) -> tuple[datetime | None, datetime | None]:
        """The date range as instants: whole days in the agency's time zone."""
        zone = ZoneInfo(self.organization.timezone)
        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        start = datetime.combine(since, time.min, zone) if since else None
        end = datetime.combine(until, time.max, zone) if until else None
        return start, end

    def filters_for_audit(self) -> dict[str, str]:
        """What was asked for, as plain text for the export's own audit event."""
        return {
            name: str(value.pk if isinstance(value, User) else value)
            for name, value in self.cleaned_data.items()
            if value not in (None, "") and name != "sort"
        }

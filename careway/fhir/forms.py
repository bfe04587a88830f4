"""The import page's form: which files, into which branch."""

from pathlib import Path
from typing import cast

from django import forms
from django.core.files.uploadedfile import UploadedFile

from careway.core.models import Branch, User

from .uploads import ACCEPTED_SUFFIXES

MAX_FILES = 50


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": ",".join(ACCEPTED_SUFFIXES)})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if not files:
            raise forms.ValidationError("Choose at least one file to import.", code="required")
        if len(files) > MAX_FILES:
            raise forms.ValidationError(f"Import at most {MAX_FILES} files at a time.")
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class ImportForm(forms.Form):
    uploads = MultipleFileField(
        label="FHIR files",
        help_text=(
            "FHIR R4 bundles (.json: transaction or collection) or bulk data files "
            "(.ndjson: one resource a line). You can choose several."
        ),
    )
    branch = forms.ModelChoiceField(
        queryset=Branch.objects.none(),
        label="Into branch",
        empty_label=None,
        help_text="New patients join this branch.",
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        branches = Branch.objects.filter(organization_id=user.organization_id or 0).order_by("name")
        own = user.branch_ids()
        # Someone who works at one branch imports into it; agency-wide roles choose any branch.
        if own:
            branches = branches.filter(pk__in=own)
        cast(forms.ModelChoiceField, self.fields["branch"]).queryset = branches

    def clean_uploads(self) -> list[UploadedFile]:
        files = self.cleaned_data["uploads"]
        wrong = [
            f.name for f in files if Path(f.name or "").suffix.lower() not in ACCEPTED_SUFFIXES
        ]
        if wrong:
            raise forms.ValidationError(
                f"Careway imports .json bundles and .ndjson files; not {', '.join(wrong)}."
            )
        return files

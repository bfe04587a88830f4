"""Forms every page shares: fieldsets and an error summary, a service's errors on the fields they
name, and edits that know the version they started from.

Forms never save: a view passes `service_data()` to a service, which writes and audits. Ownership
fields (organization, patient, version) are not form fields, except `version`, which travels in a
hidden input so that a stale edit is caught as a conflict.
"""

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.forms.models import model_to_dict


class CarewayForm:
    """What every form here shares: fieldsets, the error summary, errors from services."""

    fieldsets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    model_field_names: tuple[str, ...] = ()
    # Where a service's name for a field differs from the form's.
    service_field_aliases: dict[str, str] = {}

    def grouped_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        visible = self.visible_fields()
        if not self.fieldsets:
            return [("", visible)]
        by_name = {f.name: f for f in visible}
        return [
            (legend, [by_name[name] for name in names if name in by_name])
            for legend, names in self.fieldsets
        ]

    def error_summary(self) -> list[tuple[str, str]]:
        """(anchor, message) for the summary at the top: each links to its field."""
        items = [("", str(message)) for message in self.non_field_errors()]
        in_page_order = [field for _, fields in self.grouped_fields() for field in fields]
        for field in in_page_order:
            # A group of radio buttons has no single id: link to its first option.
            anchor = field.id_for_label or f"{field.auto_id}_0"
            items.extend((anchor, _naming(field, message)) for message in field.errors)
        return items

    def apply_service_errors(self, error: ValidationError) -> None:
        """Show a service's ValidationError on the fields it names, the rest at the top."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for name, problems in error.error_dict.items():
            for problem in problems:
                self.add_error(self._field_for(name, problem), problem)

    def _field_for(self, name: str, problem: ValidationError) -> str | None:
        name = self.service_field_aliases.get(name, name)
        if name in self.fields:
            return name
        # Unique checks across fields (organization + MRN) arrive without a field: name the one
        # the person typed.
        unique_check = (getattr(problem, "params", None) or {}).get("unique_check", ())
        typed = [field for field in unique_check if field in self.fields]
        return typed[0] if typed else None

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.model_field_names}


def _naming(field: forms.BoundField, message: str) -> str:
    """The message as the summary shows it: prefixed with the field unless it names it."""
    name = str(field.label).split(" (")[0]
    return message if name.lower() in message.lower() else f"{field.label}: {message}"


class VersionedForm(CarewayForm):
    """An edit form that knows where the person started.

    The hidden `version` says which saved version they started from; the hidden `original` holds
    the values they saw then. A save sends only the fields they changed, so when someone else's
    save came in between (a VersionConflict), the form shown again carries their changes on top of
    what is saved now, and saving it deliberately undoes nothing the other person did.
    """

    ORIGINAL = "original"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self.fields[self.ORIGINAL] = forms.CharField(widget=forms.HiddenInput, required=False)
        if self.is_bound:
            self.initial.update(self._started_from())
        else:
            self.initial[self.ORIGINAL] = self._snapshot(self.instance)

    def _snapshot(self, instance: Any) -> str:
        values = model_to_dict(instance, fields=self.model_field_names)
        return json.dumps(values, cls=DjangoJSONEncoder)

    def _started_from(self) -> dict[str, Any]:
        """The values the person saw, as fields' Python values; {} when the page sent none."""
        try:
            raw = json.loads(self.data.get(self.add_prefix(self.ORIGINAL)) or "{}")
        except ValueError:
            return {}
        started = {}
        for name in self.model_field_names:
            if name in raw:
                try:
                    started[name] = self.fields[name].to_python(raw[name])
                except ValidationError:
                    continue
        return started

    def changed_model_fields(self) -> list[str]:
        return [name for name in self.changed_data if name in self.model_field_names]

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_model_fields()}

    def rebased_on(self, current: Any) -> forms.BaseForm:
        """What is saved now with this person's changes on top, aimed at the saved version."""
        mine = self.service_data()
        return type(self)(instance=current, initial={**mine, "version": current.version})

    def differences_from(self, current: Any) -> list[tuple[str, str, str]]:
        """(label, your change, what is saved now) for each field either person changed."""
        mine = set(self.changed_model_fields())
        rows = []
        for name in self.model_field_names:
            field, theirs = self.fields[name], getattr(current, name)
            if name in mine:
                yours = self.cleaned_data.get(name)
                if _blank_if_none(yours) != _blank_if_none(theirs):
                    rows.append((str(field.label), _display(field, yours), _display(field, theirs)))
            elif _blank_if_none(self.initial.get(name)) != _blank_if_none(theirs):
                unchanged_by_you = "(you did not change this)"
                rows.append((str(field.label), unchanged_by_you, _display(field, theirs)))
        return rows


def _blank_if_none(value: Any) -> Any:
    return "" if value is None else value


def _display(field: forms.Field, value: Any) -> str:
    if isinstance(field, forms.BooleanField):
        return "Yes" if value else "No"
    if value in (None, ""):
        return "(blank)"
    choices = dict(getattr(field, "choices", ()) or ())
    if value in choices:
        return str(choices[value])
    if hasattr(value, "strftime"):
        return f"{value:%b} {value.day}, {value.year}"
    return str(value)

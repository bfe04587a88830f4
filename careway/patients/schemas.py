"""The shapes of the JSON API: what an integrator may send for each action, and what they get back.

Input schemas are per action and name only the fields a client may set: organization, patient,
ids, provenance and version are never taken from the body (version only to say which version an
update was made against). Types and limits are read from the Django model fields, so the OpenAPI
document tells clients the same rules the database keeps, and anything the database could not
store (NUL characters, unpaired surrogates, non-finite numbers, out-of-range times) is refused
here with the field's name rather than failing later.
"""

import math
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from ninja import Field, Schema
from pydantic import AfterValidator, AwareDatetime, ConfigDict, StringConstraints, create_model

from .models import Allergy, Condition, Medication, Observation, Patient

# TextFields have no length of their own; a limit keeps one request from storing megabytes.
LONG_TEXT_MAX = 10_000
SEARCH_TEXT_MAX = 100
# Large enough for any real version; small enough for every database's integer column.
MAX_VERSION = 2**31 - 1
MAX_ID = 2**63 - 1


def storable_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def utc_datetime(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the range of dates Careway can store") from None


def finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(utc_datetime)]
SearchText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=SEARCH_TEXT_MAX),
    AfterValidator(storable_text),
]
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]


class InputSchema(Schema):
    """Input bodies refuse fields they do not name, so a misspelt field is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")


class OutputSchema(Schema):
    pass


def _choice_type(field: models.Field) -> Any:
    return Literal[tuple(value for value, _label in field.flatchoices)]  # type: ignore[misc]


def _bounds(field: models.Field) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    for validator in field.validators:
        if isinstance(validator, MinValueValidator):
            bounds["ge"] = validator.limit_value
        elif isinstance(validator, MaxValueValidator):
            bounds["le"] = validator.limit_value
    return bounds


def _input_type(field: models.Field) -> Any:
    if field.choices:
        return _choice_type(field)
    if isinstance(field, models.BooleanField):
        return bool
    if isinstance(field, models.DateTimeField):
        return UtcDatetime
    if isinstance(field, models.DateField):
        return date
    if isinstance(field, models.FloatField):
        return Annotated[float, Field(**_bounds(field)), AfterValidator(finite)]
    if isinstance(field, models.CharField | models.TextField):
        constraints = StringConstraints(
            strip_whitespace=True,
            min_length=0 if field.blank else 1,
            max_length=field.max_length or LONG_TEXT_MAX,
        )
        return Annotated[str, constraints, AfterValidator(storable_text)]
    raise TypeError(f"No API input type for {field!r}")


def _output_type(field: models.Field) -> Any:
    if field.choices:
        return _choice_type(field)
    if isinstance(field, models.BooleanField):
        return bool
    if isinstance(field, models.DateTimeField):
        return datetime
    if isinstance(field, models.DateField):
        return date
    if isinstance(field, models.FloatField):
        return float
    if isinstance(field, models.UUIDField):
        return uuid.UUID
    if isinstance(field, models.IntegerField) or field.is_relation:
        return int
    return str


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _input_field(field: models.Field, *, partial: bool) -> tuple[Any, Any]:
    annotation = _input_type(field)
    if field.null:
        annotation = annotation | None
    description = str(field.help_text) or None
    if partial:
        # Absent means "leave as it is"; the default is never used, so it is not advertised.
        return annotation, Field(None, description=description, json_schema_extra=_drop_default)
    if field.has_default():
        return annotation, Field(field.get_default(), description=description)
    if field.null:
        return annotation, Field(None, description=description)
    if field.blank:
        return annotation, Field("", description=description)
    return annotation, Field(..., description=description)


def input_schema(
    name: str,
    model: type[models.Model],
    field_names: list[str],
    *,
    partial: bool = False,
    **extra: Any,
) -> type[InputSchema]:
    fields: dict[str, Any] = {
        f: _input_field(model._meta.get_field(f), partial=partial) for f in field_names
    }
    return create_model(name, __base__=InputSchema, **fields, **extra)


def output_schema(
    name: str, model: type[models.Model], field_names: list[str], **extra: Any
) -> type[OutputSchema]:
    fields: dict[str, Any] = {}
    for field_name in field_names:
        field = model._meta.get_field(field_name)
        annotation = _output_type(field)
        fields[field.attname] = (annotation | None, ...) if field.null else (annotation, ...)
    return create_model(name, __base__=OutputSchema, **fields, **extra)


def page_schema(name: str, item: type[OutputSchema]) -> type[OutputSchema]:
    return create_model(
        name,
        __base__=OutputSchema,
        count=(int, Field(..., description="How many match, over all pages.")),
        next=(str | None, Field(..., description="The URL of the next page, or null.")),
        previous=(str | None, Field(..., description="The URL of the previous page, or null.")),
        items=(list[item], ...),  # type: ignore[valid-type]
    )


PATIENT_FIELDS = [
    "mrn",
    "given_name",
    "middle_name",
    "family_name",
    "preferred_name",
    "birth_date",
    "sex",
    "gender_identity",
    "pronouns",
    "preferred_language",
    "interpreter_needed",
    "address_line",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "latitude",
    "longitude",
    "phone_home",
    "phone_mobile",
    "email",
    "medicare_number",
    "medicaid_number",
    "code_status",
    "advance_directive",
    "no_known_allergies",
    "what_matters_most",
]
CODED_FIELDS = ["code_system", "code", "display"]
CONDITION_FIELDS = [
    *CODED_FIELDS,
    "clinical_status",
    "verification_status",
    "onset_date",
    "abatement_date",
    "is_primary",
    "note",
]
MEDICATION_FIELDS = [
    *CODED_FIELDS,
    "dose",
    "route",
    "frequency",
    "as_needed",
    "indication",
    "prescriber",
    "status",
    "start_date",
    "end_date",
    "note",
]
ALLERGY_FIELDS = [*CODED_FIELDS, "category", "criticality", "reaction", "clinical_status", "note"]
OBSERVATION_FIELDS = [
    *CODED_FIELDS,
    "category",
    "status",
    "effective_at",
    "value",
    "unit",
    "value_text",
    "note",
]
RECORD_META = ["id", "version", "recorded_at"]

VersionField = (
    Version | None,
    Field(
        None,
        description='The version you read. Or send it as the header If-Match: "<version>".',
    ),
)

PatientCreate = input_schema(
    "PatientCreate",
    Patient,
    PATIENT_FIELDS,
    branch_id=(
        Annotated[int, Field(ge=1, le=MAX_ID)] | None,
        Field(None, description="One of your branches; may be left out if you have only one."),
    ),
)
PatientReplace = input_schema(
    "PatientReplace", Patient, [*PATIENT_FIELDS, "active"], version=VersionField
)
PatientPatch = input_schema(
    "PatientPatch", Patient, [*PATIENT_FIELDS, "active"], partial=True, version=VersionField
)
PatientOut = output_schema(
    "PatientOut", Patient, ["id", "branch", "version", "active", *PATIENT_FIELDS, "updated_at"]
)

ConditionCreate = input_schema("ConditionCreate", Condition, CONDITION_FIELDS)
ConditionOut = output_schema("ConditionOut", Condition, [*RECORD_META, *CONDITION_FIELDS])
MedicationCreate = input_schema("MedicationCreate", Medication, MEDICATION_FIELDS)
MedicationOut = output_schema("MedicationOut", Medication, [*RECORD_META, *MEDICATION_FIELDS])
AllergyCreate = input_schema("AllergyCreate", Allergy, ALLERGY_FIELDS)
AllergyOut = output_schema("AllergyOut", Allergy, [*RECORD_META, *ALLERGY_FIELDS])
ObservationCreate = input_schema("ObservationCreate", Observation, OBSERVATION_FIELDS)
ObservationOut = output_schema("ObservationOut", Observation, [*RECORD_META, *OBSERVATION_FIELDS])

PatientPage = page_schema("PatientPage", PatientOut)
ConditionPage = page_schema("ConditionPage", ConditionOut)
MedicationPage = page_schema("MedicationPage", MedicationOut)
AllergyPage = page_schema("AllergyPage", AllergyOut)
ObservationPage = page_schema("ObservationPage", ObservationOut)


class PatientFilters(Schema):
    q: SearchText | None = Field(None, description="Part of the name or of the MRN.")
    name: SearchText | None = Field(
        None, description="Every word must be part of the first, last or preferred name."
    )
    mrn: SearchText | None = Field(None, description="The exact MRN (any letter case).")
    birth_date: date | None = None
    active: bool | None = None


class ObservationFilters(Schema):
    category: _choice_type(Observation._meta.get_field("category")) | None = None  # type: ignore[valid-type]
    code: SearchText | None = Field(None, description="The exact code, for example a LOINC code.")
    date_from: date | None = Field(None, description="Taken on or after this day (UTC).")
    date_to: date | None = Field(None, description="Taken on or before this day (UTC).")

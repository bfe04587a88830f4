"""The shapes of the assessments JSON API: assessments with their sections, answers (FHIR
QuestionnaireResponse items, as saved), scores, findings and amendments; and what a client sends
to save one questionnaire of a section.

Outputs name no organization; answers are kept exactly as FHIR writes them (a list of
QuestionnaireResponse.item objects), so a client that speaks FHIR reads them unchanged.
"""

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, StringConstraints

from careway.patients.schemas import (
    MAX_VERSION,
    InputSchema,
    OutputSchema,
    SearchText,
    page_schema,
    storable_text,
)

from .models import Assessment, Response

# A questionnaire's answers: far more items than any instrument has, far fewer than a flood.
MAX_ITEMS = 2000

TimePoint: Any = Literal[tuple(Assessment.TimePoint.values)]  # type: ignore[valid-type]
Status: Any = Literal[tuple(Assessment.Status.values)]  # type: ignore[valid-type]
Severity = Literal["urgent", "warning", "info"]
Items = list[dict[str, Any]]


class ScoreOut(OutputSchema):
    id: int
    assessment_id: uuid.UUID
    response_id: int
    questionnaire_url: str = Field(..., description="The instrument's Questionnaire.")
    instrument: str = Field(..., description="The instrument's title.")
    key: str = Field(..., description="Which score of the instrument (most have one: total).")
    label: str
    value: float
    minimum: float | None = Field(..., description="The lowest score possible, when fixed.")
    maximum: float | None = Field(..., description="The highest score possible, when fixed.")
    band: str = Field(..., description="The band the score falls in, as the instrument names it.")
    meaning: str
    flag: str = Field(..., description="The finding the band raises on the chart, if any.")
    code_system: str
    code: str = Field(..., description="The score's code (LOINC) where the instrument has one.")
    observed_at: datetime = Field(..., description="When it was scored: signed or amended.")
    amended: bool = Field(..., description="Worked out again from an amendment's answers.")


class AssessmentSummaryOut(OutputSchema):
    id: uuid.UUID
    patient_id: uuid.UUID
    episode_id: int
    time_point: TimePoint
    time_point_label: str
    status: Status
    template: str = Field(
        ..., description="comprehensive, or imported for one received from another system."
    )
    visit_date: date
    started_at: datetime
    updated_at: datetime
    signed_at: datetime | None
    signed_by: str | None = Field(..., description="Who signed it, by name.")
    version: int = Field(..., description="Changes with every save; signing needs the latest.")
    amended: bool
    scores: list[ScoreOut] = Field(..., description="Its current scores (signed assessments).")


class ResponseOut(OutputSchema):
    id: int
    fhir_id: str = Field(..., description="Its id as a FHIR QuestionnaireResponse.")
    section: str
    questionnaire_url: str
    questionnaire_version: str
    title: str = Field(..., description="The instrument's title.")
    version: int = Field(..., description="Send it back with the next save of these answers.")
    items: Items = Field(..., description="QuestionnaireResponse.item, as saved or signed.")
    effective_items: Items = Field(
        ..., description="The answers as they stand: the latest amendment's, else the same."
    )
    updated_at: datetime
    updated_by: str | None


class PartOut(OutputSchema):
    questionnaire_url: str
    title: str
    required: bool = Field(..., description="Its required answers are needed to sign.")
    note: str


class SectionOut(OutputSchema):
    key: str
    title: str
    questionnaires: list[PartOut] = Field(..., description="What the section is made of.")
    responses: list[ResponseOut] = Field(..., description="The answers saved so far.")


class FindingOut(OutputSchema):
    id: int
    questionnaire_url: str
    kind: str
    label: str
    severity: Severity
    fix: str = Field(..., description="What to do about it.")
    source: str = Field(..., description="The score key or question (linkId) behind it.")
    found_at: datetime


class AmendmentOut(OutputSchema):
    id: int
    response_id: int
    items: Items = Field(..., description="The corrected QuestionnaireResponse.item.")
    reason: str
    signed_by: str | None
    signed_at: datetime


class AssessmentOut(AssessmentSummaryOut):
    sections: list[SectionOut]
    findings: list[FindingOut]
    amendments: list[AmendmentOut]


AssessmentPage = page_schema("AssessmentPage", AssessmentSummaryOut)
ScorePage = page_schema("ScorePage", ScoreOut)

QuestionnaireUrl = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=Response._meta.get_field("questionnaire_url").max_length,
    ),
    AfterValidator(storable_text),
]


class SectionSave(InputSchema):
    """One questionnaire's answers in one section, saved as they stand (a save replaces the
    answers saved before; nothing is signed)."""

    questionnaire_url: QuestionnaireUrl = Field(
        ..., description="Which questionnaire of the section these answers are to."
    )
    version: int = Field(
        ...,
        ge=0,
        le=MAX_VERSION,
        description="The version of the saved answers you started from (0: none saved yet).",
    )
    items: Annotated[Items, Field(max_length=MAX_ITEMS)] = Field(
        ..., description="QuestionnaireResponse.item: every answer, as FHIR writes it."
    )


class ScoreFilters(Schema):
    instrument: SearchText | None = Field(
        None, description="Only this instrument: its Questionnaire URL or id (phq-9)."
    )
    key: SearchText | None = Field(None, description="Only this score of it (total).")

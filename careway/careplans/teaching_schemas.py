"""The shapes of the teaching and agreement JSON API (careway/careplans/teaching_api.py).

Input schemas refuse fields they do not name and never take the organization, the patient, the
plan, the teacher or the recorder from the body: those come from the address and the token. The
service (careway/careplans/teaching.py) checks the rest and names the field it refuses; the
signature's strokes are checked there too (shape, count, inside the 600 x 200 pad, not a dot),
so a malformed one is refused with a sentence a person can act on.
"""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Field, Schema

from careway.patients.schemas import InputSchema, OutputSchema, Version, page_schema

from . import teaching
from .models import Agreement, TeachingRecord
from .schemas import RecordId

Audience: Any = Literal[tuple(TeachingRecord.Audience.values)]
Result: Any = Literal[tuple(TeachingRecord.Result.values)]
Method = Literal["explained", "demonstrated", "handout"]
Notes = Annotated[str, Field(max_length=teaching.NOTES_LIMIT)]
Reason = Annotated[str, Field(max_length=teaching.REASON_LIMIT)]
# The API says "handout"; the record's field is handout_given.
METHOD_FIELDS = {
    "explained": "explained",
    "demonstrated": "demonstrated",
    "handout": "handout_given",
}
VERSION = 'The version you read. Or send it as the header If-Match: "<version>".'


class TeachingFilters(Schema):
    topic: str | None = Field(None, max_length=60, description="Only this topic (a handout key).")
    status: Literal["completed", "entered-in-error", "all"] = Field(
        "completed", description="completed (the default), entered-in-error, or all."
    )


class TeachingCreate(InputSchema):
    """One teaching of one topic of the agency's handout library, with its teach-back."""

    topic: str = Field(..., max_length=60, description="The handout's key, one of the agency's.")
    audience: Audience = Field(..., description="Whom it was taught to: patient or caregiver.")
    caregiver_id: RecordId | None = Field(
        None, description="For a caregiver: the id of one of the patient's active contacts."
    )
    methods: list[Method] = Field(
        ..., max_length=3, description="How: explained, demonstrated, handout (at least one)."
    )
    result: Result = Field(
        ..., description="The teach-back: understood, needs-reinforcement or not-understood."
    )
    notes: Notes = ""
    goal_id: uuid.UUID | None = Field(None, description="A goal of the current plan it serves.")
    intervention_id: uuid.UUID | None = Field(
        None, description="An intervention of the current plan it carries out."
    )


class TeachingError(InputSchema):
    reason: Reason = Field(..., description="Why it was entered in error (required).")
    version: Version | None = Field(None, description=VERSION)


class AgreementCreate(InputSchema):
    """The patient's (or their legal representative's) agreement to the current revision."""

    who: Literal[tuple(Agreement.Who.values)] = Field(  # type: ignore[valid-type]
        ..., description="patient, or representative (a legal guardian or healthcare agent)."
    )
    representative_id: RecordId | None = Field(
        None, description="For a representative: the contact's id (guardian or agent)."
    )
    method: Literal[tuple(Agreement.Method.values)] = Field(  # type: ignore[valid-type]
        ..., description="signature (drawn on the tablet) or verbal (with a witness)."
    )
    signature: list[Any] = Field(
        default_factory=list,
        description="For a signature: strokes [[[x, y], ...], ...] on a 600 x 200 pad, origin "
        "top left.",
    )
    witness_name: str = Field("", max_length=200, description="For a verbal agreement: required.")
    notes: Notes = ""
    revision: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="The plan's revision the person was shown; refused (422, `revision`) when "
        "the plan has changed since. Left out: the current revision.",
    )


class TeachingOut(OutputSchema):
    id: uuid.UUID
    plan_id: uuid.UUID | None
    topic: str
    topic_title: str = Field(..., description="The topic's title when taught, in its language.")
    handout_version: str
    language: str = Field(..., description="The language it was taught in (BCP 47).")
    audience: Audience
    caregiver_id: int | None
    caregiver_name: str | None
    methods: list[Method]
    result: Result
    notes: str
    goal_id: uuid.UUID | None
    intervention_id: uuid.UUID | None
    taught_by: str | None = Field(..., description="The teacher, by name.")
    taught_at: datetime
    follow_up_task_id: int | None = Field(
        ..., description="The task raised to reinforce it at the next visit."
    )
    follow_up_status: str | None
    status: Literal[tuple(TeachingRecord.Status.values)]  # type: ignore[valid-type]
    version: int


TeachingPage = page_schema("TeachingPage", TeachingOut)


class AgreementOut(OutputSchema):
    id: uuid.UUID
    plan_id: uuid.UUID
    revision: int
    who: str
    representative_id: int | None
    representative_name: str | None
    method: str
    signature: list[Any] = Field(..., description="The strokes, for a drawn signature.")
    witness_name: str
    agreed_at: datetime
    recorded_by_name: str | None = Field(..., description="Who recorded it, by name.")
    notes: str
    status: str


AgreementPage = page_schema("AgreementPage", AgreementOut)


class AgreementStateOut(OutputSchema):
    plan_id: uuid.UUID
    revision: int = Field(..., description="The plan's current revision.")
    state: Literal["agreed", "ask-again", "never"]
    needs_agreement: bool
    words: str
    changes: list[str] = Field(..., description="Since the last agreement: what changed.")
    agreement: AgreementOut | None = Field(..., description="The latest agreement, if any.")

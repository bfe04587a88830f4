"""The shapes of the suggestions JSON API (careway/careplans/suggestion_api.py): a suggestion
with its rules and reasons and what became of it; what a client sends to accept one (edited
first or not), reject one, or record the plan's review; and what comes back.

As in careway/careplans/schemas.py, input schemas refuse fields they do not name and never take
the organization, the patient, the plan or a decision's author from the body. The edits a client
may make while accepting are the union of services.ACCEPT_EDITS; the service refuses, naming the
field, an edit that the suggestion's kind of row does not take (`edits.measure`, or `edits.text`
for a goal).
"""

import uuid
from datetime import date, datetime
from typing import Literal

from ninja import Field, Schema

from careway.patients.schemas import InputSchema, OutputSchema, Version, page_schema

from .models import Suggestion
from .schemas import (
    VERSION,
    DisciplineCode,
    FrequencyText,
    GoalText,
    InterventionText,
    PatientWords,
    Reason,
    TargetDays,
    TargetValue,
    unset,
)

# Suggestions the chart no longer supports (lapsed) are not served: the pages do not show them
# either, and one comes back open, with its reasons, if the chart supports it again.
SERVED_STATUSES = (
    Suggestion.Status.OPEN,
    Suggestion.Status.REJECTED,
    Suggestion.Status.ACCEPTED,
)
SuggestionStatus = Literal["open", "rejected", "accepted"]


class SuggestionFilters(Schema):
    status: Literal["open", "rejected", "accepted", "all"] = Field(
        "open",
        description="open: waiting for a decision (the default); rejected; accepted; all of them.",
    )
    preventive: bool | None = Field(
        None,
        description="true: preventive care gaps only; false: plan suggestions only; "
        "left out: both.",
    )


# --- what a client sends --------------------------------------------------------------------------


class AcceptEdits(InputSchema):
    """The suggestion changed before it goes into the plan. Each kind of row takes its own:
    a problem its `text`; a goal its `description`, `patient_words`, `due_date` and targets
    (`target_low`, `target_high`, `target_days`); an intervention its `text`, `discipline` and
    `frequency`. A field left out keeps the suggestion's."""

    text: InterventionText = unset("A problem's or an intervention's words.")
    description: GoalText = unset("A goal as the team writes it.")
    patient_words: PatientWords = unset("A goal as the patient says it.")
    due_date: date | None = unset("When a goal is due.")
    target_low: TargetValue | None = unset("A goal's target: at least this value.")
    target_high: TargetValue | None = unset("A goal's target: at most this value.")
    target_days: TargetDays | None = unset("A goal's target on an event measure: days without one.")
    discipline: DisciplineCode = unset("Who carries out an intervention.")
    frequency: FrequencyText = unset(
        "How often an intervention is done, where it differs from the visits' (3w1, 2w4)."
    )


class SuggestionAccept(InputSchema):
    """Put the suggested row into the plan (the plan is started as a draft when there is none)."""

    edits: AcceptEdits = Field(
        default_factory=AcceptEdits, description="What to change first; left out: as suggested."
    )
    reason: Reason = Field(
        "",
        description="A note for the plan's revision; left empty, the revision keeps the "
        "suggestion's reasons.",
    )


class SuggestionReject(InputSchema):
    """Not for this patient: it stays rejected until the chart behind it changes."""

    reason: Reason = Field(..., description="Why it does not fit this patient (required).")


class PlanReview(InputSchema):
    """The plan was reviewed with the patient."""

    note: Reason = Field(..., description="What the review found or changed (required).")
    version: Version | None = Field(None, description=VERSION)


# --- what comes back ------------------------------------------------------------------------------


class SuggestionOut(OutputSchema):
    id: uuid.UUID
    kind: Literal[tuple(Suggestion.Kind.values)]  # type: ignore[valid-type]
    template: str = Field(..., description="The key of the care plan template it comes from.")
    template_version: str
    item: str = Field(..., description="The template's item it would add.")
    text: str = Field(..., description="What would be added, in words.")
    preventive: bool = Field(..., description="A preventive care gap rather than plan content.")
    rules: list[str] = Field(..., description="The ids of the rules that fired.")
    reasons: list[str] = Field(..., description="Why, in words, one line per fact of the chart.")
    recommendation: str = Field(..., description="The published recommendation it follows.")
    status: SuggestionStatus
    what_changed: str = Field(
        ..., description="For a rejected suggestion that came back: what changed since."
    )
    decided_by: str | None = Field(..., description="Who accepted or rejected it, by name.")
    decided_at: datetime | None
    decision_reason: str
    accepted_as: uuid.UUID | None = Field(
        ..., description="The plan row made from it: a problem, goal or intervention, as `kind`."
    )
    created_at: datetime
    updated_at: datetime


SuggestionPage = page_schema("SuggestionPage", SuggestionOut)


class AcceptedOut(OutputSchema):
    type: Literal[tuple(Suggestion.Kind.values)] = Field(  # type: ignore[valid-type]
        ..., description="What was made: a problem, goal or intervention of the plan."
    )
    id: uuid.UUID = Field(..., description="The row made; change it at the Location given.")
    plan_id: uuid.UUID
    suggestion: SuggestionOut


class PlanReviewOut(OutputSchema):
    id: uuid.UUID
    version: int = Field(..., description="Send it back with the next change of the plan.")
    revision: int = Field(..., description="The revision that records the review.")
    review_due: date | None = Field(..., description="When the plan is next to be reviewed.")
    review_reason: str = Field(..., description="Why it falls due then.")
    reviewed_at: datetime | None

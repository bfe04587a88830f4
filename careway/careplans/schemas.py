"""The shapes of the care plans JSON API: the plan whole (its problems, goals with their target
and achievement, interventions, visit frequencies and team), its revisions and their differences;
and what a client sends for each action.

Input schemas are per action, as in careway/patients/schemas.py: they refuse fields they do not
name, and never take the organization, the patient, the plan or a row's provenance from the body
(the version only to say which version an update was made against). Where a row links to another
record the field is that record's id (`problem_id`, `caregiver_id`); the service checks it is one
of this plan's or this patient's. A goal's achievement is computed from the chart and is never
sent, only overridden (with a reason) through its own action. Every write takes an optional
`reason`, which the plan's revision keeps.
"""

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, cast

from django.db import models
from ninja import Field, Schema
from pydantic import AfterValidator, StringConstraints

from careway.core.roles import Discipline
from careway.patients.schemas import (
    MAX_ID,
    InputSchema,
    OutputSchema,
    Version,
    finite,
    page_schema,
    storable_text,
)

from . import measures
from .achievement import Achievement
from .models import CarePlan, DisciplineFrequency, Goal, Intervention, Problem
from .services import REASON_LIMIT

# Far more readings than any rule counts, and far more days than any episode lasts.
MAX_READINGS = 100
MAX_TARGET_DAYS = 3650
MAX_REVISION = 2**31 - 1
DETAIL_MAX = 10_000


def _choices(model: type[models.Model], name: str, *, blank: bool = False) -> Any:
    """The field's choices as a Literal (with "" for "none" where the field may be blank), so a
    wrong value is refused naming the field and listing what it may be."""
    field = cast(models.Field, model._meta.get_field(name))
    values = [value for value, _label in field.flatchoices]
    return Literal[tuple(["", *values] if blank else values)]  # type: ignore[valid-type]


def _text(max_length: int, *, required: bool = False) -> Any:
    constraints = StringConstraints(
        strip_whitespace=True, min_length=1 if required else 0, max_length=max_length
    )
    return Annotated[str, constraints, AfterValidator(storable_text)]


def _text_of(model: type[models.Model], name: str, *, required: bool = False) -> Any:
    """Text as long as the model's field may hold."""
    field = model._meta.get_field(name)
    return _text(getattr(field, "max_length", None) or DETAIL_MAX, required=required)


def _absent(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def unset(description: str = "") -> Any:
    """A field a client may leave out. Left out, it is not passed to the service at all: an
    update leaves it as it is, a new row takes the service's default (today, the plan's stage),
    so no default is advertised."""
    return Field(None, description=description or None, json_schema_extra=_absent)


MeasureKey: Any = Literal[("", *measures.measures())]  # type: ignore[valid-type]
DisciplineCode: Any = Literal[tuple(Discipline.values)]  # type: ignore[valid-type]
DisciplineOrNone: Any = Literal[("", *Discipline.values)]  # type: ignore[valid-type]
AchievementCode: Any = Literal[tuple(a.value for a in Achievement)]  # type: ignore[valid-type]
OverrideCode: Any = Literal[("", *(a.value for a in Achievement))]  # type: ignore[valid-type]
PlanStatus: Any = _choices(CarePlan, "status")
ProblemStatus: Any = _choices(Problem, "status")
GoalLifecycle: Any = _choices(Goal, "lifecycle_status")
InterventionKind: Any = _choices(Intervention, "kind")
InterventionStatus: Any = _choices(Intervention, "status")
FrequencyStatus: Any = _choices(DisciplineFrequency, "status")

RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
Readings = Annotated[int, Field(ge=1, le=MAX_READINGS)]
TargetDays = Annotated[int, Field(ge=1, le=MAX_TARGET_DAYS)]
TargetValue = Annotated[float, AfterValidator(finite)]
Reason: Any = _text(REASON_LIMIT)
PlanTitle: Any = _text_of(CarePlan, "title", required=True)
ProblemText: Any = _text_of(Problem, "text")
GoalText: Any = _text_of(Goal, "description")
InterventionText: Any = _text_of(Intervention, "text", required=True)
FrequencyText: Any = _text_of(DisciplineFrequency, "frequency")
TeachingTopic: Any = _text_of(Goal, "teaching_topic")
CodeSystem: Any = _text_of(Problem, "code_system")
Code: Any = _text_of(Problem, "code")
Detail: Any = _text(DETAIL_MAX)
NamedProblem: Any = _text_of(Problem, "text", required=True)
PatientWords: Any = _text_of(Goal, "patient_words")

REASON = "Why you make this change; the plan's revision keeps it."
VERSION = 'The version you read. Or send it as the header If-Match: "<version>".'
FREQUENCY = "In Careway's notation: 3w1, 2w4 / 1m2 / qd x5 / PRN x2 for dyspnea."
MEASURES = ", ".join(f"{m.key} ({m.label})" for m in measures.measures().values())


class Revising(InputSchema):
    """Every change to a plan may say why."""

    reason: Reason = Field("", description=REASON)


class Updating(Revising):
    version: Version | None = Field(None, description=VERSION)


# --- the plan -----------------------------------------------------------------------------------


class PlanStart(Revising):
    title: PlanTitle = unset("Default: Home health plan of care.")
    review_due: date | None = unset(
        "When to review the plan with the patient (default: day 56 of the episode, when the "
        "recertification assessment falls due)."
    )


class PlanPatch(Updating):
    title: PlanTitle = unset()
    status: PlanStatus = unset("Active puts the plan in effect and its proposed goals with it.")
    review_due: date | None = unset()


# --- problems -----------------------------------------------------------------------------------


class ProblemCreate(Revising):
    """A problem written freely, or linked to one record of the patient's chart."""

    text: ProblemText = Field("", description="In words; left empty, the linked record's.")
    condition_id: RecordId | None = unset("A condition on the patient's chart.")
    flag_id: RecordId | None = unset("A flag on the patient's chart.")
    finding_id: RecordId | None = unset("An assessment finding of the patient.")
    code_system: CodeSystem = unset("Default: the linked condition's.")
    code: Code = unset()


class ProblemPatch(Updating):
    text: NamedProblem = unset()
    code_system: CodeSystem = unset()
    code: Code = unset()
    status: ProblemStatus = unset()


# --- goals --------------------------------------------------------------------------------------


class GoalFields(Revising):
    patient_words: PatientWords = unset("As the patient says it.")
    description: GoalText = unset(
        "The measurable goal as the team writes it; left empty, the patient's words."
    )
    problem_id: uuid.UUID | None = unset("The problem of this plan it answers.")
    lifecycle_status: GoalLifecycle = unset(
        "Default: proposed while the plan is a draft, else active."
    )
    start_date: date = unset("Default: today.")
    due_date: date | None = unset()
    measure: MeasureKey = unset(
        f"What the target is measured by (empty: a goal in words only): {MEASURES}."
    )
    target_low: TargetValue | None = unset("At least this value.")
    target_high: TargetValue | None = unset("At most this value.")
    target_days: TargetDays | None = unset("For an event measure: days without one.")
    task_id: RecordId | None = unset("For the task measure: the patient's task to be done.")
    teaching_topic: TeachingTopic = unset(
        "Met by teaching: a topic of the agency's handout library (its key); the goal is met "
        "when the latest teach-back on it is understood (measure teach-back, set for it)."
    )
    needed: Readings | None = unset(
        "Readings within the target needed (default: the measure's, usually 3)."
    )
    window: Readings | None = unset(
        "Of how many latest readings (default: the measure's, usually 4)."
    )


class GoalCreate(GoalFields):
    """A goal in the patient's words and/or a measurable target (say at least one of them)."""


class GoalPatch(GoalFields):
    version: Version | None = Field(None, description=VERSION)


class AchievementOverride(Updating):
    """A person's judgement over the computed achievement; it holds until a newer reading."""

    status: OverrideCode = Field(
        ..., description="The achievement to show instead; empty gives the computed one back."
    )
    reason: Reason = Field(
        "", description="Why the computed status does not hold (needed with a status)."
    )


# --- visit frequencies --------------------------------------------------------------------------


class FrequencyCreate(Revising):
    discipline: DisciplineCode = Field(..., description="The discipline that visits.")
    frequency: FrequencyText = Field(..., description=FREQUENCY)
    start_date: date = unset("Week 1 begins here (default: the episode's start of care).")
    end_date: date | None = unset("Default: the end of the frequency's last period.")


class FrequencyPatch(Updating):
    frequency: FrequencyText = unset(
        f"{FREQUENCY} Without an end date, it ends with its last period."
    )
    start_date: date = unset()
    end_date: date | None = unset()
    status: FrequencyStatus = unset()


# --- interventions ------------------------------------------------------------------------------


class InterventionFields(Revising):
    goal_id: uuid.UUID | None = unset("The goal of this plan it serves.")
    problem_id: uuid.UUID | None = unset("The problem of this plan it answers.")
    discipline: DisciplineOrNone = unset("Who carries it out: a discipline ...")
    clinician_id: RecordId | None = unset("... or a named clinician of your agency ...")
    caregiver_id: RecordId | None = unset(
        "... or one of the patient's family or caregivers (who joins the care team) ..."
    )
    by_patient: bool = unset(
        "... or the patient themself (true), alone: no discipline, clinician or caregiver beside "
        "it (the team's part is an intervention of its own)."
    )
    at_visits_of: DisciplineOrNone = unset("Done at the visits of this discipline.")
    frequency: FrequencyText = unset(f"Only where it differs from the visits': {FREQUENCY}")
    teaching_topic: TeachingTopic = unset(
        "For a teaching intervention: a topic of the agency's handout library (its key)."
    )
    start_date: date = unset("Default: today.")
    end_date: date | None = unset()


class InterventionCreate(InterventionFields):
    kind: InterventionKind = Field(..., description="What is done: teach, perform, ...")
    text: InterventionText = Field(..., description="The intervention, in words.")


class InterventionPatch(InterventionFields):
    kind: InterventionKind = unset()
    text: InterventionText = unset()
    status: InterventionStatus = unset()
    version: Version | None = Field(None, description=VERSION)


class TaskCreate(InputSchema):
    """Put the intervention on someone's list (shown on their Today)."""

    due_date: date | None = Field(None, description="Default: today.")
    detail: Detail = Field(
        "", description="What to do; default: where it comes from and who carries it out."
    )
    assigned_to_id: RecordId | None = Field(
        None,
        description="A person of your agency; default: the intervention's clinician, else the "
        "patient's primary case manager.",
    )


# --- what comes back ----------------------------------------------------------------------------


class ProblemOut(OutputSchema):
    id: uuid.UUID
    version: int = Field(..., description="Send it back with the next change of this problem.")
    text: str
    source: Literal[tuple(Problem.Source.values)]  # type: ignore[valid-type]
    condition_id: int | None
    flag_id: int | None
    finding_id: int | None
    code_system: str
    code: str
    status: Literal[tuple(Problem.Status.values)]  # type: ignore[valid-type]


class OverrideOut(OutputSchema):
    status: AchievementCode
    reason: str
    by: str | None = Field(..., description="Who set it, by name.")
    at: datetime | None


class GoalOut(OutputSchema):
    id: uuid.UUID
    version: int = Field(..., description="Send it back with the next change of this goal.")
    problem_id: uuid.UUID | None
    patient_words: str
    description: str
    lifecycle_status: Literal[tuple(Goal.Lifecycle.values)]  # type: ignore[valid-type]
    start_date: date
    due_date: date | None
    measure: MeasureKey
    target_low: float | None
    target_high: float | None
    target_days: int | None
    task_id: int | None
    teaching_topic: str
    needed: int | None
    window: int | None
    target: str = Field(..., description="The target in words ('Weight: 163 to 167 lb').")
    achievement: AchievementCode = Field(
        ..., description="How it is going: the override while one holds, else the computed one."
    )
    computed_achievement: AchievementCode = Field(..., description="Computed from the chart.")
    achievement_rule: str = Field(
        ..., description="The rule applied, in words ('3 of the last 4 weights within target')."
    )
    evaluated_at: datetime | None
    override: OverrideOut | None


class InterventionOut(OutputSchema):
    id: uuid.UUID
    version: int
    goal_id: uuid.UUID | None
    problem_id: uuid.UUID | None
    kind: Literal[tuple(Intervention.Kind.values)]  # type: ignore[valid-type]
    text: str
    discipline: DisciplineOrNone
    clinician_id: int | None
    caregiver_id: int | None
    by_patient: bool = Field(..., description="Done by the patient themself.")
    who: str = Field(..., description="Who carries it out, in words.")
    at_visits_of: DisciplineOrNone
    frequency: str
    frequency_in_words: str
    teaching_topic: str
    start_date: date
    end_date: date | None
    status: Literal[tuple(Intervention.Status.values)]  # type: ignore[valid-type]


class FrequencyOut(OutputSchema):
    id: uuid.UUID
    version: int
    discipline: DisciplineCode
    frequency: str = Field(..., description="As Careway writes it: 3w1, 2w4.")
    in_words: str = Field(..., description="Three times a week for one week, then ...")
    start_date: date
    end_date: date | None
    status: Literal[tuple(DisciplineFrequency.Status.values)]  # type: ignore[valid-type]


class TeamMemberOut(OutputSchema):
    id: int
    version: int
    name: str
    role: str
    role_label: str
    user_id: int | None
    related_person_id: int | None = Field(..., description="A family caregiver or contact.")
    is_primary_case_manager: bool
    active: bool


class CarePlanOut(OutputSchema):
    id: uuid.UUID
    version: int = Field(..., description="Send it back with the next change of the plan itself.")
    patient_id: uuid.UUID
    episode_id: int
    title: str
    status: Literal[tuple(CarePlan.Status.values)]  # type: ignore[valid-type]
    review_due: date | None
    review_reason: str = Field(
        ..., description="Why the review falls due then: the recertification, or a change."
    )
    reviewed_at: datetime | None = Field(..., description="When it was last reviewed.")
    revision: int = Field(..., description="The newest revision's number.")
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    problems: list[ProblemOut]
    goals: list[GoalOut]
    interventions: list[InterventionOut]
    frequencies: list[FrequencyOut]
    team: list[TeamMemberOut]


class TaskOut(OutputSchema):
    id: int
    version: int
    title: str
    detail: str
    due_date: date | None
    status: str
    assigned_to_id: int | None
    source: str


class RevisionOut(OutputSchema):
    """A revision never changes once kept, so it has no version to send back."""

    number: int
    made_at: datetime
    author: str | None = Field(..., description="Who made the change, by name.")
    summary: str = Field(..., description="What changed, in words.")
    reason: str


class RevisionContentOut(RevisionOut):
    content: dict[str, dict[str, dict[str, Any]]] = Field(
        ...,
        description="The whole plan after this change: each part (plan, problems, goals, "
        "interventions, frequencies, team) by row id, each row's fields in words.",
    )


class FieldChangeOut(OutputSchema):
    label: str
    before: str
    after: str


class ChangeOut(OutputSchema):
    what: str = Field(..., description="Plan, Problem, Goal, Intervention, Visit frequency, ...")
    how: Literal["added", "removed", "changed"]
    name: str
    fields: list[FieldChangeOut]


class DifferencesOut(OutputSchema):
    from_revision: int
    to_revision: int
    changes: list[ChangeOut]


RevisionPage = page_schema("RevisionPage", RevisionOut)


class DifferenceRange(Schema):
    from_: int | None = Field(
        None,
        alias="from",
        ge=1,
        le=MAX_REVISION,
        description="The older revision (default: the one before `to`).",
    )
    to: int | None = Field(
        None, ge=1, le=MAX_REVISION, description="The newer revision (default: the newest)."
    )

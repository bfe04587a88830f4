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
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, StringConstraints

from careway.core.roles import Discipline
from careway.patients.schemas import (
    MAX_ID,
    InputSchema,
    OutputSchema,
    Version,
    finite,
    input_schema,
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

MeasureKey: Any = Literal[("", *measures.measures())]  # type: ignore[valid-type]
DisciplineCode: Any = Literal[tuple(Discipline.values)]  # type: ignore[valid-type]
DisciplineOrNone: Any = Literal[("", *Discipline.values)]  # type: ignore[valid-type]
AchievementCode: Any = Literal[tuple(a.value for a in Achievement)]  # type: ignore[valid-type]
OverrideCode: Any = Literal[("", *(a.value for a in Achievement))]  # type: ignore[valid-type]

RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
Readings = Annotated[int, Field(ge=1, le=MAX_READINGS)]
TargetDays = Annotated[int, Field(ge=1, le=MAX_TARGET_DAYS)]
TargetValue = Annotated[float, AfterValidator(finite)]


def _text(max_length: int, *, required: bool = False) -> Any:
    constraints = StringConstraints(
        strip_whitespace=True, min_length=1 if required else 0, max_length=max_length
    )
    return Annotated[str, constraints, AfterValidator(storable_text)]


Reason = _text(REASON_LIMIT)
FrequencyText = _text(DisciplineFrequency._meta.get_field("frequency").max_length or 120)


def _absent(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _optional(annotation: Any, description: str, *, partial: bool) -> tuple[Any, Any]:
    """A field a client may leave out: on an update absent means "leave as it is", so no default
    is advertised; on a create it means none."""
    if partial:
        return annotation, Field(None, description=description, json_schema_extra=_absent)
    return annotation, Field(None, description=description)


def _defaulted(annotation: Any, description: str) -> tuple[Any, Any]:
    """A field whose default the service decides (today, the plan's stage): left out, it is
    not sent to the service at all, so no default is advertised."""
    return annotation, Field(None, description=description, json_schema_extra=_absent)


def _blank(annotation: Any, description: str, *, partial: bool) -> tuple[Any, Any]:
    """A text or choice field whose empty value means "none" (a goal without a measure)."""
    if partial:
        return annotation, Field(None, description=description, json_schema_extra=_absent)
    return annotation, Field("", description=description)


REASON = (
    Reason,
    Field("", description="Why you make this change; the plan's revision keeps it."),
)
VERSION = (
    Version | None,
    Field(
        None, description='The version you read. Or send it as the header If-Match: "<version>".'
    ),
)


# --- the plan -----------------------------------------------------------------------------------

PlanStart = input_schema(
    "PlanStart",
    CarePlan,
    ["title"],
    review_due=_defaulted(
        date | None,
        "When to review the plan (default: day 56 of the episode, the recertification).",
    ),
    reason=REASON,
)
PlanPatch = input_schema(
    "PlanPatch",
    CarePlan,
    ["title", "status", "review_due"],
    partial=True,
    version=VERSION,
    reason=REASON,
)


# --- problems -----------------------------------------------------------------------------------

PROBLEM_TEXT = "The problem in words; left empty, the linked record's words."


def _problem_links() -> dict[str, Any]:
    return {
        "text": (_text(300), Field("", description=PROBLEM_TEXT)),
        "condition_id": _optional(
            RecordId | None, "A condition on the patient's chart.", partial=False
        ),
        "flag_id": _optional(RecordId | None, "A flag on the patient's chart.", partial=False),
        "finding_id": _optional(RecordId | None, "An assessment finding.", partial=False),
    }


ProblemCreate = input_schema(
    "ProblemCreate", Problem, ["code_system", "code"], **_problem_links(), reason=REASON
)
ProblemPatch = input_schema(
    "ProblemPatch",
    Problem,
    ["code_system", "code", "status"],
    partial=True,
    text=(
        _text(300, required=True),
        Field(None, description="The problem in words.", json_schema_extra=_absent),
    ),
    version=VERSION,
    reason=REASON,
)


# --- goals --------------------------------------------------------------------------------------

MEASURES = ", ".join(f"{m.key} ({m.label})" for m in measures.measures().values())


def _goal_fields(*, partial: bool) -> dict[str, Any]:
    return {
        "lifecycle_status": _defaulted(
            GOAL_LIFECYCLE, "Default: proposed while the plan is a draft, else active."
        ),
        "start_date": _defaulted(date, "Default: today."),
        "description": _blank(
            _text(300),
            "The measurable goal as the team writes it; left empty, the patient's words.",
            partial=partial,
        ),
        "problem_id": _optional(
            uuid.UUID | None, "The problem of this plan it answers.", partial=partial
        ),
        "measure": _blank(
            MeasureKey,
            f"What the target is measured by (empty: a goal in words only): {MEASURES}.",
            partial=partial,
        ),
        "target_low": _optional(TargetValue | None, "At least this value.", partial=partial),
        "target_high": _optional(TargetValue | None, "At most this value.", partial=partial),
        "target_days": _optional(
            TargetDays | None, "For an event measure: days without one.", partial=partial
        ),
        "task_id": _optional(
            RecordId | None, "For the task measure: the patient's task to be done.", partial=partial
        ),
        "needed": _optional(
            Readings | None,
            "Readings within the target needed (default: the measure's, usually 3).",
            partial=partial,
        ),
        "window": _optional(
            Readings | None,
            "Of how many latest readings (default: the measure's, usually 4).",
            partial=partial,
        ),
    }


GOAL_FIELDS = ["patient_words", "due_date"]
GOAL_LIFECYCLE: Any = Literal[tuple(Goal.Lifecycle.values)]  # type: ignore[valid-type]
GoalCreate = input_schema(
    "GoalCreate", Goal, GOAL_FIELDS, **_goal_fields(partial=False), reason=REASON
)
GoalPatch = input_schema(
    "GoalPatch",
    Goal,
    GOAL_FIELDS,
    partial=True,
    **_goal_fields(partial=True),
    version=VERSION,
    reason=REASON,
)


class AchievementOverride(InputSchema):
    """A person's judgement over the computed achievement; it holds until a newer reading."""

    status: OverrideCode = Field(
        ..., description="The achievement to show instead; empty gives the computed one back."
    )
    reason: Reason = Field(  # type: ignore[valid-type]
        "", description="Why the computed status does not hold (needed with a status)."
    )
    version: Version | None = VERSION[1]


# --- visit frequencies --------------------------------------------------------------------------

FREQUENCY_TEXT = "In Careway's notation: 3w1, 2w4 / 1m2 / qd x5 / PRN x2 for dyspnea."


class FrequencyCreate(InputSchema):
    discipline: DisciplineCode = Field(..., description="The discipline that visits.")
    frequency: FrequencyText = Field(..., description=FREQUENCY_TEXT)  # type: ignore[valid-type]
    start_date: date | None = Field(
        None, description="Week 1 begins here (default: the episode's start of care)."
    )
    end_date: date | None = Field(
        None, description="Default: the end of the frequency's last period."
    )
    reason: Reason = REASON[1]  # type: ignore[valid-type]


FrequencyPatch = input_schema(
    "FrequencyPatch",
    DisciplineFrequency,
    ["start_date", "end_date", "status"],
    partial=True,
    frequency=(FrequencyText, Field(None, description=FREQUENCY_TEXT, json_schema_extra=_absent)),
    version=VERSION,
    reason=REASON,
)


# --- interventions ------------------------------------------------------------------------------


def _intervention_fields(*, partial: bool) -> dict[str, Any]:
    return {
        "start_date": _defaulted(date, "Default: today."),
        "goal_id": _optional(uuid.UUID | None, "The goal of this plan it serves.", partial=partial),
        "problem_id": _optional(
            uuid.UUID | None, "The problem of this plan it answers.", partial=partial
        ),
        "discipline": _blank(
            DisciplineOrNone, "Who carries it out: a discipline ...", partial=partial
        ),
        "clinician_id": _optional(
            RecordId | None, "... or a named clinician of your agency ...", partial=partial
        ),
        "caregiver_id": _optional(
            RecordId | None,
            "... or one of the patient's family or caregivers (who joins the care team).",
            partial=partial,
        ),
        "at_visits_of": _blank(
            DisciplineOrNone, "Done at the visits of this discipline.", partial=partial
        ),
        "frequency": _blank(
            FrequencyText,
            f"Only where it differs from the visits': {FREQUENCY_TEXT}",
            partial=partial,
        ),
    }


INTERVENTION_FIELDS = ["kind", "text", "end_date"]
InterventionCreate = input_schema(
    "InterventionCreate",
    Intervention,
    INTERVENTION_FIELDS,
    **_intervention_fields(partial=False),
    reason=REASON,
)
InterventionPatch = input_schema(
    "InterventionPatch",
    Intervention,
    [*INTERVENTION_FIELDS, "status"],
    partial=True,
    **_intervention_fields(partial=True),
    version=VERSION,
    reason=REASON,
)


class TaskCreate(InputSchema):
    """Put the intervention on someone's list (shown on their Today)."""

    due_date: date | None = Field(None, description="Default: today.")
    detail: _text(10_000) = Field(  # type: ignore[valid-type]
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
    who: str = Field(..., description="Who carries it out, in words.")
    at_visits_of: DisciplineOrNone
    frequency: str
    frequency_in_words: str
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

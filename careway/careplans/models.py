"""The living care plan of an episode of care: problems, goals, interventions, visit frequencies.

One CarePlan per episode. Its content is rows (Problem, Goal, Intervention, DisciplineFrequency)
that people change one at a time through careway/careplans/services.py; every change is a new
revision of the plan, kept whole (CarePlanRevision.content: the plan as it then stood) with its
author, time and reason, so that any two revisions can be compared. The team is the episode's
care team (careway.patients.CareTeamMember), family caregivers included.

A goal speaks in two voices: the patient's own words, and a measurable target on a measure of
the chart (content/goal_measures.json). Its achievement is computed from the chart's evidence
(careway/careplans/achievement.py) whenever that evidence changes, and a person may override it
with a reason until the next reading arrives.

The plan's discipline frequencies are the one record of how often each discipline visits (42 CFR
484.60(a)(2)): the physician certifies them and visits are scheduled from them.
"""

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from careway.core.models import Organization
from careway.core.roles import Discipline
from careway.patients.models import (
    Condition,
    EpisodeOfCare,
    Patient,
    PatientFlag,
    PatientRecord,
    RelatedPerson,
    Task,
)

from .achievement import Achievement
from .permissions import CAREPLANS_EDIT

# FHIR R4 goal-achievement, in words.
ACHIEVEMENT_CHOICES = [(a.value, a.value.replace("-", " ").capitalize()) for a in Achievement]


class CarePlanRecord(PatientRecord):
    """A record of the care plans domain: changing one needs careplans.edit."""

    edit_permission: ClassVar[str] = CAREPLANS_EDIT.code

    class Meta:
        abstract = True


class CarePlan(CarePlanRecord):
    class Status(models.TextChoices):
        # FHIR R4 RequestStatus, as CarePlan.status has it.
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ON_HOLD = "on-hold", "On hold"
        COMPLETED = "completed", "Completed"
        REVOKED = "revoked", "Stopped"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="care_plans")
    episode = models.ForeignKey(EpisodeOfCare, on_delete=models.PROTECT, related_name="care_plans")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    title = models.CharField(max_length=200, default="Home health plan of care")
    review_due = models.DateField(
        null=True, blank=True, help_text="When the plan is next to be reviewed with the patient."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    # The newest revision's number (the plan's version counts every change, revision or not).
    revision = models.PositiveIntegerField(default=0)
    # Why the review falls due when it does: the recertification, or a change that brought it
    # forward (a hospital stay, a new urgent flag, a resumption of care); and the last review.
    review_reason = models.CharField(max_length=300, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["episode"],
                condition=~models.Q(status="entered-in-error"),
                name="careplan_one_per_episode",
            )
        ]
        indexes = [models.Index(fields=["patient", "status"])]

    def __str__(self) -> str:
        return self.title


class CarePlanRevision(CarePlanRecord):
    """The plan as it stood after one change, whole, with who made the change, when and why."""

    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    made_at = models.DateTimeField(default=timezone.now)
    summary = models.CharField(max_length=300, help_text="What changed, in words.")
    reason = models.TextField(blank=True)
    content = models.JSONField(help_text="The whole plan after this change.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="careplan_revision_unique")
        ]
        ordering = ["plan", "number"]


class Problem(CarePlanRecord):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RESOLVED = "resolved", "Resolved"
        INACTIVE = "inactive", "No longer addressed"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    class Source(models.TextChoices):
        CONDITION = "condition", "A condition on the chart"
        FINDING = "finding", "An assessment finding"
        FLAG = "flag", "A flag on the chart"
        WRITTEN = "written", "Written by the team"
        TEMPLATE = "template", "From a care plan template"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="problems")
    text = models.CharField("problem", max_length=300)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WRITTEN)
    condition = models.ForeignKey(
        Condition, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    flag = models.ForeignKey(
        PatientFlag, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    finding = models.ForeignKey(
        "assessments.Finding", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    code_system = models.CharField(max_length=100, blank=True)
    code = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "created_at"]

    def __str__(self) -> str:
        return self.text


class Goal(CarePlanRecord):
    class Lifecycle(models.TextChoices):
        # FHIR R4 Goal.lifecycleStatus (the ones a home health plan uses).
        PROPOSED = "proposed", "Proposed"
        ACTIVE = "active", "Active"
        ON_HOLD = "on-hold", "On hold"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="goals")
    problem = models.ForeignKey(
        Problem, null=True, blank=True, on_delete=models.PROTECT, related_name="goals"
    )
    patient_words = models.CharField(
        "in the patient's words", max_length=300, blank=True, help_text="As the patient says it."
    )
    description = models.CharField(
        "goal", max_length=300, help_text="The measurable goal, as the team writes it."
    )
    lifecycle_status = models.CharField(
        max_length=16, choices=Lifecycle.choices, default=Lifecycle.ACTIVE
    )
    start_date = models.DateField(default=timezone.localdate)
    due_date = models.DateField(null=True, blank=True)
    # The target: a measure of content/goal_measures.json, and a value or range on it (or a
    # number of days without the event, or a task done). No measure: a goal in words only.
    measure = models.CharField(max_length=40, blank=True)
    target_low = models.FloatField("at least", null=True, blank=True)
    target_high = models.FloatField("at most", null=True, blank=True)
    target_days = models.PositiveIntegerField("days without it", null=True, blank=True)
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    needed = models.PositiveSmallIntegerField(null=True, blank=True)
    window = models.PositiveSmallIntegerField(null=True, blank=True)
    # A goal that depends on teaching: met when the teach-back on this topic (a handout's key)
    # is "understood".
    teaching_topic = models.CharField(max_length=60, blank=True)
    # Computed from the chart (never typed in): the status, the rule applied, and when.
    achievement = models.CharField(
        max_length=16, choices=ACHIEVEMENT_CHOICES, default=Achievement.IN_PROGRESS.value
    )
    achievement_rule = models.CharField(max_length=300, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    # A person's judgement over the computed status, until the next reading arrives.
    override = models.CharField(max_length=16, choices=ACHIEVEMENT_CHOICES, blank=True)
    override_reason = models.TextField(blank=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    override_at = models.DateTimeField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "created_at"]
        indexes = [models.Index(fields=["patient", "lifecycle_status", "achievement"])]

    def __str__(self) -> str:
        return self.description

    @property
    def shown_achievement(self) -> str:
        return self.override or self.achievement


class DisciplineFrequency(CarePlanRecord):
    """How often one discipline visits, in the notation of careway/careplans/frequency.py."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        STOPPED = "stopped", "Stopped"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="frequencies")
    discipline = models.CharField(max_length=4, choices=Discipline.choices)
    frequency = models.CharField(max_length=120, help_text="For example: 3w1, 2w4")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "discipline"],
                condition=models.Q(status="active"),
                name="careplan_one_frequency_per_discipline",
            )
        ]
        ordering = ["discipline"]


class Intervention(CarePlanRecord):
    class Kind(models.TextChoices):
        TEACH = "teach", "Teach"
        PERFORM = "perform", "Perform"
        MONITOR = "monitor", "Monitor"
        COORDINATE = "coordinate", "Coordinate"
        REFER = "refer", "Refer"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ON_HOLD = "on-hold", "On hold"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="interventions")
    goal = models.ForeignKey(
        Goal, null=True, blank=True, on_delete=models.PROTECT, related_name="interventions"
    )
    problem = models.ForeignKey(
        Problem, null=True, blank=True, on_delete=models.PROTECT, related_name="interventions"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    text = models.CharField("intervention", max_length=300)
    # Who: a discipline, a named clinician, a family caregiver on the team, or the patient
    # themself. One kind of someone an intervention: the patient's own part ("Weigh yourself every
    # morning and write it down") and the team's part ("Review the weight log") are two
    # interventions, so `by_patient` names no discipline, clinician or caregiver beside it (the
    # service refuses them, and so does the constraint `intervention_patient_alone`). It may keep
    # `at_visits_of` (the patient shows the log to the nurse at her visits) and a frequency of its
    # own (daily).
    discipline = models.CharField(max_length=4, choices=Discipline.choices, blank=True)
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    caregiver = models.ForeignKey(
        RelatedPerson, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    by_patient = models.BooleanField("done by the patient", default=False)
    # Done at the visits of this discipline, at the plan's frequency for it, unless the
    # intervention has its own (a PRN visit, a weekly check).
    at_visits_of = models.CharField(max_length=4, choices=Discipline.choices, blank=True)
    frequency = models.CharField(max_length=120, blank=True)
    # A teaching intervention's topic (a handout's key): its teach-back results show beside it.
    teaching_topic = models.CharField(max_length=60, blank=True)
    start_date = models.DateField(default=timezone.localdate)
    end_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(discipline="")
                | models.Q(clinician__isnull=False)
                | models.Q(caregiver__isnull=False)
                | models.Q(by_patient=True),
                name="intervention_has_someone",
            ),
            models.CheckConstraint(
                condition=models.Q(by_patient=False)
                | models.Q(discipline="", clinician__isnull=True, caregiver__isnull=True),
                name="intervention_patient_alone",
            ),
        ]

    def __str__(self) -> str:
        return self.text


def _one_current_version_per_key(name: str) -> list[models.BaseConstraint]:
    """An AgencyContent kind's constraints: each version of a key once, one current per key."""
    return [
        models.UniqueConstraint(fields=["organization", "key", "version"], name=f"{name}_version"),
        models.UniqueConstraint(
            fields=["organization", "key"],
            condition=models.Q(current=True),
            name=f"{name}_one_current",
        ),
    ]


class AgencyContent(models.Model):
    """A version of an agency's own clinical content, or of its copy of a shipped one: a care
    plan template (AgencyTemplate) or a teaching handout (AgencyHandout). Each edit is a new row,
    the next version; the newest is `current`, and the older ones stay so that what names a
    version (a suggestion, a teaching record) can still read it. Written only through
    careway/careplans/agency_content.py."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    key = models.CharField(max_length=60)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    content = models.JSONField()
    copied_from = models.CharField(max_length=80, blank=True)
    active = models.BooleanField(default=True)
    current = models.BooleanField(default=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=300, blank=True, help_text="What changed, and why.")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.title


class AgencyTemplate(AgencyContent):
    """An agency's own care plan template, or its copy of a shipped one (careway/careplans/
    plan_templates.py); a suggestion names the version it came from."""

    content = models.JSONField(help_text="The template, in the format of content/templates/.")
    copied_from = models.CharField(
        max_length=80, blank=True, help_text="The shipped template and version it was copied from."
    )

    class Meta:
        constraints = _one_current_version_per_key("agency_template")


class Suggestion(CarePlanRecord):
    """A problem, goal or intervention a template proposes for this patient, with the rules that
    fired and the evidence they fired on (careway/careplans/suggestions.py). Nothing enters the
    plan until a person accepts it. A rejected suggestion keeps its reason and stays rejected
    until its evidence changes; then it is open again, saying what changed."""

    class Status(models.TextChoices):
        OPEN = "open", "Suggested"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        LAPSED = "lapsed", "No longer supported by the chart"

    class Kind(models.TextChoices):
        PROBLEM = "problem", "Problem"
        GOAL = "goal", "Goal"
        INTERVENTION = "intervention", "Intervention"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="plan_suggestions")
    template = models.CharField(max_length=60)
    template_version = models.CharField(max_length=40)
    # The template item's key; a row suggested for one finding adds the finding's source.
    item = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    text = models.CharField(max_length=300, help_text="What would be added, in words.")
    preventive = models.BooleanField(default=False)
    rules = models.JSONField(default=list, help_text="The ids of the rules that fired.")
    reasons = models.JSONField(default=list, help_text="Why, in words, one line per fact.")
    evidence = models.JSONField(default=list, help_text="The facts the rules fired on.")
    recommendation = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    what_changed = models.TextField(
        blank=True, help_text="Set when a rejected suggestion comes back: what changed."
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    rejected_evidence = models.JSONField(
        default=list, blank=True, help_text="The evidence as it stood when it was rejected."
    )
    accepted_as = models.CharField(
        max_length=40, blank=True, help_text="The id of the plan row made from it."
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "template", "item"], name="suggestion_one_per_item"
            )
        ]
        indexes = [
            models.Index(fields=["patient", "status"]),
            models.Index(fields=["organization", "status"]),
        ]
        ordering = ["preventive", "position", "created_at"]

    def __str__(self) -> str:
        return self.text


class AgencyHandout(AgencyContent):
    """An agency's own teaching handout, or its edited copy of a shipped one (careway/careplans/
    handouts.py; the shipped ones are content/handouts/<key>.json); a teaching record names the
    version it gave."""

    content = models.JSONField(help_text="The handout, in the format of content/handouts/.")
    copied_from = models.CharField(
        max_length=80, blank=True, help_text="The shipped handout and version it was copied from."
    )

    class Meta:
        constraints = _one_current_version_per_key("agency_handout")


class TeachingRecord(CarePlanRecord):
    """One teaching of one topic of the handout library: to whom, how, and what the teach-back
    showed. A goal or an intervention may depend on a topic (Goal.teaching_topic,
    Intervention.teaching_topic); "needs reinforcement" raises a task for the next visit."""

    class Audience(models.TextChoices):
        PATIENT = "patient", "Patient"
        CAREGIVER = "caregiver", "Caregiver"

    class Result(models.TextChoices):
        UNDERSTOOD = "understood", "Understood"
        REINFORCE = "needs-reinforcement", "Needs reinforcement"
        NOT_UNDERSTOOD = "not-understood", "Not understood"

    class Status(models.TextChoices):
        COMPLETED = "completed", "Recorded"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(
        CarePlan, null=True, blank=True, on_delete=models.PROTECT, related_name="teaching"
    )
    topic = models.CharField(max_length=60, help_text="The handout's key.")
    topic_title = models.CharField(max_length=200, help_text="The topic's title when taught.")
    handout_version = models.CharField(max_length=40, blank=True)
    language = models.CharField(max_length=35, default="en")
    audience = models.CharField(max_length=10, choices=Audience.choices)
    caregiver = models.ForeignKey(
        RelatedPerson, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    explained = models.BooleanField(default=False)
    demonstrated = models.BooleanField(default=False)
    handout_given = models.BooleanField("handout given", default=False)
    result = models.CharField("teach-back", max_length=20, choices=Result.choices)
    notes = models.TextField(blank=True)
    goal = models.ForeignKey(
        Goal, null=True, blank=True, on_delete=models.PROTECT, related_name="teaching"
    )
    intervention = models.ForeignKey(
        Intervention, null=True, blank=True, on_delete=models.PROTECT, related_name="teaching"
    )
    taught_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    taught_at = models.DateTimeField(default=timezone.now)
    follow_up = models.ForeignKey(
        Task,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The task raised for the next visit when it needs reinforcement.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETED)

    class Meta:
        ordering = ["-taught_at"]
        indexes = [models.Index(fields=["patient", "topic", "taught_at"])]

    def __str__(self) -> str:
        return f"{self.topic_title}: {self.get_result_display()}"


class Agreement(CarePlanRecord):
    """The patient's (or their legal representative's) agreement to one revision of the plan:
    drawn signature, or verbal with a witness. A later revision asks again."""

    class Who(models.TextChoices):
        PATIENT = "patient", "Patient"
        REPRESENTATIVE = "representative", "Legal representative"

    class Method(models.TextChoices):
        SIGNATURE = "signature", "Signature drawn on the tablet"
        VERBAL = "verbal", "Verbal, with a witness"

    class Status(models.TextChoices):
        ACTIVE = "active", "Recorded"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="agreements")
    revision = models.PositiveIntegerField(help_text="The plan's revision agreed to.")
    who = models.CharField(max_length=16, choices=Who.choices)
    representative = models.ForeignKey(
        RelatedPerson, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    method = models.CharField(max_length=10, choices=Method.choices)
    # The drawn signature as strokes: [[[x, y], ...], ...] on a 600 x 200 pad, drawn as SVG.
    signature = models.JSONField(default=list, blank=True)
    witness_name = models.CharField(max_length=200, blank=True)
    agreed_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        ordering = ["-agreed_at"]
        indexes = [models.Index(fields=["plan", "revision"])]


class Practitioner(models.TextChoices):
    """Who may certify a home health plan of care, or do its face-to-face encounter (42 CFR
    424.22(a)(1)(v) and 484.2 'allowed practitioner'); RN is here for a verbal order's taker."""

    MD = "MD", "Physician (MD)"
    DO = "DO", "Physician (DO)"
    DPM = "DPM", "Podiatrist (DPM)"
    NP = "NP", "Nurse practitioner"
    CNS = "CNS", "Clinical nurse specialist"
    PA = "PA", "Physician assistant"
    CNM = "CNM", "Certified nurse-midwife"


class PlanOfCare(CarePlanRecord):
    """The physician's Home Health Certification and Plan of Care (the content of form CMS-485,
    42 CFR 484.60(a)(2) and 424.22) for one 60-day certification period: drawn up from the living
    plan (its goals and discipline frequencies, the same records) and the chart, sent to the
    certifying practitioner and tracked until signed. Editable while a draft; once sent it is the
    document as sent (`sent_pdf`), and a change is a new plan of care."""

    class Kind(models.TextChoices):
        CERTIFICATION = "certification", "Certification (start of care)"
        RECERTIFICATION = "recertification", "Recertification"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENT = "sent", "Sent for signature"
        SIGNED = "signed", "Signed"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    class Prognosis(models.TextChoices):
        POOR = "poor", "Poor"
        GUARDED = "guarded", "Guarded"
        FAIR = "fair", "Fair"
        GOOD = "good", "Good"
        EXCELLENT = "excellent", "Excellent"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="plans_of_care")
    episode = models.ForeignKey(EpisodeOfCare, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    plan_revision = models.PositiveIntegerField(
        default=0, help_text="The living plan's revision its goals and orders were drawn from."
    )
    # [{"code": "I50.22", "display": ..., "principal": true, "snomed": ..., "snomed_display":
    #   ..., "onset": "2026-11-02"}], ICD-10-CM, validated against the code set.
    diagnoses = models.JSONField(default=list, blank=True)
    mental_status = models.CharField(max_length=300, blank=True)
    prognosis = models.CharField(max_length=10, choices=Prognosis.choices, blank=True)
    rehab_potential = models.TextField("rehabilitation potential", blank=True)
    discharge_plans = models.TextField(blank=True)
    safety_measures = models.TextField(blank=True)
    nutritional_requirements = models.TextField(blank=True)
    equipment_supplies = models.TextField("equipment and supplies", blank=True)
    hospitalization_risk = models.TextField("risk of hospitalization", blank=True)
    functional_limitations = models.JSONField(default=list, blank=True)
    activities_permitted = models.JSONField(default=list, blank=True)
    # The physician's notify-if parameters, keyed as careway/patients/alerts.py keys them
    # (systolic_above, weight_gain_day, ...): the patient's alert thresholds once ordered.
    notify_if = models.JSONField(default=dict, blank=True)
    # Who certifies, and the face-to-face encounter and homebound status (42 CFR 424.22).
    practitioner_name = models.CharField(max_length=200, blank=True)
    practitioner_kind = models.CharField(max_length=4, choices=Practitioner.choices, blank=True)
    practitioner_npi = models.CharField("practitioner NPI", max_length=10, blank=True)
    practitioner_address = models.CharField(max_length=300, blank=True)
    practitioner_phone = models.CharField(max_length=30, blank=True)
    face_to_face_date = models.DateField(null=True, blank=True)
    face_to_face_practitioner = models.CharField(max_length=200, blank=True)
    face_to_face_kind = models.CharField(max_length=4, choices=Practitioner.choices, blank=True)
    face_to_face_findings = models.TextField(blank=True)
    homebound = models.BooleanField(null=True, blank=True)
    homebound_reason = models.TextField(blank=True)
    # Tracking until signed.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    content = models.JSONField(
        default=dict, blank=True, help_text="The whole document as sent (goals, orders, meds)."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sent_how = models.CharField(max_length=20, blank=True)
    sent_pdf = models.BinaryField(null=True, blank=True, editable=False)
    due_by = models.DateField(null=True, blank=True, help_text="Signed by then, or overdue.")
    signed_on = models.DateField(null=True, blank=True, help_text="As the practitioner dated it.")
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-period_start", "-created_at"]
        indexes = [
            models.Index(fields=["patient", "status"]),
            models.Index(fields=["organization", "status", "due_by"]),
        ]


class VerbalOrder(CarePlanRecord):
    """An order a practitioner gave by word (telephone or in person), written down and read back
    by the clinician who took it, then sent for signature and tracked as a plan of care is."""

    class Status(models.TextChoices):
        TAKEN = "taken", "Taken, not yet sent"
        SENT = "sent", "Sent for signature"
        SIGNED = "signed", "Signed"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="verbal_orders")
    plan_of_care = models.ForeignKey(
        PlanOfCare, null=True, blank=True, on_delete=models.PROTECT, related_name="verbal_orders"
    )
    text = models.TextField("order")
    discipline = models.CharField(max_length=4, choices=Discipline.choices, blank=True)
    practitioner_name = models.CharField(max_length=200)
    practitioner_kind = models.CharField(max_length=4, choices=Practitioner.choices)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    taken_at = models.DateTimeField(default=timezone.now)
    read_back = models.BooleanField(default=True, help_text="Read back to the practitioner.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TAKEN)
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_how = models.CharField(max_length=20, blank=True)
    due_by = models.DateField(null=True, blank=True)
    signed_on = models.DateField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["organization", "status", "due_by"])]

"""The patient registry, the episode of care and its team, and the clinical record; the base of
every patient record in Careway; emergency access grants.

Every row carries `organization` so that every query can be scoped to one agency. Records carry
`version`: a save that names an older version is a conflict, never an overwrite. Nothing here is
hard-deleted: records are marked inactive or entered-in-error.
"""

import math
import uuid
from datetime import date
from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from careway.core.models import Branch, Organization

from .flags import category_of, detail_of
from .permissions import CHART_EDIT


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class CodeStatus(models.TextChoices):
    FULL_CODE = "full", "Full code"
    DNR = "dnr", "Do not resuscitate (DNR)"
    DNR_DNI = "dnr_dni", "DNR and do not intubate"
    COMFORT = "comfort", "Comfort care only"
    UNKNOWN = "unknown", "Not yet discussed"


class AdvanceDirective(models.TextChoices):
    NONE = "none", "None on file"
    LIVING_WILL = "living_will", "Living will"
    HEALTHCARE_POA = "healthcare_poa", "Healthcare power of attorney"
    POLST = "polst", "POLST / MOLST"
    MULTIPLE = "multiple", "Several documents on file"


class Patient(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT)
    version = models.PositiveIntegerField(default=1)
    active = models.BooleanField(default=True)

    mrn = models.CharField("MRN", max_length=40)
    given_name = models.CharField("first name", max_length=100)
    middle_name = models.CharField(max_length=100, blank=True)
    family_name = models.CharField("last name", max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    birth_date = models.DateField("date of birth")
    sex = models.CharField("sex assigned at birth", max_length=10, choices=Sex.choices)
    gender_identity = models.CharField(max_length=60, blank=True)
    pronouns = models.CharField(max_length=30, blank=True)
    preferred_language = models.CharField(
        max_length=35, default="en", help_text="BCP 47 code, for example en, es, zh-Hant."
    )
    interpreter_needed = models.BooleanField(default=False)

    address_line = models.CharField("street address", max_length=200, blank=True)
    address_line2 = models.CharField("apartment, unit", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    latitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    phone_home = models.CharField("home phone", max_length=30, blank=True)
    phone_mobile = models.CharField("mobile phone", max_length=30, blank=True)
    email = models.EmailField(blank=True)

    medicare_number = models.CharField("Medicare number (MBI)", max_length=11, blank=True)
    medicaid_number = models.CharField(max_length=20, blank=True)

    code_status = models.CharField(max_length=10, choices=CodeStatus.choices, default="unknown")
    advance_directive = models.CharField(
        max_length=20, choices=AdvanceDirective.choices, default=AdvanceDirective.NONE
    )
    no_known_allergies = models.BooleanField(
        default=False, help_text="Allergies were asked about and the patient has none."
    )
    what_matters_most = models.TextField(
        "what matters most to me", blank=True, help_text="In the patient's own words."
    )

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "mrn"], name="patient_unique_mrn")
        ]
        indexes = [
            models.Index(fields=["organization", "family_name", "given_name"]),
            models.Index(fields=["organization", "birth_date"]),
            models.Index(fields=["branch", "active"]),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def sortable_name(self) -> str:
        return f"{self.family_name}, {self.given_name}"

    def age_on(self, day: date) -> int:
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def age(self) -> int:
        return self.age_on(timezone.localdate())


class PatientRecord(models.Model):
    """What every record of a patient shares, whichever part of Careway keeps it.

    The agency it belongs to (every query is scoped by it), the patient, a version (a save that
    names an older one is a conflict, never an overwrite) and when it was made and last changed.
    Every domain's patient data subclasses this: the tests' write guard, bulk export and
    `careway.patients.access.get_record_for` find patient data by this type. `edit_permission`
    is what a person needs, on top of seeing the chart, to change such a record (a domain sets
    its own, so that a scheduler may one day change visits without changing the chart).
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    edit_permission: ClassVar[str] = CHART_EDIT.code

    class Meta:
        abstract = True


class Coverage(PatientRecord):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="coverages")

    class Kind(models.TextChoices):
        MEDICARE = "medicare", "Medicare (traditional)"
        MEDICARE_ADVANTAGE = "medicare_advantage", "Medicare Advantage"
        MEDICAID = "medicaid", "Medicaid"
        COMMERCIAL = "commercial", "Commercial insurance"
        VA = "va", "Veterans Affairs"
        SELF_PAY = "self_pay", "Self pay"
        OTHER = "other", "Other"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    payer_name = models.CharField(max_length=120)
    member_id = models.CharField(max_length=40, blank=True)
    priority = models.PositiveSmallIntegerField(default=1, help_text="1 is the primary payer.")
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority"]

    def __str__(self) -> str:
        return self.payer_name


class RelatedPerson(PatientRecord):
    """A family member, caregiver or other contact of the patient."""

    class Relationship(models.TextChoices):
        SPOUSE = "spouse", "Spouse or partner"
        CHILD = "child", "Son or daughter"
        PARENT = "parent", "Parent"
        SIBLING = "sibling", "Brother or sister"
        GRANDCHILD = "grandchild", "Grandchild"
        OTHER_RELATIVE = "relative", "Other relative"
        FRIEND = "friend", "Friend or neighbour"
        PAID_CAREGIVER = "paid_caregiver", "Paid caregiver"
        GUARDIAN = "guardian", "Legal guardian"
        HEALTHCARE_AGENT = "agent", "Healthcare agent (POA)"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="contacts")
    name = models.CharField(max_length=200)
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    lives_with_patient = models.BooleanField(default=False)
    is_primary_caregiver = models.BooleanField("primary caregiver", default=False)
    is_emergency_contact = models.BooleanField("emergency contact", default=False)
    may_receive_information = models.BooleanField(
        "may receive health information",
        default=False,
        help_text="The patient consents to Careway staff sharing health information with them.",
    )
    notes = models.TextField(blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-is_primary_caregiver", "name"]

    def __str__(self) -> str:
        return self.name


class EpisodeOfCare(PatientRecord):
    """A period of home health care: the 'case', from referral to discharge."""

    class Status(models.TextChoices):
        REFERRED = "referred", "Referred"
        ACTIVE = "active", "Active"
        ON_HOLD = "on_hold", "On hold (inpatient stay)"
        DISCHARGED = "discharged", "Discharged"
        CANCELLED = "cancelled", "Cancelled (not admitted)"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="episodes")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REFERRED)
    referral_source = models.CharField(max_length=200, blank=True)
    referral_date = models.DateField(null=True, blank=True)
    start_of_care = models.DateField(null=True, blank=True)
    discharge_date = models.DateField(null=True, blank=True)
    discharge_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "status"])]

    def day_of_episode(self, today: date) -> int | None:
        if self.start_of_care is None or self.start_of_care > today:
            return None
        return (today - self.start_of_care).days + 1


class CareTeamMember(PatientRecord):
    """A staff member or a related person with a role in one episode of care."""

    class TeamRole(models.TextChoices):
        CASE_MANAGER = "case_manager", "Case manager"
        NURSE = "nurse", "Nurse"
        THERAPIST = "therapist", "Therapist"
        SOCIAL_WORKER = "social_worker", "Social worker"
        AIDE = "aide", "Home health aide"
        SCHEDULER = "scheduler", "Scheduler"
        PHYSICIAN = "physician", "Physician"
        CAREGIVER = "caregiver", "Family caregiver"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="care_team")
    episode = models.ForeignKey(EpisodeOfCare, on_delete=models.PROTECT, related_name="care_team")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="care_team_roles",
    )
    related_person = models.ForeignKey(
        RelatedPerson, on_delete=models.PROTECT, null=True, blank=True
    )
    external_name = models.CharField(
        max_length=200, blank=True, help_text="For someone outside Careway, such as a physician."
    )
    role = models.CharField(max_length=20, choices=TeamRole.choices)
    is_primary_case_manager = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    start_date = models.DateField(default=timezone.localdate)
    end_date = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["episode"],
                condition=models.Q(is_primary_case_manager=True, active=True),
                name="careteam_one_primary_case_manager",
            ),
            models.CheckConstraint(
                condition=models.Q(user__isnull=False)
                | models.Q(related_person__isnull=False)
                | ~models.Q(external_name=""),
                name="careteam_member_is_someone",
            ),
        ]
        indexes = [models.Index(fields=["user", "active"])]

    @property
    def member_name(self) -> str:
        if self.user_id:
            return self.user.display_name
        if self.related_person_id:
            return self.related_person.name
        return self.external_name


class CodedRecord(PatientRecord):
    """A clinical record of a coded concept, with who recorded it and when (its provenance)."""

    code_system = models.CharField(max_length=100, blank=True)
    code = models.CharField(max_length=40, blank=True)
    display = models.CharField(max_length=300, help_text="The concept in words.")
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.display


SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


class Condition(CodedRecord):
    class ClinicalStatus(models.TextChoices):
        ACTIVE = "active", "Active"
        RECURRENCE = "recurrence", "Recurrence"
        RELAPSE = "relapse", "Relapse"
        INACTIVE = "inactive", "Inactive"
        REMISSION = "remission", "Remission"
        RESOLVED = "resolved", "Resolved"

    class Verification(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        PROVISIONAL = "provisional", "Provisional"
        UNCONFIRMED = "unconfirmed", "Unconfirmed"
        REFUTED = "refuted", "Refuted"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    class Category(models.TextChoices):
        PROBLEM_LIST = "problem-list-item", "Problem list"
        ENCOUNTER_DIAGNOSIS = "encounter-diagnosis", "Encounter diagnosis"
        HEALTH_CONCERN = "health-concern", "Health concern"

    clinical_status = models.CharField(
        max_length=12, choices=ClinicalStatus.choices, default=ClinicalStatus.ACTIVE
    )
    category = models.CharField(
        max_length=20, choices=Category.choices, default=Category.PROBLEM_LIST
    )
    verification_status = models.CharField(
        max_length=16, choices=Verification.choices, default=Verification.CONFIRMED
    )
    onset_date = models.DateField(null=True, blank=True)
    abatement_date = models.DateField(null=True, blank=True)
    is_primary = models.BooleanField(
        "primary home health diagnosis",
        default=False,
    )

    class Meta:
        indexes = [models.Index(fields=["patient", "clinical_status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(is_primary=True),
                name="condition_one_primary_per_patient",
            )
        ]


class Medication(CodedRecord):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ON_HOLD = "on-hold", "On hold"
        STOPPED = "stopped", "Stopped"
        COMPLETED = "completed", "Completed"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    class Kind(models.TextChoices):
        # What the patient takes, as found at home or reconciled (FHIR MedicationStatement), or
        # what a prescriber ordered (FHIR MedicationRequest). Both make up the medication list.
        STATEMENT = "statement", "Taken (reported or reconciled)"
        REQUEST = "request", "Prescribed (an order)"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.STATEMENT)
    dose = models.CharField(max_length=100, blank=True, help_text="For example: 40 mg")
    route = models.CharField(max_length=40, blank=True, help_text="For example: by mouth")
    frequency = models.CharField(max_length=100, blank=True, help_text="For example: twice daily")
    as_needed = models.BooleanField("as needed (PRN)", default=False)
    indication = models.CharField(max_length=200, blank=True)
    prescriber = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "status"])]


class Allergy(CodedRecord):
    class Category(models.TextChoices):
        MEDICATION = "medication", "Medication"
        FOOD = "food", "Food"
        ENVIRONMENT = "environment", "Environment"
        BIOLOGIC = "biologic", "Biologic"

    class Criticality(models.TextChoices):
        LOW = "low", "Low"
        HIGH = "high", "High"
        UNABLE = "unable-to-assess", "Unable to assess"

    class ClinicalStatus(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        RESOLVED = "resolved", "Resolved"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    category = models.CharField(max_length=12, choices=Category.choices)
    criticality = models.CharField(
        max_length=16, choices=Criticality.choices, default=Criticality.LOW
    )
    reaction = models.CharField(max_length=200, blank=True, help_text="For example: hives")
    clinical_status = models.CharField(
        max_length=16, choices=ClinicalStatus.choices, default=ClinicalStatus.ACTIVE
    )

    class Meta:
        verbose_name_plural = "allergies"
        indexes = [models.Index(fields=["patient", "clinical_status"])]


class Observation(CodedRecord):
    """A measurement (vital sign, lab, score) coded in LOINC."""

    class Category(models.TextChoices):
        VITAL_SIGNS = "vital-signs", "Vital signs"
        LABORATORY = "laboratory", "Laboratory"
        SURVEY = "survey", "Survey or score"
        SOCIAL_HISTORY = "social-history", "Social history"

    class Status(models.TextChoices):
        FINAL = "final", "Final"
        AMENDED = "amended", "Amended"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    category = models.CharField(max_length=16, choices=Category.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.FINAL)
    effective_at = models.DateTimeField()
    value = models.FloatField(null=True, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    value_text = models.CharField(max_length=200, blank=True)
    encounter = models.ForeignKey(
        "Encounter", on_delete=models.PROTECT, null=True, blank=True, related_name="observations"
    )
    # Measurements taken as one panel (blood pressure: systolic and diastolic) share a panel_id
    # and name the panel's code; FHIR shows them as one Observation with components.
    panel_code = models.CharField(max_length=40, blank=True)
    panel_id = models.UUIDField(null=True, blank=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "category", "-effective_at"]),
            models.Index(fields=["patient", "code", "-effective_at"]),
        ]


class Encounter(PatientRecord):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="encounters")

    class Kind(models.TextChoices):
        HOME = "HH", "Home visit"
        AMBULATORY = "AMB", "Office visit"
        EMERGENCY = "EMER", "Emergency department"
        INPATIENT = "IMP", "Hospital stay"
        VIRTUAL = "VR", "Telehealth"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        IN_PROGRESS = "in-progress", "In progress"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    episode = models.ForeignKey(
        EpisodeOfCare, on_delete=models.PROTECT, null=True, blank=True, related_name="encounters"
    )
    kind = models.CharField(max_length=4, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.FINISHED)
    type_display = models.CharField(max_length=200, help_text="What kind of visit or stay.")
    type_system = models.CharField(max_length=100, blank=True)
    type_code = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    location = models.CharField(max_length=200, blank=True)
    practitioner = models.CharField(max_length=200, blank=True)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "-period_start"])]


class Immunization(CodedRecord):
    """A vaccine given (CVX coded), or recorded as not given."""

    class Status(models.TextChoices):
        COMPLETED = "completed", "Given"
        NOT_DONE = "not-done", "Not given"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETED)
    occurred_at = models.DateTimeField()
    lot_number = models.CharField(max_length=40, blank=True)
    primary_source = models.BooleanField(
        default=True, help_text="Recorded by whoever gave it, rather than reported later."
    )

    class Meta:
        indexes = [models.Index(fields=["patient", "-occurred_at"])]


class Procedure(CodedRecord):
    """A procedure done to or for the patient (surgery, imaging, therapy, counselling)."""

    class Status(models.TextChoices):
        PREPARATION = "preparation", "In preparation"
        IN_PROGRESS = "in-progress", "In progress"
        NOT_DONE = "not-done", "Not done"
        ON_HOLD = "on-hold", "On hold"
        STOPPED = "stopped", "Stopped"
        COMPLETED = "completed", "Completed"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"
        UNKNOWN = "unknown", "Unknown"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETED)
    performed_start = models.DateTimeField(null=True, blank=True)
    performed_end = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "-performed_start"])]


class PastCarePlan(CodedRecord):
    """A care plan from another setting, kept as history (code/display: its category).

    Careway's own care plans come with the care planning work; these are what the hospital or
    practice had planned, so the case manager can see it, never edit it.
    """

    status = models.CharField(max_length=16, blank=True)
    intent = models.CharField(max_length=16, blank=True)
    title = models.CharField(max_length=300, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    activities = models.JSONField(
        default=list, blank=True, help_text="Each planned activity: code, system, display, status."
    )
    addresses = models.JSONField(
        default=list, blank=True, help_text="The conditions it addressed, in words."
    )

    class Meta:
        indexes = [models.Index(fields=["patient", "-period_start"])]


class PastGoal(CodedRecord):
    """A goal from another setting, kept as history (display: the goal in words)."""

    lifecycle_status = models.CharField(max_length=16, blank=True)
    achievement_status = models.CharField(max_length=30, blank=True)
    start_date = models.DateField(null=True, blank=True)
    target_date = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "lifecycle_status"])]


class RecordVersion(PatientRecord):
    """A record as it was before a change: what FHIR vread and _history show for old versions.

    Written by the update services just before they change a versioned record, so the live row
    is always the newest version and every earlier one is here; `created_at` is when it was
    replaced.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    record_type = models.CharField(max_length=60, help_text="app_label.model")
    record_id = models.CharField(max_length=40)
    version = models.PositiveIntegerField(help_text="The version of the record kept here.")
    data = models.JSONField(help_text="The record's fields, by attribute name.")
    valid_from = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["record_type", "record_id", "version"], name="record_version_unique"
            )
        ]


class PatientFlag(PatientRecord):
    """The one way any part of Careway raises something for the caseload and the chart."""

    class Severity(models.TextChoices):
        INFO = "info", "For information"
        WARNING = "warning", "Needs attention"
        URGENT = "urgent", "Urgent"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="flags")
    kind = models.CharField(max_length=40, help_text="A short code, for example high-fall-risk.")
    category = models.CharField(
        max_length=100,
        blank=True,
        help_text="The kind in words, the same for every patient (what the caseload filters "
        "by); filled from the kind when left blank (careway/patients/flags.py).",
    )
    label = models.CharField(max_length=100, help_text="What was found for this patient.")
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.WARNING)
    source = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)
    raised_at = models.DateTimeField(default=timezone.now)
    # Acknowledged: someone responsible has seen it (it stays active until resolved).
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledgement_note = models.TextField(blank=True)
    # Resolved: closed (active False), with what was done; it stays in the chart's history.
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "active"]),
            models.Index(fields=["category", "active"]),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.category:
            self.category = category_of(self.kind)
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "category"}
        super().save(*args, **kwargs)

    @property
    def detail(self) -> str:
        """What is particular to this patient, without the category the label may repeat."""
        return detail_of(self.label, self.category or category_of(self.kind))


class Task(PatientRecord):
    """Something a person must do for a patient: the case manager's worklist (an urgent answer
    in an assessment, later the care plan's interventions)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="tasks")

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True)
    priority = models.CharField(
        max_length=8, choices=PatientFlag.Severity.choices, default=PatientFlag.Severity.WARNING
    )
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    source = models.CharField(max_length=100, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    completion_note = models.TextField(blank=True, help_text="What was done.")

    class Meta:
        indexes = [models.Index(fields=["patient", "status"])]


class BreakGlassGrant(models.Model):
    """Emergency, time-limited read access to a chart the user could not otherwise see."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="break_glass_grants"
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="break_glass_grants"
    )
    reason = models.TextField()
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "expires_at"])]

    def is_current(self) -> bool:
        return self.expires_at > timezone.now()

    @property
    def minutes_left(self) -> int:
        """Whole minutes until it expires, rounded up: "1 minute left" until the very end."""
        seconds = (self.expires_at - timezone.now()).total_seconds()
        return max(0, math.ceil(seconds / 60))


class VitalAlertSetting(models.Model):
    """An agency's own notify-if thresholds for vital signs (careway/patients/alerts.py reads
    them; the defaults and their sources are in content/vital_alerts.json). Versioned: a save
    from a stale page is a conflict; each change is audited with what it was before."""

    organization = models.OneToOneField(Organization, on_delete=models.PROTECT)
    values = models.JSONField(help_text="Each threshold by name, e.g. systolic_above: 160.")
    version = models.PositiveIntegerField(default=0)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)


def patient_data_models() -> list[type[models.Model]]:
    """The patient and every kind of patient record of the installed apps, found by type."""
    from django.apps import apps

    return [Patient, *(m for m in apps.get_models() if issubclass(m, PatientRecord))]

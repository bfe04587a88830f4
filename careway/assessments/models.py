"""Assessments: an agency's instruments, the assessments done with them, their scores and findings.

An Assessment belongs to one episode of care and one time point (start of care, resumption,
recertification, ...). It is filled in section by section; each questionnaire of a section keeps
its answers in one Response (a FHIR QuestionnaireResponse's items), saved as the case manager
goes. Signing locks it: the scores are written (Score rows, the trend on the chart), the findings
raise flags, and from then on a correction is an Amendment appended beside the original, never an
edit of it.
"""

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from careway.core.models import Organization
from careway.patients.models import EpisodeOfCare, Patient, PatientFlag, PatientRecord

from .permissions import ASSESSMENTS_EDIT


class Instrument(models.Model):
    """A Questionnaire an agency admin uploaded (the shipped ones live in content/)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    questionnaire_id = models.CharField(max_length=64, help_text="The Questionnaire's id.")
    url = models.CharField(max_length=300)
    version = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=200)
    resource = models.JSONField(help_text="The Questionnaire as uploaded.")
    scorable = models.BooleanField(default=False)
    why_not_scored = models.CharField(max_length=300, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "url", "version"], name="instrument_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.version or 'no version'})"


class BandSetting(models.Model):
    """An agency's own band edges for one score of one instrument (the Morse Fall Scale's
    sources differ on where high risk starts)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    questionnaire_url = models.CharField(max_length=300)
    score_key = models.CharField(max_length=60)
    bands = models.JSONField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "questionnaire_url", "score_key"],
                name="band_setting_unique",
            )
        ]


class AssessmentRecord(PatientRecord):
    """A record of the assessments domain: changing one needs assessments.edit."""

    edit_permission: ClassVar[str] = ASSESSMENTS_EDIT.code

    class Meta:
        abstract = True


class Assessment(AssessmentRecord):
    class TimePoint(models.TextChoices):
        START_OF_CARE = "start-of-care", "Start of care"
        RESUMPTION = "resumption-of-care", "Resumption of care"
        RECERTIFICATION = "recertification", "Recertification"
        FOLLOW_UP = "follow-up", "Other follow-up"
        TRANSFER = "transfer", "Transfer"
        DISCHARGE = "discharge", "Discharge"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="assessments")
    episode = models.ForeignKey(EpisodeOfCare, on_delete=models.PROTECT, related_name="assessments")
    time_point = models.CharField(max_length=20, choices=TimePoint.choices)
    template = models.CharField(max_length=64, default="comprehensive")
    template_version = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    visit_date = models.DateField(default=timezone.localdate, help_text="The day of the visit.")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "status"]),
            models.Index(fields=["episode", "time_point"]),
        ]

    @property
    def is_signed(self) -> bool:
        return self.status == self.Status.SIGNED


class Response(AssessmentRecord):
    """One questionnaire of one section: a QuestionnaireResponse's items, saved as you go."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="responses")
    section = models.CharField(max_length=40)
    questionnaire_url = models.CharField(max_length=300)
    questionnaire_version = models.CharField(max_length=40, blank=True)
    items = models.JSONField(default=list, help_text="QuestionnaireResponse.item")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "section", "questionnaire_url"], name="response_unique"
            )
        ]


# A response's id as a FHIR QuestionnaireResponse, which the JSON API shows too: a prefix, so it is
# never taken for the number of a resource of another type.
QUESTIONNAIRE_RESPONSE_ID_PREFIX = "qr-"


def questionnaire_response_id(pk: Any) -> str:
    """The id of the Response with this primary key as a QuestionnaireResponse: `qr-<pk>`."""
    return f"{QUESTIONNAIRE_RESPONSE_ID_PREFIX}{pk}"


class Amendment(AssessmentRecord):
    """A signed correction to a signed assessment: the new answers of one questionnaire, and why.
    The original Response stays as it was signed."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="amendments")
    response = models.ForeignKey(Response, on_delete=models.PROTECT, related_name="amendments")
    items = models.JSONField(help_text="The corrected QuestionnaireResponse.item")
    reason = models.TextField()
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(default=timezone.now)


class Score(AssessmentRecord):
    """One score of a signed assessment, kept for the trend. An amendment that changes it marks
    this one superseded and writes the new one."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="scores")
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="scores")
    response = models.ForeignKey(Response, on_delete=models.PROTECT, related_name="scores")
    amendment = models.ForeignKey(
        Amendment, null=True, blank=True, on_delete=models.PROTECT, related_name="scores"
    )
    questionnaire_url = models.CharField(max_length=300)
    instrument_title = models.CharField(max_length=200)
    key = models.CharField(max_length=60)
    label = models.CharField(max_length=200)
    value = models.FloatField()
    minimum = models.FloatField(null=True, blank=True)
    maximum = models.FloatField(null=True, blank=True)
    band = models.CharField(max_length=100, blank=True)
    meaning = models.CharField(max_length=300, blank=True)
    flag = models.CharField(max_length=40, blank=True)
    code_system = models.CharField(max_length=100, blank=True)
    code = models.CharField(max_length=40, blank=True)
    observed_at = models.DateTimeField()
    current = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "questionnaire_url", "key", "observed_at"])]


class Finding(AssessmentRecord):
    """Something an assessment found (a band with a flag, a hazard, an urgent answer), with the
    flag it raised on the chart."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="findings")
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="findings")
    questionnaire_url = models.CharField(max_length=300)
    kind = models.CharField(max_length=40)
    label = models.CharField(max_length=300)
    severity = models.CharField(max_length=8, choices=PatientFlag.Severity.choices)
    fix = models.CharField(max_length=500, blank=True)
    source = models.CharField(max_length=60, blank=True, help_text="Score key or linkId.")
    flag = models.ForeignKey(PatientFlag, null=True, blank=True, on_delete=models.PROTECT)
    found_at = models.DateTimeField(default=timezone.now)

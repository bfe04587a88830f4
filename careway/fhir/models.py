"""What FHIR import and export remember: where each imported record came from, each import run,
and each bulk export."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from careway.core.models import ApiToken, Branch, Organization


class ImportRun(models.Model):
    """One import of one or more files into an agency and branch: progress, counts, problems."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Importing"
        DONE = "done", "Finished"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    files = models.JSONField(default=list, help_text="Each file: name, bytes, sha256.")
    bytes_total = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    counts = models.JSONField(
        default=dict, help_text="By resource type: created, updated, unchanged, not taken in."
    )
    problems = models.JSONField(
        default=list, help_text="Each problem: file, line or entry, resource, reason."
    )
    problem_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at"])]

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(self.bytes_done * 100 / self.bytes_total) if self.bytes_total else 0


class SourceRecord(models.Model):
    """An imported resource and the Careway record it became: makes a second import idempotent.

    `source_key` names the resource where it came from (its source and id); `content_hash` is the
    SHA-256 of its content as last imported, so an unchanged resource is skipped and a changed one
    updates its record.
    """

    # No index on the agency alone: with statistics stale during a large import, PostgreSQL's
    # planner picked it and scanned every source record of the agency for each batch.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, db_index=False)
    resource_type = models.CharField(max_length=40)
    source_key = models.CharField(max_length=300)
    record_type = models.CharField(max_length=60, help_text="app_label.model")
    record_id = models.CharField(max_length=40)
    content_hash = models.CharField(max_length=64)
    import_run = models.ForeignKey(
        ImportRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # The key leads: the importer looks keys up without knowing their type (a reference
            # "urn:uuid:..." does not say it), and during a large import the statistics lag the
            # table, so an index led by the agency was scanned whole for every batch.
            models.UniqueConstraint(
                fields=["source_key", "organization", "resource_type"],
                name="source_record_unique_key",
            )
        ]
        indexes = [models.Index(fields=["record_type", "record_id"])]


class ExportJob(models.Model):
    """A bulk export ($export), run in the background; its files expire, and die with the token
    that asked for it (revoked, expired, or its user deactivated)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Exporting"
        DONE = "done", "Finished"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    # Null for a job from before tokens were remembered, or whose token is gone: such a job is
    # treated as one whose token no longer works.
    token = models.ForeignKey(
        ApiToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    request_url = models.CharField(max_length=2000)
    types = models.JSONField(default=list)
    since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    output = models.JSONField(default=list, help_text="Each file: type, name, count.")
    error = models.TextField(blank=True)

"""Agencies, their people, their sign-in and notices, and the audit trail.

Nothing here knows a patient by more than an id: the patient and everything about them live in
careway/patients and the domains built on it.
"""

import hashlib

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models, transaction
from django.utils import timezone

from .permissions import Permission, code_of, permissions_for
from .roles import Discipline, Role


class Organization(models.Model):
    """A home health agency: the tenant every row of patient data belongs to."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="America/New_York")
    idle_timeout_minutes = models.PositiveSmallIntegerField(
        default=15, help_text="Sign a person out after this many minutes without a request."
    )
    absolute_session_hours = models.PositiveSmallIntegerField(default=12)
    require_two_factor_for_all = models.BooleanField(
        default=False,
        help_text="Two-factor sign-in for every role, not only admins, supervisors and auditors.",
    )
    lockout_threshold = models.PositiveSmallIntegerField(default=5)
    lockout_minutes = models.PositiveSmallIntegerField(default=15)
    break_glass_max_minutes = models.PositiveSmallIntegerField(default=60)
    # The numbers the patient's version of the plan gives ("whom to call").
    phone = models.CharField("agency phone", max_length=30, blank=True)
    # Where the agency is, as the plan of care (form CMS-485, item 7) names the provider.
    address = models.CharField("agency address", max_length=300, blank=True)
    after_hours_phone = models.CharField("after-hours phone", max_length=30, blank=True)
    order_signature_days = models.PositiveSmallIntegerField(
        default=30,
        help_text="A plan of care or verbal order sent for signature is overdue after this many "
        "days unsigned.",
    )
    is_demo = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        """An agency gets the head of its audit chain with it, so a missing head is always a
        deleted chain, never an agency that has not had an event yet (`careway audit verify`)."""
        adding = self._state.adding
        with transaction.atomic():
            super().save(*args, **kwargs)
            if adding:
                AuditChain.objects.get_or_create(chain_id=self.pk)


class Branch(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="branches"
    )
    name = models.CharField(max_length=200)
    phone = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="branch_unique_name")
        ]
        verbose_name_plural = "branches"

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who signs in. Staff belong to one agency; their roles are Memberships."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    failed_login_count = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    # Base32 TOTP secret. Confirmed once the person has entered a code from their app.
    totp_secret = models.CharField(max_length=64, blank=True)
    totp_confirmed_at = models.DateTimeField(null=True, blank=True)
    totp_last_counter = models.BigIntegerField(default=0)

    objects = UserManager()

    class Meta:
        indexes = [models.Index(fields=["organization", "is_active"])]

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    def active_memberships(self) -> list["Membership"]:
        cached = getattr(self, "_memberships_cache", None)
        if cached is None:
            cached = list(self.memberships.filter(active=True).select_related("branch"))
            self._memberships_cache = cached
        return cached

    @property
    def roles(self) -> set[str]:
        return {m.role for m in self.active_memberships()}

    @property
    def permissions(self) -> frozenset[str]:
        """The codes of the permissions this person's active roles hold."""
        return permissions_for(self.roles)

    def has_perm_code(self, permission: Permission | str) -> bool:
        return self.is_active and code_of(permission) in self.permissions

    @property
    def primary_role(self) -> str:
        """The role written into audit events: the most privileged one held."""
        order = [r.value for r in Role]
        held = self.roles
        return next((r for r in order if r in held), "")

    def supervised_branch_ids(self) -> set[int]:
        return {
            m.branch_id
            for m in self.active_memberships()
            if m.role == Role.SUPERVISOR and m.branch_id is not None
        }

    def branch_ids(self) -> set[int]:
        return {m.branch_id for m in self.active_memberships() if m.branch_id is not None}

    def is_locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > timezone.now()


class Membership(models.Model):
    """A role a user holds in an agency, at a branch (or agency-wide when branch is empty)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, null=True, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices)
    discipline = models.CharField(max_length=4, choices=Discipline.choices, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "branch", "role"], name="membership_unique_role_per_branch"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.get_role_display()} @ {self.branch or self.organization}"


class UserSession(models.Model):
    """Each signed-in session of a user, so that deactivation can end all of them."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="web_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=now, user__is_active=True)


class ApiToken(models.Model):
    """A bearer token for integrations. Only its SHA-256 is stored; the token is shown once."""

    SCOPES = ("patients:read", "patients:write", "fhir:read", "fhir:write")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=12, help_text="The first characters, to tell tokens apart."
    )
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    @staticmethod
    def hash_token(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class Notification(models.Model):
    """A message for one user inside Careway (for example: a colleague broke the glass)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    # The patient it is about, by id only (as the audit trail names patients).
    patient_id = models.UUIDField(null=True, blank=True)
    # Where to look, as its sender's page says it (a chart); a notice need not have one.
    link = models.CharField(max_length=300, blank=True)
    link_label = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class AuditChain(models.Model):
    """The head of one agency's hash chain (organization 0 is the system's own chain).

    Appending locks this row, so events of one chain are numbered without gaps and each one
    commits with the hash of the one before it.
    """

    chain_id = models.BigIntegerField(primary_key=True)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)


class AuditEvent(models.Model):
    """One append-only, hash-chained record of who did what to which patient, when and why."""

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        DENIED = "denied"
        FAILURE = "failure"

    chain_id = models.BigIntegerField()
    seq = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    organization_id = models.BigIntegerField(null=True)
    actor_id = models.BigIntegerField(null=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    patient_id = models.UUIDField(null=True)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    client_address = models.GenericIPAddressField(null=True)
    reason = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    detail = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_id", "seq"], name="audit_unique_seq")]
        indexes = [
            models.Index(fields=["organization_id", "occurred_at"]),
            models.Index(fields=["patient_id", "occurred_at"]),
            models.Index(fields=["actor_id", "occurred_at"]),
            models.Index(fields=["action", "occurred_at"]),
        ]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are append-only")

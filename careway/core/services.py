"""Every change to people, sign-in state and access grants, as named, audited actions.

Each service function runs in one transaction: it changes the rows and appends the audit event, so
the two commit or roll back together (the pattern of zulip's `do_change_full_name`). Views and
commands check permissions first (`access.require`) and pass objects of the actor's own agency.
"""

import json
import secrets
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any

import pyotp
import segno
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from . import audit, permissions
from .conflicts import VersionConflict
from .models import (
    ApiToken,
    AuditEvent,
    Branch,
    Membership,
    Notification,
    Organization,
    User,
    UserSession,
)
from .roles import TWO_FACTOR_REQUIRED_ROLES, Role
from .writes import service

TOTP_ISSUER = "Careway"


# --- Sign-in -------------------------------------------------------------------------------


class SignInRefused(Exception):
    """The credentials were wrong, or the account is locked or inactive: one message for all."""


def two_factor_required(user: User) -> bool:
    org = user.organization
    if org is not None and org.require_two_factor_for_all:
        return True
    return bool(user.roles & TWO_FACTOR_REQUIRED_ROLES)


def two_factor_enrolled(user: User) -> bool:
    return bool(user.totp_secret and user.totp_confirmed_at)


def check_password_step(actor: audit.Actor, username: str, password: str) -> User:
    """Return the user whose password this is, or raise SignInRefused.

    The attempt is counted before its password is checked (`begin_attempt`), so a burst of
    parallel requests gets no more checks than the agency's lockout threshold; the rest are
    refused as locked. An unknown username and a refused attempt cost the same hashing time as a
    checked one and get the same answer, so neither the message nor the timing says whether the
    username exists or is locked.
    """
    user = User.objects.select_related("organization").filter(username=username).first()
    if user is None:
        make_password(password)
        audit.record(
            actor,
            "auth.login_failed",
            outcome=AuditEvent.Outcome.FAILURE,
            detail={"username": username[:150], "why": "unknown username"},
        )
        raise SignInRefused
    attempt = begin_attempt(actor, user, username)
    if attempt is None:
        make_password(password)
        raise SignInRefused
    # The slow hash runs here, with no transaction open and no row locked.
    if not user.check_password(password) or not user.is_active:
        attempt_failed(actor, user, attempt, "wrong password" if user.is_active else "inactive")
        raise SignInRefused
    attempt_succeeded(attempt)
    return user


@dataclass(frozen=True)
class Attempt:
    """A password or code counted as a failure until it is checked and found right."""

    user_id: int
    # Set when this attempt reached the threshold and so locked the account.
    locked_until: datetime | None = None
    count_before: int = 0


def _lock_user_row(user_id: int) -> User:
    return (
        User.objects.select_for_update(of=("self",)).select_related("organization").get(pk=user_id)
    )


def _lockout_policy(user: User) -> Organization:
    return user.organization or Organization(lockout_threshold=5, lockout_minutes=15)


@service
def begin_attempt(actor: audit.Actor, user: User, username: str) -> Attempt | None:
    """Count an attempt before it is checked, or refuse it while the account is locked (None).

    Deciding "locked" and counting are one step under the user's row lock, so however requests
    interleave, at most the agency's threshold of attempts get checked before the lock applies.
    The attempt that reaches the threshold locks the account at once: attempts that arrive while
    it is being checked are refused; if it proves right, `attempt_succeeded` lifts its lock.
    """
    locked = _lock_user_row(user.pk)
    if locked.is_locked():
        _record_refusal(actor, locked, username, "account locked")
        return None
    policy = _lockout_policy(locked)
    attempt = Attempt(locked.pk)
    locked.failed_login_count += 1
    if locked.failed_login_count >= policy.lockout_threshold:
        # The count starts again after the lock, so the next lock needs as many failures.
        until = timezone.now() + timedelta(minutes=policy.lockout_minutes)
        attempt = Attempt(locked.pk, until, locked.failed_login_count - 1)
        locked.failed_login_count, locked.locked_until = 0, until
    locked.save(update_fields=["failed_login_count", "locked_until"])
    return attempt


def _record_refusal(actor: audit.Actor, user: User, username: str, why: str) -> None:
    audit.record(
        actor,
        "auth.login_failed",
        obj=user,
        outcome=AuditEvent.Outcome.DENIED,
        organization_id=user.organization_id,
        detail={"username": username[:150], "why": why},
    )


@service
def attempt_failed(actor: audit.Actor, user: User, attempt: Attempt, why: str) -> None:
    """Audit a wrong password or code (already counted by `begin_attempt`).

    The lockout is recorded when the attempt that reached the threshold proves wrong, as it was
    when failures were counted after the check: the audit shows a lock after that many failures.
    """
    _record_refusal(actor, user, user.username, why)
    if attempt.locked_until is not None:
        policy = _lockout_policy(user)
        audit.record(
            actor,
            "auth.lockout",
            obj=user,
            outcome=AuditEvent.Outcome.DENIED,
            organization_id=user.organization_id,
            detail={"minutes": policy.lockout_minutes, "threshold": policy.lockout_threshold},
        )


@service
def attempt_succeeded(attempt: Attempt) -> None:
    """Take back the count of a right password or code.

    A lock this attempt started is lifted; a lock that another attempt started meanwhile stays,
    so a burst's right password does not reopen the account to the guesses still arriving.
    """
    locked = _lock_user_row(attempt.user_id)
    if attempt.locked_until is not None and locked.locked_until == attempt.locked_until:
        locked.locked_until, locked.failed_login_count = None, attempt.count_before
    else:
        locked.failed_login_count = max(locked.failed_login_count - 1, 0)
    locked.save(update_fields=["failed_login_count", "locked_until"])


@service
def complete_sign_in(
    user: User, session_key: str, client_address: str | None, user_agent: str
) -> UserSession:
    """After every step passed (and Django's login() ran): reset failures, remember the session.

    A lock still in force was started by other attempts while this one was being checked; it
    stays until it expires or an admin unlocks the account.
    """
    User.objects.filter(pk=user.pk).update(failed_login_count=0)
    User.objects.filter(pk=user.pk, locked_until__lte=timezone.now()).update(locked_until=None)
    web_session = UserSession.objects.create(
        user=user,
        session_key=session_key,
        client_address=client_address,
        user_agent=user_agent[:300],
    )
    audit.record(
        audit.Actor(user=user, client_address=client_address),
        "auth.login",
        obj=user,
        detail={"two_factor": two_factor_enrolled(user)},
    )
    return web_session


@service
def record_sign_out(actor: audit.Actor, session_key: str | None, why: str = "") -> None:
    """Forget this session's row and audit the sign-out (the caller then runs logout())."""
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()
    action = "session.expired" if why else "auth.logout"
    audit.record(actor, action, reason=why)


# --- Two-factor (TOTP) ---------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def totp_qr_svg(user: User, secret: str) -> str:
    """The enrolment QR code as inline SVG, with a title for screen readers."""
    qr = segno.make(totp_uri(user, secret), error="m")
    return qr.svg_inline(
        scale=5, border=4, title="QR code for your authenticator app", omitsize=True
    )


def matching_totp_counter(secret: str, code: str, last_counter: int) -> int | None:
    """The time step whose code this is (one step either side allowed), if not used before.

    pyotp's verify(valid_window=1) accepts the same window but does not say which step matched;
    the step is what we store to refuse a replayed code.
    """
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6) or not secret:
        return None
    totp = pyotp.TOTP(secret)
    now_counter = totp.timecode(timezone.now())
    for counter in (now_counter - 1, now_counter, now_counter + 1):
        if counter > last_counter and secrets.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def _counted_code_check(
    actor: audit.Actor, user: User, check: Callable[[], int | None], why: str
) -> int | None:
    """Check a code as a counted attempt, like a password: counted first, refused while locked.

    Checking a code is cheap, so it runs inside the caller's service, under the row lock that
    `begin_attempt` took.
    """
    attempt = begin_attempt(actor, user, user.username)
    if attempt is None:
        return None
    counter = check()
    if counter is None:
        attempt_failed(actor, user, attempt, why)
    else:
        attempt_succeeded(attempt)
    return counter


def _stored_secret_counter(user_id: int, code: str) -> int | None:
    # Read under the row lock, so two requests cannot both use the same code.
    user = User.objects.get(pk=user_id)
    return matching_totp_counter(user.totp_secret, code, user.totp_last_counter)


@service
def verify_totp(actor: audit.Actor, user: User, code: str) -> bool:
    """Check an enrolled user's code and use it up; a wrong or replayed code counts as a failure."""
    check = partial(_stored_secret_counter, user.pk, code)
    counter = _counted_code_check(actor, user, check, "wrong or reused two-factor code")
    if counter is None:
        return False
    User.objects.filter(pk=user.pk).update(totp_last_counter=counter)
    return True


@service
def enrol_two_factor(
    actor: audit.Actor, user: User, secret: str, code: str, *, during_sign_in: bool
) -> bool:
    """Confirm a new secret with a code from the app; replaces any earlier one.

    A wrong code counts toward lockout only during sign-in, where the password alone got the
    person this far; a signed-in person mistyping while enrolling is not an attack.
    """
    check = partial(matching_totp_counter, secret, code, 0)
    if during_sign_in:
        counter = _counted_code_check(actor, user, check, "wrong code while setting up two-factor")
    else:
        counter = check()
    if counter is None:
        return False
    replaced = two_factor_enrolled(user)
    User.objects.filter(pk=user.pk).update(
        totp_secret=secret, totp_confirmed_at=timezone.now(), totp_last_counter=counter
    )
    audit.record(
        actor,
        "user.two_factor_enrol",
        obj=user,
        organization_id=user.organization_id,
        detail={"replaced": replaced},
    )
    return True


@service
def reset_two_factor(actor: audit.Actor, user: User) -> None:
    """Remove a user's authenticator (lost phone); they set up a new one at their next sign-in."""
    User.objects.filter(pk=user.pk).update(
        totp_secret="", totp_confirmed_at=None, totp_last_counter=0
    )
    audit.record(actor, "user.two_factor_reset", obj=user)


# --- Sessions ------------------------------------------------------------------------------


def _end_sessions(user: User) -> int:
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    UserSession.objects.filter(user=user).delete()
    return len(keys)


def live_session_count(user: User) -> int:
    """Sessions of this user that could still be used (UserSession rows outlive expired ones)."""
    keys = UserSession.objects.filter(user=user).values("session_key")
    return Session.objects.filter(session_key__in=keys, expire_date__gt=timezone.now()).count()


@service
def end_all_sessions(actor: audit.Actor, user: User) -> int:
    """Sign `user` out of every browser ("sign out everywhere")."""
    ended = _end_sessions(user)
    audit.record(actor, "user.sessions_end", obj=user, detail={"sessions_ended": ended})
    return ended


@service
def change_password(actor: audit.Actor, user: User, new_password: str, keep_session: str) -> int:
    """Set a new (already validated) password and end the user's other sessions."""
    user.set_password(new_password)
    user.save(update_fields=["password"])
    others = UserSession.objects.filter(user=user).exclude(session_key=keep_session)
    keys = list(others.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    others.delete()
    audit.record(actor, "user.password_change", obj=user, detail={"sessions_ended": len(keys)})
    return len(keys)


# --- People administration -----------------------------------------------------------------


@dataclass(frozen=True)
class RoleSpec:
    role: str
    branch: Branch | None = None
    discipline: str = ""

    def label(self) -> str:
        where = self.branch.name if self.branch else "agency-wide"
        return f"{self.role}@{where}" + (f" ({self.discipline})" if self.discipline else "")


def _membership_labels(user: User) -> list[str]:
    memberships = user.memberships.filter(active=True).select_related("branch")
    return sorted(RoleSpec(m.role, m.branch, m.discipline).label() for m in memberships)


def _check_same_agency(actor: audit.Actor, *objects: Any) -> None:
    for obj in objects:
        if obj is not None and obj.organization_id != actor.organization_id:
            raise ValidationError("That belongs to another agency.")


@service
def create_user(actor: audit.Actor, data: dict[str, str], password: str, role: RoleSpec) -> User:
    """Create a person in the actor's agency with one role and a checked initial password."""
    _check_same_agency(actor, role.branch)
    user = User(organization_id=actor.organization_id, **data)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    _grant(user, role)
    audit.record(
        actor,
        "user.create",
        obj=user,
        detail={"username": user.username, "roles": _membership_labels(user)},
    )
    return user


def _grant(user: User, spec: RoleSpec) -> None:
    # One row per (user, branch, role): adding a removed role back switches the old row on.
    Membership.objects.update_or_create(
        user=user,
        branch=spec.branch,
        role=spec.role,
        defaults={
            "organization_id": user.organization_id,
            "discipline": spec.discipline,
            "active": True,
        },
    )


@service
def change_roles(
    actor: audit.Actor,
    user: User,
    *,
    add: Iterable[RoleSpec] = (),
    remove: Iterable[Membership] = (),
) -> None:
    """Add and remove roles; the audit event carries the roles before and after."""
    add, remove = list(add), list(remove)
    _check_same_agency(actor, user, *(spec.branch for spec in add))
    if any(m.user_id != user.pk for m in remove):
        raise ValidationError("That role belongs to someone else.")
    if user == actor.user and any(m.role == Role.AGENCY_ADMIN for m in remove):
        raise ValidationError("You cannot remove your own agency admin role.")
    before = _membership_labels(user)
    for membership in remove:
        Membership.objects.filter(pk=membership.pk).update(active=False)
    for spec in add:
        _grant(user, spec)
    after = _membership_labels(user)
    if before != after:
        audit.record(actor, "role.change", obj=user, detail={"before": before, "after": after})


@service
def deactivate_user(actor: audit.Actor, user: User) -> None:
    """Stop a person signing in: end their sessions and revoke their API tokens.

    Tokens are revoked, not only refused while inactive, so reactivating someone does not bring
    old integration tokens back to life.
    """
    _check_same_agency(actor, user)
    if user == actor.user:
        raise ValidationError("You cannot deactivate your own account.")
    User.objects.filter(pk=user.pk).update(is_active=False)
    ended = _end_sessions(user)
    revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    audit.record(
        actor,
        "user.deactivate",
        obj=user,
        detail={"sessions_ended": ended, "tokens_revoked": revoked},
    )


@service
def reactivate_user(actor: audit.Actor, user: User) -> None:
    _check_same_agency(actor, user)
    User.objects.filter(pk=user.pk).update(is_active=True, failed_login_count=0, locked_until=None)
    audit.record(actor, "user.reactivate", obj=user)


@service
def unlock_user(actor: audit.Actor, user: User) -> None:
    _check_same_agency(actor, user)
    User.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
    audit.record(actor, "user.unlock", obj=user)


# --- Notifications -------------------------------------------------------------------------


def notify(
    organization_id: int,
    recipients: Iterable[User],
    subject: str,
    body: str,
    patient_id: Any = None,
    link: str = "",
    link_label: str = "",
) -> list[Notification]:
    """Leave a notice in Careway for each recipient, and email each that something happened.

    Called inside the caller's service (its transaction and audit event); the emails go after
    commit, so a worker never picks up a notice that is not there yet.
    """
    from .tasks import email_notification

    notices = Notification.objects.bulk_create(
        [
            Notification(
                organization_id=organization_id,
                recipient=recipient,
                subject=subject,
                body=body,
                patient_id=patient_id,
                link=link,
                link_label=link_label,
            )
            for recipient in recipients
        ]
    )
    for notice in notices:
        transaction.on_commit(partial(email_notification.enqueue, notice.pk))
    return notices


def mark_notifications_read(user: User, ids: Iterable[int] | None = None) -> int:
    """Mark some (or all) of the user's own notifications read; not audited: no patient data."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())


# --- the agency's own details -------------------------------------------------------------------

AGENCY_FIELDS = ("phone", "after_hours_phone", "address", "order_signature_days")
ORDER_DAYS_RANGE = (1, 90)


def agency_details_version(organization: Organization) -> int:
    """A version for the agency's details (an Organization has no version column): a checksum of
    their values, so a save made against other values than the stored ones is a conflict."""
    values = json.dumps([getattr(organization, name) for name in AGENCY_FIELDS], default=str)
    return zlib.crc32(values.encode()) or 1


@service
def update_agency_details(
    actor: audit.Actor,
    organization: Organization,
    data: Mapping[str, Any],
    expected_version: int,
) -> Organization:
    """The agency's phones and address (on the plan of care and the patient's version) and how
    many days an order sent for signature has before it is overdue. Agency admins only."""
    if actor.user is None or not actor.user.has_perm_code(permissions.AGENCY_SETTINGS):
        raise PermissionDenied("Only an agency admin changes the agency's details.")
    unknown = set(data) - set(AGENCY_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in sorted(unknown)})
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    current = agency_details_version(locked)
    if current != expected_version:
        raise VersionConflict(SimpleNamespace(version=current), expected_version)
    days = data.get("order_signature_days", locked.order_signature_days)
    low, high = ORDER_DAYS_RANGE
    if not isinstance(days, int) or isinstance(days, bool) or not low <= days <= high:
        raise ValidationError({"order_signature_days": f"Give a number of days, {low} to {high}."})
    changed = {
        name: [getattr(locked, name), value]
        for name, value in data.items()
        if getattr(locked, name) != value
    }
    for name, (_before, value) in changed.items():
        setattr(locked, name, value)
    locked.full_clean()
    if changed:
        locked.save(update_fields=list(changed))
        audit.record(
            actor,
            "agency.details.update",
            obj=locked,
            organization_id=locked.pk,
            detail={"changed": changed},
        )
    return locked

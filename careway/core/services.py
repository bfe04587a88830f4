"""Every change to people, sign-in state and access grants, as named, audited actions.

Each service function runs in one transaction: it changes the rows and appends the audit event, so
the two commit or roll back together (the pattern of zulip's `do_change_full_name`). Views and
commands check permissions first (`access.require`) and pass objects of the actor's own agency.
"""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import pyotp
import segno
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import audit
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
    """Return the user whose password this is, or raise SignInRefused (and count the failure).

    An unknown username costs the same hashing time as a known one and is audited on the system
    chain, so neither the message nor the timing says whether the username exists.
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
    password_ok = user.check_password(password)
    if user.is_locked():
        _record_refusal(actor, user, username, "account locked")
        raise SignInRefused
    if not password_ok or not user.is_active:
        record_failed_attempt(actor, user, "wrong password" if user.is_active else "inactive")
        raise SignInRefused
    return user


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
def record_failed_attempt(actor: audit.Actor, user: User, why: str) -> None:
    """Count a failed password or code; lock the account at the agency's threshold."""
    locked = (
        User.objects.select_for_update(of=("self",)).select_related("organization").get(pk=user.pk)
    )
    org = locked.organization or Organization(lockout_threshold=5, lockout_minutes=15)
    locked.failed_login_count += 1
    _record_refusal(actor, locked, locked.username, why)
    if locked.failed_login_count >= org.lockout_threshold:
        # The count starts again after the lock, so the next lock needs as many failures.
        locked.failed_login_count = 0
        locked.locked_until = timezone.now() + timedelta(minutes=org.lockout_minutes)
        audit.record(
            actor,
            "auth.lockout",
            obj=locked,
            outcome=AuditEvent.Outcome.DENIED,
            organization_id=locked.organization_id,
            detail={"minutes": org.lockout_minutes, "threshold": org.lockout_threshold},
        )
    locked.save(update_fields=["failed_login_count", "locked_until"])


@service
def complete_sign_in(
    user: User, session_key: str, client_address: str | None, user_agent: str
) -> UserSession:
    """After every step passed (and Django's login() ran): reset failures, remember the session."""
    User.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
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


@service
def verify_totp(actor: audit.Actor, user: User, code: str) -> bool:
    """Check an enrolled user's code and use it up; a wrong or replayed code counts as a failure."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.is_locked():
        _record_refusal(actor, locked, locked.username, "account locked")
        return False
    counter = matching_totp_counter(locked.totp_secret, code, locked.totp_last_counter)
    if counter is None:
        record_failed_attempt(actor, locked, "wrong or reused two-factor code")
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
    counter = matching_totp_counter(secret, code, last_counter=0)
    if counter is None:
        if during_sign_in:
            record_failed_attempt(actor, user, "wrong code while setting up two-factor")
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

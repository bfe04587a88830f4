"""API tokens for integrations: issue, revoke, and authenticate a presented token.

A token is shown once, when it is made; only its SHA-256 is stored, so a copy of the database does
not hand out working credentials. Tokens carry scopes, expire, can be revoked, and act as the user
they were issued to (same access rules, same audit trail).
"""

import secrets
from collections.abc import Iterable
from datetime import timedelta
from functools import cache

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from . import audit, rows
from .models import ApiToken, Membership, User
from .writes import service

TOKEN_PREFIX = "cw_"  # noqa: S105 (a public marker, not a secret)
# Stored so a person can tell their tokens apart; long enough to be useful, far too short to guess.
VISIBLE_PREFIX_LENGTH = 10
DEFAULT_DAYS = 90
MAX_DAYS = 366
# Writing last_used_at on every request would turn every read into a write; a minute is precise
# enough to answer "is this integration still in use?".
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = sorted({s.strip() for s in scopes if s.strip()})
    unknown = ", ".join(s for s in chosen if s not in ApiToken.SCOPES)
    if unknown:
        known = ", ".join(ApiToken.SCOPES)
        raise ValidationError({"scopes": f"Unknown scope {unknown}; choose from {known}."})
    if not chosen:
        raise ValidationError({"scopes": "Give the token at least one scope."})
    return chosen


def _check_holder(user: User) -> int:
    """The agency a token for `user` belongs to; refuses users who may not hold one."""
    if not user.is_active:
        raise ValidationError(
            {"user": f"{user.username} is deactivated; tokens need an active user."}
        )
    if user.organization_id is None:
        raise ValidationError({"user": f"{user.username} belongs to no agency."})
    return user.organization_id


def _check_days(days: int) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError({"days": f"A token lasts from 1 to {MAX_DAYS} days."})


@service
def create_token(
    actor: audit.Actor,
    user: User,
    name: str,
    scopes: Iterable[str],
    days: int = DEFAULT_DAYS,
) -> tuple[str, ApiToken]:
    """Issue a token for `user`. Returns the raw token, which is never retrievable again."""
    organization_id = _check_holder(user)
    _check_days(days)
    clean_scopes = _clean_scopes(scopes)
    name = name.strip() or "API token"
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        organization_id=organization_id,
        name=name[:100],
        prefix=raw[:VISIBLE_PREFIX_LENGTH],
        token_hash=ApiToken.hash_token(raw),
        scopes=clean_scopes,
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit.record(
        actor,
        "token.create",
        obj=token,
        organization_id=user.organization_id,
        detail={
            "user_id": user.pk,
            "scopes": clean_scopes,
            "expires_at": token.expires_at.isoformat(),
        },
    )
    return raw, token


@service
def revoke_token(actor: audit.Actor, token: ApiToken) -> ApiToken:
    """Stop a token working from now on. Revoking a revoked token changes nothing."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            actor,
            "token.revoke",
            obj=token,
            organization_id=token.organization_id,
            detail={"user_id": token.user_id},
        )
    return token


class TokenRejected(Exception):
    """A presented token does not authenticate; `token` is set when it exists but is unusable."""

    def __init__(self, reason: str, token: ApiToken | None = None):
        self.reason = reason
        self.token = token
        super().__init__(reason)


def authenticate(raw: str) -> ApiToken:
    """The token matching `raw`, with its user loaded, or TokenRejected saying why not."""
    token = _load(ApiToken.hash_token(raw)) if raw.startswith(TOKEN_PREFIX) else None
    if token is None:
        raise TokenRejected("The token is not recognised.")
    reason = _unusable_reason(token)
    if reason:
        raise TokenRejected(reason, token)
    _note_use(token)
    return token


def _load(token_hash: str) -> ApiToken | None:
    """The token with its user and the user's active memberships, in one statement.

    Every API request starts here, so this is written out as SQL (see careway/core/rows.py):
    the same rows as ApiToken.objects.select_related("user") and user.active_memberships(), one
    round trip and no query building. The memberships' branches load only if something asks.
    """
    with connection.cursor() as cursor:
        cursor.execute(_load_sql(), [rows.db_value(Membership, "active", True), token_hash])
        found = cursor.fetchall()
    if not found:
        return None
    token_end = rows.width(ApiToken)
    user_end = token_end + rows.width(User)
    token = rows.build(ApiToken, found[0])
    user = rows.build(User, found[0], token_end)
    assert token is not None and user is not None
    memberships = [m for row in found if (m := rows.build(Membership, row, user_end))]
    for membership in memberships:
        membership.user = user
    user._memberships_cache = memberships
    token.user = user
    return token


@cache
def _load_sql() -> str:
    q = connection.ops.quote_name
    token, user, membership = (m._meta.db_table for m in (ApiToken, User, Membership))
    return (
        f"SELECT {rows.select_list(ApiToken, 't')}, {rows.select_list(User, 'u')}, "  # noqa: S608
        f"{rows.select_list(Membership, 'm')} "
        f"FROM {q(token)} t JOIN {q(user)} u ON u.id = t.user_id "
        f"LEFT JOIN {q(membership)} m ON m.user_id = u.id AND m.active = %s "
        "WHERE t.token_hash = %s ORDER BY m.id"
    )


def _unusable_reason(token: ApiToken) -> str:
    if token.revoked_at is not None:
        return "The token was revoked."
    if token.expires_at <= timezone.now():
        return "The token has expired."
    if not token.user.is_active:
        return "The token's user is deactivated."
    # A user moved to another agency must not keep reaching the old one's patients.
    if token.user.organization_id != token.organization_id:
        return "The token's user no longer belongs to the agency it was issued in."
    return ""


def _note_use(token: ApiToken) -> None:
    now = timezone.now()
    stale_before = now - LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > stale_before:
        return
    # Conditional, so two requests in the same minute do not both write.
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale_before)
    ).update(last_used_at=now)
    token.last_used_at = now


def tokens_of(user: User) -> list[ApiToken]:
    return list(user.api_tokens.order_by("-created_at"))


def find_by_prefix(prefix: str) -> list[ApiToken]:
    """Tokens whose visible prefix starts with `prefix` (a pasted whole token works too).

    At most two are returned: enough for the caller to tell "exactly one" from "ambiguous".
    """
    prefix = prefix.strip()[:VISIBLE_PREFIX_LENGTH]
    if len(prefix) <= len(TOKEN_PREFIX):
        return []
    matches = ApiToken.objects.filter(prefix__startswith=prefix).select_related("user")
    return list(matches.order_by("pk")[:2])

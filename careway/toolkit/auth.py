"""How a request to /api/v1 or /fhir/R4 proves who it is: one bearer-token check for both.

A token acts as its user, through the same access rules and audit trail as the pages; it is
further limited to its scopes. `bearer_token` reads the header, `user_for_token` (or
`usable_token`, for the token itself) checks the token (a refused one is audited), and each API
answers a `TokenRefused` in its own format: a problem body under /api/v1, an OperationOutcome
under /fhir/R4. The JSON API also takes a signed-in browser's session (with CSRF on unsafe
methods); the FHIR API takes tokens only.
"""

from typing import Any

from django.http import HttpRequest
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import HttpBearer, SessionAuth

from careway.core import audit, tokens
from careway.core.models import ApiToken, AuditEvent, User


class TokenRefused(Exception):
    """No usable token (401), or one without the scope the operation needs (403)."""

    def __init__(self, status: int, reason: str, *, presented: bool):
        self.status = status
        self.reason = reason
        # Whether a token was sent at all: a bad one is an invalid_token (RFC 6750).
        self.presented = presented
        super().__init__(reason)


def bearer_token(request: HttpRequest) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None when there is none."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    raw = raw.strip()
    return raw if scheme.lower() == "bearer" and raw else None


def user_for_token(request: HttpRequest, raw: str, scope: str, via: str) -> User:
    """The user a presented token acts as, if it is usable and holds `scope`."""
    return usable_token(request, raw, scope, via).user


def usable_token(request: HttpRequest, raw: str, scope: str, via: str) -> ApiToken:
    """The presented token, with its user, if it is usable and holds `scope` (for what outlives
    the request, such as a bulk export, and must end with the token)."""
    try:
        token = tokens.authenticate(raw)
    except tokens.TokenRejected as rejected:
        _audit_rejected(request, rejected, via)
        raise TokenRefused(401, rejected.reason, presented=True) from None
    if not token.has_scope(scope):
        raise TokenRefused(403, f"This token lacks the {scope} scope.", presented=True)
    return token


def _audit_rejected(request: HttpRequest, rejected: tokens.TokenRejected, via: str) -> None:
    token = rejected.token
    audit.record(
        audit.Actor(user=None, client_address=audit.client_address(request), via=via),
        "token.rejected",
        obj=token,
        organization_id=token.organization_id if token else None,
        outcome=AuditEvent.Outcome.DENIED,
        reason=rejected.reason,
    )


# --- the JSON API (django-ninja) ------------------------------------------------------------------

READ = "patients:read"
WRITE = "patients:write"


class ApiTokenAuth(HttpBearer):
    """`Authorization: Bearer cw_...`, for integrations. Needs the operation's scope."""

    def __init__(self, scope: str):
        self.scope = scope
        super().__init__()

    def __call__(self, request: HttpRequest) -> Any:
        raw = bearer_token(request)
        return self.authenticate(request, raw) if raw else None

    def authenticate(self, request: HttpRequest, token: str) -> User:
        try:
            return user_for_token(request, token, self.scope, via="api")
        except TokenRefused as refused:
            if refused.status == 403:
                raise AuthorizationError(403, refused.reason) from None
            raise AuthenticationError(401, refused.reason) from None


class BrowserSessionAuth(SessionAuth):
    """The signed-in browser's Django session, with CSRF enforced on unsafe methods."""

    def _get_key(self, request: HttpRequest) -> str | None:
        # Without a signed-in user there is nothing for CSRF to protect: answer 401, not 403.
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)


def auth_for(scope: str) -> list[Any]:
    """The authentication an operation needing `scope` accepts, tried in this order."""
    return [ApiTokenAuth(scope), BrowserSessionAuth()]


def acting_user(request: HttpRequest) -> User:
    """The user an authenticated API request acts as: the token's, or the signed-in browser's."""
    return request.auth  # type: ignore[attr-defined]


def actor_for(request: HttpRequest) -> audit.Actor:
    """The audit actor for an authenticated API request."""
    user = acting_user(request)
    return audit.Actor(user=user, client_address=audit.client_address(request), via="api")

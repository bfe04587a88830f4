"""How a request to the JSON API proves who it is: a bearer token, or a signed-in browser.

Either way the request then acts as a Careway user, through the same access rules and audit trail
as the web pages; a token is further limited to its scopes. Unauthenticated requests get 401, a
token without the operation's scope gets 403 (see careway/api.py for the problem bodies).
"""

from typing import Any

from django.http import HttpRequest
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import HttpBearer, SessionAuth

from . import audit, tokens
from .models import AuditEvent, User

READ = "patients:read"
WRITE = "patients:write"


class ApiTokenAuth(HttpBearer):
    """`Authorization: Bearer cw_...`, for integrations. Needs the operation's scope."""

    def __init__(self, scope: str):
        self.scope = scope
        super().__init__()

    def authenticate(self, request: HttpRequest, token: str) -> User:
        try:
            api_token = tokens.authenticate(token)
        except tokens.TokenRejected as rejected:
            _audit_rejected(request, rejected)
            raise AuthenticationError(401, rejected.reason) from None
        if not api_token.has_scope(self.scope):
            raise AuthorizationError(403, f"This token lacks the {self.scope} scope.")
        return api_token.user


class BrowserSessionAuth(SessionAuth):
    """The signed-in browser's Django session, with CSRF enforced on unsafe methods."""

    def _get_key(self, request: HttpRequest) -> str | None:
        # Without a signed-in user there is nothing for CSRF to protect: answer 401, not 403.
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)


def _audit_rejected(request: HttpRequest, rejected: tokens.TokenRejected) -> None:
    token = rejected.token
    audit.record(
        audit.Actor(user=None, client_address=audit.client_address(request), via="api"),
        "token.rejected",
        obj=token,
        organization_id=token.organization_id if token else None,
        outcome=AuditEvent.Outcome.DENIED,
        reason=rejected.reason,
    )


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

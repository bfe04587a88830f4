import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from careway.core import audit, tokens
from careway.core.models import ApiToken, User

ALL_SCOPES = ("patients:read", "patients:write")


@pytest.fixture
def make_token() -> Callable[..., str]:
    """Issue a token for `user` through the service, as `careway token create` would."""

    def _make(user: User, scopes: tuple[str, ...] = ALL_SCOPES, days: int = 30) -> str:
        raw, _ = tokens.create_token(audit.Actor.system(), user, "test", scopes, days)
        return raw

    return _make


class ApiClient:
    """Calls /api/v1 with JSON bodies, as a token holder or anonymously."""

    def __init__(self, client: Client, token: str | None = None):
        self.client = client
        self.token = token

    def call(self, method: str, path: str, body: Any = None, **headers: str):
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        if self.token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        data = json.dumps(body) if body is not None else None
        url = path if path.startswith(("/api/", "http")) else f"/api/v1{path}"
        return getattr(self.client, method.lower())(
            url, data=data, content_type="application/json", **extra
        )

    def get(self, path: str, **headers: str):
        return self.call("GET", path, **headers)

    def post(self, path: str, body: Any, **headers: str):
        return self.call("POST", path, body, **headers)

    def put(self, path: str, body: Any, **headers: str):
        return self.call("PUT", path, body, **headers)

    def patch(self, path: str, body: Any, **headers: str):
        return self.call("PATCH", path, body, **headers)


@pytest.fixture
def api_as(make_token) -> Callable[..., ApiClient]:
    """An API client holding a fresh token of `user` (anonymous when user is None)."""

    def _as(user: User | None, scopes: tuple[str, ...] = ALL_SCOPES) -> ApiClient:
        return ApiClient(Client(), make_token(user, scopes) if user else None)

    return _as


def problem_fields(response) -> list[str]:
    return [error["field"] for error in response.json()["errors"]]


def token_row(raw: str) -> ApiToken:
    return ApiToken.objects.get(token_hash=ApiToken.hash_token(raw))

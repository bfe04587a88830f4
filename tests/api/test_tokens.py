"""The token service and `careway token create|list|revoke`."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.core.management import base as management_base
from django.utils import timezone

from careway.core import audit, tokens
from careway.core.management.commands.token import Command as TokenCommand
from careway.core.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("token", *args, stdout=out)
    return out.getvalue()


def raw_token_in(output: str) -> str:
    return next(word for word in output.split() if word.startswith("cw_") and len(word) > 40)


def test_create_token_is_audited_and_shows_the_token_once(world):
    raw, token = tokens.create_token(
        audit.Actor.system(), world.cm, "EHR sync", ["patients:read"], days=30
    )
    assert token.scopes == ["patients:read"]
    assert token.organization == world.org
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    event = AuditEvent.objects.get(action="token.create")
    assert event.organization_id == world.org.pk and raw not in str(event.detail)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scopes": ["patients:delete"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"days": 0}, "days"),
        ({"days": 10_000}, "days"),
    ],
)
def test_create_token_refuses_bad_requests(world, kwargs, field):
    options = {"scopes": ["patients:read"], "days": 30, **kwargs}
    with pytest.raises(ValidationError) as refused:
        tokens.create_token(audit.Actor.system(), world.cm, "x", **options)
    assert field in refused.value.message_dict
    assert not ApiToken.objects.exists()


def test_inactive_users_get_no_token(world):
    world.cm.is_active = False
    world.cm.save()
    with pytest.raises(ValidationError):
        tokens.create_token(audit.Actor.system(), world.cm, "x", ["patients:read"])


def test_command_create_prints_the_token_and_expiry_and_the_token_works(world, client):
    output = run(
        "create",
        "cm_rivera",
        "--name",
        "EHR",
        "--scopes",
        "patients:read,patients:write",
        "--days",
        "7",
    )
    raw = raw_token_in(output)
    assert "Expires" in output and "UTC" in output
    assert ApiToken.objects.get().scopes == ["patients:read", "patients:write"]
    response = client.get("/api/v1/patients", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200


def test_command_default_scope_is_read_only(world):
    run("create", "cm_rivera")
    assert ApiToken.objects.get().scopes == ["patients:read"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "nobody"), "No user"),
        (("create", "cm_rivera", "--scopes", "patients:delete"), "Unknown scope"),
        (("create", "cm_rivera", "--days", "0"), "days"),
        (("list", "nobody"), "No user"),
        (("revoke", "cw_doesnotexist"), "No token"),
        (("revoke", "cw_"), "No token"),
    ],
)
def test_command_errors_are_clear(world, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not ApiToken.objects.exists()


def test_command_refuses_inactive_user(world):
    world.cm.is_active = False
    world.cm.save()
    with pytest.raises(CommandError, match="deactivated"):
        run("create", "cm_rivera")


def test_command_list_and_revoke(world, client):
    raw = raw_token_in(run("create", "cm_rivera", "--name", "Nightly export"))
    token = ApiToken.objects.get()
    listing = run("list", "cm_rivera")
    assert token.prefix in listing and "Nightly export" in listing and "active" in listing
    assert raw not in listing
    assert "Revoked" in run("revoke", token.prefix)
    assert "revoked" in run("list", "cm_rivera")
    assert "already revoked" in run("revoke", token.prefix)
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1
    assert client.get("/api/v1/patients", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_command_list_says_what_to_do_when_there_are_none(world):
    assert "careway token create" in run("list", "cm_rivera")


def test_console_errors_exit_non_zero_without_a_traceback(world, capsys, monkeypatch):
    # run_from_argv is what `careway token ...` runs: CommandError becomes a message and exit 1.
    # It closes every connection when done, which would end the test's transaction early.
    monkeypatch.setattr(management_base.connections, "close_all", lambda: None)
    with pytest.raises(SystemExit) as exited:
        TokenCommand().run_from_argv(["careway", "token", "create", "nobody-at-all"])
    assert exited.value.code == 1
    stderr = capsys.readouterr().err
    assert "nobody-at-all" in stderr and "Traceback" not in stderr

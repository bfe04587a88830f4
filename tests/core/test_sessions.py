"""Sessions end when they should: idle, too old, signed out, deactivated, signed out everywhere."""

import re
import time
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from careway.core import audit, services
from careway.core import middleware as session_limits
from careway.core.models import ApiToken, AuditEvent, UserSession
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
ACCOUNT = reverse("account")


@pytest.fixture
def signed_in(client, world):
    client.post(reverse("login"), {"username": "cm_rivera", "password": PASSWORD})
    assert client.get(ACCOUNT).status_code == 200
    return client


def move_session_clock(client, **seconds_back):
    session = client.session
    for key, seconds in seconds_back.items():
        session[key] -= seconds
    session.save()


def test_idle_timeout_follows_the_agency_setting(signed_in, world):
    world.org.idle_timeout_minutes = 10
    world.org.save()
    move_session_clock(signed_in, careway_last_seen=9 * 60)
    assert signed_in.get(ACCOUNT).status_code == 200
    move_session_clock(signed_in, careway_last_seen=11 * 60)
    expired = signed_in.get(ACCOUNT)
    assert expired.status_code == 302
    assert expired.url.startswith(reverse("login") + "?expired=1&next=%2Faccount%2F")
    assert "_auth_user_id" not in signed_in.session
    assert not UserSession.objects.filter(user=world.cm).exists()
    event = AuditEvent.objects.get(action="session.expired")
    assert (event.actor_id, event.reason) == (world.cm.pk, "idle timeout")


def test_activity_keeps_an_idle_session_alive(signed_in, monkeypatch):
    real = time.time
    for minutes in (10, 20, 30):
        monkeypatch.setattr(session_limits.time, "time", lambda m=minutes: real() + m * 60)
        assert signed_in.get(ACCOUNT).status_code == 200


def test_activity_is_noted_at_most_every_thirty_seconds(signed_in, monkeypatch):
    noted = signed_in.session["careway_last_seen"]
    real = time.time
    monkeypatch.setattr(session_limits.time, "time", lambda: real() + 10)
    signed_in.get(ACCOUNT)
    assert signed_in.session["careway_last_seen"] == noted  # no session write for this request
    monkeypatch.setattr(session_limits.time, "time", lambda: real() + 45)
    signed_in.get(ACCOUNT)
    assert signed_in.session["careway_last_seen"] > noted


def test_absolute_limit_ends_even_an_active_session(signed_in, world, monkeypatch):
    world.org.absolute_session_hours = 8
    world.org.save()
    # Active every few minutes, but signed in nine hours ago.
    move_session_clock(signed_in, careway_started=9 * 3600)
    expired = signed_in.get(ACCOUNT)
    assert expired.status_code == 302 and "expired=1" in expired.url
    assert AuditEvent.objects.get(action="session.expired").reason == "session time limit"


def test_absolute_limit_by_moving_time_forward(signed_in, monkeypatch):
    real = time.time
    monkeypatch.setattr(session_limits.time, "time", lambda: real() + 12 * 3600 + 60)
    session = signed_in.session
    # Keep the idle clock fresh so only the absolute limit can be the reason.
    session["careway_last_seen"] = real() + 12 * 3600
    session.save()
    assert signed_in.get(ACCOUNT).status_code == 302
    assert AuditEvent.objects.get(action="session.expired").reason == "session time limit"


def test_a_session_without_a_start_time_gets_one(client, world):
    client.force_login(world.cm)
    assert client.get(ACCOUNT).status_code == 200
    assert client.session["careway_started"] == pytest.approx(time.time(), abs=5)


def test_htmx_requests_are_told_to_load_the_sign_in_page(signed_in):
    move_session_clock(signed_in, careway_last_seen=3600)
    response = signed_in.get(ACCOUNT, headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("login"))


def test_sign_out_is_a_post_that_ends_the_session(signed_in, world):
    key = signed_in.session.session_key
    assert signed_in.get(reverse("logout")).status_code == 405
    response = signed_in.post(reverse("logout"))
    assert response.url == reverse("login")
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(session_key=key).exists()
    assert AuditEvent.objects.filter(action="auth.logout", actor_id=world.cm.pk).count() == 1
    assert signed_in.get(ACCOUNT).status_code == 302


def _second_browser(username="cm_rivera"):
    other = Client()
    other.post(reverse("login"), {"username": username, "password": PASSWORD})
    return other


def _token(user) -> ApiToken:
    return ApiToken.objects.create(
        user=user,
        organization=user.organization,
        name="integration",
        prefix="cw_abc",
        token_hash=ApiToken.hash_token(f"secret-of-{user.pk}"),
        expires_at=timezone.now() + timedelta(days=30),
    )


def test_deactivation_ends_every_session_and_token(signed_in, world):
    other = _second_browser()
    token = _token(world.cm)
    assert UserSession.objects.filter(user=world.cm).count() == 2
    services.deactivate_user(audit.Actor(user=world.admin), world.cm)
    assert signed_in.get(ACCOUNT).status_code == 302
    assert other.get(ACCOUNT).status_code == 302
    assert not UserSession.objects.filter(user=world.cm).exists()
    assert not ApiToken.objects.usable().filter(pk=token.pk).exists()
    event = AuditEvent.objects.get(action="user.deactivate")
    assert event.detail == {"sessions_ended": 2, "tokens_revoked": 1}


def test_sign_out_everywhere_ends_all_of_my_sessions_only(signed_in, world):
    mine_elsewhere = _second_browser()
    colleague = _second_browser("cm_okafor")
    response = signed_in.post(reverse("sign_out_everywhere"))
    assert response.url == reverse("login")
    assert signed_in.get(ACCOUNT).status_code == 302
    assert mine_elsewhere.get(ACCOUNT).status_code == 302
    assert colleague.get(ACCOUNT).status_code == 200
    assert AuditEvent.objects.get(action="user.sessions_end").detail == {"sessions_ended": 2}


def test_account_page_shows_who_and_what(signed_in, world):
    html = signed_in.get(ACCOUNT).content.decode()
    assert "cm_rivera" in html and "Case manager" in html and "Sign out everywhere" in html
    assert "Turn on two-factor sign-in" in html


def test_account_and_notifications_need_sign_in(client, db):
    for name in ("account", "notifications", "password_change"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    assert client.post(reverse("sign_out_everywhere")).status_code == 302


def test_changing_my_password_keeps_this_session_and_ends_the_others(signed_in, world):
    elsewhere = _second_browser()
    new = "a-brand-new-passphrase-for-2027"
    weak = signed_in.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"},
    )
    assert weak.status_code == 400 and "at least 12 characters" in weak.content.decode()
    done = signed_in.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert done.url == ACCOUNT
    assert signed_in.get(ACCOUNT).status_code == 200
    assert elsewhere.get(ACCOUNT).status_code == 302
    world.cm.refresh_from_db()
    assert world.cm.check_password(new)
    event = AuditEvent.objects.get(action="user.password_change")
    assert event.detail == {"sessions_ended": 1}
    assert UserSession.objects.filter(user=world.cm).count() == 1


# --- The idle warning's clock and "stay signed in" (issue 16, point 9) -----------------------

KEEPALIVE = reverse("session_keepalive")


def test_pages_tell_the_idle_warning_how_long_the_session_has_left(signed_in, world, settings):
    world.org.idle_timeout_minutes = 10
    world.org.save()
    move_session_clock(signed_in, careway_last_seen=20)
    html = signed_in.get(ACCOUNT).content.decode()
    left = int(re.search(r'data-idle-seconds-left="(\d+)"', html).group(1))
    assert 575 <= left <= 580
    assert f'data-idle-warning-seconds="{settings.CAREWAY_IDLE_WARNING_SECONDS}"' in html
    assert f'data-session-url="{KEEPALIVE}"' in html
    assert 'role="alertdialog"' in html and "Stay signed in" in html


def test_signed_out_pages_have_no_idle_warning(client, world):
    html = client.get(reverse("login")).content.decode()
    assert "data-idle-seconds-left" not in html and 'role="alertdialog"' not in html


def test_asking_how_long_is_left_is_not_activity(signed_in, world):
    world.org.idle_timeout_minutes = 10
    world.org.save()
    move_session_clock(signed_in, careway_last_seen=4 * 60)
    before = signed_in.session["careway_last_seen"]
    answer = signed_in.get(KEEPALIVE)
    assert answer.status_code == 200
    assert 5 * 60 < answer.json()["seconds_left"] <= 6 * 60
    assert signed_in.session["careway_last_seen"] == before


def test_stay_signed_in_extends_the_session_and_counts_as_activity(signed_in, world):
    world.org.idle_timeout_minutes = 10
    world.org.save()
    move_session_clock(signed_in, careway_last_seen=9 * 60 + 10)
    answer = signed_in.post(KEEPALIVE)
    assert answer.status_code == 200
    assert answer.json()["seconds_left"] == 10 * 60
    assert signed_in.session["careway_last_seen"] == pytest.approx(time.time(), abs=5)
    move_session_clock(signed_in, careway_last_seen=9 * 60)
    assert signed_in.get(ACCOUNT).status_code == 200  # 18 minutes after sign-in, still in


def test_any_role_may_keep_its_own_session_alive(client, world):
    # Not a write of patient data: a read-only role stays signed in like everyone else.
    for user in (world.auditor, world.scheduler):
        client.force_login(user)
        assert client.post(KEEPALIVE).status_code == 200


def test_stay_signed_in_needs_the_forms_csrf_token(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.cm)
    session = browser.session
    # Less than the middleware's resolution ago, so only the view itself could move the clock.
    session["careway_last_seen"] = time.time() - 20
    session.save()
    before = browser.session["careway_last_seen"]
    assert browser.post(KEEPALIVE).status_code == 403
    assert browser.session["careway_last_seen"] == before


def test_an_expired_session_cannot_be_revived(signed_in, world):
    world.org.idle_timeout_minutes = 10
    world.org.save()
    move_session_clock(signed_in, careway_last_seen=11 * 60)
    answer = signed_in.post(KEEPALIVE)
    assert answer.status_code == 302 and answer.url.startswith(reverse("login"))
    assert "_auth_user_id" not in signed_in.session
    assert AuditEvent.objects.get(action="session.expired").reason == "idle timeout"


def test_signed_out_visitors_get_no_session_clock(client, world):
    for answer in (client.get(KEEPALIVE), client.post(KEEPALIVE)):
        assert answer.status_code == 302 and answer.url.startswith(reverse("login"))

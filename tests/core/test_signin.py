"""Sign-in: password step, lockout, two-factor (required, optional, replay), safe `next`."""

from datetime import timedelta

import pyotp
import pytest
from django.urls import reverse
from django.utils import timezone

from careway.core import audit, services
from careway.core.middleware import SESSION_LAST_SEEN, SESSION_STARTED
from careway.core.models import AuditEvent, User, UserSession
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
LOGIN = reverse("login")


def sign_in(client, username, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def enrol(user: User) -> pyotp.TOTP:
    secret = pyotp.random_base32()
    User.objects.filter(pk=user.pk).update(totp_secret=secret, totp_confirmed_at=timezone.now())
    return pyotp.TOTP(secret)


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


def test_the_sign_in_page_has_labelled_fields(client, db):
    page = client.get(LOGIN)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<label for="id_username">' in html
    assert '<label for="id_password">' in html
    assert 'autocomplete="current-password"' in html


def test_a_case_manager_signs_in_with_a_password_alone(client, world):
    response = sign_in(client, "cm_rivera")
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.session[SESSION_STARTED] == client.session[SESSION_LAST_SEEN]
    assert client.get(response.url).url == reverse("today")
    assert signed_in_user_id(client) == str(world.cm.pk)
    web_session = UserSession.objects.get(user=world.cm)
    assert web_session.session_key == client.session.session_key
    event = AuditEvent.objects.get(action="auth.login")
    assert (event.actor_id, event.chain_id) == (world.cm.pk, world.org.pk)
    world.cm.refresh_from_db()
    assert world.cm.last_login is not None


def test_wrong_password_and_unknown_username_get_the_same_answer(client, world):
    wrong = sign_in(client, "cm_rivera", "not-the-password-at-all")
    unknown = sign_in(client, "nobody_here", "not-the-password-at-all")
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.context["form"].errors == unknown.context["form"].errors
    assert signed_in_user_id(client) is None
    failures = AuditEvent.objects.filter(action="auth.login_failed").order_by("id")
    assert [(e.chain_id, e.detail["username"]) for e in failures] == [
        (world.org.pk, "cm_rivera"),
        (0, "nobody_here"),
    ]


def test_lockout_after_the_threshold_refuses_even_the_right_password(client, world):
    world.org.lockout_threshold = 3
    world.org.lockout_minutes = 20
    world.org.save()
    for _ in range(3):
        sign_in(client, "cm_rivera", "wrong-password-again")
    world.cm.refresh_from_db()
    assert world.cm.locked_until > timezone.now() + timedelta(minutes=19)
    assert AuditEvent.objects.filter(action="auth.lockout", object_id=str(world.cm.pk)).count() == 1

    refused = sign_in(client, "cm_rivera")
    wrong = sign_in(client, "nobody_here", "whatever-it-is")
    assert refused.status_code == 400
    assert refused.context["form"].errors == wrong.context["form"].errors
    assert signed_in_user_id(client) is None
    assert AuditEvent.objects.filter(detail__why="account locked").count() == 1


def test_the_lock_expires_and_a_success_resets_the_count(client, world):
    User.objects.filter(pk=world.cm.pk).update(
        failed_login_count=2, locked_until=timezone.now() - timedelta(seconds=1)
    )
    assert sign_in(client, "cm_rivera").status_code == 302
    world.cm.refresh_from_db()
    assert (world.cm.failed_login_count, world.cm.locked_until) == (0, None)


def test_a_deactivated_user_cannot_sign_in(client, world):
    User.objects.filter(pk=world.cm.pk).update(is_active=False)
    assert sign_in(client, "cm_rivera").status_code == 400
    assert signed_in_user_id(client) is None


def test_next_is_followed_only_within_the_site(client, world):
    inside = sign_in(client, "cm_rivera", next="/account/")
    assert inside.url == "/account/"
    client.post(reverse("logout"))
    outside = sign_in(client, "cm_rivera", next="https://evil.example/steal")
    assert outside.url == reverse("home")


def test_required_two_factor_without_enrolment_goes_to_setup_with_a_qr_code(client, world):
    response = sign_in(client, "admin_ada")
    assert response.url == reverse("two_factor_setup")
    assert signed_in_user_id(client) is None
    page = client.get(response.url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "QR code for your authenticator app" in html
    secret = client.session["careway_pending_enrolment"]
    assert "".join(page.context["secret_groups"]) == secret

    done = client.post(response.url, {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    assert signed_in_user_id(client) == str(world.admin.pk)
    world.admin.refresh_from_db()
    assert world.admin.totp_secret == secret and world.admin.totp_confirmed_at
    assert AuditEvent.objects.filter(action="user.two_factor_enrol").count() == 1
    assert UserSession.objects.filter(user=world.admin).count() == 1


def test_setup_with_a_wrong_code_does_not_sign_in(client, world):
    sign_in(client, "sup_sato")
    page = client.post(reverse("two_factor_setup"), {"code": "000000"})
    assert page.status_code == 400
    assert "not right" in page.content.decode()
    assert signed_in_user_id(client) is None
    world.supervisor.refresh_from_db()
    assert world.supervisor.totp_secret == ""


def test_enrolled_user_must_give_a_code_and_the_code_cannot_be_replayed(client, world):
    totp = enrol(world.auditor)
    assert sign_in(client, "aud_adams").url == reverse("two_factor_verify")
    assert signed_in_user_id(client) is None
    code = totp.now()
    assert client.post(reverse("two_factor_verify"), {"code": code}).status_code == 302
    assert signed_in_user_id(client) == str(world.auditor.pk)

    client.post(reverse("logout"))
    sign_in(client, "aud_adams")
    replay = client.post(reverse("two_factor_verify"), {"code": code})
    assert replay.status_code == 400
    assert signed_in_user_id(client) is None


def test_optional_two_factor_is_asked_for_once_enrolled(client, world):
    assert services.two_factor_required(world.cm) is False
    enrol(world.cm)
    assert sign_in(client, "cm_rivera").url == reverse("two_factor_verify")


def test_agency_can_require_two_factor_for_everyone(client, world):
    world.org.require_two_factor_for_all = True
    world.org.save()
    assert sign_in(client, "cm_rivera").url == reverse("two_factor_setup")


def test_wrong_codes_count_toward_lockout(client, world):
    world.org.lockout_threshold = 2
    world.org.save()
    totp = enrol(world.supervisor)
    sign_in(client, "sup_sato")
    client.post(reverse("two_factor_verify"), {"code": "123456"})
    locked = client.post(reverse("two_factor_verify"), {"code": "654321"})
    assert locked.url == LOGIN
    world.supervisor.refresh_from_db()
    assert world.supervisor.is_locked()
    # The right code no longer helps: the pending sign-in is gone and the account is locked.
    assert client.post(reverse("two_factor_verify"), {"code": totp.now()}).url == LOGIN
    assert sign_in(client, "sup_sato").status_code == 400
    assert signed_in_user_id(client) is None


def test_the_code_pages_need_the_password_step_first(client, world):
    for name in ("two_factor_verify", "two_factor_setup"):
        response = client.get(reverse(name))
        assert response.url == LOGIN


def test_a_stale_password_step_must_be_repeated(client, world, monkeypatch):
    totp = enrol(world.auditor)
    sign_in(client, "aud_adams")
    session = client.session
    session["careway_pending_at"] -= 11 * 60
    session.save()
    assert client.post(reverse("two_factor_verify"), {"code": totp.now()}).url == LOGIN
    assert signed_in_user_id(client) is None


def test_optional_user_enrols_from_the_account_page(client, world):
    sign_in(client, "cm_rivera")
    page = client.get(reverse("two_factor_setup"))
    assert page.status_code == 200
    secret = client.session["careway_pending_enrolment"]
    done = client.post(reverse("two_factor_setup"), {"code": pyotp.TOTP(secret).now()})
    assert done.url == reverse("account")
    world.cm.refresh_from_db()
    assert services.two_factor_enrolled(world.cm)
    account = client.get(reverse("account"))
    assert "Replace your authenticator" in account.content.decode()


def test_the_code_matcher_allows_one_step_either_side_and_no_reuse():
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    now = totp.timecode(timezone.now())
    previous = totp.generate_otp(now - 1)
    assert services.matching_totp_counter(secret, previous, 0) == now - 1
    assert services.matching_totp_counter(secret, previous, now - 1) is None
    assert services.matching_totp_counter(secret, totp.generate_otp(now - 3), 0) is None
    assert services.matching_totp_counter(secret, "12345", 0) is None


@pytest.mark.parametrize(
    ("who", "page"),
    [
        ("cm", "today"),
        ("scheduler", "today"),
        ("admin", "user_list"),
        ("auditor", "audit_log"),
    ],
)
def test_home_is_each_roles_first_page(login, world, who, page):
    assert login(world.users()[who]).get(reverse("home")).url == reverse(page)


def test_wrong_setup_codes_during_sign_in_count_toward_lockout(client, world):
    world.org.lockout_threshold = 2
    world.org.save()
    sign_in(client, "sup_sato")
    setup = reverse("two_factor_setup")
    client.post(setup, {"code": "111111"})
    client.post(setup, {"code": "222222"})
    secret = client.session.get("careway_pending_enrolment")
    assert client.post(setup, {"code": pyotp.TOTP(secret).now()}).url == LOGIN
    world.supervisor.refresh_from_db()
    assert world.supervisor.is_locked() and world.supervisor.totp_secret == ""


def test_a_signed_in_person_mistyping_while_enrolling_is_not_locked_out(client, world):
    world.org.lockout_threshold = 2
    world.org.save()
    sign_in(client, "cm_rivera")
    for code in ("111111", "222222", "333333"):
        assert client.post(reverse("two_factor_setup"), {"code": code}).status_code == 400
    world.cm.refresh_from_db()
    assert not world.cm.is_locked()


def test_a_half_finished_sign_in_leaves_nothing_for_the_next_person(client, world):
    sign_in(client, "admin_ada")
    client.get(reverse("two_factor_setup"))
    first_secret = client.session["careway_pending_enrolment"]
    sign_in(client, "sup_sato")
    client.get(reverse("two_factor_setup"))
    assert client.session["careway_pending_enrolment"] != first_secret


def overlapping_attempts(username: str, passwords: list[str], monkeypatch) -> dict[str, list]:
    """Run sign-in attempts so that every password check overlaps all the attempts after it: the
    worst interleaving a burst of parallel requests can produce, made deterministic in one
    thread (each later attempt starts while the first one's password is being hashed)."""
    waiting = list(passwords)
    seen: dict[str, list] = {"checked": [], "signed_in": [], "refused": []}
    real_check = User.check_password

    def run_waiting_attempts() -> None:
        while waiting:
            password = waiting.pop(0)
            actor = audit.Actor(user=None, client_address="203.0.113.9")
            try:
                services.check_password_step(actor, username, password)
            except services.SignInRefused:
                seen["refused"].append(password)
            else:
                seen["signed_in"].append(password)

    def check_while_the_others_start(user, raw_password):
        seen["checked"].append(raw_password)
        run_waiting_attempts()
        return real_check(user, raw_password)

    monkeypatch.setattr(User, "check_password", check_while_the_others_start)
    run_waiting_attempts()
    return seen


WRONG = [f"wrong-guess-number-{n:02d}" for n in range(15)]


def test_overlapping_attempts_check_no_more_passwords_than_the_threshold(world, monkeypatch):
    world.org.lockout_threshold = 5
    world.org.save()
    seen = overlapping_attempts("cm_rivera", [*WRONG, PASSWORD], monkeypatch)
    # The sixth attempt finds five counted and is refused before its password is looked at.
    assert seen["checked"] == WRONG[:5]
    assert seen["signed_in"] == []
    assert sorted(seen["refused"]) == sorted([*WRONG, PASSWORD])
    failures = AuditEvent.objects.filter(action="auth.login_failed", object_id=str(world.cm.pk))
    assert failures.filter(detail__why="wrong password").count() == 5
    assert failures.filter(detail__why="account locked").count() == 11
    assert AuditEvent.objects.filter(action="auth.lockout").count() == 1
    world.cm.refresh_from_db()
    assert world.cm.is_locked()


def test_a_right_password_among_the_first_attempts_signs_in_once_and_the_lock_holds(
    world, monkeypatch
):
    world.org.lockout_threshold = 5
    world.org.save()
    passwords = [*WRONG[:2], PASSWORD, *WRONG[2:]]
    seen = overlapping_attempts("cm_rivera", passwords, monkeypatch)
    assert seen["checked"] == passwords[:5]
    assert seen["signed_in"] == [PASSWORD]
    assert len(seen["refused"]) == 15
    # The lock the fifth attempt started stays: a sign-in that began before it does not lift it.
    world.cm.refresh_from_db()
    assert world.cm.is_locked()


def test_a_refusal_costs_a_hash_like_any_other_answer(world, monkeypatch):
    User.objects.filter(pk=world.cm.pk).update(locked_until=timezone.now() + timedelta(minutes=5))
    hashed = []
    monkeypatch.setattr(services, "make_password", lambda raw: hashed.append(raw) or "x")
    monkeypatch.setattr(User, "check_password", lambda user, raw: pytest.fail("checked"))
    with pytest.raises(services.SignInRefused):
        services.check_password_step(audit.Actor(user=None), "cm_rivera", PASSWORD)
    # A locked account answers as slowly as a wrong password, so timing does not tell that the
    # account exists (unknown usernames are hashed too).
    assert hashed == [PASSWORD]


def test_a_right_password_after_wrong_ones_resets_the_count_without_a_lockout(client, world):
    world.org.lockout_threshold = 3
    world.org.save()
    for _ in range(2):
        sign_in(client, "cm_rivera", "wrong-password-again")
    assert sign_in(client, "cm_rivera").status_code == 302
    world.cm.refresh_from_db()
    assert (world.cm.failed_login_count, world.cm.locked_until) == (0, None)
    assert not AuditEvent.objects.filter(action="auth.lockout").exists()


def test_a_right_password_does_not_use_up_an_attempt_before_the_code(client, world):
    world.org.lockout_threshold = 2
    world.org.save()
    enrol(world.auditor)
    sign_in(client, "aud_adams", "wrong-password-again")
    assert sign_in(client, "aud_adams").url == reverse("two_factor_verify")
    # One wrong password so far: the first wrong code is the second failure and locks.
    world.auditor.refresh_from_db()
    assert (world.auditor.failed_login_count, world.auditor.is_locked()) == (1, False)
    assert client.post(reverse("two_factor_verify"), {"code": "000000"}).url == LOGIN
    world.auditor.refresh_from_db()
    assert world.auditor.is_locked()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_burst_of_parallel_sign_ins_checks_at_most_the_threshold(settings):
    """16 simultaneous POSTs to the sign-in page for one user, 15 wrong and 1 right, released
    together by a barrier, each on its own connection: real concurrency on PostgreSQL."""
    from tests.conftest import require_postgresql
    from tests.factories import make_org, make_user
    from tests.security.probe import sign_in_burst

    require_postgresql()
    # The real hasher: its time is the window in which the requests race.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    org, branch = make_org("Burst Home Health")
    org.lockout_threshold = 5
    org.save()
    make_user(org, branch, "case_manager", "cm_burst")
    report = sign_in_burst("cm_burst", PASSWORD)
    assert report.checked <= 5, report.lines()
    assert report.refused_as_locked == 16 - report.checked, report.lines()
    assert report.sessions <= 1 and report.accepted == report.sessions, report.lines()
    assert report.sessions == 0 or report.right_password_checked, report.lines()
    assert report.answers_alike, report.lines()
    assert report.holds()

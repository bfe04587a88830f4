"""Signing in and out: the password, then two-factor (a code, or enrolling an authenticator when
the role requires it), and where a person lands afterwards."""

import time

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from careway.core import audit, services
from careway.core.forms import CodeForm, SignInForm
from careway.core.middleware import SESSION_LAST_SEEN, SESSION_STARTED
from careway.core.models import User
from careway.core.navigation import home_url_name


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role's first page (a case manager's caseload, an admin's people list)."""
    return redirect(home_url_name(request.user))


PENDING_USER = "careway_pending_user"
PENDING_AT = "careway_pending_at"
PENDING_NEXT = "careway_pending_next"
PENDING_ENROLMENT = "careway_pending_enrolment"
# Between the password and the code: long enough to open an app, short enough not to linger.
PENDING_MAX_SECONDS = 10 * 60
SIGN_IN_REFUSED = (
    "Sign-in failed: the username and password do not match an active account, or the account "
    "is locked after too many tries. Check them and try again, or ask your agency admin."
)
CODE_REFUSED = (
    "That code is not right, or it has already been used. Wait for the next code and try again."
)


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    allowed = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if candidate and allowed else resolve_url("home")


def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next")
    if request.user.is_authenticated:
        return redirect(_safe_next(request, next_url))
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actor = audit.Actor.from_request(request)
        data = form.cleaned_data
        try:
            user = services.check_password_step(actor, data["username"], data["password"])
        except services.SignInRefused:
            form.add_error(None, SIGN_IN_REFUSED)
        else:
            return _after_password(request, user, _safe_next(request, next_url))
    context = {"form": form, "next": next_url or "", "expired": "expired" in request.GET}
    return render(request, "core/login.html", context, status=400 if form.errors else 200)


def _after_password(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    if not services.two_factor_enrolled(user) and not services.two_factor_required(user):
        return _finish_sign_in(request, user, next_url)
    # A new key, and nothing left over from someone who gave up half way on this browser.
    request.session.cycle_key()
    _clear_pending(request)
    request.session[PENDING_USER] = user.pk
    request.session[PENDING_AT] = time.time()
    request.session[PENDING_NEXT] = next_url
    if services.two_factor_enrolled(user):
        return redirect("two_factor_verify")
    return redirect("two_factor_setup")


def _pending_user(request: HttpRequest) -> User | None:
    """The person who passed the password step in this session, if recently enough and not
    locked out since (wrong codes count toward the lock)."""
    started = request.session.get(PENDING_AT, 0)
    user_id = request.session.get(PENDING_USER)
    if not user_id or time.time() - started > PENDING_MAX_SECONDS:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    return None if user is None or user.is_locked() else user


def _clear_pending(request: HttpRequest) -> None:
    for key in (PENDING_USER, PENDING_AT, PENDING_NEXT, PENDING_ENROLMENT):
        request.session.pop(key, None)


def _finish_sign_in(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    _clear_pending(request)
    login(request, user, backend="careway.core.backends.CarewayBackend")
    now = time.time()
    request.session[SESSION_STARTED] = now
    request.session[SESSION_LAST_SEEN] = now
    request.session.save()
    services.complete_sign_in(
        user,
        request.session.session_key,
        audit.client_address(request),
        request.headers.get("user-agent", ""),
    )
    return redirect(next_url)


def _restart_sign_in(request: HttpRequest, message: str) -> HttpResponse:
    _clear_pending(request)
    messages.warning(request, message)
    return redirect("login")


def two_factor_verify(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None or not services.two_factor_enrolled(user):
        return _restart_sign_in(request, "Sign in with your username and password first.")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actor = audit.Actor.from_request(request)
        if services.verify_totp(actor, user, form.cleaned_data["code"]):
            return _finish_sign_in(request, user, request.session[PENDING_NEXT])
        user.refresh_from_db()
        if user.is_locked():
            return _restart_sign_in(request, SIGN_IN_REFUSED)
        form.add_error("code", CODE_REFUSED)
    status = 400 if form.errors else 200
    return render(request, "core/two_factor_verify.html", {"form": form}, status=status)


def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator: during sign-in when it is required, or from the account page."""
    signing_in = not request.user.is_authenticated
    user = _pending_user(request) if signing_in else request.user
    if user is None or (signing_in and services.two_factor_enrolled(user)):
        return _restart_sign_in(request, "Sign in with your username and password first.")
    secret = request.session.setdefault(PENDING_ENROLMENT, services.new_totp_secret())
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actor = audit.Actor.from_request(request)
        code = form.cleaned_data["code"]
        if services.enrol_two_factor(actor, user, secret, code, during_sign_in=signing_in):
            return _after_enrolment(request, user, signing_in)
        form.add_error("code", CODE_REFUSED)
    context = {
        "form": form,
        "signing_in": signing_in,
        "qr_svg": services.totp_qr_svg(user, secret),
        "account_name": user.username,
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
    }
    status = 400 if form.errors else 200
    return render(request, "core/two_factor_setup.html", context, status=status)


def _after_enrolment(request: HttpRequest, user: User, signing_in: bool) -> HttpResponse:
    if signing_in:
        return _finish_sign_in(request, user, request.session[PENDING_NEXT])
    request.session.pop(PENDING_ENROLMENT, None)
    messages.success(request, "Two-factor sign-in is on. You will be asked for a code each time.")
    return redirect("account")


@login_required
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    services.record_sign_out(audit.Actor.from_request(request), request.session.session_key)
    logout(request)
    messages.success(request, "You have signed out.")
    return redirect("login")

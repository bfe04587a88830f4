"""One's own account: roles, two-factor, sessions (sign out everywhere, stay signed in) and the
password."""

import time

from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from careway.core import audit, services
from careway.core.middleware import SESSION_LAST_SEEN, idle_seconds_left


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "memberships": user.active_memberships(),
        "two_factor_on": services.two_factor_enrolled(user),
        "two_factor_required": services.two_factor_required(user),
        "session_count": services.live_session_count(user),
    }
    return render(request, "core/account.html", context)


@login_required
@require_POST
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    services.end_all_sessions(audit.Actor.from_request(request), request.user)
    logout(request)
    messages.success(request, "You have been signed out on every device, this one included.")
    return redirect("login")


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.change_password(
            audit.Actor.from_request(request),
            request.user,
            form.cleaned_data["new_password1"],
            keep_session=request.session.session_key,
        )
        update_session_auth_hash(request, request.user)
        messages.success(request, "Your password is changed; other devices were signed out.")
        return redirect("account")
    status = 400 if form.errors else 200
    return render(request, "core/password_change.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def session_keepalive(request: HttpRequest) -> HttpResponse:
    """The idle warning's clock (careway/static/careway/session.js). GET: the seconds this
    session has left without activity; asking is not activity (the session middleware skips
    it), so another tab's work shows up here. POST, "Stay signed in": the person is here, which
    counts as activity. A session that has already ended is not revived: the middleware signed
    it out before this view, and login_required answers with the sign-in page."""
    now = time.time()
    if request.method == "POST":
        request.session[SESSION_LAST_SEEN] = now
    return JsonResponse({"seconds_left": idle_seconds_left(request, now)})

"""Server-side session limits: idle timeout (the agency's setting) and an absolute lifetime.

The browser's cookie is not trusted for either: the times live in the server-side session, so a
stolen cookie stops working as soon as the session would have. Sign-in writes both times; a
session that lacks them (made some other way) starts its clock at its first request.
"""

import math
import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.urls import reverse

from . import audit
from .services import record_sign_out

SESSION_STARTED = "careway_started"
SESSION_LAST_SEEN = "careway_last_seen"
# Activity is noted at most this often, so that most requests do not rewrite the session row.
LAST_SEEN_RESOLUTION = 30


def idle_limit_seconds(user) -> int:
    org = user.organization
    minutes = org.idle_timeout_minutes if org else settings.CAREWAY_IDLE_TIMEOUT_MINUTES
    return 60 * min(minutes, settings.CAREWAY_IDLE_TIMEOUT_MINUTES)


def absolute_limit_seconds(user) -> int:
    org = user.organization
    hours = org.absolute_session_hours if org else settings.CAREWAY_ABSOLUTE_SESSION_HOURS
    return 3600 * min(hours, settings.CAREWAY_ABSOLUTE_SESSION_HOURS)


def idle_seconds_left(request: HttpRequest, now: float) -> int:
    """How long this session may stay idle from `now` before it ends (0: it has ended)."""
    last_seen = request.session.get(SESSION_LAST_SEEN, now)
    # Rounded up: a session with part of a second left has not ended, and must not say so.
    return max(0, math.ceil(idle_limit_seconds(request.user) - (now - last_seen)))


def session_clock(request: HttpRequest) -> dict:
    """Template context for the idle warning of base.html (careway/static/careway/session.js):
    the seconds this session has left without activity, and how long before the end to warn."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not request.session.session_key:
        return {}
    return {
        "idle_seconds_left": idle_seconds_left(request, time.time()),
        "idle_warning_seconds": settings.CAREWAY_IDLE_WARNING_SECONDS,
    }


def expiry_reason(request: HttpRequest, now: float) -> str:
    """Why this session must end now ("" if it may go on)."""
    session, user = request.session, request.user
    started = session.setdefault(SESSION_STARTED, now)
    last_seen = session.get(SESSION_LAST_SEEN, now)
    if now - last_seen > idle_limit_seconds(user):
        return "idle timeout"
    if now - started > absolute_limit_seconds(user):
        return "session time limit"
    return ""


class SessionSecurityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and request.session.session_key:
            now = time.time()
            why = expiry_reason(request, now)
            if why:
                return self._end_session(request, why)
            noted = request.session.get(SESSION_LAST_SEEN, 0)
            if now - noted >= LAST_SEEN_RESOLUTION and not _asks_the_clock(request):
                request.session[SESSION_LAST_SEEN] = now
        return self.get_response(request)

    def _end_session(self, request: HttpRequest, why: str) -> HttpResponse:
        record_sign_out(audit.Actor.from_request(request), request.session.session_key, why)
        logout(request)
        if request.path.startswith(("/api/", "/fhir/")):
            return self.get_response(request)
        query = urlencode({"expired": 1, "next": request.get_full_path()})
        login_url = f"{resolve_url(settings.LOGIN_URL)}?{query}"
        if request.headers.get("HX-Request") == "true":
            # htmx would swap the sign-in page into a fragment; tell it to load the whole page.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login_url
            return response
        return redirect(login_url)


def _asks_the_clock(request: HttpRequest) -> bool:
    """The idle warning asking how long is left: that is not the person doing anything."""
    return request.method == "GET" and request.path == reverse("session_keepalive")


class NoStoreMiddleware:
    """Every answer Careway makes says `Cache-Control: no-store`: pages and API answers carry
    patient data, and a shared tablet's browser, or a proxy, must keep none of it. (Static files
    are served earlier, by WhiteNoise, with their own long-lived caching.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["Cache-Control"] = "no-store"
        return response

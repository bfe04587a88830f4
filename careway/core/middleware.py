"""Server-side session limits: idle timeout (the agency's setting) and an absolute lifetime.

The browser's cookie is not trusted for either: the times live in the server-side session, so a
stolen cookie stops working as soon as the session would have.
"""

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url

from . import audit

SESSION_STARTED = "careway_started"
SESSION_LAST_SEEN = "careway_last_seen"


def idle_limit_seconds(user) -> int:
    org = user.organization
    minutes = org.idle_timeout_minutes if org else settings.CAREWAY_IDLE_TIMEOUT_MINUTES
    return 60 * min(minutes, settings.CAREWAY_IDLE_TIMEOUT_MINUTES)


def absolute_limit_seconds(user) -> int:
    org = user.organization
    hours = org.absolute_session_hours if org else settings.CAREWAY_ABSOLUTE_SESSION_HOURS
    return 3600 * min(hours, settings.CAREWAY_ABSOLUTE_SESSION_HOURS)


class SessionSecurityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and request.session.session_key:
            now = time.time()
            started = request.session.get(SESSION_STARTED, now)
            last_seen = request.session.get(SESSION_LAST_SEEN, now)
            why = ""
            if now - last_seen > idle_limit_seconds(user):
                why = "idle timeout"
            elif now - started > absolute_limit_seconds(user):
                why = "session time limit"
            if why:
                audit.record(audit.Actor.from_request(request), "session.expired", reason=why)
                logout(request)
                if request.path.startswith(("/api/", "/fhir/")):
                    return self.get_response(request)
                query = urlencode({"expired": 1, "next": request.get_full_path()})
                return redirect(f"{resolve_url(settings.LOGIN_URL)}?{query}")
            request.session[SESSION_LAST_SEEN] = now
        return self.get_response(request)

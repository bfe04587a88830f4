"""Careway's own answers for 403, 404, 500 and a refused form (CSRF): the base layout, the
navigation of a signed-in person, and a way back. (`make run` runs with DEBUG off so that these,
and not Django's technical pages, are what a new user sees.)

The 404 page says the same for a record that does not exist and one that is not the person's to
see: it shows nothing of the exception, whose message may differ between the two."""

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader

logger = logging.getLogger(__name__)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The reason the refusal gives, and the way back it names (a domain's PermissionDenied may
    carry `title`, `back_url` and `back_label`: the chart's read-only refusal links the chart)."""
    context = {
        "reason": str(exception or ""),
        "title": getattr(exception, "title", ""),
        "back_url": getattr(exception, "back_url", ""),
        "back_label": getattr(exception, "back_label", ""),
    }
    return render(request, "403.html", context, status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form refused because its security token is missing or stale: the page was open across
    a sign-in, or for too long. Nothing was written; the way back is the form's own page."""
    return render(request, "403_csrf.html", {"form_url": request.path}, status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page, with the person's navigation when the request can still give it (the
    failure may be the database itself, which the navigation reads: then without)."""
    try:
        return render(request, "500.html", status=500)
    except Exception:
        logger.exception("The 500 page could not be drawn with the request; drawn without")
    return HttpResponse(loader.get_template("500.html").render(), status=500)

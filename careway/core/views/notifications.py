"""A person's notifications inside Careway (a colleague opened a chart by emergency access, ...)."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from careway.core import audit, services
from careway.core.models import Notification
from careway.toolkit.pages import agency_zone, paginate

PAGE_SIZE = 50


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    notices = Notification.objects.filter(recipient=request.user)
    page = paginate(notices, request.GET.get("page"), PAGE_SIZE)
    _audit_listed_patients(request, page)
    context = {
        "page": page,
        "unread": notices.filter(read_at__isnull=True).count(),
        "agency_tz": agency_zone(request.user),
    }
    return render(request, "core/notifications.html", context)


def _audit_listed_patients(request: HttpRequest, page: Page) -> None:
    # A notification names a patient by MRN: showing it is a look at patient data.
    patient_ids = [n.patient_id for n in page.object_list if n.patient_id]
    audit.record_many(
        audit.Actor.from_request(request),
        "patient.list",
        patient_ids,
        detail={"section": "notifications"},
    )


@login_required
@require_POST
def notifications_mark_read(request: HttpRequest) -> HttpResponse:
    ids = request.POST.getlist("id") or None
    wanted = [int(i) for i in ids if i.isdigit()] if ids else None
    services.mark_notifications_read(request.user, wanted)
    if request.htmx and wanted:
        notice = get_object_or_404(Notification, pk=wanted[0], recipient=request.user)
        if notice.patient_id:
            audit.record(
                audit.Actor.from_request(request),
                "patient.list",
                patient_id=notice.patient_id,
                detail={"section": "notifications"},
            )
        context = {"notice": notice, "agency_tz": agency_zone(request.user)}
        return render(request, "core/_notification.html", context)
    return redirect("notifications")

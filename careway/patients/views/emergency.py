"""Emergency access ("break the glass"): reading a chart one is not on the team of, with a reason,
for a limited time, audited, and told to the branch's supervisors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from careway.core import audit
from careway.core.permissions import require
from careway.patients import access, services
from careway.patients.forms import BreakGlassForm
from careway.patients.permissions import BREAK_GLASS
from careway.toolkit.pages import local_time


@login_required
def break_glass(request: HttpRequest) -> HttpResponse:
    require(request.user, BREAK_GLASS)
    form = BreakGlassForm(request.POST or None, organization=request.user.organization)
    if request.method == "POST" and form.is_valid():
        response = _open_glass(request, form)
        if response is not None:
            return response
    status = 400 if form.errors else 200
    return render(request, "patients/emergency_access.html", {"form": form}, status=status)


def _open_glass(request: HttpRequest, form: BreakGlassForm) -> HttpResponse | None:
    actor = audit.Actor.from_request(request)
    data = form.cleaned_data
    patient = services.find_patient_by_mrn(actor, data["mrn"].strip())
    if patient is None:
        form.add_error("mrn", "No patient in your agency has this MRN. Check it and try again.")
        return None
    if access.visible_patients(request.user).filter(pk=patient.pk).exists():
        messages.info(request, "You can already open this chart; no emergency access was needed.")
        return redirect("chart", patient_id=patient.pk)
    try:
        grant = services.open_emergency_access(actor, patient, data["reason"], data["minutes"])
    except ValidationError as error:
        form.apply_service_errors(error)
        return None
    until = local_time(grant.expires_at, request.user)
    messages.warning(
        request,
        f"Emergency access: you may read this chart until {until}. "
        "Your supervisor has been told, and every view is audited.",
    )
    return redirect("chart", patient_id=patient.pk)

"""Emergency access ("break the glass"): reading a chart one is not on the team of, with a reason,
for a limited time, audited, and told to the branch's supervisors.

The patient is found by family name and date of birth, or by MRN: one exact match opens the
chart; several ask for the given name or the MRN without naming anyone; none reads the same
whether the patient is in another agency or nowhere (services.find_patient_for_emergency)."""

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from careway.core import audit
from careway.core.models import User
from careway.core.permissions import require
from careway.patients import access, services
from careway.patients.forms import BreakGlassForm
from careway.patients.permissions import BREAK_GLASS
from careway.patients.services import EmergencySearchOutcome as Outcome

NO_MATCH = (
    "No patient in your agency matches these details. Check the spelling and the date of "
    "birth, or use the MRN from the referral."
)
SEVERAL = (
    "More than one patient in your agency has this family name and date of birth. Add the "
    "given name, or use the MRN."
)
SEVERAL_WITH_GIVEN_NAME = (
    "More than one patient in your agency has this name and date of birth. Use the MRN."
)
TOO_MANY = (
    "Too many searches found no single patient in the last "
    f"{services.EMERGENCY_SEARCH_WINDOW.seconds // 60} minutes, so searching is paused. Use "
    "the MRN from the referral after a short wait, or ask your supervisor to open the chart."
)


@login_required
def break_glass(request: HttpRequest) -> HttpResponse:
    require(request.user, BREAK_GLASS)
    user = cast(User, request.user)
    assert user.organization is not None  # the permission is held in an agency
    form = BreakGlassForm(request.POST or None, organization=user.organization)
    status = 200
    if request.method == "POST" and form.is_valid():
        response = _open_glass(request, form)
        if response is not None:
            return response
    if form.errors:
        status = 429 if TOO_MANY in form.non_field_errors() else 400
    return render(request, "patients/emergency_access.html", {"form": form}, status=status)


def _open_glass(request: HttpRequest, form: BreakGlassForm) -> HttpResponse | None:
    actor = audit.Actor.from_request(request)
    data = form.cleaned_data
    search = form.search()
    outcome, patient = services.find_patient_for_emergency(actor, search, data["reason"])
    if patient is None:
        _explain(form, search, outcome)
        return None
    if access.sees_without_emergency_access(cast(User, request.user), patient):
        messages.info(request, "You can already open this chart; no emergency access was needed.")
        return redirect("chart", patient_id=patient.pk)
    try:
        services.open_emergency_access(
            actor, patient, data["reason"], data["minutes"], found_by=search.found_by
        )
    except ValidationError as error:
        form.apply_service_errors(error)
        return None
    # The chart's banner says until when, how long is left, and that the supervisor was told.
    return redirect("chart", patient_id=patient.pk)


def _explain(form: BreakGlassForm, search: services.EmergencySearch, outcome: Outcome) -> None:
    if outcome == Outcome.TOO_MANY:
        form.add_error(None, TOO_MANY)
    elif outcome == Outcome.SEVERAL and search.given_name:
        form.add_error("mrn", SEVERAL_WITH_GIVEN_NAME)
    elif outcome == Outcome.SEVERAL:
        form.add_error("given_name", SEVERAL)
    else:
        form.add_error("mrn" if search.mrn else "family_name", NO_MATCH)

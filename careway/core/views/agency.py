"""The agency's own details: its phones and address (printed on the plan of care and the
patient's version of the plan) and the days an order sent for signature has before it is overdue.
Agency admins change them; every change is audited with its before and after."""

from typing import cast

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from careway.core import audit, services
from careway.core.conflicts import VersionConflict
from careway.core.models import Organization, User
from careway.core.permissions import AGENCY_SETTINGS, require
from careway.toolkit.forms import CarewayForm
from careway.toolkit.pages import agency_page


class AgencyDetailsForm(CarewayForm, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput)
    order_signature_days = forms.IntegerField(
        label="Days to return a signed order",
        min_value=services.ORDER_DAYS_RANGE[0],
        max_value=services.ORDER_DAYS_RANGE[1],
        help_text="A plan of care or verbal order sent for signature is overdue the day after "
        "this many days. 30 unless your agency's policy says otherwise.",
    )

    class Meta:
        model = Organization
        fields = ["phone", "after_hours_phone", "address", "order_signature_days"]


@agency_page
def agency_details(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    require(user, AGENCY_SETTINGS)
    if request.method == "POST" and not user.has_perm_code(AGENCY_SETTINGS):
        raise PermissionDenied("Only an agency admin changes the agency's details.")
    organization = Organization.objects.get(pk=cast(int, user.organization_id))
    version = services.agency_details_version(organization)
    form = AgencyDetailsForm(
        request.POST if request.method == "POST" else None,
        instance=Organization.objects.get(pk=organization.pk),
        initial={"version": version},
    )
    conflict = False
    if form.is_bound and form.is_valid():
        data = {name: form.cleaned_data[name] for name in AgencyDetailsForm.Meta.fields}
        try:
            services.update_agency_details(
                audit.Actor.from_request(request), organization, data, form.cleaned_data["version"]
            )
        except VersionConflict:
            conflict = True
            form.add_error(
                None,
                "Someone changed the agency's details while you were editing: the page shows "
                "what is saved now. Make your change again.",
            )
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, "Agency details saved.")
            return redirect("agency_details")
    status = 409 if conflict else 422 if form.errors else 200
    context = {"title": "Agency details", "form": form, "organization": organization}
    return render(request, "core/agency_details.html", context, status=status)

"""The agency's vital sign alert thresholds: when a reading is flagged for the physician.

Everyone who reads charts may see them (so a nurse knows why a reading is or is not flagged);
agency admins and supervisors change them. Another agency's people see their own agency's.
"""

from typing import cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import User
from careway.patients import alerts, services
from careway.patients.forms import VitalAlertForm
from careway.patients.permissions import CHART_VIEW, VITAL_ALERTS_MANAGE
from careway.toolkit.pages import agency_page


@agency_page
def vital_alert_thresholds(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    may_change = user.has_perm_code(VITAL_ALERTS_MANAGE)
    if user.organization is None or not (may_change or user.has_perm_code(CHART_VIEW)):
        raise Http404("Not found")
    if request.method == "POST" and not may_change:
        raise PermissionDenied("Only agency admins and supervisors change alert thresholds.")
    setting = alerts.agency_setting(user.organization)
    form = VitalAlertForm(
        request.POST if request.method == "POST" else None,
        initial={**alerts.default_values(), **setting.values, "version": setting.version},
    )
    conflict = None
    if form.is_bound and form.is_valid():
        try:
            services.set_vital_alert_thresholds(
                audit.Actor.from_request(request),
                user.organization,
                form.thresholds(),
                form.cleaned_data["version"],
            )
        except VersionConflict as stale:
            conflict = stale.current
            form = _rebased(form, stale.current.version)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, "Vital sign alert thresholds saved.")
            return redirect("vital_alert_thresholds")
    thresholds = alerts.agency_thresholds(user.organization.pk)
    context = {
        "title": "Vital sign alerts",
        "form": form,
        "may_change": may_change,
        "rows": _rows(thresholds),
        "thresholds": thresholds,
        "setting": setting,
        "conflict": conflict,
    }
    status = 409 if conflict else 400 if form.errors else 200
    return render(request, "patients/vital_alerts.html", context, status=status)


def _rebased(form: VitalAlertForm, version: int) -> VitalAlertForm:
    """What the person typed, aimed at the version saved now: saving again is deliberate."""
    return VitalAlertForm(initial={**form.thresholds(), "version": version})


def _rows(thresholds: alerts.AlertThresholds) -> list[tuple[str, list[str]]]:
    """(vital sign, when it raises an alert), in words."""
    rows = []
    by_key = {field.name: field for field in alerts.fields()}
    for key, limit in thresholds.limits.items():
        field = by_key.get(f"{key}_above") or by_key[f"{key}_below"]
        unit = field.unit if field.unit == "%" else f" {field.unit}"
        parts = []
        if limit.above is not None:
            parts.append(f"High: over {limit.above:g}{unit}")
        if limit.below is not None:
            parts.append(f"Low: under {limit.below:g}{unit}")
        rows.append((field.label.split(":")[0], parts or ["No alert"]))
    gains = []
    if thresholds.weight_gain_day is not None:
        gains.append(f"High: a gain of more than {thresholds.weight_gain_day:g} lb in a day")
    if thresholds.weight_gain_week is not None:
        gains.append(f"High: a gain of more than {thresholds.weight_gain_week:g} lb in a week")
    rows.append(("Body weight", gains or ["No alert"]))
    return rows

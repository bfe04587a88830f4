"""One goal's progress page: the patient's words, the target, the status computed from the chart
with its rule, the trend beside the target (and the same readings as a table), and a person's
override of the status with a reason.

Thin views: the goal is found through careway.patients.access (404 for absent and not yours, 403
for a read-only member posting, both audited) before the request is looked at; the override is
written by services.override_achievement, which audits; the page's read is audited with the
chart frame, in one transaction.
"""

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import User
from careway.patients import access
from careway.patients.access import Action
from careway.patients.frame import audited_chart_frame
from careway.toolkit.forms import CarewayForm
from careway.toolkit.pages import agency_page

from . import goal_queries, services
from .models import ACHIEVEMENT_CHOICES, Goal
from .permissions import CAREPLANS_EDIT

STALE_PAGE = (
    "The page did not say which version of the goal it showed: reload the page and try again."
)


class VersionOfGoal(CarewayForm, forms.Form):
    """The version of the goal the page showed, so that a change made meanwhile is a conflict."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def clean(self) -> dict[str, Any]:
        # The person cannot fix a hidden field: say what to do instead.
        if self.errors.pop("version", None):
            raise ValidationError(STALE_PAGE)
        return super().clean() or {}


class OverrideForm(VersionOfGoal):
    status = forms.ChoiceField(
        label="Status to show instead",
        choices=[("", "Choose a status"), *ACHIEVEMENT_CHOICES],
        error_messages={
            "required": "Choose the status to show instead of the computed one.",
            "invalid_choice": "Choose one of the statuses offered.",
        },
    )
    reason = forms.CharField(
        label="Reason",
        max_length=services.REASON_LIMIT,
        help_text="Why the computed status does not hold (the scale was off, a reading is wrong).",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say why the computed status does not hold."},
    )
    field_order = ["status", "reason", "version"]


@agency_page
def goal_progress(request: HttpRequest, patient_id: Any, goal_id: Any) -> HttpResponse:
    action = Action.EDIT if request.method == "POST" else Action.VIEW
    actor = audit.Actor.from_request(request)
    goal = access.get_record_for(actor, Goal, goal_id, action, goal_queries.goal_rows(patient_id))
    if request.method == "POST":
        return _override(request, actor, goal)
    return _page(request, actor, goal, _override_form(goal))


def _override_form(goal: Goal, posted: dict[str, Any] | None = None) -> OverrideForm:
    return OverrideForm(initial={"version": goal.version, **(posted or {})})


def _override(request: HttpRequest, actor: audit.Actor, goal: Goal) -> HttpResponse:
    """Set the shown status with a reason, or ("Use the computed status") give it back."""
    clearing = "use_computed" in request.POST
    form: VersionOfGoal = VersionOfGoal(request.POST) if clearing else OverrideForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            _check_open(goal)
            services.override_achievement(
                actor,
                goal,
                "" if clearing else data["status"],
                "" if clearing else data["reason"],
                data["version"],
            )
        except VersionConflict:
            return _conflict(request, actor, goal, form, clearing)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _done(clearing))
            return redirect(goal_queries.goal_url(goal))
    shown = form if isinstance(form, OverrideForm) else _override_form(goal)
    return _page(request, actor, goal, shown, status=422, refused=form)


def _check_open(goal: Goal) -> None:
    if goal.plan.status in services.CLOSED_PLAN:
        closed = goal.plan.get_status_display().lower()
        raise ValidationError(f"This plan is {closed}: its goals' statuses are kept as they were.")


def _done(clearing: bool) -> str:
    if clearing:
        return "The goal shows its computed status again."
    return "Status set, with your reason; the plan's history keeps it."


def _conflict(
    request: HttpRequest, actor: audit.Actor, goal: Goal, form: VersionOfGoal, clearing: bool
) -> HttpResponse:
    """Nothing saved: the page as the goal stands now, with what the person chose kept."""
    current = goal_queries.goal_rows(goal.patient_id).get(pk=goal.pk)
    kept = {} if clearing else {k: form.cleaned_data[k] for k in ("status", "reason")}
    return _page(request, actor, current, _override_form(current, kept), status=409, conflict=True)


def _page(
    request: HttpRequest,
    actor: audit.Actor,
    goal: Goal,
    form: OverrideForm,
    *,
    status: int = 200,
    conflict: bool = False,
    refused: VersionOfGoal | None = None,
) -> HttpResponse:
    patient = goal.patient
    can_override = goal.plan.status not in services.CLOSED_PLAN and access.can_edit(
        cast(User, request.user), patient, CAREPLANS_EDIT
    )
    with transaction.atomic():
        context = audited_chart_frame(
            request, actor, patient, goal_queries.PLAN_SECTION, goal, goal=str(goal.pk)
        )
        context |= {
            "progress": goal_queries.progress_of(goal, timezone.now()),
            "goal": goal,
            "plan_url": goal_queries.plan_url(patient.pk),
            "form": form,
            "conflict": conflict,
            "problems": _unshown_problems(refused, form, can_override),
            "can_override": can_override,
        }
    return render(request, "careplans/goal/progress.html", context, status=status)


def _unshown_problems(
    refused: VersionOfGoal | None, shown: OverrideForm, can_override: bool
) -> list[str]:
    """Why a post was refused, where the form on the page does not say it itself (clearing
    the override, or a plan closed meanwhile, which hides the form)."""
    if refused is None or (refused is shown and can_override):
        return []
    return [str(message) for message in refused.non_field_errors()]

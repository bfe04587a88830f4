"""The care plan pages: the chart's Care plan section, the forms that build and revise the plan
(a problem, a goal, an intervention, a visit frequency, the plan's own dates and status), a
task raised from an intervention, and the plan's revisions compared.

Thin views: access through careway.patients.access (404 for a patient who is not the person's,
403 for one they may only read: changing a plan needs careplans.edit), writes through
careway/careplans/services.py, every page's read audited with its section. A form opened from
the plan page with htmx is the same page's form, picked out (`hx-select`), and it posts as a
plain form: the pages work the same without JavaScript.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import User
from careway.patients import access
from careway.patients.access import Action
from careway.patients.frame import ChartSection, audited_chart_frame
from careway.patients.models import Patient
from careway.toolkit.pages import agency_page

from . import plan_of_care_views, queries, revisions, services, suggestion_queries
from .forms import (
    FrequencyForm,
    GoalForm,
    InterventionForm,
    PlanEditForm,
    PlanForm,
    PlanStatusForm,
    ProblemAddForm,
    ProblemEditForm,
)
from .models import CarePlan, DisciplineFrequency, Goal, Intervention, Problem
from .permissions import CAREPLANS_EDIT

SECTION = "care-plan"
ENTERED_IN_ERROR = "entered-in-error"


def _patient(request: HttpRequest, patient_id: Any, action: Action) -> tuple[audit.Actor, Patient]:
    actor = audit.Actor.from_request(request)
    return actor, access.get_patient_for(actor, patient_id, action, CAREPLANS_EDIT)


def _can_edit_plan(request: HttpRequest, patient: Patient) -> bool:
    return access.can_edit(cast(User, request.user), patient, CAREPLANS_EDIT)


def _plan_of(patient: Patient) -> CarePlan | None:
    plan = queries.current_plan(patient)
    if plan is not None:
        CarePlan.patient.field.set_cached_value(plan, patient)
    return plan


def _plan_or_404(patient: Patient) -> CarePlan:
    plan = _plan_of(patient)
    if plan is None:
        raise Http404("This patient has no care plan for the current episode")
    return plan


def _to_plan(patient: Patient, anchor: str = "") -> HttpResponse:
    url = reverse("chart_section", kwargs={"patient_id": patient.pk, "section": SECTION})
    return redirect(f"{url}#{anchor}" if anchor else url)


def _posted(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def _messages_of(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [m for found in error.message_dict.values() for m in found]
    return list(error.messages)


# --- the chart section ---------------------------------------------------------------------------


def section_context(request: HttpRequest, patient: Patient) -> dict[str, Any]:
    """The chart's Care plan section: the plan of the current episode with its parts, or what
    to do when there is none yet, and the plans of other settings as history."""
    from . import teaching

    plan = _plan_of(patient)
    return {
        "plan": plan,
        "parts": queries.plan_parts(plan) if plan else None,
        "teaching_records": teaching.teaching_of(patient) if plan else [],
        "agreement": teaching.agreement_state(plan) if plan else None,
        "episode": plan.episode if plan else services.current_episode(patient),
        "past": queries.past_plans(patient),
        "can_edit_plan": _can_edit_plan(request, patient),
        "plan_open": plan is not None and plan.status not in services.CLOSED_PLAN,
        "today": timezone.localdate(),
        "suggestion_counts": suggestion_queries.open_counts(patient),
        **plan_of_care_views.card_context(patient),
    }


CHART_SECTION = ChartSection(
    SECTION,
    "Care plan",
    order=65,
    context=section_context,
    template="careplans/chart_care_plan.html",
)


@agency_page
def plan_start(request: HttpRequest, patient_id: Any) -> HttpResponse:
    actor, patient = _patient(request, patient_id, Action.EDIT)
    if request.method != "POST":  # the button is on the Care plan section
        return _to_plan(patient)
    try:
        services.start_plan(actor, patient, reason=request.POST.get("reason", ""))
    except ValidationError as error:
        for message in _messages_of(error):
            messages.error(request, message)
    else:
        messages.success(
            request,
            "Care plan started as a draft. Add its problems, goals, interventions and visit "
            "frequencies, then put it in effect.",
        )
    return _to_plan(patient)


# --- forms ---------------------------------------------------------------------------------------


def _form_page(
    request: HttpRequest,
    actor: audit.Actor,
    patient: Patient,
    plan: CarePlan,
    form: PlanForm,
    title: str,
    **extra: Any,
) -> HttpResponse:
    """A plan form page (the banner and tabs too: a read of the chart, so audited)."""
    conflict = extra.get("conflict")
    status = 409 if conflict is not None else 422 if form.errors else 200
    with transaction.atomic():
        frame = audited_chart_frame(request, actor, patient, SECTION, plan, form=title)
    context = {**frame, "plan": plan, "form": form, "title": title, **extra}
    return render(request, "careplans/form.html", context, status=status)


@dataclass(frozen=True)
class PartKind:
    """One kind of row of a plan, as its pages add and change it."""

    model: type[Model]
    noun: str
    anchor: str
    add_form: type[PlanForm]
    edit_form: type[PlanForm]
    add: Callable[..., Any]
    update: Callable[..., Any]
    status_field: str = "status"

    def name_of(self, row: Any) -> str:
        if isinstance(row, DisciplineFrequency):
            return f"{row.get_discipline_display()} {row.frequency}"
        return str(row)


PROBLEM = PartKind(
    Problem, "Problem", "problem", ProblemAddForm, ProblemEditForm,
    services.add_problem, services.update_problem,
)  # fmt: skip
GOAL = PartKind(
    Goal, "Goal", "goal", GoalForm, GoalForm, services.add_goal, services.update_goal,
    status_field="lifecycle_status",
)  # fmt: skip
INTERVENTION = PartKind(
    Intervention, "Intervention", "intervention", InterventionForm, InterventionForm,
    services.add_intervention, services.update_intervention,
)  # fmt: skip
FREQUENCY = PartKind(
    DisciplineFrequency, "Visit frequency", "frequency", FrequencyForm, FrequencyForm,
    services.set_frequency, services.update_frequency,
)  # fmt: skip


def _add_page(request: HttpRequest, patient_id: Any, kind: PartKind, title: str) -> HttpResponse:
    actor, patient = _patient(request, patient_id, Action.EDIT)
    plan = _plan_of(patient)
    if plan is None:
        messages.error(request, "Start the care plan first: there is none for this episode yet.")
        return _to_plan(patient)
    form = kind.add_form(_posted(request), plan=plan)
    if form.is_bound and form.is_valid():
        try:
            row = kind.add(actor, plan, form.service_data(), form.reason_given)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, f"{kind.noun} added: {kind.name_of(row)}.")
            return _to_plan(patient, f"{kind.anchor}-{row.pk}")
    return _form_page(
        request, actor, patient, plan, form, title, submit_label=f"Add {kind.noun.lower()}"
    )


def _edit_page(request: HttpRequest, patient_id: Any, row_id: Any, kind: PartKind) -> HttpResponse:
    actor, patient = _patient(request, patient_id, Action.EDIT)
    plan = _plan_or_404(patient)
    rows = kind.model._default_manager.filter(plan=plan).exclude(
        **{kind.status_field: ENTERED_IN_ERROR}
    )
    row: Any = get_object_or_404(rows, pk=row_id)
    row.plan = plan
    form = kind.edit_form(_posted(request), plan=plan, row=row)
    conflict = None
    if form.is_bound and form.is_valid():
        try:
            saved = kind.update(
                actor, row, form.service_data(), form.cleaned_data["version"], form.reason_given
            )
        except VersionConflict as stale:
            conflict, form = form.differences_from(stale.current), form.rebased_on(stale.current)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, f"{kind.noun} saved: {kind.name_of(saved)}.")
            return _to_plan(patient, f"{kind.anchor}-{saved.pk}")
    title = f"Change {kind.noun.lower()}: {kind.name_of(row)}"
    return _form_page(request, actor, patient, plan, form, title, conflict=conflict)


@agency_page
def problem_add(request: HttpRequest, patient_id: Any) -> HttpResponse:
    return _add_page(request, patient_id, PROBLEM, "Add a problem")


@agency_page
def problem_edit(request: HttpRequest, patient_id: Any, problem_id: Any) -> HttpResponse:
    return _edit_page(request, patient_id, problem_id, PROBLEM)


@agency_page
def goal_add(request: HttpRequest, patient_id: Any) -> HttpResponse:
    return _add_page(request, patient_id, GOAL, "Add a goal")


@agency_page
def goal_edit(request: HttpRequest, patient_id: Any, goal_id: Any) -> HttpResponse:
    return _edit_page(request, patient_id, goal_id, GOAL)


@agency_page
def intervention_add(request: HttpRequest, patient_id: Any) -> HttpResponse:
    return _add_page(request, patient_id, INTERVENTION, "Add an intervention")


@agency_page
def intervention_edit(request: HttpRequest, patient_id: Any, intervention_id: Any) -> HttpResponse:
    return _edit_page(request, patient_id, intervention_id, INTERVENTION)


@agency_page
def frequency_add(request: HttpRequest, patient_id: Any) -> HttpResponse:
    return _add_page(request, patient_id, FREQUENCY, "Set a visit frequency")


@agency_page
def frequency_edit(request: HttpRequest, patient_id: Any, frequency_id: Any) -> HttpResponse:
    return _edit_page(request, patient_id, frequency_id, FREQUENCY)


# --- the plan's own fields and status ------------------------------------------------------------


def _plan_page(
    request: HttpRequest, patient_id: Any, form_class: type[PlanForm], title: str, done: str
) -> HttpResponse:
    actor, patient = _patient(request, patient_id, Action.EDIT)
    plan = _plan_or_404(patient)
    form = form_class(_posted(request), plan=plan, row=plan)
    conflict = None
    if form.is_bound and form.is_valid():
        try:
            saved = services.update_plan(
                actor, plan, form.service_data(), form.cleaned_data["version"], form.reason_given
            )
        except VersionConflict as stale:
            conflict, form = form.differences_from(stale.current), form.rebased_on(stale.current)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, done.format(status=saved.get_status_display().lower()))
            return _to_plan(patient)
    return _form_page(request, actor, patient, plan, form, title, conflict=conflict)


@agency_page
def plan_edit(request: HttpRequest, patient_id: Any) -> HttpResponse:
    return _plan_page(request, patient_id, PlanEditForm, "Change the plan's title or review date",
                      "Care plan saved.")  # fmt: skip


@agency_page
def plan_status(request: HttpRequest, patient_id: Any) -> HttpResponse:
    return _plan_page(request, patient_id, PlanStatusForm, "Change the plan's status",
                      "The care plan is now {status}.")  # fmt: skip


# --- a task from an intervention -----------------------------------------------------------------


@agency_page
def intervention_task(request: HttpRequest, patient_id: Any, intervention_id: Any) -> HttpResponse:
    actor, patient = _patient(request, patient_id, Action.EDIT)
    plan = _plan_or_404(patient)
    rows = Intervention.objects.filter(plan=plan).select_related("clinician", "caregiver")
    row = get_object_or_404(rows, pk=intervention_id)
    row.plan = plan
    if request.method != "POST":  # the button is on the plan
        return _to_plan(patient, f"intervention-{row.pk}")
    try:
        task = services.raise_intervention_task(actor, row)
    except ValidationError as error:
        for message in _messages_of(error):
            messages.error(request, message)
    else:
        whose = task.assigned_to.display_name if task.assigned_to else "the team"
        messages.success(request, f"Task raised on {whose}'s list: {task.title}.")
    return _to_plan(patient, f"intervention-{row.pk}")


# --- revisions -----------------------------------------------------------------------------------


def _refuse_post(request: HttpRequest, patient_id: Any) -> HttpResponse:
    """A page that only reads answers a POST as a write is answered first (403 to a member
    who may only read, 404 to everyone else), then as a method it does not take."""
    _patient(request, patient_id, Action.EDIT)
    return HttpResponseNotAllowed(["GET"])


@agency_page
def revision_list(request: HttpRequest, patient_id: Any) -> HttpResponse:
    if request.method == "POST":
        return _refuse_post(request, patient_id)
    actor, patient = _patient(request, patient_id, Action.VIEW)
    plan = _plan_or_404(patient)
    with transaction.atomic():
        context: dict[str, Any] = {"plan": plan, "revisions": queries.revisions_of(plan)}
        context |= audited_chart_frame(request, actor, patient, SECTION, plan, page="revisions")
    return render(request, "careplans/revisions.html", context)


@agency_page
def revision_compare(request: HttpRequest, patient_id: Any) -> HttpResponse:
    if request.method == "POST":
        return _refuse_post(request, patient_id)
    actor, patient = _patient(request, patient_id, Action.VIEW)
    plan = _plan_or_404(patient)
    newer_number = _number(request.GET.get("newer"), plan.revision)
    older_number = _number(request.GET.get("older"), newer_number - 1)
    if older_number > newer_number:
        older_number, newer_number = newer_number, older_number
    with transaction.atomic():
        newer = queries.revision(plan, newer_number)
        if newer is None:
            raise Http404("No such revision of this plan")
        older = queries.revision(plan, older_number) if older_number != newer_number else None
        changes = revisions.differences(older.content if older else {}, newer.content)
        context: dict[str, Any] = {
            "plan": plan,
            "older": older,
            "newer": newer,
            "changes": changes,
            "numbers": range(plan.revision, 0, -1),
        }
        context |= audited_chart_frame(
            request, actor, patient, SECTION, plan, page="revisions",
            compared=[older_number, newer_number],
        )  # fmt: skip
    return render(request, "careplans/compare.html", context)


def _number(raw: Any, default: int) -> int:
    try:
        return max(int(raw), 0)
    except (TypeError, ValueError):
        return default


# --- a frequency in words, as it is typed --------------------------------------------------------


@agency_page
def frequency_words(request: HttpRequest) -> HttpResponse:
    """The notation typed so far, read back in words or with what is wrong with it (the
    frequency field asks as the person types; no patient data is read)."""
    from .frequency import FrequencyError, parse

    text = request.GET.get("frequency", "").strip()
    words, problem = "", ""
    if text:
        try:
            words = parse(text).in_words()
        except FrequencyError as error:
            problem = str(error)
    context = {"words": words, "problem": problem}
    return render(request, "careplans/_frequency_words.html", context)

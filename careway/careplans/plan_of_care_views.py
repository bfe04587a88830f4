"""The plan of care's pages: the patient's plans of care and verbal orders (the card of the
chart's Care plan section, and its own page), the draft's form, sending (with the PDF), marking
signed, verbal orders, the agency's "Orders awaiting signature" and the Today list of overdue
ones. Thin views: access through careway.patients.access (404 not-yours, 403 read-only),
writes through careway/careplans/plan_of_care.py, every read audited.
"""

from collections.abc import Callable
from datetime import date
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import Organization, User
from careway.patients import access
from careway.patients.access import Action
from careway.patients.frame import audited_chart_frame
from careway.patients.models import Patient
from careway.patients.today import TodayRow
from careway.toolkit.pages import agency_page

from . import certification, icd10, plan_of_care, queries
from .models import PlanOfCare, VerbalOrder
from .permissions import CAREPLANS_EDIT
from .plan_of_care_forms import PlanOfCareForm, SendForm, SignedForm, VerbalOrderForm


def overdue_today_rows(user: User, patients: QuerySet[Patient], today: date) -> list[TodayRow]:
    """Plans of care and verbal orders of the person's patients unsigned past their due day,
    longest overdue first (two queries)."""
    if user.organization_id is None:
        return []
    ids = patients.values("pk")
    pocs, verbal = plan_of_care.unsigned_orders(user.organization_id, ids)
    rows: list[tuple[int, TodayRow]] = []
    for row in [*pocs, *verbal]:
        days = plan_of_care.overdue_days(row, today)
        if not days:
            continue
        what = "Plan of care" if isinstance(row, plan_of_care.PlanOfCare) else "Verbal order"
        rows.append(
            (
                days,
                TodayRow(
                    patient_id=row.patient_id,
                    title=f"{what} unsigned, due {row.due_by:%b %-d}",
                    reason=f"Sent {row.sent_at:%b %-d} and not signed: {days} day"
                    f"{'s' if days != 1 else ''} overdue. Call the practitioner's office.",
                    urgency="overdue",
                    url=_url_of(row),
                    item=row,
                ),
            )
        )
    rows.sort(key=lambda pair: -pair[0])
    return [row for _, row in rows]


def _url_of(row: Any) -> str:
    return reverse("careplans:plan_of_care_list", kwargs={"patient_id": row.patient_id})


# --- pages --------------------------------------------------------------------------------------

SECTION = "care-plan"


def _patient(request: HttpRequest, patient_id: Any, action: Action) -> tuple[audit.Actor, Patient]:
    actor = audit.Actor.from_request(request)
    return actor, access.get_patient_for(actor, patient_id, action, CAREPLANS_EDIT)


def _poc(actor: audit.Actor, patient: Patient, poc_id: Any, action: Action) -> PlanOfCare:
    poc = access.get_record_for(actor, PlanOfCare, poc_id, action)
    if poc.patient_id != patient.pk:
        raise Http404("No such plan of care")
    return poc


def _to_list(patient: Patient) -> HttpResponse:
    return redirect("careplans:plan_of_care_list", patient_id=patient.pk)


def card_context(patient: Patient) -> dict[str, Any]:
    """The "Plan of care" card of the Care plan section and the plan of care page."""
    today = plan_of_care.agency_today(patient.organization_id)
    pocs = list(
        PlanOfCare.objects.filter(patient=patient)
        .exclude(status=PlanOfCare.Status.ENTERED_IN_ERROR)
        .order_by("-period_start", "-created_at")
    )
    for poc in pocs:
        poc.overdue_days = plan_of_care.overdue_days(poc, today)  # type: ignore[attr-defined]
    verbal = list(
        VerbalOrder.objects.filter(patient=patient)
        .exclude(status=VerbalOrder.Status.ENTERED_IN_ERROR)
        .select_related("taken_by")
        .order_by("-taken_at")
    )
    for order in verbal:
        order.overdue_days = plan_of_care.overdue_days(order, today)  # type: ignore[attr-defined]
    return {"pocs": pocs, "verbal_orders": verbal, "poc_today": today}


@agency_page
def plan_of_care_list(request: HttpRequest, patient_id: Any) -> HttpResponse:
    """The patient's plans of care and verbal orders; POST drafts the current period's."""
    action = Action.EDIT if request.method == "POST" else Action.VIEW
    actor, patient = _patient(request, patient_id, action)
    plan = queries.current_plan(patient)
    if request.method == "POST":
        if plan is None:
            messages.error(request, "Start the care plan first: the plan of care is drawn from it.")
            return _to_list(patient)
        try:
            poc = plan_of_care.draft_plan_of_care(actor, plan)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return _to_list(patient)
        messages.success(request, "Plan of care drafted: check the proposed diagnoses.")
        return redirect("careplans:plan_of_care_edit", patient_id=patient.pk, poc_id=poc.pk)
    with transaction.atomic():
        frame = audited_chart_frame(request, actor, patient, SECTION, form="plan of care")
    context = {
        **frame,
        **card_context(patient),
        "plan": plan,
        "can_edit_plan": access.can_edit(cast(User, request.user), patient, CAREPLANS_EDIT),
        "send_form": SendForm(),
        "signed_form": SignedForm(initial={"signed_on": timezone.localdate()}),
        "title": "Plan of care",
    }
    return render(request, "careplans/plan_of_care/list.html", context)


@agency_page
def plan_of_care_edit(request: HttpRequest, patient_id: Any, poc_id: Any) -> HttpResponse:
    action = Action.EDIT if request.method == "POST" else Action.VIEW
    actor, patient = _patient(request, patient_id, action)
    poc = _poc(actor, patient, poc_id, action)
    form = PlanOfCareForm(request.POST if request.method == "POST" else None, poc=poc)
    conflict: list[Any] | None = None
    if form.is_bound and form.is_valid():
        try:
            plan_of_care.update_plan_of_care(
                actor, poc, form.service_data(), form.cleaned_data["version"]
            )
        except VersionConflict as stale:
            # What the person typed, aimed at the version saved now: saving again is deliberate.
            conflict, poc = [], stale.current
            data = request.POST.copy()
            data["version"] = str(poc.version)
            form = PlanOfCareForm(data, poc=poc)
            form.is_valid()
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, "Plan of care saved.")
            return _to_list(patient)
    problems = certification.problems(poc) if poc.status == PlanOfCare.Status.DRAFT else {}
    status = 409 if conflict is not None else 422 if form.errors else 200
    with transaction.atomic():
        frame = audited_chart_frame(request, actor, patient, SECTION, poc, form="plan of care")
    context = {
        **frame,
        "poc": poc,
        "form": form,
        "conflict": conflict,
        "problems": problems,
        "picker": icd10.picker_choices(),
        "homebound_criteria": certification.HOMEBOUND_CRITERIA,
        "title": f"Plan of care {poc.period_start:%m/%d/%Y}-{poc.period_end:%m/%d/%Y}",
        "editable": poc.status == PlanOfCare.Status.DRAFT,
    }
    return render(request, "careplans/plan_of_care/form.html", context, status=status)


@agency_page
def plan_of_care_send(request: HttpRequest, patient_id: Any, poc_id: Any) -> HttpResponse:
    if request.method != "POST":  # the buttons are on the plans of care page
        return _to_list(_patient(request, patient_id, Action.VIEW)[1])
    actor, patient = _patient(request, patient_id, Action.EDIT)
    poc = _poc(actor, patient, poc_id, Action.EDIT)
    form = SendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how the plan of care is sent.")
        return _to_list(patient)
    try:
        plan_of_care.send_plan_of_care(
            actor, poc, form.cleaned_data["how"], form.cleaned_data["version"]
        )
    except VersionConflict:
        messages.error(request, "Someone changed this plan of care meanwhile: check it again.")
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("careplans:plan_of_care_edit", patient_id=patient.pk, poc_id=poc.pk)
    else:
        messages.success(request, "Plan of care sent for signature. Download the PDF below.")
    return _to_list(patient)


@agency_page
def plan_of_care_sign(request: HttpRequest, patient_id: Any, poc_id: Any) -> HttpResponse:
    if request.method != "POST":  # the buttons are on the plans of care page
        return _to_list(_patient(request, patient_id, Action.VIEW)[1])
    actor, patient = _patient(request, patient_id, Action.EDIT)
    poc = _poc(actor, patient, poc_id, Action.EDIT)
    form = SignedForm(request.POST)
    _signed(request, form, lambda d, v: plan_of_care.mark_plan_of_care_signed(actor, poc, d, v))
    return _to_list(patient)


def _signed(request: HttpRequest, form: SignedForm, mark: Callable[..., Any]) -> None:
    if not form.is_valid():
        messages.error(request, "Give the date the practitioner signed.")
        return
    try:
        mark(form.cleaned_data["signed_on"], form.cleaned_data["version"])
    except VersionConflict:
        messages.error(request, "Someone changed it meanwhile: check it again.")
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, "Marked signed.")


@agency_page
def plan_of_care_pdf(request: HttpRequest, patient_id: Any, poc_id: Any) -> HttpResponse:
    """The PDF as sent (or, for a draft, as it would go); audited as an export."""
    actor, patient = _patient(request, patient_id, Action.VIEW)
    poc = _poc(actor, patient, poc_id, Action.VIEW)
    organization = Organization.objects.get(pk=poc.organization_id)
    with transaction.atomic():
        data = bytes(poc.sent_pdf) if poc.sent_pdf else plan_of_care.pdf_of(poc, organization)
        audit.record(actor, "plan_of_care.download", patient_id=patient.pk, obj=poc)
    if data is None:
        context = plan_of_care.pdf_context(poc, organization)
        return render(request, plan_of_care.PDF_TEMPLATE, context)
    response = HttpResponse(data, content_type="application/pdf")
    name = f"plan-of-care-{patient.family_name}-{poc.period_start}.pdf".lower()
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@agency_page
def verbal_order_add(request: HttpRequest, patient_id: Any) -> HttpResponse:
    action = Action.EDIT if request.method == "POST" else Action.VIEW
    actor, patient = _patient(request, patient_id, action)
    plan = queries.current_plan(patient)
    if plan is None:
        raise Http404("No care plan")
    form = VerbalOrderForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            plan_of_care.take_verbal_order(actor, plan, form.service_data())
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, "Verbal order recorded. Send it for signature.")
            return _to_list(patient)
    with transaction.atomic():
        frame = audited_chart_frame(request, actor, patient, SECTION, form="verbal order")
    context = {**frame, "plan": plan, "form": form, "title": "Record a verbal order",
               "submit_label": "Record the order"}  # fmt: skip
    return render(request, "careplans/form.html", context, status=422 if form.errors else 200)


@agency_page
def verbal_order_send(request: HttpRequest, patient_id: Any, order_id: Any) -> HttpResponse:
    if request.method != "POST":  # the buttons are on the plans of care page
        return _to_list(_patient(request, patient_id, Action.VIEW)[1])
    actor, patient = _patient(request, patient_id, Action.EDIT)
    order = access.get_record_for(actor, VerbalOrder, order_id, Action.EDIT)
    form = SendForm(request.POST)
    if form.is_valid():
        try:
            plan_of_care.send_verbal_order(
                actor, order, form.cleaned_data["how"], form.cleaned_data["version"]
            )
        except (ValidationError, VersionConflict) as error:
            messages.error(request, "; ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(request, "Verbal order sent for signature.")
    return _to_list(patient)


@agency_page
def verbal_order_sign(request: HttpRequest, patient_id: Any, order_id: Any) -> HttpResponse:
    if request.method != "POST":  # the buttons are on the plans of care page
        return _to_list(_patient(request, patient_id, Action.VIEW)[1])
    actor, patient = _patient(request, patient_id, Action.EDIT)
    order = access.get_record_for(actor, VerbalOrder, order_id, Action.EDIT)
    form = SignedForm(request.POST)
    _signed(request, form, lambda d, v: plan_of_care.mark_verbal_order_signed(actor, order, d, v))
    return _to_list(patient)


@agency_page
def orders_awaiting(request: HttpRequest) -> HttpResponse:
    """Every plan of care and verbal order sent and unsigned, of the patients this person may
    see, overdue first (longest overdue first), then by due day."""
    user = cast(User, request.user)
    if user.organization_id is None or not user.has_perm_code(CAREPLANS_EDIT):
        raise Http404("Not found")
    actor = audit.Actor.from_request(request)
    patients = access.visible_patients(user)
    today = plan_of_care.agency_today(user.organization_id)
    pocs, verbal = plan_of_care.unsigned_orders(user.organization_id, patients.values("pk"))
    rows = [
        {"kind": "Plan of care", "row": r, "overdue": plan_of_care.overdue_days(r, today)}
        for r in pocs
    ] + [
        {"kind": "Verbal order", "row": r, "overdue": plan_of_care.overdue_days(r, today)}
        for r in verbal
    ]
    rows.sort(key=lambda r: (-r["overdue"], r["row"].due_by))
    with transaction.atomic():
        for patient_id in {r["row"].patient_id for r in rows}:
            audit.record(actor, "patient.list", patient_id=patient_id,
                         detail={"list": "orders-awaiting-signature"})  # fmt: skip
    context = {"rows": rows, "title": "Orders awaiting signature", "today": today,
               "overdue_count": sum(1 for r in rows if r["overdue"])}  # fmt: skip
    return render(request, "careplans/plan_of_care/awaiting.html", context)

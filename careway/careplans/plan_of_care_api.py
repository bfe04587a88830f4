"""The physician's plan of care and verbal orders as JSON, under /api/v1, beside the care plan
(careway/careplans/api.py mounts this router): a patient's plans of care, drafting one for the
current certification period, reading and changing a draft (PATCH, naming its version by If-Match
or `version`), sending it (`how`: fax, print or portal; the PDF is kept as sent), marking it signed,
entering it in error, the PDF; verbal orders taken, sent and signed.

The same rules as the rest of the care plan API: the patient decided by careway.patients.access
(404 not-yours, 403 to write for one who may only read: that needs careplans.edit), reads audited
in their transaction, writes through careway/careplans/plan_of_care.py, which audits them. What
stops a plan of care being sent answers 422 naming each field (`diagnoses.1.code` for a row).
"""

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal, Protocol, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Status
from pydantic import AfterValidator, StringConstraints

from careway.core import audit
from careway.core.models import Organization
from careway.patients import access
from careway.patients.access import Action
from careway.patients.models import Patient
from careway.patients.schemas import InputSchema, OutputSchema, Version, finite, storable_text
from careway.toolkit.api import (
    IF_MATCH,
    READ_ERRORS,
    UPDATE_ERRORS,
    WRITE_ERRORS,
    PageParams,
    etag,
    expected_version,
    operation,
    paginate,
    problem,
)
from careway.toolkit.auth import READ, WRITE, actor_for

from . import certification, plan_of_care, queries
from .models import PlanOfCare, VerbalOrder
from .permissions import CAREPLANS_EDIT

router = Router(tags=["plans of care"])

SECTION = "careplan"
PATIENT_POCS = "/patients/{patient_id}/plans-of-care"
POC = "/plans-of-care/{poc_id}"
PATIENT_VERBAL = "/patients/{patient_id}/verbal-orders"
VERBAL = "/verbal-orders/{order_id}"
How = Literal["fax", "print", "portal"]
# A null sent for one of these clears it.
TEXT_FIELDS = frozenset(
    {
        "mental_status", "rehab_potential", "discharge_plans", "safety_measures",
        "nutritional_requirements", "equipment_supplies", "hospitalization_risk",
        "practitioner_name", "practitioner_kind", "practitioner_npi", "practitioner_address",
        "practitioner_phone", "face_to_face_practitioner", "face_to_face_kind",
        "face_to_face_findings", "homebound_reason", "prognosis",
    }
)  # fmt: skip


# --- shapes -------------------------------------------------------------------------------------


def _text(limit: int) -> Any:
    return Annotated[str, StringConstraints(max_length=limit), AfterValidator(storable_text)]


# Form CMS-485's boxes 18.A and 18.B (certification.FUNCTIONAL_LIMITATIONS, ACTIVITIES_PERMITTED).
FunctionalKey = Literal["1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B"]
ActivityKey = Literal["1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D"]
Number = Annotated[float, AfterValidator(finite), Field(gt=0, le=10_000)]


class Diagnosis(InputSchema):
    code: _text(10) = Field(..., description="ICD-10-CM, a billable code.")  # type: ignore[valid-type]
    display: _text(300) = ""  # type: ignore[valid-type]
    principal: bool = False
    onset: _text(10) = Field("", description="Date of onset or exacerbation.")  # type: ignore[valid-type]
    snomed: _text(40) = ""  # type: ignore[valid-type]
    snomed_display: _text(300) = ""  # type: ignore[valid-type]


class DiagnosisOut(OutputSchema):
    code: str
    display: str = ""
    principal: bool = False
    onset: str = ""
    snomed: str = ""
    snomed_display: str = ""


class PlanOfCareOut(OutputSchema):
    id: uuid.UUID
    patient_id: uuid.UUID
    plan_id: uuid.UUID
    version: int
    kind: str
    status: str
    period_start: date
    period_end: date
    diagnoses: list[DiagnosisOut]
    mental_status: str
    prognosis: str
    rehab_potential: str
    discharge_plans: str
    safety_measures: str
    nutritional_requirements: str
    equipment_supplies: str
    hospitalization_risk: str
    functional_limitations: list[str]
    activities_permitted: list[str]
    notify_if: dict[str, float | None]
    practitioner_name: str
    practitioner_kind: str
    practitioner_npi: str
    practitioner_address: str
    practitioner_phone: str
    face_to_face_date: date | None
    face_to_face_practitioner: str
    face_to_face_kind: str
    face_to_face_findings: str
    homebound: bool | None
    homebound_reason: str
    surgical_procedure: str
    content: dict[str, Any]
    problems: dict[str, str] = Field(..., description="What stops it being sent, by field.")
    sent_at: datetime | None
    sent_how: str
    due_by: date | None
    overdue: bool
    signed_on: date | None
    pdf: str | None = Field(None, description="Where the PDF as sent is served.")


class PlanOfCarePage(OutputSchema):
    count: int
    next: str | None
    previous: str | None
    items: list[PlanOfCareOut]


class PlanOfCarePatch(InputSchema):
    version: Version | None = None
    diagnoses: list[Diagnosis] | None = Field(None, max_length=25)
    mental_status: _text(300) | None = None  # type: ignore[valid-type]
    prognosis: Literal["", "poor", "guarded", "fair", "good", "excellent"] | None = None
    rehab_potential: _text(4000) | None = None  # type: ignore[valid-type]
    discharge_plans: _text(4000) | None = None  # type: ignore[valid-type]
    safety_measures: _text(4000) | None = None  # type: ignore[valid-type]
    nutritional_requirements: _text(4000) | None = None  # type: ignore[valid-type]
    equipment_supplies: _text(4000) | None = None  # type: ignore[valid-type]
    hospitalization_risk: _text(4000) | None = None  # type: ignore[valid-type]
    functional_limitations: list[FunctionalKey] | None = Field(None, max_length=11)
    activities_permitted: list[ActivityKey] | None = Field(None, max_length=13)
    notify_if: dict[_text(40), Number | None] | None = None  # type: ignore[valid-type]
    practitioner_name: _text(200) | None = None  # type: ignore[valid-type]
    practitioner_kind: _text(4) | None = None  # type: ignore[valid-type]
    practitioner_npi: _text(10) | None = None  # type: ignore[valid-type]
    practitioner_address: _text(300) | None = None  # type: ignore[valid-type]
    practitioner_phone: _text(30) | None = None  # type: ignore[valid-type]
    face_to_face_date: date | None = None
    face_to_face_practitioner: _text(200) | None = None  # type: ignore[valid-type]
    face_to_face_kind: _text(4) | None = None  # type: ignore[valid-type]
    face_to_face_findings: _text(4000) | None = None  # type: ignore[valid-type]
    homebound: bool | None = None
    homebound_reason: _text(4000) | None = None  # type: ignore[valid-type]
    surgical_procedure: _text(300) | None = None  # type: ignore[valid-type]


class SendIn(InputSchema):
    how: How
    sent_on: date | None = Field(None, description="The day it went, when recorded late.")
    version: Version | None = None


class SignedIn(InputSchema):
    signed_on: date
    version: Version | None = None


class ErrorIn(InputSchema):
    reason: _text(2000) = Field(..., min_length=1)  # type: ignore[valid-type]
    version: Version | None = None


class VerbalOrderIn(InputSchema):
    text: _text(4000) = Field(..., min_length=1)  # type: ignore[valid-type]
    discipline: Literal["", "RN", "LPN", "PT", "OT", "SLP", "MSW", "HHA"] = ""
    practitioner_name: _text(200) = Field(..., min_length=1)  # type: ignore[valid-type]
    practitioner_kind: Literal["MD", "DO", "DPM", "NP", "CNS", "PA", "CNM"]
    read_back: bool = Field(..., description="Read back to the practitioner: must be true.")
    plan_of_care_id: uuid.UUID | None = None


class VerbalOrderOut(OutputSchema):
    id: uuid.UUID
    patient_id: uuid.UUID
    plan_of_care_id: uuid.UUID | None
    version: int
    text: str
    discipline: str
    practitioner_name: str
    practitioner_kind: str
    taken_by: str | None
    taken_at: datetime
    read_back: bool
    status: str
    sent_at: datetime | None
    sent_how: str
    due_by: date | None
    overdue: bool
    signed_on: date | None


class VerbalOrderPage(OutputSchema):
    count: int
    next: str | None
    previous: str | None
    items: list[VerbalOrderOut]


# --- plans of care ------------------------------------------------------------------------------


@router.get(PATIENT_POCS, **operation(READ, {200: PlanOfCarePage}, READ_ERRORS))
def list_plans_of_care(
    request: HttpRequest, patient_id: uuid.UUID, page: Query[PageParams]
) -> dict[str, Any]:
    """The patient's plans of care, newest period first (entered in error left out)."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id)
    rows = (
        PlanOfCare.objects.filter(organization_id=patient.organization_id, patient=patient)
        .exclude(status=PlanOfCare.Status.ENTERED_IN_ERROR)
        .select_related("episode")
        .order_by("-period_start", "-created_at", "pk")
    )
    with transaction.atomic():
        result = paginate(request, rows, page)
        result["items"] = [_poc(row) for row in result["items"]]
        audit.record(actor, "patient.view", patient_id=patient.pk,
                     detail={"section": SECTION, "plans_of_care": True})  # fmt: skip
    return result


@router.post(PATIENT_POCS, **operation(WRITE, {201: PlanOfCareOut}, WRITE_ERRORS))
def draft_plan_of_care(
    request: HttpRequest, patient_id: uuid.UUID, response: HttpResponse
) -> Status:
    """Draft the plan of care of the current certification period from the care plan and the
    chart (diagnoses proposed from the active conditions)."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id, Action.EDIT, CAREPLANS_EDIT)
    plan = queries.current_plan(patient)
    if plan is None:
        raise ValidationError(
            {"plan": "Start the care plan first: the plan of care comes from it."}
        )
    poc = plan_of_care.draft_plan_of_care(actor, plan)
    response["Location"] = f"/api/v1/plans-of-care/{poc.pk}"
    response["ETag"] = etag(poc.version)
    return Status(201, _poc(poc))


def _poc_for(request: HttpRequest, poc_id: uuid.UUID, action: Action) -> tuple[Any, PlanOfCare]:
    actor = actor_for(request)
    poc = access.get_record_for(
        actor, PlanOfCare, poc_id, action, PlanOfCare.objects.select_related("episode")
    )
    return actor, poc


@router.get(POC, **operation(READ, {200: PlanOfCareOut}, READ_ERRORS))
def get_plan_of_care(
    request: HttpRequest, poc_id: uuid.UUID, response: HttpResponse
) -> dict[str, Any]:
    actor, poc = _poc_for(request, poc_id, Action.VIEW)
    with transaction.atomic():
        audit.record(actor, "patient.view", patient_id=poc.patient_id, obj=poc,
                     detail={"section": SECTION})  # fmt: skip
    response["ETag"] = etag(poc.version)
    return _poc(poc)


@router.patch(POC, **operation(WRITE, {200: PlanOfCareOut}, UPDATE_ERRORS))
def update_plan_of_care(
    request: HttpRequest,
    poc_id: uuid.UUID,
    payload: PlanOfCarePatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """Change a draft; send only the fields that change."""
    actor, poc = _poc_for(request, poc_id, Action.EDIT)
    data = payload.model_dump(exclude_unset=True)
    version = expected_version(if_match, data.pop("version", None))
    for name, value in list(data.items()):
        if value is None and name in TEXT_FIELDS:
            data[name] = ""
    changed = plan_of_care.update_plan_of_care(actor, poc, data, version)
    response["ETag"] = etag(changed.version)
    return _poc(changed)


@router.post(f"{POC}/send", **operation(WRITE, {200: PlanOfCareOut}, UPDATE_ERRORS))
def send_plan_of_care(
    request: HttpRequest,
    poc_id: uuid.UUID,
    payload: SendIn,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """Send it for signature: 422 naming every field that stops it; the PDF is kept as sent."""
    actor, poc = _poc_for(request, poc_id, Action.EDIT)
    sent = _sent(actor, poc, payload, if_match, plan_of_care.send_plan_of_care)
    response["ETag"] = etag(sent.version)
    return _poc(sent)


@router.post(f"{POC}/signed", **operation(WRITE, {200: PlanOfCareOut}, UPDATE_ERRORS))
def mark_plan_of_care_signed(
    request: HttpRequest,
    poc_id: uuid.UUID,
    payload: SignedIn,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    actor, poc = _poc_for(request, poc_id, Action.EDIT)
    signed = _signed(actor, poc, payload, if_match, plan_of_care.mark_plan_of_care_signed)
    response["ETag"] = etag(signed.version)
    return _poc(signed)


@router.post(f"{POC}/entered-in-error", **operation(WRITE, {200: PlanOfCareOut}, UPDATE_ERRORS))
def enter_plan_of_care_in_error(
    request: HttpRequest,
    poc_id: uuid.UUID,
    payload: ErrorIn,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """Nothing is deleted: a plan of care made by mistake is marked entered in error."""
    actor, poc = _poc_for(request, poc_id, Action.EDIT)
    changed = plan_of_care.enter_plan_of_care_in_error(
        actor, poc, payload.reason, expected_version(if_match, payload.version)
    )
    response["ETag"] = etag(changed.version)
    return _poc(changed)


@router.get(f"{POC}/pdf", **operation(READ, {200: None}, READ_ERRORS))
def plan_of_care_pdf(request: HttpRequest, poc_id: uuid.UUID) -> HttpResponse:
    """The PDF as sent (a draft's as it would go), application/pdf; audited as a download."""
    actor, poc = _poc_for(request, poc_id, Action.VIEW)
    organization = Organization.objects.get(pk=poc.organization_id)
    with transaction.atomic():
        data = bytes(poc.sent_pdf) if poc.sent_pdf else plan_of_care.pdf_of(poc, organization)
        audit.record(actor, "plan_of_care.download", patient_id=poc.patient_id, obj=poc)
    if data is None:
        return problem(503, "PDF cannot be made on this server: print the page instead.")
    return HttpResponse(data, content_type="application/pdf")


# --- verbal orders ------------------------------------------------------------------------------


@router.get(PATIENT_VERBAL, **operation(READ, {200: VerbalOrderPage}, READ_ERRORS))
def list_verbal_orders(
    request: HttpRequest, patient_id: uuid.UUID, page: Query[PageParams]
) -> dict[str, Any]:
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id)
    rows = (
        VerbalOrder.objects.filter(organization_id=patient.organization_id, patient=patient)
        .exclude(status=VerbalOrder.Status.ENTERED_IN_ERROR)
        .select_related("taken_by")
        .order_by("-taken_at", "pk")
    )
    with transaction.atomic():
        result = paginate(request, rows, page)
        result["items"] = [_verbal(row) for row in result["items"]]
        audit.record(actor, "patient.view", patient_id=patient.pk,
                     detail={"section": SECTION, "verbal_orders": True})  # fmt: skip
    return result


@router.post(PATIENT_VERBAL, **operation(WRITE, {201: VerbalOrderOut}, WRITE_ERRORS))
def take_verbal_order(
    request: HttpRequest, patient_id: uuid.UUID, payload: VerbalOrderIn, response: HttpResponse
) -> Status:
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id, Action.EDIT, CAREPLANS_EDIT)
    plan = _plan_or_refuse(patient)
    data = payload.model_dump()
    if data["plan_of_care_id"] is None:
        del data["plan_of_care_id"]
    order = plan_of_care.take_verbal_order(actor, plan, data)
    response["Location"] = f"/api/v1/verbal-orders/{order.pk}"
    return Status(201, _verbal(order))


def _plan_or_refuse(patient: Patient) -> Any:
    plan = queries.current_plan(patient)
    if plan is None:
        raise ValidationError({"plan": "Start the care plan first."})
    return plan


@router.post(f"{VERBAL}/send", **operation(WRITE, {200: VerbalOrderOut}, UPDATE_ERRORS))
def send_verbal_order(
    request: HttpRequest,
    order_id: uuid.UUID,
    payload: SendIn,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    actor, order = _order_for(request, order_id)
    return _verbal(_sent(actor, order, payload, if_match, plan_of_care.send_verbal_order))


@router.post(f"{VERBAL}/signed", **operation(WRITE, {200: VerbalOrderOut}, UPDATE_ERRORS))
def mark_verbal_order_signed(
    request: HttpRequest,
    order_id: uuid.UUID,
    payload: SignedIn,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    actor, order = _order_for(request, order_id)
    return _verbal(_signed(actor, order, payload, if_match, plan_of_care.mark_verbal_order_signed))


def _order_for(request: HttpRequest, order_id: uuid.UUID) -> tuple[audit.Actor, VerbalOrder]:
    actor = actor_for(request)
    return actor, access.get_record_for(actor, VerbalOrder, order_id, Action.EDIT)


# --- sending and signing, a plan of care's and a verbal order's alike -------------------------

OrderT = TypeVar("OrderT", PlanOfCare, VerbalOrder)


class _Send(Protocol[OrderT]):
    """plan_of_care.send_plan_of_care or send_verbal_order."""

    def __call__(
        self,
        actor: audit.Actor,
        order: OrderT,
        how: str,
        expected_version: int,
        /,
        *,
        sent_on: date | None = None,
    ) -> OrderT: ...


def _sent(
    actor: audit.Actor,
    order: OrderT,
    payload: SendIn,
    if_match: str | None,
    send: _Send[OrderT],
) -> OrderT:
    """`order` sent for signature by `send` as `payload` says, against the version the caller
    read (If-Match or the body's `version`)."""
    expected = expected_version(if_match, payload.version)
    return send(actor, order, payload.how, expected, sent_on=payload.sent_on)


def _signed(
    actor: audit.Actor,
    order: OrderT,
    payload: SignedIn,
    if_match: str | None,
    mark: Callable[[audit.Actor, OrderT, date, int], OrderT],
) -> OrderT:
    """`order` marked signed by `mark` on the day `payload` says, against the version the
    caller read."""
    return mark(actor, order, payload.signed_on, expected_version(if_match, payload.version))


# --- answers ------------------------------------------------------------------------------------


def _poc(poc: PlanOfCare) -> dict[str, Any]:
    today = plan_of_care.agency_today(poc.organization_id)
    fields = PlanOfCareOut.model_fields
    body = {name: getattr(poc, name) for name in fields if hasattr(poc, name)}
    body.update(
        {
            "surgical_procedure": poc.content.get("surgical_procedure", ""),
            "content": poc.content if poc.status != PlanOfCare.Status.DRAFT else {},
            "problems": certification.problems(poc) if poc.status == "draft" else {},
            "overdue": plan_of_care.is_overdue(poc, today),
            "pdf": f"/api/v1/plans-of-care/{poc.pk}/pdf" if poc.status != "draft" else None,
        }
    )
    return body


def _verbal(order: VerbalOrder) -> dict[str, Any]:
    today = plan_of_care.agency_today(order.organization_id)
    fields = VerbalOrderOut.model_fields
    body = {name: getattr(order, name) for name in fields if hasattr(order, name)}
    body["taken_by"] = order.taken_by.display_name if order.taken_by else None
    body["overdue"] = plan_of_care.is_overdue(order, today)
    return body

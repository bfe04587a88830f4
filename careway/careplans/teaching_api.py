"""Teaching and agreement as JSON, under /api/v1, beside the care plan (careway/careplans/api.py
mounts this router as it mounts the suggestions'):

- GET  /patients/{id}/care-plan/teaching: the patient's teaching records, newest first;
- POST /patients/{id}/care-plan/teaching: record one (201, with the follow-up task it raised);
- POST /patients/{id}/care-plan/teaching/{teaching_id}/entered-in-error: with a reason and the
  version read (If-Match or `version`): stale is 412/409, none 428;
- GET  /patients/{id}/care-plan/agreements: the current plan's agreements, newest first;
- POST /patients/{id}/care-plan/agreements: the patient's or representative's agreement to the
  current revision (201);
- GET  /patients/{id}/care-plan/agreement: where the plan stands (agreed, ask-again, never).

The same rules as the rest of the care plan API: the patient decided by careway.patients.access
(404 for a patient who is not the caller's to see, 403 to write for one who may only read),
reads audited in their transaction, writes through careway/careplans/teaching.py, which audits
them and names the field it refuses (as this API names it: `caregiver_id`, `methods`).
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Query, Router, Status

from careway.core import audit
from careway.patients import access
from careway.patients.access import Action
from careway.patients.models import Patient
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
)
from careway.toolkit.auth import READ, WRITE, actor_for

from . import queries, teaching
from .models import Agreement, CarePlan, TeachingRecord
from .permissions import CAREPLANS_EDIT
from .teaching_schemas import (
    METHOD_FIELDS,
    AgreementCreate,
    AgreementOut,
    AgreementPage,
    AgreementStateOut,
    TeachingCreate,
    TeachingError,
    TeachingFilters,
    TeachingOut,
    TeachingPage,
)

router = Router(tags=["care plans"])

SECTION = "careplan"  # as careway/careplans/api.py audits the plan's reads
TEACHING = "/patients/{patient_id}/care-plan/teaching"
TEACHING_RECORD = TEACHING + "/{teaching_id}"
AGREEMENTS = "/patients/{patient_id}/care-plan/agreements"
AGREEMENT_STATE = "/patients/{patient_id}/care-plan/agreement"
# The service's names for what this API calls by id.
API_NAMES = {
    "caregiver": "caregiver_id",
    "goal": "goal_id",
    "intervention": "intervention_id",
    "representative": "representative_id",
    "explained": "methods",
    "demonstrated": "methods",
    "handout_given": "methods",
}


@contextmanager
def _named_as_sent() -> Iterator[None]:
    try:
        yield
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        renamed: dict[str, list[Any]] = {}
        for name, errors in error.error_dict.items():
            renamed.setdefault(API_NAMES.get(name, name), []).extend(errors)
        raise ValidationError(renamed) from error


# --- teaching ------------------------------------------------------------------------------------


@router.get(TEACHING, **operation(READ, {200: TeachingPage}, READ_ERRORS))
def list_teaching(
    request: HttpRequest,
    patient_id: uuid.UUID,
    filters: Query[TeachingFilters],
    page: Query[PageParams],
) -> dict[str, Any]:
    """The patient's teaching records, newest first (by default those not entered in error)."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id)
    rows = TeachingRecord.objects.filter(organization_id=patient.organization_id, patient=patient)
    if filters.status != "all":
        rows = rows.filter(status=filters.status)
    if filters.topic:
        rows = rows.filter(topic=filters.topic)
    rows = rows.select_related("caregiver", "taught_by", "follow_up").order_by(
        "-taught_at", "-created_at", "pk"
    )
    with transaction.atomic():
        result = paginate(request, rows, page)
        result["items"] = [_teaching(row) for row in result["items"]]
        audit.record(
            actor,
            "patient.view",
            patient_id=patient.pk,
            detail={"section": SECTION, "teaching": filters.status, "topic": filters.topic},
        )
    return result


@router.post(TEACHING, **operation(WRITE, {201: TeachingOut}, WRITE_ERRORS))
def create_teaching(request: HttpRequest, patient_id: uuid.UUID, payload: TeachingCreate) -> Status:
    """Record a teaching with its teach-back. "needs-reinforcement" raises a task for the next
    visit (`follow_up_task_id`); "understood" later closes it. A goal whose teaching topic this
    is is worked out again."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id, Action.EDIT, CAREPLANS_EDIT)
    methods = set(payload.methods)
    data = {
        "topic": payload.topic,
        "audience": payload.audience,
        "caregiver": payload.caregiver_id,
        **{field: name in methods for name, field in METHOD_FIELDS.items()},
        "result": payload.result,
        "notes": payload.notes,
        "goal": payload.goal_id,
        "intervention": payload.intervention_id,
    }
    with _named_as_sent():
        record = teaching.record_teaching(actor, patient, data)
    return Status(201, _teaching(_reread(record.pk)))


@router.post(
    f"{TEACHING_RECORD}/entered-in-error", **operation(WRITE, {200: TeachingOut}, UPDATE_ERRORS)
)
def teaching_entered_in_error(
    request: HttpRequest,
    patient_id: uuid.UUID,
    teaching_id: uuid.UUID,
    payload: TeachingError,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any]:
    """The record was wrong: kept, marked entered in error, no longer evidence for a goal."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id, Action.EDIT, CAREPLANS_EDIT)
    record = TeachingRecord.objects.filter(patient=patient, pk=teaching_id).first()
    if record is None:
        raise Http404("No such teaching record")
    expected = expected_version(if_match, payload.version)
    marked = teaching.mark_teaching_entered_in_error(actor, record, payload.reason, expected)
    response["ETag"] = etag(marked.version)
    return _teaching(_reread(marked.pk))


def _reread(pk: Any) -> TeachingRecord:
    return TeachingRecord.objects.select_related("caregiver", "taught_by", "follow_up").get(pk=pk)


# --- agreement -----------------------------------------------------------------------------------


def _plan_of(patient: Patient) -> CarePlan:
    plan = queries.current_plan(patient)
    if plan is None:
        raise Http404("This patient's current episode of care has no care plan yet")
    return plan


@router.get(AGREEMENTS, **operation(READ, {200: AgreementPage}, READ_ERRORS))
def list_agreements(
    request: HttpRequest, patient_id: uuid.UUID, page: Query[PageParams]
) -> dict[str, Any]:
    """The current plan's agreements, newest first, each to the revision it names."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id)
    plan = _plan_of(patient)
    rows = (
        Agreement.objects.filter(plan=plan)
        .select_related("representative", "recorded_by")
        .order_by("-agreed_at", "pk")
    )
    with transaction.atomic():
        result = paginate(request, rows, page)
        result["items"] = [_agreement(row) for row in result["items"]]
        audit.record(
            actor, "patient.view", patient_id=patient.pk, obj=plan,
            detail={"section": SECTION, "agreements": True},
        )  # fmt: skip
    return result


@router.post(AGREEMENTS, **operation(WRITE, {201: AgreementOut}, WRITE_ERRORS))
def create_agreement(
    request: HttpRequest, patient_id: uuid.UUID, payload: AgreementCreate
) -> Status:
    """The patient (or their legal representative) agreed to the plan's current revision: a
    signature's strokes, or verbally with a named witness. A later revision asks again."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id, Action.EDIT, CAREPLANS_EDIT)
    plan = _plan_of(patient)
    data = payload.model_dump()
    data["representative"] = data.pop("representative_id")
    with _named_as_sent():
        row = teaching.record_agreement(actor, plan, data)
    return Status(201, _agreement(row))


@router.get(AGREEMENT_STATE, **operation(READ, {200: AgreementStateOut}, READ_ERRORS))
def agreement_state(request: HttpRequest, patient_id: uuid.UUID) -> dict[str, Any]:
    """Whether the patient agreed to the plan's current revision; after a later revision, what
    changed since, to go over before asking again."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id)
    plan = _plan_of(patient)
    with transaction.atomic():
        state = teaching.agreement_state(plan)
        audit.record(
            actor, "patient.view", patient_id=patient.pk, obj=plan,
            detail={"section": SECTION, "agreement": state.state},
        )  # fmt: skip
    return {
        "plan_id": plan.pk,
        "revision": state.revision,
        "state": state.state,
        "needs_agreement": state.needs_agreement,
        "words": state.words,
        "changes": state.changes,
        "agreement": _agreement(state.agreement) if state.agreement else None,
    }


# --- shapes -------------------------------------------------------------------------------------


def _teaching(row: TeachingRecord) -> dict[str, Any]:
    return {
        "id": row.pk,
        "plan_id": row.plan_id,
        "topic": row.topic,
        "topic_title": row.topic_title,
        "handout_version": row.handout_version,
        "language": row.language,
        "audience": row.audience,
        "caregiver_id": row.caregiver_id,
        "caregiver_name": row.caregiver.name if row.caregiver else None,
        "methods": [name for name, field in METHOD_FIELDS.items() if getattr(row, field)],
        "result": row.result,
        "notes": row.notes,
        "goal_id": row.goal_id,
        "intervention_id": row.intervention_id,
        "taught_by": row.taught_by.display_name if row.taught_by else None,
        "taught_at": row.taught_at,
        "follow_up_task_id": row.follow_up_id,
        "follow_up_status": row.follow_up.status if row.follow_up else None,
        "status": row.status,
        "version": row.version,
    }


def _agreement(row: Agreement) -> dict[str, Any]:
    return {
        "id": row.pk,
        "plan_id": row.plan_id,
        "revision": row.revision,
        "who": row.who,
        "representative_id": row.representative_id,
        "representative_name": row.representative.name if row.representative else None,
        "method": row.method,
        "signature": row.signature,
        "witness_name": row.witness_name,
        "agreed_at": row.agreed_at,
        "recorded_by_name": row.recorded_by.display_name if row.recorded_by else None,
        "notes": row.notes,
        "status": row.status,
    }

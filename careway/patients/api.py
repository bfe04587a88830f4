"""The patient registry and clinical record as JSON, under /api/v1/patients.

Handlers are thin: authenticate (careway.toolkit.auth), decide access (careway.patients.access: 404
for a patient that is not the caller's, 403 for read-only access), read and audit in one
transaction, or call the service in careway/patients/services.py that validates, writes and
audits. Errors become problem details in careway/api.py.
"""

import uuid
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status

from careway.core import audit
from careway.core.models import AuditEvent, Branch, User
from careway.core.permissions import Permission
from careway.patients import access
from careway.patients.access import Action
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
from careway.toolkit.auth import READ, WRITE, acting_user, actor_for

from . import services
from .models import Allergy, Condition, Medication, Observation, Patient
from .permissions import PATIENT_CREATE
from .schemas import (
    AllergyCreate,
    AllergyOut,
    AllergyPage,
    ConditionCreate,
    ConditionOut,
    ConditionPage,
    MedicationCreate,
    MedicationOut,
    MedicationPage,
    ObservationCreate,
    ObservationFilters,
    ObservationOut,
    ObservationPage,
    PatientCreate,
    PatientFilters,
    PatientOut,
    PatientPage,
    PatientPatch,
    PatientReplace,
)

router = Router(tags=["patients"])


def filter_patients(patients: QuerySet[Patient], filters: PatientFilters) -> QuerySet[Patient]:
    if filters.q:
        patients = patients.filter(
            Q(given_name__icontains=filters.q)
            | Q(family_name__icontains=filters.q)
            | Q(preferred_name__icontains=filters.q)
            | Q(mrn__icontains=filters.q)
        )
    for word in (filters.name or "").split():
        patients = patients.filter(
            Q(given_name__icontains=word)
            | Q(family_name__icontains=word)
            | Q(preferred_name__icontains=word)
        )
    if filters.mrn:
        patients = patients.filter(mrn__iexact=filters.mrn)
    if filters.birth_date:
        patients = patients.filter(birth_date=filters.birth_date)
    if filters.active is not None:
        patients = patients.filter(active=filters.active)
    return patients


@router.get("/patients", **operation(READ, {200: PatientPage}, READ_ERRORS))
def list_patients(
    request: HttpRequest, filters: Query[PatientFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """The patients you may see, by last name then first name, filtered."""
    actor = actor_for(request)
    patients = filter_patients(access.visible_patients(acting_user(request)), filters)
    used = sorted(name for name, value in filters.model_dump().items() if value is not None)
    with transaction.atomic():
        result = paginate(request, patients.order_by("family_name", "given_name", "id"), page)
        listed = [patient.pk for patient in result["items"]]
        audit.record_many(actor, "patient.list", listed, detail={"filters": used})
    return result


@router.get("/patients/{patient_id}", **operation(READ, {200: PatientOut}, READ_ERRORS))
def get_patient(request: HttpRequest, patient_id: uuid.UUID, response: HttpResponse) -> Patient:
    """One patient's registration. The ETag header is the version to send with an update."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id)
    audit.record(actor, "patient.view", patient_id=patient.pk, detail={"section": "registration"})
    response["ETag"] = etag(patient.version)
    return patient


@router.post("/patients", **operation(WRITE, {201: PatientOut}, WRITE_ERRORS))
def create_patient(request: HttpRequest, payload: PatientCreate, response: HttpResponse) -> Status:
    """Register a patient, with you as their primary case manager."""
    actor, user = actor_for(request), acting_user(request)
    _require_permission(actor, user, PATIENT_CREATE, "patient.create")
    branch = _branch_for(user, payload.branch_id)
    patient = services.create_patient(actor, branch, payload.model_dump(exclude={"branch_id"}))
    response["ETag"] = etag(patient.version)
    response["Location"] = f"{request.path.rstrip('/')}/{patient.pk}"
    return Status(201, patient)


def _require_permission(actor: audit.Actor, user: User, perm: Permission, action: str) -> None:
    # A documented API answers a role's missing capability with 403: no patient's existence is
    # at stake, and the client learns why its call failed.
    if not user.has_perm_code(perm):
        audit.record(
            actor, action, outcome=AuditEvent.Outcome.DENIED, detail={"why": f"lacks {perm}"}
        )
        raise PermissionDenied("Your role may not do this.")


def _branch_for(user: User, branch_id: int | None) -> Branch:
    branches = {m.branch_id: m.branch for m in user.active_memberships() if m.branch_id}
    if branch_id is None and len(branches) == 1:
        return next(iter(branches.values()))
    if branch_id in branches:
        return branches[branch_id]
    choices = ", ".join(f"{pk} ({b.name})" for pk, b in sorted(branches.items()))
    raise ValidationError({"branch_id": f"Choose one of your branches: {choices or 'none'}."})


@router.put("/patients/{patient_id}", **operation(WRITE, {200: PatientOut}, UPDATE_ERRORS))
def replace_patient(
    request: HttpRequest,
    patient_id: uuid.UUID,
    payload: PatientReplace,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> Patient:
    """Replace the registration; fields left out return to their defaults."""
    data = payload.model_dump(exclude={"version"})
    return _update_patient(request, patient_id, data, payload.version, if_match, response)


@router.patch("/patients/{patient_id}", **operation(WRITE, {200: PatientOut}, UPDATE_ERRORS))
def patch_patient(
    request: HttpRequest,
    patient_id: uuid.UUID,
    payload: PatientPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> Patient:
    """Change only the fields sent."""
    data = payload.model_dump(exclude={"version"}, exclude_unset=True)
    return _update_patient(request, patient_id, data, payload.version, if_match, response)


def _update_patient(
    request: HttpRequest,
    patient_id: uuid.UUID,
    data: dict[str, Any],
    body_version: int | None,
    if_match: str | None,
    response: HttpResponse,
) -> Patient:
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id, Action.EDIT)
    expected = expected_version(if_match, body_version)
    patient = services.update_patient(actor, patient, data, expected)
    response["ETag"] = etag(patient.version)
    return patient


def _list_section(
    request: HttpRequest, patient_id: uuid.UUID, section: str, rows: QuerySet, page: PageParams
) -> dict[str, Any]:
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id)
    rows = rows.filter(organization_id=patient.organization_id, patient=patient)
    with transaction.atomic():
        result = paginate(request, rows, page)
        audit.record(actor, "patient.view", patient_id=patient.pk, detail={"section": section})
    return result


def _add_record(request: HttpRequest, patient_id: uuid.UUID, add: Any, payload: Schema) -> Status:
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id, Action.EDIT)
    return Status(201, add(actor, patient, payload.model_dump()))


CONDITIONS = "/patients/{patient_id}/conditions"
MEDICATIONS = "/patients/{patient_id}/medications"
ALLERGIES = "/patients/{patient_id}/allergies"
OBSERVATIONS = "/patients/{patient_id}/observations"


@router.get(CONDITIONS, **operation(READ, {200: ConditionPage}, READ_ERRORS))
def list_conditions(
    request: HttpRequest, patient_id: uuid.UUID, page: Query[PageParams]
) -> dict[str, Any]:
    """The patient's conditions, newest first."""
    rows = Condition.objects.order_by("-recorded_at", "-id")
    return _list_section(request, patient_id, "conditions", rows, page)


@router.post(CONDITIONS, **operation(WRITE, {201: ConditionOut}, WRITE_ERRORS))
def create_condition(
    request: HttpRequest, patient_id: uuid.UUID, payload: ConditionCreate
) -> Status:
    """Record a condition. Marking it primary un-marks the previous primary diagnosis."""
    return _add_record(request, patient_id, services.add_condition, payload)


@router.get(MEDICATIONS, **operation(READ, {200: MedicationPage}, READ_ERRORS))
def list_medications(
    request: HttpRequest, patient_id: uuid.UUID, page: Query[PageParams]
) -> dict[str, Any]:
    """The patient's medications, newest first."""
    rows = Medication.objects.order_by("-recorded_at", "-id")
    return _list_section(request, patient_id, "medications", rows, page)


@router.post(MEDICATIONS, **operation(WRITE, {201: MedicationOut}, WRITE_ERRORS))
def create_medication(
    request: HttpRequest, patient_id: uuid.UUID, payload: MedicationCreate
) -> Status:
    """Record a medication the patient takes."""
    return _add_record(request, patient_id, services.add_medication, payload)


@router.get(ALLERGIES, **operation(READ, {200: AllergyPage}, READ_ERRORS))
def list_allergies(
    request: HttpRequest, patient_id: uuid.UUID, page: Query[PageParams]
) -> dict[str, Any]:
    """The patient's allergies and intolerances, newest first."""
    rows = Allergy.objects.order_by("-recorded_at", "-id")
    return _list_section(request, patient_id, "allergies", rows, page)


@router.post(ALLERGIES, **operation(WRITE, {201: AllergyOut}, WRITE_ERRORS))
def create_allergy(request: HttpRequest, patient_id: uuid.UUID, payload: AllergyCreate) -> Status:
    """Record an allergy; the patient is no longer marked as having no known allergies."""
    return _add_record(request, patient_id, services.add_allergy, payload)


@router.get(OBSERVATIONS, **operation(READ, {200: ObservationPage}, READ_ERRORS))
def list_observations(
    request: HttpRequest,
    patient_id: uuid.UUID,
    filters: Query[ObservationFilters],
    page: Query[PageParams],
) -> dict[str, Any]:
    """The patient's observations (vital signs, labs, scores), most recently taken first."""
    rows = filter_observations(Observation.objects.all(), filters)
    rows = rows.order_by("-effective_at", "-id")
    return _list_section(request, patient_id, "observations", rows, page)


def filter_observations(rows: QuerySet, filters: ObservationFilters) -> QuerySet:
    if filters.category:
        rows = rows.filter(category=filters.category)
    if filters.code:
        rows = rows.filter(code=filters.code)
    if filters.date_from:
        rows = rows.filter(effective_at__date__gte=filters.date_from)
    if filters.date_to:
        rows = rows.filter(effective_at__date__lte=filters.date_to)
    return rows


@router.post(OBSERVATIONS, **operation(WRITE, {201: ObservationOut}, WRITE_ERRORS))
def create_observation(
    request: HttpRequest, patient_id: uuid.UUID, payload: ObservationCreate
) -> Status:
    """Record one observation, coded in LOINC where there is a code."""
    return _add_record(request, patient_id, services.record_observation, payload)

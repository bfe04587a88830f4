"""Care plan suggestions and the plan's review as JSON, under /api/v1, beside the plan itself
(careway/careplans/api.py mounts this router on its own): the suggestions the templates make
for a patient from their chart, each with the rules that fired and their reasons; accepting one
into the plan (edited first or not), rejecting one with a reason; and recording that the plan
was reviewed with the patient.

The same rules as the rest of the care plan API: the patient decided by careway.patients.access
(404 for a patient who is not the caller's to see, 403 to decide or review for one who may only
read: that needs careplans.edit), reads audited in their transaction, writes through
careway/careplans/services.py, which audits them. Deciding a suggestion names no version: the
service locks it and decides it once. Accepting one accepted already, or rejecting one decided
already, answers 422 naming `suggestion`, as the plan's other state errors do (`plan` for a
closed plan, `episode` for a second one); a rejected suggestion may still be accepted.
A review changes the plan itself, so it names the plan's version (If-Match, or `version` in the
body) as a PATCH of the plan does: a stale one is a conflict (412 with If-Match, 409 with the
body's), none at all a 428. Accepting and rejecting are actions on a suggestion, and a review an
action on the plan: rejecting and reviewing answer 200 with what changed; accepting makes a plan
row, so it answers 201 with that row's type and id, and its address as Location (where the
care plan API changes it with PATCH; rows are read as part of their plan).
"""

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Query, Router, Status

from careway.core import audit
from careway.core.models import User
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
    problem,
)
from careway.toolkit.auth import READ, WRITE, actor_for

from . import queries, services
from .models import CarePlan, Suggestion
from .permissions import CAREPLANS_EDIT
from .suggestion_schemas import (
    SERVED_STATUSES,
    AcceptedOut,
    PlanReview,
    PlanReviewOut,
    SuggestionAccept,
    SuggestionFilters,
    SuggestionOut,
    SuggestionPage,
    SuggestionReject,
)

router = Router(tags=["care plans"])

SECTION = "careplan"  # as careway/careplans/api.py audits the plan's reads
SUGGESTIONS = "/patients/{patient_id}/care-plan/suggestions"
SUGGESTION = SUGGESTIONS + "/{suggestion_id}"
REVIEW = "/patients/{patient_id}/care-plan/review"
# Where the care plan API addresses each kind of row (careway/careplans/api.py).
ROW_PATHS: dict[str, str] = {
    Suggestion.Kind.PROBLEM: "/api/v1/care-plan-problems/{}",
    Suggestion.Kind.GOAL: "/api/v1/care-plan-goals/{}",
    Suggestion.Kind.INTERVENTION: "/api/v1/care-plan-interventions/{}",
}


@router.get(SUGGESTIONS, **operation(READ, {200: SuggestionPage}, READ_ERRORS))
def list_suggestions(
    request: HttpRequest,
    patient_id: uuid.UUID,
    filters: Query[SuggestionFilters],
    page: Query[PageParams],
) -> dict[str, Any]:
    """The patient's care plan suggestions (by default the open ones, waiting for a decision),
    each with the rules that fired, their reasons and what became of it: plan suggestions
    before preventive care gaps, each in the order the templates propose them."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id)
    rows = Suggestion.objects.filter(organization_id=patient.organization_id, patient=patient)
    rows = rows.filter(status__in=SERVED_STATUSES if filters.status == "all" else [filters.status])
    if filters.preventive is not None:
        rows = rows.filter(preventive=filters.preventive)
    rows = rows.select_related("decided_by").order_by("preventive", "position", "created_at", "pk")
    with transaction.atomic():
        result = paginate(request, rows, page)
        result["items"] = [_suggestion(row) for row in result["items"]]
        audit.record(
            actor,
            "patient.view",
            patient_id=patient.pk,
            detail={
                "section": SECTION,
                "suggestions": filters.status,
                "preventive": filters.preventive,
            },
        )
    return result


@router.post(f"{SUGGESTION}/accept", **operation(WRITE, {201: AcceptedOut}, WRITE_ERRORS))
def accept_suggestion(
    request: HttpRequest,
    patient_id: uuid.UUID,
    suggestion_id: uuid.UUID,
    payload: SuggestionAccept,
    response: HttpResponse,
) -> Status:
    """Put the suggested problem, goal or intervention into the patient's care plan, as
    suggested or with `edits` (a goal put in the patient's words, an intervention given to
    another discipline); the plan is started as a draft when there is none, and a goal or
    intervention brings its problem with it. A rejected suggestion may still be accepted."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id, Action.EDIT, CAREPLANS_EDIT)
    row = _suggestion_of(patient, suggestion_id)
    edits = payload.edits.model_dump(exclude_unset=True)
    _refuse_edits_of_another_kind(row, edits)
    with _edits_as_sent(edits):
        made = services.accept_suggestion(actor, row, edits, payload.reason)
    decided = Suggestion.objects.select_related("decided_by").get(pk=row.pk)
    response["Location"] = ROW_PATHS[row.kind].format(made.pk)
    body = {"type": row.kind, "id": made.pk, "plan_id": made.plan_id}
    return Status(201, {**body, "suggestion": _suggestion(decided)})


@router.post(f"{SUGGESTION}/reject", **operation(WRITE, {200: SuggestionOut}, WRITE_ERRORS))
def reject_suggestion(
    request: HttpRequest, patient_id: uuid.UUID, suggestion_id: uuid.UUID, payload: SuggestionReject
) -> dict[str, Any]:
    """Not for this patient, with the reason why: it stays rejected until the chart behind it
    changes (then it is open again, saying what changed)."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id, Action.EDIT, CAREPLANS_EDIT)
    row = _suggestion_of(patient, suggestion_id)
    return _suggestion(services.reject_suggestion(actor, row, payload.reason))


@router.post(REVIEW, **operation(WRITE, {200: PlanReviewOut}, UPDATE_ERRORS))
def review_plan(
    request: HttpRequest,
    patient_id: uuid.UUID,
    payload: PlanReview,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
) -> dict[str, Any] | HttpResponse:
    """The current episode's plan was reviewed with the patient: the note is kept as a revision
    of the plan, and the next review falls due at the next recertification (until a hospital
    stay, an urgent flag or a resumption of care brings it forward)."""
    actor = actor_for(request)
    patient = access.get_patient_for(actor, patient_id, Action.EDIT, CAREPLANS_EDIT)
    plan = queries.current_plan(patient)
    if plan is None:
        return problem(
            404,
            "This patient's current episode of care has no care plan yet: start one with "
            f"POST /api/v1/patients/{patient.pk}/care-plan.",
        )
    expected = expected_version(if_match, payload.version)
    reviewed = services.review_plan(actor, plan, payload.note, expected)
    response["ETag"] = etag(reviewed.version)
    return _review(reviewed)


def _suggestion_of(patient: Patient, suggestion_id: uuid.UUID) -> Suggestion:
    """The patient's suggestion; one the chart no longer supports (lapsed) is not served."""
    row = Suggestion.objects.filter(
        patient=patient, pk=suggestion_id, status__in=SERVED_STATUSES
    ).first()
    if row is None:
        raise Http404("No such suggestion")
    Suggestion.patient.field.set_cached_value(row, patient)
    return row


def _refuse_edits_of_another_kind(row: Suggestion, edits: Mapping[str, Any]) -> None:
    """Say which edits this kind of row takes (the service refuses them too, less helpfully)."""
    allowed = services.ACCEPT_EDITS[row.kind]
    wrong = {
        f"edits.{name}": f"A suggested {row.kind} cannot change its {name} when accepted; it "
        f"takes: {', '.join(allowed)}."
        for name in edits
        if name not in allowed
    }
    if wrong:
        raise ValidationError(wrong)


@contextmanager
def _edits_as_sent(edits: Mapping[str, Any]) -> Iterator[None]:
    """A service refusal names a row's field (`due_date`); where the client sent it as an edit,
    the problem body names it as sent (`edits.due_date`)."""
    try:
        yield
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        sent = {f"edits.{k}" if k in edits else k: v for k, v in error.error_dict.items()}
        raise ValidationError(sent) from error


# --- shapes -------------------------------------------------------------------------------------


def _name(user: User | None) -> str | None:
    return user.display_name if user is not None else None


def _suggestion(row: Suggestion) -> dict[str, Any]:
    return {
        "id": row.pk,
        "kind": row.kind,
        "template": row.template,
        "template_version": row.template_version,
        "item": row.item,
        "text": row.text,
        "preventive": row.preventive,
        "rules": list(row.rules),
        "reasons": list(row.reasons),
        "recommendation": row.recommendation,
        "status": row.status,
        "what_changed": row.what_changed,
        "decided_by": _name(row.decided_by),
        "decided_at": row.decided_at,
        "decision_reason": row.decision_reason,
        "accepted_as": uuid.UUID(row.accepted_as) if row.accepted_as else None,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _review(plan: CarePlan) -> dict[str, Any]:
    return {
        "id": plan.pk,
        "version": plan.version,
        "revision": plan.revision,
        "review_due": plan.review_due,
        "review_reason": plan.review_reason,
        "reviewed_at": plan.reviewed_at,
    }

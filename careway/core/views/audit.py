"""The audit trail for auditors: the agency's events, filtered and sorted, and their CSV export.

Patients appear by name and MRN as the directory that careway/patients registers describes them
(core knows them by id only). Like the rest of the audit page, a look at it is not itself an
event (it would fill the trail with its own reading); its export is (`audit.export`).
"""

import csv
import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import capfirst

from careway.core import audit
from careway.core.forms import AuditFilterForm
from careway.core.models import AuditEvent
from careway.core.permissions import AUDIT_VIEW, require
from careway.core.roles import Role
from careway.toolkit.pages import SortColumn, agency_zone, paginate, query_without, sort_headers

PAGE_SIZE = 50
ROLE_NAMES = dict(Role.choices)
SORT_COLUMNS = (
    SortColumn("time", "Time", descending_first=True),
    SortColumn("user", "User"),
    SortColumn("action", "Action"),
)


def _audit_events(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet[AuditEvent]]:
    """The agency's events narrowed by the filter form (none if the filters are invalid)."""
    org = request.user.organization
    form = AuditFilterForm(request.GET or None, organization=org)
    events = AuditEvent.objects.filter(organization_id=org.pk)
    if not form.is_bound:
        return form, events.order_by(*AuditFilterForm.SORTS["-time"])
    if not form.is_valid():
        return form, events.none()
    return form, _filtered(form, events).order_by(*AuditFilterForm.SORTS[form.sort_key()])


def _filtered(form: AuditFilterForm, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    data = form.cleaned_data
    if data["user"]:
        events = events.filter(actor_id=data["user"].pk)
    if data["patient"]:
        events = events.filter(patient_id__in=_patient_ids(form.organization.pk, data["patient"]))
    if data["action"]:
        events = events.filter(action__startswith=data["action"].strip())
    if data["outcome"]:
        events = events.filter(outcome=data["outcome"])
    start, end = form.day_bounds()
    if start:
        events = events.filter(occurred_at__gte=start)
    if end:
        events = events.filter(occurred_at__lte=end)
    return events


def _patient_ids(organization_id: int, text: str) -> Iterable[Any]:
    """A patient id as typed, or the agency's patients a name or MRN names.

    Auditors cannot open charts; this resolves what they type to ids for filtering the trail
    and reads nothing else about the patient.
    """
    text = text.strip()
    try:
        return [uuid.UUID(text)]
    except ValueError:
        return audit.find_patients(organization_id, text)


def object_type_name(object_type: str) -> str:
    """ "patients.patient" as a person says it ("Patient"): the model's own verbose name, found
    by label, so core names every app's objects without importing any."""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return object_type.rpartition(".")[2].replace("_", " ").capitalize()
    return capfirst(str(model._meta.verbose_name))


def detail_items(detail: dict[str, Any] | None) -> list[tuple[str, str]]:
    """An event's details as (label, value) pairs a person reads, empty values left out."""
    items = []
    for key, value in sorted((detail or {}).items()):
        text = _plain(value)
        if text:
            items.append((capfirst(key.replace("_", " ")), text))
    return items


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{label}: {text}" for label, text in detail_items(value))
    if isinstance(value, list | tuple):
        return ", ".join(text for text in (_plain(v) for v in value) if text)
    return str(value).strip()


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    require(request.user, AUDIT_VIEW)
    form, events = _audit_events(request)
    page = paginate(events, request.GET.get("page"), PAGE_SIZE)
    organization_id = request.user.organization_id
    names = audit.describe_patients(organization_id, [e.patient_id for e in page])
    for event in page:
        event.detail_items = detail_items(event.detail)
        event.object_name = object_type_name(event.object_type) if event.object_type else ""
        event.role_name = ROLE_NAMES.get(event.actor_role, event.actor_role.replace("_", " "))
        event.patient_name, event.patient_identifier = names.get(event.patient_id, ("", ""))
    sort = form.sort_key() if form.is_bound and form.is_valid() else "-time"
    context = {
        "form": form,
        "page": page,
        "sort_label": AuditFilterForm.SORT_LABELS[sort],
        "sort_headers": sort_headers(
            request, SORT_COLUMNS, sort.lstrip("-"), descending=sort.startswith("-")
        ),
        "page_query": query_without(request, "page"),
        "agency_tz": agency_zone(request.user),
    }
    template = "core/_audit_results.html" if request.htmx else "core/audit_log.html"
    return render(request, template, context)


AUDIT_COLUMNS = [
    "occurred_at_utc",
    "chain",
    "seq",
    "actor_username",
    "actor_role",
    "action",
    "outcome",
    "patient_id",
    "object_type",
    "object_id",
    "client_address",
    "reason",
    "detail",
    "hash",
]


@login_required
def audit_export(request: HttpRequest) -> HttpResponse:
    require(request.user, AUDIT_VIEW)
    form, events = _audit_events(request)
    if form.is_bound and not form.is_valid():
        return audit_log(request)
    filters = form.filters_for_audit() if form.is_bound else {}
    audit.record(audit.Actor.from_request(request), "audit.export", detail={"filters": filters})
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(_csv_lines(events), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="careway-audit-{stamp}.csv"'
    return response


class _Echo:
    """A file-like object whose write() returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(AUDIT_COLUMNS)
    # iterator() fetches in chunks (a server-side cursor on PostgreSQL), so a million events
    # stream out without being held in memory.
    for event in events.iterator(chunk_size=2000):
        yield writer.writerow([_csv_safe(value) for value in _csv_row(event)])


def _csv_row(event: AuditEvent) -> list[Any]:
    return [
        event.occurred_at.isoformat(),
        event.chain_id,
        event.seq,
        event.actor_username,
        event.actor_role,
        event.action,
        event.outcome,
        event.patient_id or "",
        event.object_type,
        event.object_id,
        event.client_address or "",
        event.reason,
        event.detail,
        event.hash,
    ]


def _csv_safe(value: Any) -> Any:
    """Stop a spreadsheet treating typed text (a reason, a username tried) as a formula."""
    if isinstance(value, dict):
        value = json.dumps(value, sort_keys=True)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value

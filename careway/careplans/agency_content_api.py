"""The JSON API of the agency's versioned content (careway/careplans/agency_content.py), one set
of endpoints per kind: template_api.py and handout_api.py declare their routes, shapes and words
and answer through a ContentApi.

Reading needs a role that reads charts or manages the agency's clinical content; writing needs
careplans.templates (agency admins and supervisors): a role without it answers 403, audited.
Content is the caller's agency's: another agency's own answers 404 as one that does not exist.
Errors name their fields by the path inside `content` ("content.goals[2].measure"), as the pages
list them; a stale version answers 412 with the current one, a missing one 428.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Status

from careway.core import audit
from careway.core.models import AuditEvent, Organization
from careway.patients.permissions import CHART_VIEW
from careway.patients.schemas import OutputSchema, storable_text
from careway.toolkit.api import PageParams, etag, expected_version, paginate
from careway.toolkit.auth import acting_user, actor_for

from . import agency_content
from .agency_content import ContentKind, Entry
from .models import AgencyContent
from .permissions import CAREPLANS_TEMPLATES

# The service's names for what is not inside the content.
OWN_FIELDS = {"note"}


class Change(Protocol):
    """A change's input: why, and the version it was made against (else If-Match)."""

    note: str
    version: int | None


class Replacement(Change, Protocol):
    content: dict[str, Any]


class ContentVersionOut(OutputSchema):
    version: int
    active: bool
    changed_at: datetime
    changed_by: str | None
    note: str


@dataclass(frozen=True)
class ContentApi:
    """One kind's endpoints: where they are, their words, and what only its summary says."""

    entry_type: type[Entry[Any, Any]]
    path: str  # "/care-plan-templates", under /api/v1
    plural: str  # "care plan templates": "Your role may not read care plan templates."
    manages: str  # what a reader may manage instead of reading charts: "templates"
    summary_extra: Callable[[Any], dict[str, Any]]  # what only this kind's summary says

    @property
    def kind(self) -> ContentKind[Any, Any]:
        return self.entry_type.kind

    def list(self, request: HttpRequest, page: PageParams) -> dict[str, Any]:
        organization = self._organization(request, write=False)
        found = paginate(request, agency_content.entries(self.entry_type, organization.pk), page)
        return {**found, "items": [self.summary(e) for e in found["items"]]}

    def get(self, request: HttpRequest, response: HttpResponse, key: str) -> dict[str, Any]:
        organization = self._organization(request, write=False, key=key)
        entry = self._entry(organization, key)
        if entry.agency is not None:
            response["ETag"] = etag(entry.agency.version)
        return self._whole(organization, entry)

    def copy(self, request: HttpRequest, response: HttpResponse, key: str) -> Status:
        organization = self._organization(request, write=True, key=key)
        if self._entry(organization, key).shipped is None:
            raise Http404(f"No such shipped {self.kind.noun}")
        row = agency_content.copy(self.kind, actor_for(request), organization, key)
        return self._created(request, response, organization, row)

    def create(
        self, request: HttpRequest, response: HttpResponse, content: dict[str, Any], note: str
    ) -> Status:
        key = str(content.get("key", ""))
        organization = self._organization(request, write=True, key=key)
        with _fields_in_content(self.kind):
            _check_note(note)
            row = agency_content.create(self.kind, actor_for(request), organization, content, note)
        return self._created(request, response, organization, row)

    def replace(
        self,
        request: HttpRequest,
        response: HttpResponse,
        key: str,
        payload: Replacement,
        if_match: str | None,
    ) -> dict[str, Any]:
        def save(organization: Organization, expected: int) -> AgencyContent:
            return agency_content.save(
                self.kind,
                actor_for(request),
                organization,
                key,
                payload.content,
                expected,
                payload.note,
            )

        missing = f"Your agency has no copy of '{key}': copy it first."
        return self._change(request, response, key, payload, if_match, missing, save)

    def set_active(
        self,
        request: HttpRequest,
        response: HttpResponse,
        key: str,
        payload: Change,
        if_match: str | None,
        *,
        active: bool,
    ) -> dict[str, Any]:
        def change(organization: Organization, expected: int) -> AgencyContent:
            return agency_content.set_active(
                self.kind, actor_for(request), organization, key, expected, active, payload.note
            )

        missing = f"Your agency has no {self.kind.noun} '{key}' of its own: copy it first."
        return self._change(request, response, key, payload, if_match, missing, change)

    def _change(
        self,
        request: HttpRequest,
        response: HttpResponse,
        key: str,
        payload: Change,
        if_match: str | None,
        missing: str,
        write: Callable[[Organization, int], AgencyContent],
    ) -> dict[str, Any]:
        """A change to the agency's own `key`, made against the version the caller read: 404
        (saying `missing`) when it has none of its own."""
        organization = self._organization(request, write=True, key=key)
        entry = self._entry(organization, key)
        if entry.agency is None:
            raise Http404(missing)
        expected = expected_version(if_match, payload.version)
        with _fields_in_content(self.kind):
            _check_note(payload.note)
            row = write(organization, expected)
        response["ETag"] = etag(row.version)
        return self._whole(organization, self.entry_type(key, entry.shipped, row))

    def summary(self, entry: Entry[Any, Any]) -> dict[str, Any]:
        agency = entry.agency
        return {
            "key": entry.key,
            "title": entry.title,
            "origin": entry.origin,
            "version": entry.version,
            "in_use": entry.in_use,
            "agency_version": agency.version if agency else None,
            "active": agency.active if agency else None,
            "shipped_version": entry.shipped.version if entry.shipped else None,
            **self.summary_extra(entry),
        }

    def _organization(self, request: HttpRequest, *, write: bool, key: str = "") -> Organization:
        """The caller's agency, if they may read (or, `write`, change) its content; else 403."""
        user = acting_user(request)
        actor = actor_for(request)
        if user.organization is None:
            raise PermissionDenied(f"Only a member of an agency has {self.plural}.")
        if write:
            agency_content.check_may_manage(self.kind, actor, user.organization, key)
        elif not (user.has_perm_code(CAREPLANS_TEMPLATES) or user.has_perm_code(CHART_VIEW)):
            audit.record(
                actor,
                f"{self.kind.audit_prefix}.view",
                object_type=self.kind.model._meta.label_lower,
                organization_id=user.organization_id,
                outcome=AuditEvent.Outcome.DENIED,
                detail={"key": key, "why": f"reads no charts and manages no {self.manages}"},
            )
            raise PermissionDenied(f"Your role may not read {self.plural}.")
        return user.organization

    def _entry(self, organization: Organization, key: str) -> Entry[Any, Any]:
        found = agency_content.entry(self.entry_type, organization.pk, key)
        if found is None:
            raise Http404(f"No such {self.kind.noun}")
        return found

    def _created(
        self,
        request: HttpRequest,
        response: HttpResponse,
        organization: Organization,
        row: AgencyContent,
    ) -> Status:
        entry = self.entry_type(row.key, self.kind.shipped().get(row.key), row)
        response["ETag"] = etag(row.version)
        response["Location"] = f"/api/v1{self.path}/{row.key}"
        return Status(201, self._whole(organization, entry))

    def _whole(self, organization: Organization, entry: Entry[Any, Any]) -> dict[str, Any]:
        agency = entry.agency
        versions = agency_content.versions(self.kind, organization.pk, entry.key) if agency else []
        return {
            **self.summary(entry),
            "copied_from": agency.copied_from if agency else "",
            "content": entry.content,
            "versions": [
                {
                    "version": v.version,
                    "active": v.active,
                    "changed_at": v.changed_at,
                    "changed_by": v.changed_by.display_name if v.changed_by else None,
                    "note": v.note,
                }
                for v in versions
            ],
        }


@contextmanager
def _fields_in_content(kind: ContentKind[Any, Any]) -> Iterator[None]:
    """A service names a field by its path in the content ("goals[2].measure"); the problem
    body names it in the request ("content.goals[2].measure")."""
    try:
        yield
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        named = {_field(kind, name): errors for name, errors in error.error_dict.items()}
        raise ValidationError(named) from error


def _field(kind: ContentKind[Any, Any], name: str) -> str:
    if name in OWN_FIELDS:
        return name
    return "content" if name == kind.noun else f"content.{name}"


def _check_note(note: str) -> None:
    try:
        storable_text(note)
    except ValueError as error:
        raise ValidationError({"note": str(error)}) from error

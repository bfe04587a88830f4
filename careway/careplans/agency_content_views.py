"""The pages of the agency's versioned content (careway/careplans/agency_content.py), one set per
kind: every one the agency has (Careway's and its own), one with its versions, the editor, and
copy, retire and restore. template_views.py and handout_views.py name their pages and say what
only their kind shows (a template's plan, a handout as the patient reads it).

Everyone who reads charts or manages the content may read them; the agency's admins and
supervisors (careplans.templates) change them. A refused write is 403 and audited; anyone else,
and another agency's people asking for this agency's own, get 404. Each change is a new version;
a save over someone else's is a conflict that keeps what was typed.
"""

from dataclasses import dataclass
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import Organization, User
from careway.patients.permissions import CHART_VIEW

from . import agency_content
from .agency_content import ContentKind, Entry
from .agency_content_forms import ContentForm, as_text
from .models import AgencyContent
from .permissions import CAREPLANS_TEMPLATES

SHIPPED_VERSION = "shipped"


@dataclass(frozen=True)
class ContentPages:
    """One kind's pages: where they are and the words only they say."""

    entry_type: type[Entry[Any, Any]]
    form: type[ContentForm]
    skeleton: dict[str, Any]  # what a new one starts from
    url: str  # "careplans:template": its pages are named <url>_list, <url>_detail, ...
    folder: str  # where its list.html, detail.html and edit.html are
    list_title: str
    new_title: str
    in_use_verb: str  # "your agency now uses its own copy"

    @property
    def kind(self) -> ContentKind[Any, Any]:
        return self.entry_type.kind

    def list(self, request: HttpRequest) -> HttpResponse:
        user, organization = reader(request)
        context = {
            "title": self.list_title,
            "entries": agency_content.entries(self.entry_type, organization.pk),
            "may_change": user.has_perm_code(CAREPLANS_TEMPLATES),
        }
        return render(request, f"{self.folder}/list.html", context)

    def detail(self, request: HttpRequest, key: str) -> tuple[dict[str, Any], Any]:
        """What every kind's page of `key` shows, and the content it shows: the one in use (or
        the agency's retired one), or with ?version= one of the agency's earlier versions, or
        Careway's shipped one beside the agency's copy."""
        user, organization = reader(request)
        entry = self._entry(organization, key)
        shown_row, showing_shipped = self._version_shown(request, organization, entry)
        if showing_shipped:
            assert entry.shipped is not None
            content: Any = entry.shipped.raw
        else:
            assert shown_row is not None
            content = shown_row.content
        versions = agency_content.versions(self.kind, organization.pk, key) if entry.agency else []
        context = {
            **self._words(),
            "title": entry.title,
            "entry": entry,
            "shown_row": shown_row,
            "showing_shipped": showing_shipped,
            "is_current": (
                entry.agency is None
                if showing_shipped
                else shown_row is not None and shown_row.pk == cast(AgencyContent, entry.agency).pk
            ),
            "versions": versions,
            "may_change": user.has_perm_code(CAREPLANS_TEMPLATES),
        }
        return context, content

    def copy(self, request: HttpRequest, key: str) -> HttpResponse:
        organization = self._manager(request, key)
        if self._entry(organization, key).shipped is None:
            raise Http404(f"No such shipped {self.kind.noun}")
        try:
            row = agency_content.copy(
                self.kind, audit.Actor.from_request(request), organization, key
            )
        except ValidationError as refused:
            messages.error(request, f"Not copied: {_said(refused)}")
            return redirect(f"{self.url}_detail", key=key)
        messages.success(
            request,
            f"{row.title}: your agency now {self.in_use_verb} its own copy (version 1), the same "
            "as Careway's until you edit it.",
        )
        return redirect(f"{self.url}_edit", key=key)

    def edit(self, request: HttpRequest, key: str) -> HttpResponse:
        organization = self._manager(request, key)
        row = self._own(organization, key)
        form = self.form(
            request.POST if request.method == "POST" else None,
            initial={"content": as_text(row.content), "version": row.version},
        )
        conflict = None
        if form.is_bound and form.is_valid():
            try:
                saved = agency_content.save(
                    self.kind,
                    audit.Actor.from_request(request),
                    organization,
                    key,
                    form.cleaned_data["content"],
                    form.cleaned_data["version"] or 0,
                    form.cleaned_data["note"],
                )
            except VersionConflict as stale:
                conflict = stale.current
                form = self._rebased(form, stale.current.version)
            except ValidationError as refused:
                form.apply_content_errors(refused)
            else:
                _said_saved(request, saved, row.version)
                return redirect(f"{self.url}_detail", key=key)
        context = {
            **self._words(),
            "title": f"Edit: {row.title}",
            "row": row,
            "form": form,
            "conflict": conflict,
            "conflict_text": as_text(conflict.content) if conflict else "",
            "cancel": reverse(f"{self.url}_detail", kwargs={"key": key}),
            "submit": "Save as a new version",
        }
        return self._editor(request, context, form, conflict)

    def new(self, request: HttpRequest) -> HttpResponse:
        organization = self._manager(request, "")
        form = self.form(
            request.POST if request.method == "POST" else None,
            initial={"content": as_text(self.skeleton)},
        )
        form.fields["note"].label = "A note for its history"
        if form.is_bound and form.is_valid():
            try:
                row = agency_content.create(
                    self.kind,
                    audit.Actor.from_request(request),
                    organization,
                    form.cleaned_data["content"],
                    form.cleaned_data["note"],
                )
            except ValidationError as refused:
                form.apply_content_errors(refused)
            else:
                messages.success(request, f"{row.title}: added as your agency's own, version 1.")
                return redirect(f"{self.url}_detail", key=row.key)
        context = {
            **self._words(),
            "title": self.new_title,
            "row": None,
            "form": form,
            "conflict": None,
            "cancel": reverse(f"{self.url}_list"),
            "submit": f"Add the {self.kind.noun}",
        }
        return self._editor(request, context, form, None)

    def set_active(self, request: HttpRequest, key: str, *, active: bool) -> HttpResponse:
        organization = self._manager(request, key)
        row = self._own(organization, key)
        word = "restored" if active else "retired"
        try:
            saved = agency_content.set_active(
                self.kind,
                audit.Actor.from_request(request),
                organization,
                key,
                _posted_version(request),
                active,
                request.POST.get("note", ""),
            )
        except VersionConflict as stale:
            messages.error(
                request,
                f"Not {word}: someone else changed this {self.kind.noun} while you were reading "
                f"it (now version {stale.current.version}). Check it below and try again.",
            )
        except ValidationError as refused:
            messages.error(request, f"Not {word}: {_said(refused)}")
        else:
            if saved.version == row.version:
                messages.info(request, f"{saved.title} was already {word}.")
            else:
                messages.success(request, f"{saved.title}: {word} (version {saved.version}).")
        return redirect(f"{self.url}_detail", key=key)

    def _words(self) -> dict[str, Any]:
        """What the shared detail and edit pages (careplans/agency_content/) name by kind."""
        names = ("list", "detail", "edit", "copy", "retire", "restore")
        return {
            "noun": self.kind.noun,
            "list_title": self.list_title,
            "urls": {name: f"{self.url}_{name}" for name in names},
        }

    def _manager(self, request: HttpRequest, key: str) -> Organization:
        """The agency of someone who may change its content: 404 for those who may not read
        it, 403 (audited when they tried to write) for readers who may not change it."""
        _user, organization = reader(request)
        actor = audit.Actor.from_request(request)
        if request.method == "POST":
            agency_content.check_may_manage(self.kind, actor, organization, key)
        elif not agency_content.may_manage(actor, organization):
            raise PermissionDenied(self.kind.refused)
        return organization

    def _entry(self, organization: Organization, key: str) -> Entry[Any, Any]:
        found = agency_content.entry(self.entry_type, organization.pk, key)
        if found is None:
            raise Http404(f"No such {self.kind.noun}")
        return found

    def _own(self, organization: Organization, key: str) -> AgencyContent:
        found = self._entry(organization, key).agency
        if found is None:
            raise Http404(f"Your agency has no {self.kind.noun} of this key of its own")
        return cast(AgencyContent, found)

    def _version_shown(
        self, request: HttpRequest, organization: Organization, entry: Entry[Any, Any]
    ) -> tuple[AgencyContent | None, bool]:
        """(the agency's row shown, whether Careway's shipped one is shown instead)."""
        asked = request.GET.get("version", "")
        if entry.agency is None or (asked == SHIPPED_VERSION and entry.shipped is not None):
            return None, True
        if not asked:
            return entry.agency, False
        if not (asked.isascii() and asked.isdigit() and len(asked) <= 9):
            raise Http404("No such version")
        row = agency_content.version_of(self.kind, organization.pk, entry.key, int(asked))
        if row is None:
            raise Http404("No such version")
        return row, False

    def _editor(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        form: ContentForm,
        conflict: AgencyContent | None,
    ) -> HttpResponse:
        status = 409 if conflict else 422 if form.is_bound and form.problems() else 200
        return render(request, f"{self.folder}/edit.html", context, status=status)

    def _rebased(self, form: ContentForm, version: int) -> ContentForm:
        """What the person typed, aimed at the version saved now: saving again is deliberate."""
        return self.form(
            initial={
                "content": form.data.get("content", ""),
                "note": form.data.get("note", ""),
                "version": version,
            }
        )


def reader(request: HttpRequest) -> tuple[User, Organization]:
    """The person and their agency, if they may read its templates and handouts; 404 for
    anyone else."""
    user = cast(User, request.user)
    readable = user.has_perm_code(CAREPLANS_TEMPLATES) or user.has_perm_code(CHART_VIEW)
    if user.organization is None or not readable:
        raise Http404("Not found")
    return user, user.organization


def _posted_version(request: HttpRequest) -> int:
    raw = request.POST.get("version", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else 0


def _said(refused: ValidationError) -> str:
    return " ".join(m for ms in refused.message_dict.values() for m in ms)


def _said_saved(request: HttpRequest, saved: AgencyContent, started_from: int) -> None:
    if saved.version == started_from:
        messages.info(request, f"Nothing changed: {saved.title} is still version {saved.version}.")
    else:
        messages.success(request, f"{saved.title}: saved as version {saved.version}.")

"""The agency's care plan templates: every template it uses (Careway's and its own), one
template's problems, goals and interventions with its sources and versions, and the editor.

Everyone who builds or reads plans may read them (so a nurse can see where a suggestion comes
from); the agency's admins and supervisors (careplans.templates) copy, write, edit, retire and
restore them, through the services of careway/careplans/services.py ("agency templates"). A
refused write is 403 and audited; anyone else, and another agency's people asking for this
agency's own template, get 404. Each change is a new version; a save over someone else's is a
conflict that keeps what was typed.
"""

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from careway.core import audit
from careway.core.conflicts import VersionConflict
from careway.core.models import Organization, User
from careway.patients.permissions import CHART_VIEW
from careway.toolkit.pages import agency_page

from . import services, template_queries
from .models import AgencyTemplate
from .permissions import CAREPLANS_TEMPLATES
from .template_forms import SKELETON, TemplateForm, as_text

SHIPPED_VERSION = "shipped"


def _reader(request: HttpRequest) -> tuple[User, Organization]:
    """The person and their agency, if they may read its templates; 404 for anyone else."""
    user = cast(User, request.user)
    readable = user.has_perm_code(CAREPLANS_TEMPLATES) or user.has_perm_code(CHART_VIEW)
    if user.organization is None or not readable:
        raise Http404("Not found")
    return user, user.organization


def _manager(request: HttpRequest, key: str = "") -> Organization:
    """The agency of someone who may change its templates: 404 for those who may not read them,
    403 (audited when they tried to write) for readers who may not change them."""
    _user, organization = _reader(request)
    actor = audit.Actor.from_request(request)
    if request.method == "POST":
        services.check_may_manage_templates(actor, organization, key)
    elif not services.may_manage_templates(actor, organization):
        raise PermissionDenied("Only the agency's admins and supervisors change its templates.")
    return organization


def _entry(organization: Organization, key: str) -> template_queries.TemplateEntry:
    found = template_queries.entry(organization.pk, key)
    if found is None:
        raise Http404("No such template")
    return found


def _own(organization: Organization, key: str) -> AgencyTemplate:
    found = _entry(organization, key).agency
    if found is None:
        raise Http404("Your agency has no template of this key of its own")
    return found


@agency_page
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    user, organization = _reader(request)
    context = {
        "title": "Care plan templates",
        "entries": template_queries.entries(organization.pk),
        "may_change": user.has_perm_code(CAREPLANS_TEMPLATES),
    }
    return render(request, "careplans/agency_templates/list.html", context)


@agency_page
@require_GET
def template_detail(request: HttpRequest, key: str) -> HttpResponse:
    """The template in use (or the agency's retired one), or with ?version= one of the agency's
    earlier versions, or Careway's shipped one beside the agency's copy."""
    user, organization = _reader(request)
    entry = _entry(organization, key)
    shown_row, showing_shipped = _version_shown(request, organization, entry)
    if showing_shipped:
        assert entry.shipped is not None
        content: Any = entry.shipped.raw
    else:
        assert shown_row is not None
        content = shown_row.content
    context = {
        "title": entry.title,
        "entry": entry,
        "shown": template_queries.shown(content),
        "shown_row": shown_row,
        "showing_shipped": showing_shipped,
        "is_current": (
            entry.agency is None
            if showing_shipped
            else shown_row is not None and shown_row.pk == cast(AgencyTemplate, entry.agency).pk
        ),
        "versions": template_queries.versions(organization.pk, key) if entry.agency else [],
        "may_change": user.has_perm_code(CAREPLANS_TEMPLATES),
    }
    return render(request, "careplans/agency_templates/detail.html", context)


def _version_shown(
    request: HttpRequest, organization: Organization, entry: template_queries.TemplateEntry
) -> tuple[AgencyTemplate | None, bool]:
    """(the agency's row shown, whether Careway's shipped template is shown instead)."""
    asked = request.GET.get("version", "")
    if entry.agency is None or (asked == SHIPPED_VERSION and entry.shipped is not None):
        return None, True
    if not asked:
        return entry.agency, False
    if not (asked.isascii() and asked.isdigit() and len(asked) <= 9):
        raise Http404("No such version")
    row = template_queries.version_of(organization.pk, entry.key, int(asked))
    if row is None:
        raise Http404("No such version")
    return row, False


@agency_page
@require_POST
def template_copy(request: HttpRequest, key: str) -> HttpResponse:
    organization = _manager(request, key)
    entry = _entry(organization, key)
    if entry.shipped is None:
        raise Http404("No such shipped template")
    try:
        row = services.copy_template(audit.Actor.from_request(request), organization, key)
    except ValidationError as refused:
        messages.error(request, f"Not copied: {_said(refused)}")
        return redirect("careplans:template_detail", key=key)
    messages.success(
        request,
        f"{row.title}: your agency now uses its own copy (version 1), the same as Careway's "
        "until you edit it.",
    )
    return redirect("careplans:template_edit", key=key)


@agency_page
def template_edit(request: HttpRequest, key: str) -> HttpResponse:
    organization = _manager(request, key)
    row = _own(organization, key)
    form = TemplateForm(
        request.POST if request.method == "POST" else None,
        initial={"content": as_text(row.content), "version": row.version},
    )
    conflict = None
    if form.is_bound and form.is_valid():
        try:
            saved = services.save_template(
                audit.Actor.from_request(request),
                organization,
                key,
                form.cleaned_data["content"],
                form.cleaned_data["version"] or 0,
                form.cleaned_data["note"],
            )
        except VersionConflict as stale:
            conflict = stale.current
            form = _rebased(form, stale.current.version)
        except ValidationError as refused:
            form.apply_template_errors(refused)
        else:
            _said_saved(request, saved, row.version)
            return redirect("careplans:template_detail", key=key)
    context = {
        "title": f"Edit: {row.title}",
        "row": row,
        "form": form,
        "conflict": conflict,
        "conflict_text": as_text(conflict.content) if conflict else "",
        "cancel": reverse("careplans:template_detail", kwargs={"key": key}),
        "submit": "Save as a new version",
    }
    return _editor(request, context, form, conflict)


@agency_page
def template_new(request: HttpRequest) -> HttpResponse:
    organization = _manager(request, "")
    form = TemplateForm(
        request.POST if request.method == "POST" else None,
        initial={"content": as_text(SKELETON)},
    )
    form.fields["note"].label = "A note for its history"
    if form.is_bound and form.is_valid():
        try:
            row = services.create_template(
                audit.Actor.from_request(request),
                organization,
                form.cleaned_data["content"],
                form.cleaned_data["note"],
            )
        except ValidationError as refused:
            form.apply_template_errors(refused)
        else:
            messages.success(request, f"{row.title}: added as your agency's own, version 1.")
            return redirect("careplans:template_detail", key=row.key)
    context = {
        "title": "New care plan template",
        "row": None,
        "form": form,
        "conflict": None,
        "cancel": reverse("careplans:template_list"),
        "submit": "Add the template",
    }
    return _editor(request, context, form, None)


def _editor(
    request: HttpRequest,
    context: dict[str, Any],
    form: TemplateForm,
    conflict: AgencyTemplate | None,
) -> HttpResponse:
    status = 409 if conflict else 422 if form.is_bound and form.problems() else 200
    return render(request, "careplans/agency_templates/edit.html", context, status=status)


def _rebased(form: TemplateForm, version: int) -> TemplateForm:
    """What the person typed, aimed at the version saved now: saving again is deliberate."""
    return TemplateForm(
        initial={
            "content": form.data.get("content", ""),
            "note": form.data.get("note", ""),
            "version": version,
        }
    )


@agency_page
@require_POST
def template_retire(request: HttpRequest, key: str) -> HttpResponse:
    return _set_active(request, key, active=False)


@agency_page
@require_POST
def template_restore(request: HttpRequest, key: str) -> HttpResponse:
    return _set_active(request, key, active=True)


def _set_active(request: HttpRequest, key: str, *, active: bool) -> HttpResponse:
    organization = _manager(request, key)
    row = _own(organization, key)
    change = services.restore_template if active else services.retire_template
    word = "restored" if active else "retired"
    try:
        saved = change(
            audit.Actor.from_request(request),
            organization,
            key,
            _posted_version(request),
            request.POST.get("note", ""),
        )
    except VersionConflict as stale:
        messages.error(
            request,
            f"Not {word}: someone else changed this template while you were reading it (now "
            f"version {stale.current.version}). Check it below and try again.",
        )
    except ValidationError as refused:
        messages.error(request, f"Not {word}: {_said(refused)}")
    else:
        if saved.version == row.version:
            messages.info(request, f"{saved.title} was already {word}.")
        else:
            messages.success(request, f"{saved.title}: {word} (version {saved.version}).")
    return redirect("careplans:template_detail", key=key)


def _posted_version(request: HttpRequest) -> int:
    raw = request.POST.get("version", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else 0


def _said(refused: ValidationError) -> str:
    return " ".join(m for ms in refused.message_dict.values() for m in ms)


def _said_saved(request: HttpRequest, saved: AgencyTemplate, started_from: int) -> None:
    if saved.version == started_from:
        messages.info(request, f"Nothing changed: {saved.title} is still version {saved.version}.")
    else:
        messages.success(request, f"{saved.title}: saved as version {saved.version}.")

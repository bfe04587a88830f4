"""The agency's teaching handouts: every handout it gives (Careway's and its own) with both
languages, one handout as the patient reads it in English or Spanish with its sources and
versions, and the editor.

Everyone who reads charts may read them (a nurse reads what she hands over); the agency's admins
and supervisors (careplans.templates) copy, write, edit, retire and restore them, through
careway/careplans/handout_services.py. A refused write is 403 and audited; anyone else, and
another agency's people asking for this agency's own handout, get 404. Each change is a new
version; a save over someone else's is a conflict that keeps what was typed.
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

from . import handout_queries, handout_services
from .handout_forms import SKELETON, HandoutForm, as_text
from .handouts import ENGLISH, LANGUAGE_NAMES, LANGUAGES
from .models import AgencyHandout
from .permissions import CAREPLANS_TEMPLATES

SHIPPED_VERSION = "shipped"


def _reader(request: HttpRequest) -> tuple[User, Organization]:
    """The person and their agency, if they may read its handouts; 404 for anyone else."""
    user = cast(User, request.user)
    readable = user.has_perm_code(CAREPLANS_TEMPLATES) or user.has_perm_code(CHART_VIEW)
    if user.organization is None or not readable:
        raise Http404("Not found")
    return user, user.organization


def _manager(request: HttpRequest, key: str = "") -> Organization:
    """The agency of someone who may change its handouts: 404 for those who may not read them,
    403 (audited when they tried to write) for readers who may not change them."""
    _user, organization = _reader(request)
    actor = audit.Actor.from_request(request)
    if request.method == "POST":
        handout_services.check_may_manage_handouts(actor, organization, key)
    elif not handout_services.may_manage_handouts(actor, organization):
        raise PermissionDenied(handout_services.REFUSED)
    return organization


def _entry(organization: Organization, key: str) -> handout_queries.HandoutEntry:
    found = handout_queries.entry(organization.pk, key)
    if found is None:
        raise Http404("No such handout")
    return found


def _own(organization: Organization, key: str) -> AgencyHandout:
    found = _entry(organization, key).agency
    if found is None:
        raise Http404("Your agency has no handout of this key of its own")
    return found


@agency_page
@require_GET
def handout_list(request: HttpRequest) -> HttpResponse:
    user, organization = _reader(request)
    context = {
        "title": "Teaching handouts",
        "entries": handout_queries.entries(organization.pk),
        "may_change": user.has_perm_code(CAREPLANS_TEMPLATES),
    }
    return render(request, "careplans/handouts/list.html", context)


@agency_page
@require_GET
def handout_detail(request: HttpRequest, key: str) -> HttpResponse:
    """The handout given (or the agency's retired one) as the patient reads it, in the language
    of ?lang= (English by default); with ?version= one of the agency's earlier versions, or
    Careway's shipped one beside the agency's copy."""
    user, organization = _reader(request)
    entry = _entry(organization, key)
    shown_row, showing_shipped = _version_shown(request, organization, entry)
    content: Any = entry.shipped.raw if showing_shipped and entry.shipped else None
    if content is None:
        assert shown_row is not None
        content = shown_row.content
    shown = handout_queries.shown(content)
    asked = request.GET.get("lang", ENGLISH)
    lang = asked if asked in LANGUAGES else ENGLISH
    read = handout_queries.read_in(shown.handout, lang) if shown.handout else None
    context = {
        "title": entry.title,
        "entry": entry,
        "shown": shown,
        "read": read,
        "lang": lang,
        "language_links": _language_links(
            request, key, shown.handout.languages if shown.handout else ()
        ),
        "shown_row": shown_row,
        "showing_shipped": showing_shipped,
        "is_current": (
            entry.agency is None
            if showing_shipped
            else shown_row is not None and shown_row.pk == cast(AgencyHandout, entry.agency).pk
        ),
        "versions": handout_queries.versions(organization.pk, key) if entry.agency else [],
        "may_change": user.has_perm_code(CAREPLANS_TEMPLATES),
    }
    return render(request, "careplans/handouts/detail.html", context)


def _language_links(
    request: HttpRequest, key: str, available: tuple[str, ...]
) -> list[dict[str, Any]]:
    """One link per language, keeping the version asked for; a language the handout lacks is
    shown in English, and says so."""
    query = request.GET.copy()
    links = []
    for code in LANGUAGES:
        query["lang"] = code
        links.append(
            {
                "code": code,
                "name": LANGUAGE_NAMES[code],
                "href": f"{reverse('careplans:handout_detail', kwargs={'key': key})}"
                f"?{query.urlencode()}",
                "available": code in available,
            }
        )
    return links


def _version_shown(
    request: HttpRequest, organization: Organization, entry: handout_queries.HandoutEntry
) -> tuple[AgencyHandout | None, bool]:
    """(the agency's row shown, whether Careway's shipped handout is shown instead)."""
    asked = request.GET.get("version", "")
    if entry.agency is None or (asked == SHIPPED_VERSION and entry.shipped is not None):
        return None, True
    if not asked:
        return entry.agency, False
    if not (asked.isascii() and asked.isdigit() and len(asked) <= 9):
        raise Http404("No such version")
    row = handout_queries.version_of(organization.pk, entry.key, int(asked))
    if row is None:
        raise Http404("No such version")
    return row, False


@agency_page
@require_POST
def handout_copy(request: HttpRequest, key: str) -> HttpResponse:
    organization = _manager(request, key)
    entry = _entry(organization, key)
    if entry.shipped is None:
        raise Http404("No such shipped handout")
    try:
        row = handout_services.copy_handout(audit.Actor.from_request(request), organization, key)
    except ValidationError as refused:
        messages.error(request, f"Not copied: {_said(refused)}")
        return redirect("careplans:handout_detail", key=key)
    messages.success(
        request,
        f"{row.title}: your agency now gives its own copy (version 1), the same as Careway's "
        "until you edit it.",
    )
    return redirect("careplans:handout_edit", key=key)


@agency_page
def handout_edit(request: HttpRequest, key: str) -> HttpResponse:
    organization = _manager(request, key)
    row = _own(organization, key)
    form = HandoutForm(
        request.POST if request.method == "POST" else None,
        initial={"content": as_text(row.content), "version": row.version},
    )
    conflict = None
    if form.is_bound and form.is_valid():
        try:
            saved = handout_services.save_handout(
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
            form.apply_handout_errors(refused)
        else:
            _said_saved(request, saved, row.version)
            return redirect("careplans:handout_detail", key=key)
    context = {
        "title": f"Edit: {row.title}",
        "row": row,
        "form": form,
        "conflict": conflict,
        "conflict_text": as_text(conflict.content) if conflict else "",
        "cancel": reverse("careplans:handout_detail", kwargs={"key": key}),
        "submit": "Save as a new version",
    }
    return _editor(request, context, form, conflict)


@agency_page
def handout_new(request: HttpRequest) -> HttpResponse:
    organization = _manager(request, "")
    form = HandoutForm(
        request.POST if request.method == "POST" else None,
        initial={"content": as_text(SKELETON)},
    )
    form.fields["note"].label = "A note for its history"
    if form.is_bound and form.is_valid():
        try:
            row = handout_services.create_handout(
                audit.Actor.from_request(request),
                organization,
                form.cleaned_data["content"],
                form.cleaned_data["note"],
            )
        except ValidationError as refused:
            form.apply_handout_errors(refused)
        else:
            messages.success(request, f"{row.title}: added as your agency's own, version 1.")
            return redirect("careplans:handout_detail", key=row.key)
    context = {
        "title": "New teaching handout",
        "row": None,
        "form": form,
        "conflict": None,
        "cancel": reverse("careplans:handout_list"),
        "submit": "Add the handout",
    }
    return _editor(request, context, form, None)


def _editor(
    request: HttpRequest,
    context: dict[str, Any],
    form: HandoutForm,
    conflict: AgencyHandout | None,
) -> HttpResponse:
    status = 409 if conflict else 422 if form.is_bound and form.problems() else 200
    return render(request, "careplans/handouts/edit.html", context, status=status)


def _rebased(form: HandoutForm, version: int) -> HandoutForm:
    """What the person typed, aimed at the version saved now: saving again is deliberate."""
    return HandoutForm(
        initial={
            "content": form.data.get("content", ""),
            "note": form.data.get("note", ""),
            "version": version,
        }
    )


@agency_page
@require_POST
def handout_retire(request: HttpRequest, key: str) -> HttpResponse:
    return _set_active(request, key, active=False)


@agency_page
@require_POST
def handout_restore(request: HttpRequest, key: str) -> HttpResponse:
    return _set_active(request, key, active=True)


def _set_active(request: HttpRequest, key: str, *, active: bool) -> HttpResponse:
    organization = _manager(request, key)
    row = _own(organization, key)
    change = handout_services.restore_handout if active else handout_services.retire_handout
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
            f"Not {word}: someone else changed this handout while you were reading it (now "
            f"version {stale.current.version}). Check it below and try again.",
        )
    except ValidationError as refused:
        messages.error(request, f"Not {word}: {_said(refused)}")
    else:
        if saved.version == row.version:
            messages.info(request, f"{saved.title} was already {word}.")
        else:
            messages.success(request, f"{saved.title}: {word} (version {saved.version}).")
    return redirect("careplans:handout_detail", key=key)


def _posted_version(request: HttpRequest) -> int:
    raw = request.POST.get("version", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else 0


def _said(refused: ValidationError) -> str:
    return " ".join(m for ms in refused.message_dict.values() for m in ms)


def _said_saved(request: HttpRequest, saved: AgencyHandout, started_from: int) -> None:
    if saved.version == started_from:
        messages.info(request, f"Nothing changed: {saved.title} is still version {saved.version}.")
    else:
        messages.success(request, f"{saved.title}: saved as version {saved.version}.")

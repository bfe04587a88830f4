"""Sign-in and two-factor, the account page, people admin, the audit log, emergency access and
notifications. Views parse, call `access` and `services`, and render; the rules live there."""

import csv
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from careway.patients.models import Patient

from . import access, audit, services
from .forms import AuditFilterForm, BreakGlassForm, CodeForm, RoleForm, SignInForm, UserCreateForm
from .middleware import SESSION_LAST_SEEN, SESSION_STARTED
from .models import AuditEvent, Membership, Notification, User
from .roles import Perm

PENDING_USER = "careway_pending_user"
PENDING_AT = "careway_pending_at"
PENDING_NEXT = "careway_pending_next"
PENDING_ENROLMENT = "careway_pending_enrolment"
# Between the password and the code: long enough to open an app, short enough not to linger.
PENDING_MAX_SECONDS = 10 * 60
PAGE_SIZE = 50
SIGN_IN_REFUSED = (
    "Sign-in failed: the username and password do not match an active account, or the account "
    "is locked after too many tries. Check them and try again, or ask your agency admin."
)
CODE_REFUSED = (
    "That code is not right, or it has already been used. Wait for the next code and try again."
)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role's first page: admins and auditors have no caseload to land on."""
    permissions = request.user.permissions
    for perm, page in HOME_PAGES:
        if perm in permissions:
            return redirect(page)
    return redirect("account")


HOME_PAGES = (
    (Perm.CHART_VIEW, "caseload"),
    (Perm.USERS_MANAGE, "user_list"),
    (Perm.AUDIT_VIEW, "audit_log"),
)


# --- Sign-in -------------------------------------------------------------------------------


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    allowed = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if candidate and allowed else resolve_url("home")


def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next")
    if request.user.is_authenticated:
        return redirect(_safe_next(request, next_url))
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actor = audit.Actor.from_request(request)
        data = form.cleaned_data
        try:
            user = services.check_password_step(actor, data["username"], data["password"])
        except services.SignInRefused:
            form.add_error(None, SIGN_IN_REFUSED)
        else:
            return _after_password(request, user, _safe_next(request, next_url))
    context = {"form": form, "next": next_url or "", "expired": "expired" in request.GET}
    return render(request, "core/login.html", context, status=400 if form.errors else 200)


def _after_password(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    if not services.two_factor_enrolled(user) and not services.two_factor_required(user):
        return _finish_sign_in(request, user, next_url)
    # A new key, and nothing left over from someone who gave up half way on this browser.
    request.session.cycle_key()
    _clear_pending(request)
    request.session[PENDING_USER] = user.pk
    request.session[PENDING_AT] = time.time()
    request.session[PENDING_NEXT] = next_url
    if services.two_factor_enrolled(user):
        return redirect("two_factor_verify")
    return redirect("two_factor_setup")


def _pending_user(request: HttpRequest) -> User | None:
    """The person who passed the password step in this session, if recently enough and not
    locked out since (wrong codes count toward the lock)."""
    started = request.session.get(PENDING_AT, 0)
    user_id = request.session.get(PENDING_USER)
    if not user_id or time.time() - started > PENDING_MAX_SECONDS:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    return None if user is None or user.is_locked() else user


def _clear_pending(request: HttpRequest) -> None:
    for key in (PENDING_USER, PENDING_AT, PENDING_NEXT, PENDING_ENROLMENT):
        request.session.pop(key, None)


def _finish_sign_in(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    _clear_pending(request)
    login(request, user, backend="careway.core.backends.CarewayBackend")
    now = time.time()
    request.session[SESSION_STARTED] = now
    request.session[SESSION_LAST_SEEN] = now
    request.session.save()
    services.complete_sign_in(
        user,
        request.session.session_key,
        audit.client_address(request),
        request.headers.get("user-agent", ""),
    )
    return redirect(next_url)


def _restart_sign_in(request: HttpRequest, message: str) -> HttpResponse:
    _clear_pending(request)
    messages.warning(request, message)
    return redirect("login")


def two_factor_verify(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None or not services.two_factor_enrolled(user):
        return _restart_sign_in(request, "Sign in with your username and password first.")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actor = audit.Actor.from_request(request)
        if services.verify_totp(actor, user, form.cleaned_data["code"]):
            return _finish_sign_in(request, user, request.session[PENDING_NEXT])
        user.refresh_from_db()
        if user.is_locked():
            return _restart_sign_in(request, SIGN_IN_REFUSED)
        form.add_error("code", CODE_REFUSED)
    status = 400 if form.errors else 200
    return render(request, "core/two_factor_verify.html", {"form": form}, status=status)


def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator: during sign-in when it is required, or from the account page."""
    signing_in = not request.user.is_authenticated
    user = _pending_user(request) if signing_in else request.user
    if user is None or (signing_in and services.two_factor_enrolled(user)):
        return _restart_sign_in(request, "Sign in with your username and password first.")
    secret = request.session.setdefault(PENDING_ENROLMENT, services.new_totp_secret())
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actor = audit.Actor.from_request(request)
        code = form.cleaned_data["code"]
        if services.do_enrol_two_factor(actor, user, secret, code, during_sign_in=signing_in):
            return _after_enrolment(request, user, signing_in)
        form.add_error("code", CODE_REFUSED)
    context = {
        "form": form,
        "signing_in": signing_in,
        "qr_svg": services.totp_qr_svg(user, secret),
        "account_name": user.username,
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
    }
    status = 400 if form.errors else 200
    return render(request, "core/two_factor_setup.html", context, status=status)


def _after_enrolment(request: HttpRequest, user: User, signing_in: bool) -> HttpResponse:
    if signing_in:
        return _finish_sign_in(request, user, request.session[PENDING_NEXT])
    request.session.pop(PENDING_ENROLMENT, None)
    messages.success(request, "Two-factor sign-in is on. You will be asked for a code each time.")
    return redirect("account")


@login_required
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    services.record_sign_out(audit.Actor.from_request(request), request.session.session_key)
    logout(request)
    messages.success(request, "You have signed out.")
    return redirect("login")


# --- Account -------------------------------------------------------------------------------


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "memberships": user.active_memberships(),
        "two_factor_on": services.two_factor_enrolled(user),
        "two_factor_required": services.two_factor_required(user),
        "session_count": services.live_session_count(user),
    }
    return render(request, "core/account.html", context)


@login_required
@require_POST
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    services.do_end_all_sessions(audit.Actor.from_request(request), request.user)
    logout(request)
    messages.success(request, "You have been signed out on every device, this one included.")
    return redirect("login")


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.do_change_password(
            audit.Actor.from_request(request),
            request.user,
            form.cleaned_data["new_password1"],
            keep_session=request.session.session_key,
        )
        update_session_auth_hash(request, request.user)
        messages.success(request, "Your password is changed; other devices were signed out.")
        return redirect("account")
    status = 400 if form.errors else 200
    return render(request, "core/password_change.html", {"form": form}, status=status)


# --- People --------------------------------------------------------------------------------


def _agency_user(request: HttpRequest, user_id: int) -> User:
    access.require(request.user, Perm.USERS_MANAGE)
    return get_object_or_404(User, pk=user_id, organization_id=request.user.organization_id)


def _active_roles() -> Prefetch:
    # Filled into the cache User.active_memberships() reads, so roles cost no query per row.
    memberships = Membership.objects.filter(active=True).select_related("branch")
    return Prefetch(
        "memberships", queryset=memberships.order_by("role"), to_attr="_memberships_cache"
    )


def _people(request: HttpRequest) -> tuple[QuerySet[User], str, str]:
    people = User.objects.filter(organization_id=request.user.organization_id)
    status = request.GET.get("status", "active")
    if status in ("active", "inactive"):
        people = people.filter(is_active=status == "active")
    text = request.GET.get("q", "").strip()
    if text:
        people = people.filter(
            Q(username__icontains=text)
            | Q(first_name__icontains=text)
            | Q(last_name__icontains=text)
            | Q(email__icontains=text)
        )
    people = (
        people.select_related("organization")
        .prefetch_related(_active_roles())
        .order_by("last_name", "first_name", "pk")
    )
    return people, status, text


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    access.require(request.user, Perm.USERS_MANAGE)
    people, status, text = _people(request)
    page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": [_person_row(person) for person in page],
        "status": status,
        "q": text,
        "query": _query_without_page(request),
        "agency_tz": _agency_tz(request.user),
    }
    return render(request, "core/user_list.html", context)


def _person_row(person: User) -> dict[str, Any]:
    memberships = person.active_memberships()
    return {
        "person": person,
        "roles": sorted({m.get_role_display() for m in memberships}),
        "branches": sorted({m.branch.name for m in memberships if m.branch}),
        "disciplines": sorted({m.discipline for m in memberships if m.discipline}),
        "two_factor_on": services.two_factor_enrolled(person),
        "two_factor_required": services.two_factor_required(person),
    }


@login_required
def user_create(request: HttpRequest) -> HttpResponse:
    access.require(request.user, Perm.USERS_MANAGE)
    org = request.user.organization
    form = UserCreateForm(request.POST or None, organization=org)
    if request.method == "POST" and form.is_valid():
        spec = _role_spec(form)
        try:
            person = services.do_create_user(
                audit.Actor.from_request(request),
                form.user_fields(),
                form.cleaned_data["password"],
                spec,
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"{person.display_name} can now sign in.")
            return redirect("user_detail", user_id=person.pk)
    status = 400 if form.errors else 200
    return render(request, "core/user_create.html", {"form": form}, status=status)


def _role_spec(form: RoleForm) -> services.RoleSpec:
    data = form.cleaned_data
    return services.RoleSpec(data["role"], data["branch"], data["discipline"])


def _add_errors(form: Any, error: ValidationError) -> None:
    """Put a service's ValidationError on the form fields it names (password: the password)."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error("password" if "password" in form.fields else None, error)


@login_required
def user_detail(request: HttpRequest, user_id: int, role_form: RoleForm | None = None):
    person = _agency_user(request, user_id)
    role_form = role_form or RoleForm(organization=request.user.organization)
    context = {
        "person": person,
        "memberships": person.active_memberships(),
        "role_form": role_form,
        "two_factor_on": services.two_factor_enrolled(person),
        "two_factor_required": services.two_factor_required(person),
        "session_count": services.live_session_count(person),
        "is_self": person == request.user,
    }
    status = 400 if role_form.errors else 200
    return render(request, "core/user_detail.html", context, status=status)


@login_required
@require_POST
def user_role_add(request: HttpRequest, user_id: int) -> HttpResponse:
    person = _agency_user(request, user_id)
    form = RoleForm(request.POST, organization=request.user.organization)
    if not form.is_valid():
        return user_detail(request, user_id, role_form=form)
    return _apply(request, person, services.do_change_roles, add=[_role_spec(form)])


@login_required
@require_POST
def user_role_remove(request: HttpRequest, user_id: int, membership_id: int) -> HttpResponse:
    person = _agency_user(request, user_id)
    membership = get_object_or_404(Membership, pk=membership_id, user=person, active=True)
    return _apply(request, person, services.do_change_roles, remove=[membership])


USER_ACTIONS = {
    "deactivate": (services.do_deactivate_user, "{name} is deactivated and signed out."),
    "reactivate": (services.do_reactivate_user, "{name} can sign in again."),
    "unlock": (services.do_unlock_user, "{name}'s account is unlocked."),
    "reset-two-factor": (
        services.do_reset_two_factor,
        "{name}'s authenticator is removed; they set up a new one at their next sign-in.",
    ),
}


@login_required
@require_POST
def user_action(request: HttpRequest, user_id: int, action: str) -> HttpResponse:
    person = _agency_user(request, user_id)
    if action not in USER_ACTIONS:
        raise Http404("No such action")
    service, done = USER_ACTIONS[action]
    return _apply(request, person, service, done=done)


def _apply(
    request: HttpRequest, person: User, service: Any, done: str = "Roles saved.", **kwargs: Any
) -> HttpResponse:
    try:
        service(audit.Actor.from_request(request), person, **kwargs)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done.format(name=person.display_name))
    return redirect("user_detail", user_id=person.pk)


# --- Audit log -----------------------------------------------------------------------------


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


def _patient_ids(organization_id: int, text: str) -> list[uuid.UUID]:
    """A patient id as typed, or the id behind an exact MRN in this agency.

    Auditors cannot open charts; this resolves an identifier to an id for filtering the trail
    and reads nothing else about the patient.
    """
    text = text.strip()
    try:
        return [uuid.UUID(text)]
    except ValueError:
        mrn_match = Patient.objects.filter(organization_id=organization_id, mrn=text)
        return list(mrn_match.values_list("pk", flat=True))


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    access.require(request.user, Perm.AUDIT_VIEW)
    form, events = _audit_events(request)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    for event in page:
        event.detail_text = json.dumps(event.detail, sort_keys=True) if event.detail else ""
    sort = form.sort_key() if form.is_bound and form.is_valid() else "-time"
    context = {
        "form": form,
        "page": page,
        "sort_label": AuditFilterForm.SORT_LABELS[sort],
        "sort_columns": _sort_columns(request, sort),
        "query": _query_without_page(request),
        "agency_tz": _agency_tz(request.user),
    }
    template = "core/_audit_results.html" if request.htmx else "core/audit_log.html"
    return render(request, template, context)


SORT_COLUMNS = (("time", "Time"), ("user", "User"), ("action", "Action"))


def _sort_columns(request: HttpRequest, current: str) -> list[dict[str, str]]:
    """Header links: a click sorts by that column (time newest first), a second one reverses."""
    columns = []
    for key, label in SORT_COLUMNS:
        descending, ascending = current == f"-{key}", current == key
        if descending or ascending:
            next_sort = key if descending else f"-{key}"
        else:
            next_sort = "-time" if key == "time" else key
        query = request.GET.copy()
        query.pop("page", None)
        query["sort"] = next_sort
        direction = "descending" if descending else "ascending" if ascending else ""
        columns.append({"label": label, "query": query.urlencode(), "direction": direction})
    return columns


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


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
    access.require(request.user, Perm.AUDIT_VIEW)
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


# --- Emergency access and notifications -----------------------------------------------------


@login_required
def break_glass(request: HttpRequest) -> HttpResponse:
    access.require(request.user, Perm.BREAK_GLASS)
    form = BreakGlassForm(request.POST or None, organization=request.user.organization)
    if request.method == "POST" and form.is_valid():
        response = _open_glass(request, form)
        if response is not None:
            return response
    status = 400 if form.errors else 200
    return render(request, "core/break_glass.html", {"form": form}, status=status)


def _open_glass(request: HttpRequest, form: BreakGlassForm) -> HttpResponse | None:
    actor = audit.Actor.from_request(request)
    data = form.cleaned_data
    patient = services.find_patient_by_mrn(actor, data["mrn"].strip())
    if patient is None:
        form.add_error("mrn", "No patient in your agency has this MRN. Check it and try again.")
        return None
    if access.visible_patients(request.user).filter(pk=patient.pk).exists():
        messages.info(request, "You can already open this chart; no emergency access was needed.")
        return redirect("chart", patient_id=patient.pk)
    try:
        grant = services.do_break_glass(actor, patient, data["reason"], data["minutes"])
    except ValidationError as error:
        _add_errors(form, error)
        return None
    until = _local_time(grant.expires_at, request.user)
    messages.warning(
        request,
        f"Emergency access: you may read this chart until {until}. "
        "Your supervisor has been told, and every view is audited.",
    )
    return redirect("chart", patient_id=patient.pk)


def _agency_tz(user: User) -> str:
    return user.organization.timezone if user.organization else "UTC"


def _local_time(moment: datetime, user: User) -> str:
    return moment.astimezone(ZoneInfo(_agency_tz(user))).strftime("%H:%M %Z")


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    notices = Notification.objects.filter(recipient=request.user)
    page = Paginator(notices, PAGE_SIZE).get_page(request.GET.get("page"))
    _audit_listed_patients(request, page)
    context = {
        "page": page,
        "unread": notices.filter(read_at__isnull=True).count(),
        "agency_tz": _agency_tz(request.user),
    }
    return render(request, "core/notifications.html", context)


def _audit_listed_patients(request: HttpRequest, page: Page) -> None:
    # A notification names a patient by MRN: showing it is a look at patient data.
    patient_ids = [n.patient_id for n in page.object_list if n.patient_id]
    audit.record_many(
        audit.Actor.from_request(request),
        "patient.list",
        patient_ids,
        detail={"section": "notifications"},
    )


@login_required
@require_POST
def notifications_mark_read(request: HttpRequest) -> HttpResponse:
    ids = request.POST.getlist("id") or None
    wanted = [int(i) for i in ids if i.isdigit()] if ids else None
    services.mark_notifications_read(request.user, wanted)
    if request.htmx and wanted:
        notice = get_object_or_404(Notification, pk=wanted[0], recipient=request.user)
        if notice.patient_id:
            audit.record(
                audit.Actor.from_request(request),
                "patient.list",
                patient_id=notice.patient_id,
                detail={"section": "notifications"},
            )
        context = {"notice": notice, "agency_tz": _agency_tz(request.user)}
        return render(request, "core/_notification.html", context)
    return redirect("notifications")

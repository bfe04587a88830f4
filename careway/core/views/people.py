"""People administration: the agency's staff, their roles, and locking, unlocking and
deactivating them (agency admins only)."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from careway.core import audit, services
from careway.core.forms import RoleForm, UserCreateForm
from careway.core.models import Membership, User
from careway.core.permissions import USERS_MANAGE, require
from careway.toolkit.pages import agency_zone, paginate, query_without

PAGE_SIZE = 50


def _agency_user(request: HttpRequest, user_id: int) -> User:
    require(request.user, USERS_MANAGE)
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
    require(request.user, USERS_MANAGE)
    people, status, text = _people(request)
    page = paginate(people, request.GET.get("page"), PAGE_SIZE)
    context = {
        "page": page,
        "rows": [_person_row(person) for person in page],
        "status": status,
        "q": text,
        "page_query": query_without(request, "page"),
        "agency_tz": agency_zone(request.user),
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
    require(request.user, USERS_MANAGE)
    org = request.user.organization
    form = UserCreateForm(request.POST or None, organization=org)
    if request.method == "POST" and form.is_valid():
        spec = _role_spec(form)
        try:
            person = services.create_user(
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
    return _apply(request, person, services.change_roles, add=[_role_spec(form)])


@login_required
@require_POST
def user_role_remove(request: HttpRequest, user_id: int, membership_id: int) -> HttpResponse:
    person = _agency_user(request, user_id)
    membership = get_object_or_404(Membership, pk=membership_id, user=person, active=True)
    return _apply(request, person, services.change_roles, remove=[membership])


USER_ACTIONS = {
    "deactivate": (services.deactivate_user, "{name} is deactivated and signed out."),
    "reactivate": (services.reactivate_user, "{name} can sign in again."),
    "unlock": (services.unlock_user, "{name}'s account is unlocked."),
    "reset-two-factor": (
        services.reset_two_factor,
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

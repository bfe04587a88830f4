"""What each role may do, declared by the part of Careway the permission belongs to.

A permission is a capability of a role (`chart.edit`: change a chart); whether a person may use it
on a given patient is decided on top of it by `careway.patients.access` (care team, branch,
emergency access). Core declares the roles and its own two permissions (people administration
and the audit trail); each domain declares its permissions in its AppConfig.ready() with
`register`, naming the roles that hold each, the way ohcnetwork/care declares them beside the
code that checks them. Fine-grained on purpose: a scheduler can be given `visits.edit` without
`chart.edit`.
"""

from dataclasses import dataclass
from functools import cache

from django.http import Http404

from .registry import Registry
from .roles import Role


@dataclass(frozen=True)
class Permission:
    code: str
    description: str
    roles: frozenset[str]

    def __str__(self) -> str:
        return self.code


PERMISSIONS: Registry[Permission] = Registry("permission", lambda p: p.code, lambda p: p.code)


def register(*permissions: Permission) -> None:
    PERMISSIONS.register(*permissions)
    _role_map.cache_clear()


def declare(code: str, description: str, *roles: str) -> Permission:
    """A permission held by `roles` (register it from the app's ready())."""
    return Permission(code, description, frozenset(roles))


@cache
def _role_map() -> dict[str, frozenset[str]]:
    granted: dict[str, set[str]] = {}
    for permission in PERMISSIONS:
        for role in permission.roles:
            granted.setdefault(role, set()).add(permission.code)
    return {role: frozenset(codes) for role, codes in granted.items()}


def permissions_for(roles: set[str]) -> frozenset[str]:
    """The codes of every permission any of `roles` holds."""
    role_map = _role_map()
    granted: frozenset[str] = frozenset()
    for role in roles:
        granted |= role_map.get(role, frozenset())
    return granted


def code_of(permission: Permission | str) -> str:
    return permission.code if isinstance(permission, Permission) else permission


def require(user, permission: Permission | str) -> None:
    """For pages that are not about one patient (people, audit, imports): deny with 404."""
    if not (user.is_authenticated and user.has_perm_code(permission)):
        raise Http404("Not found")


USERS_MANAGE = declare(
    "users.manage", "Add people, change their roles, lock and unlock them.", Role.AGENCY_ADMIN
)
AGENCY_SETTINGS = declare(
    "agency.settings",
    "Change the agency's phones, address and the days an order has to come back signed.",
    Role.AGENCY_ADMIN,
)
AUDIT_VIEW = declare("audit.view", "Read and export the agency's audit trail.", Role.AUDITOR)

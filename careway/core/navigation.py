"""The links at the top of every page, which each part of Careway adds for its own pages.

An app registers its entries from AppConfig.ready(); the context processor shows a person the
entries their permissions allow, in order. Of the entries with a `home_rank`, the one of lowest
rank the person may use is where they land after signing in (a case manager on the caseload, an
admin on People, an auditor on the audit log).
"""

from dataclasses import dataclass

from django.http import HttpRequest

from .permissions import Permission, code_of
from .registry import Registry


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    url_name: str
    permission: Permission | None
    order: int
    home_rank: int | None = None


NAVIGATION: Registry[NavItem] = Registry("navigation entry", lambda n: n.key, lambda n: n.order)


def items_for(user) -> list[NavItem]:
    held = user.permissions
    return [
        item for item in NAVIGATION if item.permission is None or code_of(item.permission) in held
    ]


def home_url_name(user) -> str:
    """The page a person lands on: their permitted entry of lowest home rank, else the account."""
    homes = [(item.home_rank, item.url_name) for item in items_for(user) if item.home_rank]
    return min(homes)[1] if homes else "account"


def navigation(request: HttpRequest) -> dict:
    """Template context: the entries this person may use, and their unread notices."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_items": items_for(user),
        "unread_notifications": user.notifications.filter(read_at__isnull=True).count(),
    }

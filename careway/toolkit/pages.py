"""Helpers of every agency page: the decorator, query strings, sortable headers, pagination."""

import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

SECTION_PAGE_SIZE = 25


def agency_zone(user: Any) -> str:
    organization = getattr(user, "organization", None)
    return organization.timezone if organization else "UTC"


def agency_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in, GET or POST only, and times shown in the agency's time zone."""

    @login_required
    @require_http_methods(["GET", "POST"])
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with timezone.override(zoneinfo.ZoneInfo(agency_zone(request.user))):
            return view(request, *args, **kwargs)

    return wrapper


def local_time(moment: datetime, user: Any) -> str:
    """A time of day as the agency reads it, with its zone: '14:05 EST'."""
    return moment.astimezone(zoneinfo.ZoneInfo(agency_zone(user))).strftime("%H:%M %Z")


def query_without(request: HttpRequest, *names: str) -> str:
    """The request's query string without `names` (the page number, the sort)."""
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


@dataclass(frozen=True)
class SortColumn:
    key: str
    label: str
    # The first click on a column that is not the current sort: newest first for a time.
    descending_first: bool = False


@dataclass(frozen=True)
class SortHeader:
    key: str
    label: str
    url: str
    current: bool
    descending: bool

    @property
    def aria_sort(self) -> str:
        if not self.current:
            return ""
        return "descending" if self.descending else "ascending"


def sort_headers(
    request: HttpRequest, columns: Iterable[SortColumn], current: str, descending: bool
) -> list[SortHeader]:
    """Each sortable column's header link: a click sorts by it, a second click the other way.

    The link keeps the page's filters and starts again at the first page."""
    headers = []
    for column in columns:
        is_current = column.key == current
        sort_next_descending = not descending if is_current else column.descending_first
        query = request.GET.copy()
        query.pop("page", None)
        query["sort"] = f"{'-' if sort_next_descending else ''}{column.key}"
        headers.append(
            SortHeader(
                key=column.key,
                label=column.label,
                url=f"?{query.urlencode()}",
                current=is_current,
                descending=is_current and descending,
            )
        )
    return headers


def paginate(rows: Any, page: Any, per_page: int = SECTION_PAGE_SIZE) -> Page:
    """One page of rows, read now: inside the caller's transaction, beside its audit event."""
    found = Paginator(rows, per_page).get_page(page)
    found.object_list = list(found.object_list)
    return found

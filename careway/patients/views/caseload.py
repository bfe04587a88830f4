"""My caseload: the patients a person cares for, searched, filtered and sorted, with a column for
each thing a domain says about them (careway/patients/frame.py: caseload columns)."""

from datetime import date

from django.core.paginator import Page
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from careway.core import audit
from careway.core.permissions import AUDIT_VIEW, USERS_MANAGE
from careway.patients import queries
from careway.patients.forms import CaseloadFilterForm
from careway.patients.frame import CaseloadColumn, caseload_rows_template, columns_for
from careway.patients.models import Patient
from careway.patients.permissions import CASELOAD_SUPERVISE, CHART_VIEW, PATIENT_CREATE
from careway.toolkit.pages import (
    SortColumn,
    SortHeader,
    agency_page,
    paginate,
    query_without,
    sort_headers,
)

NAME_SORT = ("family_name", "given_name", "pk")


@agency_page
def caseload(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.has_perm_code(CHART_VIEW):
        return _no_caseload(request)
    columns = columns_for(user)
    supervising = user.has_perm_code(CASELOAD_SUPERVISE)
    filters = CaseloadFilterForm(
        request.GET,
        flag_choices=queries.caseload_flag_categories(user),
        sorts=[("name", "Name")] + [(c.key, c.title) for c in columns if c.sortable],
        case_managers=queries.case_manager_choices(user) if supervising else None,
    )
    column, descending = filters.sort_key
    criteria = filters.criteria()
    today = timezone.localdate()
    with transaction.atomic():
        patients = queries.caseload(user, **criteria)
        for extra in columns:
            if extra.annotate is not None:
                patients = extra.annotate(patients)
        page = _page(request, columns, patients, column, descending, today)
        _add_to_page(columns, page.object_list, today)
        headers = _headers(request, columns, column, descending)
        sizes = (
            queries.caseload_sizes(user, queries.caseload(user, **criteria | {"case_manager": ""}))
            if supervising
            else None
        )
        actor = audit.Actor.from_request(request)
        audit.record_many(actor, "patient.list", [p.pk for p in page], detail={"q": criteria["q"]})
    context = {
        "filters": filters,
        "page": page,
        "name_header": headers["name"],
        "columns": [(c, headers.get(c.key)) for c in columns],
        "rows_template": caseload_rows_template(columns),
        "sort": {"column": column, "descending": descending},
        "sort_label": _sort_label(columns, column),
        "page_query": query_without(request, "page"),
        "filtered": criteria != CaseloadFilterForm.UNFILTERED,
        "can_register": user.has_perm_code(PATIENT_CREATE),
        "caseload_sizes": sizes,
        "sizes_query": query_without(request, "page", "case_manager"),
        "sizes_filtered": criteria | {"case_manager": ""} != CaseloadFilterForm.UNFILTERED,
        "case_manager": criteria["case_manager"],
    }
    template = "patients/_caseload_results.html" if request.htmx else "patients/caseload.html"
    response = render(request, template, context)
    # The same URL answers with a fragment or a whole page; caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _no_caseload(request: HttpRequest) -> HttpResponse:
    """An agency admin or an auditor: no caseload, and no advice meant for the care team."""
    user = request.user
    context = {
        "can_manage_people": user.has_perm_code(USERS_MANAGE),
        "can_read_audit": user.has_perm_code(AUDIT_VIEW),
    }
    return render(request, "patients/caseload_no_charts.html", context)


def _page(
    request: HttpRequest,
    columns: list[CaseloadColumn],
    patients: QuerySet[Patient],
    column: str,
    descending: bool,
    today: date,
) -> Page:
    """The page of rows asked for, sorted by the database or, for a column whose order is
    worked out in Python, by that column's keys."""
    number = request.GET.get("page")
    by_keys = next((c.sort_keys for c in columns if c.key == column and c.sort_keys), None)
    if by_keys is not None:
        return queries.page_sorted_by_keys(patients, by_keys, descending, number, today, NAME_SORT)
    sorts = {"name": NAME_SORT} | {c.key: c.sort for c in columns if c.sort}
    ordered = queries.sorted_caseload(patients, sorts[column], descending)
    return paginate(ordered, number, queries.CASELOAD_PAGE_SIZE)


def _add_to_page(columns: list[CaseloadColumn], patients: list[Patient], today: date) -> None:
    for column in columns:
        if column.add_to_page is not None:
            column.add_to_page(patients, today)


def _sort_label(columns: list[CaseloadColumn], column: str) -> str:
    return next((c.title.lower() for c in columns if c.key == column), "name")


def _headers(
    request: HttpRequest, columns: list[CaseloadColumn], column: str, descending: bool
) -> dict[str, SortHeader]:
    """The sort link of the name header and of each sortable column, by column key."""
    sortable = [SortColumn("name", "Name")]
    sortable += [SortColumn(c.key, c.title) for c in columns if c.sortable]
    return {h.key: h for h in sort_headers(request, sortable, column, descending)}

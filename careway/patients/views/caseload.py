"""My caseload: the patients a person cares for, searched, filtered and sorted, with a column for
each thing a domain says about them (careway/patients/frame.py: caseload columns)."""

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from careway.core import audit
from careway.patients import queries
from careway.patients.forms import CaseloadFilterForm
from careway.patients.frame import CaseloadColumn, caseload_rows_template, columns_for
from careway.patients.models import Patient
from careway.patients.permissions import PATIENT_CREATE
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
    columns = columns_for(user)
    sorts = {"name": NAME_SORT} | {c.key: c.sort for c in columns if c.sort}
    filters = CaseloadFilterForm(
        request.GET, flag_choices=queries.caseload_flag_categories(user), sorts=sorts
    )
    column, descending = filters.sort_key
    criteria = filters.criteria()
    with transaction.atomic():
        patients = queries.caseload(user, **criteria)
        for extra in columns:
            if extra.annotate is not None:
                patients = extra.annotate(patients)
        ordered = queries.sorted_caseload(patients, sorts[column], descending)
        page = paginate(ordered, request.GET.get("page"), queries.CASELOAD_PAGE_SIZE)
        _add_to_page(columns, page.object_list)
        headers = _headers(request, columns, column, descending)
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
    }
    template = "patients/_caseload_results.html" if request.htmx else "patients/caseload.html"
    response = render(request, template, context)
    # The same URL answers with a fragment or a whole page; caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _add_to_page(columns: list[CaseloadColumn], patients: list[Patient]) -> None:
    today = timezone.localdate()
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
    sortable += [SortColumn(c.key, c.title) for c in columns if c.sort]
    return {h.key: h for h in sort_headers(request, sortable, column, descending)}

"""The import page: upload FHIR files into a branch, watch them import, read the report.

For agency admins and case managers (the records.import permission). A run belongs to its agency:
anyone there who may import sees its report; anyone else gets 404, like every page that is not
theirs.
"""

from typing import Any, cast

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from careway.core import audit
from careway.core.models import User
from careway.core.permissions import require
from careway.toolkit.pages import agency_page

from . import tasks, uploads
from .forms import ImportForm
from .models import ImportRun
from .permissions import RECORDS_IMPORT

RECENT_RUNS = 20


# Every page here, the polled partial included, is an agency page: times in the agency's zone.
@agency_page
def import_list(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    require(user, RECORDS_IMPORT)
    form = ImportForm(request.POST or None, request.FILES or None, user=user)
    if request.method == "POST" and form.is_valid():
        actor = audit.Actor.from_request(request)
        run, small = uploads.start_upload(
            actor, form.cleaned_data["branch"], form.cleaned_data["uploads"]
        )
        if small:
            tasks.run_now(run)
        else:
            transaction.on_commit(lambda: tasks.import_upload.enqueue(str(run.pk)))
        return redirect("import_detail", run_id=run.pk)
    runs = ImportRun.objects.filter(organization_id=user.organization_id or 0).select_related(
        "branch", "started_by"
    )
    context = {"form": form, "runs": runs.order_by("-created_at")[:RECENT_RUNS]}
    return render(request, "fhir/import_list.html", context, status=400 if form.errors else 200)


def _run_for(request: HttpRequest, run_id: Any) -> ImportRun:
    user = cast(User, request.user)
    require(user, RECORDS_IMPORT)
    run = (
        ImportRun.objects.filter(pk=run_id, organization_id=user.organization_id or 0)
        .select_related("branch", "started_by")
        .first()
    )
    if run is None:
        raise Http404("No such import")
    return run


@agency_page
def import_detail(request: HttpRequest, run_id) -> HttpResponse:
    run = _run_for(request, run_id)
    return render(request, "fhir/import_detail.html", {"run": run, **_report(run)})


@agency_page
def import_progress(request: HttpRequest, run_id) -> HttpResponse:
    """The progress and report part of the page, polled by htmx while the import runs."""
    run = _run_for(request, run_id)
    return render(request, "fhir/_import_progress.html", {"run": run, **_report(run)})


def _report(run: ImportRun) -> dict:
    rows = []
    for resource_type, counts in sorted(run.counts.items()):
        rows.append({"type": resource_type, **counts})
    finished = run.status in (ImportRun.Status.DONE, ImportRun.Status.FAILED)
    return {"count_rows": rows, "finished": finished}

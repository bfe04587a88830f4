"""Today: the rows every domain registered (careway/patients/today.py), for the patients this
person looks after, each with its reason and a link to the chart; read and audited in one
transaction, as the caseload is."""

from dataclasses import dataclass
from typing import Any, cast

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from careway.core import audit
from careway.core.models import User
from careway.core.permissions import require
from careway.patients import access, queries
from careway.patients.permissions import CHART_VIEW
from careway.patients.today import TodayRow, TodaySource, sources_for
from careway.toolkit.pages import agency_page


@dataclass
class TodayList:
    source: TodaySource
    rows: list[TodayRow]


@agency_page
def today(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    require(user, CHART_VIEW)
    day = timezone.localdate()
    with transaction.atomic():
        patients = access.patients_cared_for(user)
        lists = [TodayList(s, s.rows(user, patients, day)) for s in sources_for(user)]
        rows = [row for found in lists for row in found.rows]
        _add_patients(user, rows)
        lists = [TodayList(f.source, [r for r in f.rows if r.patient]) for f in lists]
        shown = sorted({row.patient_id for found in lists for row in found.rows}, key=str)
        audit.record_many(
            audit.Actor.from_request(request), "patient.list", shown, detail={"page": "today"}
        )
    context = {"lists": lists, "day": day, "patient_count": len(shown)}
    return render(request, "patients/today.html", context)


def _add_patients(user: User, rows: list[TodayRow]) -> None:
    """Each row's patient (one query for all) and whether this person may change their chart."""
    patients: dict[Any, Any] = queries.patients_for_today(user, {r.patient_id for r in rows})
    for row in rows:
        row.patient = patients.get(row.patient_id)
        row.can_edit = row.patient is not None and access.can_edit(user, row.patient)

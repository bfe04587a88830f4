"""Background work of care plans: every followed goal of an agency worked out again, and every
patient's suggestions brought in step with the chart.

Goals change status without anything new on the chart: a due date passes, the latest reading
grows stale. The recomputation runs over an agency's patients in chunks (each its own
transaction, through `services.recompute_goals_for`), so memory stays flat however many patients
there are; `careway recompute-goals` runs it from the command line or a nightly cron, and
`recompute_agency_goals` enqueues it on the task queue.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django_tasks import task

from careway.core import audit
from careway.patients.models import EpisodeOfCare

from . import services
from .models import Goal, Suggestion

CHUNK = 2000


@dataclass
class Recomputed:
    patients: int = 0
    goals_changed: int = 0


def recompute_agency(
    organization_id: int,
    *,
    today: date | None = None,
    chunk: int = CHUNK,
    progress: Callable[[Recomputed], None] | None = None,
) -> Recomputed:
    actor = audit.Actor.system(via="task", organization_id=organization_id)
    done = Recomputed()
    for patient_ids in _patients_with_goals(organization_id, chunk):
        done.goals_changed += services.recompute_goals_for(actor, patient_ids, today)
        done.patients += len(patient_ids)
        if progress is not None:
            progress(done)
    return done


def _patients_with_goals(organization_id: int, chunk: int) -> Iterator[list[Any]]:
    """The agency's patients with followed goals, in chunks."""
    rows = Goal.objects.filter(
        organization_id=organization_id, lifecycle_status__in=services.FOLLOWED_GOALS
    ).exclude(measure="")
    return _patient_chunks(rows, chunk)


def _patient_chunks(rows: QuerySet[Any], chunk: int) -> Iterator[list[Any]]:
    """The distinct patient ids of these rows, in chunks, by id (keyset: no OFFSET scans)."""
    last = None
    while True:
        page = rows if last is None else rows.filter(patient_id__gt=last)
        ids = list(
            page.order_by("patient_id").values_list("patient_id", flat=True).distinct()[:chunk]
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


@dataclass
class Refreshed:
    patients: int = 0
    changed: int = 0


SUGGESTION_CHUNK = 500
ANALYZE_AFTER = 50_000


def refresh_agency(
    organization_id: int,
    *,
    today: date | None = None,
    chunk: int = SUGGESTION_CHUNK,
    progress: Callable[[Refreshed], None] | None = None,
) -> Refreshed:
    """Refresh the suggestions of every patient of the agency with an open episode, in chunks
    (each its own transaction, memory flat): a preventive gap falls due, a season begins, with
    nothing new on the chart. Returns how many patients and how many suggestions changed."""
    actor = audit.Actor.system(via="task", organization_id=organization_id)
    done = Refreshed()
    for patient_ids in _patients_in_care(organization_id, chunk):
        done.changed += services.refresh_suggestions(actor, patient_ids, today)
        done.patients += len(patient_ids)
        if progress is not None:
            progress(done)
    if done.changed >= ANALYZE_AFTER and connection.vendor == "postgresql":
        # A first night fills the table with millions of rows; until autovacuum samples it,
        # PostgreSQL plans each chunk's `patient_id IN (...)` as a scan of the whole table (8 s a
        # chunk at 100,000 patients, docs/benchmarks.md). Fresh statistics keep it on the index.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Suggestion._meta.db_table}")
    return done


def _patients_in_care(organization_id: int, chunk: int) -> Iterator[list[Any]]:
    """The agency's patients with an open episode, in chunks."""
    rows = EpisodeOfCare.objects.filter(
        organization_id=organization_id, status__in=services.OPEN_EPISODE
    )
    return _patient_chunks(rows, chunk)


@task()
def refresh_agency_suggestions(organization_id: int) -> int:
    """Refresh every in-care patient's suggestions of one agency; returns how many changed."""
    return refresh_agency(organization_id).changed


@task()
def recompute_agency_goals(organization_id: int) -> int:
    """Work out every followed goal of one agency again; returns how many changed status."""
    return recompute_agency(organization_id).goals_changed

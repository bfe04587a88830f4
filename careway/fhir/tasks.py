"""Background work of FHIR import: a large upload imports here, reporting progress as it goes."""

from django.utils import timezone
from django_tasks import task

from careway.core import audit

from . import uploads
from .models import ImportRun


@task()
def import_upload(run_id: str) -> str:
    """Import the files of one uploaded run; returns the run's final status."""
    run = ImportRun.objects.select_related("organization", "branch", "started_by").get(pk=run_id)
    if run.status not in (ImportRun.Status.QUEUED, ImportRun.Status.RUNNING):
        return run.status  # already done: a retried task changes nothing
    return run_now(run)


def run_now(run: ImportRun) -> str:
    """Import an uploaded run in this process (small uploads, or the task above)."""
    from .importer import import_files

    actor = audit.Actor(user=run.started_by, via="import")
    try:
        import_files(actor, run.organization, run.branch, uploads.stored_paths(run), run=run)
    except Exception as exc:
        # The importer reports bad input itself; this is for the unexpected (a lost database
        # connection, a full disk). The page must not show a run that is "importing" forever.
        ImportRun.objects.filter(pk=run.pk).update(
            status=ImportRun.Status.FAILED,
            finished_at=timezone.now(),
            problems=[{"reason": f"The import stopped unexpectedly ({type(exc).__name__})."}],
            problem_count=1,
        )
        raise
    finally:
        uploads.discard(run)
    run.refresh_from_db()
    return run.status


@task()
def export_job(job_id: str) -> str:
    """Run one bulk export; returns its final status."""
    from .export import run
    from .models import ExportJob

    job = ExportJob.objects.select_related("requested_by").get(pk=job_id)
    if job.status != ExportJob.Status.QUEUED:
        return job.status  # cancelled, or already run: a retried task changes nothing
    return run(job).status

"""Files uploaded on the import page: kept while they import, then removed.

An upload is saved under DATA_DIR/imports/<run id>/ with the SHA-256 of each file taken as it is
written, so the audit trail names exactly what arrived. Small uploads (up to SMALL_UPLOAD bytes in
all: a referral's bundle or two) import during the request and the page shows the report at once;
larger ones import in a background task while the page shows a progress bar. The files are
deleted when their import ends, whatever its outcome: the audit trail keeps their hashes, and
copies of health records do not linger on disk.
"""

import hashlib
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from careway.core import audit
from careway.core.models import Branch
from careway.core.writes import service

from .importer import FILE_SUFFIXES
from .models import ImportRun

SMALL_UPLOAD = 5 * 1024 * 1024
ACCEPTED_SUFFIXES = FILE_SUFFIXES  # what the importer reads


def upload_dir(run: ImportRun) -> Path:
    return Path(settings.DATA_DIR) / "imports" / str(run.pk)


def safe_name(name: str, taken: set[str]) -> str:
    """A file name that is safe on disk and unique within the upload, keeping its suffix."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "upload.json"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        stem, dot, suffix = base.rpartition(".")
        candidate = f"{stem}-{n}.{suffix}" if dot else f"{base}-{n}"
    taken.add(candidate)
    return candidate


@service
def start_upload(
    actor: audit.Actor, branch: Branch, files: Iterable[UploadedFile]
) -> tuple[ImportRun, bool]:
    """Save the uploaded files and create their import run. Returns the run and whether it is
    small enough to import now (otherwise the caller queues it: see careway/fhir/tasks.py)."""
    run = ImportRun.objects.create(
        organization_id=branch.organization_id, branch=branch, started_by=actor.user
    )
    folder = upload_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        taken: set[str] = set()
        run.files = [_save(upload, folder, taken) for upload in files]
        run.bytes_total = sum(f["bytes"] for f in run.files)
        run.save(update_fields=["files", "bytes_total"])
        audit.record(
            actor,
            "fhir.upload",
            obj=run,
            organization_id=branch.organization_id,
            detail={"branch_id": branch.pk, "files": run.files},
        )
    except BaseException:
        # The run is rolled back with the transaction; nothing would ever read these files.
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return run, run.bytes_total <= SMALL_UPLOAD


def _save(upload: UploadedFile, folder: Path, taken: set[str]) -> dict:
    name = safe_name(upload.name or "upload.json", taken)
    digest, size = hashlib.sha256(), 0
    with (folder / name).open("wb") as out:
        for chunk in upload.chunks():
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return {
        "name": name,
        "original_name": upload.name,
        "bytes": size,
        "sha256": digest.hexdigest(),
    }


def stored_paths(run: ImportRun) -> list[Path]:
    folder = upload_dir(run)
    return [folder / f["name"] for f in run.files]


def discard(run: ImportRun) -> None:
    shutil.rmtree(upload_dir(run), ignore_errors=True)

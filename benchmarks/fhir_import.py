"""FHIR import speed on PostgreSQL, beside the rate PostgreSQL itself takes the same rows (COPY).

Runs in the database named by DATABASE_URL (use an empty, migrated one: each run makes agencies of
its own, named "FHIR benchmark <time>"):
1. the twelve Synthea bundles (../shared/data/synthea), in one import;
2. a generated set of --patients patients (benchmarks/fhir_data.py: Synthea copies with new ids),
   as bulk NDJSON files, into a fresh agency;
3. the physical floor for (2): every row the import wrote, of every table, copied out and then
   written again with COPY into empty tables of the same shape and indexes, timed. The ratio of
   the import's time to COPY's time is how far the import is from what PostgreSQL can take;
4. with --gigabytes G: an NDJSON set of G GB imported by `careway import-fhir` in a separate
   process, its peak memory (max RSS) read by /usr/bin/time.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/careway_fhirbench \
       .venv/bin/python benchmarks/fhir_import.py [--patients 600] [--gigabytes 2]
Prints a JSON summary and writes it to benchmarks/results/fhir-import-<date>-<time>.json.
"""

import argparse
import io
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careway.settings")
    os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query: not what production pays
    import django

    django.setup()


def new_agency(label: str):
    from careway.core.models import Branch, Membership, Organization, User
    from careway.core.roles import Role

    stamp = datetime.now(UTC).strftime("%H%M%S%f")
    org = Organization.objects.create(name=f"FHIR benchmark {label} {stamp}", slug=f"fb-{stamp}")
    branch = Branch.objects.create(organization=org, name="Main office")
    user = User.objects.create_user(username=f"fb-cm-{stamp}", organization=org)
    Membership.objects.create(user=user, organization=org, branch=branch, role=Role.CASE_MANAGER)
    return org, branch, user


def timed_import(paths: list[Path], label: str) -> dict:
    from careway.core import audit
    from careway.fhir.importer import import_files

    org, branch, user = new_agency(label)
    start = time.perf_counter()
    report = import_files(audit.Actor(user=user, via="benchmark"), org, branch, paths)
    seconds = time.perf_counter() - start
    taken = report.total("created") + report.total("updated") + report.total("unchanged")
    return {
        "organization_id": org.pk,
        "files": len(paths),
        "bytes": sum(p.stat().st_size for p in paths),
        "resources_read": report.resources,
        "resources_taken_in": taken,
        "not_taken_in": report.total("not_taken_in"),
        "problems": report.problem_count,
        "seconds": round(seconds, 2),
        "resources_per_second": round(report.resources / seconds),
        "taken_in_per_second": round(taken / seconds),
    }


def written_tables(organization_id: int) -> list[tuple[str, int]]:
    """(table, rows) of every table holding rows of the agency, the audit trail included."""
    from django.apps import apps
    from django.db import connection

    found = []
    for model in apps.get_models():
        names = {f.attname for f in model._meta.concrete_fields}
        if "organization_id" not in names or model._meta.db_table.startswith("core_organization"):
            continue
        table = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM {connection.ops.quote_name(table)} "
                "WHERE organization_id = %s",
                [organization_id],
            )
            rows = cursor.fetchone()[0]
        if rows:
            found.append((table, rows))
    return found


def copy_floor(organization_id: int) -> dict:
    """Seconds PostgreSQL takes to COPY the agency's rows into empty tables like the real ones."""
    from django.db import connection

    quote = connection.ops.quote_name
    total_rows, copy_seconds, per_table = 0, 0.0, {}
    raw = connection.cursor().cursor.connection  # the psycopg connection
    for table, rows in written_tables(organization_id):
        buffer = io.BytesIO()
        with raw.cursor() as cur:
            rows_of_agency = (
                f"SELECT * FROM {quote(table)} WHERE organization_id = {int(organization_id)}"
            )
            with cur.copy(f"COPY ({rows_of_agency}) TO STDOUT") as copy:
                for data in copy:
                    buffer.write(data)
            scratch = quote(f"bench_copy_{table}")
            cur.execute(f"DROP TABLE IF EXISTS {scratch}")
            # The same columns, defaults and indexes; no foreign keys, no triggers.
            cur.execute(
                f"CREATE TABLE {scratch} (LIKE {quote(table)} INCLUDING DEFAULTS INCLUDING INDEXES)"
            )
            raw.commit()
            start = time.perf_counter()
            with cur.copy(f"COPY {scratch} FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            raw.commit()
            seconds = time.perf_counter() - start
            cur.execute(f"DROP TABLE {scratch}")
            raw.commit()
        total_rows += rows
        copy_seconds += seconds
        per_table[table] = {"rows": rows, "copy_seconds": round(seconds, 3)}
    return {
        "rows": total_rows,
        "copy_seconds": round(copy_seconds, 3),
        "rows_per_second": round(total_rows / copy_seconds),
        "tables": per_table,
    }


def big_file_memory(gigabytes: float) -> dict:
    from fhir_data import write_ndjson

    org, branch, user = new_agency("large")
    with tempfile.TemporaryDirectory(dir=ROOT / "var") as folder:
        out = Path(folder)
        write_ndjson(out, None, gigabytes)
        size = sum(p.stat().st_size for p in out.glob("*.ndjson"))
        cmd = [
            "/usr/bin/time",
            "-v",
            str(ROOT / ".venv/bin/careway"),
            "import-fhir",
            str(out),
            "--agency",
            str(org.pk),
            "--branch",
            str(branch.pk),
            "--as",
            user.username,
        ]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    resources = re.findall(r"(\d[\d,]*) resources", done.stdout)
    return {
        "bytes": size,
        "seconds": round(seconds, 1),
        "exit_code": done.returncode,
        "peak_rss_mb": round(int(rss.group(1)) / 1024) if rss else None,
        "report_tail": done.stdout.strip().splitlines()[-12:],
        "resources_reported": resources[-1] if resources else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=600)
    parser.add_argument("--gigabytes", type=float, default=0)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a migrated PostgreSQL database")
    setup_django()
    from fhir_data import SYNTHEA, write_ndjson

    result: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "python": platform.python_version(),
    }
    result["synthea_12_bundles"] = timed_import(sorted(SYNTHEA.glob("*.json")), "synthea")
    with tempfile.TemporaryDirectory() as folder:
        write_ndjson(Path(folder), args.patients, None)
        generated = timed_import(sorted(Path(folder).glob("*.ndjson")), "generated")
    generated["patients"] = args.patients
    floor = copy_floor(generated["organization_id"])
    generated["copy_floor"] = floor
    generated["import_to_copy_ratio"] = round(generated["seconds"] / floor["copy_seconds"], 1)
    result["generated_ndjson"] = generated
    if args.gigabytes:
        result["large_ndjson"] = big_file_memory(args.gigabytes)
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    out_file = out_dir / f"fhir-import-{datetime.now(UTC):%Y-%m-%d-%H%M}.json"
    out_file.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

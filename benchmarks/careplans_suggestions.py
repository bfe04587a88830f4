"""What care plan suggestions and preventive care gaps cost on a large agency: the whole agency
at night, then one caseload's pages.

Prerequisite: the database filled by `careway demo --patients 100000` (every patient has
conditions, a signed start-of-care assessment with its scores, findings and flags, vaccines,
procedures and, with diabetes, A1c results; benchmarks/web.py says how to make it), named by
DATABASE_URL. With production settings (benchmarks/web.py's), in one process:

1. The whole agency, as the nightly task runs it (`tasks.refresh_agency`, chunks of 500 patients,
   each its own transaction): a first run, which proposes every suggestion (and writes them, with
   their audit events: the database keeps them for step 2), and a second run the next night with
   nothing new on the chart (everything read and evaluated again, nothing to write). Beside them,
   in the same process and first, a plain query reading the same rows the refresh reads (the
   patients in care; their conditions, current scores, findings, active flags, vaccines,
   procedures and the observations the rules look at) in chunks of the same size, evaluating
   nothing. Patients per second and memory (the growth of the peak resident set and, with
   --tracemalloc, Python's allocation peak).
2. A caseload: the case manager with the largest caseload (60 patients). GET of the caseload page
   with the Suggestions column, and without it (the column taken out of the registry) as its
   baseline; GET of each patient's suggestions page in turn, beside a plain query of the same
   suggestion rows.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/careway_bench \
       .venv/bin/python benchmarks/careplans_suggestions.py [--iterations 100]
It prints a JSON summary and writes it to benchmarks/results/careplans-suggestions-<date>.json.
A run that finds suggestions already stored (an earlier run) times its first run as a steady
night too; drop them (DELETE FROM careplans_suggestion) to time the first night again.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from careplans_goals import HOST, measured, summary  # noqa: E402
from web import busiest_case_manager, setup_django  # noqa: E402

PAGE_P95_MS = 150.0


def plain_rows(organization_id: int) -> dict[str, Any]:
    """The rows the refresh reads, read plainly in the task's chunks: the baseline."""
    from careway.assessments.models import Finding, Score
    from careway.careplans import suggestions, tasks
    from careway.patients.models import (
        Condition,
        Immunization,
        Observation,
        Patient,
        PatientFlag,
        Procedure,
    )

    counts = {"patients": 0, "rows": 0}
    codes = suggestions._observation_codes()
    for ids in tasks._patients_in_care(organization_id, tasks.SUGGESTION_CHUNK):
        reads = [
            Patient.objects.filter(pk__in=ids).values_list("pk", "birth_date", "sex"),
            Condition.objects.filter(patient_id__in=ids).values_list(
                "patient_id", "code_system", "code", "display", "onset_date"
            ),
            Score.objects.filter(patient_id__in=ids, current=True).values_list(
                "patient_id", "questionnaire_url", "key", "value", "observed_at"
            ),
            Finding.objects.filter(patient_id__in=ids, flag__active=True).values_list(
                "patient_id", "kind", "label", "fix", "source"
            ),
            PatientFlag.objects.filter(patient_id__in=ids, active=True).values_list(
                "patient_id", "kind", "severity", "raised_at"
            ),
            Immunization.objects.filter(patient_id__in=ids).values_list(
                "patient_id", "code_system", "code", "occurred_at"
            ),
            Procedure.objects.filter(patient_id__in=ids).values_list(
                "patient_id", "code_system", "code", "performed_start"
            ),
            Observation.objects.filter(patient_id__in=ids, code__in=codes).values_list(
                "patient_id", "code", "effective_at", "value"
            ),
        ]
        counts["patients"] += len(ids)
        counts["rows"] += sum(len(list(rows)) for rows in reads)
    return counts


def agency(args: argparse.Namespace, organization_id: int) -> dict[str, Any]:
    from careway.careplans import tasks
    from careway.careplans.models import Suggestion

    stored_before = Suggestion.objects.filter(organization_id=organization_id).count()
    runs: dict[str, Any] = {
        "baseline": measured(lambda: plain_rows(organization_id), args.tracemalloc)
    }

    def night() -> dict[str, Any]:
        done = tasks.refresh_agency(organization_id)
        return {"patients": done.patients, "suggestions_changed": done.changed}

    runs["first_night" if not stored_before else "a_night"] = measured(night, args.tracemalloc)
    if args.nights > 1:
        runs["next_night"] = measured(night, args.tracemalloc)
    for label, run in runs.items():
        if label != "baseline":
            run["seconds_over_baseline"] = round(run["seconds"] / runs["baseline"]["seconds"], 1)
    stored = Suggestion.objects.filter(organization_id=organization_id)
    runs["stored"] = {
        "suggestions_before": stored_before,
        "suggestions": stored.count(),
        "open_for_the_plan": stored.filter(status="open", preventive=False).count(),
        "open_preventive_gaps": stored.filter(status="open", preventive=True).count(),
    }
    return runs


def suggestion_columns() -> list[Any]:
    from careway.patients.frame import CASELOAD_COLUMNS

    return [c for c in CASELOAD_COLUMNS if c.key == "suggestions"]


def get_times(client: Any, addresses: list[str], args: argparse.Namespace) -> list[float]:
    times = []
    for i in range(args.warmup + args.iterations):
        address = addresses[i % len(addresses)]
        started = time.perf_counter()
        response = client.get(address, **HOST)
        ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{address} answered {response.status_code}")
        if i >= args.warmup:
            times.append(ms)
    return times


def caseload(args: argparse.Namespace, user: Any, patient_ids: list[Any]) -> dict[str, Any]:
    from django.test import Client
    from django.urls import reverse

    from careway.careplans.models import Suggestion
    from careway.patients.frame import CASELOAD_COLUMNS

    client = Client()
    client.force_login(user)
    columns = suggestion_columns()
    with_column = get_times(client, ["/patients/"], args)
    entries = CASELOAD_COLUMNS._entries  # no way to take a column out: see careplans_goals.py
    for column in columns:
        entries.pop(column.key)
    try:
        without = get_times(client, ["/patients/"], args)
    finally:
        CASELOAD_COLUMNS.register(*columns)
    pages = [reverse("careplans:suggestions", args=[pid]) for pid in patient_ids]
    page = get_times(client, pages, args)
    plain: list[float] = []
    for i in range(args.warmup + args.iterations):
        pid = patient_ids[i % len(patient_ids)]
        started = time.perf_counter()
        list(Suggestion.objects.filter(patient_id=pid).exclude(status="lapsed").values())
        if i >= args.warmup:
            plain.append((time.perf_counter() - started) * 1000)
    client.logout()
    rows = Suggestion.objects.filter(patient_id__in=patient_ids, status="open")
    return {
        "patients": len(patient_ids),
        "open_suggestions": rows.count(),
        "caseload_page_with_suggestions": summary(with_column),
        "caseload_page_without_them": summary(without),
        "caseload_p50_ratio": round(statistics.median(with_column) / statistics.median(without), 2),
        "suggestions_page": summary(page),
        "plain_query_of_the_same_rows": summary(plain),
        "p95_goal_ms": PAGE_P95_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--skip-agency", action="store_true", help="only the caseload's pages")
    parser.add_argument("--nights", type=int, default=2, help="whole-agency runs to time (1 or 2)")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace Python allocations (slower)"
    )
    args = parser.parse_args()
    setup_django()
    from django.core.management import call_command

    from careway.patients.models import CareTeamMember

    call_command("collectstatic", interactive=False, verbosity=0)
    user = busiest_case_manager()
    patient_ids = list(
        CareTeamMember.objects.filter(user=user, active=True, is_primary_case_manager=True)
        .order_by("patient_id")
        .values_list("patient_id", flat=True)
    )
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "python": platform.python_version(),
        "database": os.environ.get("DATABASE_URL", "sqlite").split("://")[0],
    }
    if not args.skip_agency:
        result["agency"] = agency(args, user.organization_id)
    result["caseload"] = caseload(args, user, patient_ids)
    print(json.dumps(result, indent=2))
    stamp = f"{datetime.now(UTC):%Y-%m-%d-%H%M}"
    out = ROOT / "benchmarks/results" / f"careplans-suggestions-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

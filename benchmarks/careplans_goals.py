"""How goals' statuses cost on a large agency: one caseload, and a whole agency at night.

Prerequisite: the database filled by `careway demo --patients 100000` (every patient has a care
plan with 3 to 6 goals; benchmarks/web.py says how to make it), named by DATABASE_URL. With
production settings (benchmarks/web.py's), in one process:

1. A caseload: the case manager with the largest caseload (60 patients). Each iteration times,
   on their patients' followed goals (proposed or active, with a measure, in an open plan):
   - `read`: the goal rows read and `evidence.evaluate_goals` run on them (every status worked
     out again from the chart: readings, scores, events, tasks), nothing written;
   - `recompute`: `services.recompute_goals_for` for the 60 patients, as the evidence hook runs
     it after a write to the chart (rolled back at the end of the iteration);
   - `baseline`: a plain query of the same goal rows (their status as stored), in the same loop.
   When the care plan caseload columns are registered (a column whose cell template or hook
   comes from careway.careplans), it also times GET of the caseload page through Django's test
   client, and the page with the care plan columns left out as its own baseline; otherwise it
   says that part was skipped.
2. The whole agency: `tasks.recompute_agency` as the background task runs it, inside a
   transaction rolled back at the end (so the database is left as it was), for `today` (nothing
   has changed since the loader worked the statuses out: the cost of reading and evaluating) and
   for a day `--later` days on (due dates pass and readings grow stale: statuses change, are
   written and audited). Patients per second and the process's peak memory (tracemalloc's peak
   of Python allocations, and the growth of the resident set), beside a plain query reading
   the same goal rows in chunks of the same size. The baseline runs first, so the resident set's
   growth in the recomputations is over what a plain read of the goals already needed.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/careway_bench \
       .venv/bin/python benchmarks/careplans_goals.py [--iterations 100] [--later 10]
It prints a JSON summary and writes it to benchmarks/results/careplans-goals-<date>-<time>.json.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from web import busiest_case_manager, setup_django  # noqa: E402

HOST = {"HTTP_HOST": "127.0.0.1"}
GOAL_P95_MS = 150.0


class Rollback(Exception):
    """Raised to undo what a timed step wrote."""


def summary(samples: list[float]) -> dict[str, float | int]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def timed(step: Callable[[], Any]) -> float:
    started = time.perf_counter()
    step()
    return (time.perf_counter() - started) * 1000


def rolled_back(step: Callable[[], Any]) -> Callable[[], None]:
    from django.db import transaction

    def run() -> None:
        try:
            with transaction.atomic():
                step()
                raise Rollback
        except Rollback:
            pass

    return run


def followed_goals(patient_ids: list[Any]) -> Any:
    from django.db.models import Q

    from careway.careplans import services
    from careway.careplans.models import Goal

    return Goal.objects.filter(
        patient_id__in=patient_ids, lifecycle_status__in=services.FOLLOWED_GOALS
    ).exclude(Q(measure="") | Q(plan__status__in=services.CLOSED_PLAN))


def careplan_columns() -> list[Any]:
    from careway.patients.frame import CASELOAD_COLUMNS

    def from_careplans(column: Any) -> bool:
        hooks = (column.annotate, column.add_to_page, column.sort_keys)
        return column.cell_template.startswith("careplans/") or any(
            getattr(hook, "__module__", "").startswith("careway.careplans") for hook in hooks
        )

    return [c for c in CASELOAD_COLUMNS if from_careplans(c)]


def caseload(args: argparse.Namespace, user: Any, patient_ids: list[Any]) -> dict[str, Any]:
    from django.utils import timezone

    from careway.careplans import evidence, services
    from careway.core import audit

    today = timezone.localdate()
    actor = audit.Actor(user=user)
    goals = followed_goals(patient_ids)
    steps: dict[str, Callable[[], Any]] = {
        "baseline": lambda: list(goals.all().values_list("pk", "measure", "achievement")),
        "read": lambda: evidence.evaluate_goals(list(goals.all()), today),
        "recompute": rolled_back(lambda: services.recompute_goals_for(actor, patient_ids)),
    }
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for i in range(args.warmup + args.iterations):
        for name, step in steps.items():
            ms = timed(step)
            if i >= args.warmup:
                samples[name].append(ms)
    result: dict[str, Any] = {
        "patients": len(patient_ids),
        "goals": goals.count(),
        **{name: summary(times) for name, times in samples.items()},
    }
    base = statistics.median(samples["baseline"])
    result["read_p50_over_baseline_p50"] = round(statistics.median(samples["read"]) / base, 1)
    result["recompute_p50_over_baseline_p50"] = round(
        statistics.median(samples["recompute"]) / base, 1
    )
    result["caseload_page"] = caseload_page(args, user)
    return result


def caseload_page(args: argparse.Namespace, user: Any) -> dict[str, Any]:
    """GET /patients/ with the care plan columns, and without them as the baseline."""
    from django.test import Client

    from careway.patients.frame import CASELOAD_COLUMNS

    columns = careplan_columns()
    if not columns:
        return {"skipped": "no care plan caseload columns are registered"}
    client = Client()
    client.force_login(user)
    try:
        with_columns = page_times(client, args)
        # The registry has no way to take an entry out (apps register once): this benchmark
        # reaches into it to time the same page without the care plan columns.
        entries = CASELOAD_COLUMNS._entries
        for column in columns:
            entries.pop(column.key)
        try:
            without = page_times(client, args)
        finally:
            CASELOAD_COLUMNS.register(*columns)
    finally:
        client.logout()
    return {
        "columns": [c.key for c in columns],
        "with_careplan_columns": summary(with_columns),
        "without_them": summary(without),
        "p95_goal_ms": GOAL_P95_MS,
        "p50_ratio": round(statistics.median(with_columns) / statistics.median(without), 2),
    }


def page_times(client: Any, args: argparse.Namespace) -> list[float]:
    times = []
    for i in range(args.warmup + args.iterations):
        started = time.perf_counter()
        response = client.get("/patients/", **HOST)
        ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"The caseload answered {response.status_code}")
        if i >= args.warmup:
            times.append(ms)
    return times


def agency(args: argparse.Namespace, organization_id: int) -> dict[str, Any]:
    from django.utils import timezone

    from careway.careplans import tasks

    today = timezone.localdate()
    trace = args.tracemalloc
    runs: dict[str, Any] = {"baseline": measured(lambda: plain_goal_rows(organization_id), trace)}
    for label, day in (
        ("today", today),
        (f"{args.later}_days_later", today + timedelta(days=args.later)),
    ):
        runs[label] = measured(
            rolled_back_result(lambda day=day: tasks.recompute_agency(organization_id, today=day)),
            trace,
        )
    for label, run in runs.items():
        if label != "baseline":
            run["seconds_over_baseline"] = round(run["seconds"] / runs["baseline"]["seconds"], 1)
    return runs


def plain_goal_rows(organization_id: int) -> Any:
    """The followed goal rows of the agency, read in chunks as the task reads its patients."""
    from careway.careplans import services, tasks
    from careway.careplans.models import Goal

    rows = (
        Goal.objects.filter(
            organization_id=organization_id, lifecycle_status__in=services.FOLLOWED_GOALS
        )
        .exclude(measure="")
        .values_list("patient_id", "measure", "target_low", "target_high", "achievement")
    )
    patients, goals = set(), 0
    for patient_id, *_ in rows.iterator(chunk_size=tasks.CHUNK):
        patients.add(patient_id)
        goals += 1
    return {"patients": len(patients), "goals": goals}


def rolled_back_result(step: Callable[[], Any]) -> Callable[[], Any]:
    from django.db import transaction

    def run() -> Any:
        with transaction.atomic():
            done = step()
            transaction.set_rollback(True)
        return {"patients": done.patients, "goals_changed": done.goals_changed}

    return run


def measured(step: Callable[[], Any], trace: bool) -> dict[str, Any]:
    """The step's outcome, time and memory: the growth of the process's peak resident set and,
    with `trace`, tracemalloc's peak of Python allocations (which slows the step down twice)."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    outcome = step()
    seconds = time.perf_counter() - started
    memory = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    memory["peak_rss_growth_mb"] = round(memory["peak_rss_mb"] - rss_before / 1024, 1)
    if trace:
        memory["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    return {
        **outcome,
        "seconds": round(seconds, 1),
        "patients_per_second": round(outcome["patients"] / seconds),
        **memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--later", type=int, default=10, help="days on for the second run")
    parser.add_argument("--skip-agency", action="store_true", help="only the caseload")
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
        "caseload": caseload(args, user, patient_ids),
    }
    if not args.skip_agency:
        result["agency"] = agency(args, user.organization_id)
    print(json.dumps(result, indent=2))
    out = ROOT / "benchmarks/results" / f"careplans-goals-{datetime.now(UTC):%Y-%m-%d-%H%M}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""A metro agency's day: 120 clinicians and 1,000 visits, planned at several time limits.

The day comes from careway/routing/generate.py (`metro_day`: Columbus, Ohio, five branches,
skills, windows, 10% of visits in two-person pairs and 10% in ordered pairs, about 60% with a
preferred clinician). For each limit in --seconds, `careway.routing.solve` plans it in a run of
its own (not read off a longer run: the search plans its cooling for the time it is given), in a
fresh process, so each run's peak memory (the process's maximum resident set size) is its own.
Each run reports whether the validator accepts the plan, whether every visit is in it, when the
best plan first had every visit (from the anytime progress: on the metro day a visit left out
costs 1,000,000, more than all the rest of a plan can, so a best objective under that has every
visit; checked at the end against the plan), each objective term, the wall time and the peak
memory. With --reference SECONDS a run of the same engine that long gives the reference: each
limit's gap is its objective over the reference's, less one (none where either plan left a
visit out).

Writes JSON to benchmarks/results/routing-metro-<date>-<time>.json.

Usage: .venv/bin/python benchmarks/routing_metro.py [--seconds 30,60,120] [--reference 1200]
           [--jobs 1] [--seed 1] [--clinicians 120] [--visits 1000] [--save PROBLEM.json]
--jobs runs that many solves at once: on a machine with fewer free cores than that, they slow
each other down (the load average is recorded).
"""

import argparse
import collections
import json
import math
import multiprocessing
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MARKS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 2400, 3600)


def best_at(progress: list[tuple[float, float]], moment: float) -> float | None:
    found = [cost for at, cost in progress if at <= moment]
    return min(found) if found else None


def run(task: tuple[str, float, dict[str, Any], int]) -> dict[str, Any]:
    """One solve in this (fresh) process: the plan's checks, terms, times and peak memory."""
    import resource

    from careway.routing import feasibility
    from careway.routing.model import Problem
    from careway.routing.search.evaluate import evaluator
    from careway.routing.solve import solve

    kind, seconds, data, seed = task
    problem = Problem.from_json(data)
    penalty = problem.weights.unassigned
    set_aside = feasibility.unplaceable(problem)
    progress: list[tuple[float, float]] = []
    began = time.perf_counter()

    def on_progress(_at: float, best: float) -> None:
        progress.append((time.perf_counter() - began, best))

    result = solve(problem, seconds, seed, on_progress=on_progress)
    wall = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    unassigned = result.solution.unassigned
    objective = result.report.objective
    # Each visit left out adds `penalty` and every other term is 0 or more, so a best objective
    # under `penalty` has every (placeable) visit in it.
    whole = [at for at, best in progress if best < penalty] if not set_aside else []
    return {
        "kind": kind,
        "seconds": seconds,
        "solver": result.solver,
        "evaluator": evaluator(),
        "feasible": result.feasible,
        "every_visit_placed": not unassigned,
        "unassigned": len(unassigned),
        "unassigned_reasons": dict(collections.Counter(unassigned.values())),
        "set_aside_before_search": len(set_aside),
        "first_every_visit_placed_at_s": round(whole[0], 3) if whole else None,
        "objective_reads_left_out": math.floor(objective / penalty) == len(unassigned),
        "violations": [v.message for v in result.report.violations][:10],
        "objective": round(objective, 2),
        "terms": {k: round(v, 2) for k, v in result.report.terms.items()},
        "preferred_visits": sum(v.preferred is not None for v in problem.visits),
        "routes_used": sum(1 for r in result.solution.routes if r.visits),
        "wall_s": round(wall, 2),
        "peak_memory_mb": round(peak_mb, 1),
        "improvements": len(progress),
        "best_at": {
            f"{m}s": None if (b := best_at(progress, m)) is None else round(b, 2)
            for m in MARKS
            if m <= seconds
        },
    }


def describe(data: dict[str, Any]) -> dict[str, Any]:
    visits = data["visits"]
    return {
        "name": data["name"],
        "visits": len(visits),
        "clinicians": len(data["clinicians"]),
        "offices": sum(loc["id"].startswith("office") for loc in data["locations"]),
        "links": dict(collections.Counter(link["type"] for link in data["links"])),
        "preferred": sum("preferred" in v for v in visits),
        "hard_windows": sum(v.get("window_close") == "hard" for v in visits),
        "visits_by_skill": dict(collections.Counter(v["skill"] for v in visits)),
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'run':>14} {'feasible':>8} {'left out':>8} {'all in at':>9} {'objective':>12} "
        f"{'gap':>8} {'travel':>8} {'late':>7} {'max late':>8} {'contin.':>7} "
        f"{'overtime':>8} {'wall s':>7} {'peak MB':>7}"
    )
    lines = [head]
    for r in rows:
        t = r["terms"]
        first = r["first_every_visit_placed_at_s"]
        gap = r.get("gap_percent")
        lines.append(
            f"{r['kind'] + ' ' + format(r['seconds'], 'g') + ' s':>14} "
            f"{'yes' if r['feasible'] else 'no':>8} "
            f"{r['unassigned']:>8} "
            f"{'-' if first is None else format(first, '.2f') + ' s':>9} "
            f"{r['objective']:>12.1f} "
            f"{'-' if gap is None else format(gap, '+.2f') + '%':>8} "
            f"{t['travel']:>8.1f} {t['total_lateness']:>7.1f} {t['max_lateness']:>8.1f} "
            f"{t['continuity']:>7.0f} {t['overtime']:>8.1f} {r['wall_s']:>7.2f} "
            f"{r['peak_memory_mb']:>7.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", default="30,60,120", help="time limits, one run each")
    parser.add_argument("--reference", type=float, help="seconds of a long run to compare with")
    parser.add_argument("--jobs", type=int, default=1, help="solves run at once")
    parser.add_argument("--seed", type=int, default=1, help="of the day and of the search")
    parser.add_argument("--clinicians", type=int, default=120)
    parser.add_argument("--visits", type=int, default=1000)
    parser.add_argument("--save", type=Path, help="also write the generated problem here")
    args = parser.parse_args()
    from careway.routing.generate import metro_day

    data = metro_day(args.seed, args.clinicians, args.visits)
    if args.save:
        args.save.write_text(json.dumps(data, indent=1))
    limits = [float(s) for s in args.seconds.split(",") if s.strip()]
    tasks = [("limit", s, data, args.seed) for s in limits]
    if args.reference:
        tasks.insert(0, ("reference", args.reference, data, args.seed))  # the longest first
    began = datetime.now(UTC)
    load_before = os.getloadavg()
    print(json.dumps(describe(data)), flush=True)
    rows: list[dict[str, Any]] = []
    # A fresh process per run (spawned, not forked: nothing of this one's memory in its peak).
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes=max(1, args.jobs), maxtasksperchild=1) as pool:
        for row in pool.imap_unordered(run, tasks):
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "best_at"}), flush=True)
    reference = next((r for r in rows if r["kind"] == "reference"), None)
    runs = sorted((r for r in rows if r["kind"] == "limit"), key=lambda r: r["seconds"])
    if reference is not None:
        for r in [*runs, reference]:
            # a gap only between plans with every visit: otherwise it measures the penalties
            whole = r["every_visit_placed"] and reference["every_visit_placed"]
            gap = 100 * (r["objective"] / reference["objective"] - 1)
            r["gap_percent"] = round(gap, 3) if whole else None
    print()
    print(table([*runs, *([reference] if reference else [])]))
    doubtful = [r for r in rows if not r["objective_reads_left_out"]]
    if doubtful:
        print(
            "warning: an objective does not read as visits left out times the penalty plus the "
            "rest; 'all in at' is not reliable for it"
        )
    stamp = f"{began:%Y-%m-%d-%H%M}"
    out = ROOT / "benchmarks" / "results" / f"routing-metro-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "date": began.isoformat(timespec="seconds"),
                "machine": f"{os.cpu_count()} cores, {platform.platform()}",
                "load_average_before": load_before,
                "load_average_after": os.getloadavg(),
                "jobs": args.jobs,
                "seed": args.seed,
                "problem": describe(data),
                "reference": reference,
                "runs": runs,
            },
            indent=1,
        )
    )
    print(f"\n{out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Re-planning a day under way: how fast, how stable, how good, on the agency and metro days.

For each day (`generate.agency_day`: 40 clinicians, 300 visits; `generate.metro_day`: 120
clinicians, 1,000 visits) a plan is made first (--plan-seconds, the plan being worked). Then,
for each kind of change (a visit cancelled, a visit added, a clinician lost, a clinician added),
--changes random changes at a random moment of the morning (seeded), each re-planned by
`careway.routing.replan.replan` within --seconds. For each one:

- the wall time of `replan` (setup, search and validation: the time a scheduler waits);
- the share of the visits the change did not touch (not cancelled, not new, not the lost
  clinician's, not yet begun) that kept their clinician;
- its cost without the stability term, against a full solve of the same changed day (the same
  visits fixed, no stability term, no starting plan) run for --full-seconds: the gap is
  replan / full - 1.

Goals (issue 20): a new plan in under 5 s, at least 90% of untouched visits keep their
clinician, and a cost within 2% of a 2-minute full solve.

Writes JSON to benchmarks/results/routing-replan-<date>-<time>.json.

Usage: .venv/bin/python benchmarks/routing_replan.py [--days agency,metro] [--changes 3]
           [--seconds 4] [--full-seconds 120] [--plan-seconds 60] [--jobs 2] [--seed 1]
The full run (2 days x 4 kinds x 3 changes, each with a 2-minute full solve) takes about 30
minutes with --jobs 2.
"""

import argparse
import dataclasses
import json
import os
import platform
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = ("cancel", "new visit", "clinician lost", "clinician added")


def make_day(name: str) -> Any:
    from careway.routing.generate import agency_day, metro_day
    from careway.routing.model import Problem

    return Problem.from_json(agency_day(40, 300, seed=1) if name == "agency" else metro_day(seed=1))


def base_plan(task: tuple[str, float, int]) -> tuple[str, dict[str, Any]]:
    """The plan being worked: the day solved for `seconds`."""
    from careway.routing.search import lns

    name, seconds, seed = task
    problem = make_day(name)
    return name, lns.solve(problem, seconds, seed).to_json()


def a_change(problem: Any, plan: Any, kind: str, rng: random.Random) -> Any:
    """A change of `kind` at a random moment between 07:40 and 11:00."""
    from careway.routing.model import BREAK
    from careway.routing.replan import Change
    from careway.routing.validate import validate

    report = validate(problem, plan)
    at = rng.uniform(460, 660)
    later = [vid for vid, t in report.starts.items() if t >= at]
    if kind == "cancel":
        return Change(at=at, cancel=[rng.choice(sorted(later))])
    if kind == "new visit":
        model = problem.visit(rng.choice(sorted(later)))
        opens = at + rng.choice([30, 60, 120])
        new = dataclasses.replace(
            model,
            id="urgent-1",
            window_open=opens,
            window_close=opens + 120,
            hard_close=False,
            preferred=None,
            pinned_to=None,
            pinned_position=None,
        )
        return Change(at=at, visits=[new])
    busy = sorted(
        r.clinician
        for r in plan.routes
        if any(x != BREAK and report.starts.get(x, 0) >= at for x in r.visits)
    )
    if kind == "clinician lost":
        return Change(at=at, lost=[rng.choice(busy)])
    model_c = problem.clinician(rng.choice(busy))
    return Change(
        at=at,
        clinicians=[dataclasses.replace(model_c, id="float-1", shift_start=max(at, 480.0))],
    )


def one(task: tuple[str, dict[str, Any], str, int, float, float]) -> dict[str, Any]:
    """One change: re-planned, then the changed day solved from scratch."""
    from careway.routing.model import Solution
    from careway.routing.replan import replan
    from careway.routing.search import lns
    from careway.routing.validate import validate

    name, plan_json, kind, number, seconds, full_seconds = task
    problem = make_day(name)
    plan = Solution.from_json(plan_json)
    rng = random.Random(f"{name}/{kind}/{number}")
    change = a_change(problem, plan, kind, rng)
    began = time.perf_counter()
    result = replan(problem, plan, change, seconds, seed=number)
    wall = time.perf_counter() - began
    day = dataclasses.replace(
        result.problem, weights=dataclasses.replace(result.problem.weights, reassigned=0.0)
    )
    full = lns.solve(day, full_seconds, seed=number)
    full_report = validate(day, full)
    return {
        "day": name,
        "kind": kind,
        "number": number,
        "at": round(change.at, 1),
        "change": {
            "cancel": change.cancel,
            "new_visits": [v.id for v in change.visits],
            "lost": change.lost,
            "new_clinicians": [c.id for c in change.clinicians],
        },
        "replan_seconds": round(wall, 3),
        "feasible": result.report.feasible,
        "left_out": len(result.solution.unassigned),
        "left_out_full": len(full.unassigned),
        "fixed": len(result.fixed),
        "touched": len(result.touched),
        "untouched": result.untouched,
        "kept": result.kept,
        "kept_share": round(result.kept_share, 4),
        "moved": len(result.moved),
        "stability_weight": round(result.stability, 3),
        "objective": round(result.objective, 3),
        "full_objective": round(full_report.objective, 3),
        "gap_to_full": round(100 * (result.objective / full_report.objective - 1), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", default="agency,metro")
    parser.add_argument("--changes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--full-seconds", type=float, default=120.0)
    parser.add_argument("--plan-seconds", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from careway.routing.search.evaluate import evaluator

    days = args.days.split(",")
    load_before = os.getloadavg()
    with ProcessPoolExecutor(args.jobs) as pool:
        plans = dict(pool.map(base_plan, [(d, args.plan_seconds, args.seed) for d in days]))
        tasks = [
            (d, plans[d], kind, n, args.seconds, args.full_seconds)
            for d in days
            for kind in KINDS
            for n in range(args.changes)
        ]
        rows = []
        for row in pool.map(one, tasks):
            rows.append(row)
            print(
                f"{row['day']:7} {row['kind']:16} #{row['number']} at {row['at']:6.1f}  "
                f"{row['replan_seconds']:5.2f} s  kept {row['kept']}/{row['untouched']} "
                f"({100 * row['kept_share']:.1f}%)  gap {row['gap_to_full']:+.2f}%  "
                f"left out {row['left_out']} (full: {row['left_out_full']})",
                flush=True,
            )
    summary = {}
    for d in days:
        mine = [r for r in rows if r["day"] == d]
        summary[d] = {
            "changes": len(mine),
            "max_seconds": max(r["replan_seconds"] for r in mine),
            "min_kept_share": min(r["kept_share"] for r in mine),
            "mean_kept_share": round(statistics.mean(r["kept_share"] for r in mine), 4),
            "max_gap": max(r["gap_to_full"] for r in mine),
            "mean_gap": round(statistics.mean(r["gap_to_full"] for r in mine), 3),
            "all_feasible": all(r["feasible"] for r in mine),
        }
    print(json.dumps(summary, indent=1))
    out = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.platform()}",
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "evaluator": evaluator(),
        "args": vars(args),
        "summary": summary,
        "rows": rows,
    }
    path = (
        ROOT / "benchmarks" / "results" / f"routing-replan-{datetime.now(UTC):%Y-%m-%d-%H%M}.json"
    )
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

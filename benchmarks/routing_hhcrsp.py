"""The Mankowska home health routing instances: Careway's plan against the best published one.

Each instance of ../shared/data/hhcrsp/mankowska (70, from 10 to 300 patients) is solved by
`careway.routing.solve` with a time limit, scored by the independent validator with the published
objective ((distance + total tardiness + maximum tardiness) / 3), and compared with its row of
mankowska_best.md. With --ortools N, the OR-Tools exact model (links as constraints on start
times, lateness as a soft bound) solves the first N instances of each size in the same run, with
the same limit, for comparison.

Prints a table per instance and a summary by size (mean gap, worst gap, feasible count); writes
the rows as JSON to benchmarks/results/routing-hhcrsp-<date>-<time>.json.

Usage: .venv/bin/python benchmarks/routing_hhcrsp.py [--seconds 60] [--sizes 10,25,50]
           [--instances GLOB] [--ortools 2] [--jobs 2] [--seed 0] [--processes 1]
A full run at 60 s: 70 instances, about 35 minutes with --jobs 2 (and 14 more with --ortools 2).
"""

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "hhcrsp"
sys.path.insert(0, str(ROOT))


def published() -> dict[str, dict[str, float]]:
    """Each instance's best published row: distance, max and total tardiness, cost."""
    rows = {}
    for line in (DATA / "mankowska_best.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0].endswith(".json"):
            name = cells[0].removesuffix(".json")
            rows[name] = {
                "distance": float(cells[1]),
                "max_tardiness": float(cells[2]),
                "total_tardiness": float(cells[3]),
                "cost": float(cells[4]),
            }
    return rows


def instance_name(size: int, number: int) -> str:
    """A Mankowska instance by size and number (the published set names each by how its best was
    found: CPLEX up to 75 patients, VNS from 100)."""
    return f"Instanz{'CPLEX' if size <= 75 else 'VNS'}_HCSRP_{size}_{number}"


def size_of(name: str) -> int:
    match = re.search(r"_(\d+)_\d+$", name)
    return int(match.group(1)) if match else 0


def run_one(task: tuple[str, str, float, int, int]) -> dict[str, Any]:
    path, solver, seconds, seed, processes = task
    from careway.routing.formats import hhcrsp
    from careway.routing.solve import solve

    problem = hhcrsp.read_instance(Path(path))
    began = time.perf_counter()
    result = solve(
        problem,
        seconds,
        seed,
        solver=None if solver == "careway" else solver,
        processes=processes if solver == "careway" else 1,
    )
    terms = result.report.terms
    return {
        "instance": Path(path).stem,
        "solver": solver,
        "used": result.solver,
        "cost": result.report.objective,
        "distance": terms["travel"],
        "total_tardiness": terms["total_lateness"],
        "max_tardiness": terms["max_lateness"],
        "feasible": result.feasible and not result.solution.unassigned,
        "seconds": time.perf_counter() - began,
        "progress": result.progress,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sizes", help="comma-separated patient counts, e.g. 10,25")
    parser.add_argument("--instances", default="*.json", help="glob within the instance folder")
    parser.add_argument("--ortools", type=int, default=0, help="OR-Tools on the first N per size")
    parser.add_argument("--jobs", type=int, default=1, help="instances solved at once")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=1, help="processes per Careway search")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: the instances come with ../shared/data")

    best = published()
    files = sorted(
        (DATA / "mankowska").glob(args.instances),
        key=lambda p: (size_of(p.stem), int(p.stem.rsplit("_", 1)[1])),
    )
    if args.sizes:
        wanted = {int(s) for s in args.sizes.split(",")}
        files = [f for f in files if size_of(f.stem) in wanted]
    tasks = [(str(f), "careway", args.seconds, args.seed, args.processes) for f in files]
    for size in sorted({size_of(f.stem) for f in files}):
        tasks += [
            (str(f), "ortools", args.seconds, args.seed, 1)
            for f in [f for f in files if size_of(f.stem) == size][: args.ortools]
        ]
    from careway.routing.search.evaluate import evaluator

    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(run_one, tasks))
    for row in rows:
        ref = best.get(row["instance"])
        row["published"] = ref["cost"] if ref else None
        row["gap_percent"] = 100 * (row["cost"] / ref["cost"] - 1) if ref else None

    print(f"{'instance':32} {'solver':8} {'published':>10} {'cost':>10} {'gap %':>7} feasible")
    for row in rows:
        gap = "" if row["gap_percent"] is None else f"{row['gap_percent']:7.2f}"
        print(
            f"{row['instance']:32} {row['solver']:8} {row['published'] or 0:10.3f} "
            f"{row['cost']:10.3f} {gap:>7} {row['feasible']}"
        )
    summary = summarise(rows)
    print("\nsize  solver    n  mean gap %  worst gap %  feasible")
    for line in summary:
        print(
            f"{line['size']:>4}  {line['solver']:8} {line['n']:2}  {line['mean_gap']:10.2f}  "
            f"{line['worst_gap']:11.2f}  {line['feasible']}/{line['n']}"
        )
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "seconds_per_instance": args.seconds,
        "jobs": args.jobs,
        "processes": args.processes,
        "evaluator": evaluator(),
        "wall_seconds": time.perf_counter() - started,
        "summary": summary,
        "rows": rows,
    }
    out = ROOT / "benchmarks" / "results" / f"routing-hhcrsp-{datetime.now(UTC):%Y-%m-%d-%H%M}.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"\n{out.relative_to(ROOT)}")


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for solver in ("careway", "ortools"):
        mine = [r for r in rows if r["solver"] == solver and r["gap_percent"] is not None]
        for size in sorted({size_of(r["instance"]) for r in mine}):
            group = [r for r in mine if size_of(r["instance"]) == size]
            out.append(
                {
                    "size": size,
                    "solver": solver,
                    "n": len(group),
                    "mean_gap": statistics.fmean(r["gap_percent"] for r in group),
                    "worst_gap": max(r["gap_percent"] for r in group),
                    "feasible": sum(r["feasible"] for r in group),
                    "better_than_published": sum(r["gap_percent"] < -1e-6 for r in group),
                }
            )
    return out


if __name__ == "__main__":
    main()

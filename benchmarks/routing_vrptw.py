"""Benchmark 1 of the routing engine: the 56 Solomon VRPTW instances, gap to the best known.

Each instance (../shared/data/vrptw/solomon/*.txt) is read by careway/routing/formats/solomon.py
and solved twice with the same time limit, in the same run:
- ours: careway.routing.solve.solve, the engine's entry point (it picks PyVRP for these days,
  see careway/routing/solvers/pyvrp_solver.py);
- OR-Tools: the same entry point with solver="ortools" (careway/routing/solvers/ortools_solver.py,
  PATH_CHEAPEST_ARC then guided local search).
Both plans are checked by the independent validator (careway/routing/validate.py) and scored by
it: the distance is the validator's travel term, in double precision. The gap is to the
`<instance>_distance` entry of ../shared/data/vrptw/BKS.json (best known when minimising total
distance alone). A plan the validator rejects, or one leaving a customer out, has no gap and is
counted as infeasible.

Usage:
    .venv/bin/python benchmarks/routing_vrptw.py [--seconds 10] [--instances 'R1*'] [--jobs 2]
        [--seed 1] [--solvers ours,ortools]

With --jobs N, N solves run at once, each in its own process (a core each: do not ask for more
jobs than idle cores). It prints one table row per instance, a summary per class (C1, C2, R1, R2,
RC1, RC2) and overall, and writes everything, with the machine and its load, to
benchmarks/results/routing-vrptw-<date>-<time>.json.
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
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "vrptw"
CLASSES = ("C1", "C2", "R1", "R2", "RC1", "RC2")
SOLVERS = {"ours": None, "ortools": "ortools"}


def instance_class(name: str) -> str:
    match = re.match(r"(RC|R|C)(\d)", name.upper())
    return f"{match.group(1)}{match.group(2)}" if match else "?"


def run_one(task: tuple[str, str, float, int]) -> dict[str, Any]:
    """Solve one instance with one solver, in a worker process."""
    path, label, seconds, seed = task
    from careway.routing.formats import solomon
    from careway.routing.solve import solve

    problem = solomon.read_instance(path)
    began = time.perf_counter()
    result = solve(problem, seconds, seed, solver=SOLVERS[label])
    elapsed = time.perf_counter() - began
    report = result.report
    return {
        "instance": Path(path).stem,
        "solver": label,
        "engine": result.solver,
        "distance": report.terms["travel"],
        "feasible": report.feasible and not result.solution.unassigned,
        "violations": [v.message for v in report.violations][:5],
        "unassigned": len(result.solution.unassigned),
        "routes": sum(1 for r in result.solution.routes if r.visits),
        "seconds": elapsed,
        "routes_json": solomon.solution_json(problem, result.solution)["routes"],
    }


def gap(distance: float, best: float) -> float:
    return 100.0 * (distance - best) / best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--instances", default="*", help="glob over the Solomon file names")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--solvers", default="ours,ortools")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    labels = [s for s in args.solvers.split(",") if s]
    for label in labels:
        if label not in SOLVERS:
            parser.error(f"--solvers: no solver {label!r} (ours, ortools)")
    pattern = args.instances if args.instances.endswith(".txt") else f"{args.instances}.txt"
    files = sorted((args.data / "solomon").glob(pattern))
    if not files:
        parser.error(f"no instance matches {pattern!r} in {args.data / 'solomon'}")
    bks = json.loads((args.data / "BKS.json").read_text())

    tasks = [(str(f), label, args.seconds, args.seed) for f in files for label in labels]
    load_before = os.getloadavg()
    began = time.perf_counter()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for row in pool.map(run_one, tasks):
            rows[(row["instance"], row["solver"])] = row
            print(
                f"  {row['instance']:<6} {row['solver']:<8} {row['distance']:10.2f} "
                f"{'ok' if row['feasible'] else 'INFEASIBLE'} {row['seconds']:.2f}s",
                file=sys.stderr,
                flush=True,
            )
    wall = time.perf_counter() - began
    load_after = os.getloadavg()

    instances = []
    for f in files:
        name = f.stem
        best = bks.get(f"{name}_distance", {}).get("best_known_cost")
        entry: dict[str, Any] = {"instance": name, "class": instance_class(name), "bks": best}
        for label in labels:
            row = rows[(name, label)]
            entry[label] = {
                "distance": round(row["distance"], 3),
                "gap": round(gap(row["distance"], best), 3) if best and row["feasible"] else None,
                "feasible": row["feasible"],
                "routes": row["routes"],
                "seconds": round(row["seconds"], 2),
                "engine": row["engine"],
                "violations": row["violations"],
                "solution": row["routes_json"],
            }
        instances.append(entry)

    header = f"{'instance':<8} {'class':<5} {'BKS':>9}"
    for label in labels:
        header += f" {label:>10} {'gap %':>7}"
    print(header)
    for e in instances:
        line = f"{e['instance']:<8} {e['class']:<5} {e['bks'] or float('nan'):9.2f}"
        for label in labels:
            r = e[label]
            shown = f"{r['gap']:7.2f}" if r["gap"] is not None else "  infeas"
            line += f" {r['distance']:10.2f} {shown}"
        print(line)

    summary: dict[str, Any] = {}
    groups = [(c, [e for e in instances if e["class"] == c]) for c in CLASSES]
    groups.append(("all", instances))
    print()
    line = f"{'class':<6} {'n':>3}"
    for label in labels:
        line += f" {label + ' mean gap %':>20} {'infeasible':>10}"
    if len(labels) == 2:
        line += f" {labels[0] + ' better':>12}"
    print(line)
    for name, members in groups:
        if not members:
            continue
        entry = {"instances": len(members)}
        line = f"{name:<6} {len(members):>3}"
        for label in labels:
            gaps = [e[label]["gap"] for e in members if e[label]["gap"] is not None]
            infeasible = sum(1 for e in members if e[label]["gap"] is None)
            mean = statistics.fmean(gaps) if gaps else None
            entry[label] = {
                "mean_gap": None if mean is None else round(mean, 3),
                "max_gap": None if not gaps else round(max(gaps), 3),
                "infeasible": infeasible,
            }
            line += f" {mean if mean is not None else float('nan'):20.3f} {infeasible:>10}"
        if len(labels) == 2:
            a, b = labels
            better = sum(
                1
                for e in members
                if e[a]["feasible"]
                and (not e[b]["feasible"] or e[a]["distance"] < e[b]["distance"] - 1e-6)
            )
            entry[f"{a}_better"] = better
            line += f" {better:>9}/{len(members)}"
        summary[name] = entry
        print(line)

    stamp = datetime.now(UTC)
    record = {
        "benchmark": "routing-vrptw (Solomon, gap to BKS distance)",
        "date": stamp.isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "python": platform.python_version(),
        "pyvrp": metadata.version("pyvrp"),
        "ortools": metadata.version("ortools"),
        "seconds": args.seconds,
        "seed": args.seed,
        "jobs": args.jobs,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "wall_seconds": round(wall, 1),
        "summary": summary,
        "instances": instances,
    }
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"routing-vrptw-{stamp:%Y-%m-%d-%H%M}.json"
    out.write_text(json.dumps(record, indent=1))
    print(
        f"\n{len(files)} instances, {args.seconds:g} s each, {args.jobs} job(s); load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; wall {wall:.0f} s; wrote {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

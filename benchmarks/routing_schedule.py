"""The search's settings on the Mankowska days: one setting against another, size by size.

Solves the ten instances of each size in --sizes with `careway.routing.search.lns.solve` for
--seconds, once per seed in --seeds, with the search settings given as JSON (`--settings
'{"rate": 3840000}'`; `{}` is the defaults), scores each plan with the validator and the
published objective, and prints one line: the mean gap by size, the iterations made and each
day's gap. A study of the cooling schedule (docs/benchmarks.md, Routing 7) runs it once per
setting, interleaving settings so that a busy machine weighs on each alike.

Usage: .venv/bin/python benchmarks/routing_schedule.py --settings '{}' [--seconds 10]
           [--sizes 300] [--seeds 0] [--jobs 2] [--name default]
Ten 300-patient days at 10 s take about a minute with --jobs 2.
Appends its line, with the machine and the date, to
benchmarks/results/routing-schedule-<date>.txt.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from routing_hhcrsp import DATA, instance_name, published  # noqa: E402


def run_one(task: tuple[str, dict[str, Any], float, int]) -> tuple[str, int, float, int, bool]:
    path, settings, seconds, seed = task
    from careway.routing.formats import hhcrsp
    from careway.routing.search import lns
    from careway.routing.validate import validate

    problem = hhcrsp.read_instance(Path(path))
    stats: dict[str, Any] = {}
    solution = lns.solve(problem, seconds, seed, stats=stats, **settings)
    report = validate(problem, solution)
    feasible = bool(report.feasible and not solution.unassigned)
    return Path(path).stem, seed, report.objective, int(stats["iterations"]), feasible


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="{}", help="search settings as JSON")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sizes", default="300")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--name", default="")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: the instances come with ../shared/data")
    try:
        settings = json.loads(args.settings)
    except json.JSONDecodeError as error:
        sys.exit(f"--settings: not JSON ({error})")
    if not isinstance(settings, dict):
        sys.exit("--settings: give a JSON object, e.g. '{\"rate\": 3840000}'")
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    best = published()
    tasks = [
        (str(DATA / "mankowska" / f"{instance_name(size, i)}.json"), settings, args.seconds, seed)
        for size in sizes
        for i in range(1, 11)
        for seed in seeds
    ]
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(run_one, tasks))
    gaps = [100 * (cost / best[name]["cost"] - 1) for name, _, cost, _, _ in rows]
    per_size = {
        size: statistics.mean(
            g for g, row in zip(gaps, rows, strict=True) if row[0].split("_")[-2] == str(size)
        )
        for size in sizes
    }
    line = (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} {platform.node()} cpus={os.cpu_count()} "
        f"{args.name or 'settings'} {json.dumps(settings)} {args.seconds:g}s seeds={args.seeds} "
        f"jobs={args.jobs} | "
        + " ".join(f"{size}: {gap:.2f}%" for size, gap in per_size.items())
        + f" | iterations {statistics.mean(r[3] for r in rows):.0f}"
        + f" | feasible {sum(r[4] for r in rows)}/{len(rows)}"
        + f" | days {' '.join(f'{g:.2f}' for g in gaps)}"
        + f" | {time.perf_counter() - began:.0f} s"
    )
    print(line)
    out = ROOT / "benchmarks" / "results" / f"routing-schedule-{datetime.now(UTC):%Y-%m-%d}.txt"
    with out.open("a") as handle:
        handle.write(line + "\n")


if __name__ == "__main__":
    main()

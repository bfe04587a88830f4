"""What each setting of the pair-aware search is worth: the same Mankowska instances solved with
the defaults and with one setting changed at a time, scored by the validator against the
published best.

Each variant is a name and settings of `careway.routing.search.lns.DEFAULTS`. The search runs
directly (`lns.solve`, not the PyVRP dispatch: these days all have linked visits). Prints a
table per variant (instance, gap, iterations) and a summary (mean gap, mean iterations), and
writes JSON to benchmarks/results/routing-variants-<date>-<time>.json.

Usage: .venv/bin/python benchmarks/routing_search_variants.py [--seconds 20] [--jobs 2]
           [--sizes 50,75,100,200] [--numbers 2,3] [--variant NAME:key=value,key=value ...]
With no --variant, the built-in list below runs (about 10 minutes with --jobs 2).
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
from benchmarks.routing_hhcrsp import DATA, instance_name, published  # noqa: E402

VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "half the repairs by regret-2": {"regret": 0.5},
    "no blinks": {"blink": 0.0},
    "operators drawn uniformly": {"adaptive": 0},
    "operator weights floored at 0.2": {"floor": 0.2},
    "hotter start (t_start 20)": {"t_start": 20.0},
    "cooler start (t_start 1)": {"t_start": 1.0},
}


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    name, _, settings = text.partition(":")
    params: dict[str, Any] = {}
    for pair in filter(None, settings.split(",")):
        key, value = pair.split("=")
        params[key] = float(value) if any(c in value for c in ".e") else int(value)
    return name, params


def run(task: tuple[str, str, dict[str, Any], float]) -> dict[str, Any]:
    variant, name, params, seconds = task
    from careway.routing.formats import hhcrsp
    from careway.routing.search import lns
    from careway.routing.validate import validate

    problem = hhcrsp.read_instance(DATA / "mankowska" / f"{name}.json")
    stats: dict[str, Any] = {}
    began = time.perf_counter()
    solution = lns.solve(problem, seconds, 0, stats=stats, **params)
    took = time.perf_counter() - began
    report = validate(problem, solution)
    return {
        "variant": variant,
        "instance": name,
        "cost": report.objective,
        "feasible": report.feasible and not solution.unassigned,
        "iterations": stats.get("iterations"),
        "seconds": took,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--sizes", default="50,75,100,200")
    parser.add_argument("--numbers", default="2,3", help="which instances of each size")
    parser.add_argument("--variant", action="append", default=[], help="NAME:key=value,...")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: the instances come with ../shared/data")
    variants = dict(parse_variant(v) for v in args.variant) if args.variant else VARIANTS
    names = [
        instance_name(size, number)
        for size in [int(s) for s in args.sizes.split(",")]
        for number in [int(s) for s in args.numbers.split(",")]
    ]
    best = published()
    tasks = [(v, n, p, args.seconds) for v, p in variants.items() for n in names]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(run, tasks))
    summary = []
    for variant in variants:
        mine = [r for r in rows if r["variant"] == variant]
        for r in mine:
            r["gap_percent"] = 100 * (r["cost"] / best[r["instance"]]["cost"] - 1)
            print(
                f"{variant:34} {r['instance']:28} gap {r['gap_percent']:6.2f}% "
                f"iterations {r['iterations']:6} feasible {r['feasible']}"
            )
        summary.append(
            {
                "variant": variant,
                "settings": variants[variant],
                "mean_gap": statistics.fmean(r["gap_percent"] for r in mine),
                "mean_iterations": statistics.fmean(r["iterations"] or 0 for r in mine),
                "feasible": sum(r["feasible"] for r in mine),
                "n": len(mine),
            }
        )
    print(f"\n{'variant':34} {'mean gap %':>10} {'iterations':>10} feasible")
    for s in summary:
        print(
            f"{s['variant']:34} {s['mean_gap']:10.2f} {s['mean_iterations']:10.0f} "
            f"{s['feasible']}/{s['n']}"
        )
    stamp = f"{datetime.now(UTC):%Y-%m-%d-%H%M}"
    out = ROOT / "benchmarks" / "results" / f"routing-variants-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{os.cpu_count()} cores, {platform.platform()}",
                "load_average": os.getloadavg(),
                "seconds_per_instance": args.seconds,
                "jobs": args.jobs,
                "instances": names,
                "summary": summary,
                "rows": rows,
            },
            indent=1,
        )
    )
    print(f"\n{out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

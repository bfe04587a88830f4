"""The search in two checkouts of Careway, side by side: the same plans, and how much faster.

For a change meant to make the search faster without changing what it finds, runs
`lns.solve(problem, 3600, seed, iterations=N)` on the first Mankowska instance of each size in
this checkout and in another (--other, e.g. a `git worktree` of the commit before), in fresh
interpreters, rounds alternating (other, this, other, this, ...) so that a busy machine weighs
on both alike. Checks that both give the same best cost and the same plan, to the last bit, and
prints the median seconds of each and their ratio (setup included: compiling the day and the
first plan).

The other checkout needs the C module built; copying this checkout's
`careway/routing/search/_native*.so` into it works when the C functions it calls are unchanged.

Usage: .venv/bin/python benchmarks/routing_checkouts.py --other /tmp/wt-before [--rounds 3]
           [--sizes 25,100,200,300]
Writes JSON to benchmarks/results/routing-checkouts-<date>-<time>.json.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ITERATIONS = {25: 2000, 100: 600, 200: 400, 300: 300}

CHILD = """
import json, sys, time
root, path, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, root)
import careway
assert careway.__file__.startswith(root), careway.__file__
from careway.routing.formats import hhcrsp
from careway.routing.search import lns
problem = hhcrsp.read_instance(__import__("pathlib").Path(path))
stats = {}
began = time.perf_counter()
solution = lns.solve(problem, 3600, 0, iterations=iterations, stats=stats)
seconds = time.perf_counter() - began
print(json.dumps({"seconds": seconds, "best": stats["best"], "plan": solution.to_json()}))
"""


def run(root: Path, path: Path, iterations: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(path), str(iterations)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", required=True, help="the other checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="25,100,200,300")
    args = parser.parse_args()
    other = Path(args.other).resolve()
    data = ROOT.parent / "shared" / "data" / "hhcrsp" / "mankowska"
    if not data.is_dir():
        sys.exit(f"{data} is absent: the instances come with ../shared/data")
    if not (other / "careway").is_dir():
        sys.exit(f"--other: {other} is not a Careway checkout")
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        name = f"Instanz{'CPLEX' if size <= 75 else 'VNS'}_HCSRP_{size}_1.json"
        times: dict[str, list[float]] = {"other": [], "this": []}
        same = True
        for _ in range(args.rounds):
            a = run(other, data / name, ITERATIONS[size])
            b = run(ROOT, data / name, ITERATIONS[size])
            times["other"].append(float(a["seconds"]))  # type: ignore[arg-type]
            times["this"].append(float(b["seconds"]))  # type: ignore[arg-type]
            same = same and a["best"] == b["best"] and a["plan"] == b["plan"]
        row = {
            "size": size,
            "iterations": ITERATIONS[size],
            "other_seconds": statistics.median(times["other"]),
            "this_seconds": statistics.median(times["this"]),
            "same_plans": same,
        }
        row["speedup"] = row["other_seconds"] / row["this_seconds"]  # type: ignore[operator]
        rows.append(row)
        print(
            f"{size:4} patients, {ITERATIONS[size]:5} iterations: "
            f"other {row['other_seconds']:.2f} s, this {row['this_seconds']:.2f} s, "
            f"{row['speedup']:.2f}x, same plans: {same}"
        )
    stamp = datetime.now(UTC)
    out = ROOT / "benchmarks" / "results" / f"routing-checkouts-{stamp:%Y-%m-%d-%H%M}.json"
    out.write_text(
        json.dumps(
            {
                "date": stamp.isoformat(),
                "machine": {"node": platform.node(), "cpus": os.cpu_count()},
                "other": str(other),
                "rounds": args.rounds,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(out.relative_to(ROOT))


if __name__ == "__main__":
    main()

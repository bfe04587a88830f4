"""A realistic agency day: 40 clinicians, 300 visits, planned within 60 seconds in under 1 GB.

The day comes from careway/routing/generate.py (skills, windows, 10% of visits in two-person
pairs and 10% in ordered pairs, most patients with a preferred clinician). Solved by
`careway.routing.solve`; the validator's report gives feasibility and every objective term;
peak memory is the process's maximum resident set size (what the operating system saw).

Usage: .venv/bin/python benchmarks/routing_agency_day.py [--seconds 60] [--seed 1]
           [--clinicians 40] [--visits 300] [--save PROBLEM.json]
"""

import argparse
import json
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clinicians", type=int, default=40)
    parser.add_argument("--visits", type=int, default=300)
    parser.add_argument("--save", type=Path, help="also write the generated problem here")
    args = parser.parse_args()
    from careway.routing.generate import agency_day
    from careway.routing.model import Problem
    from careway.routing.solve import solve

    data = agency_day(args.clinicians, args.visits, seed=args.seed)
    if args.save:
        args.save.write_text(json.dumps(data, indent=1))
    problem = Problem.from_json(data)
    began = time.perf_counter()
    first_feasible: list[float] = []

    def progress(at: float, best: float) -> None:
        if best < problem.weights.unassigned and not first_feasible:
            first_feasible.append(at)

    result = solve(problem, args.seconds, args.seed, on_progress=progress)
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    routes = [r for r in result.solution.routes if r.visits]
    row = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.platform()}",
        "load_average": os.getloadavg(),
        "problem": data["name"],
        "solver": result.solver,
        "seconds": round(seconds, 2),
        "feasible": result.feasible,
        "unassigned": len(result.solution.unassigned),
        "unassigned_reasons": sorted(set(result.solution.unassigned.values())),
        "violations": [v.message for v in result.report.violations][:10],
        "terms": {k: round(v, 2) for k, v in result.report.terms.items()},
        "objective": round(result.report.objective, 2),
        "routes_used": len(routes),
        "first_plan_without_unassigned_at_s": first_feasible[0] if first_feasible else None,
        "peak_memory_mb": round(peak_mb, 1),
    }
    print(json.dumps(row, indent=1))
    out = (
        ROOT
        / "benchmarks"
        / "results"
        / f"routing-agency-day-{datetime.now(UTC):%Y-%m-%d-%H%M}.json"
    )
    out.write_text(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()

"""Anytime curve: the best plan's gap to the published best against time, one instance per size.

For the first Mankowska instance of each size, `careway.routing.solve` runs for --seconds
(default 120) and reports every improvement; the gap to mankowska_best.md at 1, 2, 5, 10, 20, 30,
60 and 120 seconds is printed as a table and drawn as an SVG line chart (a line per size, time
on a log scale) in docs/routing/anytime.svg.

Usage: .venv/bin/python benchmarks/routing_anytime.py [--seconds 120] [--sizes 10,25,50,100]
"""

import argparse
import json
import math
import os
import platform
import sys
from datetime import UTC, datetime
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.routing_hhcrsp import DATA, published  # noqa: E402

MARKS = (1, 2, 5, 10, 20, 30, 60, 120)
COLOURS = ("#0b5cad", "#b3261e", "#1e6b34", "#8a5300", "#6a3d9a", "#00838f", "#4a5563")


def best_at(progress: list[tuple[float, float]], moment: float) -> float | None:
    found = [cost for at, cost in progress if at <= moment]
    return min(found) if found else None


def svg(curves: dict[int, list[tuple[float, float]]], seconds: float) -> str:
    width, height, left, right, top, bottom = 640, 360, 56, 120, 40, 48
    top_gap = max([g for pts in curves.values() for _, g in pts] + [1.0])
    top_gap = math.ceil(top_gap / 5) * 5

    def x(t: float) -> float:
        return left + (math.log10(max(t, 1)) / math.log10(seconds)) * (width - left - right)

    def y(g: float) -> float:
        return height - bottom - max(g, 0) / top_gap * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        'aria-labelledby="t d" font-family="system-ui, sans-serif" font-size="13">',
        '<title id="t">Gap to the best published plan against time</title>',
        '<desc id="d">One line per instance size: the best plan found so far, as a percentage '
        "above the published best, from 1 second to the time limit (log scale).</desc>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
    ]
    for step in range(0, top_gap + 1, max(1, top_gap // 5)):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(step):.1f}" y2="{y(step):.1f}" '
            f'stroke="#d5dbe1"/><text x="{left - 6}" y="{y(step) + 4:.1f}" '
            f'text-anchor="end">{step}%</text>'
        )
    for mark in [m for m in MARKS if m <= seconds]:
        label_y = height - bottom + 18
        parts.append(f'<text x="{x(mark):.1f}" y="{label_y}" text-anchor="middle">{mark} s</text>')
    for index, (size, points) in enumerate(sorted(curves.items())):
        colour = COLOURS[index % len(COLOURS)]
        path = " ".join(f"{x(t):.1f},{y(g):.1f}" for t, g in points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts.append(
            f'<text x="{width - right + 8}" y="{top + 16 * index:.1f}" fill="{colour}">'
            f"{escape(str(size))} patients</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--sizes", default="10,25,50,75,100,200,300")
    args = parser.parse_args()
    from careway.routing.formats import hhcrsp
    from careway.routing.solve import solve

    best = published()
    curves: dict[int, list[tuple[float, float]]] = {}
    table = []
    for size in [int(s) for s in args.sizes.split(",")]:
        name = f"InstanzCPLEX_HCSRP_{size}_1"
        problem = hhcrsp.read_instance(DATA / "mankowska" / f"{name}.json")
        result = solve(problem, args.seconds, seed=0)
        reference = best[name]["cost"]
        row = {"instance": name, "size": size, "feasible": result.feasible}
        for mark in [m for m in MARKS if m <= args.seconds]:
            cost = best_at(result.progress, mark)
            row[f"{mark}s"] = None if cost is None else 100 * (cost / reference - 1)
        row["final"] = 100 * (result.report.objective / reference - 1)
        table.append(row)
        curves[size] = [
            (max(at, 1.0), 100 * (cost / reference - 1)) for at, cost in result.progress
        ] + [(args.seconds, row["final"])]
        print(json.dumps(row), flush=True)
    out = ROOT / "docs" / "routing" / "anytime.svg"
    out.write_text(svg(curves, args.seconds))
    stamp = f"{datetime.now(UTC):%Y-%m-%d-%H%M}"
    (ROOT / "benchmarks" / "results" / f"routing-anytime-{stamp}.json").write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{os.cpu_count()} cores, {platform.platform()}",
                "load_average": os.getloadavg(),
                "rows": table,
            },
            indent=1,
        )
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Anytime curve: the best plan's gap to the published best against time, one instance per size.

For the first Mankowska instance of each size, `careway.routing.solve` runs for --seconds
(default 120) and reports every improvement; the gap to mankowska_best.md at 1, 2, 5, 10, 20, 30,
60 and 120 seconds is printed as a table and drawn as an SVG chart (a step line per size, time
on a log scale) in docs/routing/anytime.svg.

Usage: .venv/bin/python benchmarks/routing_anytime.py [--seconds 120] [--sizes 10,25,50,100]
           [--jobs 2]
"""

import argparse
import json
import math
import os
import platform
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.routing_hhcrsp import DATA, instance_name, published  # noqa: E402

MARKS = (1, 2, 5, 10, 20, 30, 60, 120)
COLOURS = ("#0b5cad", "#b3261e", "#1e6b34", "#8a5300", "#6a3d9a", "#00838f", "#4a5563")


def best_at(progress: list[tuple[float, float]], moment: float) -> float | None:
    found = [cost for at, cost in progress if at <= moment]
    return min(found) if found else None


def steps(points: list[tuple[float, float]], seconds: float) -> list[tuple[float, float]]:
    """The best gap so far as a step line from 1 s (what was found before 1 s shows at 1 s)
    to the time limit."""
    out: list[tuple[float, float]] = []
    for at, gap in sorted(points):
        at = min(max(at, 1.0), seconds)
        if out and at <= out[-1][0]:
            out[-1] = (out[-1][0], min(out[-1][1], gap))
            continue
        if out:
            out.append((at, out[-1][1]))
        out.append((at, gap))
    if out and out[-1][0] < seconds:
        out.append((seconds, out[-1][1]))
    return out


def svg(curves: dict[int, list[tuple[float, float]]], seconds: float, ceiling: float = 20) -> str:
    """A step line per size, time on a log scale; gaps above `ceiling` % run along the top."""
    width, height, left, right, top, bottom = 640, 360, 56, 120, 40, 48
    lines = {size: steps(points, seconds) for size, points in curves.items()}
    gaps = [g for pts in lines.values() for _, g in pts]
    top_gap = min(max(5, math.ceil(max([*gaps, 1.0]) / 5) * 5), ceiling)
    low_gap = min(0, math.floor(min([*gaps, 0.0])))

    def x(t: float) -> float:
        return left + (math.log10(max(t, 1)) / math.log10(seconds)) * (width - left - right)

    def y(g: float) -> float:
        g = min(max(g, low_gap), top_gap)
        return height - bottom - (g - low_gap) / (top_gap - low_gap) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        'aria-labelledby="t d" font-family="system-ui, sans-serif" font-size="13">',
        '<title id="t">Gap to the best published plan against time</title>',
        '<desc id="d">One line per instance size: the best plan found so far, as a percentage '
        "above the published best, from 1 second to the time limit (log scale).</desc>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="{left}" y="{top - 16}">Gap to the published best (%), '
        f"above {top_gap}% drawn at the top</text>",
    ]
    every = max(1, top_gap // 5)
    ticks = {*range(0, top_gap + 1, every)} | ({low_gap} if low_gap <= -every else set())
    for step in sorted(ticks):
        colour = "#4a5563" if step == 0 else "#d5dbe1"
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(step):.1f}" y2="{y(step):.1f}" '
            f'stroke="{colour}"/><text x="{left - 6}" y="{y(step) + 4:.1f}" '
            f'text-anchor="end">{step}%</text>'
        )
    for mark in [m for m in MARKS if m <= seconds]:
        label_y = height - bottom + 18
        parts.append(f'<text x="{x(mark):.1f}" y="{label_y}" text-anchor="middle">{mark} s</text>')
    parts.append(
        f'<text x="{(left + width - right) / 2:.1f}" y="{height - 8}" text-anchor="middle">'
        "time (log scale)</text>"
    )
    for index, (size, points) in enumerate(sorted(lines.items())):
        colour = COLOURS[index % len(COLOURS)]
        path = " ".join(f"{x(t):.1f},{y(g):.1f}" for t, g in points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts.append(
            f'<text x="{width - right + 8}" y="{top + 16 * index:.1f}" fill="{colour}">'
            f"{escape(str(size))} patients</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def run(task: tuple[int, float]) -> tuple[int, bool, float, list[tuple[float, float]]]:
    size, seconds = task
    from careway.routing.formats import hhcrsp
    from careway.routing.solve import solve

    problem = hhcrsp.read_instance(DATA / "mankowska" / f"{instance_name(size, 1)}.json")
    result = solve(problem, seconds, seed=0)
    return size, result.feasible, result.report.objective, list(result.progress)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--sizes", default="10,25,50,75,100,200,300")
    parser.add_argument("--jobs", type=int, default=1, help="instances solved at once")
    args = parser.parse_args()

    best = published()
    curves: dict[int, list[tuple[float, float]]] = {}
    table = []
    tasks = [(int(s), args.seconds) for s in args.sizes.split(",")]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for size, feasible, objective, progress in pool.map(run, tasks):
            name = instance_name(size, 1)
            reference = best[name]["cost"]
            row: dict[str, Any] = {"instance": name, "size": size, "feasible": feasible}
            for mark in [m for m in MARKS if m <= args.seconds]:
                cost = best_at(progress, mark)
                row[f"{mark}s"] = None if cost is None else 100 * (cost / reference - 1)
            row["final"] = 100 * (objective / reference - 1)
            table.append(row)
            curves[size] = [(at, 100 * (cost / reference - 1)) for at, cost in progress] + [
                (args.seconds, row["final"])
            ]
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

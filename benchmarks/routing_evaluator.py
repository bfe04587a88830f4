"""The routing search's evaluator, pure Python against C (and a numba port of its hottest loop).

Part A: iterations a second of `careway.routing.search.lns.solve(problem, 3600, seed,
iterations=N)` on the first Mankowska instance of each size, with the pure-Python reference
(CAREWAY_ROUTING_PURE=1) and with the C loops (_native.c), in this one process, in alternating
rounds (pure, C, pure, C, ...) after one short warm-up run of each, so that a shared machine that
slows down or speeds up weighs on both alike. The clock starts when the first plan is built (the
first progress report), so the rate is that of the loop alone; the setup (compiling the problem,
building the first plan) is reported apart. Both evaluators take the same path for a seed, so each
round checks that they end with the same best cost, to the last bit. N is chosen per size so that
a pure-Python run takes about --seconds (or set with --iterations). The table gives the median
rates, their ratio, and the median of each round's ratio (paired: steadier on a busy machine).

Part B: the cost of one call of the hottest evaluation, `State.scan` (every place of one visit in
one route), on a plan of the 300-patient instance: a first plan is built, a few single visits and
linked pairs are taken out, and every one of them is scanned in every route that may take it.
Rows: the pure-Python method (its per-route frame cached, as it mostly is during a repair, and
rebuilt at every call, as the C and numba loops do), the C method and the C loop called directly,
and, when numba is installed, a numba @njit port of the same loop (`_scan_kernel` below, on numpy
arrays) with and without the cost of turning the plan's Python lists (route, start times, each
node's route) into arrays and the result back into the list of tuples the search reads. Every
variant is first checked to give the same places and costs as the reference, to the last bit.
Two more rows: an empty @njit function with the kernel's arguments (numba's cost of a call
alone), and C's `singles` (every route of a visit in one call, sorted: what the C search's repair
calls), per route scanned.
Numba's compile time on the first call, its import time and the C module's load time are measured
in fresh interpreters (the CLI and the web app import the engine).

Numba is not a dependency of Careway: without it, part B's numba rows are skipped with a message.

Prints the tables; writes JSON to benchmarks/results/routing-evaluator-<date>-<time>.json.

Usage: .venv/bin/python benchmarks/routing_evaluator.py [--sizes 25,100,200,300] [--rounds 7]
           [--seconds 4] [--iterations N] [--seed 0] [--scan-rounds 7] [--part A|B|AB]
About 3 minutes with the defaults (one core; run nothing else meanwhile).
"""

import argparse
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.routing_hhcrsp import DATA, instance_name  # noqa: E402

EPS = 1e-9  # evaluate.EPS
HARD_EPS = 1e-7
SCAN_SIZE = 300  # part B's instance (patients)
PROBES = 3  # fresh interpreters per start-up measurement


def _env(pure: bool) -> None:
    os.environ["CAREWAY_ROUTING_PURE"] = "1" if pure else "0"


def _load(size: int) -> Any:
    from careway.routing.formats import hhcrsp

    return hhcrsp.read_instance(DATA / "mankowska" / f"{instance_name(size, 1)}.json")


# --- part A: iterations a second ---------------------------------------------------------------


def one_run(problem: Any, pure: bool, seed: int, iterations: int) -> dict[str, Any]:
    """One search of `iterations` iterations with the chosen evaluator."""
    from careway.routing.search import evaluate, lns

    _env(pure)
    used = evaluate.evaluator()
    if used != ("python" if pure else "native"):
        raise RuntimeError(f"asked for {'pure' if pure else 'C'}, the search would use {used}")
    first: list[float] = []
    stats: dict[str, Any] = {}
    began = time.perf_counter()
    lns.solve(
        problem,
        3600,
        seed,
        on_progress=lambda at, _: first.append(time.perf_counter()) if not first else None,
        iterations=iterations,
        stats=stats,
    )
    ended = time.perf_counter()
    loop = ended - first[0]
    return {
        "evaluator": used,
        "iterations": stats["iterations"],
        "best": stats["best"],
        "setup_seconds": first[0] - began,
        "loop_seconds": loop,
        "per_second": stats["iterations"] / loop,
    }


def part_a(sizes: list[int], rounds: int, seconds: float, fixed: int | None, seed: int) -> Any:
    rows = []
    for size in sizes:
        problem = _load(size)
        n = len(problem.visits)
        # pure Python runs about 180000 / n ** 1.33 iterations a second on the machine this was
        # written on (n visits); N aims at `seconds` a pure run
        iterations = fixed or max(50, round(seconds * 180000 / n**1.33))
        one_run(problem, True, seed, max(10, iterations // 10))  # warm-up
        one_run(problem, False, seed, max(10, iterations // 10))
        runs: dict[str, list[dict[str, Any]]] = {"pure": [], "C": []}
        for r in range(rounds):
            for name in ("pure", "C"):
                runs[name].append(one_run(problem, name == "pure", seed, iterations))
            rp, rc = runs["pure"][-1], runs["C"][-1]
            print(
                f"  {size:3} patients, round {r + 1}: pure {rp['per_second']:8.1f} it/s, "
                f"C {rc['per_second']:8.1f} it/s, best {rp['best']!r} / {rc['best']!r} "
                f"{'same' if rp['best'] == rc['best'] else 'DIFFERENT'}",
                flush=True,
            )
        pure = statistics.median(x["per_second"] for x in runs["pure"])
        c = statistics.median(x["per_second"] for x in runs["C"])
        bests = {x["best"] for name in runs for x in runs[name]}
        rows.append(
            {
                "size": size,
                "instance": instance_name(size, 1),
                "visits": n,
                "clinicians": len(problem.clinicians),
                "links": len(problem.links),
                "iterations": iterations,
                "seed": seed,
                "pure_per_second": pure,
                "c_per_second": c,
                "ratio": c / pure,
                "ratio_paired": statistics.median(
                    y["per_second"] / x["per_second"]
                    for x, y in zip(runs["pure"], runs["C"], strict=True)
                ),
                "same_best": len(bests) == 1,
                "best": sorted(bests),
                "pure_setup_seconds": statistics.median(x["setup_seconds"] for x in runs["pure"]),
                "c_setup_seconds": statistics.median(x["setup_seconds"] for x in runs["C"]),
                "runs": runs,
            }
        )
    print(
        f"\n{'patients':>8} {'visits':>6} {'N':>6} {'pure it/s':>10} {'C it/s':>10} "
        f"{'C/pure':>7} {'paired':>7}  best cost (pure = C)"
    )
    for row in rows:
        print(
            f"{row['size']:8} {row['visits']:6} {row['iterations']:6} "
            f"{row['pure_per_second']:10.1f} {row['c_per_second']:10.1f} {row['ratio']:7.2f} "
            f"{row['ratio_paired']:7.2f}  "
            f"{row['best'][0]!r} {'same' if row['same_best'] else 'DIFFERENT: ' + str(row['best'])}"
        )
    return rows


# --- part B: one scan --------------------------------------------------------------------------


def _scan_kernel(
    out_f: Any,
    out_i: Any,
    out_b: Any,
    nodes: Any,
    t: Any,
    rk: Any,
    v: int,
    k: int,
    cutoff: float,
    cst: float,
    old_over: float,
    nreal: int,
    n: int,
    node_f: Any,
    node_i: Any,
    T: Any,
    D: Any,
    clin_f: Any,
    clin_i: Any,
    w: Any,
) -> int:
    """State.scan's loop (evaluate.py; _native.c's scan_route) on numpy arrays, for numba: the
    route's frame, then every place, written into `out_f` (base, worst, travel: 3 rows),
    `out_i` (position) and `out_b` (exact), each with room for len(nodes) + 1 places (`buffer`);
    returns how many. The problem's arrays are packed (`problem_arrays`) so that a call passes
    fewer of them."""
    dur, opn, close, lw = node_f[0], node_f[1], node_f[2], node_f[3]
    loc, partner, hard = node_i[0], node_i[1], node_i[2]
    wt, wl, wo = w[0], w[1], w[2]
    L = nodes.shape[0]
    frees = np.empty(L + 1)
    heres = np.empty(L + 1, np.int64)
    nexts = np.empty(L + 1, np.int64)
    free = clin_f[0, k]
    here = clin_i[0, k]
    for j in range(L):
        frees[j] = free
        heres[j] = here
        x = nodes[j]
        free = t[x] + dur[x]
        if x < n:
            here = loc[x]
    frees[L] = free
    heres[L] = here
    nxt = clin_i[1, k]
    nexts[L] = nxt
    for j in range(L - 1, -1, -1):
        x = nodes[j]
        if x < n:
            nxt = loc[x]
        nexts[j] = nxt
    count = 0
    lv = loc[v]
    dv = dur[v]
    ov = opn[v]
    cv = close[v]
    hv = hard[v]
    sk = clin_f[1, k]
    ck = clin_i[1, k]
    for p in range(L + 1):
        a = heres[p]
        b = nexts[p]
        tr = D[a, lv] + D[lv, b] - D[a, b] if nreal else D[a, lv] + D[lv, b]
        tr *= wt
        if tr + cst >= cutoff:
            continue
        st = frees[p] + T[a, lv]
        if st < ov:
            st = ov
        if hv and st > cv + HARD_EPS:
            continue
        late = st - cv if st > cv else 0.0
        dl = late
        worst = late
        free = st + dv
        here = lv
        j = p
        ok = True
        exact = True
        ended = True
        while j < L:
            x = nodes[j]
            ox = t[x]
            if x >= n:
                if free > ox + EPS:
                    if free > close[x] + HARD_EPS:
                        ok = False
                        break
                    free += dur[x]
                else:
                    free = ox + dur[x]
                j += 1
                continue
            arr = free + T[here, loc[x]]
            if arr <= ox + EPS:
                ended = False
                break
            z = partner[x]
            if z >= 0 and rk[z] >= 0 and t[z] < arr + lw[z] - EPS:
                exact = False
            if hard[x] and arr > close[x] + HARD_EPS:
                ok = False
                break
            cx = close[x]
            if arr > cx:
                dl += arr - cx - (ox - cx if ox > cx else 0.0)
                if arr - cx > worst:
                    worst = arr - cx
            free = arr + dur[x]
            here = loc[x]
            j += 1
        if not ok:
            continue
        base = tr + cst + wl * dl
        if ended:
            back = free + T[here, ck]
            over = back - sk if back > sk else 0.0
            base += wo * (over - old_over)
        out_f[0, count] = base
        out_f[1, count] = worst
        out_f[2, count] = tr
        out_i[count] = p
        out_b[count] = exact
        count += 1
    return count


def _empty_kernel(
    out_f: Any,
    out_i: Any,
    out_b: Any,
    nodes: Any,
    t: Any,
    rk: Any,
    v: int,
    k: int,
    cutoff: float,
    cst: float,
    old_over: float,
    nreal: int,
    n: int,
    node_f: Any,
    node_i: Any,
    T: Any,
    D: Any,
    clin_f: Any,
    clin_i: Any,
    w: Any,
) -> int:
    return 0


def problem_arrays(d: Any) -> tuple[Any, ...]:
    """The compiled problem as the kernel reads it (its arguments after `nreal`): n; per node
    (dur, open, close, lw) and (loc, partner, hard); travel time and distance matrices; per
    clinician (shift start, shift end) and (start location, end location); the weights of
    travel, lateness and overtime."""
    return (
        d.n,
        np.array([d.dur, d.open, d.close, d.lw], np.float64),
        np.array([d.loc, d.partner, [int(h) for h in d.hard]], np.int64),
        np.array(d.T, np.float64),
        np.array(d.D, np.float64),
        np.array([d.sstart, d.send], np.float64),
        np.array([d.cstart, d.cend], np.int64),
        np.array([d.w_travel, d.w_late, d.w_over], np.float64),
    )


def prologue(state: Any, v: int, k: int) -> tuple[float, float, int] | None:
    """State.scan's checks and constants: (const, old_over, nreal), or None (no place)."""
    d = state.d
    if not d.can[v][k] or state.nreal[k] >= d.maxv[k]:
        return None
    if d.any_capacity and state.load[k] + d.demand[v] > d.cap[k] + 1e-9:
        return None
    const = -d.w_unassigned
    if d.pref[v] >= 0 and d.pref[v] != k:
        const += d.w_cont
    send, nreal = d.send[k], state.nreal[k]
    old_over = state.ret[k] - send if nreal and state.ret[k] > send else 0.0
    return const, old_over, nreal


def as_places(out: tuple[Any, ...], count: int) -> list[tuple[float, float, int, float, bool]]:
    """The kernel's places as the list of (base, worst, position, travel, exact) State.scan
    returns (by columns: measured faster than by rows)."""
    f, i, b = out
    return list(
        zip(
            f[0, :count].tolist(),
            f[1, :count].tolist(),
            i[:count].tolist(),
            f[2, :count].tolist(),
            b[:count].tolist(),
            strict=True,
        )
    )


def buffer(state: Any) -> tuple[Any, ...]:
    """The kernel's output columns, with room for the places of any route of the plan."""
    size = max(len(r) for r in state.R) + 2
    return np.empty((3, size)), np.empty(size, np.int64), np.empty(size, np.bool_)


def kernel_scan(
    kernel: Callable[..., int],
    arrays: tuple[Any, ...],
    out: tuple[Any, ...],
    state: Any,
    v: int,
    k: int,
) -> list[tuple[float, float, int, float, bool]]:
    """What State.scan would be with the kernel: its prologue, the plan's lists as arrays, the
    result as a list of tuples (cutoff: none). `out`: from `buffer`."""
    head = prologue(state, v, k)
    if head is None:
        return []
    nodes, t, rk = state.R[k], state.t, state.rk
    count = kernel(
        *out,
        np.fromiter(nodes, np.int64, len(nodes)),
        np.fromiter(t, np.float64, len(t)),
        np.fromiter(rk, np.int64, len(rk)),
        v,
        k,
        math.inf,
        *head,
        *arrays,
    )
    return as_places(out, count)


def scan_plan(seed: int) -> tuple[Any, Any, list[tuple[int, int]]]:
    """Part B's plans: a first plan of the 300-patient instance with a few units taken out, as a
    pure-Python State and a C State (same routes, same times); and the (visit, route) pairs to
    scan: every visit taken out, in every route that may take it."""
    from careway.routing import feasibility
    from careway.routing.search.construct import construct
    from careway.routing.search.evaluate import State, compile_problem

    problem = _load(SCAN_SIZE)
    dc = compile_problem(problem, native=True)
    dp = compile_problem(problem, native=False)
    skip = {dc.unit_of[problem.visit_index[vid]] for vid in feasibility.unplaceable(problem)}
    rng = random.Random(seed)
    plan = construct(dc, skip, rng)
    singles = [u for u, unit in enumerate(dc.units) if len(unit) == 1 and u not in skip]
    pairs = [u for u, unit in enumerate(dc.units) if len(unit) == 2 and u not in skip]
    out = [v for u in rng.sample(singles, 12) + rng.sample(pairs, 6) for v in dc.units[u]]
    states = []
    for d in (dp, dc):
        s = State(d)
        s.R = [list(r) for r in plan.R]
        s.rk = list(plan.rk)
        s.remove(out)
        if not s.schedule():
            raise RuntimeError("the plan has no schedule once the units are out")
        states.append(s)
    pure, c = states
    if pure.t != c.t or pure.d.has_pins:
        raise RuntimeError("the pure and C plans differ (or the instance has pinned places)")
    cases = [(v, k) for v in out for k in dc.able[v] if prologue(c, v, k) is not None]
    return pure, c, cases


def per_call(
    variants: list[tuple[str, Callable[[], object], str]], calls: int, rounds: int
) -> list[dict[str, Any]]:
    """Nanoseconds a call of each variant (name, a pass of `calls` calls, note): each timed
    over >= 0.2 s, in `rounds` alternating rounds (every variant once a round), so that a
    shared machine's ups and downs weigh on all alike; the median and the best round."""
    timers = [timeit.Timer(one_pass) for _, one_pass, _ in variants]
    numbers = [timer.autorange()[0] for timer in timers]
    times: list[list[float]] = [[] for _ in variants]
    for _ in range(rounds):
        for timer, number, got in zip(timers, numbers, times, strict=True):
            got.append(timer.timeit(number) / (number * calls) * 1e9)
    return [
        {
            "variant": name,
            "note": note,
            "ns_median": statistics.median(got),
            "ns_best": min(got),
            "calls_a_round": number * calls,
            "ns_rounds": got,
        }
        for (name, _, note), number, got in zip(variants, numbers, times, strict=True)
    ]


def part_b(seed: int, rounds: int) -> dict[str, Any]:
    from careway.routing.search import evaluate

    if evaluate._native is None:
        sys.exit("the C loops are not built: pip install -e . (or setup.py build_ext --inplace)")
    native = evaluate._native
    pure, c, cases = scan_plan(seed)
    lengths = [len(c.R[k]) for _, k in cases]
    print(
        f"\n{len(cases)} scans (visit, route) on {instance_name(SCAN_SIZE, 1)}: "
        f"routes of {min(lengths)} to {max(lengths)} nodes, "
        f"{statistics.fmean(lengths):.1f} on average"
    )
    reference = []
    for v, k in cases:
        pure.frames[k] = None
        reference.append(pure.scan(v, k))
    places = sum(len(r) for r in reference)
    if [c.scan(v, k) for v, k in cases] != reference:
        raise RuntimeError("the C scan differs from the reference")
    print(f"{places} places in all; C's scan gives the same places and costs, to the last bit")
    c_args = []
    for v, k in cases:
        head = prologue(c, v, k)
        assert head is not None
        c_args.append((c.d.native, c.R[k], c.t, c.rk, v, k, math.inf, *head))
    routes_of: dict[int, list[int]] = {}
    for v, k in cases:
        routes_of.setdefault(v, []).append(k)
    singles_args = [
        (c.d.native, c.R, c.t, c.rk, c.nreal, c.ret, c.load, v, ks, math.inf, c.late_max)
        for v, ks in routes_of.items()
    ]
    want = sorted(
        (v, k, p, b, w) for (v, k), r in zip(cases, reference, strict=True) for b, w, p, *_ in r
    )
    got = sorted(
        (a[7], k, p, b, w) for a in singles_args for _, _, k, p, b, w, _ in native.singles(*a)
    )
    if got != want:
        raise RuntimeError("the C singles differ from the reference")

    def pure_cached() -> None:
        for v, k in cases:
            pure.scan(v, k)

    def pure_rebuilt() -> None:
        frames = pure.frames
        for v, k in cases:
            frames[k] = None
            pure.scan(v, k)

    def c_method() -> None:
        for v, k in cases:
            c.scan(v, k)

    def c_direct() -> None:
        scan = native.scan
        for a in c_args:
            scan(*a)

    def c_singles() -> None:
        singles = native.singles
        for a in singles_args:
            singles(*a)

    def loop_only() -> None:
        for _ in c_args:
            pass

    variants: list[tuple[str, Callable[[], object], str]] = []

    def row(name: str, one_pass: Callable[[], object], note: str = "") -> None:
        variants.append((name, one_pass, note))

    row("the loop over the cases alone (overhead in every row)", loop_only)
    row("pure Python: State.scan, route frame cached", pure_cached)
    row("pure Python: State.scan, route frame rebuilt each call", pure_rebuilt)
    row("C: State.scan (the method: its Python prologue + C)", c_method)
    row("C: _native.scan alone (lists in, list of tuples out)", c_direct)
    row(
        "C: _native.singles, every route of a visit in one call",
        c_singles,
        "per route scanned (the C search's repair calls this, sorted, not scan)",
    )

    numba_info: dict[str, Any] = {}
    try:
        import numba
    except ImportError:
        print(
            "\n  numba rows skipped: numba is not installed here (it is not a dependency of "
            "Careway; pip install numba in a separate venv to measure them)"
        )
        numba_info = {"skipped": "numba is not installed"}
    else:
        numba_info = numba_rows(numba, pure, c, cases, reference, row)
    print(f"\ntimed in {rounds} alternating rounds; ns a call, median (best round)")
    rows = per_call(variants, len(cases), rounds)
    for r in rows:
        print(f"  {r['variant']:62} {r['ns_median']:8.0f} ns ({r['ns_best']:.0f})")
    by_name = {r["variant"]: r["ns_median"] for r in rows}
    return {
        "instance": instance_name(SCAN_SIZE, 1),
        "cases": len(cases),
        "places": places,
        "route_nodes_mean": statistics.fmean(lengths),
        "rows": rows,
        "numba": numba_info,
        "pure_over_c": by_name["pure Python: State.scan, route frame cached"]
        / by_name["C: State.scan (the method: its Python prologue + C)"],
    }


def numba_rows(
    numba: Any,
    pure: Any,
    c: Any,
    cases: list[tuple[int, int]],
    reference: list[Any],
    row: Callable[..., None],
) -> dict[str, Any]:
    arrays = problem_arrays(c.d)
    out = buffer(c)
    for (v, k), want in zip(cases, reference, strict=True):  # the port itself, uncompiled
        if kernel_scan(_scan_kernel, arrays, out, pure, v, k) != want:
            raise RuntimeError(f"the Python kernel differs from the reference at {(v, k)}")
    kernel = numba.njit(_scan_kernel)
    empty = numba.njit(_empty_kernel)
    v0, k0 = cases[0]
    began = time.perf_counter()
    kernel_scan(kernel, arrays, out, c, v0, k0)
    compile_seconds = time.perf_counter() - began
    for (v, k), want in zip(cases, reference, strict=True):
        if kernel_scan(kernel, arrays, out, c, v, k) != want:
            raise RuntimeError(f"the numba scan differs from the reference at {(v, k)}")
    print(
        f"  (numba {numba.__version__}: compiled on the first call in {compile_seconds:.2f} s; "
        "same places and costs as the reference, to the last bit)"
    )
    t_list, rk_list = c.t, c.rk
    t_arr = np.fromiter(t_list, np.float64, len(t_list))
    rk_arr = np.fromiter(rk_list, np.int64, len(rk_list))
    # per case: the route as the list the plan keeps, and the arguments after the node routes
    given = []
    for v, k in cases:
        head = prologue(c, v, k)
        assert head is not None
        nodes = c.R[k]
        given.append((nodes, (v, k, math.inf, *head, *arrays)))
    # every argument as an array already
    prebuilt = [(*out, np.array(nodes, np.int64), t_arr, rk_arr, *rest) for nodes, rest in given]
    empty(*prebuilt[0])

    def dispatch() -> None:
        for a in prebuilt:
            empty(*a)

    def kernel_alone() -> None:
        for a in prebuilt:
            kernel(*a)

    def kernel_tuples() -> None:
        for a in prebuilt:
            as_places(out, kernel(*a))

    def route_to_array() -> None:
        for nodes, rest in given:
            a = np.fromiter(nodes, np.int64, len(nodes))
            as_places(out, kernel(*out, a, t_arr, rk_arr, *rest))

    def lists_to_arrays() -> None:
        for nodes, rest in given:
            a = np.fromiter(nodes, np.int64, len(nodes))
            t = np.fromiter(t_list, np.float64, len(t_list))
            rk = np.fromiter(rk_list, np.int64, len(rk_list))
            as_places(out, kernel(*out, a, t, rk, *rest))

    def as_method() -> None:
        for v, k in cases:
            kernel_scan(kernel, arrays, out, c, v, k)

    row("numba: an empty @njit function, same 20 arguments", dispatch, "the call alone")
    row("numba: kernel alone (arrays in, count out)", kernel_alone, "places left in a buffer")
    row("numba: kernel + places as list of tuples", kernel_tuples)
    row(
        "numba: + route list -> array each call",
        route_to_array,
        "start times and node routes as arrays kept in step with the plan",
    )
    row("numba: + route, start times, node routes -> arrays each call", lists_to_arrays)
    row("numba: as State.scan would be (prologue, lists -> arrays)", as_method)
    return {"version": numba.__version__, "compile_seconds_in_process": compile_seconds}


# --- start-up: the C module's load, numba's import and compile, in fresh interpreters -----------


# Python run with -c in a fresh interpreter: the C module's load alone (its package, with no
# evaluate.py, imported first), and the whole engine's import (numpy and the C module included)
LOAD_C = """
import importlib.util, json, pathlib, time
import careway.routing.search as search
path = next(pathlib.Path(search.__path__[0]).glob("_native.*.so"))
began = time.perf_counter()
spec = importlib.util.spec_from_file_location("careway.routing.search._native", path)
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps({"ms": (time.perf_counter() - began) * 1e3}))
"""
IMPORT_ENGINE = """
import json, time
began = time.perf_counter()
import careway.routing.search.lns
print(json.dumps({"ms": (time.perf_counter() - began) * 1e3}))
"""


def probe(what: str) -> dict[str, float]:
    """numba's import and first call (compile, or with `numba-cache` load from the cache), in
    a fresh interpreter (--probe WHAT) where Careway, numpy with it, is already loaded, as in
    the CLI or the web app; prints what it measured as JSON."""
    from careway.routing.search.evaluate import State, compile_problem

    d = compile_problem(_load(25), native=False)
    state = State(d)
    arrays = problem_arrays(d)
    out = buffer(state)
    began = time.perf_counter()
    import numba

    imported = time.perf_counter()
    kernel = numba.njit(cache=what == "numba-cache")(_scan_kernel)
    kernel_scan(kernel, arrays, out, state, 0, d.able[0][0])
    called = time.perf_counter()
    return {"import_ms": (imported - began) * 1e3, "first_call_ms": (called - imported) * 1e3}


def startup() -> dict[str, Any]:
    def fresh(args: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
        done = subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    out: dict[str, Any] = {}
    out["c_module_load_ms"] = statistics.median(fresh(["-c", LOAD_C])["ms"] for _ in range(PROBES))
    out["engine_import_ms"] = statistics.median(
        fresh(["-c", IMPORT_ENGINE])["ms"] for _ in range(PROBES)
    )
    try:
        import numba  # noqa: F401
    except ImportError:
        out["numba"] = "skipped: numba is not installed"
        return out
    script = [__file__, "--probe"]
    cold = [fresh([*script, "numba"]) for _ in range(PROBES)]
    out["numba_import_ms"] = statistics.median(x["import_ms"] for x in cold)
    out["numba_compile_first_call_ms"] = statistics.median(x["first_call_ms"] for x in cold)
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        fresh([*script, "numba-cache"], env)  # compiles and writes the cache
        cached = [fresh([*script, "numba-cache"], env) for _ in range(PROBES)]
    out["numba_cached_import_ms"] = statistics.median(x["import_ms"] for x in cached)
    out["numba_cached_first_call_ms"] = statistics.median(x["first_call_ms"] for x in cached)
    return out


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "machine": f"{os.cpu_count()} cores, {model or platform.processor()}, "
        f"{platform.machine()}, {platform.platform()}",
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25,100,200,300")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=4.0, help="aimed length of a pure run")
    parser.add_argument("--iterations", type=int, default=None, help="N for every size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scan-rounds", type=int, default=7, help="part B's rounds")
    parser.add_argument("--part", default="AB", choices=["A", "B", "AB"])
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe)))
        return
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: the instances come with ../shared/data")
    from careway.routing.search import evaluate

    if evaluate._native is None:
        sys.exit("the C loops are not built: pip install -e . (or setup.py build_ext --inplace)")
    saved = os.environ.get("CAREWAY_ROUTING_PURE")
    load_before = os.getloadavg()
    began = time.perf_counter()
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **machine(),
        "c_module": evaluate._native.__file__,
    }
    try:
        if "A" in args.part:
            print("Part A: iterations a second, pure Python against C (alternating rounds)")
            sizes = [int(s) for s in args.sizes.split(",")]
            result["iterations_per_second"] = part_a(
                sizes, args.rounds, args.seconds, args.iterations, args.seed
            )
        if "B" in args.part:
            print("\nPart B: one State.scan")
            result["scan"] = part_b(args.seed, args.scan_rounds)
            print("\nStart-up, fresh interpreters (median of 3)")
            result["startup"] = start = startup()
            for key, value in start.items():
                print(f"  {key:34} {value if isinstance(value, str) else f'{value:.2f}'}")
    finally:
        if saved is None:
            os.environ.pop("CAREWAY_ROUTING_PURE", None)
        else:
            os.environ["CAREWAY_ROUTING_PURE"] = saved
    result["load_average_before"] = [round(x, 2) for x in load_before]
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = round(time.perf_counter() - began, 1)
    stamp = f"{datetime.now(UTC):%Y-%m-%d-%H%M}"
    out = ROOT / "benchmarks" / "results" / f"routing-evaluator-{stamp}.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"\n{out.relative_to(ROOT)} ({result['seconds']} s)")


if __name__ == "__main__":
    main()

"""The search on several processes: different seeds, the best plan shared at fixed counts.

Each process runs its own search (lns.Search) with its own seed: process 0 the seed given (so
one process is the plain search), process p a seed derived from it and p. They run in steps of
`sync` iterations; after each step the parent takes the best plan of all (the lowest cost, the
lowest process number on a tie) and hands it to every process whose own best is worse, which
goes on from it. The steps are counted in iterations, never read off the clock, so a run bounded
by `iterations` gives the same plan for the same seed and number of processes, on any machine.
A run bounded by time stops every process at the time limit, wherever it is.

The processes are forked where the platform can (Linux), else spawned; each compiles the
problem itself. The parent answers `on_progress` at each step with the best so far.
"""

import multiprocessing
import time
from multiprocessing.connection import Connection
from typing import Any

from ..model import Problem, Solution
from .evaluate import native_available
from .lns import DEFAULTS, Progress, Search, cycle_length


def seed_for(seed: int, process: int) -> int | str:
    """Process 0 runs `seed` itself; the others a seed made from it and their number."""
    return seed if process == 0 else f"{seed}/{process}"


def sync_every(
    problem: Problem, seconds: float, iterations: int | None, cfg: dict[str, Any]
) -> int:
    """Iterations between two shares of the best plan: a fifth of a cooling cycle, at least 50
    (a function of the problem and the limits only, never of the machine's speed)."""
    if cfg.get("sync"):
        return max(1, int(cfg["sync"]))
    n = len(problem.visits)
    plan = iterations or cycle_length(n, seconds, cfg, native_available())
    return max(50, plan // 5)


def _worker(
    conn: Connection,
    problem: Problem,
    seconds: float,
    seed: int | str,
    initial: Solution | None,
    iterations: int | None,
    began_offset: float,
    params: dict[str, Any],
) -> None:
    """One process: build its search, then answer ("run", until) with its best after running,
    ("adopt", routes) by taking that plan, ("result",) with its plan as a Solution, and ("stop",)
    by leaving."""
    began = time.perf_counter() - began_offset
    search = Search(
        problem, seconds, seed, None, initial, iterations=iterations, began=began, **params
    )
    while True:
        message = conn.recv()
        if message[0] == "run":
            ended = search.run(message[1])
            best = search.best
            conn.send((search.best_cost, search.best_routes(), ended, best.objective()))
        elif message[0] == "adopt":
            search.adopt(message[1])
        elif message[0] == "result":
            conn.send((search.result(), search.stats()))
        else:
            conn.close()
            return


def solve_parallel(
    problem: Problem,
    seconds: float,
    seed: int = 0,
    on_progress: Progress | None = None,
    initial: Solution | None = None,
    *,
    iterations: int | None = None,
    stats: dict[str, Any] | None = None,
    processes: int = 2,
    **params: Any,
) -> Solution:
    """lns.solve on `processes` processes (see the module doc)."""
    began = time.perf_counter()
    cfg = {**DEFAULTS, **params}
    step = sync_every(problem, seconds, iterations, cfg)
    params = {k: v for k, v in params.items() if k != "sync"}
    methods = multiprocessing.get_all_start_methods()
    context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pipes = []
    workers = []
    try:
        for p in range(processes):
            parent, child = context.Pipe()
            worker = context.Process(
                target=_worker,
                args=(
                    child,
                    problem,
                    seconds,
                    seed_for(seed, p),
                    initial,
                    iterations,
                    time.perf_counter() - began,
                    params,
                ),
                daemon=True,
            )
            worker.start()
            child.close()
            pipes.append(parent)
            workers.append(worker)
        best_cost = float("inf")
        until = 0
        shares = 0
        running = list(range(processes))
        while running:
            until += step
            for p in running:
                pipes[p].send(("run", until))
            replies = {p: pipes[p].recv() for p in running}
            # the best of all: lowest cost, then lowest process number
            p_best = min(replies, key=lambda p: (replies[p][0], p))
            cost, routes = replies[p_best][0], replies[p_best][1]
            if cost < best_cost - 1e-9:
                best_cost = cost
                if on_progress is not None:
                    on_progress(time.perf_counter() - began, replies[p_best][3])
            running = [p for p in running if not replies[p][2]]
            for p in running:
                if replies[p][0] > cost + 1e-9:
                    pipes[p].send(("adopt", routes))
                    shares += 1
        # every process has ended: the best plan, from the process that holds it
        results = []
        for p in range(processes):
            pipes[p].send(("result",))
            results.append(pipes[p].recv())
        for p in range(processes):
            pipes[p].send(("stop",))
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():  # pragma: no cover - a worker that does not answer
                worker.kill()
    costs = [r[1]["best"] for r in results]
    winner = min(range(processes), key=lambda p: (costs[p], p))
    if stats is not None:
        stats.update(results[winner][1])
        stats["iterations"] = sum(r[1]["iterations"] for r in results)
        stats["per_process"] = [r[1]["iterations"] for r in results]
        stats["processes"] = processes
        stats["sync"] = step
        stats["shares"] = shares
        stats["bests"] = costs
    return results[winner][0]

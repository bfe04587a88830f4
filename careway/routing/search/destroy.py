"""Destroy: choose visits to take out of the plan, a linked pair always together.

Each operator returns units (model: a single visit, or a linked pair) to remove, about `q` of
them, chosen with the search's random generator only (deterministic for a seed):

- `random_units`: any units;
- `worst`: the units that cost most where they are (the travel saved by removing them plus
  their weighted lateness), with a random bias so the same ones are not always chosen;
- `related`: Shaw removal, a random visit and the visits most like it by place and start time;
- `strings`: removal of strings of consecutive visits from the routes around a random visit
  (the SISR ruin of Christiaens and Vanden Berghe, 2020);
- `routes`: every unit of one or two whole routes (near each other);
- `time_slice`: the units whose start is closest to a random moment of the day.

Visits with a pinned position, and the visits before them in their route, are never removed:
removing them would move a pinned visit out of place.
"""

import random
from collections.abc import Callable

import numpy as np

from .evaluate import Data, State, _native


class Context:
    """What the operators precompute for a problem: for each visit, the others by distance."""

    def __init__(self, d: Data):
        self.d = d
        n = d.n
        loc = d.loc
        matrix = np.asarray(d.problem.distance, dtype=float)  # d.D, as an array
        # the other visits, nearest first (both ways), ties by index (a stable sort)
        at = np.asarray(loc[:n], dtype=int)
        both = matrix[np.ix_(at, at)]
        both = both + both.T
        np.fill_diagonal(both, np.inf)
        order = np.argsort(both, axis=1, kind="stable")[:, : max(0, n - 1)]
        self.near: list[list[int]] = order.tolist()
        finite = matrix[np.isfinite(matrix)]
        self.scale_d = float(finite.max()) if finite.size else 1.0
        spans = [d.open[v] for v in range(n)] + [
            d.close[v] for v in range(n) if d.close[v] < float("inf")
        ]
        self.scale_t = (max(spans) - min(spans)) if spans else 1.0
        self.scale_d = self.scale_d or 1.0
        self.scale_t = self.scale_t or 1.0


def movable(state: State) -> list[int]:
    """The units whose visits are all placed and not frozen by a pinned position."""
    d = state.d
    rk = state.rk
    if not d.has_pins:  # a unit is one visit or a pair (first and last)
        return [u for u, unit in enumerate(d.units) if rk[unit[0]] >= 0 and rk[unit[-1]] >= 0]
    frozen = _frozen(state)
    out = []
    for u, unit in enumerate(d.units):
        if all(state.rk[v] >= 0 and v not in frozen for v in unit):
            out.append(u)
    return out


def _frozen(state: State) -> set[int]:
    d = state.d
    n = d.n
    out: set[int] = set()
    for nodes in state.R:
        real = [x for x in nodes if x < n]
        last = max((i for i, x in enumerate(real) if d.pin_pos[x] >= 0), default=-1)
        out.update(real[: last + 1])
    return out


def random_units(state: State, rng: random.Random, q: int, ctx: Context) -> list[int]:
    units = movable(state)
    rng.shuffle(units)
    return units[:q]


def _costs(state: State) -> list[float]:
    """What each placed visit costs where it is: the travel its removal saves, plus its
    lateness, continuity and stability (one walk of each route)."""
    d = state.d
    late_max = state.late_max - 1e-9
    if d.native is not None:  # the same walk in C
        return _native.costs(d.native, state.R, state.t, state.nreal, late_max)  # type: ignore[no-any-return]
    n, loc, D, close, t = d.n, d.loc, d.D, d.close, state.t
    wt, wl, wm = d.w_travel, d.w_late, d.w_max
    out = [0.0] * n
    for k, nodes in enumerate(state.R):
        real = [x for x in nodes if x < n]
        last = len(real) - 1
        shared = state.nreal[k] > 1
        a = d.cstart[k]
        for i, v in enumerate(real):
            lv = loc[v]
            b = loc[real[i + 1]] if i < last else d.cend[k]
            saved = D[a][lv] + D[lv][b] - (D[a][b] if shared else 0.0)
            late = t[v] - close[v]
            cost = wt * saved
            if late > 0:
                cost += wl * late + wm * late * (late >= late_max)
            if d.pref[v] >= 0 and d.pref[v] != k:
                cost += d.w_cont
            if d.prev[v] >= 0 and d.prev[v] != k:
                cost += d.w_stab
            out[v] = cost
            a = lv
    return out


def worst(state: State, rng: random.Random, q: int, ctx: Context) -> list[int]:
    units = movable(state)
    cost = _costs(state)
    scored = sorted(((sum(cost[v] for v in state.d.units[u]), u) for u in units), reverse=True)
    chosen: list[int] = []
    while scored and len(chosen) < q:
        i = int(len(scored) * rng.random() ** 4)
        chosen.append(scored.pop(i)[1])
    return chosen


def related(state: State, rng: random.Random, q: int, ctx: Context) -> list[int]:
    units = movable(state)
    if not units:
        return []
    d = state.d
    seed = rng.choice(units)
    sv = d.units[seed][0]
    D, loc, t = d.D, d.loc, state.t
    ls, ts = loc[sv], t[sv]

    def relatedness(u: int) -> float:
        v = d.units[u][0]
        return D[ls][loc[v]] / ctx.scale_d + abs(t[v] - ts) / ctx.scale_t

    scored = sorted((relatedness(u), u) for u in units if u != seed)
    chosen = [seed]
    while scored and len(chosen) < q:
        i = int(len(scored) * rng.random() ** 6)
        chosen.append(scored.pop(i)[1])
    return chosen


def time_slice(state: State, rng: random.Random, q: int, ctx: Context) -> list[int]:
    units = movable(state)
    if not units:
        return []
    d = state.d
    moment = state.t[d.units[rng.choice(units)][0]]
    scored = sorted((abs(state.t[d.units[u][0]] - moment), u) for u in units)
    return [u for _, u in scored[:q]]


def routes(state: State, rng: random.Random, q: int, ctx: Context) -> list[int]:
    units = set(movable(state))
    if not units:
        return []
    d = state.d
    busy = [k for k in range(d.m) if state.nreal[k]]
    k0 = rng.choice(busy)
    chosen: list[int] = []
    seen: set[int] = set()
    # routes in the order they come near the first route's visits
    order = [k0]
    first = [x for x in state.R[k0] if x < d.n]
    if first:
        for u in ctx.near[rng.choice(first)]:
            k = state.rk[u]
            if k >= 0 and k not in order:
                order.append(k)
    for k in order:
        for x in state.R[k]:
            if x < d.n:
                u = d.unit_of[x]
                if u in units and u not in seen:
                    seen.add(u)
                    chosen.append(u)
        if len(chosen) >= q:
            break
    return chosen


def strings(state: State, rng: random.Random, q: int, ctx: Context) -> list[int]:
    """SISR: strings of consecutive visits in routes near a seed visit."""
    units = set(movable(state))
    if not units:
        return []
    d = state.d
    n = d.n
    seed_unit = rng.choice(sorted(units))
    sv = d.units[seed_unit][0]
    busy = [k for k in range(d.m) if state.nreal[k]]
    avg = max(1.0, (d.n - state.unassigned) / max(1, len(busy)))
    l_max = min(10.0, avg)
    k_s = max(1, int(4 * q / (1 + l_max) / 2 * rng.random()) + 1)
    chosen: list[int] = []
    seen: set[int] = set()
    done_routes: set[int] = set()
    for v in [sv, *ctx.near[sv]]:
        if len(done_routes) >= k_s or len(chosen) >= q:
            break
        k = state.rk[v]
        if k < 0 or k in done_routes:
            continue
        done_routes.add(k)
        real = [x for x in state.R[k] if x < n]
        length = min(len(real), max(1, int(rng.random() * l_max) + 1))
        i = real.index(v)
        lo = max(0, min(i - rng.randrange(length), len(real) - length))
        for x in real[lo : lo + length]:
            u = d.unit_of[x]
            if u in units and u not in seen:
                seen.add(u)
                chosen.append(u)
    return chosen


Operator = Callable[[State, random.Random, int, Context], list[int]]

OPERATORS: dict[str, Operator] = {
    "random": random_units,
    "worst": worst,
    "related": related,
    "strings": strings,
    "routes": routes,
    "time": time_slice,
}

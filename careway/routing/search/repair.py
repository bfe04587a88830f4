"""Repair: put removed visits back, a linked pair always as one unit.

`best_place` finds the cheapest place for a unit in the current plan:
- a single visit: every position of every route that may take it (`State.scan`), skipping
  places whose extra travel alone already costs more than the best found;
- a linked pair: the best pair of positions, across two routes (a simultaneous pair: two
  clinicians) or in one route in order (an ordered pair made by one clinician). Pairs are
  searched branch and bound: each visit's cost alone at each place is a lower bound on its share
  (inserting more visits and a link can only raise the least fixed point of the times), so
  bound(a at x, b at y) = max(cost(a at x) + travel(b at y), cost(b at y) + travel(a at x)),
  and combinations are evaluated exactly (`State.trial`) in increasing bound until the bound
  passes the best found. Exact, and a few dozen trials where all combinations would be
  thousands.

`greedy` inserts units one at a time in a given order at their best place, skipping each
candidate place with a small probability ("blinks", Christiaens and Vanden Berghe 2020) to
vary the result; `regret` inserts at each step the unit whose best place beats its
second-best (in another route) by the most.
"""

import heapq
import operator
import random
import time
from collections.abc import Sequence
from typing import Any

from .evaluate import INF, Delta, State, _native

Place = tuple[float, Delta]
BASE = operator.itemgetter(4)  # a place's base cost in _singles' tuples


def _routes(state: State, v: int, avoid: frozenset[int]) -> list[int]:
    """The clinicians who may make v, less those in `avoid`."""
    able = state.d.able[v]
    return [k for k in able if k not in avoid] if avoid else able


def _plan(state: State) -> tuple[list[Any], ...]:
    """The plan's lists the C loops read in place: routes, times, each node's route, each
    route's visit count, return time and load."""
    return state.R, state.t, state.rk, state.nreal, state.ret, state.load


def _draw(rng: random.Random | None, blink: float) -> Any:
    """What the C loops draw their blinks with: the search's own generator, or None."""
    return rng.random if blink and rng is not None else None


def best_place(
    state: State,
    unit: tuple[int, ...],
    rng: random.Random | None = None,
    blink: float = 0.0,
    avoid: frozenset[int] = frozenset(),
) -> Place | None:
    """The cheapest place for `unit` (cost against the current plan, and the trial to commit),
    or None when no place keeps every hard rule. Routes in `avoid` are used only when no other
    route can take the unit."""
    if len(unit) == 1:
        place = _best_single(state, unit[0], rng, blink, avoid)
    else:
        place = _best_pair(state, unit[0], unit[1], rng, blink, avoid)
    if place is None and avoid:
        return best_place(state, unit, rng, blink)
    return place


def _best_single(
    state: State, v: int, rng: random.Random | None, blink: float, avoid: frozenset[int]
) -> Place | None:
    d = state.d
    best_delta: Delta | None = None
    if d.native is not None and not d.has_pins:  # the same loop in C, the same draws; a
        # visit with no partner has its pending places tried there too
        best, wk, wp, pending = _native.best_single(
            d.native,
            *_plan(state),
            state.rdist,
            v,
            _routes(state, v, avoid),
            state.late_max,
            _draw(rng, blink),
            blink,
            d.partner[v] < 0,
        )
        where = (wk, wp) if wk >= 0 else None
    else:
        best, where, pending = _scan_single(state, v, rng, blink, avoid)
    pending.sort()
    for bound, k, p in pending:
        if bound >= best:
            break
        delta = state.trial([(v, k, p)])
        if delta is not None:
            cost = delta.cost(state)
            if cost < best:
                best, best_delta, where = cost, delta, None
    if where is not None:
        best_delta = state.trial([(v, where[0], where[1])])
    if best_delta is None:
        return None
    return best_delta.cost(state), best_delta


def _scan_single(
    state: State, v: int, rng: random.Random | None, blink: float, avoid: frozenset[int]
) -> tuple[float, tuple[int, int] | None, list[tuple[float, int, int]]]:
    """Every place of v: the best exact cost and its place, and the places whose cost is only
    a lower bound under it (to confirm with a trial). Each route is scanned with the best
    found so far as its cutoff (none with pinned places: a pin's change is not in the travel);
    each place is skipped with probability `blink`."""
    d = state.d
    cur_max = state.late_max
    w_max = d.w_max
    best = INF
    use_cutoff = not d.has_pins
    pending: list[tuple[float, int, int]] = []
    where: tuple[int, int] | None = None
    for k in d.able[v]:
        if k in avoid:
            continue
        for base, worst, p, _, exact in state.scan(v, k, best if use_cutoff else INF):
            if blink and rng is not None and rng.random() < blink:
                continue
            cost = base + (w_max * (worst - cur_max) if worst > cur_max else 0.0)
            if cost >= best:
                continue
            if exact:
                best, where = cost, (k, p)
            else:
                pending.append((cost, k, p))
    return best, where, pending


def _singles(
    state: State, v: int, avoid: frozenset[int], cutoff: float = INF
) -> list[tuple[float, float, int, int, float, float, float]]:
    """(lower bound of its cost alone, lower bound of its share in a pair, clinician,
    position, base, worst, its share when its partner goes in the same gap) for every place:
    see `State.scan`. In one gap the pair's extra travel is that of one of them alone at
    least (the triangle inequality), so the other's share is its constant part alone (the
    credit for placing it, and continuity)."""
    d = state.d
    cur_max = state.late_max
    if d.native is not None and not d.has_pins:
        return _native.singles(  # type: ignore[no-any-return]
            d.native, *_plan(state), v, _routes(state, v, avoid), cutoff, cur_max
        )
    w_max = d.w_max
    const = -d.w_unassigned
    out = []
    for k in d.able[v]:
        if k in avoid:
            continue
        c = const + (d.w_cont if d.pref[v] >= 0 and d.pref[v] != k else 0.0)
        if d.prev[v] >= 0 and d.prev[v] != k:
            c += d.w_stab
        for base, worst, p, tr, _ in state.scan(v, k, cutoff):
            cost = base + (w_max * (worst - cur_max) if worst > cur_max else 0.0)
            out.append((cost, tr + c, k, p, base, worst, c))
    out.sort()
    return out


def _best_pair(
    state: State,
    a: int,
    b: int,
    rng: random.Random | None,
    blink: float,
    avoid: frozenset[int],
) -> Place | None:
    d = state.d
    simultaneous = d.simultaneous[a]
    best = INF
    best_delta: Delta | None = None
    tried: set[tuple[int, int, int, int]] = set()

    def evaluate(ka: int, pa: int, kb: int, pb: int) -> None:
        nonlocal best, best_delta
        key = (ka, pa, kb, pb)
        if key in tried:
            return
        tried.add(key)
        if blink and rng is not None and rng.random() < blink:
            return
        delta = state.trial([(a, ka, pa), (b, kb, pb)])
        if delta is not None:
            cost = delta.cost(state)
            if cost < best:
                best, best_delta = cost, delta

    cur_max = state.late_max
    w_max = d.w_max

    def bound(a_place: tuple[float, ...], b_place: tuple[float, ...]) -> float:
        """A lower bound on the pair's cost, INF if the places do not go together."""
        ca, la, ka, pa, base_a, worst_a, sa = a_place
        cb, lb, kb, pb, base_b, worst_b, sb = b_place
        if ka == kb:
            if simultaneous or pa > pb:
                return INF
            if pa == pb:  # one gap, both visits: the travel is not additive
                return max(ca + sb, cb + sa)
            return ca + lb if ca + lb > cb + la else cb + la  # one route: pushes overlap
        # two routes: each visit's push along its own route is a disjoint part of the cost
        worst = worst_a if worst_a > worst_b else worst_b
        return base_a + base_b + (w_max * (worst - cur_max) if worst > cur_max else 0.0)

    # A first upper bound, cheaply: the combination whose estimates (travel and own
    # lateness, no push) are best, tried exactly. Then each visit's places are timed only
    # where their travel alone leaves room under it, given the other visit's least travel.
    found_a, found_b = _quick_best(state, a, avoid), _quick_best(state, b, avoid)
    if found_a is None or found_b is None:
        return None
    (low_a, qa), (low_b, qb) = found_a, found_b
    seed = min(
        (
            (x[0] + y[0], x, y)
            for x in qa[:4]
            for y in qb[:4]
            if x[2] != y[2] or (not simultaneous and x[3] <= y[3])
        ),
        default=None,
    )
    first = None if seed is None else (seed[1][2], seed[1][3], seed[2][2], seed[2][3])
    if d.native is not None and not d.has_pins and d.partner[a] == b:
        # the same search in C, the same trials and draws; the best place found is tried
        # again here for the Delta to commit
        found = _native.pair_search(
            d.native,
            *_plan(state),
            state.rdist,
            a,
            b,
            _routes(state, a, avoid),
            _routes(state, b, avoid),
            cur_max,
            low_a,
            low_b,
            simultaneous,
            first,
            _draw(rng, blink),
            blink,
        )
        if found is None:
            return None
        _, ka, pa, kb, pb = found
        delta = state.trial([(a, ka, pa), (b, kb, pb)])
        assert delta is not None
        return delta.cost(state), delta
    if first is not None:
        evaluate(*first)
    if not simultaneous:  # in one gap with its partner, a visit's share may be its credit
        low_a = min(low_a, -d.w_unassigned)
        low_b = min(low_b, -d.w_unassigned)
    A = _singles(state, a, avoid, best - low_b)
    B = _singles(state, b, avoid, best - low_a)
    if not A or not B:
        return None if best_delta is None else (best, best_delta)
    # Best first. Two routes: the bound is at least base_a + base_b, so combinations come
    # from a merge of both lists in order of that sum (heap `sums`), each with its bound into
    # heap `bounds`; one route (an ordered pair): all such combinations go in `bounds` first.
    # A combination is tried when its bound is the least of what is left, and the search
    # ends when that least bound reaches the best cost found.
    A_by = sorted(A, key=BASE)
    B_by = sorted(B, key=BASE)
    bounds: list[tuple[float, int, int, int, int]] = []
    if not simultaneous:  # an ordered pair may go to one route, the first visit first
        common = {x[2] for x in A} & {y[2] for y in B}
        for x in A:
            if x[2] in common:
                for y in B:
                    if y[2] == x[2]:
                        value = bound(x, y)
                        if value < best:
                            bounds.append((value, int(x[2]), int(x[3]), int(y[2]), int(y[3])))
        heapq.heapify(bounds)
    sums: list[tuple[float, int, int]] = [(A_by[0][4] + B_by[0][4], 0, 0)]
    n_a, n_b = len(A_by), len(B_by)
    while True:
        next_sum = sums[0][0] if sums else INF
        if bounds and bounds[0][0] <= next_sum:
            value, ka, pa, kb, pb = heapq.heappop(bounds)
            if value >= best:
                break
            evaluate(ka, pa, kb, pb)
            continue
        if next_sum >= best:
            break
        total, i, j = heapq.heappop(sums)
        if j == 0 and i + 1 < n_a:
            heapq.heappush(sums, (A_by[i + 1][4] + B_by[0][4], i + 1, 0))
        if j + 1 < n_b:
            heapq.heappush(sums, (A_by[i][4] + B_by[j + 1][4], i, j + 1))
        _, _, ka, pa, _, worst_a, _ = A_by[i]
        _, _, kb, pb, _, worst_b, _ = B_by[j]
        if ka == kb:
            continue
        worst = worst_a if worst_a > worst_b else worst_b
        if worst > cur_max:
            total += w_max * (worst - cur_max)
        if total < best:
            heapq.heappush(bounds, (total, int(ka), int(pa), int(kb), int(pb)))
    if best_delta is None:
        return None
    return best, best_delta


def _quick_best(
    state: State, v: int, avoid: frozenset[int], keep: int = 4
) -> tuple[float, list[tuple[float, float, int, int]]] | None:
    """State.quick over every route that may take v: (the least bound, the `keep` best
    (estimate, bound, clinician, position) in order), or None when no route may."""
    d = state.d
    routes = _routes(state, v, avoid)
    if d.native is not None:
        return _native.quick_best(  # type: ignore[no-any-return]
            d.native, state.R, state.t, state.nreal, state.load, v, routes, state.late_max, keep
        )
    q = [(e, lo, k, p) for k in routes for e, lo, p in state.quick(v, k)]
    if not q:
        return None
    q.sort()
    return min(x[1] for x in q), q[:keep]


def greedy(
    state: State,
    units: Sequence[tuple[int, ...]],
    rng: random.Random | None = None,
    blink: float = 0.0,
    avoid: frozenset[int] = frozenset(),
    deadline: float | None = None,
) -> list[tuple[int, ...]]:
    """Insert each unit, in the order given, at its best place (not in the routes in `avoid`
    unless no other route can take it); returns the units left out. Past `deadline` (a
    time.perf_counter() value) the units not yet placed are left out."""
    left: list[tuple[int, ...]] = []
    for i, unit in enumerate(units):
        if deadline is not None and time.perf_counter() > deadline:
            left.extend(units[i:])
            break
        place = best_place(state, unit, rng, blink, avoid)
        if place is None or place[0] >= 0.0:  # leaving it out costs less
            left.append(unit)
            continue
        state.insert(place[1])
    return left


def regret(
    state: State,
    units: Sequence[tuple[int, ...]],
    rng: random.Random | None = None,
    blink: float = 0.0,
    avoid: frozenset[int] = frozenset(),
    k: int = 2,
) -> list[tuple[int, ...]]:
    """Regret-k insertion: at each step the unit with the most to lose by waiting goes to its
    best place. A single visit's regret is what its 2nd .. k-th best routes cost more than its
    best route; a linked pair's, what its best place in two other routes costs more than its
    best (a pair as one unit, as everywhere). Costs are kept between steps and worked out again
    only where the last insertion changed a route the unit could use."""
    d = state.d
    w_max = d.w_max
    pending = list(units)
    left: list[tuple[int, ...]] = []
    single_cache: dict[tuple[int, int], list[tuple[float, float, int, float, bool]]] = {}
    pair_cache: dict[tuple[int, ...], tuple[float, float]] = {}
    while pending:
        chosen = -1
        chosen_key = (-INF, INF)
        late_max = state.late_max
        for i, unit in enumerate(pending):
            if len(unit) == 2:
                known = pair_cache.get(unit)
                if known is None:
                    known = pair_cache[unit] = _pair_regret(state, unit, avoid)
                first, regret_value = known
            else:
                v = unit[0]
                costs = []
                for r in [r for r in d.able[v] if r not in avoid] or d.able[v]:
                    entry = single_cache.get((v, r))
                    if entry is None:
                        entry = single_cache[v, r] = state.scan(v, r)
                    here = INF
                    for base, worst, _, _, _ in entry:
                        cost = base + (w_max * (worst - late_max) if worst > late_max else 0.0)
                        if cost < here:
                            here = cost
                    if here < INF:
                        costs.append(here)
                if not costs:
                    continue
                costs.sort()
                first = costs[0]
                regret_value = sum(
                    (costs[j] if j < len(costs) else INF) - first for j in range(1, k)
                )
            if first == INF:
                continue
            key = (regret_value, -first)
            if key > chosen_key:
                chosen, chosen_key = i, key
        if chosen < 0:
            left.extend(pending)
            break
        unit = pending.pop(chosen)
        place = best_place(state, unit, rng, blink, avoid)
        if place is None or place[0] >= 0.0:
            left.append(unit)
            continue
        delta = place[1]
        state.insert(delta)
        changed = set(delta.routes) | {state.rk[x] for x in delta.times}
        for key2 in [key2 for key2 in single_cache if key2[1] in changed]:
            del single_cache[key2]
        for key3 in [u for u in pair_cache if not changed.isdisjoint(d.able[u[0]] + d.able[u[1]])]:
            del pair_cache[key3]
    return left


def _pair_regret(state: State, unit: tuple[int, ...], avoid: frozenset[int]) -> tuple[float, float]:
    """A pair's best cost, and how much more its best place elsewhere costs (two other
    routes)."""
    a, b = unit
    best = _best_pair(state, a, b, None, 0.0, avoid)
    if best is None:
        best = _best_pair(state, a, b, None, 0.0, frozenset())
        if best is None:
            return INF, 0.0
    used = frozenset(best[1].routes)
    other = _best_pair(state, a, b, None, 0.0, avoid | used)
    return best[0], (other[0] if other is not None else INF) - best[0]

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
import random
from collections.abc import Sequence

from .evaluate import INF, Delta, State

Place = tuple[float, Delta]


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
    cur_max = state.late_max
    w_max = d.w_max
    best = INF
    best_delta: Delta | None = None
    use_cutoff = not d.has_pins
    pending: list[tuple[float, int, int]] = []  # lower bounds to confirm with a trial
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


def _singles(
    state: State, v: int, avoid: frozenset[int]
) -> list[tuple[float, float, int, int, float, float]]:
    """(lower bound of its cost alone, lower bound of its share in a pair, clinician,
    position, base, worst) for every place: see `State.scan`."""
    d = state.d
    cur_max = state.late_max
    w_max = d.w_max
    const = -d.w_unassigned
    out = []
    for k in d.able[v]:
        if k in avoid:
            continue
        c = const + (d.w_cont if d.pref[v] >= 0 and d.pref[v] != k else 0.0)
        for base, worst, p, tr, _ in state.scan(v, k):
            cost = base + (w_max * (worst - cur_max) if worst > cur_max else 0.0)
            out.append((cost, tr + c, k, p, base, worst))
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
    A = _singles(state, a, avoid)
    B = _singles(state, b, avoid)
    if not A or not B:
        return None
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
        ca, la, ka, pa, base_a, worst_a = a_place
        cb, lb, kb, pb, base_b, worst_b = b_place
        if ka == kb:
            if simultaneous or pa > pb:
                return INF
            if pa == pb:  # one gap, both visits: the travel is not additive
                return max(ca, cb) + min(la, lb)
            return ca + lb if ca + lb > cb + la else cb + la  # one route: pushes overlap
        # two routes: each visit's push along its own route is a disjoint part of the cost
        worst = worst_a if worst_a > worst_b else worst_b
        return base_a + base_b + (w_max * (worst - cur_max) if worst > cur_max else 0.0)

    # a first upper bound: the most promising combination of a few best places of each
    seeds = [(bound(x, y), x, y) for x in A[:6] for y in B[:6]]
    seeds = [s for s in seeds if s[0] < INF]
    if seeds:
        _, x, y = min(seeds, key=lambda s: s[0])
        evaluate(int(x[2]), int(x[3]), int(y[2]), int(y[3]))
    # Best first. Two routes: the bound is at least base_a + base_b, so combinations come
    # from a merge of both lists in order of that sum (heap `sums`), each with its bound into
    # heap `bounds`; one route (an ordered pair): all such combinations go in `bounds` first.
    # A combination is tried when its bound is the least of what is left, and the search
    # ends when that least bound reaches the best cost found.
    A_by = sorted(A, key=lambda x: x[4])
    B_by = sorted(B, key=lambda y: y[4])
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
        _, _, ka, pa, _, worst_a = A_by[i]
        _, _, kb, pb, _, worst_b = B_by[j]
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


def greedy(
    state: State,
    units: Sequence[tuple[int, ...]],
    rng: random.Random | None = None,
    blink: float = 0.0,
    avoid: frozenset[int] = frozenset(),
) -> list[tuple[int, ...]]:
    """Insert each unit, in the order given, at its best place (not in the routes in `avoid`
    unless no other route can take it); returns the units left out."""
    left = []
    for unit in units:
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
) -> list[tuple[int, ...]]:
    """Regret-2 insertion: linked pairs first (greedy, in the order given), then at each step
    the single visit whose best route beats its second-best route by the most (it has the
    most to lose by waiting), at its best place. A visit's cost in each route is kept between
    steps and worked out again only for the routes the last insertion changed."""
    d = state.d
    left = greedy(state, [u for u in units if len(u) == 2], rng, blink, avoid)
    pending = [u[0] for u in units if len(u) == 1]
    cache: dict[tuple[int, int], list[tuple[float, float, int, float, bool]]] = {}
    w_max = d.w_max
    while pending:
        chosen = -1
        chosen_key = (-INF, INF)
        late_max = state.late_max
        for i, v in enumerate(pending):
            routes = [k for k in d.able[v] if k not in avoid] or d.able[v]
            first = second = INF
            for k in routes:
                entry = cache.get((v, k))
                if entry is None:
                    entry = cache[v, k] = state.scan(v, k)
                here = INF
                for base, worst, _, _, _ in entry:
                    cost = base + (w_max * (worst - late_max) if worst > late_max else 0.0)
                    if cost < here:
                        here = cost
                if here < first:
                    first, second = here, first
                elif here < second:
                    second = here
            if first == INF:
                continue
            key = (second - first, -first)
            if key > chosen_key:
                chosen, chosen_key = i, key
        if chosen < 0:
            left.extend((v,) for v in pending)
            break
        v = pending.pop(chosen)
        place = best_place(state, (v,), rng, blink, avoid)
        if place is None or place[0] >= 0.0:
            left.append((v,))
            continue
        delta = place[1]
        state.insert(delta)
        assert delta.routes is not None and delta.times is not None
        changed = set(delta.routes) | {state.rk[x] for x in delta.times}
        for key2 in [key2 for key2 in cache if key2[1] in changed]:
            del cache[key2]
    return left

"""Pair-aware construction: a first plan built by inserting every unit (a visit, or a linked
pair as one) at its cheapest place, the hardest first.

Order: linked pairs first (they need two routes at once, or one route with a gap, and get
harder to fit as routes fill), then visits with few clinicians able to make them, then by
window opening; visits with a pinned position last, when their route has enough visits before
the pinned place. Each unit goes to its best place (repair.best_place: for a pair, the best
pair of positions across two routes, or in one route in order).
"""

import random

from . import repair
from .evaluate import Data, State


def order_units(d: Data, units: list[int], rng: random.Random | None = None) -> list[int]:
    """The construction order described in the module doc (ties broken at random)."""
    noise = {u: (rng.random() if rng is not None else 0.0) for u in units}

    def key(u: int) -> tuple[int, int, float, float]:
        unit = d.units[u]
        pinned = any(d.pin_pos[v] >= 0 for v in unit)
        able = min(len(d.able[v]) for v in unit)
        return (int(pinned), -len(unit), able, min(d.open[v] for v in unit) + noise[u])

    return sorted(units, key=key)


def construct(
    d: Data,
    skip: set[int] | None = None,
    rng: random.Random | None = None,
    deadline: float | None = None,
) -> State:
    """A plan with every unit placed that can be (units in `skip` are left out, and those not
    reached by `deadline`, a time.perf_counter() value, when the time is that short)."""
    state = State(d)
    units = [u for u in range(len(d.units)) if not (skip and u in skip)]
    repair.greedy(state, [d.units[u] for u in order_units(d, units, rng)], deadline=deadline)
    state.schedule()
    return state

"""The days of an order period's visits, spread across the days the patient can be seen.

An order of `3w1` asks three visits in its order week (the start date and the six days after
it), and three visits on Monday is not what a physician means: visits a few days apart are. So
`spread(count, start, end, open_days)` picks `count` of the open days of the period [start, end]
so that the shortest gap between two visits is as long as it can be, counting the gap from the
last visit round to the first one of the next period (the periods of an order repeat: Monday,
Wednesday and Friday of one week, then Monday again). Among the choices as good as that it
takes the most of the patient's preferred days, and then the earliest days.

With fewer open days than visits it takes every open day and says how many it could not place
(`short`): the scheduler flags the week as short of its order. Plain Python, no Django.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Spread:
    days: tuple[date, ...]  # in order
    short: int  # visits asked that found no open day


def spread(
    count: int,
    start: date,
    end: date,
    open_days: Iterable[date],
    preferred: Iterable[int] = (),
) -> Spread:
    """`count` days among `open_days` within [start, end]; `preferred` are weekdays (Monday 0)
    the patient prefers."""
    if count < 0:
        raise ValueError("count: a number of visits cannot be negative")
    if end < start:
        raise ValueError(f"end: {end} is before the start, {start}")
    length = (end - start).days + 1
    offsets = sorted({(d - start).days for d in open_days if start <= d <= end})
    liked = set(preferred)
    if count >= len(offsets):
        chosen = offsets
    elif count == 0:
        chosen = []
    else:
        chosen = _best(
            offsets, count, length, [(start + timedelta(o)).weekday() in liked for o in offsets]
        )
    return Spread(
        days=tuple(start + timedelta(days=o) for o in chosen),
        short=max(0, count - len(offsets)),
    )


def _best(offsets: list[int], count: int, length: int, liked: list[bool]) -> list[int]:
    """Indices into `offsets` made days: the choice of `count` whose shortest gap (the wrap
    included) is longest, then with the most liked days, then the earliest (the least sum of
    offsets, then the first in order). A dynamic program over (last chosen, how many) for each
    first choice, for the longest gap that works (tried from the longest down)."""
    n = len(offsets)
    for gap in range(length // count, 0, -1):
        best: tuple[int, int, list[int]] | None = None
        for first in range(n):
            got = _with_gap(offsets, liked, count, length, gap, first)
            if got is not None:
                key = (-got[0], got[1], got[2])
                if best is None or key < (-best[0], best[1], best[2]):
                    best = got
        if best is not None:
            return [offsets[i] for i in best[2]]
    raise AssertionError("a gap of one day always works")  # pragma: no cover


def _with_gap(
    offsets: list[int], liked: list[bool], count: int, length: int, gap: int, first: int
) -> tuple[int, int, list[int]] | None:
    """The best choice that starts at index `first` with every gap at least `gap`, wrap
    included: (liked days, sum of offsets, indices), or None."""
    n = len(offsets)
    # state[i] for choices ending at index i with k days: (liked, -sum, indices), best kept
    state: dict[int, tuple[int, int, list[int]]] = {
        first: (int(liked[first]), offsets[first], [first])
    }
    for _ in range(count - 1):
        following: dict[int, tuple[int, int, list[int]]] = {}
        for i, (score, total, picked) in state.items():
            for j in range(i + 1, n):
                if offsets[j] - offsets[i] < gap:
                    continue
                option = (score + int(liked[j]), total + offsets[j], [*picked, j])
                held = following.get(j)
                if held is None or (-option[0], option[1], option[2]) < (
                    -held[0],
                    held[1],
                    held[2],
                ):
                    following[j] = option
        state = following
        if not state:
            return None
    wrap_ok = [
        value for last, value in state.items() if offsets[first] + length - offsets[last] >= gap
    ]
    if not wrap_ok:
        return None
    return min(wrap_ok, key=lambda v: (-v[0], v[1], v[2]))

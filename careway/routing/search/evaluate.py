"""Fast evaluation of routes with linked visits: the search's view of a plan and its cost.

`Data` compiles a `Problem` into flat Python lists (indexing a list is several times faster
than indexing a numpy array one element at a time, and the search reads one element at a
time; numpy over a route's positions measured slower too, 3.5 us against 1.1 us for the
travel of 9 places, as routes are short). Every visit and every break is a *node*: visits are
0 .. n-1, the break of clinician k is n + k. A `State` holds one route per clinician (a list of
nodes; a clinician with a break always has its break node in the list, dropped on output when
the route has no visits), each node's start time and the objective's terms.

Times. A plan's times are the least fixed point of the difference constraints of the model
(validate.py lists them): each node starts at the maximum of its arrival, its window opening
and the bound its linked visit puts on it; a break starts when the clinician is free where
they are and its earliest start allows. The least fixed point is the earliest schedule, and
every term of the objective only grows with the times, so it is also the best schedule for
the routes. `State.schedule` works it out from scratch, Bellman-Ford style: each route timed
in order, then a work list of visits whose linked partner's bound rose, each route re-timed
from there until a start stops changing. A positive cycle (two simultaneous pairs made in
crossed orders) shows as a chain of rises longer than the number of nodes: no schedule.

Moves. The search evaluates insertions into a timed plan (a removal is followed by a full
`schedule`). Inserting adds constraints, so times can only rise: an insertion is evaluated by
pushing times forward from the new visit, along its route until a start no longer changes
(the waiting before it absorbed the push), and, when a pushed visit is linked, on to its
partner's route, and so on. (Two exceptions make the push an upper bound rather than exact:
a travel matrix without the triangle inequality, and a visit put in just before a break,
which moves the break to it. The push then keeps old times where the earliest would be
earlier; the plan stays valid and the full `schedule` after each iteration is exact.)

- `State.scan`: every place of one visit (its partner not placed) in one route, in a tight
  loop; a push that reaches a linked visit whose partner would have to move is not followed
  beyond it, so that place's cost is a lower bound, flagged, for `trial` to confirm.
- `State.trial`: the general evaluation, for any set of inserted visits (a pair into two
  routes, or into one route in order), following the push across routes with a work list.
  A rise that would come back to raise its own cause is a positive cycle: the move has no
  schedule (checked by walking the chain of causes, so the cycle is caught on its first lap).
- `State.insert` commits a trial; `State.quick` gives cheap estimates and bounds.

Costs. The objective is sum(weight * term) (model.Weights); a move's effect is returned as a
`Delta`: `base` (every term except the maximum lateness, which depends on the rest of the
plan) and `worst`, the largest lateness among the visits the move changed. Its cost against
the current plan is `base + w_max * max(0, worst - current max lateness)`; times only rise,
so that is exact. A pinned position out of place costs `weights.unassigned` (the search treats
it as a soft constraint; the final plan drops any visit still out of place, see lns.py).
"""

import math
import os
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..model import BREAK, ORDERED, SIMULTANEOUS, Problem, Route, Solution

try:  # the hot loops in C (_native.c), built by pip; this module is their reference
    from . import _native  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - only where the install had no C compiler
    _native = None

EPS = 1e-9  # a time must rise by more than this to count as a change
INF = math.inf


def native_available() -> bool:
    """Whether the C loops are built (and not turned off by CAREWAY_ROUTING_PURE=1)."""
    return _native is not None and os.environ.get("CAREWAY_ROUTING_PURE", "") in ("", "0")


def evaluator() -> str:
    """Which evaluation the search uses by default: "native" (C) or "python" (the reference)."""
    return "native" if native_available() else "python"


@dataclass
class Data:
    """A problem compiled for the search: lists indexed by node (visit 0..n-1, break n+k) and
    by clinician k."""

    problem: Problem
    n: int
    m: int
    loc: list[int]  # a break: -1 (it is taken where the clinician is)
    dur: list[float]
    open: list[float]  # a break: its earliest start
    close: list[float]  # a break: its latest start (hard)
    hard: list[bool]
    partner: list[int]  # the linked visit, -1 if none
    lw: list[float]  # start(node) >= start(partner) + lw[node]
    simultaneous: list[bool]
    first: list[bool]  # the first visit of its link (for ordered links)
    pref: list[int]  # the preferred clinician's index, -1 if none
    prev: list[int]  # re-planning: the clinician it had before, -1 if none
    pin_pos: list[int]  # the pinned place in the route, -1 if none
    demand: list[float]
    able: list[list[int]]  # for each visit, the clinicians who may make it
    can: list[list[bool]]  # can[v][k]
    cstart: list[int]
    cend: list[int]
    sstart: list[float]
    send: list[float]
    maxv: list[int]  # a large number when there is no limit
    cap: list[float]
    brk: list[int]  # the break node of clinician k, -1 if none
    T: list[list[float]]  # travel time
    D: list[list[float]]  # distance
    units: list[tuple[int, ...]]  # a single visit, or a linked pair (first, second)
    unit_of: list[int]
    w_travel: float
    w_late: float
    w_max: float
    w_cont: float
    w_stab: float
    w_over: float
    w_unassigned: float
    has_pins: bool
    any_capacity: bool
    native: Any = None  # the C loops' copy of these arrays (_native.compile), or None

    @property
    def nodes(self) -> int:
        return self.n + self.m


def _compile_native(d: "Data") -> Any:
    return _native.compile(
        d.n,
        d.m,
        d.loc,
        d.dur,
        d.open,
        d.close,
        [int(h) for h in d.hard],
        d.partner,
        d.lw,
        d.T,
        d.D,
        d.sstart,
        d.send,
        d.cstart,
        d.cend,
        d.pref,
        d.prev,
        d.pin_pos,
        d.demand,
        d.maxv,
        d.cap,
        (d.w_travel, d.w_late, d.w_max, d.w_cont, d.w_over, d.w_unassigned, d.w_stab),
    )


def compile_problem(problem: Problem, native: bool | None = None) -> Data:
    """The problem as the search's lists; `native` (default: when built) also hands them to the
    C loops, which the State then uses in place of the pure-Python reference."""
    n, m = len(problem.visits), len(problem.clinicians)
    N = n + m
    loc = [v.location for v in problem.visits] + [-1] * m
    dur = [float(v.duration) for v in problem.visits] + [0.0] * m
    opn = [float(v.window_open) for v in problem.visits] + [0.0] * m
    close = [float(v.window_close) for v in problem.visits] + [INF] * m
    hard = [bool(v.hard_close) for v in problem.visits] + [True] * m
    brk = [-1] * m
    for k, c in enumerate(problem.clinicians):
        if c.break_ is not None:
            node = n + k
            brk[k] = node
            dur[node] = float(c.break_.duration)
            opn[node] = float(c.break_.earliest)
            close[node] = float(c.break_.latest)
    partner = [-1] * N
    lw = [0.0] * N
    simultaneous = [False] * N
    first = [False] * N
    index = problem.visit_index
    for link in problem.links:
        a, b = index[link.first], index[link.second]
        partner[a], partner[b] = b, a
        first[a] = True
        if link.kind == SIMULTANEOUS:
            simultaneous[a] = simultaneous[b] = True
        elif link.kind == ORDERED:
            lw[b] = float(link.min_gap)  # second >= first + min_gap
            lw[a] = -float(link.max_gap)  # first >= second - max_gap
        else:  # pragma: no cover - the model rejects other kinds
            raise ValueError(f"unknown link kind {link.kind!r}")
    can = [
        [problem.can_make(c, v) and c.max_visits != 0 for c in problem.clinicians]
        for v in problem.visits
    ]
    able = [[k for k in range(m) if row[k]] for row in can]
    cidx = problem.clinician_index
    pref = [cidx.get(v.preferred, -1) if v.preferred is not None else -1 for v in problem.visits]
    prev = [cidx.get(v.previous, -1) if v.previous is not None else -1 for v in problem.visits]
    pin_pos = [v.pinned_position if v.pinned_position is not None else -1 for v in problem.visits]
    units: list[tuple[int, ...]] = []
    unit_of = [-1] * n
    for v in range(n):
        if unit_of[v] >= 0:
            continue
        p = partner[v]
        unit: tuple[int, ...] = (v,) if p < 0 else ((v, p) if first[v] else (p, v))
        for x in unit:
            unit_of[x] = len(units)
        units.append(unit)
    cl = problem.clinicians
    big = n + 1
    w = problem.weights
    data = Data(
        problem=problem,
        n=n,
        m=m,
        loc=loc,
        dur=dur,
        open=opn,
        close=close,
        hard=hard,
        partner=partner,
        lw=lw,
        simultaneous=simultaneous,
        first=first,
        pref=pref,
        prev=prev,
        pin_pos=pin_pos,
        demand=[float(v.demand) for v in problem.visits],
        able=able,
        can=can,
        cstart=[c.start for c in cl],
        cend=[c.end for c in cl],
        sstart=[float(c.shift_start) for c in cl],
        send=[float(c.shift_end) for c in cl],
        maxv=[c.max_visits if c.max_visits is not None else big for c in cl],
        cap=[float(c.capacity) if c.capacity is not None else INF for c in cl],
        brk=brk,
        T=np.asarray(problem.travel_time, dtype=float).tolist(),  # Python floats
        D=np.asarray(problem.distance, dtype=float).tolist(),
        units=units,
        unit_of=unit_of,
        w_travel=float(w.travel),
        w_late=float(w.total_lateness),
        w_max=float(w.max_lateness),
        w_cont=float(w.continuity),
        w_stab=float(w.reassigned),
        w_over=float(w.overtime),
        w_unassigned=float(w.unassigned),
        has_pins=any(p >= 0 for p in pin_pos),
        any_capacity=any(c.capacity is not None for c in cl),
    )
    if native_available() if native is None else native:
        if _native is None:
            raise RuntimeError("the routing search's C loops are not built (pip install -e .)")
        data.native = _compile_native(data)
    return data


@dataclass
class Delta:
    """The effect of inserting visits (`State.trial`): `base` is every term of the objective
    but the maximum lateness (weighted, summed); `worst` the largest lateness among the visits
    it changes; `times`, `routes` and `returns` (new start times, new routes, new times back at
    the end location) are what `State.insert` applies."""

    base: float
    worst: float
    inserts: list[tuple[int, int, int]]  # (visit, clinician, position in the old route)
    times: dict[int, float]
    routes: dict[int, list[int]]
    returns: dict[int, float]

    def cost(self, state: "State") -> float:
        over = self.worst - state.late_max
        return self.base + (state.d.w_max * over if over > 0 else 0.0)


class State:
    """Routes, their times and the objective's terms (see the module doc)."""

    __slots__ = (
        "R",
        "cont",
        "d",
        "feasible",
        "frames",
        "late_max",
        "late_sum",
        "load",
        "moved",
        "nreal",
        "overtime",
        "pins",
        "rdist",
        "ret",
        "rk",
        "t",
        "travel",
        "unassigned",
    )

    def __init__(self, data: Data):
        d = data
        self.d = d
        self.R: list[list[int]] = [[d.brk[k]] if d.brk[k] >= 0 else [] for k in range(d.m)]
        N = d.nodes
        self.t = [0.0] * N
        self.rk = [-1] * N
        for k in range(d.m):
            if d.brk[k] >= 0:
                self.rk[d.brk[k]] = k
        self.ret = list(d.sstart)
        self.rdist = [0.0] * d.m
        self.nreal = [0] * d.m
        self.load = [0.0] * d.m
        self.travel = 0.0
        self.late_sum = 0.0
        self.late_max = 0.0
        self.overtime = 0.0
        self.cont = 0
        self.moved = 0
        self.unassigned = d.n
        self.pins = 0
        self.feasible = True
        self.frames: list[tuple[list[float], list[int], list[int]] | None] = [None] * d.m
        self.schedule()

    # --- copying and reading ------------------------------------------------------------------

    def copy(self) -> "State":
        s = State.__new__(State)
        s.d = self.d
        s.R = [list(r) for r in self.R]
        s.t = list(self.t)
        s.rk = list(self.rk)
        s.ret = list(self.ret)
        s.rdist = list(self.rdist)
        s.nreal = list(self.nreal)
        s.load = list(self.load)
        s.travel = self.travel
        s.late_sum = self.late_sum
        s.late_max = self.late_max
        s.overtime = self.overtime
        s.cont = self.cont
        s.moved = self.moved
        s.unassigned = self.unassigned
        s.pins = self.pins
        s.feasible = self.feasible
        s.frames = list(self.frames)
        return s

    def cost(self) -> float:
        """The objective (plus the penalty for pinned places out of place)."""
        d = self.d
        return (
            d.w_travel * self.travel
            + d.w_late * self.late_sum
            + d.w_max * self.late_max
            + d.w_cont * self.cont
            + d.w_stab * self.moved
            + d.w_over * self.overtime
            + d.w_unassigned * (self.unassigned + self.pins)
        )

    def objective(self) -> float:
        """The objective alone, as the validator computes it."""
        return self.cost() - self.d.w_unassigned * self.pins

    def assigned(self, v: int) -> bool:
        return self.rk[v] >= 0

    def unassigned_visits(self) -> list[int]:
        return [v for v in range(self.d.n) if self.rk[v] < 0]

    def real(self, k: int) -> list[int]:
        """Route k's visits, the break left out."""
        n = self.d.n
        return [x for x in self.R[k] if x < n]

    # --- the full schedule ---------------------------------------------------------------------

    def schedule(self) -> bool:
        """Time every route from scratch (the least fixed point) and recompute every term.
        Returns (and stores in `feasible`) whether a schedule exists that keeps every hard
        bound."""
        if self.d.native is not None:
            self.t, ok = _native.schedule(self.d.native, self.R, self.rk)
        else:
            ok = self._times()
        self.frames = [None] * self.d.m
        self._terms()
        self.feasible = ok
        return ok

    def _times(self) -> bool:
        """The reference of the C `schedule`: the times alone (into self.t), and whether they
        keep every hard bound."""
        d = self.d
        R, rk, close, hard = self.R, self.rk, d.close, d.hard
        N = d.nodes
        t = [-INF] * N
        depth = [0] * N
        cap_depth = N + 2
        work: deque[int] = deque()
        ok = True
        for k in range(d.m):
            if not self._retime(k, 0, t, depth, work, cap_depth):
                ok = False
                break
        while ok and work:
            z = work.popleft()
            k = rk[z]
            i = R[k].index(z)
            if not self._retime(k, i, t, depth, work, cap_depth):
                ok = False
        self.t = t
        if ok:
            for k in range(d.m):
                if self.nreal_of(k) == 0:
                    continue
                for x in R[k]:
                    if hard[x] and t[x] > close[x] + 1e-7:
                        ok = False
                        break
        return ok

    def nreal_of(self, k: int) -> int:
        n = self.d.n
        return sum(1 for x in self.R[k] if x < n)

    def _retime(
        self, k: int, i: int, t: list[float], depth: list[int], work: deque[int], cap: int
    ) -> bool:
        """Re-time route k from position i, raising times (from below); push partners."""
        d = self.d
        n, rk = d.n, self.rk
        loc, dur, opn, hard, close = d.loc, d.dur, d.open, d.hard, d.close
        partner, lw, T = d.partner, d.lw, d.T
        nodes = self.R[k]
        if i == 0:
            free, here, dep = d.sstart[k], d.cstart[k], 0
        else:
            y = nodes[i - 1]
            free, dep = t[y] + dur[y], depth[y]
            here = self._where(k, i)
        L = len(nodes)
        j = i
        while j < L:
            x = nodes[j]
            if x >= n:  # the break, where the clinician is
                cand, cd = free, dep + 1
                if opn[x] > cand:
                    cand, cd = opn[x], 0
                if cand > t[x] + EPS:
                    t[x], depth[x] = cand, cd
                    if cd > cap:
                        return False
                free, dep = t[x] + dur[x], depth[x]
                j += 1
                continue
            cand, cd = free + T[here][loc[x]], dep + 1
            if opn[x] > cand:
                cand, cd = opn[x], 0
            z = partner[x]
            if z >= 0 and rk[z] >= 0 and t[z] > -INF:
                lb = t[z] + lw[x]
                if lb > cand:
                    cand, cd = lb, depth[z] + 1
            if cand > t[x] + EPS:
                t[x], depth[x] = cand, cd
                if cd > cap:
                    return False
                if hard[x] and cand > close[x] + 1e-7:
                    return False
                if z >= 0 and rk[z] >= 0 and t[z] > -INF and t[z] < cand + lw[z] - EPS:
                    work.append(z)
            elif j > i:
                return True  # nothing after changes
            free, here, dep = t[x] + dur[x], loc[x], depth[x]
            j += 1
        return True

    def _where(self, k: int, i: int) -> int:
        """Where the clinician of route k is after the node at position i - 1."""
        n, loc = self.d.n, self.d.loc
        nodes = self.R[k]
        j = i - 1
        while j >= 0:
            x = nodes[j]
            if x < n:
                return loc[x]
            j -= 1
        return self.d.cstart[k]

    def _terms(self) -> None:
        """Every term from the routes and times."""
        d = self.d
        if d.native is not None:
            (
                self.travel,
                self.late_sum,
                self.late_max,
                self.overtime,
                self.cont,
                self.moved,
                placed,
                self.pins,
                self.ret,
                self.rdist,
                self.nreal,
                self.load,
            ) = _native.terms(d.native, self.R, self.t)
            self.unassigned = d.n - placed
            return
        n, t, D, T, loc, dur, close = d.n, self.t, d.D, d.T, d.loc, d.dur, d.close
        travel = late_sum = late_max = overtime = 0.0
        cont = moved = 0
        placed = 0
        pins = 0
        for k in range(d.m):
            nodes = self.R[k]
            here = d.cstart[k]
            free = d.sstart[k]
            dist = 0.0
            real = 0
            load = 0.0
            for x in nodes:
                if x >= n:
                    free = t[x] + dur[x]
                    continue
                dist += D[here][loc[x]]
                here = loc[x]
                free = t[x] + dur[x]
                late = t[x] - close[x]
                if late > 0:
                    late_sum += late
                    if late > late_max:
                        late_max = late
                if d.pref[x] >= 0 and d.pref[x] != k:
                    cont += 1
                if d.prev[x] >= 0 and d.prev[x] != k:
                    moved += 1
                if d.pin_pos[x] >= 0 and d.pin_pos[x] != real:
                    pins += 1
                real += 1
                load += d.demand[x]
            if real:
                dist += D[here][d.cend[k]]
                self.ret[k] = free + T[here][d.cend[k]]
                if self.ret[k] > d.send[k]:
                    overtime += self.ret[k] - d.send[k]
            else:
                self.ret[k] = d.sstart[k]
            self.rdist[k] = dist
            self.nreal[k] = real
            self.load[k] = load
            travel += dist
            placed += real
        self.travel = travel
        self.late_sum = late_sum
        self.late_max = late_max
        self.overtime = overtime
        self.cont = cont
        self.moved = moved
        self.unassigned = d.n - placed
        self.pins = pins

    # --- removing ------------------------------------------------------------------------------

    def remove(self, visits: list[int]) -> None:
        """Take these visits out of their routes (the caller re-times with `schedule`)."""
        rk = self.rk
        by_route: dict[int, set[int]] = {}
        for v in visits:
            k = rk[v]
            if k >= 0:
                by_route.setdefault(k, set()).add(v)
                rk[v] = -1
        for k, gone in by_route.items():
            self.R[k] = [x for x in self.R[k] if x not in gone]
            self.frames[k] = None

    def place_breaks(self, routes: list[int] | None = None) -> bool:
        """Move each break (of the given routes, or all) to its best place, trying every
        position; returns whether the plan then has a schedule. Needed after a removal: a
        break is taken where the clinician is, so taking a visit out before a break moves the
        break, and the way on from there can be longer."""
        d = self.d
        ks = range(d.m) if routes is None else routes
        best_ok = self.schedule()
        for k in ks:
            b = d.brk[k]
            if b < 0 or self.nreal[k] == 0:
                continue
            nodes = self.R[k]
            home = nodes.index(b)
            best_at, best_cost = home, self.cost() if best_ok else INF
            others = [x for x in nodes if x != b]
            for at in range(len(others) + 1):
                if at == home:
                    continue
                self.R[k] = [*others[:at], b, *others[at:]]
                if self.schedule() and self.cost() < best_cost - 1e-9:
                    best_at, best_cost = at, self.cost()
            self.R[k] = [*others[:best_at], b, *others[best_at:]]
            best_ok = self.schedule()
        return best_ok

    # --- inserting: the fast path --------------------------------------------------------------

    def _frame(self, k: int) -> tuple[list[float], list[int], list[int]]:
        """For each position of route k: when the clinician is free before it, where they
        are, and the next place they go after it (a visit's location, or the end)."""
        d = self.d
        n, t, loc, dur = d.n, self.t, d.loc, d.dur
        nodes = self.R[k]
        L = len(nodes)
        frees = [0.0] * (L + 1)
        heres = [0] * (L + 1)
        free, here = d.sstart[k], d.cstart[k]
        for j in range(L):
            frees[j], heres[j] = free, here
            x = nodes[j]
            free = t[x] + dur[x]
            if x < n:
                here = loc[x]
        frees[L], heres[L] = free, here
        cend = d.cend[k]
        nexts = [cend] * (L + 1)
        nxt = cend
        for j in range(L - 1, -1, -1):
            x = nodes[j]
            if x < n:
                nxt = loc[x]
            nexts[j] = nxt
        return frees, heres, nexts

    def quick(self, v: int, k: int) -> list[tuple[float, float, int]]:
        """For each place of visit v in route k: (an estimate of its cost, a lower bound of
        it, position). The bound is its extra travel (and continuity and the unassigned
        credit); the estimate adds its own lateness, not the push on the visits after it."""
        d = self.d
        if not d.can[v][k] or self.nreal[k] >= d.maxv[k]:
            return []
        if d.any_capacity and self.load[k] + d.demand[v] > d.cap[k] + 1e-9:
            return []
        wt, wl, wm = d.w_travel, d.w_late, d.w_max
        lm = self.late_max
        const = -d.w_unassigned
        if d.pref[v] >= 0 and d.pref[v] != k:
            const += d.w_cont
        if d.prev[v] >= 0 and d.prev[v] != k:
            const += d.w_stab
        if d.native is not None:
            return _native.quick(  # type: ignore[no-any-return]
                d.native, self.R[k], self.t, v, k, const, self.nreal[k], lm
            )
        frame = self.frames[k]
        if frame is None:
            frame = self.frames[k] = self._frame(k)
        frees, heres, nexts = frame
        T, D = d.T, d.D
        lv, ov, cv = d.loc[v], d.open[v], d.close[v]
        Dv = D[lv]
        nreal = self.nreal[k]
        out = []
        for p in range(len(self.R[k]) + 1):
            a, b = heres[p], nexts[p]
            Da = D[a]
            tr = wt * (Da[lv] + Dv[b] - Da[b] if nreal else Da[lv] + Dv[b]) + const
            st = frees[p] + T[a][lv]
            late = st - cv if st > cv else 0.0
            if st < ov:
                late = ov - cv if ov > cv else 0.0
            est = tr + wl * late + (wm * (late - lm) if late > lm else 0.0)
            out.append((est, tr, p))
        return out

    def scan(
        self, v: int, k: int, cutoff: float = INF
    ) -> list[tuple[float, float, int, float, bool]]:
        """Every feasible place for visit `v` (whose partner is not placed) in route k, as
        (base, worst, position, travel part of base, exact), skipping places whose travel
        alone costs `cutoff` or more. When the push reaches a linked visit whose partner would
        have to move, the partner's route is not followed: base and worst are then lower
        bounds (exact False), to be confirmed with `trial`."""
        d = self.d
        if not d.can[v][k] or self.nreal[k] >= d.maxv[k]:
            return []
        if d.any_capacity and self.load[k] + d.demand[v] > d.cap[k] + 1e-9:
            return []
        n, t, rk = d.n, self.t, self.rk
        loc, dur, close, hard, partner, lw = d.loc, d.dur, d.close, d.hard, d.partner, d.lw
        T, D = d.T, d.D
        nodes = self.R[k]
        L = len(nodes)
        lv, dv, ov, cv, hv = loc[v], dur[v], d.open[v], close[v], hard[v]
        wt, wl, wo = d.w_travel, d.w_late, d.w_over
        const = -d.w_unassigned
        if d.pref[v] >= 0 and d.pref[v] != k:
            const += d.w_cont
        if d.prev[v] >= 0 and d.prev[v] != k:
            const += d.w_stab
        send, cend = d.send[k], d.cend[k]
        nreal = self.nreal[k]
        old_over = self.ret[k] - send if nreal and self.ret[k] > send else 0.0
        if d.native is not None:
            found = _native.scan(d.native, nodes, t, rk, v, k, cutoff, const, old_over, nreal)
            if d.has_pins:
                wu = d.w_unassigned
                return [
                    (b + wu * self._pin_change(k, [(v, p)]), w, p, tr, e)
                    for b, w, p, tr, e in found
                ]
            return found  # type: ignore[no-any-return]
        # where the clinician is and when free, before each position; the next place after
        frame = self.frames[k]
        if frame is None:
            frame = self.frames[k] = self._frame(k)
        frees, heres, nexts = frame
        out: list[tuple[float, float, int, float, bool]] = []
        Dv = D[lv]
        Tv = T[lv]
        for p in range(L + 1):
            a = heres[p]
            b = nexts[p]
            Da = D[a]
            tr = Da[lv] + Dv[b] - Da[b] if nreal else Da[lv] + Dv[b]
            tr *= wt
            if tr + const >= cutoff:
                continue
            st = frees[p] + T[a][lv]
            if st < ov:
                st = ov
            if hv and st > cv + 1e-7:
                continue
            late = st - cv if st > cv else 0.0
            dl = late
            worst = late
            free = st + dv
            here = lv
            Th = Tv
            j = p
            ok = True
            exact = True
            ended = True
            while j < L:
                x = nodes[j]
                ox = t[x]
                if x >= n:
                    if free > ox + EPS:
                        if free > close[x] + 1e-7:
                            ok = False
                            break
                        free += dur[x]
                    else:
                        free = ox + dur[x]
                    j += 1
                    continue
                arr = free + Th[loc[x]]
                if arr <= ox + EPS:
                    ended = False
                    break
                z = partner[x]
                if z >= 0 and rk[z] >= 0 and t[z] < arr + lw[z] - EPS:
                    exact = False
                if hard[x] and arr > close[x] + 1e-7:
                    ok = False
                    break
                cx = close[x]
                if arr > cx:
                    dl += arr - cx - (ox - cx if ox > cx else 0.0)
                    if arr - cx > worst:
                        worst = arr - cx
                free = arr + dur[x]
                here = loc[x]
                Th = T[here]
                j += 1
            if not ok:
                continue
            base = tr + const + wl * dl
            if ended:
                back = free + Th[cend]
                over = back - send if back > send else 0.0
                base += wo * (over - old_over)
            if d.has_pins:
                base += d.w_unassigned * self._pin_change(k, [(v, p)])
            out.append((base, worst, p, tr, exact))
        return out

    def _pin_change(self, k: int, inserted: list[tuple[int, int]]) -> int:
        """How the count of pinned places out of place in route k changes with these
        insertions (visit, position in the old route)."""
        d = self.d
        n, pin = d.n, d.pin_pos
        old = self.R[k]
        before = 0
        real = 0
        for x in old:
            if x < n:
                if pin[x] >= 0 and pin[x] != real:
                    before += 1
                real += 1
        new = _with(old, inserted)
        after = 0
        real = 0
        for x in new:
            if x < n:
                if pin[x] >= 0 and pin[x] != real:
                    after += 1
                real += 1
        return after - before

    # --- inserting: the general evaluation -----------------------------------------------------

    def trial(self, inserts: list[tuple[int, int, int]]) -> Delta | None:
        """The effect of inserting visits at (visit, clinician, position in the current route)
        together, or None if that breaks a hard rule (a skill, a hard window, a break's latest
        start, no schedule). Visits in one route go in the order given when they share a
        position."""
        d = self.d
        n, rk, R, partner = d.n, self.rk, self.R, d.partner
        placed: dict[int, int] = {}
        per_route: dict[int, list[tuple[int, int]]] = {}
        for v, k, p in inserts:
            if not d.can[v][k] or rk[v] >= 0 or v in placed:
                return None
            placed[v] = k
            per_route.setdefault(k, []).append((v, p))
        for v, k, _ in inserts:
            z = partner[v]
            if z >= 0 and d.simultaneous[v] and placed.get(z, rk[z]) == k:
                return None  # two clinicians make a simultaneous pair
        new_routes: dict[int, list[int]] = {}
        # per changed route, the last position where re-timing may not stop early: the first
        # visit after the last inserted one (its way there changed), or the end
        sticky: dict[int, int] = {}
        work: list[tuple[int, int]] = []
        for k, items in per_route.items():
            count = self.nreal[k] + len(items)
            if count > d.maxv[k]:
                return None
            if d.any_capacity:
                load = self.load[k] + sum(d.demand[v] for v, _ in items)
                if load > d.cap[k] + 1e-9:
                    return None
            new = _with(R[k], items)
            new_routes[k] = new
            L = len(new)
            # the inserted visits' places in the new route: the i-th by position lands i
            # places after its position in the old one
            if len(items) == 1:
                first_at = last_at = items[0][1]
            else:
                at = sorted(p for _, p in items)
                first_at, last_at = at[0], at[-1] + len(at) - 1
            j = last_at + 1
            while j < L and new[j] >= n:
                j += 1
            sticky[k] = j
            work.append((k, first_at))
        budget = 50 * d.nodes  # a backstop: the cycle check ends every real cycle
        if d.native is not None:
            pins = 0
            if d.has_pins:
                for k in new_routes:
                    pins += self._pin_change(k, [(v, p) for v, kk, p in inserts if kk == k])
            found = _native.propagate(
                d.native,
                R,
                self.t,
                rk,
                placed,
                new_routes,
                sticky,
                work,
                budget,
                self.ret,
                self.rdist,
                self.nreal,
                pins,
            )
            if found is None:
                return None
            times, returns, base, worst = found
            return Delta(base, worst, inserts, times, new_routes, returns)
        else:
            got = self._propagate(placed, new_routes, sticky, deque(work), budget)
        if got is None:
            return None
        return self._delta(inserts, placed, new_routes, got[0], got[1])

    def _propagate(
        self,
        placed: dict[int, int],
        new_routes: dict[int, list[int]],
        sticky: dict[int, int],
        work: deque[tuple[int, int]],
        budget: int,
    ) -> tuple[dict[int, float], dict[int, float]] | None:
        """The reference of the C `propagate`: push the inserted visits' times along their
        routes and across links; (new times, in the order the nodes first moved; each changed
        route's time back at its end), or None when no schedule keeps the hard bounds."""
        d = self.d
        n, t, rk, R = d.n, self.t, self.rk, self.R
        loc, dur, opn, close, hard = d.loc, d.dur, d.open, d.close, d.hard
        partner, lw, T = d.partner, d.lw, d.T
        nt: dict[int, float] = {}  # the new times of the nodes the insertion moves
        par: dict[int, int] = {}  # what set each new time: a node, or -1 (its window)
        returns: dict[int, float] = {}
        while work:
            k, i = work.popleft()
            nodes = new_routes.get(k) or R[k]
            hold = sticky.get(k, -1)
            if i == 0:
                free, here, prev = d.sstart[k], d.cstart[k], -1
            else:
                prev = nodes[i - 1]
                ty = nt.get(prev)
                if ty is None:
                    ty = t[prev]
                free = ty + dur[prev]
                here = d.cstart[k]
                for jj in range(i - 1, -1, -1):
                    if nodes[jj] < n:
                        here = loc[nodes[jj]]
                        break
            L = len(nodes)
            j = i
            finished = True
            while j < L:
                budget -= 1
                if budget < 0:
                    return None
                x = nodes[j]
                old = nt.get(x)
                if old is None and x not in placed:
                    old = t[x]
                if x >= n:  # the break, where the clinician is
                    cand, src = free, prev
                    if opn[x] > cand:
                        cand, src = opn[x], -1
                    if old is not None and cand <= old + EPS:
                        cand = old
                    else:
                        if cand > close[x] + 1e-7:
                            return None
                        if x in nt and _cycle(par, src, x):
                            return None
                        nt[x] = cand
                        par[x] = src
                    free, prev = cand + dur[x], x
                    j += 1
                    continue
                cand, src = free + T[here][loc[x]], prev
                if opn[x] > cand:
                    cand, src = opn[x], -1
                z = partner[x]
                tz = None
                if z >= 0:
                    tz = nt.get(z)
                    if tz is None and z not in placed and rk[z] >= 0:
                        tz = t[z]
                    if tz is not None and tz + lw[x] > cand:
                        cand, src = tz + lw[x], z
                if old is not None and cand <= old + EPS:
                    if j > hold:
                        finished = False
                        break
                    free, here, prev = old + dur[x], loc[x], x
                    j += 1
                    continue
                if hard[x] and cand > close[x] + 1e-7:
                    return None
                if x in nt and _cycle(par, src, x):
                    return None  # x would push itself: no schedule
                nt[x] = cand
                par[x] = src
                if tz is not None and tz < cand + lw[z] - EPS:
                    kz = placed.get(z, rk[z])
                    zn = new_routes.get(kz) or R[kz]
                    work.append((kz, zn.index(z)))
                free, here, prev = cand + dur[x], loc[x], x
                j += 1
            if finished:
                returns[k] = free + T[here][d.cend[k]]
        return nt, returns

    def _delta(
        self,
        inserts: list[tuple[int, int, int]],
        placed: dict[int, int],
        new_routes: dict[int, list[int]],
        nt: dict[int, float],
        returns: dict[int, float],
    ) -> Delta:
        d = self.d
        n, t, close = d.n, self.t, d.close
        D, loc = d.D, d.loc
        travel = 0.0
        pins = 0
        for k, new in new_routes.items():
            here = d.cstart[k]
            dist = 0.0
            for x in new:
                if x < n:
                    dist += D[here][loc[x]]
                    here = loc[x]
            dist += D[here][d.cend[k]]
            travel += dist - self.rdist[k]
            if d.has_pins:
                pins += self._pin_change(k, [(v, p) for v, kk, p in inserts if kk == k])
        dl = 0.0
        worst = 0.0
        for x, new_t in nt.items():
            if x >= n:
                continue
            cx = close[x]
            if new_t > cx:
                late = new_t - cx
                if late > worst:
                    worst = late
                if x in placed:
                    dl += late
                else:
                    ox = t[x]
                    dl += late - (ox - cx if ox > cx else 0.0)
        over = 0.0
        for k, back in returns.items():
            send = d.send[k]
            new_over = back - send if back > send else 0.0
            old_over = self.ret[k] - send if self.nreal[k] and self.ret[k] > send else 0.0
            over += new_over - old_over
        cont = sum(1 for v, k in placed.items() if d.pref[v] >= 0 and d.pref[v] != k)
        moved = sum(1 for v, k in placed.items() if d.prev[v] >= 0 and d.prev[v] != k)
        base = (
            d.w_travel * travel
            + d.w_late * dl
            + d.w_over * over
            + d.w_cont * cont
            + d.w_stab * moved
            + d.w_unassigned * (pins - len(placed))
        )
        return Delta(base, worst, inserts, nt, new_routes, returns)

    def insert(self, delta: Delta) -> None:
        """Apply a trial (from `trial`)."""
        d = self.d
        if d.native is not None:  # the same loops in C (which keep no frames)
            self.late_sum, self.overtime, self.travel = _native.apply(
                d.native,
                self.R,
                self.t,
                self.rk,
                self.ret,
                self.rdist,
                self.nreal,
                self.load,
                delta.times,
                delta.returns,
                delta.routes,
                self.late_sum,
                self.overtime,
                self.travel,
            )
        else:
            self._apply(delta)
        if delta.worst > self.late_max:
            self.late_max = delta.worst
        self._placed(delta.inserts)
        if d.has_pins:
            self.pins = self._count_pins()

    def _apply(self, delta: Delta) -> None:
        """The reference of the C `apply`: a trial's new times, times back at the end and
        routes into the plan, and the sums they change (the visits' clinicians are set after)."""
        d = self.d
        n, t, rk, close, D, loc = d.n, self.t, self.rk, d.close, d.D, d.loc
        frames = self.frames
        for k in delta.routes:
            frames[k] = None
        dl = 0.0
        for x, new_t in delta.times.items():
            kx = rk[x]
            if kx >= 0:
                frames[kx] = None
            if x < n:
                cx = close[x]
                late = new_t - cx if new_t > cx else 0.0
                if rk[x] >= 0:
                    ox = t[x]
                    if ox > cx:
                        late -= ox - cx
                dl += late
            t[x] = new_t
        self.late_sum += dl
        for k, back in delta.returns.items():
            send = d.send[k]
            old_over = self.ret[k] - send if self.nreal[k] and self.ret[k] > send else 0.0
            self.ret[k] = back
            self.overtime += (back - send if back > send else 0.0) - old_over
        for k, new in delta.routes.items():
            self.R[k] = new
            here = d.cstart[k]
            dist = 0.0
            real = 0
            load = 0.0
            for x in new:
                if x < n:
                    dist += D[here][loc[x]]
                    here = loc[x]
                    real += 1
                    load += d.demand[x]
            dist += D[here][d.cend[k]]
            self.travel += dist - self.rdist[k]
            self.rdist[k] = dist
            self.nreal[k] = real
            self.load[k] = load

    def _placed(self, inserts: list[tuple[int, int, int]]) -> None:
        """An insertion's visits in their routes: each one's clinician, and the counts."""
        d, rk = self.d, self.rk
        for v, k, _ in inserts:
            rk[v] = k
            self.unassigned -= 1
            if d.pref[v] >= 0 and d.pref[v] != k:
                self.cont += 1
            if d.prev[v] >= 0 and d.prev[v] != k:
                self.moved += 1

    def _count_pins(self) -> int:
        d = self.d
        n, pin = d.n, d.pin_pos
        count = 0
        for nodes in self.R:
            real = 0
            for x in nodes:
                if x < n:
                    if pin[x] >= 0 and pin[x] != real:
                        count += 1
                    real += 1
        return count

    # --- output -------------------------------------------------------------------------------

    def to_solution(self, reasons: dict[int, str] | None = None) -> Solution:
        """The plan as a model.Solution: visits unassigned get `reasons` (or a generic one)."""
        d = self.d
        problem = d.problem
        n = d.n
        routes = []
        for k in range(d.m):
            nodes = self.R[k]
            visits: list[str] = []
            starts: list[float] = []
            brk_start = None
            if self.nreal[k]:
                for x in nodes:
                    if x >= n:
                        visits.append(BREAK)
                        brk_start = self.t[x]
                    else:
                        visits.append(problem.visits[x].id)
                        starts.append(self.t[x])
            routes.append(Route(problem.clinicians[k].id, visits, starts, brk_start))
        unassigned = {
            problem.visits[v].id: (reasons or {}).get(v, "no room in any route")
            for v in range(n)
            if self.rk[v] < 0
        }
        return Solution(routes, unassigned)


def _cycle(par: dict[int, int], src: int, x: int) -> bool:
    """Whether the chain of causes that leads to `src` starts from `x`: then raising x from
    src closes a cycle of positive length (x would have to start after itself)."""
    seen = 0
    limit = len(par) + 1
    while src >= 0:
        if src == x:
            return True
        seen += 1
        if seen > limit:  # pragma: no cover - the chain of causes is a tree
            return True
        src = par.get(src, -1)
    return False


def _with(nodes: list[int], items: list[tuple[int, int]]) -> list[int]:
    """`nodes` with each (visit, position) inserted; positions refer to `nodes`, and visits
    sharing a position keep the order given."""
    if len(items) == 1:
        v, p = items[0]
        return [*nodes[:p], v, *nodes[p:]]
    ordered = sorted(enumerate(items), key=lambda e: (e[1][1], e[0]))
    out: list[int] = []
    prev = 0
    for _, (v, p) in ordered:
        out.extend(nodes[prev:p])
        out.append(v)
        prev = p
    out.extend(nodes[prev:])
    return out

"""The search's C loops (careway/routing/search/_native.c) against their pure-Python reference
(evaluate.py): on random days with linked pairs, breaks, pins, skills and visit limits, both
give the same times, terms, places and insertion costs to the last bit, and the whole search
takes the same path for a seed."""

import dataclasses
import math
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careway.routing.search import destroy, evaluate, lns, repair
from careway.routing.search.construct import construct
from careway.routing.search.evaluate import State, compile_problem
from careway.routing.validate import validate

from .test_search import random_day as any_day


def random_day(rng, *args, **kwargs):
    """test_search's random day, some of it re-planned: visits with the clinician they had
    before and a weight on moving them."""
    problem = any_day(rng, *args, **kwargs)
    if rng.random() < 0.5:
        ids = [c.id for c in problem.clinicians]
        visits = [
            dataclasses.replace(v, previous=rng.choice(ids)) if rng.random() < 0.6 else v
            for v in problem.visits
        ]
        weights = dataclasses.replace(problem.weights, reassigned=rng.choice([3.0, 40.0]))
        problem = dataclasses.replace(problem, visits=visits, weights=weights)
    return problem


built = pytest.mark.skipif(
    evaluate._native is None and os.environ.get("CI") != "true",
    reason="the C loops are not built here (no C compiler when Careway was installed)",
)


def test_the_c_loops_are_built_where_ci_runs():
    if os.environ.get("CI") != "true" and evaluate._native is None:
        pytest.skip("the C loops are not built here (no C compiler when Careway was installed)")
    assert evaluate._native is not None
    assert evaluate.evaluator() == "native"


def same_numbers(a, b):
    """Equal to the last bit, -inf and inf included."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x == y or (math.isinf(x) and x == y), (x, y)


def mirror(state, d):
    """The same plan as `state`, on another compilation of its problem, re-timed."""
    other = State(d)
    other.R = [list(r) for r in state.R]
    other.rk = list(state.rk)
    other.schedule()
    return other


def terms(state):
    return (
        state.travel,
        state.late_sum,
        state.late_max,
        state.overtime,
        state.cont,
        state.moved,
        state.unassigned,
        state.pins,
        state.feasible,
        list(state.ret),
        list(state.rdist),
        list(state.nreal),
        list(state.load),
    )


def a_plan_with_gaps(seed):
    """A random day, its two compilations, and a plan built by the reference with some units
    taken out again (so there are visits to place)."""
    rng = random.Random(seed)
    problem = random_day(rng, rng.randint(3, 14), rng.randint(1, 4))
    pure = compile_problem(problem, native=False)
    fast = compile_problem(problem, native=True)
    assert pure.native is None and fast.native is not None
    state = construct(pure, None, rng)
    units = [u for u, unit in enumerate(pure.units) if all(state.rk[v] >= 0 for v in unit)]
    rng.shuffle(units)
    state.remove([v for u in units[: rng.randint(0, 4)] for v in pure.units[u]])
    state.schedule()
    return rng, problem, pure, fast, state


@built
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9))
def test_times_and_terms_equal_the_reference(seed):
    rng, problem, pure, fast, state = a_plan_with_gaps(seed)
    other = mirror(state, fast)
    same_numbers(state.t, other.t)
    assert terms(state) == terms(other)
    same_numbers(destroy._costs(state), destroy._costs(other))  # what the worst removal reads
    if other.feasible:  # and the objective, re-planning's term included, is the validator's
        report = validate(problem, other.to_solution())
        assert other.objective() == pytest.approx(report.objective, abs=1e-6)
    # a plan with no schedule (two simultaneous pairs in crossed orders, a missed hard window)
    # is found so by both
    for _ in range(3):
        k = rng.randrange(pure.m)
        if len(state.R[k]) > 1:
            rng.shuffle(state.R[k])
            other.R[k] = list(state.R[k])
            assert state.schedule() == other.schedule()
            same_numbers(state.t, other.t)
            assert terms(state) == terms(other)


@built
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9))
def test_every_place_and_insertion_equals_the_reference(seed):
    rng, _, pure, fast, state = a_plan_with_gaps(seed)
    other = mirror(state, fast)
    out = [v for v in range(pure.n) if state.rk[v] < 0]
    for v in out:
        for k in range(pure.m):
            assert state.scan(v, k) == other.scan(v, k)
            cutoff = rng.uniform(-10_000, 200)
            assert state.scan(v, k, cutoff) == other.scan(v, k, cutoff)
            assert state.quick(v, k) == other.quick(v, k)
            for p in range(len(state.R[k]) + 1):
                a, b = state.trial([(v, k, p)]), other.trial([(v, k, p)])
                assert (a is None) == (b is None)
                if a is not None:
                    assert (a.base, a.worst, a.times, a.returns, a.routes) == (
                        b.base,
                        b.worst,
                        b.times,
                        b.returns,
                        b.routes,
                    )
        avoid = frozenset(rng.sample(range(pure.m), rng.randint(0, pure.m - 1)))
        assert repair._singles(state, v, avoid) == repair._singles(other, v, avoid)
        assert repair._quick_best(state, v, avoid) == repair._quick_best(other, v, avoid)
        # the best single place, each place skipped by the same draws ("blinks")
        draw = rng.randrange(10**6)
        rng_a, rng_b = random.Random(draw), random.Random(draw)
        blink = rng.choice([0.0, 0.2])
        a = repair._best_single(state, v, rng_a, blink, avoid)
        b = repair._best_single(other, v, rng_b, blink, avoid)
        assert (a is None) == (b is None)
        if a is not None:
            assert (a[0], a[1].inserts, a[1].times) == (b[0], b[1].inserts, b[1].times)
        assert rng_a.random() == rng_b.random()  # as many draws
    # pairs: both visits at once, across two routes or in one
    for a in out:
        b = pure.partner[a]
        if b < a:
            continue
        # the best place of the pair: the same trials in the same order, the same draws
        draw = rng.randrange(10**6)
        rng_a, rng_b = random.Random(draw), random.Random(draw)
        blink = rng.choice([0.0, 0.2])
        avoid = frozenset(rng.sample(range(pure.m), rng.randint(0, pure.m - 1)))
        x = repair._best_pair(state, a, b, rng_a, blink, avoid)
        y = repair._best_pair(other, a, b, rng_b, blink, avoid)
        assert (x is None) == (y is None)
        if x is not None:
            assert (x[0], x[1].inserts, x[1].times) == (y[0], y[1].inserts, y[1].times)
        assert rng_a.random() == rng_b.random()  # as many draws
        for _ in range(25):
            ka, kb = rng.randrange(pure.m), rng.randrange(pure.m)
            pa = rng.randint(0, len(state.R[ka]))
            pb = rng.randint(0, len(state.R[kb]))
            if ka == kb and pb < pa:
                pa, pb = pb, pa
            x = state.trial([(a, ka, pa), (b, kb, pb)])
            y = other.trial([(a, ka, pa), (b, kb, pb)])
            assert (x is None) == (y is None)
            if x is not None:
                assert (x.base, x.worst, x.times, x.returns) == (
                    y.base,
                    y.worst,
                    y.times,
                    y.returns,
                )
                state.insert(x)
                other.insert(y)
                assert terms(state) == terms(other)
                same_numbers(state.t, other.t)
                break


@built
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9))
def test_an_insertion_changes_the_plan_as_the_reference_does(seed):
    # State.insert's loops (C `apply`): each unit put back at its best place in both plans,
    # then the times, every incremental sum and the next scans equal
    _, _, pure, fast, state = a_plan_with_gaps(seed)
    other = mirror(state, fast)
    for unit in pure.units:
        if state.rk[unit[0]] >= 0:
            continue
        x, y = repair.best_place(state, unit), repair.best_place(other, unit)
        assert (x is None) == (y is None)
        if x is None:
            continue
        assert x[1].inserts == y[1].inserts
        state.insert(x[1])
        other.insert(y[1])
        assert terms(state) == terms(other)
        same_numbers(state.t, other.t)
        assert state.R == other.R and state.rk == other.rk
        for v in range(pure.n):
            if state.rk[v] < 0:
                for k in range(pure.m):
                    assert state.scan(v, k) == other.scan(v, k)


@built
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**9))
def test_the_search_takes_the_same_path_with_either(seed, monkeypatch_env):
    problem = random_day(random.Random(seed), random.Random(seed).randint(4, 16), 3)
    runs = []
    for pure in ("1", "0"):
        monkeypatch_env.setenv("CAREWAY_ROUTING_PURE", pure)
        stats: dict = {}
        solution = lns.solve(problem, 60, seed % 7, iterations=40, stats=stats)
        runs.append((solution.to_json(), stats["best"], stats["iterations"]))
    assert evaluate.evaluator() == "native"
    assert runs[0] == runs[1]


@pytest.fixture(scope="module")
def monkeypatch_env():
    with pytest.MonkeyPatch.context() as patch:
        yield patch

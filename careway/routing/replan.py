"""Re-planning a day under way: a visit cancelled or added, a clinician lost or added.

`replan(problem, previous, change, seconds)` takes the day, the plan being worked, and what
changed at minute `change.at`, and returns a new plan that keeps as much of the old one as it
can, with a report of what moved and why.

1. The past stays. A visit that started before `at` (done, or under way) keeps its clinician,
   its place in the route and its start time (its window becomes that one moment, hard), and a
   break already begun keeps its time. Nothing else starts before `at`. A clinician's day keeps
   its start (one who had not begun a visit may be on the road already: where they are at `at`
   is not known, so their way to the next visit is counted from where their day starts, as the
   old plan had it); a new clinician starts at `at` at the earliest.
2. The change. Cancelled visits leave the day (with their links); new visits and clinicians come
   in; a lost clinician keeps the visits they made or are making and takes no more.
3. Stability. Every visit the old plan gave a clinician remembers that clinician
   (`Visit.previous`), and giving it to someone else costs `stability` (`Weights.reassigned`),
   by default the old plan's mean cost of a visit: moving a visit must save at least what an
   average visit costs. The search starts from the old plan, without what the change took out.
4. The pair-aware search (search/lns.py) then runs for `seconds` (or `iterations`, when given
   and reached first: such a run gives the same plan for a seed every time), and the validator
   checks the new plan on the changed day. `Replan.objective` is its cost without the stability
   term, so it can be compared with a plan of the changed day made from scratch.

Visits "touched by the change" are the cancelled and new ones and those the lost clinicians
still had to make; the others, not yet started, are the ones stability is for, and
`Replan.kept_share` says how many of them kept their clinician.
"""

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .model import (
    BREAK,
    SIMULTANEOUS,
    Break,
    Clinician,
    Link,
    Problem,
    ProblemError,
    Route,
    Solution,
    Visit,
    _clinician,
    _link,
    _visit,
)
from .validate import Report, validate


class ChangeError(ValueError):
    """A change that cannot apply to this day and plan: the message names what is wrong."""


@dataclass
class Change:
    """What changed, at minute `at` of the day."""

    at: float
    cancel: list[str] = field(default_factory=list)  # visit ids
    visits: list[Visit] = field(default_factory=list)  # new visits
    links: list[Link] = field(default_factory=list)  # links of new visits
    lost: list[str] = field(default_factory=list)  # clinician ids, unavailable from `at`
    clinicians: list[Clinician] = field(default_factory=list)  # new clinicians

    @classmethod
    def from_json(cls, data: Any, problem: Problem) -> "Change":
        """{"at": 460, "cancel": ["v1"], "new_visits": [visit...], "new_links": [link...],
        "lost": ["c3"], "new_clinicians": [clinician...]}: visits, links and clinicians as in
        the problem format (their locations must be the problem's). Wrong input raises
        ChangeError naming the field."""
        if not isinstance(data, Mapping):
            raise ChangeError("change: must be a JSON object")
        known = {"at", "cancel", "new_visits", "new_links", "lost", "new_clinicians"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ChangeError(
                f"change.{unknown[0]}: not a field of a change ({', '.join(sorted(known))})"
            )
        at = data.get("at")
        if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at):
            raise ChangeError("change.at: must be the minute of the day the change happens")
        where = {loc: i for i, loc in enumerate(problem.location_ids)}
        try:
            visits = [
                _visit(raw, f"change.new_visits[{i}]", where)
                for i, raw in enumerate(_list(data, "new_visits"))
            ]
            clinicians = [
                _clinician(raw, f"change.new_clinicians[{i}]", where)
                for i, raw in enumerate(_list(data, "new_clinicians"))
            ]
            ids = {v.id for v in problem.visits} | {v.id for v in visits}
            links = [
                _link(raw, f"change.new_links[{i}]", ids)
                for i, raw in enumerate(_list(data, "new_links"))
            ]
        except ProblemError as error:
            raise ChangeError(str(error)) from None
        return cls(
            at=float(at),
            cancel=_ids(data, "cancel"),
            visits=visits,
            links=links,
            lost=_ids(data, "lost"),
            clinicians=clinicians,
        )


@dataclass
class Moved:
    """A visit whose clinician or start the new plan changed, or that it left out."""

    visit: str
    before: str | None  # clinician in the old plan (None: new, or left out before)
    after: str | None  # clinician in the new plan (None: left out)
    start_before: float | None
    start_after: float | None
    why: str


@dataclass
class Replan:
    problem: Problem  # the changed day, as re-planned (fixed visits, stability weight)
    solution: Solution
    report: Report  # the validator's, on `problem`
    moved: list[Moved]
    fixed: list[str]  # visits done or under way at `at`
    touched: list[str]  # visits the change itself concerns
    untouched: int  # visits the change did not touch, not yet started, planned before
    kept: int  # of those, how many kept their clinician
    stability: float
    seconds: float

    @property
    def kept_share(self) -> float:
        return self.kept / self.untouched if self.untouched else 1.0

    @property
    def objective(self) -> float:
        """The new plan's cost without the stability term."""
        return self.report.objective - self.stability * self.report.terms["reassigned"]


SHIFT_NOTICE = 15.0  # minutes: a start that moves less than this is not reported
CHECKS_AFTER = 0.25  # seconds per 1,000 visits kept back for validating and reporting


def replan(
    problem: Problem,
    previous: Solution,
    change: Change,
    seconds: float,
    seed: int = 0,
    *,
    stability: float | None = None,
    processes: int = 1,
    iterations: int | None = None,
) -> Replan:
    """A new plan for the day after `change` (see the module doc)."""
    began = time.perf_counter()
    checked = validate(problem, previous)  # the old plan's times, worked out once
    day, fixed, touched, initial, weight = changed_day(
        problem, previous, change, stability, checked=checked
    )
    from .search import lns

    # `seconds` is the whole budget: what the setup took, and a little for the checks after, come
    # off the search's share
    left = seconds - (time.perf_counter() - began) - CHECKS_AFTER * len(day.visits) / 1000
    # a re-plan starts from a good plan and polishes it: short cooling cycles (the long warm
    # cycle of a short run from scratch, lns.cycle_length, would wander from it)
    solution = lns.solve(
        day,
        max(0.2, left),
        seed,
        initial=initial,
        processes=processes,
        iterations=iterations,
        warm_below=0,
    )
    # visits no plan can include (feasibility.unplaceable) were set aside by the search with
    # their reasons, as `solve` does
    report = validate(day, solution)
    before = _assignment(problem, previous, checked)
    after = _assignment(day, solution, report)
    pinned = {v.id for v in day.visits if v.pinned_to in change.lost and v.id not in fixed}
    partner = {a: b for k in day.links for a, b in ((k.first, k.second), (k.second, k.first))}
    moved = _moved(change, before, after, solution, touched, pinned, partner)
    untouched = [
        v.id
        for v in day.visits
        if v.id in before
        and before[v.id][0] is not None
        and v.id not in touched
        and v.id not in fixed
    ]
    kept = sum(1 for vid in untouched if after.get(vid, (None, None))[0] == before[vid][0])
    return Replan(
        problem=day,
        solution=solution,
        report=report,
        moved=moved,
        fixed=sorted(fixed),
        touched=sorted(touched),
        untouched=len(untouched),
        kept=kept,
        stability=weight,
        seconds=time.perf_counter() - began,
    )


def changed_day(
    problem: Problem,
    previous: Solution,
    change: Change,
    stability: float | None = None,
    *,
    checked: Report | None = None,
) -> tuple[Problem, set[str], set[str], Solution, float]:
    """The day after the change, as the search sees it: (problem, the visits fixed, the visits
    the change touches, the old plan as a start for the search, the stability weight)."""
    checked = checked or validate(problem, previous)
    if not checked.feasible:
        first = checked.violations[0]
        raise ChangeError(f"plan: not valid for this day ({first.where}: {first.message})")
    at = change.at
    known_visits = set(problem.visit_index)
    known_clinicians = set(problem.clinician_index)
    for i, vid in enumerate(change.cancel):
        if vid not in known_visits:
            raise ChangeError(f"change.cancel[{i}]: no visit {vid!r} in the day")
    for i, cid in enumerate(change.lost):
        if cid not in known_clinicians:
            raise ChangeError(f"change.lost[{i}]: no clinician {cid!r} in the day")
    for i, v in enumerate(change.visits):
        if v.id in known_visits:
            raise ChangeError(f"change.new_visits[{i}].id: the day already has a visit {v.id!r}")
    for i, c in enumerate(change.clinicians):
        if c.id in known_clinicians:
            raise ChangeError(f"change.new_clinicians[{i}].id: the day already has {c.id!r}")
    starts = checked.starts
    route_of: dict[str, tuple[str, int]] = {}  # visit -> (clinician, place among its visits)
    for route in previous.routes:
        real = [x for x in route.visits if x != BREAK]
        for i, vid in enumerate(real):
            route_of[vid] = (route.clinician, i)
    fixed = {vid for vid, (_, _) in route_of.items() if starts.get(vid, math.inf) < at}
    for i, vid in enumerate(change.cancel):
        if vid in fixed:
            raise ChangeError(
                f"change.cancel[{i}]: visit {vid!r} started at {_clock(starts[vid])}, before the "
                f"change at {_clock(at)}: it is done or under way and cannot be cancelled"
            )
    cancelled = set(change.cancel)
    lost = set(change.lost)
    orphans = {vid for vid, (cid, _) in route_of.items() if cid in lost and vid not in fixed}
    touched = cancelled | {v.id for v in change.visits} | orphans

    visits: list[Visit] = []
    for v in problem.visits:
        if v.id in cancelled:
            continue
        if v.id in fixed:
            cid, place = route_of[v.id]
            t = starts[v.id]
            visits.append(
                dataclasses.replace(
                    v,
                    window_open=t,
                    window_close=t,
                    hard_close=True,
                    pinned_to=cid,
                    pinned_position=place,
                    previous=cid,
                )
            )
            continue
        was = route_of.get(v.id, (None, 0))[0]
        visits.append(
            dataclasses.replace(
                v,
                window_open=max(v.window_open, at),
                previous=was if was is not None and was not in lost else None,
            )
        )
    visits += [dataclasses.replace(v, window_open=max(v.window_open, at)) for v in change.visits]
    # A link with one visit begun and the other not: the begun one is fixed, so the link becomes
    # the other's window (the search moves a linked pair as one unit, and this one cannot move).
    links: list[Link] = []
    index = {v.id: i for i, v in enumerate(visits)}
    for link in problem.links:
        if {link.first, link.second} & cancelled:
            continue
        begun = [vid for vid in (link.first, link.second) if vid in fixed]
        if len(begun) != 1:
            links.append(link)
            continue
        other = link.second if begun[0] == link.first else link.first
        visits[index[other]] = _bounded(visits[index[other]], link, begun[0], starts[begun[0]])

    started = {route_of[vid][0] for vid in fixed}
    clinicians: list[Clinician] = []
    for c in problem.clinicians:
        made = sum(1 for vid in fixed if route_of[vid][0] == c.id)
        taken = checked.break_starts.get(c.id)
        brk = c.break_
        if brk is not None and taken is not None and taken < at and c.id in started:
            brk = Break(taken, taken, brk.duration)  # begun: it stays
        clinicians.append(
            dataclasses.replace(
                c,
                max_visits=made if c.id in lost else c.max_visits,
                break_=_break_from(brk, at) if brk is c.break_ else brk,
            )
        )
    clinicians += [
        dataclasses.replace(c, shift_start=max(c.shift_start, at), break_=_break_from(c.break_, at))
        for c in change.clinicians
    ]
    links += change.links
    for i, link in enumerate(change.links):
        if {link.first, link.second} & cancelled:
            raise ChangeError(f"change.new_links[{i}]: links a cancelled visit")
    weight = stability if stability is not None else _mean_visit_cost(problem, checked)
    day = Problem(
        clinicians=clinicians,
        visits=visits,
        travel_time=problem.travel_time,
        distance=problem.distance,
        links=links,
        weights=dataclasses.replace(problem.weights, reassigned=weight),
        location_ids=problem.location_ids,
        name=problem.name,
    )
    initial = Solution(
        routes=[
            Route(
                r.clinician,
                [x for x in r.visits if x == BREAK or (x not in cancelled and x not in orphans)],
            )
            for r in previous.routes
        ]
    )
    return day, fixed, touched, initial, weight


def _break_from(brk: Break | None, at: float) -> Break | None:
    """A break not yet begun, from `at` on: none if its window has passed (a clinician who had
    not begun their day, or joins it now, is not owed a break they could no longer take)."""
    if brk is None or brk.latest < at:
        return None
    return Break(max(brk.earliest, at), brk.latest, brk.duration)


def _bounded(visit: Visit, link: Link, begun: str, t: float) -> Visit:
    """`visit` with the bounds its link to a visit begun at `t` puts on it, as its window. The
    link's upper bound is hard: a soft close gives way to it (lateness against the soft close,
    when that is earlier, is then not counted)."""
    if link.kind == SIMULTANEOUS:
        low, high = t, t
    elif begun == link.first:  # the second: between min_gap and max_gap after the first
        low, high = t + link.min_gap, t + link.max_gap
    else:  # the first, of a second already begun
        low, high = t - link.max_gap, t - link.min_gap
    close = min(visit.window_close, high) if visit.hard_close else high
    return dataclasses.replace(
        visit, window_open=max(visit.window_open, low), window_close=close, hard_close=True
    )


def _mean_visit_cost(problem: Problem, report: Report) -> float:
    """The old plan's objective, without visits left out, per visit it makes (at least 1)."""
    made = len(report.starts)
    if not made:
        return 1.0
    soft = report.objective - problem.weights.unassigned * report.terms["unassigned"]
    return max(1.0, soft / made)


def _assignment(
    problem: Problem, solution: Solution, report: Report | None = None
) -> dict[str, tuple[str | None, float | None]]:
    """visit -> (clinician, start) in a plan (start from the validator's timing)."""
    report = report or validate(problem, solution)
    out: dict[str, tuple[str | None, float | None]] = {}
    for route in solution.routes:
        for vid in route.visits:
            if vid != BREAK:
                out[vid] = (route.clinician, report.starts.get(vid))
    for vid in solution.unassigned:
        out.setdefault(vid, (None, None))
    return out


def _moved(
    change: Change,
    before: dict[str, tuple[str | None, float | None]],
    after: dict[str, tuple[str | None, float | None]],
    solution: Solution,
    touched: set[str],
    pinned: set[str],
    partner: dict[str, str],
) -> list[Moved]:
    """Every visit the change or the new plan moved, with the reason."""
    at = _clock(change.at)
    lost = set(change.lost)
    new = {v.id for v in change.visits}
    gained = {c.id for c in change.clinicians}
    # which routes took in visits the change set loose (new ones, or a lost clinician's)
    took: dict[str, list[str]] = {}
    for vid in touched:
        who = after.get(vid, (None, None))[0]
        if who is not None:
            took.setdefault(who, []).append(vid)
    out: list[Moved] = []
    for vid in change.cancel:
        was, start = before.get(vid, (None, None))
        out.append(Moved(vid, was, None, start, None, f"cancelled at {at}"))
    for vid, (who, start) in sorted(after.items()):
        was, was_start = before.get(vid, (None, None))
        if vid in new:
            why = (
                f"new visit, placed with {who}"
                if who is not None
                else f"new visit, not placed: {solution.unassigned.get(vid, 'no room')}"
            )
            out.append(Moved(vid, None, who, None, start, why))
            continue
        if who is None:
            if was is not None:
                reason = solution.unassigned.get(vid, "no room")
                if vid in pinned:
                    reason = f"it is pinned to {was}, so no one else may make it"
                why = (
                    f"its clinician {was} is not available from {at}, and it could not be "
                    f"placed elsewhere: {reason}"
                    if was in lost
                    else f"left out: {reason}"
                )
                out.append(Moved(vid, was, None, was_start, None, why))
            continue
        if was in lost:
            why = f"its clinician {was} is not available from {at}; now with {who}"
        elif was is None:
            why = f"was left out; now placed with {who}"
        elif was != who:
            if who in gained:
                why = f"moved from {was} to {who}, who joined the day at {at}"
            elif took.get(was):
                why = (
                    f"moved from {was} to {who} to make room on {was}'s route for "
                    f"{', '.join(sorted(took[was]))}"
                )
            else:
                why = f"moved from {was} to {who}: the day re-sequenced around the change"
        elif start is not None and was_start is not None and abs(start - was_start) >= SHIFT_NOTICE:
            mate = partner.get(vid)
            if (
                mate is not None
                and after.get(mate, (None, None))[0] != before.get(mate, (None, None))[0]
            ):
                reason = f"its linked visit {mate} moved to {after[mate][0]}"
            elif took.get(who):
                reason = f"its route now takes in {', '.join(sorted(took[who]))}"
            else:
                reason = "its route changed"
            why = f"same clinician, now at {_clock(start)} instead of {_clock(was_start)}: {reason}"
        else:
            continue
        out.append(Moved(vid, was, who, was_start, start, why))
    return out


def _clock(minutes: float) -> str:
    """Minutes of the day as hh:mm."""
    whole = round(minutes)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ChangeError(f"change.{key}: must be a list")
    return value


def _ids(data: Mapping[str, Any], key: str) -> list[str]:
    values = _list(data, key)
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise ChangeError(f"change.{key}[{i}]: must be an id")
    if len(set(values)) != len(values):
        raise ChangeError(f"change.{key}: names an id twice")
    return list(values)


def describe_replan(result: Replan) -> dict[str, Any]:
    """The re-planning's report as JSON (the plan itself comes from solve.describe)."""
    return {
        "objective_without_stability": round(result.objective, 6),
        "stability_weight": round(result.stability, 6),
        "fixed": result.fixed,
        "touched": result.touched,
        "kept_clinician": {
            "untouched_visits": result.untouched,
            "kept": result.kept,
            "share": round(result.kept_share, 4),
        },
        "moved": [dataclasses.asdict(m) for m in result.moved],
    }


__all__: Sequence[str] = ("Change", "ChangeError", "Moved", "Replan", "changed_day", "replan")

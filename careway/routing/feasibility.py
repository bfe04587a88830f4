"""Visits no plan can include, and why: found before any search, so a solver never has to.

A visit cannot be placed when no clinician may make it (no one has its skill, its pinned
clinician lacks the skill or takes no visits), when its window closes hard before any clinician
who may make it can get there, or when its linked visit cannot be placed (a pair goes in together
or not at all), or when a simultaneous pair has no two different clinicians to make it.
"""

from .model import SIMULTANEOUS, Clinician, Problem, Visit

EPS = 1e-9


def reachable(problem: Problem, clinician: Clinician, visit: Visit) -> bool:
    """Whether `clinician` can start `visit` before a hard window closes, coming straight from
    the start of their day."""
    if not visit.hard_close:
        return True
    arrival = clinician.shift_start + problem.travel_time[clinician.start, visit.location]
    return max(arrival, visit.window_open) <= visit.window_close + EPS


def able(problem: Problem, visit: Visit) -> list[Clinician]:
    return [
        c
        for c in problem.clinicians
        if problem.can_make(c, visit) and c.max_visits != 0 and reachable(problem, c, visit)
    ]


def unplaceable(problem: Problem) -> dict[str, str]:
    """Visit id -> the reason it cannot be in any plan."""
    reasons: dict[str, str] = {}
    who: dict[str, list[Clinician]] = {}
    for visit in problem.visits:
        who[visit.id] = able(problem, visit)
        if not who[visit.id]:
            reasons[visit.id] = _why(problem, visit)
    for link in problem.links:
        first, second = problem.visit(link.first), problem.visit(link.second)
        if link.kind == SIMULTANEOUS and not reasons.keys() & {first.id, second.id}:
            pairs = [(a, b) for a in who[first.id] for b in who[second.id] if a.id != b.id]
            if not pairs:
                why = "two different clinicians must start it together, and no two can"
                reasons[first.id] = reasons[second.id] = why
        for this, other in ((first, second), (second, first)):
            if other.id in reasons and this.id not in reasons:
                reasons[this.id] = f"its linked visit {other.id} cannot be placed"
    return reasons


def _why(problem: Problem, visit: Visit) -> str:
    allowed = [c for c in problem.clinicians if problem.can_make(c, visit)]
    if visit.pinned_to is not None and not allowed:
        return f"pinned to {visit.pinned_to}, who does not have the skill {visit.skill!r}"
    if not allowed:
        return f"no clinician has the skill {visit.skill!r}"
    if all(c.max_visits == 0 for c in allowed):
        return "every clinician who may make it takes no visits (max_visits 0)"
    return (
        f"its window closes at {visit.window_close:g} (hard), before any clinician who may make "
        "it can get there"
    )

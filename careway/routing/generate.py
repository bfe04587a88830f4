"""A realistic agency day, made up but shaped like one: for benchmarks, tests and demos.

An agency around Burlington, Vermont (about 25 km across): nurses, therapists, a social worker
and aides, most leaving from home; visits sized by discipline; time windows as patients give
them (a two-hour slot, a morning or afternoon, any time); some windows hard (a dialysis run, an
insulin time); two-person visits (a bariatric transfer: a nurse and an aide together) and ordered
pairs (the nurse assesses, then the aide bathes 30 to 90 minutes later); and most patients with
the clinician they know. Deterministic for a seed. Returns the JSON format of
docs/routing/problem.schema.json, so the result can be saved and solved from the command line.
"""

import random
from typing import Any

CENTRE = (44.4759, -73.2121)  # the office
SPREAD_DEGREES = (0.09, 0.12)  # about 10 km north-south and east-west either side
UTILISATION = 0.85
DAY_START, DAY_END = 480, 990  # 08:00 to 16:30

# Discipline: (share of clinicians, visit minutes, visits a day at most)
DISCIPLINES: dict[str, tuple[float, int, int]] = {
    "RN": (0.30, 40, 8),
    "LPN": (0.10, 35, 8),
    "PT": (0.15, 45, 8),
    "OT": (0.08, 45, 8),
    "SLP": (0.02, 45, 7),
    "MSW": (0.05, 50, 6),
    "HHA": (0.30, 45, 8),
}


def agency_day(
    clinicians: int = 40,
    visits: int = 300,
    *,
    two_person: float = 0.10,
    ordered: float = 0.10,
    continuity: float = 0.6,
    seed: int = 1,
) -> dict[str, Any]:
    """A day of `visits` visits for `clinicians` clinicians. `two_person` and `ordered` are the
    shares of visits in simultaneous and in ordered pairs; `continuity` the share of visits
    whose patient has a preferred clinician."""
    rng = random.Random(seed)
    locations: list[dict[str, Any]] = [{"id": "office", "lat": CENTRE[0], "lon": CENTRE[1]}]

    def place(name: str) -> str:
        lat = CENTRE[0] + rng.uniform(-1, 1) * SPREAD_DEGREES[0]
        lon = CENTRE[1] + rng.uniform(-1, 1) * SPREAD_DEGREES[1]
        locations.append({"id": name, "lat": round(lat, 5), "lon": round(lon, 5)})
        return name

    staff = _staff(clinicians, rng, place)
    by_skill: dict[str, list[str]] = {}
    for c in staff:
        by_skill.setdefault(c["skills"][0], []).append(c["id"])

    out: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    n_pairs_together = round(visits * two_person / 2)
    n_pairs_ordered = round(visits * ordered / 2)
    home = 0

    def patient() -> str:
        nonlocal home
        home += 1
        return place(f"home-{home}")

    for i in range(n_pairs_together):
        where = patient()
        window = _window(rng)
        a = _visit(f"transfer-{i + 1}-rn", where, "RN", window, rng, by_skill, continuity)
        b = _visit(f"transfer-{i + 1}-hha", where, "HHA", window, rng, by_skill, continuity)
        out += [a, b]
        links.append({"type": "simultaneous", "visits": [a["id"], b["id"]]})
    for i in range(n_pairs_ordered):
        where = patient()
        window = _window(rng)
        a = _visit(f"care-{i + 1}-rn", where, "RN", window, rng, by_skill, continuity)
        opens, closes = window
        assert opens is not None  # a window always opens
        later: list[float | None] = [opens + 30, None if closes is None else closes + 90]
        b = _visit(f"care-{i + 1}-hha", where, "HHA", later, rng, by_skill, continuity)
        out += [a, b]
        links.append(
            {"type": "ordered", "visits": [a["id"], b["id"]], "min_gap": 30, "max_gap": 90}
        )

    # The rest by discipline in proportion to the room each discipline has left at 85% of its
    # clinicians' visit limits; once every discipline is that full, in proportion to the room
    # left at 100%. No discipline is booked past what its clinicians can make unless the whole
    # staff cannot make the day (more visits than their limits add up to); then the surplus
    # goes by share, and the plan leaves it out with the reason.
    def left(share: float) -> dict[str, float]:
        return {
            s: share * DISCIPLINES[s][2] * len(ids) - sum(v["skill"] == s for v in out)
            for s, ids in by_skill.items()
        }

    room, full = left(UTILISATION), left(1.0)
    while len(out) < visits:
        weights = {s: r for s, r in room.items() if r >= 1} or {
            s: r for s, r in full.items() if r >= 1
        }
        if not weights:
            weights = {s: float(len(ids)) for s, ids in by_skill.items()}
        skill = rng.choices(list(weights), list(weights.values()))[0]
        room[skill] -= 1
        full[skill] -= 1
        out.append(
            _visit(
                f"visit-{len(out) + 1}", patient(), skill, _window(rng), rng, by_skill, continuity
            )
        )
    return {
        "name": f"Agency day: {clinicians} clinicians, {len(out)} visits (seed {seed})",
        "locations": locations,
        "travel": {"detour_factor": 1.35, "speed_kmh": 40},
        "clinicians": staff,
        "visits": out,
        "links": links,
        "weights": {
            "travel": 1,
            "total_lateness": 1,
            "max_lateness": 1,
            "continuity": 10,
            "overtime": 2,
            "unassigned": 10000,
        },
    }


def _staff(count: int, rng: random.Random, place: Any) -> list[dict[str, Any]]:
    skills = list(DISCIPLINES)
    numbers = {s: max(1, round(count * DISCIPLINES[s][0])) for s in skills}
    while sum(numbers.values()) > count:  # rounding: take from the largest
        numbers[max(numbers, key=lambda s: numbers[s])] -= 1
    while sum(numbers.values()) < count:
        numbers["RN"] += 1
    staff = []
    for skill in skills:
        for n in range(numbers[skill]):
            ident = f"{skill.lower()}-{n + 1}"
            start = "office" if rng.random() < 0.3 else place(f"{ident}-home")
            late = rng.random() < 0.25  # some start at 9
            staff.append(
                {
                    "id": ident,
                    "start": start,
                    "shift": [DAY_START + (60 if late else 0), DAY_END + (60 if late else 0)],
                    "skills": [skill, "LPN"] if skill == "RN" else [skill],
                    "max_visits": DISCIPLINES[skill][2],
                    "break": {"window": [690, 810], "duration": 30},
                }
            )
    return staff


def _window(rng: random.Random) -> list[float | None]:
    kind = rng.random()
    if kind < 0.4:  # a two-hour slot
        opens = rng.randrange(DAY_START, DAY_END - 150, 30)
        return [opens, opens + 120]
    if kind < 0.8:  # the morning or the afternoon
        return [DAY_START, 720] if rng.random() < 0.5 else [720, DAY_END - 30]
    return [DAY_START, None]  # any time


def _visit(
    ident: str,
    where: str,
    skill: str,
    window: list[float | None],
    rng: random.Random,
    by_skill: dict[str, list[str]],
    continuity: float,
) -> dict[str, Any]:
    visit: dict[str, Any] = {
        "id": ident,
        "location": where,
        "duration": DISCIPLINES[skill][1],
        "skill": skill,
        "window": list(window),
    }
    if window[1] is not None and rng.random() < 0.1:
        visit["window_close"] = "hard"
    if rng.random() < continuity and by_skill.get(skill):
        visit["preferred"] = rng.choice(by_skill[skill])
    return visit

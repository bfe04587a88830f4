"""Visits no plan can include come back with the reason, before any search."""

from careway.routing.feasibility import unplaceable
from careway.routing.model import Problem


def day(visits, links=(), clinicians=None):
    return Problem.from_json(
        {
            "locations": [{"id": "office", "x": 0, "y": 0}, {"id": "home", "x": 60, "y": 0}],
            "travel": {"detour_factor": 1.0, "speed": 1},
            "clinicians": clinicians
            or [
                {"id": "rn", "start": "office", "shift": [480, 960], "skills": ["RN"]},
                {"id": "hha", "start": "office", "shift": [480, 960], "skills": ["HHA"]},
            ],
            "visits": [{"location": "home", "duration": 30, **v} for v in visits],
            "links": list(links),
        }
    )


def test_a_visit_everyone_can_make_is_placeable():
    assert unplaceable(day([{"id": "a", "skill": "RN"}, {"id": "b"}])) == {}


def test_a_skill_nobody_has():
    reasons = unplaceable(day([{"id": "a", "skill": "SLP"}]))
    assert reasons == {"a": "no clinician has the skill 'SLP'"}


def test_a_hard_window_nobody_can_reach():
    # The home is 60 minutes from the office; shifts start at 480: the earliest start is 540.
    late = day([{"id": "a", "skill": "RN", "window": [500, 530], "window_close": "hard"}])
    assert "closes at 530 (hard)" in unplaceable(late)["a"]
    soft = day([{"id": "a", "skill": "RN", "window": [500, 530]}])
    assert unplaceable(soft) == {}  # late at a cost, but placeable


def test_a_pin_to_someone_without_the_skill():
    reasons = unplaceable(day([{"id": "a", "skill": "RN", "pinned": {"clinician": "hha"}}]))
    assert reasons["a"] == "pinned to hha, who does not have the skill 'RN'"


def test_a_linked_visit_goes_out_with_its_partner():
    visits = [{"id": "a", "skill": "RN"}, {"id": "b", "skill": "SLP"}]
    links = [{"type": "ordered", "visits": ["a", "b"], "min_gap": 0, "max_gap": 60}]
    reasons = unplaceable(day(visits, links))
    assert reasons["a"] == "its linked visit b cannot be placed"


def test_a_simultaneous_pair_needs_two_different_clinicians():
    nurses = [{"id": "rn", "start": "office", "shift": [480, 960], "skills": ["RN"]}]
    visits = [{"id": "a", "skill": "RN"}, {"id": "b", "skill": "RN"}]
    links = [{"type": "simultaneous", "visits": ["a", "b"]}]
    reasons = unplaceable(day(visits, links, nurses))
    assert set(reasons) == {"a", "b"} and "two different clinicians" in reasons["a"]

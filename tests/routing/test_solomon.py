"""Reading Solomon's VRPTW text format, and writing a plan back as customer numbers."""

import math

import pytest

from careway.routing.formats import solomon
from careway.routing.model import ProblemError, Route, Solution
from careway.routing.validate import validate

TINY = """TINY1

VEHICLE
NUMBER     CAPACITY
  2         50

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0       1000          0
    1      3          4         10         10        100         10
    2      6          8         20          0        200         10
    3      0         10         30         50        300          5
"""


def test_a_small_instance_maps_onto_the_model():
    problem = solomon.parse(TINY, "tiny.txt")
    assert problem.name == "TINY1"
    assert [c.id for c in problem.clinicians] == ["vehicle-1", "vehicle-2"]
    vehicle = problem.clinicians[0]
    assert (vehicle.start, vehicle.end, vehicle.shift_start, vehicle.shift_end) == (0, 0, 0, 1000)
    assert vehicle.capacity == 50
    assert [v.id for v in problem.visits] == ["1", "2", "3"]
    first = problem.visit("1")
    assert (first.window_open, first.window_close, first.hard_close) == (10, 100, True)
    assert (first.duration, first.demand, first.location) == (10, 10, 1)
    # Euclidean, double precision, no detour; travel time is the distance.
    assert problem.distance[0, 1] == 5.0
    assert problem.travel_time[1, 3] == pytest.approx(math.hypot(3, 6))
    assert (problem.travel_time == problem.distance).all()
    w = problem.weights
    assert (w.travel, w.total_lateness, w.max_lateness, w.overtime) == (1, 0, 0, 0)
    assert w.unassigned > 1000  # leaving a customer out never pays


def test_solution_json_lists_customer_numbers_in_visiting_order():
    problem = solomon.parse(TINY, "tiny.txt")
    solution = Solution(
        [Route("vehicle-1", ["2", "1"]), Route("vehicle-2", []), Route("vehicle-2", ["3"])]
    )
    assert solomon.solution_json(problem, solution) == {"routes": [[2, 1], [3]]}
    report = validate(
        problem, Solution([Route("vehicle-1", ["1", "2"]), Route("vehicle-2", ["3"])])
    )
    assert report.feasible
    assert report.terms["travel"] == pytest.approx(5 + 5 + 10 + 10 + 10)


def test_reading_c101(shared_data):
    problem = solomon.read_instance(shared_data("vrptw", "solomon", "C101.txt"))
    assert problem.name == "C101"
    assert len(problem.clinicians) == 25
    assert {c.capacity for c in problem.clinicians} == {200}
    assert len(problem.visits) == 100
    assert sum(v.demand for v in problem.visits) == 1810  # BKS.json: total_demand
    depot = problem.clinicians[0]
    assert (depot.shift_start, depot.shift_end) == (0, 1236)
    first = problem.visit("1")  # 1  45  68  10  912  967  90
    assert (first.window_open, first.window_close, first.duration, first.demand) == (
        912,
        967,
        90,
        10,
    )
    assert problem.distance[0, 1] == pytest.approx(math.hypot(5, 18))


@pytest.mark.parametrize(
    "change, where, words",
    [
        (
            ("    2      6          8         20", "    2      6          x         20"),
            "line 12",
            "YCOORD.: 'x' is not a number",
        ),
        (
            (
                "    3      0         10         30         50        300          5",
                "    3      0         10         30         50        300",
            ),
            "line 13",
            "expected 7 fields",
        ),
        (("  2         50", "  2"), "line 5", "expected NUMBER and CAPACITY"),
        (("  2         50", "  two       50"), "line 5", "NUMBER (of vehicles): 'two'"),
        (
            ("        10        100", "       150        100"),
            "line 11",
            "DUE DATE: 100 is before READY TIME 150",
        ),
        (("    3      0", "    2      0"), "line 13", "CUST NO.: 2 is already used on line 12"),
        (
            ("         30         50", "         60         50"),
            "line 13",
            "DEMAND: 60 is more than a vehicle carries",
        ),
        (("CUSTOMER\n", "CUSTOMERS\n"), "tiny.txt", "no CUSTOMER section"),
        (("VEHICLE\n", "\n"), "tiny.txt", "no VEHICLE section"),
    ],
)
def test_malformed_files_name_the_line_and_the_field(change, where, words):
    old, new = change
    assert old in TINY
    with pytest.raises(ProblemError) as caught:
        solomon.parse(TINY.replace(old, new, 1), "tiny.txt")
    assert where in caught.value.where
    assert words in str(caught.value)


def test_an_empty_or_missing_file():
    with pytest.raises(ProblemError, match="is empty"):
        solomon.parse("  \n\n", "empty.txt")
    with pytest.raises(ProblemError, match="cannot be read"):
        solomon.read_instance("/nonexistent/R101.txt")
    with pytest.raises(ProblemError, match="needs the depot row and at least one customer"):
        solomon.parse(TINY.split("    1 ")[0], "tiny.txt")

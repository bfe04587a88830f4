"""`careway route` and `careway bench`: plans as JSON, and a clear message for wrong input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from careway.routing.cli import main

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "docs" / "routing" / "examples"


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_every_example_solves_to_a_plan_that_check_accepts_as_printed(capsys, tmp_path, example):
    status, out, _ = run(capsys, "route", "solve", str(example), "--seconds", "3")
    plan = json.loads(out)
    assert status == 0 and plan["feasible"] and plan["unassigned"] == []
    saved = tmp_path / "plan.json"
    saved.write_text(out)
    status, out, _ = run(capsys, "route", "check", str(example), str(saved))
    assert json.loads(out)["violations"] == [] and status == 0


def test_solve_prints_a_plan_that_check_accepts(capsys, tmp_path):
    status, out, _ = run(
        capsys, "route", "solve", str(EXAMPLES / "two-person.json"), "--seconds", "2"
    )
    assert status == 0
    plan = json.loads(out)
    assert plan["feasible"] and plan["unassigned"] == []
    starts = {s["visit"]: s["start"] for r in plan["routes"] for s in r["stops"]}
    assert starts["transfer-rn"] == starts["transfer-hha"] == 60  # 50 minutes away, opens at 60
    stop = next(s for r in plan["routes"] for s in r["stops"])
    assert stop["arrival"] == 50 and stop["end"] == 90
    assert plan["terms"]["travel"] == pytest.approx(200)  # two round trips of 50
    saved = tmp_path / "plan.json"
    saved.write_text(out)
    status, out, _ = run(capsys, "route", "check", str(EXAMPLES / "two-person.json"), str(saved))
    assert status == 0 and json.loads(out)["objective"] == pytest.approx(plan["objective"])


def test_check_refuses_a_plan_that_breaks_a_link(capsys, tmp_path):
    plan = {
        "routes": [
            {"clinician": "nurse", "visits": ["transfer-rn"], "starts": [60]},
            {"clinician": "aide", "visits": ["transfer-hha"], "starts": [75]},
        ]
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    status, out, _ = run(capsys, "route", "check", str(EXAMPLES / "two-person.json"), str(path))
    assert status == 1
    report = json.loads(out)
    assert not report["feasible"]
    assert any("transfer" in v["message"] for v in report["violations"])


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read it"),
        ("{not json", "not valid JSON"),
        (
            '{"locations": [{"id": "o", "x": 0, "y": 0}], "clinicians": [], "visits": '
            '[{"id": "v", "location": "nowhere", "duration": 5}]}',
            "visits[0].location",
        ),
    ],
)
def test_wrong_input_is_one_line_and_status_2(capsys, tmp_path, content, words):
    path = tmp_path / "problem.json"
    if content is not None:
        path.write_text(content)
    status, out, err = run(capsys, "route", "solve", str(path), "--seconds", "1")
    assert status == 2 and out == ""
    assert words in err and "Traceback" not in err


def test_a_bad_time_limit_is_named(capsys):
    status, _, err = run(
        capsys, "route", "solve", str(EXAMPLES / "two-person.json"), "--seconds", "soon"
    )
    assert status == 2 and "soon" in err


@pytest.mark.parametrize("value", ["0", "two", "-1", "1000"])
def test_a_bad_process_count_is_named(capsys, value):
    status, out, err = run(
        capsys, "route", "solve", str(EXAMPLES / "two-person.json"), "--processes", value
    )
    assert status == 2 and out == "" and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("careway route solve: argument --processes")


def test_solve_on_two_processes_prints_a_plan_that_check_accepts(capsys, tmp_path):
    example = EXAMPLES / "two-person.json"
    status, out, _ = run(
        capsys, "route", "solve", str(example), "--seconds", "2", "--processes", "2"
    )
    plan = json.loads(out)
    assert status == 0 and plan["feasible"] and plan["unassigned"] == []
    saved = tmp_path / "plan.json"
    saved.write_text(out)
    status, out, _ = run(capsys, "route", "check", str(example), str(saved))
    assert status == 0 and json.loads(out)["objective"] == pytest.approx(plan["objective"])


def test_the_careway_command_runs_routing_without_django(tmp_path):
    careway = Path(sys.executable).parent / "careway"
    reply = subprocess.run(
        [str(careway), "route", "solve", str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert reply.returncode == 2
    assert "missing.json: cannot read it" in reply.stderr and "Traceback" not in reply.stderr


def test_bench_hhcrsp_prints_a_line_and_writes_the_published_format(capsys, tmp_path, shared_data):
    instance = shared_data("hhcrsp", "mankowska", "InstanzCPLEX_HCSRP_10_1.json")
    status, out, _ = run(
        capsys, "bench", "hhcrsp", str(instance), "--seconds", "2", "--solutions", str(tmp_path)
    )
    assert status == 0
    line = json.loads(out)
    assert set(line) == {
        "instance",
        "cost",
        "distance",
        "total_tardiness",
        "max_tardiness",
        "routes",
        "feasible",
        "seconds",
    }
    assert line["feasible"] and line["instance"] == "InstanzCPLEX_HCSRP_10_1"
    assert line["cost"] == pytest.approx(
        (line["distance"] + line["total_tardiness"] + line["max_tardiness"]) / 3, abs=0.01
    )
    from careway.routing.formats import hhcrsp
    from careway.routing.validate import validate

    problem = hhcrsp.read_instance(instance)
    written = hhcrsp.read_solution(problem, tmp_path / "InstanzCPLEX_HCSRP_10_1.json")
    assert validate(problem, written).objective == pytest.approx(line["cost"], abs=0.01)


def test_bench_vrptw_writes_every_customer_once(capsys, tmp_path, shared_data):
    instance = shared_data("vrptw", "solomon", "C101.txt")
    status, out, _ = run(
        capsys, "bench", "vrptw", str(instance), "--seconds", "2", "--solutions", str(tmp_path)
    )
    assert status == 0 and json.loads(out)["feasible"]
    routes = json.loads((tmp_path / "C101.json").read_text())["routes"]
    assert sorted(c for r in routes for c in r) == list(range(1, 101))


def test_bench_names_a_malformed_instance(capsys, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"patients": 3}')
    status, out, err = run(capsys, "bench", "hhcrsp", str(bad), "--seconds", "1")
    assert status == 2 and out == "" and "broken.json" in err and "Traceback" not in err

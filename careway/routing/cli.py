"""`careway route ...` and `careway bench ...`: the routing engine on the command line.

No Django here (the engine is a plain library): careway/__main__.py hands these two commands
over before Django starts.

    careway route solve PROBLEM.json --seconds S [--seed N] [--processes P]
    careway route check PROBLEM.json SOLUTION.json
    careway route replan PROBLEM.json PLAN.json CHANGE.json --seconds S [--stability W]
    careway bench vrptw FILE... --seconds S [--solutions DIR]
    careway bench hhcrsp FILE... --seconds S [--solutions DIR]

Wrong input gets one line naming what is wrong and exit status 2, never a traceback; a plan the
validator rejects exits 1 from `route check`.
"""

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .model import Problem, ProblemError, Solution

USAGE_ERROR = 2


class CliError(Exception):
    """A message for the user: what is wrong with the input, in one line."""


def main(argv: Sequence[str]) -> int:
    """Run `argv` (without the program name: ["route", "solve", ...]); the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(list(argv))
        return int(args.run(args))
    except CliError as error:
        print(f"careway {' '.join(argv[:2])}: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `careway route solve ... | head`: the reader left; nothing to say
        sys.stderr.close()
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="careway", description="Careway's routing engine.")
    top = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    route = top.add_parser("route", help="solve or check one routing problem").add_subparsers(
        dest="action", required=True, parser_class=_Parser
    )
    solve = route.add_parser("solve", help="print the best plan found as JSON")
    solve.add_argument("problem", type=Path, help="a problem in the JSON format of docs/routing")
    solve.add_argument("--seconds", type=_seconds, default=10.0, help="time limit (default 10)")
    solve.add_argument("--seed", type=int, default=0)
    solve.add_argument("--processes", type=_processes, default=1, help=PROCESSES_HELP)
    solve.add_argument("--solver", choices=["pyvrp", "lns", "ortools"], help=argparse.SUPPRESS)
    solve.set_defaults(run=_route_solve)
    check = route.add_parser("check", help="validate a plan and recompute its objective")
    check.add_argument("problem", type=Path)
    check.add_argument("solution", type=Path)
    check.set_defaults(run=_route_check)
    again = route.add_parser(
        "replan", help="re-plan a day under way after a change, keeping what it can"
    )
    again.add_argument("problem", type=Path, help="the day, in the JSON format of docs/routing")
    again.add_argument("plan", type=Path, help="the plan being worked (as route solve prints it)")
    again.add_argument("change", type=Path, help="what changed and when (docs/routing/README.md)")
    again.add_argument("--seconds", type=_seconds, default=5.0, help="time limit (default 5)")
    again.add_argument("--seed", type=int, default=0)
    again.add_argument(
        "--stability",
        type=_weight,
        help="cost of giving a visit to another clinician (default: the plan's mean visit cost)",
    )
    again.add_argument("--processes", type=_processes, default=1, help=PROCESSES_HELP)
    again.set_defaults(run=_route_replan)

    bench = top.add_parser("bench", help="solve published benchmark instances").add_subparsers(
        dest="action", required=True, parser_class=_Parser
    )
    for kind, text in (
        ("vrptw", "Solomon VRPTW instances (text format)"),
        ("hhcrsp", "home health routing instances (JSON of Ceschia et al.)"),
    ):
        one = bench.add_parser(kind, help=text)
        one.add_argument("files", type=Path, nargs="+")
        one.add_argument("--seconds", type=_seconds, default=10.0)
        one.add_argument("--seed", type=int, default=0)
        one.add_argument("--processes", type=_processes, default=1, help=PROCESSES_HELP)
        one.add_argument("--solutions", type=Path, help="write each best solution to this folder")
        one.set_defaults(run=_bench, kind=kind)
    return parser


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise CliError(message)


PROCESSES_HELP = "run the search on this many processes (default 1)"


def _processes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError("give 1 to 256 processes")
    return value


def _weight(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1e9:
        raise argparse.ArgumentTypeError("give a cost of 0 or more")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 24 * 3600:
        raise argparse.ArgumentTypeError("give a time limit above 0 and at most a day")
    return value


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise CliError(f"{path}: cannot read it ({error.strerror})") from None
    except (ValueError, RecursionError) as error:
        raise CliError(f"{path}: not valid JSON ({error})") from None


def _problem(path: Path) -> Problem:
    try:
        return Problem.from_json(_read_json(path))
    except ProblemError as error:
        raise CliError(f"{path}: {error}") from None


def _route_solve(args: argparse.Namespace) -> int:
    problem = _problem(args.problem)
    from .solve import describe, solve

    result = solve(problem, args.seconds, args.seed, solver=args.solver, processes=args.processes)
    print(json.dumps(describe(problem, result), indent=2))
    return 0


def _route_replan(args: argparse.Namespace) -> int:
    problem = _problem(args.problem)
    from .replan import Change, ChangeError, describe_replan, replan
    from .solve import Result, describe

    previous = _solution(args.plan)
    try:
        change = Change.from_json(_read_json(args.change), problem)
        result = replan(
            problem,
            previous,
            change,
            args.seconds,
            args.seed,
            stability=args.stability,
            processes=args.processes,
        )
    except ChangeError as error:
        raise CliError(str(error)) from None
    plan = describe(result.problem, Result(result.solution, result.report, "lns", result.seconds))
    print(json.dumps({**plan, "replan": describe_replan(result)}, indent=2))
    return 0


def _solution(path: Path) -> Solution:
    try:
        return Solution.from_json(_read_json(path))
    except ProblemError as error:
        raise CliError(f"{path}: {error}") from None


def _route_check(args: argparse.Namespace) -> int:
    problem = _problem(args.problem)
    from .validate import validate

    solution = _solution(args.solution)
    report = validate(problem, solution)
    print(
        json.dumps(
            {
                "feasible": report.feasible,
                "objective": round(report.objective, 6),
                "terms": {k: round(v, 6) for k, v in report.terms.items()},
                "violations": [
                    {"kind": v.kind, "where": v.where, "message": v.message}
                    for v in report.violations
                ],
            },
            indent=2,
        )
    )
    return 0 if report.feasible else 1


def _bench(args: argparse.Namespace) -> int:
    from .solve import solve

    if args.solutions is not None:
        try:
            args.solutions.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CliError(f"{args.solutions}: cannot write there ({error.strerror})") from None
    problems = [(path, _bench_problem(args.kind, path)) for path in args.files]  # all read first
    for path, problem in problems:
        began = time.perf_counter()
        result = solve(problem, args.seconds, args.seed, processes=args.processes)
        seconds = time.perf_counter() - began
        terms = result.report.terms
        line = {
            "instance": path.stem,
            "cost": round(result.report.objective, 3),
            "distance": round(terms["travel"], 3),
            "total_tardiness": round(terms["total_lateness"], 3),
            "max_tardiness": round(terms["max_lateness"], 3),
            "routes": sum(1 for r in result.solution.routes if r.visits),
            "feasible": result.feasible and not result.solution.unassigned,
            "seconds": round(seconds, 2),
        }
        print(json.dumps(line), flush=True)
        if args.solutions is not None:
            _write_solution(args.kind, args.solutions, path, problem, result)
    return 0


def _bench_problem(kind: str, path: Path) -> Problem:
    try:
        if kind == "vrptw":
            from .formats import solomon

            return solomon.read_instance(path)
        from .formats import hhcrsp

        return hhcrsp.read_instance(path)
    except OSError as error:
        raise CliError(f"{path}: cannot read it ({error.strerror})") from None
    except (ValueError, RecursionError) as error:  # ProblemError is a ValueError
        raise CliError(f"{path}: {error}") from None


def _write_solution(kind: str, folder: Path, path: Path, problem: Problem, result: Any) -> None:
    if kind == "vrptw":
        from .formats import solomon

        data = solomon.solution_json(problem, result.solution)
    else:
        from .formats import hhcrsp

        data = hhcrsp.write_solution(problem, result.solution, result.report)
    (folder / f"{path.stem}.json").write_text(json.dumps(data, indent=2))

"""Pages and the API read as ratios to a baseline served by the same server in the same run, for
one checkout or for two back to back (before and after a change).

For each checkout (`--tree NAME=PATH`, each with its own PostgreSQL database made by
`careway demo --patients N`, given as `--database NAME=URL`) the script:
1. makes a signed-in session and a read token for the case manager with the largest caseload,
   with that checkout's own code (a subprocess), so the two never share Django;
2. starts gunicorn from that checkout with production settings over plain HTTP on 127.0.0.1;
3. times, one request at a time, the caseload, the chart summary of each patient of the
   caseload, and a bare signed-in page (`/account/`: the session, the menu, no patient data),
   and reports each page's median as a ratio to the bare page's;
4. runs `wrk` (50 connections) against the API patient read and against `/healthz`, and reports
   the API's rate as a ratio to the bare rate.
Checkouts run in turn, round after round (A B A B ...), so that a machine that slows down or
speeds up weighs on both alike. Ratios cancel most of what a shared machine does to absolute
times; the spread between rounds says how much is left.

Usage:
  .venv/bin/python benchmarks/web_ratios.py --tree before=/tmp/careway-before --tree after=. \\
      --database before=postgres://postgres@127.0.0.1:5432/bench_before \\
      --database after=postgres://postgres@127.0.0.1:5432/bench_after --rounds 3
It prints a JSON summary and writes it to benchmarks/results/web-ratios-<date>-<time>.json.
"""

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from web import answering, time_requests, wrk, wrk_script  # benchmarks/web.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
PORT = 8766
BIN = Path(sys.executable).parent
PRODUCTION_ENV = {
    "CAREWAY_ENV": "production",
    "SECURE_SSL_REDIRECT": "false",
    "SECRET_KEY": "benchmark-" + "x7Qp2!" * 10,
    "ALLOWED_HOSTS": "127.0.0.1",
    "CAREWAY_IDLE_TIMEOUT_MINUTES": "60",
    "LOG_LEVEL": "WARNING",
}

# Run inside a checkout, with its code: who to be, and how to prove it.
PREPARE = """
import json, os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careway.settings")
django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db.models import Count
from careway.core import audit, tokens
from careway.core.models import User, UserSession
from careway.patients.models import CareTeamMember
user = (
    User.objects.filter(care_team_roles__active=True, care_team_roles__is_primary_case_manager=True)
    .annotate(n=Count("care_team_roles")).order_by("-n", "pk").first()
)
store = SessionStore()
store[SESSION_KEY] = str(user.pk)
store[BACKEND_SESSION_KEY] = "careway.core.backends.CarewayBackend"
store[HASH_SESSION_KEY] = user.get_session_auth_hash()
store.create()
UserSession.objects.create(user=user, session_key=store.session_key)
actor = audit.Actor.system(via="benchmark")
raw, _ = tokens.create_token(actor, user, "ratios", ["patients:read"], days=1)
ids = CareTeamMember.objects.filter(user=user, active=True).values_list("patient_id", flat=True)
print(json.dumps({"session": store.session_key, "token": raw, "patients": [str(p) for p in ids]}))
"""


def environment(database: str) -> dict[str, str]:
    return dict(os.environ, **PRODUCTION_ENV, DATABASE_URL=database)


def prepare(tree: Path, database: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PREPARE], cwd=tree, env=environment(database),
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_server(tree: Path, database: str, workers: int) -> subprocess.Popen:
    env = environment(database)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=tree, env=env, check=True,
    )  # fmt: skip
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "careway.wsgi", "-b", f"127.0.0.1:{PORT}", "-w", str(workers),
         "--chdir", str(tree), "--worker-class", "sync", "--keep-alive", "30",
         "--log-level", "warning", "--access-logfile", "/dev/null"],
        cwd=tree, env=env, start_new_session=True,
    )  # fmt: skip
    return answering(server, PORT)


def median_ms(paths: list[str], headers: dict[str, str], rounds: int) -> float:
    return time_requests(paths, headers, rounds, port=PORT)["p50_ms"]


def measure(tree: Path, database: str, who: dict, args: argparse.Namespace) -> dict:
    browser = {"Cookie": f"sessionid={who['session']}"}
    bearer = {"Authorization": f"Bearer {who['token']}"}
    charts = [f"/patients/{p}/" for p in who["patients"]]
    server = start_server(tree, database, args.workers)
    try:
        bare_page = median_ms(["/account/"], browser, args.requests)
        caseload = median_ms(["/patients/"], browser, args.requests)
        chart = median_ms(charts, browser, args.requests)
        api_paths = [f"/api/v1/patients/{p}" for p in who["patients"]]
        api = wrk(wrk_script(api_paths), args.seconds, bearer, port=PORT)
        bare_rate = wrk(wrk_script(["/healthz"]), args.seconds, {}, port=PORT)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
    return {
        "bare_page_ms": round(bare_page, 2),
        "caseload_ms": round(caseload, 2),
        "chart_summary_ms": round(chart, 2),
        "api_read_rps": api,
        "healthz_rps": bare_rate,
        "caseload_to_bare_page": round(caseload / bare_page, 3),
        "chart_to_bare_page": round(chart / bare_page, 3),
        "api_to_healthz": round(api / bare_rate, 4),
    }


def pairs(values: list[str], what: str) -> dict[str, str]:
    found = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep:
            raise SystemExit(f"--{what} takes NAME=VALUE, not {value!r}")
        found[name] = rest
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, help="NAME=PATH")
    parser.add_argument("--database", action="append", required=True, help="NAME=URL")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    trees = {name: Path(path).resolve() for name, path in pairs(args.tree, "tree").items()}
    databases = pairs(args.database, "database")
    if set(trees) != set(databases):
        raise SystemExit("Give one --database for each --tree, under the same names")
    people = {name: prepare(trees[name], databases[name]) for name in trees}
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for round_number in range(args.rounds):
        for name in trees:
            result = measure(trees[name], databases[name], people[name], args)
            runs[name].append(result)
            print(f"round {round_number + 1} {name}: {json.dumps(result)}", flush=True)
    summary = {
        name: {
            key: {"median": statistics.median(r[key] for r in results),
                  "min": min(r[key] for r in results), "max": max(r[key] for r in results)}
            for key in ("caseload_to_bare_page", "chart_to_bare_page", "api_to_healthz")
        }
        for name, results in runs.items()
    }  # fmt: skip
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "python": platform.python_version(),
        "gunicorn_workers": args.workers,
        "trees": {name: str(path) for name, path in trees.items()},
        "caseload_sizes": {name: len(who["patients"]) for name, who in people.items()},
        "runs": runs,
        "summary": summary,
    }
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    out_file = out_dir / f"web-ratios-{datetime.now(UTC):%Y-%m-%d-%H%M}.json"
    out_file.write_text(json.dumps(result, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

"""Page latency and API throughput on a large agency, through a real server.

Prerequisite: a PostgreSQL database filled by `careway demo --patients 100000` (5 million
observations), named by DATABASE_URL. This script then:
1. starts gunicorn (production-like: DEBUG off, persistent connections) on 127.0.0.1;
2. signs in the case manager with the largest caseload (a server-side session made directly);
3. times the caseload page, chart pages and a FHIR vital-signs search, one request at a time,
   and reports p50/p95/p99;
4. runs `wrk` with 50 connections from a second process against the API patient read, with a
   fresh token, and against a page that does no work (`/healthz`), and reports both rates and
   their ratio (how close a real, access-checked, audited read comes to the bare framework).

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/careway_bench \
       .venv/bin/python benchmarks/web.py [--requests 300] [--seconds 20] [--workers 3]
It prints a JSON summary and writes it to benchmarks/results/web-<date>-<time>.json.
"""

import argparse
import http.client
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = 8765


# Production settings, but over plain HTTP on the loopback (no TLS proxy in front). The script
# and the server share them, so the session the script makes is valid for the server.
PRODUCTION_ENV = {
    "CAREWAY_ENV": "production",
    "SECURE_SSL_REDIRECT": "false",
    "SECRET_KEY": "benchmark-" + "x7Qp2!" * 10,
    "ALLOWED_HOSTS": "127.0.0.1",
}


def setup_django() -> None:
    os.environ.update(PRODUCTION_ENV)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careway.settings")
    import django

    django.setup()


def busiest_case_manager():
    from django.db.models import Count

    from careway.core.models import User

    return (
        User.objects.filter(
            care_team_roles__active=True, care_team_roles__is_primary_case_manager=True
        )
        .annotate(n=Count("care_team_roles"))
        .order_by("-n")
        .first()
    )


def session_cookie_for(user) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from careway.core.models import UserSession

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "careway.core.backends.CarewayBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    UserSession.objects.create(user=user, session_key=store.session_key)
    return store.session_key


def start_server(workers: int) -> subprocess.Popen:
    env = dict(os.environ, LOG_LEVEL="WARNING")
    # Benchmarks must not be stopped by the idle timeout halfway through.
    env.setdefault("CAREWAY_IDLE_TIMEOUT_MINUTES", "60")
    cmd = [
        str(ROOT / ".venv/bin/gunicorn"),
        "careway.wsgi",
        "-b",
        f"127.0.0.1:{PORT}",
        "-w",
        str(workers),
        "--worker-class",
        "sync",
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        "--access-logfile",
        "/dev/null",
    ]
    subprocess.run(
        [str(ROOT / ".venv/bin/careway"), "collectstatic", "--no-input", "-v0"], env=env, check=True
    )
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    return answering(server, PORT)


def answering(server: subprocess.Popen, port: int, seconds: float = 30) -> subprocess.Popen:
    """The server once it answers /healthz; it is stopped, and the script too, if it never does."""
    for _ in range(int(seconds / 0.2)):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")


def time_requests(paths: list[str], headers: dict[str, str], rounds: int, port: int = PORT) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for path in paths[:5]:  # warm-up
        conn.request("GET", path, headers=headers)
        conn.getresponse().read()
    samples, sizes = [], []
    for i in range(rounds):
        path = paths[i % len(paths)]
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        samples.append((time.perf_counter() - start) * 1000)
        if response.status != 200:
            raise SystemExit(f"GET {path} answered {response.status}")
        sizes.append(len(body))
    samples.sort()
    return {
        "requests": rounds,
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[int(0.95 * (rounds - 1))], 1),
        "p99_ms": round(samples[int(0.99 * (rounds - 1))], 1),
        "mean_bytes": int(statistics.mean(sizes)),
    }


def wrk(path_script: str, seconds: int, headers: dict[str, str], port: int = PORT) -> float:
    args = ["wrk", "-t2", "-c50", f"-d{seconds}s", "-s", path_script]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, f"http://127.0.0.1:{port}"], capture_output=True, text=True)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    if not match:
        raise SystemExit(f"wrk failed: {out.stdout}{out.stderr}")
    if non_2xx:
        raise SystemExit(f"wrk saw {non_2xx.group(1)} error responses:\n{out.stdout}")
    return float(match.group(1))


def wrk_script(paths: list[str]) -> str:
    quoted = ",".join(f'"{p}"' for p in paths)
    lua = (
        f"local paths = {{{quoted}}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        "  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(lua)
    return handle.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to the PostgreSQL database made by careway demo")
    setup_django()
    from careway.core import audit, tokens
    from careway.patients.models import CareTeamMember, Observation, Patient

    user = busiest_case_manager()
    patient_ids = [
        str(pid)
        for pid in CareTeamMember.objects.filter(user=user, active=True).values_list(
            "patient_id", flat=True
        )
    ]
    cookie = session_cookie_for(user)
    raw_token, _ = tokens.create_token(
        audit.Actor.system(via="benchmark"),
        user,
        "benchmark",
        ["patients:read", "fhir:read"],
        days=1,
    )
    browser = {"Cookie": f"sessionid={cookie}"}
    bearer = {"Authorization": f"Bearer {raw_token}"}
    scale = {
        "patients": Patient.objects.count(),
        "observations": Observation.objects.count(),
        "caseload_size": len(patient_ids),
    }
    server = start_server(args.workers)
    try:
        pages = {
            "caseload": time_requests(["/patients/"], browser, args.requests),
            "chart_summary": time_requests(
                [f"/patients/{p}/" for p in patient_ids], browser, args.requests
            ),
            "chart_vitals": time_requests(
                [f"/patients/{p}/vitals/" for p in patient_ids], browser, args.requests
            ),
            # FHIR search of one patient's vital signs (the first page: 50 of about 40 panels
            # and readings), access-checked and audited like every read.
            "fhir_vital_signs_search": time_requests(
                [f"/fhir/R4/Observation?patient={p}&category=vital-signs" for p in patient_ids],
                bearer,
                args.requests,
            ),
        }
        api_paths = [f"/api/v1/patients/{p}" for p in patient_ids]
        api_rps = wrk(wrk_script(api_paths), args.seconds, bearer)
        bare_rps = wrk(wrk_script(["/healthz"]), args.seconds, {})
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "python": platform.python_version(),
        "gunicorn_workers": args.workers,
        "prepared_statements": os.environ.get("DATABASE_PREPARED_STATEMENTS", "true"),
        "scale": scale,
        "pages": pages,
        "api_patient_read_rps_50_clients": api_rps,
        "bare_healthz_rps_50_clients": bare_rps,
        "api_to_bare_ratio": round(api_rps / bare_rps, 3),
    }
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    out_file = out_dir / f"web-{datetime.now(UTC):%Y-%m-%d-%H%M}.json"
    out_file.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

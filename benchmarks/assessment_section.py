"""Opening and saving one section of an assessment on a large agency, in process.

Prerequisite: the PostgreSQL database filled by `careway demo --patients 100000`, named by
DATABASE_URL (see benchmarks/web.py). With production settings (benchmarks/web.py's), this script
signs the case manager with the largest caseload in to Django's test client (force_login) and, for
each iteration, on one of their patients and one section of the comprehensive assessment in turn:

1. starts a start-of-care assessment through the service (`services.start_assessment`), untimed;
2. opens the section page (GET): the first opening, with nothing saved yet;
3. saves it as the page's autosave does (POST of the whole form, `X-Autosave: 1`, `HX-Request`,
   and each questionnaire's `q<n>:version` as the page carries it): every item answered;
4. saves it again with other answers and the versions the first reply sent back (an update);
5. opens it again (GET), the saved answers shown with their scores;
6. opens the chart summary and the caseload, the baseline: pages of the same process, same
   database, same moment, whose own latency the web benchmark already reports.

Every iteration runs in a transaction rolled back at its end, so the database is left as it was
(audit events included: the chain is append-only); the test client's session is deleted at the
end. Inside that transaction the views' own transactions are savepoints and nothing is committed,
so a real request also pays one commit (WAL flush): measured here separately, on the session's own
row, and reported as `commit_ms` (add it to a write's times for what a server pays).

SQL statements per request are counted in a separate, untimed pass over every section.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/careway_bench \
       .venv/bin/python benchmarks/assessment_section.py [--iterations 200] [--patients 40]
       [--profile 20]
It prints a JSON summary and writes it to benchmarks/results/assessment-section-<date>-<time>.json;
--profile N also profiles N extra section openings and N saves (cProfile) and writes the top
functions by cumulative time beside it.
"""

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scoring import random_answers  # noqa: E402
from web import busiest_case_manager, setup_django  # noqa: E402

# Every patient of the benchmark agency has a signed start-of-care assessment (the loader makes
# one): a resumption of care opens the same sections.
TIME_POINT = "resumption-of-care"
GOAL_P95_MS = 150.0
VERSION_INPUT = re.compile(r'name="(q\d+:version)" value="(\d+)"')
VERSION_REPLY = re.compile(r'id="(q\d+:version)" name="q\d+:version" value="(\d+)"')
SAVEPOINT = re.compile(r"(RELEASE |ROLLBACK TO )?SAVEPOINT ")
HOST = {"HTTP_HOST": "127.0.0.1"}
AUTOSAVE = {"HTTP_X_AUTOSAVE": "1", "HTTP_HX_REQUEST": "true", **HOST}


class Rollback(Exception):
    """Raised at the end of an iteration to undo everything it wrote."""


def summary(samples: list[float]) -> dict[str, float | int]:
    ordered = sorted(samples)
    return {
        "requests": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
        "mean_ms": round(statistics.mean(ordered), 1),
    }


def section_post(section, rng: random.Random, versions: dict[str, str]) -> dict[str, list[str]]:
    """What the browser's form posts for this section with every item answered (a random option,
    or either end of a number's range), through the form's own field names and values."""
    from careway.assessments import catalog, form

    data: dict[str, list[str]] = {}
    for index, part in enumerate(section.parts):
        questionnaire = catalog.shipped_by_id(part.questionnaire)
        answers = random_answers(questionnaire, rng)
        prefix = f"q{index}"
        for field in form.flat_fields(form.form_fields(questionnaire, answers, prefix)):
            for name, value in field.posted_values():
                data.setdefault(name, []).append(value)
        data[f"{prefix}:version"] = [versions.get(f"{prefix}:version", "0")]
    return data


def statements(captured) -> int:
    return sum(1 for q in captured.captured_queries if not SAVEPOINT.match(q["sql"]))


def timed(call) -> tuple[float, Any]:
    start = time.perf_counter()
    response = call()
    return (time.perf_counter() - start) * 1000, response


def expect(response, status: int, what: str, saying: str = "") -> None:
    if response.status_code != status or saying not in response.content.decode():
        body = response.content.decode(errors="replace")[:600]
        raise SystemExit(f"{what}: answered {response.status_code}, expected {status}\n{body}")


class Bench:
    def __init__(self, client, actor, patients, sections, rng):
        self.client, self.actor, self.patients = client, actor, patients
        self.sections, self.rng = sections, rng

    def urls(self, patient, assessment, section) -> dict[str, str]:
        from django.urls import reverse

        return {
            "section": reverse("assessment_section", args=[patient.pk, assessment.pk, section.key]),
            "chart": reverse("chart", args=[patient.pk]),
            "caseload": reverse("caseload"),
        }

    def iteration(self, i: int, samples: dict[str, list[float]] | None) -> None:
        """One patient, one section: open, save, save again, reopen; then the baseline pages.
        Everything written is rolled back."""
        from django.db import transaction

        from careway.assessments import services

        patient = self.patients[i % len(self.patients)]
        section = self.sections[i % len(self.sections)]
        times: dict[str, float] = {}
        try:
            with transaction.atomic():
                assessment = services.start_assessment(self.actor, patient, TIME_POINT)
                url = self.urls(patient, assessment, section)
                times["open_first"], page = timed(lambda: self.client.get(url["section"], **HOST))
                expect(page, 200, f"GET {url['section']}")
                versions = dict(VERSION_INPUT.findall(page.content.decode()))
                data = section_post(section, self.rng, versions)
                times["save_first"], reply = timed(
                    lambda: self.client.post(url["section"], data, **AUTOSAVE)
                )
                expect(reply, 200, f"autosave {url['section']}", saying="Saved at")
                versions = dict(VERSION_REPLY.findall(reply.content.decode()))
                if len(versions) != len(section.parts) or "0" in versions.values():
                    raise SystemExit(f"autosave of {section.key} kept nothing: {versions}")
                data = section_post(section, self.rng, versions)
                times["save_again"], reply = timed(
                    lambda: self.client.post(url["section"], data, **AUTOSAVE)
                )
                expect(reply, 200, f"second autosave {url['section']}", saying="Saved at")
                times["open_saved"], page = timed(lambda: self.client.get(url["section"], **HOST))
                expect(page, 200, f"GET {url['section']} after saving")
                times["chart_summary"], page = timed(lambda: self.client.get(url["chart"], **HOST))
                expect(page, 200, f"GET {url['chart']}")
                times["caseload"], page = timed(lambda: self.client.get(url["caseload"], **HOST))
                expect(page, 200, "GET caseload")
                raise Rollback
        except Rollback:
            pass
        if samples is not None:
            for name, ms in times.items():
                samples.setdefault(name, []).append(ms)
                samples.setdefault(f"{name}@{section.key}", []).append(ms)

    def query_counts(self) -> dict[str, dict[str, int]]:
        """SQL statements of each request, per section (untimed, rolled back). The savepoints
        the rolled-back transaction turns the views' transactions into are not counted (a
        server sends BEGIN and COMMIT instead, which Django does not log either)."""
        from django.db import connection, transaction
        from django.test.utils import CaptureQueriesContext

        from careway.assessments import services

        counts: dict[str, dict[str, int]] = {}
        patient = self.patients[0]
        for section in self.sections:
            row: dict[str, int] = {}
            try:
                with transaction.atomic():
                    assessment = services.start_assessment(self.actor, patient, TIME_POINT)
                    url = self.urls(patient, assessment, section)
                    with CaptureQueriesContext(connection) as q:
                        page = self.client.get(url["section"], **HOST)
                    row["open_first"] = statements(q)
                    versions = dict(VERSION_INPUT.findall(page.content.decode()))
                    data = section_post(section, self.rng, versions)
                    with CaptureQueriesContext(connection) as q:
                        reply = self.client.post(url["section"], data, **AUTOSAVE)
                    row["save_first"] = statements(q)
                    versions = dict(VERSION_REPLY.findall(reply.content.decode()))
                    data = section_post(section, self.rng, versions)
                    with CaptureQueriesContext(connection) as q:
                        self.client.post(url["section"], data, **AUTOSAVE)
                    row["save_again"] = statements(q)
                    with CaptureQueriesContext(connection) as q:
                        self.client.get(url["section"], **HOST)
                    row["open_saved"] = statements(q)
                    for name in ("chart", "caseload"):
                        with CaptureQueriesContext(connection) as q:
                            self.client.get(url[name], **HOST)
                        row[f"{name}_baseline"] = statements(q)
                    raise Rollback
            except Rollback:
                pass
            counts[section.key] = row
        return counts

    def profile(self, n: int, out: Path) -> None:
        """cProfile of n section openings and n saves (all sections in turn), top functions by
        cumulative and by own time."""
        from django.db import transaction

        from careway.assessments import services

        profiles = {"open": cProfile.Profile(), "save": cProfile.Profile()}
        for i in range(n):
            patient = self.patients[i % len(self.patients)]
            section = self.sections[i % len(self.sections)]
            try:
                with transaction.atomic():
                    assessment = services.start_assessment(self.actor, patient, TIME_POINT)
                    url = self.urls(patient, assessment, section)
                    page = profiles["open"].runcall(self.client.get, url["section"], **HOST)
                    versions = dict(VERSION_INPUT.findall(page.content.decode()))
                    data = section_post(section, self.rng, versions)
                    profiles["save"].runcall(self.client.post, url["section"], data, **AUTOSAVE)
                    raise Rollback
            except Rollback:
                pass
        with out.open("w") as handle:
            for name, prof in profiles.items():
                for order in ("cumulative", "tottime"):
                    text = io.StringIO()
                    pstats.Stats(prof, stream=text).sort_stats(order).print_stats(45)
                    handle.write(f"===== {name}: {n} requests, sorted by {order} =====\n")
                    handle.write(text.getvalue())


def commit_ms(session_key: str, rounds: int = 200) -> dict[str, float]:
    """A one-row update committed, against the same update rolled back: what one commit (its WAL
    flush) adds to a write. The row is the test client's own session, left as it was."""
    from django.db import connection, transaction

    sql = "UPDATE django_session SET expire_date = expire_date WHERE session_key = %s"

    def once(commit: bool) -> float:
        start = time.perf_counter()
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [session_key])
                if not commit:
                    raise Rollback
        except Rollback:
            pass
        return (time.perf_counter() - start) * 1000

    committed, rolled_back = [], []
    for _ in range(rounds):
        committed.append(once(True))
        rolled_back.append(once(False))
    return {
        "update_committed_p50_ms": round(statistics.median(committed), 2),
        "update_rolled_back_p50_ms": round(statistics.median(rolled_back), 2),
        "commit_ms": round(statistics.median(committed) - statistics.median(rolled_back), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--profile", type=int, default=0)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to the PostgreSQL database made by careway demo")
    setup_django()
    from django.core.management import call_command
    from django.test import Client

    from careway.assessments import template
    from careway.assessments.models import Assessment
    from careway.core import audit
    from careway.core.models import AuditEvent
    from careway.patients.models import CareTeamMember, Observation, Patient

    # Production serves static files from the manifest collectstatic writes (as web.py does).
    call_command("collectstatic", interactive=False, verbosity=0)
    user = busiest_case_manager()
    patient_ids = list(
        CareTeamMember.objects.filter(user=user, active=True, is_primary_case_manager=True)
        .order_by("patient_id")
        .values_list("patient_id", flat=True)[: args.patients]
    )
    patients = list(Patient.objects.filter(pk__in=patient_ids).order_by("pk"))
    sections = template.comprehensive().sections_for(TIME_POINT)
    before = {"audit_events": AuditEvent.objects.count(), "assessments": Assessment.objects.count()}
    client = Client()
    client.force_login(user)
    session_key = str(client.session.session_key)
    bench = Bench(client, audit.Actor(user=user), patients, sections, random.Random(11))
    try:
        for i in range(args.warmup):
            bench.iteration(i, None)
        samples: dict[str, list[float]] = {}
        for i in range(args.iterations):
            bench.iteration(i, samples)
        counts = bench.query_counts()
        commit = commit_ms(session_key)
        stamp = f"{datetime.now(UTC):%Y-%m-%d-%H%M}"
        if args.profile:
            bench.profile(
                args.profile, ROOT / "benchmarks/results" / f"assessment-section-{stamp}.prof.txt"
            )
    finally:
        client.logout()  # deletes the session row
    after = {"audit_events": AuditEvent.objects.count(), "assessments": Assessment.objects.count()}
    requests = ("open_first", "save_first", "save_again", "open_saved")
    opens = samples["open_first"] + samples["open_saved"]
    saves = samples["save_first"] + samples["save_again"]
    chart_p50 = statistics.median(samples["chart_summary"])
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "python": platform.python_version(),
        "scale": {
            "patients": Patient.objects.count(),
            "observations": Observation.objects.count(),
            "caseload_size": CareTeamMember.objects.filter(user=user, active=True).count(),
            "patients_used": len(patients),
            "sections": len(sections),
        },
        "iterations": args.iterations,
        "open": summary(opens),
        "save": summary(saves),
        "by_request": {name: summary(samples[name]) for name in requests},
        "baseline": {
            "chart_summary": summary(samples["chart_summary"]),
            "caseload": summary(samples["caseload"]),
        },
        "open_p50_over_chart_p50": round(statistics.median(opens) / chart_p50, 2),
        "save_p50_over_chart_p50": round(statistics.median(saves) / chart_p50, 2),
        "p95_ms_by_section": {
            s.key: {
                "open": summary(samples[f"open_first@{s.key}"] + samples[f"open_saved@{s.key}"])[
                    "p95_ms"
                ],
                "save": summary(samples[f"save_first@{s.key}"] + samples[f"save_again@{s.key}"])[
                    "p95_ms"
                ],
            }
            for s in sections
        },
        "queries_per_request": counts,
        "commit": commit,
        "goal": {
            "p95_ms": GOAL_P95_MS,
            "open_met": summary(opens)["p95_ms"] < GOAL_P95_MS,
            "save_met": summary(saves)["p95_ms"] < GOAL_P95_MS,
        },
        "left_as_it_was": before == after,
    }
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    out_file = out_dir / f"assessment-section-{stamp}.json"
    out_file.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

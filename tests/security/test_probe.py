"""The issue-15 probe runs, on a copy, and finds Careway holding; the original is untouched.

It runs the probe as a command would, in its own process, against a tiny database made here:
two agencies, a case manager each, a few audit events."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from tests.conftest import require_postgresql

TINY_AGENCIES = """
from careway.core import audit
from careway.core.models import Membership, Organization, User
for n in (1, 2):
    org = Organization.objects.create(name=f"Probe agency {n}", slug=f"probe-{n}")
    user = User.objects.create_user(f"probe_cm_{n}", password="a-password-1234", organization=org)
    Membership.objects.create(user=user, organization=org, role="case_manager")
    for look in range(4):
        audit.record(audit.Actor(user=user), "patient.view", reason=f"look {look}")
"""


def careway(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"CAREWAY_ENV", "DATABASE_URL"}}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", *args], env=env, capture_output=True, text=True, timeout=300
    )


def make_tiny_database(database_url: str) -> None:
    for step in (["migrate", "--no-input", "-v", "0"], ["shell", "-c", TINY_AGENCIES]):
        made = careway(database_url, "careway", *step)
        assert made.returncode == 0, made.stderr


def assert_careway_holds(probe: subprocess.CompletedProcess) -> None:
    out = probe.stdout
    assert probe.returncode == 0, out + probe.stderr
    assert "Parallel sign-in: HOLDS" in out and "Audit trail: HOLDS" in out
    assert "16 simultaneous sign-ins (threshold 5): " in out
    assert "chain 1: the agency's chain is missing (its head was deleted)" in out
    assert "differs from the checkpoint of" in out


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_probe_works_on_a_copy_of_a_sqlite_file(tmp_path):
    source = tmp_path / "careway.sqlite3"
    make_tiny_database(f"sqlite:///{source}")
    before = digest(source)
    probe = careway("", "tests.security.probe", "--sqlite", str(source), "--username", "probe_cm_1")
    assert_careway_holds(probe)
    assert digest(source) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["careway.sqlite3"]


@pytest.mark.postgres
def test_the_probe_works_on_a_copy_of_a_postgresql_database():
    import psycopg
    from psycopg import sql

    require_postgresql()
    db = settings.DATABASES["default"]
    login = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    server = f"postgres://{login}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    # Named after this run's own test database, so runs sharing the server never meet.
    source = sql.Identifier(f"{db['NAME']}_probe_source")
    url = f"{server}/{db['NAME']}_probe_source"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(source))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(source))
    try:
        make_tiny_database(url)
        probe = careway("", "tests.security.probe", "--postgres", url, "--username", "probe_cm_1")
        assert_careway_holds(probe)
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(source))

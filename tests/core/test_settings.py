"""The settings module refuses unsafe production configurations and passes `check --deploy`."""

import os
import subprocess
import sys

import pytest

GOOD_KEY = "k" * 20 + "8Yp3!vQz#Lm2@Wx9$Rt6^Bn4&Hc7*Jd5(Fg1)Ks0"


def run_check(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never would.
    unset = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update({"CAREWAY_ENV": "production", **env_overrides})
    return subprocess.run(
        [sys.executable, "-m", "careway", "check", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "care.example.org", "DEBUG": "true"},
            "DEBUG must be off",
        ),
        ({"ALLOWED_HOSTS": "care.example.org"}, "Set SECRET_KEY"),
        ({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "*"}, "no wildcard"),
        ({"SECRET_KEY": GOOD_KEY}, "Set ALLOWED_HOSTS"),
    ],
)
def test_production_refuses_unsafe_settings(overrides, message):
    result = run_check(overrides)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_pass_check_deploy():
    result = run_check(
        {"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "care.example.org"},
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_a_malformed_setting_names_itself():
    result = run_check({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "x.org", "DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_passwords_are_hashed_with_argon2():
    from django.conf import settings

    # The test suite swaps in a fast hasher per test; the module's own setting is argon2 first.
    from careway import settings as careway_settings

    assert careway_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    assert settings.AUTH_USER_MODEL == "core.User"


def test_the_default_database_is_sqlite_in_wal_mode(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CAREWAY_ENV"}}
    env["CAREWAY_DATA_DIR"] = str(tmp_path)
    code = (
        "from django.db import connection\n"
        "cur = connection.cursor(); cur.execute('PRAGMA journal_mode'); print(cur.fetchone()[0])"
    )
    result = subprocess.run(
        [sys.executable, "-m", "careway", "shell", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip().splitlines()[-1] == "wal", result.stderr
    assert (tmp_path / "careway.sqlite3").exists()


@pytest.mark.parametrize(
    ("switch", "expected"),
    [(None, "True 2"), ("false", "None None")],
)
def test_postgresql_prepares_repeated_statements_unless_told_not_to(switch, expected):
    # Prepared statements are what let PostgreSQL skip parsing and planning the per-request
    # statements; a pooler in transaction mode needs them off (docs/operations.md).
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_PREPARED_STATEMENTS"}
    env["DATABASE_URL"] = "postgres://careway@127.0.0.1:5432/careway"
    if switch is not None:
        env["DATABASE_PREPARED_STATEMENTS"] = switch
    code = (
        "from django.conf import settings\n"
        "o = settings.DATABASES['default'].get('OPTIONS', {})\n"
        "print(o.get('server_side_binding'), o.get('prepare_threshold'))"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django, os; os.environ.setdefault("
            f"'DJANGO_SETTINGS_MODULE', 'careway.settings'); django.setup()\n{code}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip().splitlines()[-1] == expected, result.stderr


def run_careway(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"CAREWAY_ENV", "DATABASE_URL"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-m", "careway", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_sqlite_database_url_gets_no_postgresql_options(tmp_path):
    # psycopg's options make SQLite's connect() fail ("'server_side_binding' is an invalid
    # keyword argument"), so every command would crash on a SQLite DATABASE_URL.
    code = (
        "from django.conf import settings\n"
        "db = settings.DATABASES['default']\n"
        "print(db['ENGINE'], sorted(db['OPTIONS']))"
    )
    result = run_careway(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'url.sqlite3'}"}, "shell", "-c", code
    )
    assert result.stdout.strip().splitlines()[-1] == (
        "django.db.backends.sqlite3 ['init_command', 'timeout', 'transaction_mode']"
    ), result.stderr


def test_audit_verify_runs_on_a_sqlite_database_url(tmp_path):
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'url.sqlite3'}",
        "CAREWAY_DATA_DIR": str(tmp_path),
    }
    migrated = run_careway(env, "migrate", "--no-input", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr
    verified = run_careway(env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "audit chain intact" in verified.stdout

"""Playwright in Debian's Chromium against a live Careway server.

Chromium comes from the system (`apt-get install chromium`); Playwright never downloads a browser.
Without Chromium these tests skip with the reason, except under CI=true, where they must run.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
TABLET = {"width": 820, "height": 1180}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


AXE_OPTIONS = {
    "runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"],
    # Only violations are read; skipping the list of passes makes each run much faster.
    "resultTypes": ["violations"],
}


def assert_accessible(page, label: str) -> None:
    """axe-core must find no serious or critical WCAG violation on the page as it stands."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=AXE_OPTIONS)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in {"serious", "critical"}
    ]
    assert not bad, f"{label}: " + "; ".join(bad)


@pytest.fixture
def new_page(browser):
    """Open a page in a fresh browser context (its own cookies) at a given size; each context
    is closed after the test."""
    contexts = []

    def _new_page(viewport: dict[str, int] = TABLET):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield _new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A page at tablet size, the size the app is designed for first."""
    return new_page(TABLET)


def enrol_two_factor(user) -> str:
    """Give `user` a confirmed authenticator, as if they had scanned the QR code; returns the
    secret so the test can compute the code an authenticator app would show."""
    import pyotp
    from django.utils import timezone

    secret = pyotp.random_base32()
    user.totp_secret = secret
    user.totp_confirmed_at = timezone.now()
    user.totp_last_counter = 0
    user.save(update_fields=["totp_secret", "totp_confirmed_at", "totp_last_counter"])
    return secret


def submit_password(page, base_url: str, username: str) -> None:
    from tests.factories import PASSWORD

    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def sign_in(page, base_url: str, user, secret: str | None = None) -> None:
    """Sign in through the pages, typing the current TOTP code when the account has one.

    A code is accepted once per 30-second step, so sign a person in once per test; a second
    tab in the same context shares the session instead."""
    import pyotp

    submit_password(page, base_url, user.username)
    if secret is not None:
        page.wait_for_url("**/accounts/two-factor/")
        page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Verify and sign in").click()
    page.wait_for_url(lambda url: "/accounts/" not in url)


@pytest.fixture(autouse=True)
def _empty_audit_table_before_flush(transactional_db):
    """Browser tests need real commits (the live server runs in another thread), so the
    database is flushed after each test. On SQLite the flush deletes row by row, which the
    append-only audit trigger refuses; empty that one table with the trigger lifted first.
    (PostgreSQL truncates, which row triggers do not see.)"""
    yield
    from importlib import import_module

    from django.db import connection

    if connection.vendor != "sqlite":
        return
    triggers = import_module("careway.core.migrations.0001_squashed_0003_audit_append_only")
    with connection.cursor() as cursor:
        for sql in triggers.SQLITE_REVERSE:
            cursor.execute(sql)
        cursor.execute("DELETE FROM core_auditevent")
        for sql in triggers.SQLITE:
            cursor.execute(sql)


VITALS_OVER_WEEKS = (
    # days ago, systolic, diastolic, heart rate, SpO2, temperature (F), weight (lb)
    (42, 148, 88, 82, 95, 98.4, 171.0),
    (35, 152, 90, 86, 94, 98.9, 172.5),
    (28, 139, 84, 78, 96, 98.1, 170.2),
    (21, 162, 94, 91, 93, 99.8, 174.8),
    (14, 134, 80, 74, 97, 98.2, 169.9),
    (7, 128, 78, 72, 97, 98.0, 168.4),
    (1, 131, 79, 70, 98, 97.9, 168.0),
)
VITAL_CODES = (
    ("8480-6", "Systolic blood pressure", "mm[Hg]"),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]"),
    ("8867-4", "Heart rate", "/min"),
    ("2708-6", "Oxygen saturation", "%"),
    ("8310-5", "Body temperature", "[degF]"),
    ("29463-7", "Body weight", "[lb_av]"),
)


def fill_chart(patient) -> None:
    """Give `patient` something in every chart section: conditions, medications, allergies,
    six weeks of vital signs, an encounter and a coverage (contacts are added by the tests)."""
    from datetime import timedelta

    from django.utils import timezone

    from careway.core import audit
    from careway.patients import services
    from careway.patients.models import ICD10CM, LOINC

    actor = audit.Actor(user=None)
    now = timezone.now()
    services.add_condition(
        actor,
        patient,
        {"display": "Heart failure", "code_system": ICD10CM, "code": "I50.9", "is_primary": True},
    )
    services.add_condition(
        actor, patient, {"display": "Type 2 diabetes", "code": "E11.9", "code_system": ICD10CM}
    )
    services.add_medication(
        actor,
        patient,
        {
            "display": "Furosemide 40 mg",
            "dose": "40 mg",
            "route": "by mouth",
            "frequency": "once daily",
            "indication": "fluid",
        },
    )
    services.add_medication(actor, patient, {"display": "Aspirin", "status": "stopped"})
    services.add_allergy(
        actor, patient, {"display": "Penicillin", "category": "medication", "criticality": "high"}
    )
    services.add_allergy(actor, patient, {"display": "Latex", "category": "environment"})
    for days_ago, *values in VITALS_OVER_WEEKS:
        rows = [
            {
                "category": "vital-signs",
                "code_system": LOINC,
                "code": code,
                "display": display,
                "unit": unit,
                "value": value,
                "effective_at": now - timedelta(days=days_ago),
            }
            for (code, display, unit), value in zip(VITAL_CODES, values, strict=True)
        ]
        services.record_observations(actor, patient, rows)
    services.add_encounter(
        actor,
        patient,
        {
            "kind": "HH",
            "type_display": "Skilled nursing visit",
            "reason": "Weight gain",
            "period_start": now - timedelta(days=2),
        },
    )
    services.add_coverage(actor, patient, {"kind": "medicare", "payer_name": "Medicare Part A"})

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

# Real external data beside the repository (Synthea bundles, Solomon and Mankowska instances,
# FHIR questionnaires), each with its license. CI has it; a user's machine may not.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a service is absent on a user's machine; fail in CI, where it must be there."""
    if _reachable(host, port):
        return
    message = f"{name} is not running on {host}:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI=true requires it")
    pytest.skip(f"{message}; start it to run this test")


def require_shared_data(*parts: str) -> Path:
    """A file or folder of ../shared/data: skip, saying why, when it is absent; fail under
    CI=true, where the data is always there and a missing file is a broken set-up."""
    path = SHARED_DATA.joinpath(*parts)
    if path.exists():
        return path
    message = f"{path} is absent (../shared/data sits beside the repository in CI)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI=true requires it")
    pytest.skip(message)


@pytest.fixture
def pdf_ready() -> None:
    """WeasyPrint can make PDFs here: skip, saying what to install, on a user's machine without
    Pango; fail under CI=true, where .ci/run installs it."""
    from careway.toolkit.pdf import PdfUnavailable, _weasyprint

    try:
        _weasyprint()
    except PdfUnavailable as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{error}, and CI=true requires it")
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def shared_data() -> Callable[..., Path]:
    """`shared_data("synthea")`: the path of that part of ../shared/data (see above)."""
    return require_shared_data


@pytest.fixture(scope="session")
def synthea_data(shared_data) -> Path:
    """The folder of the twelve Synthea R4 bundles in ../shared/data."""
    return shared_data("synthea")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is what production uses (tested in tests/core/test_settings.py); tests hash faster.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _refuse_write_outside_service(sender, instance, **kwargs):
    from careway.core.writes import in_service

    if not in_service():
        raise AssertionError(
            f"{sender.__name__} was written outside a service function: patient data may only "
            "change through careway/*/services.py, which audits (see careway/core/writes.py)"
        )


@pytest.fixture(autouse=True)
def _patient_writes_only_through_services():
    """Fail any save or delete of patient data that does not come from a @service function.

    Patient data is the patient and every PatientRecord of every installed app, found by type,
    so a new domain's records are guarded the moment they exist.
    """
    from django.db.models.signals import pre_delete, pre_save

    from careway.patients.models import patient_data_models

    models = patient_data_models()
    for model in models:
        pre_save.connect(_refuse_write_outside_service, sender=model)
        pre_delete.connect(_refuse_write_outside_service, sender=model)
    yield
    for model in models:
        pre_save.disconnect(_refuse_write_outside_service, sender=model)
        pre_delete.disconnect(_refuse_write_outside_service, sender=model)


@pytest.fixture
def world(db):
    from tests.factories import build_world

    return build_world()


@pytest.fixture
def login(client):
    """Sign `user` in to the test client, as if they had passed every sign-in step."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for every test that drives a page (tests/browser, the form tests)."""
    from tests.browser.conftest import CHROMIUM_ARGS, chromium_path

    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed, and CI=true requires the browser tests")
        pytest.skip("Chromium is not installed (apt-get install chromium) ")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
    # test itself (fixtures, assertions) are still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def require_postgresql() -> None:
    """For tests of real concurrency: run when the suite runs on PostgreSQL, skip on SQLite.

    SQLite lets one writer in at a time, so requests there cannot race the way they do on
    PostgreSQL; CI runs the suite again on PostgreSQL, where these run. Like every service test,
    it fails under CI=true when PostgreSQL is not running at all.
    """
    from django.db import connection

    require_service("PostgreSQL", "127.0.0.1", 5432)
    if connection.vendor != "postgresql":
        pytest.skip(
            "real concurrency needs PostgreSQL (SQLite serialises writers); runs when the suite "
            "runs with DATABASE_URL=postgres://..."
        )


ROUTING_TESTS = Path(__file__).resolve().parent / "routing"


def pytest_collection_modifyitems(config, items):
    """CI runs the suite twice, on SQLite and on PostgreSQL. A test marked
    `database_independent` gives the same result on both, so it runs on SQLite only: how pages
    look and read (layout, axe, the page tour), and the routing library, which never imports
    Django (tests/test_layering.py)."""
    postgresql = os.environ.get("DATABASE_URL", "").startswith("postgres")
    skip = pytest.mark.skip(
        reason="gives the same result on any database: it runs in the SQLite pass"
    )
    for item in items:
        if item.path.is_relative_to(ROUTING_TESTS):
            item.add_marker(pytest.mark.database_independent)
        if postgresql and item.get_closest_marker("database_independent"):
            item.add_marker(skip)


def pytest_sessionstart(session):
    # The page tour's reports of an earlier run are not this run's (the controller, not xdist
    # workers, clears them).
    if not hasattr(session.config, "workerinput"):
        import shutil

        from tests.browser.tour import REPORTS

        shutil.rmtree(REPORTS, ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    """Print what the page tour saw (tests/browser/test_page_tour.py), pass or fail."""
    from tests.browser.tour import REPORTS

    reports = sorted(REPORTS.glob("*.txt")) if REPORTS.exists() else []
    if reports:
        terminalreporter.section("page tour: what it saw")
        for report in reports:
            terminalreporter.write(report.read_text())

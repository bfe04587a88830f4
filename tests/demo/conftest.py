from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from careway.demo import build

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo built once for the module's tests, and rolled back after them."""
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=FAST_HASHER),
        transaction.atomic(),
    ):
        yield build.build_demo()
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def bench(django_db_setup, django_db_blocker):
    """`careway demo --patients 300` run once for the module's tests: (agency, output)."""
    from careway.core.models import Organization
    from careway.demo import bulk

    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=FAST_HASHER),
        transaction.atomic(),
    ):
        out = StringIO()
        call_command("demo", patients=300, stdout=out)
        yield Organization.objects.get(slug=bulk.BENCH_SLUG), out.getvalue()
        transaction.set_rollback(True)

"""The test settings: Careway's own, with the example domain that exists only in the tests
installed beside the real ones (the way netbox's tests install a dummy plugin)."""

from careway.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.example_domain"]  # noqa: F405
ROOT_URLCONF = "tests.urls"

"""Careway's own pages for 403, 404, 500 and a refused form (CSRF), each in the base layout with
a way back, and `make run` serving them (it runs with DEBUG off, so Django's technical pages,
which list every URL pattern, never reach a new user)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from careway.core.models import AuditEvent
from careway.patients.models import Patient

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
MISSING_PATIENT = "00000000-0000-0000-0000-000000000000"
CSRF_VALUE = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+')


def without_csrf_tokens(html: str) -> str:
    """A page with its CSRF tokens blanked: each render masks the token afresh."""
    return CSRF_VALUE.sub(r"\1", html)


def test_404_is_careways_page_with_navigation_and_a_way_home(login, world):
    response = login(world.cm).get("/instruments/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in html
    assert 'aria-label="Main"' in html  # the navigation of a signed-in person
    assert f'href="{reverse("home")}"' in html and "Go to your home page" in html
    assert "urlpatterns" not in html and "Using the URLconf" not in html


def test_404_for_a_chart_not_yours_is_the_same_page_as_for_a_missing_one(login, world):
    client = login(world.cm)
    not_mine = client.get(reverse("chart", args=[world.outsider_patient.pk]))
    missing = client.get(reverse("chart", args=[MISSING_PATIENT]))
    assert not_mine.status_code == missing.status_code == 404
    assert not_mine.content != b"" and b"Page not found" in not_mine.content
    assert without_csrf_tokens(not_mine.content.decode()) == without_csrf_tokens(
        missing.content.decode()
    )
    assert world.outsider_patient.family_name not in not_mine.content.decode()


def test_404_signed_out_has_no_navigation_and_says_sign_in(client):
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404 and "Page not found" in html
    assert 'aria-label="Main"' not in html
    assert f'href="{reverse("login")}"' in html


def test_403_under_emergency_access_explains_and_links_back_to_the_chart(login, world):
    client = login(world.cm_other)
    client.post(
        reverse("break_glass"),
        {
            "mrn": world.patient.mrn,
            "reason": "Patient called after a fall; her nurse is off today",
            "minutes": 30,
        },
    )
    version = Patient.objects.get(pk=world.patient.pk).version
    response = client.post(reverse("patient_edit", args=[world.patient.pk]), {"given_name": "X"})
    html = response.content.decode()
    assert response.status_code == 403
    assert "<h1>You cannot change this chart</h1>" in html
    assert "emergency access" in html and "read" in html
    chart = reverse("chart", args=[world.patient.pk])
    assert f'href="{chart}"' in html and "Back to the chart" in html
    assert 'aria-label="Main"' in html
    assert Patient.objects.get(pk=world.patient.pk).version == version
    assert AuditEvent.objects.filter(action="patient.edit", outcome="denied").exists()


def test_403_for_a_read_only_role_says_why_and_links_back_to_the_chart(login, world):
    # The scheduler is on the team and reads the chart, but may not change it.
    response = login(world.scheduler).get(reverse("patient_edit", args=[world.patient.pk]))
    html = response.content.decode()
    assert response.status_code == 403
    assert "<h1>You cannot change this chart</h1>" in html
    assert "Your role may read this chart but not change it" in html
    assert f'href="{reverse("chart", args=[world.patient.pk])}"' in html


def test_500_is_careways_page_with_a_way_home(world, settings):
    from django.urls import path

    from careway import urls as project_urls

    def broken(request):
        raise RuntimeError("boom")

    settings.ROOT_URLCONF = type(
        "BrokenUrls",
        (),
        {
            "urlpatterns": [path("broken/", broken), *project_urls.urlpatterns],
            "handler500": project_urls.handler500,
            "handler404": project_urls.handler404,
            "handler403": project_urls.handler403,
        },
    )
    client = Client(raise_request_exception=False)
    client.force_login(world.cm)
    response = client.get("/broken/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in html
    assert "boom" not in html and "Traceback" not in html
    assert f'href="{reverse("home")}"' in html
    assert 'aria-label="Main"' in html


def test_500_page_renders_even_when_the_request_context_cannot(rf, settings):
    from careway.core.views import errors

    request = rf.get("/anything/")  # no session, no user: the context processors would fail
    response = errors.server_error(request)
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert f'href="{reverse("home")}"'.encode() in response.content


def test_a_refused_form_csrf_is_careways_403_with_a_way_back(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.cm)
    url = reverse("patient_edit", args=[world.patient.pk])
    response = client.post(url, {"given_name": "X"})
    html = response.content.decode()
    assert response.status_code == 403
    assert "<h1>This form could not be sent</h1>" in html
    assert f'href="{url}"' in html and "Nothing was saved" in html
    assert "CSRF verification failed" not in html
    assert 'aria-label="Main"' in html


def _make_run_environment() -> dict[str, str]:
    """The variables `make run` sets on the server's command line (read from `make -n run`)."""
    dry_run = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    line = next(line for line in dry_run.splitlines() if "runserver" in line)
    words = shlex.split(line[line.rindex(";") + 1 :] if ";" in line else line)
    return dict(word.split("=", 1) for word in words if re.fullmatch(r"[A-Z_]+=.*", word))


PROBE = """
import django
django.setup()
from django.conf import settings
from django.test import Client
response = Client().get("/instruments/nothing-here/")
print(settings.DEBUG, response.status_code, b"Page not found" in response.content,
      b"urlpatterns" in response.content or b"URLconf" in response.content,
      Client().get("/static/careway/careway.css").status_code)
"""


def test_make_run_serves_careways_error_pages(tmp_path):
    environment = _make_run_environment()
    assert environment.get("DEBUG") == "false"
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}},
        **environment,
        "DJANGO_SETTINGS_MODULE": "careway.settings",
        "CAREWAY_DATA_DIR": str(tmp_path),
    }
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["False", "404", "True", "False", "200"]


def test_400_is_careways_page_too(client, settings):
    # A host not allowed is refused with 400 before any view.
    response = client.get("/", HTTP_HOST="not-careway.example")
    assert response.status_code == 400
    assert b"Careway could not understand this request" in response.content
    assert f'href="{reverse("home")}"'.encode() in response.content

"""Browser-facing protections: escaping, CSRF, security headers, cookies."""

import pytest
from django.test import Client
from django.urls import reverse

from careway.core import audit
from careway.patients import services
from careway.patients.models import Patient

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('x')</script>"


def test_patient_text_is_escaped_on_the_caseload_and_the_chart(login, world):
    services.update_patient(
        audit.Actor(user=world.cm),
        world.patient,
        {"preferred_name": SCRIPT, "what_matters_most": SCRIPT},
        world.patient.version,
    )
    client = login(world.cm)
    for url in (reverse("caseload"), reverse("chart", kwargs={"patient_id": world.patient.pk})):
        html = client.get(url).content.decode()
        assert SCRIPT not in html
    chart = client.get(reverse("chart", kwargs={"patient_id": world.patient.pk})).content.decode()
    assert "&lt;script&gt;" in chart


def test_a_form_post_without_the_csrf_token_is_refused_and_changes_nothing(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.cm)
    url = reverse("patient_edit", kwargs={"patient_id": world.patient.pk})
    response = client.post(url, {"given_name": "Forged", "version": world.patient.version})
    assert response.status_code == 403
    assert Patient.objects.get(pk=world.patient.pk).given_name == "Margaret"


def test_pages_carry_security_headers(login, world):
    response = login(world.cm).get(reverse("caseload"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_session_and_csrf_cookies_are_not_readable_by_scripts(settings):
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.CSRF_COOKIE_HTTPONLY is True
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"

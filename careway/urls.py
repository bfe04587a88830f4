from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from careway.api import api


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for a load balancer: the process answers. Touches no database on purpose."""
    return HttpResponse("ok", content_type="text/plain")


# One include per app; each app's patterns carry their own prefixes and none overlaps another's.
urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("", include("careway.core.urls")),
    path("", include("careway.patients.urls")),
    path("", include("careway.assessments.urls")),
    path("", include("careway.careplans.urls")),
    path("", include("careway.fhir.urls")),
]

# Careway's own error pages (careway/templates/403.html, 404.html, 500.html), also under
# `make run`, which runs with DEBUG off; the CSRF refusal is settings.CSRF_FAILURE_VIEW.
handler403 = "careway.core.views.errors.permission_denied"
handler404 = "careway.core.views.errors.page_not_found"
handler500 = "careway.core.views.errors.server_error"

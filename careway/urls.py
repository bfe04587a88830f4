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
    path("", include("careway.fhir.urls")),
]

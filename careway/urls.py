from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from careway.api import api


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for a load balancer: the process answers. Touches no database on purpose."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", include("careway.core.urls")),
    path("patients/", include("careway.assessments.urls")),
    path("patients/", include("careway.patients.urls")),
    path("api/v1/", api.urls),
    path("fhir/R4/", include("careway.fhir.urls")),
    path("imports/", include("careway.fhir.web_urls")),
    path("instruments/", include("careway.assessments.web_urls")),
]

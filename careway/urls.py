from django.urls import include, path

from careway.api import api

urlpatterns = [
    path("", include("careway.core.urls")),
    path("patients/", include("careway.patients.urls")),
    path("api/v1/", api.urls),
]

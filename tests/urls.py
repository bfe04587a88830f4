from django.urls import include, path

from careway.urls import handler403, handler404, handler500  # noqa: F401 (Careway's error pages)
from careway.urls import urlpatterns as careway_urlpatterns

urlpatterns = [*careway_urlpatterns, path("", include("tests.example_domain.urls"))]

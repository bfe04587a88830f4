from django.urls import include, path

from careway.urls import urlpatterns as careway_urlpatterns

urlpatterns = [*careway_urlpatterns, path("", include("tests.example_domain.urls"))]

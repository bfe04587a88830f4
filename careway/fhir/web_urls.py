from django.urls import path

from . import views

urlpatterns = [
    path("", views.import_list, name="import_list"),
    path("<uuid:run_id>/", views.import_detail, name="import_detail"),
    path("<uuid:run_id>/progress/", views.import_progress, name="import_progress"),
]

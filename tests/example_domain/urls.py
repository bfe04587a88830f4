from django.urls import path

from . import views

urlpatterns = [
    path(
        "patients/<uuid:patient_id>/example-notes/new/",
        views.note_create,
        name="example_note_create",
    ),
]

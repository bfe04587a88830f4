from django.urls import path

from . import instrument_views

urlpatterns = [
    path("", instrument_views.instrument_list, name="instrument_list"),
    path(
        "<slug:questionnaire_id>/bands/<slug:score_key>/",
        instrument_views.instrument_bands,
        name="instrument_bands",
    ),
]

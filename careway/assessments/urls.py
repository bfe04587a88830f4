from django.urls import path

from . import instrument_views, views

# The chart's Assessments section itself (/patients/<id>/assessments/) is the patients' chart
# view showing the section registered in apps.py; these are the pages under it.
urlpatterns = [
    path(
        "patients/<uuid:patient_id>/assessments/new/",
        views.assessment_start,
        name="assessment_start",
    ),
    path(
        "patients/<uuid:patient_id>/assessments/<uuid:assessment_id>/",
        views.assessment_overview,
        name="assessment",
    ),
    path(
        "patients/<uuid:patient_id>/assessments/<uuid:assessment_id>/sign/",
        views.assessment_sign,
        name="assessment_sign",
    ),
    path(
        "patients/<uuid:patient_id>/assessments/<uuid:assessment_id>/amend/<int:response_id>/",
        views.assessment_amend,
        name="assessment_amend",
    ),
    path(
        "patients/<uuid:patient_id>/assessments/<uuid:assessment_id>/<slug:section>/",
        views.assessment_section,
        name="assessment_section",
    ),
    path("instruments/", instrument_views.instrument_list, name="instrument_list"),
    path(
        "instruments/<slug:questionnaire_id>/bands/<slug:score_key>/",
        instrument_views.instrument_bands,
        name="instrument_bands",
    ),
]

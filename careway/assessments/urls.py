from django.urls import path

from . import views

# Mounted under patients/ ahead of the patient pages, so /patients/<id>/assessments/ is the
# chart's Assessments section.
urlpatterns = [
    path("<uuid:patient_id>/assessments/", views.chart_assessments, name="assessments"),
    path("<uuid:patient_id>/assessments/new/", views.assessment_start, name="assessment_start"),
    path(
        "<uuid:patient_id>/assessments/<uuid:assessment_id>/",
        views.assessment_overview,
        name="assessment",
    ),
    path(
        "<uuid:patient_id>/assessments/<uuid:assessment_id>/sign/",
        views.assessment_sign,
        name="assessment_sign",
    ),
    path(
        "<uuid:patient_id>/assessments/<uuid:assessment_id>/amend/<int:response_id>/",
        views.assessment_amend,
        name="assessment_amend",
    ),
    path(
        "<uuid:patient_id>/assessments/<uuid:assessment_id>/<slug:section>/",
        views.assessment_section,
        name="assessment_section",
    ),
]

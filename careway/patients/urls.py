from django.urls import path

from . import views

urlpatterns = [
    path("", views.caseload, name="caseload"),
    path("new/", views.patient_create, name="patient_create"),
    path("<uuid:patient_id>/", views.chart, name="chart"),
    path("<uuid:patient_id>/edit/", views.patient_edit, name="patient_edit"),
    path("<uuid:patient_id>/contacts/new/", views.contact_create, name="contact_create"),
    path(
        "<uuid:patient_id>/contacts/<int:contact_id>/edit/", views.contact_edit, name="contact_edit"
    ),
    path("<uuid:patient_id>/conditions/new/", views.condition_create, name="condition_create"),
    path("<uuid:patient_id>/medications/new/", views.medication_create, name="medication_create"),
    path("<uuid:patient_id>/allergies/new/", views.allergy_create, name="allergy_create"),
    path("<uuid:patient_id>/vitals/new/", views.vitals_create, name="vitals_create"),
    path("<uuid:patient_id>/coverage/new/", views.coverage_create, name="coverage_create"),
    path("<uuid:patient_id>/care-team/new/", views.careteam_add, name="careteam_add"),
    path("<uuid:patient_id>/<slug:section>/", views.chart, name="chart_section"),
]

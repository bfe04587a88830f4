from django.urls import path

from .views import alert_settings, caseload, chart, edit, emergency, today, worklist

urlpatterns = [
    path("patients/", caseload.caseload, name="caseload"),
    path("patients/new/", edit.patient_create, name="patient_create"),
    path("patients/<uuid:patient_id>/", chart.chart, name="chart"),
    path("patients/<uuid:patient_id>/edit/", edit.patient_edit, name="patient_edit"),
    path("patients/<uuid:patient_id>/contacts/new/", edit.contact_create, name="contact_create"),
    path(
        "patients/<uuid:patient_id>/contacts/<int:contact_id>/edit/",
        edit.contact_edit,
        name="contact_edit",
    ),
    path(
        "patients/<uuid:patient_id>/conditions/new/",
        edit.condition_create,
        name="condition_create",
    ),
    path(
        "patients/<uuid:patient_id>/medications/new/",
        edit.medication_create,
        name="medication_create",
    ),
    path("patients/<uuid:patient_id>/allergies/new/", edit.allergy_create, name="allergy_create"),
    *(
        path(f"patients/<uuid:patient_id>/{section}/<int:record_id>/{step}/", view, name=name)
        for section, step, view, name in (
            ("conditions", "edit", edit.condition_edit, "condition_edit"),
            ("conditions", "status", edit.condition_status, "condition_status"),
            ("medications", "edit", edit.medication_edit, "medication_edit"),
            ("medications", "status", edit.medication_status, "medication_status"),
            ("allergies", "edit", edit.allergy_edit, "allergy_edit"),
            ("allergies", "status", edit.allergy_status, "allergy_status"),
        )
    ),
    path("patients/<uuid:patient_id>/vitals/new/", edit.vitals_create, name="vitals_create"),
    path("patients/<uuid:patient_id>/coverage/new/", edit.coverage_create, name="coverage_create"),
    path("patients/<uuid:patient_id>/care-team/new/", edit.careteam_add, name="careteam_add"),
    path(
        "patients/<uuid:patient_id>/care-team/<int:member_id>/remove/",
        edit.careteam_remove,
        name="careteam_remove",
    ),
    path(
        "patients/<uuid:patient_id>/flags/<int:flag_id>/acknowledge/",
        worklist.flag_acknowledge,
        name="flag_acknowledge",
    ),
    path(
        "patients/<uuid:patient_id>/flags/<int:flag_id>/resolve/",
        worklist.flag_resolve,
        name="flag_resolve",
    ),
    path(
        "patients/<uuid:patient_id>/tasks/<int:task_id>/complete/",
        worklist.task_complete,
        name="task_complete",
    ),
    # Every chart section, whichever app registered it (careway/patients/frame.py).
    path("patients/<uuid:patient_id>/<slug:section>/", chart.chart, name="chart_section"),
    path("today/", today.today, name="today"),
    path("emergency-access/", emergency.break_glass, name="break_glass"),
    path(
        "vital-sign-alerts/",
        alert_settings.vital_alert_thresholds,
        name="vital_alert_thresholds",
    ),
]

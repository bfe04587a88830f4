"""The FHIR adapter's routes: the FHIR R4 REST API under /fhir/R4/ (careway/fhir/api.py, bulk
export in export_views.py) and the import pages under /imports/ (views.py)."""

from django.urls import path, re_path

from . import api, export_views, views

FHIR = "fhir/R4/"

urlpatterns = [
    path("imports/", views.import_list, name="import_list"),
    path("imports/<uuid:run_id>/", views.import_detail, name="import_detail"),
    path("imports/<uuid:run_id>/progress/", views.import_progress, name="import_progress"),
    path(f"{FHIR}metadata", api.metadata, name="fhir_metadata"),
    # Bulk Data export (careway/fhir/export_views.py), before the generic type/id routes.
    path(f"{FHIR}Patient/$export", export_views.kick_off, name="fhir_export"),
    path(f"{FHIR}$export-status/<uuid:job_id>", export_views.status, name="fhir_export_status"),
    path(
        f"{FHIR}$export-file/<uuid:job_id>/<str:name>",
        export_views.download,
        name="fhir_export_file",
    ),
    path(f"{FHIR}<str:resource_type>", api.type_endpoint, name="fhir_type"),
    path(
        f"{FHIR}<str:resource_type>/<str:resource_id>", api.instance_endpoint, name="fhir_instance"
    ),
    path(
        f"{FHIR}<str:resource_type>/<str:resource_id>/_history/<str:version_id>",
        api.vread_endpoint,
        name="fhir_vread",
    ),
    # Everything else under the base answers with an OperationOutcome, never an HTML page.
    re_path(rf"^{FHIR}.*$", api.unknown_endpoint, name="fhir_unknown"),
]

"""FHIR R4 REST API routes, under /fhir/R4/ (see careway/fhir/api.py)."""

from django.urls import path, re_path

from . import api, export_views

urlpatterns = [
    path("metadata", api.metadata, name="fhir_metadata"),
    # Bulk Data export (careway/fhir/export_views.py), before the generic type/id routes.
    path("Patient/$export", export_views.kick_off, name="fhir_export"),
    path("$export-status/<uuid:job_id>", export_views.status, name="fhir_export_status"),
    path("$export-file/<uuid:job_id>/<str:name>", export_views.download, name="fhir_export_file"),
    path("<str:resource_type>", api.type_endpoint, name="fhir_type"),
    path("<str:resource_type>/<str:resource_id>", api.instance_endpoint, name="fhir_instance"),
    path(
        "<str:resource_type>/<str:resource_id>/_history/<str:version_id>",
        api.vread_endpoint,
        name="fhir_vread",
    ),
    # Everything else under the base answers with an OperationOutcome, never an HTML page.
    re_path(r"^.*$", api.unknown_endpoint, name="fhir_unknown"),
]

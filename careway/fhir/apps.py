from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "careway.fhir"
    label = "fhir"
    verbose_name = "FHIR R4"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from careway.core import navigation, permissions

        from .permissions import RECORDS_IMPORT

        permissions.register(RECORDS_IMPORT)
        navigation.NAVIGATION.register(
            navigation.NavItem("imports", "Import records", "import_list", RECORDS_IMPORT, 60)
        )

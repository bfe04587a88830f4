from django.apps import AppConfig


class ToolkitConfig(AppConfig):
    """Installed for its templates (toolkit/_field.html, ...); it has no models."""

    name = "careway.toolkit"
    label = "toolkit"
    verbose_name = "Careway page and API toolkit"

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo agencies and the large benchmark agency (`careway demo`): installed for its
    command; it has no models and builds on every domain, so it is installed last."""

    name = "careway.demo"
    label = "demo"
    verbose_name = "Careway demo data"

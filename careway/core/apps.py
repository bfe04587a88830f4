from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "careway.core"
    label = "core"
    verbose_name = "Careway core"

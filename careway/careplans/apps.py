from django.apps import AppConfig


class CareplansConfig(AppConfig):
    name = "careway.careplans"
    label = "careplans"
    verbose_name = "Care plans"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from careway.core import permissions
        from careway.patients import evidence

        from . import permissions as careplan_permissions
        from . import services

        permissions.register(*careplan_permissions.ALL)
        evidence.register_evidence_listener(
            evidence.EvidenceListener("careplans-goals", services.recompute_goals_for)
        )
        self._register_pages()

    def _register_pages(self) -> None:
        """The chart's Care plan section (careway/careplans/views.py)."""
        from careway.patients import frame

        from . import views

        frame.register_chart_section(views.CHART_SECTION)

from django.apps import AppConfig


class ExampleDomainConfig(AppConfig):
    name = "tests.example_domain"
    label = "example_domain"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from careway.core import permissions
        from careway.patients import frame

        from . import permissions as note_permissions
        from . import queries, views

        permissions.register(*note_permissions.ALL)
        frame.register_chart_section(
            frame.ChartSection(
                "example-notes",
                "Notes (example)",
                order=95,
                context=views.section_context,
                template="example_domain/chart_notes.html",
            )
        )
        frame.register_caseload_column(
            frame.CaseloadColumn(
                "example-notes",
                "Notes",
                order=80,
                priority=3,
                cell_template="example_domain/_note_count.html",
                annotate=queries.with_note_count,
                sort=("note_count", "family_name", "pk"),
            )
        )

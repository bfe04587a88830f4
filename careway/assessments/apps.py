from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "careway.assessments"
    label = "assessments"
    verbose_name = "Assessments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from careway.core import navigation, permissions
        from careway.patients import frame, today

        from . import permissions as assessment_permissions
        from . import queries, views

        permissions.register(*assessment_permissions.ALL)
        navigation.NAVIGATION.register(
            navigation.NavItem(
                "instruments",
                "Instruments",
                "instrument_list",
                assessment_permissions.INSTRUMENTS_MANAGE,
                70,
            )
        )
        frame.register_chart_section(views.CHART_SECTION)
        frame.register_caseload_column(
            frame.CaseloadColumn(
                "assessment-due",
                "Assessment due",
                order=50,
                priority=1,
                cell_template="assessments/caseload/_due.html",
                add_to_page=queries.add_due,
                sort_keys=queries.due_sort_keys,
            )
        )
        today.register_today_source(
            today.TodaySource(
                "assessments-due",
                "Assessments due and overdue",
                order=30,
                rows=queries.due_rows,
                empty="No assessment is due or overdue.",
                sorted_by="overdue first, then by due date",
            )
        )

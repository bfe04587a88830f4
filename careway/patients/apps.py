from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "careway.patients"
    label = "patients"

    def ready(self) -> None:
        from careway.core import audit, navigation, permissions
        from careway.core.navigation import NavItem

        from . import frame, queries, today
        from . import permissions as patient_permissions
        from .directory import describe_patients, find_patients
        from .views.chart import SECTIONS

        permissions.register(*patient_permissions.ALL)
        navigation.NAVIGATION.register(
            NavItem("today", "Today", "today", patient_permissions.CHART_VIEW, 5, home_rank=1),
            NavItem("caseload", "My caseload", "caseload", patient_permissions.CHART_VIEW, 10,
                    home_rank=2),
            NavItem("new-patient", "New patient", "patient_create",
                    patient_permissions.PATIENT_CREATE, 20),
            NavItem("emergency-access", "Emergency access", "break_glass",
                    patient_permissions.BREAK_GLASS, 30),
            NavItem("vital-alerts", "Vital sign alerts", "vital_alert_thresholds",
                    patient_permissions.VITAL_ALERTS_MANAGE, 75),
        )  # fmt: skip
        frame.register_chart_section(*SECTIONS)
        today.register_today_source(
            today.TodaySource(
                "urgent-flags", "Urgent flags", order=10, rows=queries.urgent_flag_rows,
                empty="No urgent flags on your patients.",
                sorted_by="not yet acknowledged first, then newest",
                actions_template="patients/today/_flag_actions.html",
            ),
            today.TodaySource(
                "open-tasks", "Open tasks", order=20, rows=queries.open_task_rows,
                empty="No open tasks on your patients.",
                sorted_by="urgent first, then by due date",
                actions_template="patients/today/_task_actions.html",
            ),
        )  # fmt: skip
        frame.register_caseload_column(
            frame.CaseloadColumn(
                "age", "Age", order=10, priority=1, cell_template="patients/caseload/_age.html",
                sort=("-birth_date", "family_name", "pk"),
            ),
            frame.CaseloadColumn(
                "diagnosis", "Primary diagnosis", order=20, priority=2,
                cell_template="patients/caseload/_diagnosis.html",
                annotate=queries.with_primary_diagnosis,
                sort=("primary_diagnosis", "family_name", "pk"),
            ),
            frame.CaseloadColumn(
                "day", "Episode day", order=30, priority=1,
                cell_template="patients/caseload/_episode_day.html",
                add_to_page=queries.add_episode_days,
                sort=("-episode_start", "family_name", "pk"),
            ),
            frame.CaseloadColumn(
                "flags", "Flags", order=60, priority=1,
                cell_template="patients/caseload/_flags.html",
                annotate=queries.with_active_flags,
            ),
            # A supervisor balances caseloads across the branch: who manages each patient.
            frame.CaseloadColumn(
                "case-manager", "Case manager", order=65, priority=2,
                cell_template="patients/caseload/_case_manager.html",
                annotate=queries.with_case_manager,
                sort=("case_manager", "family_name", "pk"),
                permission=patient_permissions.CASELOAD_SUPERVISE,
            ),
            frame.CaseloadColumn(
                "branch", "Branch", order=70, priority=3,
                cell_template="patients/caseload/_branch.html",
                sort=("branch__name", "family_name", "pk"),
                permission=patient_permissions.CASELOAD_SUPERVISE,
            ),
        )  # fmt: skip
        audit.register_patient_directory(
            audit.PatientDirectory(describe=describe_patients, find=find_patients)
        )

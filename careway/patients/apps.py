from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "careway.patients"
    label = "patients"

    def ready(self) -> None:
        from careway.core import audit, navigation, permissions
        from careway.core.navigation import NavItem

        from . import frame, queries
        from . import permissions as patient_permissions
        from .directory import describe_patients, find_patients
        from .views.chart import SECTIONS

        permissions.register(*patient_permissions.ALL)
        navigation.NAVIGATION.register(
            NavItem("caseload", "My caseload", "caseload", patient_permissions.CHART_VIEW, 10,
                    home_rank=1),
            NavItem("new-patient", "New patient", "patient_create",
                    patient_permissions.PATIENT_CREATE, 20),
            NavItem("emergency-access", "Emergency access", "break_glass",
                    patient_permissions.BREAK_GLASS, 30),
            NavItem("vital-alerts", "Vital sign alerts", "vital_alert_thresholds",
                    patient_permissions.VITAL_ALERTS_MANAGE, 75),
        )  # fmt: skip
        frame.register_chart_section(*SECTIONS)
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
            frame.CaseloadColumn(
                "branch", "Branch", order=70, priority=3,
                cell_template="patients/caseload/_branch.html",
            ),
        )  # fmt: skip
        audit.register_patient_directory(
            audit.PatientDirectory(describe=describe_patients, find=find_patients)
        )

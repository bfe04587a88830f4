from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "careway.core"
    label = "core"
    verbose_name = "Careway core"

    def ready(self) -> None:
        from . import navigation, permissions

        permissions.register(
            permissions.USERS_MANAGE, permissions.AUDIT_VIEW, permissions.AGENCY_SETTINGS
        )
        navigation.NAVIGATION.register(
            navigation.NavItem(
                "audit", "Audit log", "audit_log", permissions.AUDIT_VIEW, 40, home_rank=3
            ),
            navigation.NavItem(
                "people", "People", "user_list", permissions.USERS_MANAGE, 50, home_rank=2
            ),
            navigation.NavItem(
                "agency-details",
                "Agency details",
                "agency_details",
                permissions.AGENCY_SETTINGS,
                52,
            ),
        )

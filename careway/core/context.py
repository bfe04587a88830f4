"""What every page's navigation needs to know about the signed-in person."""

from django.http import HttpRequest

from .roles import Perm


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    perms = user.permissions
    return {
        "nav": {
            "caseload": Perm.CHART_VIEW in perms,
            "new_patient": Perm.PATIENT_CREATE in perms,
            "break_glass": Perm.BREAK_GLASS in perms,
            "audit": Perm.AUDIT_VIEW in perms,
            "users": Perm.USERS_MANAGE in perms,
            "imports": Perm.RECORDS_IMPORT in perms,
            "instruments": Perm.INSTRUMENTS_MANAGE in perms,
            "unread": user.notifications.filter(read_at__isnull=True).count(),
        }
    }

from django.urls import path

from .views import account, agency, audit, notifications, people, signin

urlpatterns = [
    path("", signin.home, name="home"),
    path("accounts/login/", signin.login_view, name="login"),
    path("accounts/two-factor/", signin.two_factor_verify, name="two_factor_verify"),
    path("accounts/two-factor/setup/", signin.two_factor_setup, name="two_factor_setup"),
    path("accounts/logout/", signin.logout_view, name="logout"),
    path("account/", account.account, name="account"),
    path("account/sign-out-everywhere/", account.sign_out_everywhere, name="sign_out_everywhere"),
    path("account/password/", account.password_change, name="password_change"),
    path("account/session/", account.session_keepalive, name="session_keepalive"),
    path("people/", people.user_list, name="user_list"),
    path("people/new/", people.user_create, name="user_create"),
    path("people/<int:user_id>/", people.user_detail, name="user_detail"),
    path("people/<int:user_id>/roles/", people.user_role_add, name="user_role_add"),
    path(
        "people/<int:user_id>/roles/<int:membership_id>/remove/",
        people.user_role_remove,
        name="user_role_remove",
    ),
    path("people/<int:user_id>/<slug:action>/", people.user_action, name="user_action"),
    path("agency/details/", agency.agency_details, name="agency_details"),
    path("audit/", audit.audit_log, name="audit_log"),
    path("audit/export.csv", audit.audit_export, name="audit_export"),
    path("notifications/", notifications.notifications, name="notifications"),
    path(
        "notifications/read/", notifications.notifications_mark_read, name="notifications_mark_read"
    ),
]

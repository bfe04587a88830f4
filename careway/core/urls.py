from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/two-factor/", views.two_factor_verify, name="two_factor_verify"),
    path("accounts/two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("account/", views.account, name="account"),
    path("account/sign-out-everywhere/", views.sign_out_everywhere, name="sign_out_everywhere"),
    path("account/password/", views.password_change, name="password_change"),
    path("people/", views.user_list, name="user_list"),
    path("people/new/", views.user_create, name="user_create"),
    path("people/<int:user_id>/", views.user_detail, name="user_detail"),
    path("people/<int:user_id>/roles/", views.user_role_add, name="user_role_add"),
    path(
        "people/<int:user_id>/roles/<int:membership_id>/remove/",
        views.user_role_remove,
        name="user_role_remove",
    ),
    path("people/<int:user_id>/<slug:action>/", views.user_action, name="user_action"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
    path("emergency-access/", views.break_glass, name="break_glass"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_mark_read, name="notifications_mark_read"),
]

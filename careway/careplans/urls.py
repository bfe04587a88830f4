"""The care plan pages (namespace "careplans"); their patterns carry their own prefixes."""

from . import goal_urls

app_name = "careplans"

urlpatterns: list = []
urlpatterns += goal_urls.urlpatterns

"""The goal pages' URLs, included by careway/careplans/urls.py (namespace "careplans").

No app_name here: the include puts them in the care plans' namespace, as `careplans:goal`.
"""

from django.urls import path

from . import goal_views

urlpatterns = [
    path(
        "patients/<uuid:patient_id>/care-plan/goals/<uuid:goal_id>/",
        goal_views.goal_progress,
        name="goal",
    ),
]

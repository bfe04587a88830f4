from django.apps import AppConfig


class CareplansConfig(AppConfig):
    name = "careway.careplans"
    label = "careplans"
    verbose_name = "Care plans"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from careway.core import navigation, permissions
        from careway.patients import evidence

        from . import permissions as careplan_permissions
        from . import services

        permissions.register(*careplan_permissions.ALL)
        # Beside the instruments (70) and vital sign alerts (75): the agency's clinical content.
        navigation.NAVIGATION.register(
            navigation.NavItem(
                "care-plan-templates",
                "Care plan templates",
                "careplans:template_list",
                careplan_permissions.CAREPLANS_TEMPLATES,
                72,
            ),
            navigation.NavItem(
                "handouts",
                "Teaching handouts",
                "careplans:handout_list",
                careplan_permissions.CAREPLANS_TEMPLATES,
                73,
            ),
        )
        evidence.register_evidence_listener(
            evidence.EvidenceListener("careplans-goals", services.recompute_goals_for),
            evidence.EvidenceListener("careplans-suggestions", services.refresh_suggestions),
            evidence.EvidenceListener("careplans-reviews", services.bring_reviews_forward),
        )
        self._register_pages()
        self._register_goal_pages()
        self._register_plan_of_care()

    def _register_plan_of_care(self) -> None:
        """The plan of care's notify-if parameters become the patient's alert thresholds, and
        its overdue orders a list on Today (plan_of_care.py, plan_of_care_views.py)."""
        from careway.patients import alerts, today

        from . import plan_of_care, plan_of_care_views

        alerts.register_threshold_provider(
            alerts.ThresholdProvider("plan-of-care", 10, plan_of_care.notify_if_parameters)
        )
        today.register_today_source(
            today.TodaySource(
                "orders-overdue",
                "Orders overdue for signature",
                order=37,
                rows=plan_of_care_views.overdue_today_rows,
                empty="No plan of care or verbal order of your patients is overdue for signature.",
                sorted_by="longest overdue first",
            )
        )

    def _register_goal_pages(self) -> None:
        """How goals are going, on the caseload and on Today (goal_queries.py)."""
        from careway.patients import frame, today

        from . import goal_queries, suggestion_queries

        frame.register_caseload_column(
            # Priority 4: stacked under the patient's name at every width, never columns of their
            # own (as columns they pushed the supervisor's caseload 230 px past a 1280 px screen).
            frame.CaseloadColumn(
                "care-plan",
                "Care plan",
                order=54,
                priority=4,
                cell_template="careplans/caseload/_plan.html",
                annotate=goal_queries.with_care_plan,
                add_to_page=goal_queries.add_care_plans,
                sort=("care_plan_rank", "care_plan_review_due", "family_name", "pk"),
            ),
            frame.CaseloadColumn(
                "goals-off-track",
                "Goals off track",
                order=56,
                priority=4,
                cell_template="careplans/caseload/_goals_off_track.html",
                annotate=goal_queries.with_goals_off_track,
                sort=("-goals_off_track", "family_name", "pk"),
            ),
            frame.CaseloadColumn(
                "suggestions",
                "Suggestions",
                order=57,
                priority=4,
                cell_template="careplans/caseload/_suggestions.html",
                annotate=suggestion_queries.with_open_suggestions,
                sort=("-open_suggestions", "-open_gaps", "family_name", "pk"),
            ),
        )
        today.register_today_source(
            today.TodaySource(
                "goals-off-track",
                "Goals off track",
                order=25,
                rows=goal_queries.goals_off_track_rows,
                empty="No goal of your patients is worsening or past due.",
                sorted_by="not achieved and past due first, then by due date",
            ),
            today.TodaySource(
                "care-plan-reviews",
                "Care plans due for review",
                order=35,
                rows=goal_queries.plans_due_rows,
                empty="No care plan is due for review.",
                sorted_by="longest overdue first",
            ),
        )

    def _register_pages(self) -> None:
        """The chart's Care plan section (careway/careplans/views.py)."""
        from careway.patients import frame

        from . import views

        frame.register_chart_section(views.CHART_SECTION)

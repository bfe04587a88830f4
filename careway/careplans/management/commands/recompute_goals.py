"""careway recompute-goals: work out every followed goal's achievement again (nightly)."""

from collections.abc import Callable
from typing import Any

from careway.careplans import tasks
from careway.careplans.management.agency_job import AgencyJobCommand
from careway.core.models import Organization


class Command(AgencyJobCommand):
    help = (
        "Work out again how every followed goal is going, for one agency or all: a due date "
        "passed or a reading grew stale changes a goal's status with nothing new on the chart. "
        "Run it nightly."
    )

    def run(self, agency: Organization, progress: Callable[[Any], None]) -> Any:
        return tasks.recompute_agency(agency.pk, progress=progress)

    def summary(self, done: Any) -> str:
        return f"{done.patients} patients with goals, {done.goals_changed} goals changed status."

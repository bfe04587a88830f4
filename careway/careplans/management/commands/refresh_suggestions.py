"""careway refresh-suggestions: bring every in-care patient's suggestions in step (nightly)."""

from collections.abc import Callable
from typing import Any

from careway.careplans import tasks
from careway.careplans.management.agency_job import AgencyJobCommand
from careway.core.models import Organization


class Command(AgencyJobCommand):
    help = (
        "Refresh the care plan suggestions and preventive care gaps of every patient in care, for "
        "one agency or all: a vaccine falls due, a new season begins, a screening grows old, with "
        "nothing new on the chart. Run it nightly."
    )

    def run(self, agency: Organization, progress: Callable[[Any], None]) -> Any:
        return tasks.refresh_agency(agency.pk, progress=progress)

    def summary(self, done: Any) -> str:
        return f"{done.patients} patients in care, {done.changed} suggestions changed."

"""careway refresh-suggestions: bring every in-care patient's suggestions in step (nightly)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from careway.careplans import tasks
from careway.core.models import Organization


class Command(BaseCommand):
    help = (
        "Refresh the care plan suggestions and preventive care gaps of every patient in care, for "
        "one agency or all: a vaccine falls due, a new season begins, a screening grows old, with "
        "nothing new on the chart. Run it nightly."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--agency", help="The agency's slug (default: every agency).")

    def handle(self, *args: Any, **options: Any) -> None:
        agencies = Organization.objects.order_by("pk")
        if options["agency"]:
            agencies = agencies.filter(slug=options["agency"])
            if not agencies.exists():
                raise CommandError(f"No agency has the slug {options['agency']!r}.")
        for agency in agencies:
            done = tasks.refresh_agency(
                agency.pk,
                progress=lambda d, a=agency: self.stderr.write(
                    f"{a.name}: {d.patients} patients", ending="\r"
                ),
            )
            self.stdout.write(
                f"{agency.name}: {done.patients} patients in care, "
                f"{done.changed} suggestions changed."
            )

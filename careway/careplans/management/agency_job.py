"""What the nightly care plan commands share: one agency by its slug, or every agency, each run
with a progress line on stderr and a summary on stdout."""

from collections.abc import Callable, Iterable
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from careway.core.models import Organization


class AgencyJobCommand(BaseCommand):
    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--agency", help="The agency's slug (default: every agency).")

    def agencies(self, slug: str | None) -> Iterable[Organization]:
        agencies = Organization.objects.order_by("pk")
        if slug:
            agencies = agencies.filter(slug=slug)
            if not agencies.exists():
                raise CommandError(f"No agency has the slug {slug!r}.")
        return agencies

    def handle(self, *args: Any, **options: Any) -> None:
        for agency in self.agencies(options["agency"]):
            done = self.run(
                agency,
                lambda d, a=agency: self.stderr.write(
                    f"{a.name}: {d.patients} patients", ending="\r"
                ),
            )
            self.stdout.write(f"{agency.name}: {self.summary(done)}")

    def run(self, agency: Organization, progress: Callable[[Any], None]) -> Any:
        raise NotImplementedError

    def summary(self, done: Any) -> str:
        raise NotImplementedError

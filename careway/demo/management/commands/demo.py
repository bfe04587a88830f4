"""`careway demo`: the demo agencies, or with --patients N a large agency for benchmarks."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from careway.demo import build, bulk


class Command(BaseCommand):
    help = (
        "Build the two demo agencies with their people and patients (once; re-running only "
        "prints the sign-in table), or with --patients N a large benchmark agency."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--patients",
            type=int,
            default=None,
            help="Build a large benchmark agency with this many patients (bulk loader).",
        )

    def handle(self, *args, patients: int | None = None, **options) -> None:
        if patients is not None:
            self._bulk(patients)
            return
        for agency, created in build.build_demo():
            state = "built" if created else "already there, left unchanged"
            self.stdout.write(f"{agency.organization.name}: {state}")
        self.stdout.write("")
        self.stdout.write(f"Password for every demo user: {build.content.demo_password()}")
        self.stdout.write(build.sign_in_table())
        self.stdout.write("(The same table is in docs/demo-users.md.)")

    def _bulk(self, patients: int) -> None:
        if patients < 1:
            raise CommandError("--patients must be 1 or more")
        progress = bulk.TerminalProgress(self.stdout, total=patients)
        result = bulk.build_benchmark_agency(patients, progress=progress)
        self.stdout.write(result.summary())

"""`careway audit verify`: check every audit hash chain from its first event to its head."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from careway.core import audit


class Command(BaseCommand):
    help = "Work with the audit trail. `careway audit verify` checks every hash chain."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")
        commands.add_parser("verify", help="Check that no audit event was edited or deleted.")

    def handle(self, *args, subcommand: str, **options) -> None:
        if subcommand == "verify":
            self.verify()

    def verify(self) -> None:
        checked, broken = audit.verify_all()
        self.stdout.write(f"Checked {checked} audit event{'s' if checked != 1 else ''}.")
        if not broken:
            self.stdout.write(self.style.SUCCESS("audit chain intact"))
            return
        for link in broken:
            self.stderr.write(self.style.ERROR(f"BROKEN {link}"))
        raise CommandError(
            f"audit chain broken in {len(broken)} chain{'s' if len(broken) != 1 else ''}",
            returncode=1,
        )

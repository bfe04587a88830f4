"""`careway audit verify`: check every audit hash chain from its first event to its head, and
with `--checkpoints FILE` against the latest signed checkpoint. `careway audit checkpoint` appends
one, signed with a key the database does not hold; `careway audit keygen` makes that key."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from careway.core import audit, checkpoints


class Command(BaseCommand):
    help = (
        "Work with the audit trail: `verify` checks every hash chain (and, with --checkpoints, "
        "the latest signed checkpoint); `checkpoint` appends a signed checkpoint; `keygen` makes "
        "the checkpoint key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")
        verify = commands.add_parser(
            "verify", help="Check that no audit event was edited or deleted."
        )
        verify.add_argument(
            "--checkpoints",
            type=Path,
            help="also compare with the latest checkpoint of this file (docs/operations.md)",
        )
        verify.add_argument(
            "--public-key",
            type=Path,
            help="the checkpoint key's public half (default: CAREWAY_AUDIT_CHECKPOINT_PUBLIC_KEY, "
            "else the public half of CAREWAY_AUDIT_CHECKPOINT_KEY)",
        )
        checkpoint = commands.add_parser(
            "checkpoint", help="Append a signed checkpoint of every chain's head to a file."
        )
        checkpoint.add_argument("--file", type=Path, help="default: CAREWAY_AUDIT_CHECKPOINTS")
        checkpoint.add_argument(
            "--key", type=Path, help="the private key (default: CAREWAY_AUDIT_CHECKPOINT_KEY)"
        )
        keygen = commands.add_parser(
            "keygen", help="Make a checkpoint key pair: KEY (private) and KEY.pub (public)."
        )
        keygen.add_argument("key", type=Path)

    def handle(self, *args, subcommand: str, **options) -> None:
        try:
            if subcommand == "verify":
                self.verify(options["checkpoints"], options["public_key"])
            elif subcommand == "checkpoint":
                self.checkpoint(options["file"], options["key"])
            else:
                self.keygen(options["key"])
        except checkpoints.CheckpointKeyError as error:
            raise CommandError(str(error), returncode=2) from None
        except OSError as error:
            raise CommandError(f"{error.filename}: {error.strerror}", returncode=2) from None

    def verify(self, checkpoint_file: Path | None, public_key: Path | None) -> None:
        checked, broken = audit.verify_all()
        self.stdout.write(f"Checked {checked} audit event{'s' if checked != 1 else ''}.")
        findings = [str(link) for link in broken]
        if checkpoint_file is not None:
            key = checkpoints.load_verifying_key(_verifying_key_path(public_key))
            latest, differences = checkpoints.latest_findings(checkpoint_file, key)
            if latest is not None:
                self.stdout.write(
                    f"Compared with the checkpoint of {latest.taken_at} "
                    f"(line {latest.line_number} of {checkpoint_file})."
                )
            findings += differences
        if not findings:
            self.stdout.write(self.style.SUCCESS("audit chain intact"))
            return
        for finding in findings:
            self.stderr.write(self.style.ERROR(f"BROKEN {finding}"))
        raise CommandError(
            f"audit trail broken: {len(findings)} finding{'s' if len(findings) != 1 else ''}",
            returncode=1,
        )

    def checkpoint(self, checkpoint_file: Path | None, key_file: Path | None) -> None:
        key = checkpoints.load_signing_key(
            key_file or _configured(settings.CAREWAY_AUDIT_CHECKPOINT_KEY, "--key")
        )
        target = checkpoint_file or _configured(settings.CAREWAY_AUDIT_CHECKPOINTS, "--file")
        taken = checkpoints.take(key)
        checkpoints.append(target, checkpoints.signed_line(taken, key))
        self.stdout.write(
            f"Checkpoint of {len(taken.heads)} chains appended to {target} (key {taken.key_id})."
        )

    def keygen(self, key_file: Path) -> None:
        public = checkpoints.new_key_files(key_file)
        self.stdout.write(
            f"Private key: {key_file} (keep it off the database server). Public key: {public}."
        )


def _verifying_key_path(given: Path | None) -> Path:
    # The private key file holds the public half too, so a host that signs can also verify.
    configured = (
        settings.CAREWAY_AUDIT_CHECKPOINT_PUBLIC_KEY or settings.CAREWAY_AUDIT_CHECKPOINT_KEY
    )
    return given or _configured(configured, "--public-key")


def _configured(value: str, option: str) -> Path:
    if not value:
        raise CommandError(f"Give {option}, or set it in the environment (docs/operations.md).")
    return Path(value)

"""`careway import-fhir PATH... --agency ORG --branch BRANCH [--as USERNAME]`: FHIR R4 files in.

Bundles (transaction or collection, JSON) and bulk NDJSON files, or directories of them, imported
into one agency's branch (see careway/fhir/importer.py for what is taken in and how). Shows the
bytes read of all files as it goes, then what each resource type became and every problem; exits
non-zero when there was any problem.

Whose charts it writes to: with --as, what that user's import on the page would (the patients
they may change, and those the import creates). Without it, the system acts for the agency and
may add to and update any of its patients: the operator at the server's console is trusted with
the whole agency (never another one), and the audit trail records the system as the actor.
"""

import time
from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.db.models import Q

from careway.core import audit
from careway.core.models import Branch, Organization, User
from careway.fhir.importer import OUTCOMES, ImportReport, Progress, import_files

BAR_WIDTH = 30
HEADINGS = {
    "created": "created",
    "updated": "updated",
    "unchanged": "unchanged",
    "not_taken_in": "not taken in",
    "invalid": "invalid",
    "rejected": "rejected",
}


class Command(BaseCommand):
    help = (
        "Import FHIR R4 bundles (.json, transaction or collection) and bulk NDJSON files "
        "(.ndjson, one resource a line) into an agency's branch. Importing the same files again "
        "changes nothing. Exits 1 if any problem was found."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="Files or directories.")
        parser.add_argument("--agency", required=True, help="The agency's slug, name or id.")
        parser.add_argument("--branch", required=True, help="The branch's name or id.")
        parser.add_argument(
            "--as",
            dest="username",
            default=None,
            help=(
                "Import as this user (an admin or case manager of the agency; a case manager "
                "becomes new patients' primary case manager), into the charts they may change "
                "and those the import creates. Without it, the import is recorded as the system "
                "acting for the agency, which may write to any of the agency's patients."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = _agency(options["agency"])
        branch = _branch(organization, options["branch"])
        actor = _actor(organization, options["username"])
        bar = ProgressBar(self.stdout)
        try:
            report = import_files(
                actor, organization, branch, options["paths"], on_progress=bar.update
            )
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        bar.finish()
        self._print_report(report, organization, branch)
        if not report.ok:
            raise CommandError(
                f"{report.problem_count} problem{'s' if report.problem_count != 1 else ''} "
                "found: see the list above.",
                returncode=1,
            )

    def _print_report(self, report: ImportReport, organization: Organization, branch: Branch):
        size = sum(f.bytes for f in report.files)
        rate = report.resources / report.seconds if report.seconds else 0
        write = self.stdout.write
        write(
            f"Read {len(report.files)} file{'s' if len(report.files) != 1 else ''} "
            f"({_megabytes(size)}) into {organization.name}, {branch.name}, in "
            f"{report.seconds:.1f} s ({rate:,.0f} resources/s)."
        )
        write("")
        write(_table(report))
        skipped = {
            t: row["not_taken_in"] for t, row in report.counts.items() if row["not_taken_in"]
        }
        if skipped:
            listed = ", ".join(f"{t} ({n:,})" for t, n in sorted(skipped.items()))
            write(f"\nNot taken in (Careway does not keep these types): {listed}.")
        write("\nFiles:")
        for f in report.files:
            write(f"  {f.name}: {f.bytes:,} bytes, SHA-256 {f.sha256 or '(not read)'}")
        if report.problems:
            write(f"\nProblems ({report.problem_count:,}):")
            for problem in report.problems:
                write(f"  {problem}")
            if report.problem_count > len(report.problems):
                write(f"  ... and {report.problem_count - len(report.problems):,} more.")
        else:
            write(self.style.SUCCESS("\nNo problems."))


def _table(report: ImportReport) -> str:
    width = max([len("resource type"), *(len(t) for t in report.counts)]) + 2
    head = "resource type".ljust(width) + "".join(f"{HEADINGS[o]:>14}" for o in OUTCOMES)
    lines = [head]
    for kind in sorted(report.counts):
        row = report.counts[kind]
        lines.append(kind.ljust(width) + "".join(f"{row[o]:>14,}" for o in OUTCOMES))
    lines.append("total".ljust(width) + "".join(f"{report.total(o):>14,}" for o in OUTCOMES))
    return "\n".join(lines)


def _agency(value: str) -> Organization:
    match = Q(slug=value) | Q(name__iexact=value)
    if value.isdigit():
        match |= Q(pk=int(value))
    found = Organization.objects.filter(match).first()
    if found is None:
        raise CommandError(f"No agency {value!r}: give its slug, name or id.")
    return found


def _branch(organization: Organization, value: str) -> Branch:
    match = Q(name__iexact=value)
    if value.isdigit():
        match |= Q(pk=int(value))
    found = organization.branches.filter(match).first()
    if found is None:
        names = ", ".join(repr(b.name) for b in organization.branches.order_by("name"))
        raise CommandError(f"{organization.name} has no branch {value!r}. Its branches: {names}.")
    return found


def _actor(organization: Organization, username: str | None) -> audit.Actor:
    if username is None:
        return audit.Actor.system(via="cli", organization_id=organization.pk)
    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user is called {username!r}.")
    return audit.Actor(user=user, via="cli")


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


class ProgressBar:
    """Bytes read of all files: a bar that redraws itself on a terminal, a line every tenth
    elsewhere (a log, a pipe)."""

    def __init__(self, stream: OutputWrapper):
        self.stream = stream
        self.is_tty = stream.isatty()
        self.started = time.monotonic()
        self.last_tenth = -1
        self.drawn = False

    def update(self, progress: Progress) -> None:
        percent = progress.percent
        elapsed = max(time.monotonic() - self.started, 1e-9)
        text = (
            f"{percent:3d}%  {_megabytes(progress.bytes_done)} of "
            f"{_megabytes(progress.bytes_total)}, {progress.resources:,} resources "
            f"({progress.resources / elapsed:,.0f}/s)  {progress.file}"
        )
        if self.is_tty:
            filled = BAR_WIDTH * percent // 100
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stream.write(f"\r[{bar}] {text}\x1b[K", ending="")
            self.stream.flush()
            self.drawn = True
        elif (tenth := percent // 10) != self.last_tenth:
            self.last_tenth = tenth
            self.stream.write(f"Read {text}")

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("")

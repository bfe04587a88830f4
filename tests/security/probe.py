"""Probe a copy of a Careway database for the attacks of issue 15.

    python -m tests.security.probe --sqlite var/careway.sqlite3 --username cm.rivera
    python -m tests.security.probe --postgres postgres://postgres@127.0.0.1:5432/careway \
        --username cm.rivera

It never touches the database it is given: it copies a SQLite file with SQLite's backup API, or
creates a PostgreSQL database from the given one as a template (PostgreSQL refuses while anyone
else is connected to it: stop the app or probe a restored backup), works on the copy and deletes
the copy at the end (`--keep` keeps it and prints where it is).

On the copy it
1. races sign-ins: sets a random password on the user (only on the copy), then sends 15 wrong
   passwords and the right one at once (threads released together by a barrier) and reports how
   many passwords were checked, how many attempts were refused as locked, and how many sessions
   were issued. Careway holds when at most the agency's lockout threshold were checked.
2. attacks the audit trail as a database owner would: takes a signed checkpoint first (with a
   key made for the probe), drops the append-only triggers, deletes one agency's chain (its head
   and every event), rewrites an event of another agency and recomputes every later hash and the
   head, and runs `careway audit verify` without and with the checkpoint. Careway holds when the
   deleted chain is reported without a checkpoint and the rewrite with one.

It exits 0 when every attack was stopped or detected, 1 when one was not. Both parts need the
database's users and agencies as `careway demo` or real use leaves them; `--skip-race` and
`--skip-audit` run one part alone.
"""

import argparse
import io
import logging
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

WRONG_PASSWORDS = 15


@dataclass(frozen=True)
class BurstReport:
    """What a burst of simultaneous sign-ins for one user did."""

    attempts: int
    threshold: int
    checked: int  # passwords compared with the stored hash
    right_password_checked: bool
    refused_as_locked: int  # refused without their password being checked
    recorded_wrong: int  # audited as a wrong password
    accepted: int  # answers that let the password step through (a session or the code step)
    sessions: int
    answers_alike: bool  # every refusal answered exactly like a wrong password

    def holds(self) -> bool:
        """At most the threshold checked, the rest refused, at most one session and only from a
        checked right password."""
        return (
            self.checked <= self.threshold
            and self.refused_as_locked == self.attempts - self.checked
            and self.sessions <= 1
            and self.accepted <= 1
            and (self.accepted == 0 or self.right_password_checked)
            and self.answers_alike
        )

    def lines(self) -> list[str]:
        return [
            f"{self.attempts} simultaneous sign-ins (threshold {self.threshold}): "
            f"{self.checked} passwords checked, {self.refused_as_locked} refused as locked, "
            f"{self.recorded_wrong} recorded as wrong, {self.accepted} accepted, "
            f"{self.sessions} session{'s' if self.sessions != 1 else ''} issued",
            "the right password was checked"
            if self.right_password_checked
            else "the right password was not checked",
            "refusals answer like wrong passwords"
            if self.answers_alike
            else "REFUSALS ANSWER DIFFERENTLY",
        ]


def sign_in_burst(username: str, right_password: str) -> BurstReport:
    """Send WRONG_PASSWORDS wrong passwords and the right one for `username` at the same moment,
    each from its own thread, connection and browser, through the sign-in page."""
    from careway.core.models import AuditEvent, User, UserSession
    from careway.core.views.signin import SIGN_IN_REFUSED

    user = User.objects.select_related("organization").get(username=username)
    passwords = [f"probe-wrong-guess-{n:02d}" for n in range(WRONG_PASSWORDS)] + [right_password]
    started = timezone.now()
    first_event = (AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()) or 0
    checked: list[str] = []
    answers: list[tuple[int, str]] = []
    barrier = threading.Barrier(len(passwords))
    real_check = User.check_password

    def counted_check(self: User, raw_password: str) -> bool:
        checked.append(raw_password)
        return real_check(self, raw_password)

    def attempt(password: str) -> None:
        client = Client()
        try:
            barrier.wait(timeout=60)
            response = client.post(reverse("login"), {"username": username, "password": password})
            answers.append((response.status_code, response.content.decode()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(p,)) for p in passwords]
    User.check_password = counted_check  # type: ignore[method-assign]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        User.check_password = real_check  # type: ignore[method-assign]
    events = AuditEvent.objects.filter(id__gt=first_event, action="auth.login_failed")
    refused_text = escape(SIGN_IN_REFUSED)
    return BurstReport(
        attempts=len(passwords),
        threshold=user.organization.lockout_threshold if user.organization else 5,
        checked=len(checked),
        right_password_checked=right_password in checked,
        refused_as_locked=events.filter(detail__why="account locked").count(),
        recorded_wrong=events.filter(detail__why="wrong password").count(),
        accepted=sum(status == 302 for status, _ in answers),
        sessions=UserSession.objects.filter(user=user, created_at__gte=started).count(),
        answers_alike=all(
            status == 400 and refused_text in body for status, body in answers if status != 302
        ),
    )


# --- what a database owner can do to the audit trail -------------------------------------------


def drop_audit_triggers() -> None:
    """Switch off the database's refusal of UPDATE and DELETE on audit events, as an owner can."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS core_auditevent_no_update")
            cursor.execute("DROP TRIGGER IF EXISTS core_auditevent_no_delete")


def delete_chain(chain_id: int) -> int:
    """Delete a chain whole: every event and the head. Returns the number of events deleted."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE chain_id = %s", [chain_id])
        deleted = cursor.rowcount
        cursor.execute("DELETE FROM core_auditchain WHERE chain_id = %s", [chain_id])
    return deleted


def rewrite_event(chain_id: int, seq: int, reason: str) -> int:
    """Change an event's reason and recompute its hash, every later hash and the head, so that
    the chain links up again. Returns the number of events rewritten."""
    from django.db import connection

    from careway.core import audit
    from careway.core.models import AuditEvent

    events = list(AuditEvent.objects.filter(chain_id=chain_id, seq__gte=seq).order_by("seq"))
    events[0].reason = reason
    prev = events[0].prev_hash
    with connection.cursor() as cursor:
        for event in events:
            event.prev_hash = prev
            event.hash = prev = audit.event_hash(event)
            cursor.execute(
                "UPDATE core_auditevent SET reason = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [event.reason, event.prev_hash, event.hash, event.pk],
            )
        cursor.execute(
            "UPDATE core_auditchain SET last_hash = %s WHERE chain_id = %s", [prev, chain_id]
        )
    return len(events)


def roll_back_chain(chain_id: int, to_seq: int) -> int:
    """Delete the events after `to_seq` and move the head back to that event, so that the
    shorter chain is consistent. Returns the number of events deleted."""
    from django.db import connection

    from careway.core.models import AuditEvent

    kept = AuditEvent.objects.get(chain_id=chain_id, seq=to_seq)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM core_auditevent WHERE chain_id = %s AND seq > %s", [chain_id, to_seq]
        )
        deleted = cursor.rowcount
        cursor.execute(
            "UPDATE core_auditchain SET last_seq = %s, last_hash = %s WHERE chain_id = %s",
            [to_seq, kept.hash, chain_id],
        )
    return deleted


# --- the audit probe ------------------------------------------------------------------------------


def verify_findings(*options: str) -> list[str]:
    """What `careway audit verify` reports (its BROKEN lines), with the given options."""
    from django.core.management import CommandError, call_command

    out, err = io.StringIO(), io.StringIO()
    # It exits non-zero when it finds something; what it found is the answer here.
    with suppress(CommandError):
        call_command("audit", "verify", *options, stdout=out, stderr=err)
    return [line.removeprefix("BROKEN ") for line in err.getvalue().splitlines() if line]


def probe_audit_trail(workdir: Path) -> tuple[bool, list[str]]:
    """Checkpoint, then attack the trail as its database owner; True when verify catches it."""
    from django.core.management import call_command

    from careway.core.models import AuditChain

    chains = list(
        AuditChain.objects.exclude(chain_id=0).filter(last_seq__gte=2).order_by("chain_id")
    )
    if len(chains) < 2:
        return False, ["the audit probe needs two agencies with two events or more each"]
    deleted, rewritten = chains[0], chains[1]
    key, checkpoint_file = workdir / "probe.key", workdir / "checkpoints.jsonl"
    call_command("audit", "keygen", str(key), stdout=io.StringIO())
    call_command(
        "audit",
        "checkpoint",
        "--file",
        str(checkpoint_file),
        "--key",
        str(key),
        stdout=io.StringIO(),
    )
    drop_audit_triggers()
    events_deleted = delete_chain(deleted.chain_id)
    target = max(1, rewritten.last_seq // 2)
    events_rewritten = rewrite_event(rewritten.chain_id, target, "rewritten by the probe")
    alone = verify_findings()
    checked = verify_findings("--checkpoints", str(checkpoint_file), "--public-key", str(key))
    lines = [
        f"deleted chain {deleted.chain_id} whole ({events_deleted} events and its head)",
        f"rewrote event {target} of chain {rewritten.chain_id} and recomputed "
        f"{events_rewritten - 1} later hashes and the head",
        "verify without a checkpoint reports:",
        *[f"  {finding}" for finding in alone or ["nothing"]],
        "verify with the checkpoint taken before reports:",
        *[f"  {finding}" for finding in checked or ["nothing"]],
    ]
    caught_deletion = any(f.startswith(f"chain {deleted.chain_id}:") for f in alone)
    caught_rewrite = any(f.startswith(f"chain {rewritten.chain_id},") for f in checked)
    return caught_deletion and caught_rewrite, lines


def probe_sign_in(username: str) -> tuple[bool, list[str]]:
    """Give the user a random password (on the copy only) and race 16 sign-ins for it."""
    from django.contrib.auth.hashers import make_password

    from careway.core.models import User

    password = secrets.token_urlsafe(18)
    updated = User.objects.filter(username=username).update(
        password=make_password(password), failed_login_count=0, locked_until=None
    )
    if not updated:
        return False, [f"no user {username!r} in this database"]
    report = sign_in_burst(username, password)
    return report.holds(), report.lines()


# --- copies, never the original -----------------------------------------------------------------


@contextmanager
def sqlite_copy(source: Path, workdir: Path) -> Iterator[str]:
    """A copy made with SQLite's backup API (consistent even while Careway writes), read-only."""
    if not source.is_file():
        raise SystemExit(f"{source} is not a file")
    target = workdir / "copy.sqlite3"
    # Without a write-ahead log beside it nobody is writing, and `immutable` reads the file without
    # leaving the -wal and -shm files a read-only reader of a WAL database otherwise creates.
    quiet = not source.with_name(source.name + "-wal").exists()
    original = sqlite3.connect(f"file:{source}?mode=ro{'&immutable=1' if quiet else ''}", uri=True)
    copy = sqlite3.connect(target)
    try:
        original.backup(copy)
    finally:
        copy.close()
        original.close()
    yield f"sqlite:///{target}"


@contextmanager
def postgresql_copy(url: str, keep: bool) -> Iterator[str]:
    """A new database made from the given one as its template, dropped afterwards."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    source = parts.path.lstrip("/")
    name = f"{source}_probe_{secrets.token_hex(4)}"
    server = parts._replace(path="/postgres").geturl()
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(source)
            )
        )
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        if not keep:
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def _use_database(url: str) -> None:
    """Point Careway's settings at the copy; the probe's own environment, whatever the shell's."""
    os.environ.update(
        DATABASE_URL=url,
        CAREWAY_ENV="development",
        ALLOWED_HOSTS="testserver",
        DJANGO_SETTINGS_MODULE="careway.settings",
    )
    os.environ.pop("CAREWAY_TEST_DB_NAME", None)
    import django

    django.setup()
    # Each refused sign-in would log a "Bad Request" line; the report says what happened.
    logging.getLogger("django.request").setLevel(logging.ERROR)


def run(args: argparse.Namespace, url: str, workdir: Path) -> bool:
    _use_database(url)
    held = True
    parts = []
    if not args.skip_race:
        parts.append(("Parallel sign-in", probe_sign_in(args.username)))
    if not args.skip_audit:
        parts.append(("Audit trail", probe_audit_trail(workdir)))
    for title, (holds, lines) in parts:
        print(f"{title}: {'HOLDS' if holds else 'DOES NOT HOLD'}")
        for line in lines:
            print(f"  {line}")
        held = held and holds
    connections.close_all()
    return held


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--sqlite", type=Path, help="the SQLite file to copy")
    source.add_argument("--postgres", help="the PostgreSQL database URL to copy (as a template)")
    parser.add_argument("--username", default="", help="whose sign-in to race (on the copy)")
    parser.add_argument("--skip-race", action="store_true")
    parser.add_argument("--skip-audit", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the copy and print where")
    args = parser.parse_args(argv)
    if not args.skip_race and not args.username:
        parser.error("--username is needed for the sign-in race (or --skip-race)")
    workdir = Path(tempfile.mkdtemp(prefix="careway-probe-"))
    try:
        if args.sqlite:
            copy = sqlite_copy(args.sqlite, workdir)
        else:
            copy = postgresql_copy(args.postgres, args.keep)
        with copy as url:
            held = run(args, url, workdir)
            if args.keep:
                print(f"The copy is kept: DATABASE_URL={url}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())

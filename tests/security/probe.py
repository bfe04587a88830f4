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

import threading
from dataclasses import dataclass
from html import escape

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

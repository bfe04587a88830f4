"""The audit trail: one append-only, hash-chained event for every look at and change to patient
data, every sign-in, every access change.

`record()` must be called inside the transaction of the action it records, so that the event and
the action commit or roll back together. Each agency has its own chain; appending locks the chain's
head row, which numbers events without gaps and links each to the hash of the one before.
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from .models import AuditChain, AuditEvent, Organization, User

SYSTEM_CHAIN = 0
GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who is acting, as the audit trail records them."""

    user: User | None
    client_address: str | None = None
    via: str = "web"
    # For a system actor working inside one agency (the demo, imports): its events belong on that
    # agency's chain, not the system's.
    on_behalf_of_organization_id: int | None = None

    @classmethod
    def from_request(cls, request: HttpRequest, via: str = "web") -> "Actor":
        user = request.user if request.user.is_authenticated else None
        return cls(user=user, client_address=client_address(request), via=via)

    @classmethod
    def system(cls, via: str = "cli", organization_id: int | None = None) -> "Actor":
        return cls(
            user=None, client_address=None, via=via, on_behalf_of_organization_id=organization_id
        )

    @property
    def organization_id(self) -> int | None:
        return self.user.organization_id if self.user else self.on_behalf_of_organization_id


def client_address(request: HttpRequest) -> str | None:
    # Behind a proxy, set the proxy to overwrite REMOTE_ADDR (see docs/operations.md); we do not
    # trust X-Forwarded-For from clients.
    return request.META.get("REMOTE_ADDR") or None


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def content_digest(event: AuditEvent) -> str:
    """SHA-256 of what the event says (everything but its place in the chain)."""
    fields = {
        "chain_id": event.chain_id,
        "occurred_at": event.occurred_at.isoformat(),
        "organization_id": event.organization_id,
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "actor_role": event.actor_role,
        "patient_id": str(event.patient_id) if event.patient_id else None,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "client_address": event.client_address,
        "reason": event.reason,
        "outcome": event.outcome,
        "detail": event.detail,
    }
    return hashlib.sha256(_canonical(fields)).hexdigest()


def link(prev_hash: str, digest: str) -> str:
    """An event's hash: its content bound to the hash of the event before it.

    PostgreSQL computes the same thing in `_append_one_postgresql` (sha256 of the two hex strings
    joined), so it must stay this simple.
    """
    return hashlib.sha256((prev_hash + digest).encode()).hexdigest()


def event_hash(event: AuditEvent) -> str:
    return link(event.prev_hash, content_digest(event))


def record(
    actor: Actor,
    action: str,
    *,
    patient_id: Any = None,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    reason: str = "",
    outcome: str = AuditEvent.Outcome.SUCCESS,
    organization_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain of the actor's agency (or the given one)."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    org_id = organization_id if organization_id is not None else actor.organization_id
    fields = {
        "patient_id": patient_id,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "reason": reason,
        "outcome": outcome,
        "detail": _detail_of(actor, detail),
    }
    if connection.vendor == "postgresql":
        return _append_one_postgresql(actor, org_id, fields)
    return _append(actor, org_id, [fields])[0]


def record_many(
    actor: Actor,
    action: str,
    patient_ids: Iterable[Any],
    *,
    object_type: str = "patients.patient",
    object_ids: Iterable[Any] | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
) -> list[AuditEvent]:
    """One event per patient, in three statements whatever their number (lists and searches).
    With `object_ids` (one for each patient id, in order) each event is about that record of
    the patient (a goal worked out again) rather than the patient."""
    shared = {
        "action": action,
        "object_type": object_type,
        "reason": reason,
        "outcome": outcome,
        "detail": _detail_of(actor, detail),
    }
    patients = list(patient_ids)
    objects = patients if object_ids is None else list(object_ids)
    rows = [
        {**shared, "patient_id": pid, "object_id": str(oid)}
        for pid, oid in zip(patients, objects, strict=True)
    ]
    return _append(actor, actor.organization_id, rows) if rows else []


def _detail_of(actor: Actor, detail: dict[str, Any] | None) -> dict[str, Any]:
    detail = dict(detail or {})
    if actor.via != "web":
        detail.setdefault("via", actor.via)
    return detail


def _append(actor: Actor, org_id: int | None, rows: list[dict[str, Any]]) -> list[AuditEvent]:
    """Lock the chain's head, link each event to the one before, insert them, move the head.

    Lists and, on SQLite, every event come through here. It speaks SQL directly (three statements,
    no ORM query building); the ORM still prepares each value, so both databases store the same.
    No savepoint: an event that fails to append must fail the action it records.
    """
    chain_id = org_id or SYSTEM_CHAIN
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        seq, prev = _lock_head(cursor, chain_id)
        now = timezone.now()
        events = []
        for row in rows:
            seq += 1
            event = _new_event(actor, chain_id, org_id, now, row)
            event.seq, event.prev_hash = seq, prev
            event.hash = prev = event_hash(event)
            events.append(event)
        _insert(cursor, events)
        cursor.execute(
            f"UPDATE {_HEAD} SET last_seq = %s, last_hash = %s WHERE chain_id = %s",  # noqa: S608
            [seq, prev, chain_id],
        )
    return events


def _new_event(
    actor: Actor, chain_id: int, org_id: int | None, now: Any, row: dict[str, Any]
) -> AuditEvent:
    user = actor.user
    return AuditEvent(
        chain_id=chain_id,
        occurred_at=now,
        organization_id=org_id,
        actor_id=user.pk if user else None,
        actor_username=user.username if user else "",
        actor_role=user.primary_role if user else "",
        client_address=actor.client_address,
        **row,
    )


_HEAD = AuditChain._meta.db_table
_EVENT_FIELDS = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
_CHAIN_FIELDS = {"seq", "prev_hash", "hash"}
_CONTENT_FIELDS = [f for f in _EVENT_FIELDS if f.name not in _CHAIN_FIELDS]


def _append_one_postgresql(actor: Actor, org_id: int | None, row: dict[str, Any]) -> AuditEvent:
    """Append one event in one statement: lock the head, link, insert, move the head.

    The hash is computed by the database (sha256 of the previous hash and the content digest, as
    `link` does), so nothing has to travel back to Python in between. Outside a transaction this is
    a transaction of its own: one round trip for each audited read.
    """
    chain_id = org_id or SYSTEM_CHAIN
    event = _new_event(actor, chain_id, org_id, timezone.now(), row)
    digest = content_digest(event)
    values = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in _CONTENT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_APPEND_ONE_SQL, [chain_id, digest, chain_id, *values])
        returned = cursor.fetchone()
        if returned is None:  # the system chain's first event: make its head, then append
            _create_missing_head(chain_id)
            cursor.execute(_APPEND_ONE_SQL, [chain_id, digest, chain_id, *values])
            returned = cursor.fetchone()
    event.seq, event.prev_hash, event.hash = returned
    return event


_APPEND_ONE_SQL = f"""
WITH head AS (
    SELECT last_seq, last_hash FROM {_HEAD} WHERE chain_id = %s FOR UPDATE
), moved AS (
    UPDATE {_HEAD} AS h
    SET last_seq = head.last_seq + 1,
        last_hash = encode(sha256(convert_to(head.last_hash || %s, 'UTF8')), 'hex')
    FROM head WHERE h.chain_id = %s
    RETURNING h.last_seq, head.last_hash AS prev_hash, h.last_hash
)
INSERT INTO {AuditEvent._meta.db_table}
    ({", ".join(f.column for f in _CONTENT_FIELDS)}, seq, prev_hash, hash)
SELECT {", ".join(["%s"] * len(_CONTENT_FIELDS))}, moved.last_seq, moved.prev_hash, moved.last_hash
FROM moved
RETURNING seq, prev_hash, hash
"""  # noqa: S608 (names come from the models; every value is a parameter)


def _lock_head(cursor: Any, chain_id: int) -> tuple[int, str]:
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = f"SELECT last_seq, last_hash FROM {_HEAD} WHERE chain_id = %s{lock}"  # noqa: S608
    cursor.execute(sql, [chain_id])
    row = cursor.fetchone()
    if row is None:  # the system chain's first event: make its head, then lock it
        _create_missing_head(chain_id)
        cursor.execute(sql, [chain_id])
        row = cursor.fetchone()
    return row[0], row[1]


class ChainHeadMissing(RuntimeError):
    """An agency's chain head is gone, so its trail was deleted whole."""


def _create_missing_head(chain_id: int) -> None:
    # Every agency's head is made with the agency. Making a missing one here would start a fresh
    # chain at event 1 and so hide the deleted trail from `verify`: refuse the action instead.
    if chain_id != SYSTEM_CHAIN:
        raise ChainHeadMissing(
            f"the audit chain of agency {chain_id} is missing; run `careway audit verify`"
        )
    AuditChain.objects.get_or_create(chain_id=chain_id)


# The events of one batch (a list's, or a single event) differ only in these fields; the rest are
# sent once, which keeps a 50-patient page to about 260 parameters instead of 900.
_PER_EVENT = ("seq", "patient_id", "object_id", "prev_hash", "hash")


def _insert(cursor: Any, events: list[AuditEvent], chunk: int = 500) -> None:
    # Table and column names come from the model, never from input; values are parameters.
    shared = [f for f in _EVENT_FIELDS if f.name not in _PER_EVENT]
    varying = sorted(
        (f for f in _EVENT_FIELDS if f.name in _PER_EVENT), key=lambda f: _PER_EVENT.index(f.name)
    )
    columns = ", ".join(connection.ops.quote_name(f.column) for f in [*shared, *varying])
    picks = ", ".join(["%s"] * len(shared) + [f"v.column{i + 1}" for i in range(len(varying))])
    row = "(" + ", ".join(["%s"] * len(varying)) + ")"
    first = events[0]
    constants = [f.get_db_prep_save(getattr(first, f.attname), connection) for f in shared]
    table = AuditEvent._meta.db_table
    for start in range(0, len(events), chunk):
        part = events[start : start + chunk]
        values = [
            f.get_db_prep_save(getattr(e, f.attname), connection) for e in part for f in varying
        ]
        rows = ", ".join([row] * len(part))
        sql = f"INSERT INTO {table} ({columns}) SELECT {picks} FROM (VALUES {rows}) AS v"  # noqa: S608
        cursor.execute(sql, [*constants, *values])


@dataclass(frozen=True)
class BrokenLink:
    chain_id: int
    seq: int | None  # None: the finding is about the whole chain
    problem: str

    def __str__(self) -> str:
        where = f"chain {self.chain_id}" + (f", event {self.seq}" if self.seq else "")
        return f"{where}: {self.problem}"


def verify_chain(chain_id: int, batch: int = 5000, *, required: bool = False) -> BrokenLink | None:
    """Walk one chain in order and return the first link that does not hold.

    A chain must have its head when it is `required` (every agency's is made with the agency) or
    when it has events; a head that is gone is the trace of a chain deleted whole.
    """
    head = AuditChain.objects.filter(chain_id=chain_id).first()
    expected_seq, prev_hash = 1, GENESIS_HASH
    for event in _events_in_order(chain_id, batch):
        if event.seq != expected_seq:
            return BrokenLink(chain_id, expected_seq, "event is missing (deleted)")
        if event.prev_hash != prev_hash:
            return BrokenLink(chain_id, event.seq, "does not link to the event before it")
        if event_hash(event) != event.hash:
            return BrokenLink(chain_id, event.seq, "content does not match its hash (edited)")
        expected_seq, prev_hash = event.seq + 1, event.hash
    if head is None and (required or expected_seq > 1):
        whose = "the system's" if chain_id == SYSTEM_CHAIN else "the agency's"
        return BrokenLink(chain_id, None, f"{whose} chain is missing (its head was deleted)")
    if head and (head.last_seq != expected_seq - 1 or head.last_hash != prev_hash):
        return BrokenLink(chain_id, expected_seq, "the latest events are missing (deleted)")
    return None


def verify_all() -> tuple[int, list[BrokenLink]]:
    """Verify every chain: every agency's (each has one from its creation), and every other chain
    that has a head or events. Returns the number of events checked and the first break per chain.
    """
    agencies = set(Organization.objects.values_list("pk", flat=True))
    chain_ids = agencies | set(AuditChain.objects.values_list("chain_id", flat=True))
    chain_ids |= set(AuditEvent.objects.values_list("chain_id", flat=True).distinct())
    broken = [
        b
        for cid in sorted(chain_ids)
        if (b := verify_chain(cid, required=cid in agencies)) is not None
    ]
    return AuditEvent.objects.count(), broken


def _events_in_order(chain_id: int, batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(
            AuditEvent.objects.filter(chain_id=chain_id, seq__gt=last).order_by("seq")[:batch]
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


# --- naming the patients of events ---------------------------------------------------------------


@dataclass(frozen=True)
class PatientDirectory:
    """How the audit pages name a patient that events refer to by id, and find one by what an
    auditor types (a name or an MRN), without core knowing what a patient is: careway/patients
    registers its directory when it is installed."""

    # (name, identifier as staff know it), by patient id: ("Hale, Margaret", "MRN RB-10040").
    describe: Callable[[int, list[Any]], dict[Any, tuple[str, str]]]
    # The ids of the agency's patients a search names (by name or MRN), lazily.
    find: Callable[[int, str], Iterable[Any]]


_directory: list[PatientDirectory] = []


def register_patient_directory(directory: PatientDirectory) -> None:
    _directory[:] = [directory]


def describe_patients(
    organization_id: int, patient_ids: Iterable[Any]
) -> dict[Any, tuple[str, str]]:
    """(name, identifier) by patient id, for the ids the agency has."""
    wanted = list(dict.fromkeys(pid for pid in patient_ids if pid))
    if not wanted or not _directory:
        return {}
    return _directory[0].describe(organization_id, wanted)


def find_patients(organization_id: int, text: str) -> Iterable[Any]:
    """The ids of the agency's patients an auditor's search names (by name or MRN)."""
    return _directory[0].find(organization_id, text) if _directory else []

"""The audit trail: one append-only, hash-chained event for every look at and change to patient
data, every sign-in, every access change.

`record()` must be called inside the transaction of the action it records, so that the event and
the action commit or roll back together. Each agency has its own chain; appending locks the chain's
head row, which numbers events without gaps and links each to the hash of the one before.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from .models import AuditChain, AuditEvent, User

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


def event_hash(event: AuditEvent) -> str:
    fields = {
        "chain_id": event.chain_id,
        "seq": event.seq,
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
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(_canonical(fields)).hexdigest()


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
    user = actor.user
    detail = dict(detail or {})
    if actor.via != "web":
        detail.setdefault("via", actor.via)
    # No savepoint: an event that fails to append must fail the action it records.
    with transaction.atomic(savepoint=False):
        chain_id = org_id or SYSTEM_CHAIN
        head = _lock_chain_head(chain_id)
        event = AuditEvent(
            chain_id=chain_id,
            seq=head.last_seq + 1,
            occurred_at=timezone.now(),
            organization_id=org_id,
            actor_id=user.pk if user else None,
            actor_username=user.username if user else "",
            actor_role=user.primary_role if user else "",
            patient_id=patient_id,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            client_address=actor.client_address,
            reason=reason,
            outcome=outcome,
            detail=detail,
            prev_hash=head.last_hash,
        )
        event.hash = event_hash(event)
        event.save(force_insert=True)
        AuditChain.objects.filter(chain_id=chain_id).update(
            last_seq=event.seq, last_hash=event.hash
        )
    return event


def record_many(
    actor: Actor,
    action: str,
    patient_ids: Iterable[Any],
    *,
    object_type: str = "patients.patient",
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> list[AuditEvent]:
    """One event per patient, in three queries whatever their number (lists and searches)."""
    ids = list(patient_ids)
    if not ids:
        return []
    org_id = actor.organization_id
    chain_id = org_id or SYSTEM_CHAIN
    user = actor.user
    detail = dict(detail or {})
    if actor.via != "web":
        detail.setdefault("via", actor.via)
    with transaction.atomic(savepoint=False):
        head = _lock_chain_head(chain_id)
        now = timezone.now()
        seq, prev = head.last_seq, head.last_hash
        events = []
        for pid in ids:
            seq += 1
            event = AuditEvent(
                chain_id=chain_id,
                seq=seq,
                occurred_at=now,
                organization_id=org_id,
                actor_id=user.pk if user else None,
                actor_username=user.username if user else "",
                actor_role=user.primary_role if user else "",
                patient_id=pid,
                action=action,
                object_type=object_type,
                object_id=str(pid),
                client_address=actor.client_address,
                reason=reason,
                outcome=AuditEvent.Outcome.SUCCESS,
                detail=detail,
                prev_hash=prev,
            )
            event.hash = prev = event_hash(event)
            events.append(event)
        AuditEvent.objects.bulk_create(events)
        AuditChain.objects.filter(chain_id=chain_id).update(last_seq=seq, last_hash=prev)
    return events


def _lock_chain_head(chain_id: int) -> AuditChain:
    head = AuditChain.objects.select_for_update().filter(chain_id=chain_id).first()
    if head is None:
        AuditChain.objects.get_or_create(chain_id=chain_id)
        head = AuditChain.objects.select_for_update().get(chain_id=chain_id)
    return head


@dataclass(frozen=True)
class BrokenLink:
    chain_id: int
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"chain {self.chain_id}, event {self.seq}: {self.problem}"


def verify_chain(chain_id: int, batch: int = 5000) -> BrokenLink | None:
    """Walk one chain in order and return the first link that does not hold."""
    expected_seq, prev_hash = 1, GENESIS_HASH
    for event in _events_in_order(chain_id, batch):
        if event.seq != expected_seq:
            return BrokenLink(chain_id, expected_seq, "event is missing (deleted)")
        if event.prev_hash != prev_hash:
            return BrokenLink(chain_id, event.seq, "does not link to the event before it")
        if event_hash(event) != event.hash:
            return BrokenLink(chain_id, event.seq, "content does not match its hash (edited)")
        expected_seq, prev_hash = event.seq + 1, event.hash
    head = AuditChain.objects.filter(chain_id=chain_id).first()
    if head and (head.last_seq != expected_seq - 1 or head.last_hash != prev_hash):
        return BrokenLink(chain_id, expected_seq, "the latest events are missing (deleted)")
    return None


def verify_all() -> tuple[int, list[BrokenLink]]:
    """Verify every chain; returns the number of events checked and the first break per chain."""
    chain_ids = set(AuditChain.objects.values_list("chain_id", flat=True))
    chain_ids |= set(AuditEvent.objects.values_list("chain_id", flat=True).distinct())
    broken = [b for cid in sorted(chain_ids) if (b := verify_chain(cid)) is not None]
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

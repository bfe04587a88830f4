"""When the chart's evidence changes: the hook through which other domains follow the chart.

A new or corrected reading, a signed score, an encounter, a task done: whatever writes such a
record calls `evidence_changed(actor, patient_ids)` inside its service's transaction, and each
registered listener (a domain's, from its AppConfig.ready()) updates what it derives from the
chart for those patients in the same transaction. Care plans recompute their goals this way:

    register_evidence_listener(EvidenceListener("careplans-goals", recompute_goals_for))

Patients knows no listener; a listener must be cheap for a handful of patients (it runs on every
save of a reading) and work in a fixed number of queries for a batch (an import).
"""

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from careway.core import audit
from careway.core.registry import Registry


@dataclass(frozen=True)
class EvidenceListener:
    key: str
    # (the actor whose write changed the evidence, the patients' ids) -> None
    changed: Callable[[audit.Actor, Collection[Any]], None]


EVIDENCE_LISTENERS: Registry[EvidenceListener] = Registry(
    "evidence listener", lambda listener: listener.key, lambda listener: listener.key
)


def register_evidence_listener(*listeners: EvidenceListener) -> None:
    EVIDENCE_LISTENERS.register(*listeners)


# While `held()` runs: actor -> the patients whose evidence that actor's writes changed.
_HELD: ContextVar[dict[audit.Actor, set[Any]] | None] = ContextVar("evidence_held", default=None)


@contextmanager
def held() -> Iterator[None]:
    """Tell the listeners at the end of the block, once per actor for every patient whose
    evidence changed in it, instead of after each write: for a writer of many records of a few
    patients at once (the demo's charts), where the listeners' work would otherwise be done
    again for every record. The block is one transaction, so what the listeners derive lands
    with the records or not at all."""
    if _HELD.get() is not None:  # already held by an outer block, which tells them
        yield
        return
    pending: dict[audit.Actor, set[Any]] = {}
    with transaction.atomic():
        token = _HELD.set(pending)
        try:
            yield
        finally:
            _HELD.reset(token)
        for actor, patient_ids in pending.items():
            evidence_changed(actor, patient_ids)


def evidence_changed(actor: audit.Actor, patient_ids: Collection[Any]) -> None:
    if not patient_ids:
        return
    pending = _HELD.get()
    if pending is not None:
        pending.setdefault(actor, set()).update(patient_ids)
        return
    for listener in EVIDENCE_LISTENERS:
        listener.changed(actor, patient_ids)

"""When the chart's evidence changes: the hook through which other domains follow the chart.

A new or corrected reading, a signed score, an encounter, a task done: whatever writes such a
record calls `evidence_changed(actor, patient_ids)` inside its service's transaction, and each
registered listener (a domain's, from its AppConfig.ready()) updates what it derives from the
chart for those patients in the same transaction. Care plans recompute their goals this way:

    register_evidence_listener(EvidenceListener("careplans-goals", recompute_goals_for))

Patients knows no listener; a listener must be cheap for a handful of patients (it runs on every
save of a reading) and work in a fixed number of queries for a batch (an import).
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

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


def evidence_changed(actor: audit.Actor, patient_ids: Collection[Any]) -> None:
    if not patient_ids:
        return
    for listener in EVIDENCE_LISTENERS:
        listener.changed(actor, patient_ids)

"""Careway records and FHIR R4 resources, both ways: the one place that knows the mapping.

Import (careway/fhir/importer.py), the FHIR API (careway/fhir/api.py) and bulk export all go
through the two functions here, so that what Careway reads is what it writes: exporting a patient,
importing the export into an empty agency and exporting again gives the same resources.

- `from_fhir(resource)` turns one FHIR resource into the Careway rows it becomes (`Incoming`),
  with the references it makes still unresolved (the importer resolves them across the bundle and
  the database). It raises `Invalid` naming the element at fault.
- `to_fhir(record)` turns one Careway record into its FHIR resource (a dict ready for JSON). A
  measurement panel (Observation rows sharing `panel_id`) is one resource: pass `members=`.

Each resource type has its own module (patient.py, condition.py, ...) registering both
directions in REGISTRY; each module's docstring records its decisions.

References in `Incoming.references`: a key naming a foreign key (encounter, episode) is resolved
to that record. A key naming a text field (reason, indication, prescriber, practitioner,
payer_name) or an item of a list field ("addresses.0") asks the importer to put there the
referenced resource's words (a condition's display, a person's or organization's name), because
the resource gave only a reference. Rows may carry `recorded_at` when the resource says when it
was recorded (Condition.recordedDate, Observation.issued, MedicationRequest.authoredOn, ...).

`resource_type_of(record)` tells which type a record is written as (a Medication by its kind);
`to_fhir("CareTeam", episode)` writes an episode's care team.

A type may also be written from records of another model: an assessment's Score is an Observation
too (careway/fhir/mapping/score.py). Such a writer is registered with `also=True`: `to_fhir`
picks it by the record's model, and it takes nothing in (the type's own mapping reads).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models


class Invalid(Exception):
    """A resource Careway cannot take in as it is: `path` names the element, `reason` says why."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class NotSupported(Exception):
    """A resource type Careway does not take in (it is counted and listed, never dropped
    silently)."""


@dataclass
class Incoming:
    """One FHIR resource as the Careway rows it becomes, before references are resolved.

    `rows` holds the field values of each record, by model field name, without organization,
    patient or version (the importer sets those); usually one row, one per component for a panel.
    `subject` is the reference to the patient as written in the resource ("" for a Patient
    itself); `references` maps a field name to a reference still to resolve (for example
    {"encounter": "urn:uuid:..."}); `source_id` is the resource's own id, if it has one.
    """

    resource_type: str
    model: type[models.Model]
    rows: list[dict[str, Any]]
    subject: str = ""
    references: dict[str, str] = field(default_factory=dict)
    source_id: str = ""
    identifiers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Mapping:
    resource_type: str
    model: type[models.Model]
    from_fhir: Callable[[dict[str, Any]], Incoming] | None
    to_fhir: Callable[..., dict[str, Any]] | None


REGISTRY: dict[str, Mapping] = {}
# Further writers of a type, for records of another model than the type's own mapping reads.
ALSO: dict[str, list[Mapping]] = {}


def register(mapping: Mapping, also: bool = False) -> Mapping:
    if also:
        ALSO.setdefault(mapping.resource_type, []).append(mapping)
    else:
        REGISTRY[mapping.resource_type] = mapping
    return mapping


def from_fhir(resource: dict[str, Any]) -> Incoming:
    """The Careway rows one FHIR resource becomes; Invalid or NotSupported when it cannot."""
    _load()
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(kind, str) or not kind:
        raise Invalid("resourceType", "missing: every resource must say its type")
    mapping = REGISTRY.get(kind)
    if mapping is None or mapping.from_fhir is None:
        raise NotSupported(kind)
    return mapping.from_fhir(resource)


def to_fhir(
    resource_type: str, record: models.Model, members: Sequence[models.Model] = ()
) -> dict[str, Any]:
    """The FHIR resource of one Careway record (and, for a panel, its other members)."""
    _load()
    mapping = _writer(resource_type, record)
    if mapping.to_fhir is None:
        raise NotSupported(resource_type)
    return mapping.to_fhir(record, members) if members else mapping.to_fhir(record)


def resource_type_of(record: models.Model) -> str:
    """The FHIR resource type a Careway record is written as (a Medication by its kind; an
    EpisodeOfCare as EpisodeOfCare, its team being to_fhir("CareTeam", episode))."""
    _load()
    from careway.patients.models import Medication

    if isinstance(record, Medication):
        return (
            "MedicationRequest" if record.kind == Medication.Kind.REQUEST else "MedicationStatement"
        )
    for kind, mapping in REGISTRY.items():
        if mapping.model is type(record) and mapping.to_fhir is not None and kind != "CareTeam":
            return kind
    for kind, writers in ALSO.items():
        if any(w.model is type(record) and w.to_fhir is not None for w in writers):
            return kind
    raise NotSupported(type(record).__name__)


def _writer(resource_type: str, record: models.Model) -> Mapping:
    mapping = REGISTRY[resource_type]
    if isinstance(record, mapping.model):
        return mapping
    return next((w for w in ALSO.get(resource_type, []) if isinstance(record, w.model)), mapping)


def _load() -> None:
    # The per-type modules register themselves on import.
    from . import resources  # noqa: F401

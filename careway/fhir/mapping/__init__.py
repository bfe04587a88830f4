"""Careway records and FHIR R4 resources: the one place that knows each resource type.

Each resource type has its own module here (patient.py, condition.py, ...) registering one
ResourceDeclaration: everything Careway knows about the type, in one place. Import
(careway/fhir/importer.py), the FHIR API (careway/fhir/api.py with careway/fhir/search.py) and
bulk export (careway/fhir/export.py) read the declarations and keep no list of types of their own:
- `from_fhir` and `to_fhir`, the mapping both ways (below); import takes in the types that have
  `from_fhir`;
- `search`: how the API reads and searches the type (careway.fhir.search.SearchDeclaration); the
  API serves, and its CapabilityStatement lists, the types that have one;
- `export`: the rows bulk export writes for a chunk of patients, and which of them changed since
  a moment (`_since`);
- `write`: whether and how the API creates and updates the type (Write);
- `notes` for the CapabilityStatement, and `elements`, the FHIR element of each model field, which
  error answers name;
- `grouped_by`: a field whose rows together are one resource (an Observation panel).
resources.py imports every module, in the order export writes its files (Patient first, as the
Bulk Data spec shows it), which is also the order the CapabilityStatement lists the types in.
Each module's docstring records its decisions.

What Careway reads is what it writes: import, the API and bulk export all go through the two
mapping functions here, so exporting a patient, importing the export into an empty agency and
exporting again gives the same resources.

- `from_fhir(resource)` turns one FHIR resource into the Careway rows it becomes (`Incoming`),
  with the references it makes still unresolved (the importer resolves them across the bundle and
  the database). It raises `Invalid` naming the element at fault.
- `to_fhir(record)` turns one Careway record into its FHIR resource (a dict ready for JSON). A
  measurement panel (Observation rows sharing `panel_id`) is one resource: pass `members=`.

References in `Incoming.references`: a key naming a foreign key (encounter, episode) is resolved
to that record. A key naming a text field (reason, indication, prescriber, practitioner,
payer_name) or an item of a list field ("addresses.0") asks the importer to put there the
referenced resource's words (a condition's display, a person's or organization's name), because
the resource gave only a reference. Rows may carry `recorded_at` when the resource says when it
was recorded (Condition.recordedDate, Observation.issued, MedicationRequest.authoredOn, ...).

`resource_type_of(record)` tells which type a record is written as (a Medication by its kind);
`to_fhir("CareTeam", episode)` writes an episode's care team.

A type may also be served from records of another model: an assessment's Score is an Observation
too (careway/fhir/mapping/score.py). Such a declaration is registered with `also=True`: `to_fhir`
picks it by the record's model, the API searches and reads its rows with the type's own, export
writes them after the type's own, and it takes nothing in (the type's own mapping reads); its
`refuse` and `read_only_because` say how the API turns away a write of one.

A record may be several resources: a visit frequency of two parts (`3w1, 2w4`) is two
ServiceRequests, since a Timing holds one repeat (careway/fhir/mapping/service_request.py). Its
declaration says how many with `parts(record)`, and `to_fhir(record, part=n)` writes part n (from
1); `resources_of` writes them all, in order, and `part_named(id)` tells which part an id is. The
API pages such a type by resource, not by record, and export writes every part.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet

from careway.core import audit
from careway.core.permissions import Permission
from careway.fhir.search import SearchDeclaration
from careway.patients.models import Medication, Patient


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
class Export:
    """What bulk export writes of a type."""

    # The type's rows for a chunk of patient ids, in a steady order.
    rows: Callable[[list[Any]], QuerySet]
    # The rows changed after a moment (`_since`); None for records that keep no time to tell by,
    # which are written whatever `_since` says.
    changed_since: Callable[[datetime], Q] | None = None


def patient_rows(model: type[models.Model], **filters: Any) -> Callable[[list[Any]], QuerySet]:
    """The rows of `model` (matching `filters`) of a chunk of patients, by patient and id."""

    def rows(patient_ids: list[Any]) -> QuerySet:
        return model._default_manager.filter(patient_id__in=patient_ids, **filters).order_by(
            "patient_id", "pk"
        )

    return rows


def changed_after(field_name: str) -> Callable[[datetime], Q]:
    """The rows whose `field_name` (when they changed, or were recorded) is after a moment."""
    return lambda since: Q(**{f"{field_name}__gt": since})


@dataclass(frozen=True)
class Located:
    """The stored resource an update replaces: its record, a panel's members, and its patient."""

    record: models.Model
    members: list[Any]
    patient: Patient


@dataclass(frozen=True)
class Written:
    """What a create or update wrote: the record, and a panel's members (to answer with)."""

    record: models.Model
    members: Sequence[models.Model] = ()


@dataclass(frozen=True)
class Write:
    """How the FHIR API writes a type.

    The API calls these once the request holds the fhir:write scope, the body is a resource of
    this type mapped by `from_fhir`, and, for an update, the stored resource is located, the
    resource's id is the URL's and If-Match gave the version the client read. They write through
    services (which audit), and raise FhirError (careway/fhir/errors.py) naming the element at
    fault; a service's ValidationError is answered naming the element of its field (`elements`).
    """

    create: Callable[[audit.Actor, Incoming], Written]
    # None: a resource of the type is created, never replaced; `instead` tells what to do.
    update: Callable[[audit.Actor, Located, Incoming, int], Written] | None = None
    instead: str = ""
    # A capability of the role that creating one needs: without it the answer is 403 (audited),
    # before the body is read.
    create_permission: Permission | None = None


@dataclass(frozen=True)
class ResourceDeclaration:
    """Everything Careway knows about one FHIR resource type (see the module docstring)."""

    name: str
    model: type[models.Model]
    from_fhir: Callable[[dict[str, Any]], Incoming] | None = None
    to_fhir: Callable[..., dict[str, Any]] | None = None
    search: SearchDeclaration | None = None
    export: Export | None = None
    write: Write | None = None
    notes: tuple[str, ...] = ()
    elements: Mapping[str, str] = field(default_factory=dict)
    grouped_by: str = ""
    # For records served as another type's (also=True), which the API never writes: raises for an
    # incoming resource that is one of them, and says what they are ("<type>/<id> is ...").
    refuse: Callable[[dict[str, Any]], None] | None = None
    read_only_because: str = ""
    # For a record that is several resources (see the module docstring): how many it is, and
    # which part (from 1) a resource id names (0: none).
    parts: Callable[[Any], int] | None = None
    part_named: Callable[[str], int] | None = None

    def group_of(self, record: models.Model) -> Any:
        """The resource a row is one of several rows of (its panel); None for a row that is a
        resource on its own, or a record of another declaration."""
        if not self.grouped_by or not isinstance(record, self.model):
            return None
        return getattr(record, self.grouped_by)

    def one_per_resource(self, rows: QuerySet) -> QuerySet:
        """In a search, the one row that stands for each resource: a group's first (lowest id)."""
        if not self.grouped_by:
            return rows
        # For rows outside a group the EXISTS compares with NULL and finds nothing, so every such
        # row stays.
        earlier_member = self.model._default_manager.filter(
            **{self.grouped_by: OuterRef(self.grouped_by)}, pk__lt=OuterRef("pk")
        )
        return rows.filter(~Exists(earlier_member))


REGISTRY: dict[str, ResourceDeclaration] = {}
# Further declarations of a type, for records of another model than the type's own.
ALSO: dict[str, list[ResourceDeclaration]] = {}


def register(declaration: ResourceDeclaration, also: bool = False) -> None:
    """Declare a type (or, `also`, further records served as a type already declared)."""
    if also:
        ALSO.setdefault(declaration.name, []).append(declaration)
    else:
        REGISTRY[declaration.name] = declaration


def declarations() -> list[ResourceDeclaration]:
    """Each type's own declaration, in the order resources.py loads them."""
    return list(REGISTRY.values())


def sources(resource_type: str) -> list[ResourceDeclaration]:
    """The declarations of the records served as a type: its own first, then the further ones."""
    return [REGISTRY[resource_type], *ALSO.get(resource_type, [])]


def taken_in() -> frozenset[str]:
    """The resource types import takes in: those that have a `from_fhir`."""
    return frozenset(d.name for d in declarations() if d.from_fhir is not None)


def from_fhir(resource: dict[str, Any]) -> Incoming:
    """The Careway rows one FHIR resource becomes; Invalid or NotSupported when it cannot."""
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(kind, str) or not kind:
        raise Invalid("resourceType", "missing: every resource must say its type")
    declaration = REGISTRY.get(kind)
    if declaration is None or declaration.from_fhir is None:
        raise NotSupported(kind)
    return declaration.from_fhir(resource)


def to_fhir(
    resource_type: str,
    record: models.Model,
    members: Sequence[models.Model] = (),
    part: int = 0,
) -> dict[str, Any]:
    """The FHIR resource of one Careway record (and, for a panel, its other members; for a
    record that is several resources, its `part`, from 1)."""
    declaration = _writer(resource_type, record)
    if declaration.to_fhir is None:
        raise NotSupported(resource_type)
    if declaration.parts is not None:
        return declaration.to_fhir(record, part=part or 1)
    return declaration.to_fhir(record, members) if members else declaration.to_fhir(record)


def parts_of(resource_type: str, record: models.Model) -> int:
    """How many resources a record is (1 for most)."""
    declaration = _writer(resource_type, record)
    return declaration.parts(record) if declaration.parts is not None else 1


def part_named(resource_type: str, record: models.Model, ident: str) -> int:
    """Which of a record's resources an id names (from 1; 0 when it names none of them)."""
    declaration = _writer(resource_type, record)
    if declaration.parts is None or declaration.part_named is None:
        return 1
    part = declaration.part_named(ident)
    return part if 1 <= part <= declaration.parts(record) else 0


def resources_of(
    resource_type: str, record: models.Model, members: Sequence[models.Model] = ()
) -> list[dict[str, Any]]:
    """Every FHIR resource one Careway record is, in order (one, for most records)."""
    count = parts_of(resource_type, record)
    if count == 1:
        return [to_fhir(resource_type, record, members)]
    return [to_fhir(resource_type, record, part=n) for n in range(1, count + 1)]


def resource_type_of(record: models.Model) -> str:
    """The FHIR resource type a Careway record is written as (a Medication by its kind; an
    EpisodeOfCare as EpisodeOfCare, its team being to_fhir("CareTeam", episode))."""
    if isinstance(record, Medication):
        return (
            "MedicationRequest" if record.kind == Medication.Kind.REQUEST else "MedicationStatement"
        )
    for kind, declaration in REGISTRY.items():
        if (
            declaration.model is type(record)
            and declaration.to_fhir is not None
            and kind != "CareTeam"
        ):
            return kind
    for kind, writers in ALSO.items():
        if any(w.model is type(record) and w.to_fhir is not None for w in writers):
            return kind
    raise NotSupported(type(record).__name__)


def _writer(resource_type: str, record: models.Model) -> ResourceDeclaration:
    declaration = REGISTRY[resource_type]
    if isinstance(record, declaration.model):
        return declaration
    further = ALSO.get(resource_type, [])
    return next((w for w in further if isinstance(record, w.model)), declaration)


# Each type's module registers its declarations as it loads. They all load with this package, in
# the order resources.py gives, whichever of them is imported first.
from . import resources  # noqa: E402, F401

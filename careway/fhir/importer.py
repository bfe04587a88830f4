"""FHIR R4 import: bundles and bulk NDJSON files into one agency and branch, idempotently.

    report = import_files(actor, organization, branch, paths, run=None, on_progress=None)

What it reads
- A JSON file holding a Bundle of type `transaction` or `collection`, parsed whole (orjson).
- An NDJSON file (`.ndjson`, `.jsonl`; or any file whose first line is a whole resource), one
  resource a line, read line by line so memory stays flat however large the file.
A directory stands for the .json, .ndjson and .jsonl files in it. Files import in an order that
puts what others refer to first (see `import_order`): a bulk export's Observation.ndjson can come
before its Patient.ndjson on the command line.

How much is written at once
- A bundle is one transaction, all or nothing: one invalid entry or dangling reference and
  nothing from that bundle is written (collection bundles too: a bundle is usually one patient's
  record, and half a record is worse than none). The other files still import.
- An NDJSON file imports BATCH_LINES lines per transaction; a bad line is reported and skipped,
  the rest import.
Resource types whose mapping declares no `from_fhir` (careway.fhir.mapping.taken_in) are counted
and listed in the report, never written.

What makes it idempotent
Each resource is remembered as a SourceRecord: (agency, resource type, source key) -> the record
it became and the SHA-256 of its canonical JSON. The source key is the resource's id, qualified by
meta.source when it has one ("<source>|<id>"); without an id, its fullUrl; without either, its
content hash. A resource seen before with the same hash is skipped before it is even mapped; a
changed one updates its record (keeping the old version, see careway/fhir/services.py). A Patient
seen for the first time is also matched to one already in the agency by identifier (from an
earlier import) or by MRN, so two sources of one person make one chart.

References (`subject` and the fields in Incoming.references) resolve against the same batch
first (fullUrl, Type/id, absolute URLs ending in Type/id, `Type?identifier=system|value`, logical
`{"identifier": ...}` references; in NDJSON, `urn:uuid:<id>` names the resource with that id),
then against earlier imports of this agency (by source key, by identifier, by the agency's own
MRN system, and for `urn:uuid:` by the id it names). A reference field that is a foreign key
gets the record's id; a text field (a prescriber, the condition a medication is for) gets the
referenced resource's words, which is how a Practitioner that Careway does not keep still names
the visit's clinician. A reference to a type Careway does not take in is not an error; one to a
taken-in type that is found nowhere is a dangling reference, reported, and so is one to a
resource of the batch that is itself not imported.

Whose charts an import writes to. Only the patients the importing user may change
(careway.patients.access: on their care team, or in a branch they supervise, with the edit
permission of the record's domain; never through a break-the-glass grant, which reads only), and
the patients the import itself creates (in any of its batches: an agency admin brings new
referrals in without being anyone's case manager). A reference that resolves to a patient, or to
a record of a patient, that the importer may not change is answered exactly as one found nowhere
(a dangling reference: the report must not tell whether that patient exists), and a denied
`patient.edit` event names the patient in the audit trail. A Patient matched to one the agency has
(by source key, identifier or MRN) that the importer may not change is a problem of its own, and
nothing of it is written; a newer version of any other record imported before never moves to
another patient. An unchanged copy of a resource imported before is no exception (counted as
unchanged, it would tell that its patient is in the agency): for a patient the importer may not
change, it is answered as a changed one would be. Which patients a batch may write to is asked
once a batch, whatever its size. The
system actor (`careway import-fhir` without --as) acts for the whole agency: the operator at the
console is trusted with all of its patients, never another agency's.

What each resource became, per type: created, updated, unchanged, not taken in, invalid (a
problem of its own) or rejected (not written because its bundle or batch was not). Every problem
names the file, the line (NDJSON, from 1) or Bundle.entry index (from 0), the resource type and
id, the element at fault and why. Writes go through careway/fhir/services.py, which audits them.

Assessments. A completed QuestionnaireResponse to a Questionnaire the agency has is filed as a
signed assessment and scored, once its patient is resolved (careway.fhir.mapping
.questionnaire_response checks its answers against the Questionnaire; a newer version of one
imported before becomes an amendment). An Observation derived from a QuestionnaireResponse (a
score) is not taken in: Careway works it out again from the response, so an imported score is
never a second, possibly different copy. Such scores are counted as not taken in, on a line of
their own ("Observation (derived score)").
"""

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import psycopg
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import DatabaseError, models, transaction

from careway.assessments.models import Response
from careway.core import audit
from careway.core.models import Branch, Organization, User
from careway.core.tables import reserve_ids
from careway.patients import access
from careway.patients.models import EpisodeOfCare, Patient
from careway.patients.permissions import CHART_EDIT

from . import careplan_draft, codes, mapping, services
from .mapping import Incoming, Invalid, NotSupported, questionnaire_response, score
from .models import ImportRun, SourceRecord

# How the report counts Observations that are an assessment's scores (worked out again, not kept).
DERIVED_SCORE = "Observation (derived score)"
BUNDLE_TYPES = ("transaction", "collection")
NDJSON_SUFFIXES = (".ndjson", ".jsonl")
FILE_SUFFIXES = (".json", *NDJSON_SUFFIXES)
BATCH_LINES = 1000
# Why a Patient matched to one of the agency is not imported (see _refuse_registrations).
NOT_YOURS = (
    "is a patient of this agency whom you may not change: nothing of this resource was imported "
    "(their care team or a supervisor may import it)"
)
PROBLEMS_KEPT = 10_000  # in the report; the run keeps RUN_PROBLEMS_KEPT; all are counted
RUN_PROBLEMS_KEPT = 1000
OUTCOMES = ("created", "updated", "unchanged", "not_taken_in", "invalid", "rejected")
_LOOKUP_CHUNK = 900  # parameters per IN list (SQLite's classic limit is 999)
_LITERAL = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_IDENTIFIER_KEY = "identifier:"


# --- what the caller gets back ------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    bytes_done: int
    bytes_total: int
    resources: int
    file: str

    @property
    def percent(self) -> int:
        return int(self.bytes_done * 100 / self.bytes_total) if self.bytes_total else 100


@dataclass
class Problem:
    """Something in the input that was not imported, and where: `line` (NDJSON, from 1) or
    `entry` (bundle, Bundle.entry index from 0), the resource, and why (`path` names the element
    at fault when there is one)."""

    file: str
    reason: str
    line: int | None = None
    entry: int | None = None
    resource_type: str = ""
    resource_id: str = ""
    path: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "entry": self.entry,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "path": self.path,
            "reason": self.reason,
        }

    @property
    def where(self) -> str:
        if self.line is not None:
            return f"line {self.line}"
        if self.entry is not None:
            return f"Bundle.entry[{self.entry}]"
        return ""

    def __str__(self) -> str:
        place = ", ".join(p for p in (self.file, self.where) if p)
        resource = "/".join(p for p in (self.resource_type, self.resource_id) if p)
        return f"{place}: {resource + ': ' if resource else ''}{self.reason}"


@dataclass
class FileRecord:
    name: str
    bytes: int
    sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "bytes": self.bytes, "sha256": self.sha256}


@dataclass
class ImportReport:
    """What an import did: per resource type how many were created, updated, unchanged, not taken
    in, invalid (a problem of their own) or rejected (with the rest of a failed bundle); and every
    problem (the first PROBLEMS_KEPT of them; `problem_count` counts all)."""

    run: ImportRun
    files: list[FileRecord] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def count(self, resource_type: str, outcome: str, n: int = 1) -> None:
        if n:
            row = self.counts.setdefault(resource_type, dict.fromkeys(OUTCOMES, 0))
            row[outcome] += n

    def add_problem(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(problem)

    def total(self, outcome: str) -> int:
        return sum(row[outcome] for row in self.counts.values())

    @property
    def resources(self) -> int:
        return sum(sum(row.values()) for row in self.counts.values())


ProgressCallback = Callable[[Progress], None]


# --- the whole import ----------------------------------------------------------------------------


def import_files(
    actor: audit.Actor,
    organization: Organization,
    branch: Branch,
    paths: Iterable[str | Path],
    run: ImportRun | None = None,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import FHIR files into `branch` of `organization` as `actor`; see the module docstring.

    Raises PermissionDenied (audited) when the actor may not import there. Bad input never raises:
    it is in the report (and in `run`, which gets progress as it goes and the result at the end).
    """
    services.check_may_import(actor, organization, branch)
    started = time.monotonic()
    files = import_order(expand(paths))
    run = _start_run(actor, organization, branch, files, run)
    report = ImportReport(run=run)
    importer = BatchImporter(actor, organization, branch, run, report)
    done = 0
    for path in files:
        record = FileRecord(path.name, _size(path))
        report.files.append(record)
        for batch in read_file(path, record):
            importer.import_batch(batch)
            progress = Progress(
                done + batch.bytes_read, run.bytes_total, report.resources, path.name
            )
            _note_progress(run, report, progress, on_progress)
        done += record.bytes
    report.seconds = time.monotonic() - started
    services.finish_import(
        actor,
        run,
        files=_merged_files(run, report.files),
        counts=report.counts,
        problems=[p.as_dict() for p in report.problems[:RUN_PROBLEMS_KEPT]],
        problem_count=report.problem_count,
    )
    return report


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """The files to read: each path as given, a directory as its FHIR files in name order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in FILE_SUFFIXES)
        else:
            found.append(path)
    return found


# What other resources refer to comes first, so that a bulk export's one-file-per-type NDJSON
# imports whatever order its files are given in (a glob gives them alphabetically).
# A care plan before its goals, and both before the ServiceRequests that name them
# (careplan_draft.py takes a plan Careway wrote in as a draft in that order).
FIRST = ("Patient", "RelatedPerson", "Encounter", "Condition", "CarePlan", "Goal")


def import_order(files: list[Path]) -> list[Path]:
    """The files in the order to import them: bundles (each is whole) and Patient files first,
    then RelatedPerson, Encounter, Condition, CarePlan, Goal, then the rest, by the resource type
    on the first line of each NDJSON file; otherwise in the order given."""
    return sorted(files, key=_rank)


def _rank(path: Path) -> int:
    try:
        if not _is_ndjson_file(path):
            return 0
        with path.open("rb") as stream:
            first = orjson.loads(stream.readline().removeprefix(b"\xef\xbb\xbf"))
    except (OSError, orjson.JSONDecodeError):
        return 0  # reported when it is read
    kind = first.get("resourceType") if isinstance(first, dict) else None
    return FIRST.index(kind) if kind in FIRST else len(FIRST)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _start_run(
    actor: audit.Actor,
    organization: Organization,
    branch: Branch,
    files: list[Path],
    run: ImportRun | None,
) -> ImportRun:
    total = sum(_size(p) for p in files)
    if run is None:
        run = ImportRun(organization=organization, branch=branch, started_by=actor.user)
        run.files = [{"name": p.name, "bytes": _size(p)} for p in files]
    run.status, run.bytes_total, run.bytes_done = ImportRun.Status.RUNNING, total, 0
    run.save()
    return run


def _merged_files(run: ImportRun, records: list[FileRecord]) -> list[dict[str, Any]]:
    """The run's file list (an upload adds its own details, such as the original name) with the
    size and SHA-256 of what was read."""
    known = {f.get("name"): f for f in run.files if isinstance(f, dict)}
    return [{**known.get(r.name, {}), **r.as_dict()} for r in records]


def _note_progress(
    run: ImportRun,
    report: ImportReport,
    progress: Progress,
    on_progress: ProgressCallback | None,
) -> None:
    ImportRun.objects.filter(pk=run.pk).update(
        bytes_done=progress.bytes_done,
        counts=report.counts,
        problems=[p.as_dict() for p in report.problems[:RUN_PROBLEMS_KEPT]],
        problem_count=report.problem_count,
    )
    if on_progress is not None:
        on_progress(progress)


# --- reading files -------------------------------------------------------------------------------


@dataclass
class Entry:
    resource: Any
    line: int | None = None
    entry: int | None = None
    full_url: str = ""


@dataclass
class Batch:
    """What one transaction imports: a whole bundle, or BATCH_LINES lines of an NDJSON file."""

    file: str
    entries: list[Entry]
    whole: bool
    bytes_read: int
    problems: list[Problem] = field(default_factory=list)


def read_file(path: Path, record: FileRecord, batch_lines: int | None = None) -> Iterator[Batch]:
    """The batches of one file; a file that cannot be read is one batch with its problem.
    Fills in `record`'s SHA-256 as the bytes go by."""
    batch_lines = batch_lines or BATCH_LINES
    try:
        if _is_ndjson_file(path):
            yield from _read_ndjson(path, record, batch_lines)
        else:
            yield _read_bundle(path, record)
    except OSError as exc:
        reason = f"cannot be read: {exc.strerror or exc}"
        yield Batch(path.name, [], True, record.bytes, [Problem(path.name, reason)])


def _is_ndjson_file(path: Path) -> bool:
    """By its name (.ndjson, .jsonl; .json is a bundle), else by its first lines."""
    suffix = path.suffix.lower()
    if suffix in NDJSON_SUFFIXES or suffix == ".json":
        return suffix != ".json"
    with path.open("rb") as stream:
        return _is_ndjson(stream.readline() + stream.readline())


def _is_ndjson(data: bytes) -> bool:
    """Whether the first line is a whole resource of its own (not a one-line Bundle alone)."""
    first, _, rest = data.removeprefix(b"\xef\xbb\xbf").partition(b"\n")
    try:
        value = orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    more = bool(rest.partition(b"\n")[0].strip())
    return isinstance(value, dict) and (value.get("resourceType") != "Bundle" or more)


def _read_bundle(path: Path, record: FileRecord) -> Batch:
    data = path.read_bytes()
    record.sha256, record.bytes = hashlib.sha256(data).hexdigest(), len(data)
    name = path.name

    def failed(reason: str, path_: str = "") -> Batch:
        return Batch(name, [], True, len(data), [Problem(name, reason, path=path_)])

    try:
        bundle = orjson.loads(data.removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as exc:
        hint = " (one resource a line? Name the file .ndjson)" if _is_ndjson(data) else ""
        return failed(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}){hint}")
    if not isinstance(bundle, dict):
        return failed(f"expected a FHIR Bundle (a JSON object), found {_json_kind(bundle)}")
    kind = bundle.get("resourceType")
    if kind != "Bundle":
        found = f"a {kind}" if isinstance(kind, str) and kind else "no resourceType"
        return failed(
            f"expected a Bundle, found {found}: a .json file holds one transaction or collection "
            "Bundle (put single resources in an .ndjson file, one a line)",
            "resourceType",
        )
    bundle_type = bundle.get("type")
    if bundle_type not in BUNDLE_TYPES:
        return failed(
            f"Bundle.type {bundle_type!r} is not imported: use a transaction or collection bundle",
            "Bundle.type",
        )
    items = bundle.get("entry") or []
    if not isinstance(items, list):
        return failed("Bundle.entry must be a list", "Bundle.entry")
    batch = Batch(name, [], True, len(data))
    for index, item in enumerate(items):
        resource = item.get("resource") if isinstance(item, dict) else None
        if not isinstance(resource, dict):
            method = _request_method(item)
            reason = (
                f"a {method} request is not imported: only entries with a resource are"
                if method and method not in ("POST", "PUT")
                else "the entry has no resource (an object under entry.resource)"
            )
            batch.problems.append(Problem(name, reason, entry=index, path="entry.resource"))
            continue
        full_url = item.get("fullUrl")
        batch.entries.append(
            Entry(resource, entry=index, full_url=full_url if isinstance(full_url, str) else "")
        )
    return batch


def _request_method(item: Any) -> str:
    request = item.get("request") if isinstance(item, dict) else None
    method = request.get("method") if isinstance(request, dict) else None
    return method.upper() if isinstance(method, str) else ""


def _read_ndjson(path: Path, record: FileRecord, batch_lines: int) -> Iterator[Batch]:
    name, digest, read, yielded = path.name, hashlib.sha256(), 0, False
    batch = Batch(name, [], False, 0)
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            digest.update(raw)
            read += len(raw)
            line = raw.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw
            if line.strip():
                _read_line(batch, name, number, line)
            if len(batch.entries) + len(batch.problems) >= batch_lines:
                batch.bytes_read, yielded = read, True
                yield batch
                batch = Batch(name, [], False, read)
    record.sha256, record.bytes = digest.hexdigest(), read
    if batch.entries or batch.problems or not yielded:
        batch.bytes_read = read
        yield batch


def _read_line(batch: Batch, name: str, number: int, line: bytes) -> None:
    try:
        resource = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        reason = f"not valid JSON: {exc.msg} (column {exc.colno})"
        batch.problems.append(Problem(name, reason, line=number))
        return
    if not isinstance(resource, dict):
        reason = f"expected one FHIR resource (a JSON object) a line, found {_json_kind(resource)}"
        batch.problems.append(Problem(name, reason, line=number))
        return
    batch.entries.append(Entry(resource, line=number))


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a number" if isinstance(value, int | float) else type(value).__name__


# --- one batch -----------------------------------------------------------------------------------

NEW, UPDATE, UNCHANGED, DUPLICATE = "new", "update", "unchanged", "duplicate"
NOT_TAKEN_IN, INVALID = "not_taken_in", "invalid"


@dataclass
class Item:
    """One resource of a batch on its way in."""

    entry: Entry
    resource_type: str
    resource_id: str
    source_key: str
    content_hash: str
    meta_source: str
    state: str = NEW
    incoming: Incoming | None = None
    model: type[models.Model] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    record_id: Any = None  # the record it is (update, unchanged) or becomes (new: its first row)
    row_ids: list[Any] = field(default_factory=list)
    resolved: dict[str, Any] = field(default_factory=dict)
    words: list[tuple[str, "Target"]] = field(default_factory=list)
    source: "Known | None" = None
    update: services.RecordUpdate | None = None
    problem: Problem | None = None
    derived: bool = False  # a score of a QuestionnaireResponse: recomputed, not taken in

    @property
    def taken(self) -> bool:
        return self.state in (NEW, UPDATE)

    @property
    def label(self) -> str:
        return (
            f"{self.resource_type}/{self.resource_id}" if self.resource_id else self.resource_type
        )


@dataclass(frozen=True)
class Ref:
    """A parsed reference: a URL (urn:uuid:, or one that is not Type/id), a literal Type/id
    (relative or absolute), or a type and an identifier."""

    text: str
    resource_type: str = ""
    resource_id: str = ""
    system: str = ""
    value: str = ""

    @property
    def is_identifier(self) -> bool:
        return bool(self.value)


def parse_reference(value: Any, default_type: str = "") -> Ref | None:
    """A reference as the mapping passes it (a string, or a Reference object); None when it names
    nothing the importer can look up (empty, display only, a contained `#id`)."""
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str) and value["reference"]:
            return parse_reference(value["reference"], default_type)
        ident = value.get("identifier")
        if isinstance(ident, dict) and isinstance(ident.get("value"), str) and ident["value"]:
            kind: str = value["type"] if isinstance(value.get("type"), str) else default_type
            system: str = ident["system"] if isinstance(ident.get("system"), str) else ""
            text = f"{kind}?identifier={system}|{ident['value']}"
            return Ref(text, kind, system=system, value=ident["value"])
        return None
    if not isinstance(value, str) or not value or value.startswith("#"):
        return None
    kind, sep, query = value.partition("?")
    if sep and query.startswith("identifier="):
        token = query.removeprefix("identifier=").split("&")[0]
        system, bar, ident_value = token.rpartition("|")
        if not bar:
            system, ident_value = "", token
        return Ref(value, kind.rsplit("/", 1)[-1], system=system, value=ident_value)
    if value.startswith("urn:"):
        return Ref(value)
    literal = _LITERAL.search(value)
    if literal:
        return Ref(value, literal.group(1), literal.group(2))
    return Ref(value)


def canonical_hash(resource: dict[str, Any]) -> str:
    """SHA-256 of the resource's canonical JSON (keys sorted, no spaces)."""
    return hashlib.sha256(orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)).hexdigest()


def source_key(resource_id: str, meta_source: str, full_url: str, content_hash: str) -> str:
    """How a resource is known where it came from; see the module docstring."""
    base = resource_id or full_url
    if not base:
        return f"sha256:{content_hash}"
    return _fit(f"{meta_source}|{base}" if meta_source else base)


def identifier_key(system: str, value: str) -> str:
    """The source key under which an identifier of an imported resource is remembered."""
    return _fit(f"{_IDENTIFIER_KEY}{system}|{value}")


def _fit(key: str) -> str:
    return key if len(key) <= 300 else f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"


class BatchIndex:
    """The resources of one batch by every name a reference may use for them."""

    def __init__(self, items: list[Item]):
        self.by_url: dict[str, Item] = {}
        self.by_literal: dict[tuple[str, str], Item] = {}
        self.by_identifier: dict[tuple[str, str, str], Item] = {}
        self.by_value: dict[tuple[str, str], Item] = {}
        for item in items:
            if not item.resource_type or item.state == DUPLICATE:
                continue
            if item.entry.full_url:
                self.by_url.setdefault(item.entry.full_url, item)
            elif item.resource_id:
                # Without a fullUrl (NDJSON), as across batches: most exporters use the
                # resource's id as its urn:uuid.
                self.by_url.setdefault(f"urn:uuid:{item.resource_id}", item)
            if item.resource_id:
                self.by_literal.setdefault((item.resource_type, item.resource_id), item)
            for system, value in _identifiers_of(item):
                self.by_identifier.setdefault((item.resource_type, system, value), item)
                self.by_value.setdefault((item.resource_type, value), item)

    def find(self, ref: Ref) -> Item | None:
        if ref.is_identifier:
            found = self.by_identifier.get((ref.resource_type, ref.system, ref.value))
            if found is None and not ref.system:
                found = self.by_value.get((ref.resource_type, ref.value))
            return found
        found = self.by_url.get(ref.text)
        if found is None and ref.resource_type:
            found = self.by_literal.get((ref.resource_type, ref.resource_id))
        return found


def _identifiers_of(item: Item) -> list[tuple[str, str]]:
    """The identifiers a mapping read, or for a resource not taken in, those written in it (so
    that `Practitioner?identifier=...` finds a practitioner of the batch, for their name)."""
    if item.incoming is not None:
        return item.incoming.identifiers
    if item.state != NOT_TAKEN_IN:
        return []
    found = []
    for ident in item.entry.resource.get("identifier") or ():
        if isinstance(ident, dict) and isinstance(ident.get("value"), str):
            system = ident.get("system")
            found.append((system if isinstance(system, str) else "", ident["value"]))
    return found


class Charts:
    """Whose charts one batch may write to: the patients the import created (in this batch or an
    earlier one), and those of `known` (the patients the batch names that the importing user
    may see) that the user may change (careway.patients.access.can_edit). The system actor
    (`user` None) acts for the whole agency. Refusals are kept in `denied`, for the audit trail."""

    def __init__(self, user: User | None, created: set[Any]):
        self.user, self.created = user, created
        self.known: dict[Any, Patient] = {}
        self.denied: set[Any] = set()

    def look_up(self, patient_ids: set[Any]) -> None:
        """Learn about these patients, in one query (a chunk of them at a time)."""
        if self.user is None:
            return
        for chunk in _chunks(sorted(patient_ids - self.created, key=str)):
            self.known.update(access.visible_among(self.user, chunk))

    def allow(self, patient_id: Any, permission: str) -> bool:
        """Whether the batch may write a record needing `permission` to this existing patient."""
        if self.user is None or patient_id in self.created:
            return True
        patient = self.known.get(patient_id)
        if patient is not None and access.can_edit(self.user, patient, permission):
            return True
        self.denied.add(patient_id)
        return False


class Found:
    """What the database knows about the names a batch could not resolve itself: source records,
    MRNs and episodes; `owners`, the patient of each stored record the batch refers to or
    updates; and `charts`, whose charts the batch may write to."""

    def __init__(
        self,
        sources: list["Known"],
        mrns: dict[str, Any],
        episodes: dict[str, Any],
        owners: dict[tuple[type[models.Model], Any], Any],
        charts: Charts,
    ):
        self.by_key = {(s.resource_type, s.source_key): s for s in sources}
        self.by_bare: dict[str, Known] = {}
        for source in sources:
            self.by_bare.setdefault(source.source_key, source)
        self.mrns = mrns
        self.episodes = episodes
        self.owners = owners
        self.charts = charts

    def source(self, resource_type: str, key: str) -> "Known | None":
        if resource_type:
            return self.by_key.get((resource_type, key))
        return self.by_bare.get(key)


@dataclass(frozen=True)
class Target:
    """What a reference resolved to: a record (model and id); model None for a resource of a type
    Careway does not take in; `failed` when it is a resource of this batch not being imported.
    `item` is the resource when it is in this batch (for its words)."""

    resource_type: str
    model: type[models.Model] | None
    record_id: Any
    failed: bool = False
    item: Item | None = None
    patient_id: Any = None  # for a Careway episode: the patient whose episode it is


class Refused(Exception):
    """The database would not take a batch; `cause` says why."""

    def __init__(self, cause: Exception):
        super().__init__(str(cause))
        self.cause = cause


class BatchImporter:
    """Imports batches into one agency and branch for one run, counting into one report."""

    def __init__(
        self,
        actor: audit.Actor,
        organization: Organization,
        branch: Branch,
        run: ImportRun,
        report: ImportReport,
    ):
        self.actor, self.organization, self.branch = actor, organization, branch
        self.run, self.report = run, report
        self.case_manager = services.primary_case_manager(actor)
        self.mrn_system = codes.mrn_system(organization.pk)
        self.taken_in = mapping.taken_in()
        self.created: set[uuid.UUID] = set()  # the patients this import has created so far
        self.drafts = careplan_draft.Drafts(actor, organization, reference_keys)

    def import_batch(self, batch: Batch) -> None:
        for problem in batch.problems:
            self.report.add_problem(problem)
        if not batch.entries:
            return
        items = [self._item(batch.file, e) for e in batch.entries]
        charts = Charts(self.actor.user, self.created)
        try:
            with transaction.atomic():
                plan = self._plan(batch, items, charts)
                if plan is not None:
                    self._write(plan)
        except Refused as refused:
            self._count(items, rejected=True)
            self.report.add_problem(Problem(batch.file, _unsaved(batch, items, refused.cause)))
            self._audit_refused(charts)
            return
        if plan is not None:
            self.created.update(plan.new_patients)
            self._draft_plans(batch.file, items)
        self._audit_refused(charts)
        self._count(items, rejected=plan is None)
        if plan is None and any(i.state != NOT_TAKEN_IN for i in items):
            reason = (
                "nothing from this bundle was imported: a bundle imports whole or not at all, "
                "and it has the problems listed"
            )
            self.report.add_problem(Problem(batch.file, reason))

    def _draft_plans(self, file: str, items: list[Item]) -> None:
        """A care plan Careway wrote, written as history, may also become the patient's draft
        plan (careplan_draft.py); what of it cannot is reported."""
        taken = [
            careplan_draft.Incoming(i.entry.resource, i.source_key, i.meta_source)
            for i in items
            if i.resource_type in careplan_draft.TAKEN and i.state != INVALID
        ]
        if taken:
            for problem in self.drafts.take(taken):
                self.report.add_problem(Problem(file, problem))

    def _audit_refused(self, charts: Charts) -> None:
        if charts.denied:
            services.audit_refused(self.actor, self.run.pk, charts.denied)

    def _write(self, plan: services.BatchPlan) -> None:
        try:
            services.write_batch(self.actor, plan, self.case_manager)
        except (DatabaseError, psycopg.Error, ValidationError, ValueError, TypeError) as exc:
            # The database refused a value or a constraint (COPY reports psycopg's own errors):
            # the batch rolls back whole, is reported, and the import goes on with the next one.
            raise Refused(exc) from exc

    # -- each resource --

    def _item(self, file: str, entry: Entry) -> Item:
        resource = entry.resource
        kind, rid = resource.get("resourceType"), resource.get("id", "")
        meta = resource.get("meta")
        meta_source = meta.get("source", "") if isinstance(meta, dict) else ""
        meta_source = meta_source if isinstance(meta_source, str) else ""
        rid_text = rid if isinstance(rid, str) else ""
        content_hash = canonical_hash(resource)
        item = Item(
            entry,
            kind if isinstance(kind, str) else "",
            rid_text,
            source_key(rid_text, meta_source, entry.full_url, content_hash),
            content_hash,
            meta_source,
        )
        if not item.resource_type:
            self._fail(item, file, Invalid("resourceType", "missing: a resource must say its type"))
        elif not isinstance(rid, str):
            self._fail(item, file, Invalid(f"{kind}.id", "wrong type: expected a string"))
        elif item.resource_type not in self.taken_in:
            item.state = NOT_TAKEN_IN
        elif score.derived_from_response(resource):
            item.state, item.derived = NOT_TAKEN_IN, True
        return item

    def _fail(self, item: Item, file: str, error: Invalid | str, path: str = "") -> None:
        if isinstance(error, Invalid):
            reason, path = f"{error.path}: {error.reason}", error.path
        else:
            reason = error
        item.state = INVALID
        item.problem = Problem(
            file,
            reason,
            line=item.entry.line,
            entry=item.entry.entry,
            resource_type=item.resource_type,
            resource_id=item.resource_id,
            path=path,
        )

    # -- the plan --

    def _plan(self, batch: Batch, items: list[Item], charts: Charts) -> services.BatchPlan | None:
        """Map, match and resolve the batch: the plan to write, or None when a bundle fails."""
        self._dedupe(batch.file, [i for i in items if i.state == NEW])
        self._match_sources([i for i in items if i.state == NEW])
        self._map(batch.file, [i for i in items if i.taken])
        index = BatchIndex(items)
        found = self._look_up(items, index, charts)
        self._match_patients(batch.file, items, found)
        self._refuse_registrations(batch.file, items, found)
        self._refuse_copies(batch.file, items, found)
        self._choose_ids(items)
        self._resolve(batch.file, items, index, found)
        if not self._fill_words(batch.file, items):
            self._resolve(batch.file, items, index, found)  # what pointed at those fails too
        self._check_same_patient(batch.file, items, found)
        if batch.whole and (batch.problems or any(i.problem for i in items)):
            return None
        return self._build(items, found)

    def _dedupe(self, file: str, items: list[Item]) -> None:
        """The same resource twice in one batch: an identical copy counts as unchanged; a
        different one is a problem (which of the two is meant?)."""
        first: dict[tuple[str, str], Item] = {}
        for item in items:
            earlier = first.setdefault((item.resource_type, item.source_key), item)
            if earlier is item:
                continue
            if earlier.content_hash == item.content_hash:
                item.state = DUPLICATE
                continue
            where = (
                f"line {earlier.entry.line}"
                if earlier.entry.line
                else (f"Bundle.entry[{earlier.entry.entry}]")
            )
            self._fail(
                item,
                file,
                f"appears again with different content (first at {where}): which version is "
                "meant is unclear, so this later one is not imported",
            )

    def _match_sources(self, items: list[Item]) -> None:
        """Resources imported before: unchanged ones are done; changed ones become updates."""
        known = {
            (s.resource_type, s.source_key): s
            for s in _sources(self.organization.pk, {i.source_key for i in items})
        }
        for item in items:
            source = known.get((item.resource_type, item.source_key))
            if source is None:
                continue
            item.source = source
            item.model = services.model_of(source.record_type)
            item.record_id = _record_pk(item.model, source.record_id)
            item.state = UNCHANGED if source.content_hash == item.content_hash else UPDATE

    def _map(self, file: str, items: list[Item]) -> None:
        for item in items:
            try:
                incoming = mapping.from_fhir(item.entry.resource)
            except Invalid as exc:
                self._fail(item, file, exc)
                continue
            except NotSupported:
                item.state = NOT_TAKEN_IN
                continue
            except Exception as exc:  # a fault in one mapping must not stop the rest
                self._fail(item, file, f"could not be read ({type(exc).__name__}: {exc})")
                continue
            if item.model is not None and incoming.model is not item.model:
                self._fail(
                    item,
                    file,
                    f"was imported before as a {item.model._meta.verbose_name} and now maps to a "
                    f"{incoming.model._meta.verbose_name}",
                )
                continue
            try:
                if incoming.model is Response:
                    item.rows = [self._response_row(incoming.rows[0])]
                else:
                    later = frozenset(n.partition(".")[0] for n in incoming.references)
                    item.rows = [clean_row(incoming.model, row, later) for row in incoming.rows]
            except Invalid as exc:
                self._fail(item, file, exc)
                continue
            if not item.rows:
                self._fail(item, file, "maps to no Careway record")
                continue
            item.incoming, item.model = incoming, incoming.model

    def _response_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A QuestionnaireResponse's row with its answers checked against the agency's
        Questionnaire and put in its shape (what record_response files)."""
        prepared = questionnaire_response.prepare(self.organization.pk, row)
        return {**row, "questionnaire_url": prepared.entry.url, "items": prepared.items}

    def _look_up(self, items: list[Item], index: BatchIndex, charts: Charts) -> Found:
        """One query for every name the batch cannot resolve itself and every identifier of what
        it brings in; one for the MRNs of new patients; one per model for the patients of the
        stored records it names; one for whose charts it may write to."""
        keys: set[str] = set()
        referenced: set[str] = set()
        mrns: set[str] = set()
        episodes: set[int] = set()
        for item in items:
            if not item.taken or item.incoming is None:
                continue
            keys.update(identifier_key(s, v) for s, v in item.incoming.identifiers if v)
            if item.model is Patient and item.state == NEW and item.rows[0].get("mrn"):
                mrns.add(item.rows[0]["mrn"])
            for raw, kind in _references_of(item):
                ref = parse_reference(raw, kind)
                if ref is None or index.find(ref) is not None:
                    continue
                if ref.resource_type == "EpisodeOfCare" and ref.resource_id.isdigit():
                    episodes.add(int(ref.resource_id))
                referenced.update(_candidate_keys(ref, item.meta_source))
                if ref.is_identifier and ref.system == self.mrn_system:
                    mrns.add(ref.value)
        org = self.organization.pk
        patients: dict[str, Any] = {}
        for chunk in _chunks(sorted(mrns)):
            query = Patient.objects.filter(organization_id=org, mrn__in=chunk)
            patients.update(dict(query.values_list("mrn", "id")))
        episode_patients: dict[str, Any] = {}
        for chunk in _chunks(sorted(episodes)):
            # By primary key alone, the agency checked here: an index the planner always takes,
            # even while the table grows faster than its statistics during a large import.
            rows = EpisodeOfCare.objects.filter(pk__in=chunk)
            episode_patients.update(
                {
                    str(pk): p
                    for pk, p, o in rows.values_list("pk", "patient_id", "organization_id")
                    if o == org
                }
            )
        sources = _sources(org, keys | referenced)
        owners = self._owners(items, [s for s in sources if s.source_key in referenced])
        charts.look_up(_patients_named(items, sources, patients, owners))
        return Found(sources, patients, episode_patients, owners, charts)

    def _owners(
        self, items: list[Item], referenced: list["Known"]
    ) -> dict[tuple[type[models.Model], Any], Any]:
        """The patient of each stored record (other than a patient) that the batch refers to, or
        brings again: one query per model."""
        wanted: dict[type[models.Model], set[Any]] = {}
        for source in referenced:
            model = services.model_of(source.record_type)
            wanted.setdefault(model, set()).add(_record_pk(model, source.record_id))
        for item in items:
            if item.state in (UPDATE, UNCHANGED) and item.model is not None:
                wanted.setdefault(item.model, set()).add(item.record_id)
        wanted.pop(Patient, None)
        owners: dict[tuple[type[models.Model], Any], Any] = {}
        for model, ids in wanted.items():
            for chunk in _chunks(sorted(ids, key=str)):
                # By primary key alone, the agency checked here (as for episodes above).
                rows = model._default_manager.filter(pk__in=chunk)
                for pk, patient_id, org in rows.values_list("pk", "patient_id", "organization_id"):
                    if org == self.organization.pk:
                        owners[(model, pk)] = patient_id
        return owners

    def _match_patients(self, file: str, items: list[Item], found: Found) -> None:
        """A Patient new to the source records may be one the agency has: the same identifier
        from an earlier import, or the same MRN. Then it updates that patient."""
        updated = {i.record_id for i in items if i.model is Patient and i.state == UPDATE}
        mrns: dict[str, Item] = {}
        for item in items:
            if item.model is not Patient or item.state != NEW or item.incoming is None:
                continue
            mrn = item.rows[0].get("mrn", "")
            match = next(
                (
                    source.record_id
                    for system, value in item.incoming.identifiers
                    if (source := found.source("Patient", identifier_key(system, value)))
                ),
                found.mrns.get(mrn),
            )
            if match is not None:
                record_id = _record_pk(Patient, match)
                if record_id in updated:
                    self._fail(
                        item,
                        file,
                        "is the same patient (by identifier or MRN) as "
                        "another Patient in this batch",
                    )
                    continue
                updated.add(record_id)
                item.state, item.record_id = UPDATE, record_id
                continue
            if mrn and mrns.setdefault(mrn, item) is not item:
                self._fail(
                    item,
                    file,
                    Invalid(
                        "Patient.identifier",
                        f"the MRN {mrn!r} is also another Patient's in this batch",
                    ),
                )

    def _refuse_registrations(self, file: str, items: list[Item], found: Found) -> None:
        """A Patient matched to one the agency has (by source key, identifier or MRN) updates them
        only if the importer may change them; otherwise it is a problem, and what refers to it
        fails with it. That such a patient exists cannot be hidden here: one that did not would
        be registered instead (as registering them by hand would find their MRN taken)."""
        for item in items:
            if item.model is not Patient or item.state != UPDATE:
                continue
            if found.charts.allow(item.record_id, CHART_EDIT.code):
                continue
            element = "Patient.id" if item.source is not None else "Patient.identifier"
            self._fail(item, file, Invalid(element, NOT_YOURS))

    def _refuse_copies(self, file: str, items: list[Item], found: Found) -> None:
        """An unchanged copy of a resource imported before writes nothing, but counting it as
        unchanged would tell the importer that its patient is in the agency: when they may not
        change that patient, it is answered as a changed one would be (a Patient refused as
        above, any other resource as a reference to its patient found nowhere)."""
        for item in items:
            if item.state != UNCHANGED or item.model is None:
                continue
            if item.model is Patient:
                if not found.charts.allow(item.record_id, CHART_EDIT.code):
                    self._fail(item, file, Invalid("Patient.id", NOT_YOURS))
                continue
            owner = found.owners.get((item.model, item.record_id))
            if owner is not None and found.charts.allow(owner, _permission(item)):
                continue
            ref = parse_reference(_raw_subject(item), "Patient")
            if ref is None:
                self._fail(
                    item, file, Invalid(_subject_element(item), "missing: whose record is it?")
                )
            else:
                self._fail(item, file, _target_problem(ref, None, Patient), path="subject")

    def _choose_ids(self, items: list[Item]) -> None:
        """Ids for new rows now, so that references within the batch can point at them."""
        new_by_model: dict[type[models.Model], list[Item]] = {}
        for item in items:
            # A response gets its id when it is filed (through the assessments service).
            if item.state == NEW and item.model is not None and item.model is not Response:
                new_by_model.setdefault(item.model, []).append(item)
        for model, new in new_by_model.items():
            count = sum(len(i.rows) for i in new)
            ids: list[Any]
            ids = (
                [uuid.uuid4() for _ in range(count)]
                if model is Patient
                else reserve_ids(model, count)
            )
            for item in new:
                item.row_ids, ids = ids[: len(item.rows)], ids[len(item.rows) :]
                item.record_id = item.row_ids[0]

    def _resolve(self, file: str, items: list[Item], index: BatchIndex, found: Found) -> None:
        """Set each row's patient and reference fields. A reference that resolves nowhere is a
        problem, and so is one to a resource of this batch that is itself not imported: repeated
        until no more fail, so a failure carries on to whatever pointed at it."""
        pending = [i for i in items if i.taken]
        failing = True
        while failing:
            failing = False
            for item in pending:
                if item.taken and not self._resolve_item(file, item, index, found):
                    failing = True

    def _resolve_item(self, file: str, item: Item, index: BatchIndex, found: Found) -> bool:
        incoming, model = item.incoming, item.model
        assert incoming is not None and model is not None
        values: dict[str, Any] = {}
        words: list[tuple[str, Target]] = []
        if model is not Patient:
            ref = parse_reference(incoming.subject or _logical_subject(item), "Patient")
            if ref is None:
                missing = Invalid(f"{item.resource_type}.subject", "missing: whose record is it?")
                self._fail(item, file, missing)
                return False
            target = self._target(ref, item, index, found)
            problem = _target_problem(ref, target, Patient)
            if problem:
                self._fail(item, file, problem, path="subject")
                return False
            assert target is not None
            values["patient_id"] = target.record_id
        for name, raw in incoming.references.items():
            ref = parse_reference(raw)
            if ref is None:
                continue
            target = self._target(ref, item, index, found)
            related = _related_model(model, name)
            if related is None:
                # A text field the mapping wants filled with the referenced resource's words.
                problem = _target_problem(ref, target, None)
                if problem:
                    self._fail(item, file, problem, path=name)
                    return False
                assert target is not None
                words.append((name, target))
                continue
            if target is not None and target.model is None and not target.failed:
                continue  # a resource Careway does not take in: nothing to link to
            if target is not None and target.patient_id not in (None, values.get("patient_id")):
                continue  # another patient's episode: not this record's to link to
            problem = _target_problem(ref, target, related)
            if problem:
                self._fail(item, file, problem, path=name)
                return False
            assert target is not None
            values[_concrete(model, name).attname] = target.record_id
        item.resolved, item.words = values, words
        return True

    def _target(self, ref: Ref, item: Item, index: BatchIndex, found: Found) -> Target | None:
        """What a reference names, if the batch may write against it: a stored patient, or a
        stored record of a patient, that the importer may not change is answered as a reference
        found nowhere, so that the report does not tell whether it exists."""
        target = self._named(ref, item, index, found)
        stored, patient = _stored_patient(target, found)
        if stored and (patient is None or not found.charts.allow(patient, _permission(item))):
            return None
        return target

    def _named(self, ref: Ref, item: Item, index: BatchIndex, found: Found) -> Target | None:
        local = index.find(ref)
        if local is not None:
            if local.state == INVALID:
                return Target(local.resource_type, local.model, None, failed=True, item=local)
            if local.state == NOT_TAKEN_IN:
                return Target(local.resource_type, None, None, item=local)
            return Target(local.resource_type, local.model, local.record_id, item=local)
        if ref.resource_type == "EpisodeOfCare" and ref.resource_id in found.episodes:
            # Careway's own episode (written by its export, never taken in): linked when it is
            # this agency's and the same patient's; otherwise there is nothing to link to.
            owner = found.episodes[ref.resource_id]
            return Target("EpisodeOfCare", EpisodeOfCare, int(ref.resource_id), patient_id=owner)
        if ref.resource_type and ref.resource_type not in self.taken_in:
            return Target(ref.resource_type, None, None)
        if ref.is_identifier and ref.system == self.mrn_system and ref.value in found.mrns:
            return Target("Patient", Patient, found.mrns[ref.value])
        for key in _candidate_keys(ref, item.meta_source):
            source = found.source(ref.resource_type, key)
            if source is not None:
                model = services.model_of(source.record_type)
                return Target(source.resource_type, model, _record_pk(model, source.record_id))
        return None

    def _fill_words(self, file: str, items: list[Item]) -> bool:
        """Text fields the mapping left for the importer (a prescriber's name, the condition a
        medication is for, the conditions a care plan addressed): the referenced resource's
        words, from this batch or, in one query per model, from the records it became. False
        when a field Careway requires stayed empty (that resource is then a problem)."""
        stored: dict[type[models.Model], set[Any]] = {}
        for item in items:
            for _, target in item.words if item.taken else ():
                if target.model is not None and (target.item is None or not target.item.rows):
                    stored.setdefault(target.model, set()).add(target.record_id)
        org = self.organization.pk
        known = {model: words_of_records(model, org, ids) for model, ids in stored.items()}
        filled = True
        for item in items:
            if not item.taken or not item.words:
                continue
            assert item.model is not None
            for name, target in item.words:
                if target.item is not None and target.item.rows:
                    text = words_of_row(target.item.model, target.item.rows[0])
                elif target.model is not None:
                    text = known[target.model].get(target.record_id, "")
                elif target.item is not None:
                    text = words_of_resource(target.item.entry.resource)
                else:
                    text = ""
                if not _put_words(item, name, text):
                    self._fail(
                        item,
                        file,
                        Invalid(
                            name,
                            "empty: the resource it refers to has no name or words Careway can use",
                        ),
                    )
                    filled = False
                    break
        return filled

    # -- what to write --

    def _check_same_patient(self, file: str, items: list[Item], found: Found) -> None:
        """A newer version of a record imported before (a response, a measurement, ...) must be
        about the same patient: nothing moves to another chart, nor is changed on a chart
        through a reference to another."""
        for item in items:
            if not item.taken or item.state != UPDATE or item.model in (None, Patient):
                continue
            assert item.model is not None
            stored = found.owners.get((item.model, item.record_id))
            if stored is None or stored != item.resolved.get("patient_id"):
                self._fail(
                    item,
                    file,
                    Invalid(
                        _subject_element(item),
                        "was imported before for another patient: a record never moves to "
                        "another chart",
                    ),
                )

    def _build(self, items: list[Item], found: Found) -> services.BatchPlan:
        plan = services.BatchPlan(self.organization.pk, self.branch.pk, self.run.pk)
        seen: set[tuple[str, str]] = set()
        for item in items:
            if not item.taken:
                continue
            assert item.model is not None
            rows = [{**row, **item.resolved} for row in item.rows]
            into = plan.new_sources
            if item.model is Response and item.state == NEW:
                filed = services.ResponseImport(item.resolved["patient_id"], rows[0])
                plan.responses.append(filed)
                into = filed.sources
            elif item.model is Response:
                item.update = services.RecordUpdate(item.model, item.record_id, rows)
                plan.response_updates.append(item.update)
            elif item.state == NEW:
                self._insert(plan, item, rows)
            else:
                item.update = services.RecordUpdate(item.model, item.record_id, rows)
                plan.updates.append(item.update)
            self._remember(plan, item, found, seen, into)
        return plan

    def _insert(self, plan: services.BatchPlan, item: Item, rows: list[dict[str, Any]]) -> None:
        model = item.model
        assert model is not None
        common: dict[str, Any] = {"organization_id": self.organization.pk}
        if model is Patient:
            common["branch_id"] = self.branch.pk
            plan.new_patients.append(item.record_id)
        else:
            plan.touched_patients.add(rows[0]["patient_id"])
            if _has_field(model, "recorded_by_id") and self.actor.user is not None:
                common["recorded_by_id"] = self.actor.user.pk
        if len(rows) > 1 and _has_field(model, "panel_id") and not rows[0].get("panel_id"):
            common["panel_id"] = uuid.uuid4()
        for row_id, row in zip(item.row_ids, rows, strict=True):
            plan.insert(model, {**row, **common, "id": row_id})

    def _remember(
        self,
        plan: services.BatchPlan,
        item: Item,
        found: Found,
        seen: set[tuple[str, str]],
        into: list[dict[str, Any]],
    ) -> None:
        """Its source record (new, or with the new content hash) and one per new identifier,
        new ones `into` the plan's new sources (or a response's, which knows its id later)."""
        assert item.model is not None and item.incoming is not None
        record = {
            "resource_type": item.resource_type,
            "record_type": item.model._meta.label_lower,
            "record_id": str(item.record_id),
            "content_hash": item.content_hash,
        }
        if item.source is not None:
            plan.changed_sources.append((item.source.pk, item.content_hash, str(item.record_id)))
        else:
            into.append({**record, "source_key": item.source_key})
        for system, value in item.incoming.identifiers:
            key = identifier_key(system, value)
            if not value or (item.resource_type, key) in seen:
                continue
            seen.add((item.resource_type, key))
            if found.source(item.resource_type, key) is None:
                into.append({**record, "source_key": key})

    # -- counting --

    def _count(self, items: list[Item], *, rejected: bool) -> None:
        for item in items:
            kind = DERIVED_SCORE if item.derived else item.resource_type or "(no resourceType)"
            if item.problem is not None:
                self.report.add_problem(item.problem)
                self.report.count(kind, "invalid")
            elif item.state == NOT_TAKEN_IN:
                self.report.count(kind, "not_taken_in")
            elif rejected:
                self.report.count(kind, "rejected")
            elif item.state == NEW:
                self.report.count(kind, "created")
            elif item.update is not None and item.update.changed:
                self.report.count(kind, "updated")
            else:
                self.report.count(kind, "unchanged")


def _unsaved(batch: Batch, items: list[Item], exc: Exception) -> str:
    if batch.whole:
        what = "this bundle"
    else:
        lines = [i.entry.line for i in items if i.entry.line]
        what = f"lines {min(lines)} to {max(lines)}" if lines else "this batch"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"nothing from {what} was imported: the database refused it ({message})"


def _references_of(item: Item) -> list[tuple[Any, str]]:
    """Each reference of a mapped resource, with the type it names when it does not say."""
    assert item.incoming is not None
    subject = item.incoming.subject or _logical_subject(item)
    return [(subject, "Patient"), *((raw, "") for raw in item.incoming.references.values())]


SUBJECT_ELEMENTS = ("subject", "patient", "beneficiary")


def _logical_subject(item: Item) -> Any:
    """A subject given by identifier only (`{"identifier": {...}}`), which the mapping leaves
    empty: the Reference object itself, for the importer to look up."""
    for name in SUBJECT_ELEMENTS:
        value = item.entry.resource.get(name)
        if isinstance(value, dict) and isinstance(value.get("identifier"), dict):
            return value
    return ""


def _raw_subject(item: Item) -> Any:
    """The resource's reference to its patient, as written (for a resource not mapped)."""
    resource = item.entry.resource
    return next((resource[n] for n in SUBJECT_ELEMENTS if n in resource), None)


def _subject_element(item: Item) -> str:
    """The element naming the patient, as the resource writes it (Observation.subject,
    AllergyIntolerance.patient, Coverage.beneficiary)."""
    resource = item.entry.resource
    name = next((n for n in SUBJECT_ELEMENTS if n in resource), SUBJECT_ELEMENTS[0])
    return f"{item.resource_type}.{name}"


def _permission(item: Item) -> str:
    """What changing the chart through this resource needs: its domain's edit permission (a
    patient's registration, and the chart's own records: chart.edit)."""
    return getattr(item.model, "edit_permission", CHART_EDIT.code)


def _stored_patient(target: "Target | None", found: Found) -> tuple[bool, Any]:
    """Whether a reference's target is a record already stored (not one this batch creates, nor
    a resource Careway does not keep), and if so its patient (None when it is not known)."""
    if target is None or target.model is None or target.failed or target.record_id is None:
        return False, None
    if target.patient_id is not None:
        return False, None  # a Careway episode: linked only to its own patient's records
    if target.item is not None and target.item.state == NEW:
        return False, None
    if target.model is Patient:
        return True, target.record_id
    return True, found.owners.get((target.model, target.record_id))


def _patients_named(
    items: list[Item],
    sources: list["Known"],
    mrns: dict[str, Any],
    owners: dict[tuple[type[models.Model], Any], Any],
) -> set[Any]:
    """Every existing patient a batch may write to or refer to: by MRN, by source record, as the
    patient a stored record belongs to, and as a Patient of the batch imported before."""
    patient_label = Patient._meta.label_lower
    named = set(mrns.values()) | set(owners.values())
    named.update(
        _record_pk(Patient, s.record_id) for s in sources if s.record_type == patient_label
    )
    named.update(
        i.record_id for i in items if i.model is Patient and i.state in (UPDATE, UNCHANGED)
    )
    return named


def reference_keys(value: Any, meta_source: str) -> list[str]:
    """The source keys an earlier import may have stored a reference's resource under."""
    ref = parse_reference(value)
    return _candidate_keys(ref, meta_source) if ref is not None else []


def _candidate_keys(ref: Ref, meta_source: str) -> list[str]:
    """The source keys an earlier import may have stored the referenced resource under."""
    if ref.is_identifier:
        return [identifier_key(ref.system, ref.value)]
    if ref.resource_type:
        qualified = [_fit(f"{meta_source}|{ref.resource_id}")] if meta_source else []
        return [*qualified, ref.resource_id]
    if ref.text.startswith("urn:uuid:"):
        # Synthea and most exporters use the resource's id as its urn:uuid.
        return [ref.text.removeprefix("urn:uuid:"), ref.text]
    return [_fit(ref.text)]


def _target_problem(ref: Ref, target: Target | None, expected: type[models.Model] | None) -> str:
    """Why a reference does not do (or ""): found nowhere, not imported, or of the wrong type
    (`expected` None: any type will do)."""
    if target is None:
        # The same words whether nothing answers to it or only a record the importer may not
        # change does: whether that patient exists is not theirs to learn.
        return (
            f"dangling reference {ref.text!r}: no resource in this file, nor any record of this "
            "agency that you may change, answers to it"
        )
    if target.failed:
        return f"refers to {ref.text!r}, which is not imported (see its own problem)"
    if expected is not None and target.model is not expected:
        return (
            f"refers to {ref.text!r}, a {target.resource_type} resource, where Careway needs "
            f"a reference to its {expected._meta.verbose_name} record"
        )
    return ""


def _put_words(item: Item, name: str, text: str) -> bool:
    """Fill a text field (or one place, `field.N`, in a list of words) of every row; False when
    a field Careway requires stays empty."""
    model = item.model
    assert model is not None
    base, _, place = name.partition(".")
    try:
        f = _concrete(model, base)
    except FieldDoesNotExist:
        return True
    if place.isdigit() and isinstance(item.rows[0].get(f.attname), list):
        for row in item.rows:
            words = list(row[f.attname])
            if int(place) < len(words):
                words[int(place)] = text
            row[f.attname] = words
        return True
    max_length = getattr(f, "max_length", None)
    if max_length and len(text) > max_length:
        text = text[: max_length - 1] + "\u2026"
    for row in item.rows:
        row[f.attname] = text
    column = _columns(model).by_name.get(f.name)
    return bool(text) or column is None or not column.required


def words_of_row(model: type[models.Model] | None, row: dict[str, Any]) -> str:
    """A record in words, from the row a mapping made of it."""
    if model is Patient:
        return f"{row.get('given_name', '')} {row.get('family_name', '')}".strip()
    for name in ("display", "name", "type_display", "payer_name", "title"):
        if row.get(name):
            return str(row[name])
    return ""


def words_of_records(
    model: type[models.Model], organization_id: int, ids: Iterable[Any]
) -> dict[Any, str]:
    """The words of one agency's stored records, in one query."""
    names = {f.attname for f in model._meta.concrete_fields}
    wanted = [
        n for n in ("given_name", "family_name", "display", "name", "type_display") if n in names
    ]
    found: dict[Any, str] = {}
    for chunk in _chunks(sorted(ids, key=str)):
        # By primary key alone, the agency checked here (as for episodes above).
        query = model._default_manager.filter(pk__in=chunk)
        for row in query.values("pk", "organization_id", *wanted):
            if row["organization_id"] == organization_id:
                found[row["pk"]] = words_of_row(model, row)
    return found


def words_of_resource(resource: dict[str, Any]) -> str:
    """A resource Careway does not take in (a Practitioner, an Organization), in words: its name
    as written (HumanName text or prefix, given and family names; or a plain name), else its
    code's words."""
    names = resource.get("name")
    if isinstance(names, str):
        return names
    if isinstance(names, list) and names and isinstance(names[0], dict):
        name = names[0]
        if isinstance(name.get("text"), str) and name["text"]:
            return name["text"]
        parts = [*_strings(name.get("prefix")), *_strings(name.get("given"))]
        parts += _strings([name.get("family")])
        return " ".join(parts)
    code = resource.get("code")
    if isinstance(code, dict):
        if isinstance(code.get("text"), str):
            return code["text"]
        codings = code.get("coding")
        if isinstance(codings, list) and codings and isinstance(codings[0], dict):
            display = codings[0].get("display")
            return display if isinstance(display, str) else ""
    return ""


def _strings(values: Any) -> list[str]:
    return [v for v in values if isinstance(v, str) and v] if isinstance(values, list) else []


def _concrete(model: type[models.Model], name: str) -> models.Field:
    found = model._meta.get_field(name)
    if not isinstance(found, models.Field):
        raise FieldDoesNotExist(f"{model.__name__}.{name} is not a field of its own")
    return found


def _related_model(model: type[models.Model], name: str) -> type[models.Model] | None:
    try:
        found = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return found.related_model if found.is_relation else None  # type: ignore[return-value]


def _has_field(model: type[models.Model], attname: str) -> bool:
    return attname in _columns(model).attnames


def _record_pk(model: type[models.Model], record_id: Any) -> Any:
    return model._meta.pk.to_python(record_id)


class Known(NamedTuple):
    """A SourceRecord as the importer reads it (a tuple: a batch reads thousands)."""

    pk: int
    resource_type: str
    source_key: str
    record_type: str
    record_id: str
    content_hash: str


def _sources(organization_id: int, keys: Iterable[str]) -> list[Known]:
    found: list[Known] = []
    for chunk in _chunks(sorted(set(keys))):
        rows = SourceRecord.objects.filter(organization_id=organization_id, source_key__in=chunk)
        found += [Known(*row) for row in rows.values_list(*Known._fields)]
    return found


def _chunks(values: Sequence[Any], size: int = _LOOKUP_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- checking the rows the mapping gives ---------------------------------------------------------

# Set by the importer, never by a mapping.
_SET_BY_IMPORTER = frozenset({"id", "organization", "patient", "branch", "version"})


@dataclass
class _Column:
    field: models.Field
    required: bool
    parse: bool


class _Columns:
    def __init__(self, model: type[models.Model]):
        self.by_name: dict[str, _Column] = {}
        self.attnames = {f.attname for f in model._meta.concrete_fields}
        for f in model._meta.concrete_fields:
            if f.name in _SET_BY_IMPORTER or f.primary_key:
                continue
            required = not f.null and not f.has_default() and not f.blank
            parse = isinstance(
                f, models.DateField | models.DateTimeField | models.UUIDField | models.FloatField
            )
            column = _Column(f, required, parse)
            self.by_name[f.name] = column
            self.by_name[f.attname] = column
        self.required = [c for c in self.by_name.values() if c.required]


_COLUMNS: dict[type[models.Model], _Columns] = {}


def _columns(model: type[models.Model]) -> _Columns:
    columns = _COLUMNS.get(model)
    if columns is None:
        columns = _COLUMNS[model] = _Columns(model)
    return columns


def clean_row(
    model: type[models.Model], row: dict[str, Any], filled_later: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The row by attribute name, each value checked against its Careway field (present when
    required, parsed when given as text, short enough): what the bulk writer would otherwise
    store unchecked, as it skips model validation for speed. Codes are not checked against the
    field's choices: the mapping keeps FHIR codes Careway has no label for, as written. Fields in
    `filled_later` get a referenced resource's words after resolution, and are checked then."""
    columns = _columns(model)
    out: dict[str, Any] = {}
    for name, value in row.items():
        column = columns.by_name.get(name)
        if column is None:
            if name in _SET_BY_IMPORTER or name.removesuffix("_id") in _SET_BY_IMPORTER:
                continue
            raise Invalid(name, f"a {model._meta.verbose_name} has no field {name!r}")
        f = column.field
        if value is None:
            if f.null:
                out[f.attname] = None
            elif column.required:
                raise Invalid(name, "missing: Careway needs it")
            continue
        if column.parse and isinstance(value, str):
            try:
                value = f.to_python(value)
            except ValidationError as exc:
                raise Invalid(name, " ".join(exc.messages)) from None
        if column.required and value == "" and name not in filled_later:
            raise Invalid(name, "empty: Careway needs it")
        max_length = getattr(f, "max_length", None)
        if max_length and isinstance(value, str) and len(value) > max_length:
            raise Invalid(name, f"too long ({len(value)} characters, at most {max_length})")
        out[f.attname] = value
    for column in columns.required:
        if column.field.attname not in out:
            raise Invalid(column.field.name, "missing: Careway needs it")
    return out

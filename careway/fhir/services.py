"""The write path of a FHIR import: who may import, one batch's rows, and the import's audit event.

The importer (careway/fhir/importer.py) reads files, maps and resolves resources, and hands each
batch here as a `BatchPlan`: rows to insert, records to update, new patients, source records.
`write_batch` writes it in one transaction with the audit events of every patient it creates or
changes, in a few statements whatever its size (COPY on PostgreSQL, bulk_create on SQLite).

QuestionnaireResponses are the exception: each is filed through the assessments service that
signs and scores it (record_response), after the batch's patients and their episodes are
written, and a newer version of one imported before becomes an amendment (amend_response). That
is a few statements per response rather than per batch; responses are rare next to observations.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db import connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb

from careway.assessments import services as assessment_services
from careway.assessments.models import Response
from careway.assessments.questionnaires import answers_from_response
from careway.core import audit
from careway.core.models import AuditEvent, Branch, Organization, User
from careway.core.roles import Role
from careway.core.tables import RowWriter, TableShape, reserve_ids
from careway.core.writes import service
from careway.patients import evidence, history
from careway.patients.models import (
    Allergy,
    CareTeamMember,
    EpisodeOfCare,
    Observation,
    Patient,
)

from .models import ImportRun, SourceRecord
from .permissions import RECORDS_IMPORT

REFERRAL_SOURCE = "Imported record"
# Parents before the rows that point at them (the constraints are deferred; this keeps it plain).
WRITE_ORDER = ("patients.patient", "patients.relatedperson", "patients.encounter")
# Why an imported response changed, on its amendment.
IMPORT_AMENDMENT = "A newer version of this response was imported."
# Fields an update from a newer version of a resource never changes.
KEPT_ON_UPDATE = frozenset(
    {"id", "organization_id", "patient_id", "version", "panel_id", "recorded_by_id"}
)


@dataclass
class RecordUpdate:
    """A newer version of a resource already imported: its rows replace the record's values.

    `record_id` is the record the resource became (the first row of a panel); `changed` is set by
    write_batch: False when the new version changes no stored value.
    """

    model: type[models.Model]
    record_id: Any
    rows: list[dict[str, Any]]
    changed: bool = False


@dataclass
class ResponseImport:
    """A completed QuestionnaireResponse to file for `patient_id`: `row` as the mapping read it
    (questionnaire_url, items in the Questionnaire's shape, authored), and its source records,
    whose record_id is filled in once the response exists."""

    patient_id: uuid.UUID
    row: dict[str, Any]
    sources: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class BatchPlan:
    """Everything one batch writes, with every id already chosen and every reference resolved.

    `inserts` holds rows by model (attribute names, ids included); `new_patients` the ids of the
    Patient rows among them, which also get their first episode of care; `touched_patients` the
    existing patients whose record the batch adds to.
    """

    organization_id: int
    branch_id: int
    run_id: uuid.UUID
    inserts: dict[type[models.Model], list[dict[str, Any]]] = field(default_factory=dict)
    updates: list[RecordUpdate] = field(default_factory=list)
    new_patients: list[uuid.UUID] = field(default_factory=list)
    touched_patients: set[uuid.UUID] = field(default_factory=set)
    new_sources: list[dict[str, Any]] = field(default_factory=list)
    changed_sources: list[tuple[int, str, str]] = field(default_factory=list)
    responses: list[ResponseImport] = field(default_factory=list)
    response_updates: list[RecordUpdate] = field(default_factory=list)

    def insert(self, model: type[models.Model], values: dict[str, Any]) -> None:
        self.inserts.setdefault(model, []).append(values)

    @property
    def empty(self) -> bool:
        return not (
            self.inserts
            or self.updates
            or self.new_sources
            or self.changed_sources
            or self.responses
            or self.response_updates
        )


# --- who may import ------------------------------------------------------------------------------


def check_may_import(actor: audit.Actor, organization: Organization, branch: Branch) -> None:
    """PermissionDenied (audited) unless `actor` may import into this agency and branch.

    Agency admins and case managers of the agency may (the records.import permission); so may the
    system acting for the agency (`careway import-fhir` run by the operator without --as). What
    an import then writes to is decided per patient by the importer (careway/fhir/importer.py):
    the patients the user may change, and those the import creates; the system actor, whom the
    operator at the console stands behind, may write to any patient of the agency.
    """
    if branch.organization_id != organization.pk:
        raise PermissionDenied(f"The branch {branch.name!r} is not a branch of {organization}.")
    user = actor.user
    if user is None:
        allowed = actor.on_behalf_of_organization_id == organization.pk
    else:
        allowed = (
            user.is_active
            and user.organization_id == organization.pk
            and user.has_perm_code(RECORDS_IMPORT)
        )
    if allowed:
        return
    audit.record(
        actor,
        "fhir.import",
        object_type="core.organization",
        object_id=str(organization.pk),
        outcome=AuditEvent.Outcome.DENIED,
        detail={"branch_id": branch.pk},
    )
    who = user.username if user else "This actor"
    raise PermissionDenied(
        f"{who} may not import records into {organization}: only its agency admins and case "
        "managers may."
    )


@service
def audit_refused(actor: audit.Actor, run_id: uuid.UUID, patient_ids: set[uuid.UUID]) -> None:
    """A denied `patient.edit` for each patient of the agency that a batch named but the importer
    may not change. The report must not say whether such a patient exists; the trail says who
    was reached for."""
    audit.record_many(
        actor,
        "patient.edit",
        sorted(patient_ids, key=str),
        outcome=AuditEvent.Outcome.DENIED,
        detail={
            "why": "not theirs to change",
            "source": REFERRAL_SOURCE,
            "import_run": str(run_id),
        },
    )


def primary_case_manager(actor: audit.Actor) -> User | None:
    """The importing user when they manage cases: they become new patients' primary case manager
    (as when they register a patient by hand); an admin import leaves the team for a supervisor to
    assign."""
    user = actor.user
    return user if user is not None and Role.CASE_MANAGER in user.roles else None


# --- one batch -----------------------------------------------------------------------------------


@service
def write_batch(actor: audit.Actor, plan: BatchPlan, case_manager: User | None) -> None:
    """Write one batch: all of it, with its audit events, or (on any error) nothing."""
    writer = RowWriter()
    for model in sorted(plan.inserts, key=_write_rank):
        shape = TableShape(model, with_id=True)
        writer.write(shape, [shape.row(_for_writer(model, v)) for v in plan.inserts[model]])
    _start_episodes(writer, plan, case_manager)
    _apply_updates(plan)
    _note_allergies(plan)
    _file_responses(actor, plan)
    _amend_responses(actor, plan)
    _write_sources(writer, plan)
    detail = {"source": REFERRAL_SOURCE, "import_run": str(plan.run_id)}
    audit.record_many(actor, "patient.create", plan.new_patients, detail=detail)
    changed = {_patient_of(u) for u in [*plan.updates, *plan.response_updates] if u.changed}
    touched = (plan.touched_patients | changed) - set(plan.new_patients)
    audit.record_many(actor, "patient.update", sorted(touched, key=str), detail=detail)
    evidence.evidence_changed(actor, touched | set(plan.new_patients))


def _write_rank(model: type[models.Model]) -> tuple[int, str]:
    label = model._meta.label_lower
    return (WRITE_ORDER.index(label) if label in WRITE_ORDER else len(WRITE_ORDER), label)


def _for_writer(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    if connection.vendor != "postgresql":
        return values
    json_fields = _json_fields(model)
    if not json_fields:
        return values
    return {k: Jsonb(v) if k in json_fields else v for k, v in values.items()}


def _json_fields(model: type[models.Model]) -> frozenset[str]:
    return frozenset(
        f.attname for f in model._meta.concrete_fields if isinstance(f, models.JSONField)
    )


def _start_episodes(writer: RowWriter, plan: BatchPlan, case_manager: User | None) -> None:
    """Each new patient's first episode (referred, from the import) and, when the importer
    manages cases, its care team with them as primary case manager."""
    if not plan.new_patients:
        return
    today = timezone.localdate()
    episode_ids = reserve_ids(EpisodeOfCare, len(plan.new_patients))
    episodes, team = TableShape(EpisodeOfCare, with_id=True), TableShape(CareTeamMember)
    common = {"organization_id": plan.organization_id}
    writer.write(
        episodes,
        [
            episodes.row(
                {
                    **common,
                    "id": episode_id,
                    "patient_id": patient_id,
                    "branch_id": plan.branch_id,
                    "status": EpisodeOfCare.Status.REFERRED,
                    "referral_source": REFERRAL_SOURCE,
                    "referral_date": today,
                }
            )
            for episode_id, patient_id in zip(episode_ids, plan.new_patients, strict=True)
        ],
    )
    if case_manager is None:
        return
    writer.write(
        team,
        [
            team.row(
                {
                    **common,
                    "patient_id": patient_id,
                    "episode_id": episode_id,
                    "user_id": case_manager.pk,
                    "role": CareTeamMember.TeamRole.CASE_MANAGER,
                    "is_primary_case_manager": True,
                    "start_date": today,
                }
            )
            for episode_id, patient_id in zip(episode_ids, plan.new_patients, strict=True)
        ],
    )


def _apply_updates(plan: BatchPlan) -> None:
    """Newer versions: keep each record as it was, then change what differs and bump its version.

    One locked read, one insert of the kept versions and one bulk update per model (updates are
    the rare path of an import: most resources arrive new or unchanged).
    """
    by_model: dict[type[models.Model], list[RecordUpdate]] = {}
    for update in plan.updates:
        by_model.setdefault(update.model, []).append(update)
    for model, updates in by_model.items():
        records = _locked(model, plan.organization_id, [u.record_id for u in updates])
        saved: list[models.Model] = []
        kept: list[Any] = []
        fields: set[str] = set()
        for update in updates:
            members = records.get(str(update.record_id), [])
            pairs, added = _paired(members, update.rows)
            if added:
                _add_members(members[0], added)
                update.changed = True
            for record, row in pairs:
                changed = _changed_fields(record, row)
                if not changed:
                    continue
                kept.append(history.snapshot(record))
                for name in changed:
                    setattr(record, name, row[name])
                _bump(record)
                saved.append(record)
                fields.update(changed)
                update.changed = True
        history.keep(kept)
        if saved:
            stamps = {"version"} | ({"updated_at"} if _has(model, "updated_at") else set())
            model._default_manager.bulk_update(saved, sorted(fields | stamps), batch_size=500)


def _locked(
    model: type[models.Model], organization_id: int, record_ids: list[Any]
) -> dict[str, list[models.Model]]:
    """The records to update, each with the other members of its panel (first row first)."""
    manager = model._default_manager
    heads = list(
        manager.select_for_update().filter(organization_id=organization_id, pk__in=record_ids)
    )
    found: dict[str, list[models.Model]] = {str(r.pk): [r] for r in heads}
    panels = {
        getattr(r, "panel_id", None): str(r.pk) for r in heads if getattr(r, "panel_id", None)
    }
    if panels:
        members = manager.select_for_update().filter(
            organization_id=organization_id, panel_id__in=list(panels)
        )
        for member in members.order_by("pk"):
            head = panels[member.panel_id]  # type: ignore[attr-defined]
            if str(member.pk) != head:
                found[head].append(member)
    return found


def _paired(
    members: list[models.Model], rows: list[dict[str, Any]]
) -> tuple[list[tuple[models.Model, dict[str, Any]]], list[dict[str, Any]]]:
    """Each stored member with the new row of the same code (a panel's components), and the
    rows of components it did not have."""
    if not members:
        return [], []
    if len(members) == 1 and len(rows) == 1:
        return [(members[0], rows[0])], []
    by_code = {getattr(m, "code", ""): m for m in members}
    pairs = [(by_code[r["code"]], r) for r in rows if r.get("code") in by_code]
    added = [r for r in rows if r.get("code") not in by_code]
    matched = {id(m) for m, _ in pairs}
    # A component the new version no longer has: kept, marked entered in error, never deleted.
    for member in members:
        if id(member) not in matched and isinstance(member, Observation):
            pairs.append((member, {"status": Observation.Status.ENTERED_IN_ERROR}))
    return pairs, added


def _add_members(head: models.Model, rows: list[dict[str, Any]]) -> None:
    """New components of a panel (rare: a newer version that measures more)."""
    panel_id = getattr(head, "panel_id", None)
    if panel_id is None:
        panel_id = uuid.uuid4()
        type(head)._default_manager.filter(pk=head.pk).update(panel_id=panel_id)
        head.panel_id = panel_id  # type: ignore[attr-defined]
    shared = {
        "organization_id": head.organization_id,  # type: ignore[attr-defined]
        "patient_id": head.patient_id,  # type: ignore[attr-defined]
        "panel_id": panel_id,
    }
    if _has(type(head), "recorded_by_id"):
        shared["recorded_by_id"] = head.recorded_by_id  # type: ignore[attr-defined]
    type(head)._default_manager.bulk_create([type(head)(**{**row, **shared}) for row in rows])


def _changed_fields(record: models.Model, row: dict[str, Any]) -> list[str]:
    return [
        name
        for name, value in row.items()
        if name not in KEPT_ON_UPDATE and not _same(getattr(record, name), value)
    ]


def _same(stored: Any, new: Any) -> bool:
    if isinstance(stored, float) and isinstance(new, int | float):
        # A float read back from the database may differ in its last bit from the one parsed.
        return abs(stored - new) <= 1e-9 * max(1.0, abs(stored))
    return stored == new


def _bump(record: models.Model) -> None:
    record.version += 1  # type: ignore[attr-defined]
    if _has(type(record), "updated_at"):
        record.updated_at = timezone.now()  # type: ignore[attr-defined]


def _has(model: type[models.Model], name: str) -> bool:
    return any(f.attname == name for f in model._meta.concrete_fields)


def _patient_of(update: RecordUpdate) -> uuid.UUID:
    if update.model is Patient:
        return update.record_id
    return update.rows[0]["patient_id"]


def _file_responses(actor: audit.Actor, plan: BatchPlan) -> None:
    """Each new QuestionnaireResponse as a signed, scored assessment of its patient."""
    if not plan.responses:
        return
    wanted = {r.patient_id for r in plan.responses}
    patients = Patient.objects.filter(organization_id=plan.organization_id, pk__in=wanted)
    by_id = {p.pk: p for p in patients}
    for incoming in plan.responses:
        row = incoming.row
        response = assessment_services.record_response(
            actor,
            by_id[incoming.patient_id],
            row["questionnaire_url"],
            row["items"],
            row["authored"],
        )
        for source in incoming.sources:
            plan.new_sources.append({**source, "record_id": str(response.pk)})
        plan.touched_patients.add(incoming.patient_id)


def _amend_responses(actor: audit.Actor, plan: BatchPlan) -> None:
    """A newer version of a response imported before: its answers, when they differ from the
    ones that stand, are an amendment (the answers signed before stay on record)."""
    for update in plan.response_updates:
        response = Response.objects.get(organization_id=plan.organization_id, pk=update.record_id)
        items = update.rows[0]["items"]
        if assessment_services.effective_items(response) == items:
            continue
        answers = answers_from_response({"item": items})
        assessment_services.amend_response(actor, response, answers, IMPORT_AMENDMENT)
        update.changed = True


def _note_allergies(plan: BatchPlan) -> None:
    """An allergy on file means the patient no longer has 'no known allergies' (as add_allergy)."""
    patients = {row["patient_id"] for row in plan.inserts.get(Allergy, [])}
    if patients:
        Patient.objects.filter(pk__in=list(patients), no_known_allergies=True).update(
            no_known_allergies=False
        )


def _write_sources(writer: RowWriter, plan: BatchPlan) -> None:
    shape = TableShape(SourceRecord)
    now = timezone.now()
    writer.write(
        shape,
        [
            shape.row(
                {
                    **row,
                    "organization_id": plan.organization_id,
                    "import_run_id": plan.run_id,
                    "updated_at": now,
                }
            )
            for row in plan.new_sources
        ],
    )
    if not plan.changed_sources:
        return
    changed = []
    for pk, content_hash, record_id in plan.changed_sources:
        changed.append(
            SourceRecord(
                pk=pk,
                content_hash=content_hash,
                record_id=record_id,
                import_run_id=plan.run_id,
                updated_at=now,
            )
        )
    SourceRecord.objects.bulk_update(
        changed, ["content_hash", "record_id", "import_run", "updated_at"], batch_size=500
    )


def model_of(label: str) -> type[models.Model]:
    """The model a SourceRecord's record_type names ("patients.observation")."""
    return apps.get_model(label)


# --- the whole import ----------------------------------------------------------------------------


@service
def finish_import(
    actor: audit.Actor,
    run: ImportRun,
    *,
    files: list[dict[str, Any]],
    counts: dict[str, dict[str, int]],
    problems: list[dict[str, Any]],
    problem_count: int,
) -> ImportRun:
    """Close the run and append the agency's `fhir.import` event: each file's name, size and
    SHA-256, what each resource type became, and how many problems there were."""
    run.status = ImportRun.Status.DONE
    run.finished_at = timezone.now()
    run.files, run.counts = files, counts
    run.problems, run.problem_count = problems, problem_count
    run.bytes_done = run.bytes_total
    run.save()
    audit.record(
        actor,
        "fhir.import",
        obj=run,
        organization_id=run.organization_id,
        detail={
            "branch_id": run.branch_id,
            "files": [{k: f.get(k) for k in ("name", "bytes", "sha256")} for f in files],
            "counts": counts,
            "problems": problem_count,
        },
    )
    return run

"""QuestionnaireResponse <-> careway.assessments.Response (one questionnaire's answers in an
assessment).

Out. One resource per Response: id `qr-<pk>` (careway.assessments.models
questionnaire_response_id: a prefix, so it is never taken for a number of another type);
`questionnaire` is the canonical `url|version` the answers were given to; `status` in-progress
while the assessment is a draft, completed once it is signed, amended once an amendment corrects
it; `subject` the patient; `authored` when the answers last changed in substance (the latest
amendment's signature, else the assessment's signature, else the last save of the draft) and
`author` who did that, by name (Careway serves no Practitioner); `item` the answers as they stand
(the latest amendment's, else the original ones: as careway.assessments.services.effective_items).
Each current score of the response is an Observation of its own (score.py), derived from this
resource.

In. Only a completed (or amended) response is taken in: Careway files it as a signed
one-questionnaire assessment of its own and scores it (assessments.services.record_response),
as if it had been signed here. A draft from elsewhere has nobody here to finish and sign it.
`from_fhir` reads the structure (Invalid, naming the element, for what is not a
QuestionnaireResponse); `prepare(organization_id, row)` then checks it against the agency's
instruments and raises Unprocessable (a kind of Invalid: HTTP 422 in the API) for a
Questionnaire the agency does not have, or for answers that do not fit it. That check is the
assessments' own (careway/assessments/answers.py check_items: an answer to no question of it, of
the wrong type or not among the options, a required answer missing); its refusal keeps the
element and the issue type. The answers it passes on are rebuilt in the Questionnaire's shape
(its groups, its option codings), exactly as the assessment page would have saved them, so an
answer reads the same whichever way it came. A version other than the agency's is accepted when
the answers fit the agency's version, which scores them; the response then names the agency's
version. The author and an encounter are not taken in: the importing user signs. Before that, the
items are counted: at most MAX_ITEMS in all, nested at most as deep as an instrument may be
(careway.assessments.engine.MAX_DEPTH), with at most MAX_ANSWERS answers each; more is refused
naming the element (the answers are stored as a list in the assessment).

Served by the API: read and searched (by questionnaire, authored and status, most recently
authored first), never versioned (the resource is assembled from the assessment, the answers and
their amendments); created, never replaced: a signed response is corrected by an amendment in
Careway. Exported with drafts (in-progress) too; `_since` by a save, a signature or an amendment.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from careway.assessments import catalog, engine
from careway.assessments import services as assessment_services
from careway.assessments.answers import AnswersRefused, check_items
from careway.assessments.models import (
    QUESTIONNAIRE_RESPONSE_ID_PREFIX,
    Amendment,
    Assessment,
    Response,
    questionnaire_response_id,
)
from careway.core import audit
from careway.fhir import search
from careway.fhir.errors import FhirError

from . import Export, Incoming, Invalid, ResourceDeclaration, Write, Written, register
from . import common as c
from .api_writes import check_times, subject_of

PATH = "QuestionnaireResponse"
# The largest instrument Careway ships has 26 items and a repeating question 11 options: these
# leave room for an agency's own instruments, and none for a response that is mostly padding.
MAX_ITEMS = 1000
MAX_ANSWERS = 50
STATUSES = frozenset({"in-progress", "completed", "amended", "entered-in-error", "stopped"})
TAKEN_STATUSES = frozenset({"completed", "amended"})
ELEMENTS = {
    "questionnaire": f"{PATH}.questionnaire",
    "episode": f"{PATH}.subject",
    "authored": f"{PATH}.authored",
    "items": f"{PATH}.item",
}


class Unprocessable(Invalid):
    """A resource Careway can read but not take as it is (HTTP 422 in the API): `code` is the
    OperationOutcome issue type (business-rule, not-found, value, required)."""

    def __init__(self, path: str, reason: str, code: str = "business-rule"):
        self.code = code
        super().__init__(path, reason)


def reference_to(pk: Any) -> str:
    return f"QuestionnaireResponse/{questionnaire_response_id(pk)}"


# --- out -----------------------------------------------------------------------------------------


def with_context(responses: QuerySet) -> QuerySet:
    """Responses with what writing them needs (assessment, who saved and signed, amendments) in
    two queries, for lists of them (a search, an export)."""
    amendments = Amendment.objects.select_related("signed_by")
    return responses.select_related(
        "assessment", "assessment__signed_by", "updated_by"
    ).prefetch_related(Prefetch("amendments", queryset=amendments))


def latest_amendment(response: Response) -> Amendment | None:
    """The amendment whose answers stand (the latest signed), as services.effective_items
    chooses it; from the prefetched ones when they are loaded."""
    loaded = getattr(response, "_prefetched_objects_cache", {}).get("amendments")
    if loaded is None:
        return response.amendments.select_related("signed_by").order_by("-signed_at", "-pk").first()
    return max(loaded, key=lambda a: (a.signed_at, a.pk), default=None)


def response_to_fhir(record: Response) -> dict[str, Any]:
    assessment = record.assessment
    latest = latest_amendment(record)
    if not assessment.is_signed:
        status, authored, author = "in-progress", record.updated_at, record.updated_by
    elif latest is not None:
        status, authored, author = "amended", latest.signed_at, latest.signed_by
    else:
        status = "completed"
        authored, author = assessment.signed_at or record.updated_at, assessment.signed_by
    canonical = record.questionnaire_url
    if record.questionnaire_version:
        canonical = f"{canonical}|{record.questionnaire_version}"
    items = list(latest.items) if latest is not None else list(record.items)
    return c.drop_empty(
        {
            "resourceType": "QuestionnaireResponse",
            "id": questionnaire_response_id(record.pk),
            "meta": {"lastUpdated": c.instant(authored)},
            "questionnaire": canonical,
            "status": status,
            "subject": {"reference": f"Patient/{assessment.patient_id}"},
            "authored": c.instant(authored),
            "author": {"display": author.display_name} if author is not None else None,
            "item": items,
        }
    )


# --- in ------------------------------------------------------------------------------------------


def response_from_fhir(resource: dict[str, Any]) -> Incoming:
    status = c.code_in(resource, "status", PATH, STATUSES, "")
    if not status:
        raise Invalid(f"{PATH}.status", "missing: is the response completed?")
    if status not in TAKEN_STATUSES:
        raise Unprocessable(
            f"{PATH}.status",
            f"{status!r}: Careway takes in completed responses only, and files them as signed "
            "assessments; finish this one where it was started",
        )
    canonical = c.text(resource, "questionnaire", PATH)
    if not canonical:
        raise Invalid(
            f"{PATH}.questionnaire", "missing: name the Questionnaire the answers were given to"
        )
    url, _, version = canonical.partition("|")
    items = c.objects(resource, "item", PATH)
    _check_size(items)
    row = {
        "questionnaire_url": url,
        "questionnaire_version": version,
        "items": items,
        "authored": c.optional_datetime(resource, "authored", PATH),
        "status": status,
    }
    return Incoming(
        resource_type="QuestionnaireResponse",
        model=Response,
        rows=[row],
        subject=c.reference(resource, "subject", PATH),
        source_id=c.text(resource, "id", PATH),
        identifiers=_identifier(resource),
    )


def _check_size(items: list[dict[str, Any]]) -> None:
    """Invalid, naming the element, for more items, deeper nesting or more answers to one item
    than a response to any instrument has. Walked without recursion, whatever the nesting; what
    is not an item or a list is left for the answers' own check to name."""
    pending: list[tuple[list[Any], str, int]] = [(items, f"{PATH}.item", 1)]
    count = 0
    while pending:
        level, path, depth = pending.pop()
        if depth > engine.MAX_DEPTH:
            raise Invalid(f"{PATH}.item", f"nested more than {engine.MAX_DEPTH} levels deep")
        count += len(level)
        if count > MAX_ITEMS:
            raise Invalid(
                f"{PATH}.item",
                f"too many (more than {MAX_ITEMS}, nested ones counted): Careway takes at most "
                f"{MAX_ITEMS}",
            )
        for index, item in enumerate(level):
            if isinstance(item, dict):
                pending += _within(item, f"{path}[{index}]", depth)


def _within(item: dict[str, Any], where: str, depth: int) -> list[tuple[list[Any], str, int]]:
    """The lists of items nested in one item (under it, and under each of its answers)."""
    answers = item.get("answer")
    nested = []
    if isinstance(answers, list):
        if len(answers) > MAX_ANSWERS:
            raise Invalid(f"{where}.answer", c.too_many(len(answers), MAX_ANSWERS))
        for number, answer in enumerate(answers):
            if isinstance(answer, dict) and isinstance(answer.get("item"), list):
                nested.append((answer["item"], f"{where}.answer[{number}].item", depth + 1))
    if isinstance(item.get("item"), list):
        nested.append((item["item"], f"{where}.item", depth + 1))
    return nested


def _identifier(resource: dict[str, Any]) -> list[tuple[str, str]]:
    # QuestionnaireResponse.identifier is one Identifier, not a list.
    ident = c.obj(resource, "identifier", PATH)
    where = f"{PATH}.identifier"
    value = c.text(ident, "value", where)
    return [(c.text(ident, "system", where), value)] if value else []


@dataclass(frozen=True)
class Prepared:
    entry: catalog.Entry
    items: list[dict[str, Any]]


def prepare(organization_id: int, row: dict[str, Any]) -> Prepared:
    """The agency's instrument the response answers, and its answers in the Questionnaire's
    shape; Unprocessable naming the element when they do not fit."""
    url = row["questionnaire_url"]
    entry = catalog.entry(organization_id, url)
    if entry is None:
        raise Unprocessable(
            f"{PATH}.questionnaire",
            f"{url} is not an instrument of this agency: an agency admin uploads the "
            "Questionnaire first",
            "not-found",
        )
    try:
        items = check_items(entry.questionnaire, row["items"], f"{PATH}.item", completed=True)
    except AnswersRefused as refused:
        raise Unprocessable(refused.path, refused.reason, refused.code) from None
    return Prepared(entry, items)


# --- search --------------------------------------------------------------------------------------

STATUS_CODES = search.value_set(
    *search.stored_as_is("in-progress", "completed", "amended"),
    *search.not_stored("entered-in-error", "stopped"),
)


@dataclass(frozen=True)
class CanonicalParam(search.Param):
    """QuestionnaireResponse.questionnaire: the Questionnaire's canonical URL, `url|version` for
    one version."""

    description: str = "The Questionnaire answered: its canonical URL, or url|version."
    type = "reference"
    modifiers = frozenset({""})

    def to_q(self, name: str, modifier: str, raw: str, context: search.Context) -> Q:
        found = search.MATCH_NONE
        for value in search.alternatives(name, raw):
            url, bar, version = value.partition("|")
            match = Q(questionnaire_url=url)
            if bar:
                match &= Q(questionnaire_version=version)
            found |= match
        return found


def _amended() -> Exists:
    return Exists(Amendment.objects.filter(response=OuterRef("pk")))


@dataclass(frozen=True)
class ResponseStatusParam(search.TokenParam):
    """QuestionnaireResponse.status: in-progress (a draft assessment), completed (signed),
    amended (signed, then corrected); Careway has no stopped or entered-in-error responses."""

    def _one(self, name: str, value: str) -> Q:
        system, code = search.split_token(value)
        if system and system != self.system:
            return search.MATCH_NONE
        if self.codes is None or code not in self.codes:
            choices = ", ".join(self.codes or ())
            raise search.SearchError(
                name, f"{name}: {code!r} is not one of {choices}.", "code-invalid"
            )
        signed = Q(assessment__status=Assessment.Status.SIGNED)
        return {
            "in-progress": Q(assessment__status=Assessment.Status.DRAFT),
            "completed": signed & ~Q(_amended()),
            "amended": signed & Q(_amended()),
        }.get(code, search.MATCH_NONE)


def with_authored_time(responses: QuerySet) -> QuerySet:
    """Responses as the API reads them: what writing them needs and when they were authored."""
    latest = Amendment.objects.filter(response=OuterRef("pk")).order_by("-signed_at", "-pk")
    return with_context(responses).annotate(
        authored_at=Coalesce(
            Subquery(latest.values("signed_at")[:1]),
            F("assessment__signed_at"),
            F("updated_at"),
        ),
    )


locate_response = search.locate_prefixed(QUESTIONNAIRE_RESPONSE_ID_PREFIX)

SEARCH = search.SearchDeclaration(
    order=("-authored_at", "-id"),
    locate=locate_response,
    scope=with_authored_time,
    includes=("patient", "subject"),
    sort_description="most recently authored first",
    versioned=False,
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=locate_response),
            "questionnaire": CanonicalParam(),
            "authored": search.DateParam(
                "authored_at",
                description="When the answers were last given or corrected "
                "(eq, ne, gt, lt, ge, le).",
            ),
            "status": ResponseStatusParam(
                "status",
                system="http://hl7.org/fhir/questionnaire-answers-status",
                codes=STATUS_CODES,
                description="in-progress (a draft), completed (signed) or amended.",
            ),
        }
    ),
)


# --- export --------------------------------------------------------------------------------------


def _responses_of(patient_ids: list[Any]) -> QuerySet:
    return with_context(
        Response.objects.filter(patient_id__in=patient_ids).order_by("patient_id", "pk")
    )


def _changed_since(since: datetime) -> Q:
    """Saved (a draft), signed or amended since."""
    amended = Amendment.objects.filter(response=OuterRef("pk"), signed_at__gt=since)
    return Q(updated_at__gt=since) | Q(assessment__signed_at__gt=since) | Q(Exists(amended))


# --- written through the API ---------------------------------------------------------------------


def create_response(actor: audit.Actor, incoming: Incoming) -> Written:
    """A completed QuestionnaireResponse from elsewhere: filed as a signed assessment of its
    patient and scored (careway/assessments/services.py record_response)."""
    patient = subject_of(actor, incoming.subject, f"{PATH}.subject", Response)
    row = incoming.rows[0]
    check_times({"authored": row["authored"]}, ELEMENTS)
    prepared = prepare(patient.organization_id, row)
    try:
        saved = assessment_services.record_response(
            actor, patient, prepared.entry.url, prepared.items, row["authored"]
        )
    except ValidationError as error:
        raise _refused(error) from None
    return Written(with_authored_time(Response.objects.filter(pk=saved.pk)).get())


def _refused(error: ValidationError) -> FhirError:
    fields = getattr(error, "message_dict", {})
    where = {"episode": f"{PATH}.subject", "questionnaire": f"{PATH}.questionnaire"}
    field = next((f for f in fields if f in where), "")
    message = " ".join(fields[field]) if field else " ".join(error.messages)
    return FhirError(422, "business-rule", message, where.get(field, ""))


register(
    ResourceDeclaration(
        "QuestionnaireResponse",
        Response,
        from_fhir=response_from_fhir,
        to_fhir=response_to_fhir,
        elements=ELEMENTS,
        search=SEARCH,
        export=Export(rows=_responses_of, changed_since=_changed_since),
        write=Write(
            create=create_response,
            instead="correct a signed response with an amendment in Careway",
        ),
        notes=(
            "One per questionnaire of an assessment (id qr-<n>). Create takes a completed "
            "response to a Questionnaire of the agency, files it as a signed assessment and "
            "scores it; answers that do not fit the Questionnaire answer 422 naming the element.",
        ),
    )
)

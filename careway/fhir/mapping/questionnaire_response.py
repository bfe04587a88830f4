"""QuestionnaireResponse <-> careway.assessments.Response (one questionnaire's answers in an
assessment), and the check that answers fit their Questionnaire.

Out. One resource per Response: id `qr-<pk>` (a prefix, so it is never taken for a number of
another type); `questionnaire` is the canonical `url|version` the answers were given to; `status`
in-progress while the assessment is a draft, completed once it is signed, amended once an
amendment corrects it; `subject` the patient; `authored` when the answers last changed in
substance (the latest amendment's signature, else the assessment's signature, else the last save
of the draft) and `author` who did that, by name (Careway serves no Practitioner); `item` the
answers as they stand (the latest amendment's, else the original ones: as
careway.assessments.services.effective_items). Each current score of the response is an
Observation of its own (score.py), derived from this resource.

In. Only a completed (or amended) response is taken in: Careway files it as a signed
one-questionnaire assessment of its own and scores it (assessments.services.record_response),
as if it had been signed here. A draft from elsewhere has nobody here to finish and sign it.
`from_fhir` reads the structure (Invalid, naming the element, for what is not a
QuestionnaireResponse); `prepare(organization_id, row)` then checks it against the agency's
instruments and raises Unprocessable (a kind of Invalid: HTTP 422 in the API) for a
Questionnaire the agency does not have, an answer to no question of it, an answer of the wrong
type or not among the options, or a required answer missing. The answers it passes on are
rebuilt in the Questionnaire's shape (its groups, its option codings), exactly as the assessment
page would have saved them, so an answer reads the same whichever way it came. A version other
than the agency's is accepted when the answers fit the agency's version, which scores them; the
response then names the agency's version. The author and an encounter are not taken in: the
importing user signs.

Served by the API: read and searched (by questionnaire, authored and status, most recently
authored first), never versioned (the resource is assembled from the assessment, the answers and
their amendments); created, never replaced: a signed response is corrected by an amendment in
Careway. Exported with drafts (in-progress) too; `_since` by a save, a signature or an amendment.
"""

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from careway.assessments import catalog, render
from careway.assessments import services as assessment_services
from careway.assessments.models import Amendment, Assessment, Response
from careway.core import audit
from careway.fhir import search
from careway.fhir.errors import FhirError

from . import Export, Incoming, Invalid, ResourceDeclaration, Write, Written, register
from . import common as c
from .api_writes import check_times, subject_of

PATH = "QuestionnaireResponse"
ID_PREFIX = "qr-"
STATUSES = frozenset({"in-progress", "completed", "amended", "entered-in-error", "stopped"})
TAKEN_STATUSES = frozenset({"completed", "amended"})
ELEMENTS = {
    "questionnaire": f"{PATH}.questionnaire",
    "episode": f"{PATH}.subject",
    "authored": f"{PATH}.authored",
    "items": f"{PATH}.item",
}
_DATE = re.compile(r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?")
_INT32 = (-(2**31), 2**31 - 1)


class Unprocessable(Invalid):
    """A resource Careway can read but not take as it is (HTTP 422 in the API): `code` is the
    OperationOutcome issue type (business-rule, not-found, value, required)."""

    def __init__(self, path: str, reason: str, code: str = "business-rule"):
        self.code = code
        super().__init__(path, reason)


def resource_id(pk: Any) -> str:
    return f"{ID_PREFIX}{pk}"


def reference_to(pk: Any) -> str:
    return f"QuestionnaireResponse/{resource_id(pk)}"


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
            "id": resource_id(record.pk),
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
    row = {
        "questionnaire_url": url,
        "questionnaire_version": version,
        "items": c.objects(resource, "item", PATH),
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
    items = check_items(entry.questionnaire, row["items"], f"{PATH}.item", completed=True)
    return Prepared(entry, items)


# --- answers against their Questionnaire ----------------------------------------------------------

ANSWER_KEYS = {
    "boolean": ("valueBoolean",),
    "decimal": ("valueDecimal",),
    "integer": ("valueInteger",),
    "date": ("valueDate",),
    "dateTime": ("valueDateTime",),
    "time": ("valueTime",),
    "string": ("valueString",),
    "text": ("valueString",),
    "url": ("valueUri",),
    "quantity": ("valueQuantity",),
    "attachment": ("valueAttachment",),
    "reference": ("valueReference",),
}


def check_items(
    questionnaire: dict[str, Any], items: Any, path: str, *, completed: bool
) -> list[dict[str, Any]]:
    """QuestionnaireResponse.item checked against the Questionnaire and rebuilt in its shape.

    Every answer must be to a question of the Questionnaire, of the question's type, one only
    unless it repeats, and for a choice one of its options (an open choice may be text). With
    `completed`, every required question enableWhen asks must be answered. Unprocessable names
    the first element at fault (its path as given, e.g. `QuestionnaireResponse.item[2].answer[0]`).
    """
    questions = {str(q.get("linkId")): q for q in _all_questions(questionnaire.get("item"))}
    title = str(questionnaire.get("title") or questionnaire.get("url") or "the Questionnaire")
    if not isinstance(items, list):
        raise Unprocessable(path, "must be a list of items", "structure")
    answers: dict[str, list[dict[str, Any]]] = {}
    for where, link_id, values in _answered(items, path, questions, title):
        answers.setdefault(link_id, []).extend(values)
        question = questions[link_id]
        if len(answers[link_id]) > 1 and not question.get("repeats"):
            raise Unprocessable(where, f"{_named(question)}: give one answer only", "value")
    if completed:
        missing = render.missing_required(questionnaire, answers)
        if missing:
            link_id, text = missing[0]
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise Unprocessable(
                f"{path}.where(linkId='{link_id}')",
                f"required, and not answered: {text}{more}",
                "required",
            )
    return render.response_items(questionnaire, answers)


def _all_questions(items: Any) -> Iterator[dict[str, Any]]:
    for item in items or []:
        if isinstance(item, dict):
            yield item
            yield from _all_questions(item.get("item"))


def _named(question: dict[str, Any]) -> str:
    text = " ".join(str(question.get("text") or "").split())
    label = text if len(text) <= 80 else text[:79].rstrip() + "\u2026"
    return f"question {question.get('linkId')}" + (f" ({label})" if label else "")


def _answered(
    items: list[Any], path: str, questions: dict[str, dict[str, Any]], title: str
) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """(path, linkId, value[x] dicts) of every answered item, nested ones included."""
    for index, raw in enumerate(items):
        here = f"{path}[{index}]"
        if not isinstance(raw, dict):
            raise Unprocessable(here, "must be an object", "structure")
        link_id = raw.get("linkId")
        if not isinstance(link_id, str) or not link_id:
            raise Unprocessable(
                f"{here}.linkId", "missing: which question is answered?", "required"
            )
        question = questions.get(link_id)
        if question is None:
            raise Unprocessable(f"{here}.linkId", f"{link_id!r} is not an item of {title}", "value")
        answers = raw.get("answer")
        if answers is not None:
            if not isinstance(answers, list):
                raise Unprocessable(f"{here}.answer", "must be a list of answers", "structure")
            values = []
            for number, answer in enumerate(answers):
                at = f"{here}.answer[{number}]"
                values.append(_answer(question, answer, at))
                if isinstance(answer, dict) and answer.get("item") is not None:
                    nested = answer["item"]
                    if not isinstance(nested, list):
                        raise Unprocessable(f"{at}.item", "must be a list of items", "structure")
                    yield from _answered(nested, f"{at}.item", questions, title)
            if values:
                yield here, link_id, values
        children = raw.get("item")
        if children is not None:
            if not isinstance(children, list):
                raise Unprocessable(f"{here}.item", "must be a list of items", "structure")
            yield from _answered(children, f"{here}.item", questions, title)


def _answer(question: dict[str, Any], answer: Any, at: str) -> dict[str, Any]:
    """The answer's value[x], checked against the question (and, for a choice, the option it
    is, as the Questionnaire writes it)."""
    if not isinstance(answer, dict):
        raise Unprocessable(at, "must be an object", "structure")
    keys = [k for k in answer if k.startswith("value")]
    if len(keys) != 1:
        raise Unprocessable(at, "give exactly one value[x]", "structure")
    key = keys[0]
    value = answer[key]
    kind = str(question.get("type") or "")
    here = f"{at}.{key}"
    _check_storable(value, here)
    if kind in ("group", "display"):
        raise Unprocessable(at, f"{_named(question)} is a {kind}: it takes no answer", "value")
    if kind in ("choice", "open-choice"):
        return _choice(question, key, value, here, open_choice=kind == "open-choice")
    expected = ANSWER_KEYS.get(kind)
    if expected is None:
        raise Unprocessable(here, f"{_named(question)} has a type Careway cannot check", "value")
    if key not in expected:
        raise Unprocessable(
            here, f"{_named(question)} is a {kind} question: answer it with {expected[0]}", "value"
        )
    _check_value(key, value, here)
    return {key: value}


def _choice(
    question: dict[str, Any], key: str, value: Any, here: str, *, open_choice: bool
) -> dict[str, Any]:
    options = [
        {k: v for k, v in option.items() if k.startswith("value")}
        for option in question.get("answerOption") or []
        if isinstance(option, dict)
    ]
    if open_choice and key == "valueString":
        _check_value(key, value, here)
        return {key: value}
    if not options:
        # Answers from a value set Careway does not expand: any coding is taken as given.
        if key != "valueCoding":
            raise Unprocessable(here, f"{_named(question)}: answer with a valueCoding", "value")
        _check_value(key, value, here)
        return {key: value}
    kinds = list(dict.fromkeys(k for option in options for k in option))
    if key not in kinds:
        raise Unprocessable(
            here,
            f"{_named(question)}: answer with {' or '.join(kinds)}, one of its options",
            "value",
        )
    _check_value(key, value, here)
    for option in options:
        if key in option and _same_option(key, value, option[key]):
            return dict(option)
    shown = ", ".join(_option_words(o) for o in options[:12])
    raise Unprocessable(
        here, f"{_named(question)}: not one of its answers ({shown})", "code-invalid"
    )


def _same_option(key: str, given: Any, option: Any) -> bool:
    if key != "valueCoding":
        return bool(given == option and type(given) is type(option))
    if not isinstance(given, dict) or not isinstance(option, dict):
        return False
    if given.get("code") is None and option.get("code") is None:
        return bool(given.get("display")) and given.get("display") == option.get("display")
    systems = (given.get("system"), option.get("system"))
    same_system = systems[0] == systems[1] or None in systems
    return same_system and given.get("code") == option.get("code")


def _option_words(option: dict[str, Any]) -> str:
    value = next(iter(option.values()), "")
    if isinstance(value, dict):
        return str(value.get("code") or value.get("display") or "")
    return str(value)


def _check_value(key: str, value: Any, here: str) -> None:
    """The value is of the JSON type its value[x] needs, and within what FHIR allows."""
    ok = True
    if key == "valueBoolean":
        ok = isinstance(value, bool)
    elif key == "valueInteger":
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok and _INT32[0] <= value <= _INT32[1]
    elif key == "valueDecimal":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value)
    elif key in ("valueString", "valueUri"):
        ok = isinstance(value, str) and bool(value.strip())
    elif key == "valueDate":
        ok = isinstance(value, str) and _date_ok(value)
    elif key == "valueDateTime":
        ok = isinstance(value, str) and _datetime_ok(value)
    elif key == "valueTime":
        ok = isinstance(value, str) and bool(_TIME.fullmatch(value)) and _time_ok(value)
    elif key in ("valueCoding", "valueAttachment", "valueReference"):
        ok = isinstance(value, dict) and bool(value)
        if ok and key == "valueCoding":
            ok = isinstance(value.get("code", ""), str) and isinstance(value.get("system", ""), str)
    elif key == "valueQuantity":
        number = value.get("value") if isinstance(value, dict) else None
        ok = isinstance(number, int | float) and not isinstance(number, bool)
        ok = ok and math.isfinite(number)  # type: ignore[arg-type]
    else:
        ok = False
    if not ok:
        raise Unprocessable(here, f"not a valid {key}", "value")


def _check_storable(value: Any, here: str) -> None:
    """Text no database column can hold (NUL, unpaired surrogates) is refused, naming where."""
    if isinstance(value, str):
        if "\x00" in value:
            raise Unprocessable(here, "contains a NUL character", "value")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Unprocessable(here, "is not valid Unicode text", "value") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key, here)
            _check_storable(item, f"{here}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{here}[{index}]")


def _date_ok(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    if len(text) == 10:
        try:
            date.fromisoformat(text)
        except ValueError:
            return False
    return True


def _datetime_ok(text: str) -> bool:
    if len(text) <= 10:
        return _date_ok(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return moment.tzinfo is not None


def _time_ok(text: str) -> bool:
    try:
        time.fromisoformat(text)
    except ValueError:
        return False
    return True


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


locate_response = search.locate_prefixed(ID_PREFIX)

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
    patient = subject_of(actor, incoming.subject, f"{PATH}.subject")
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

"""Observation <- careway.assessments.Score: an instrument's score, written only.

A score is worked out from a QuestionnaireResponse, so it is never taken in: an import recomputes
it from the response (the importer skips an Observation derived from a QuestionnaireResponse, and
says so), and the FHIR API does not let it be changed (amend the response instead).

Written for each current score (one an amendment has replaced is no longer served; the new one
is): id `score-<pk>` (never a number, so never another Observation's); status final, or amended
when it comes from an amendment; category survey; code the instrument's LOINC code of the score
where its Questionnaire gives one, and always Careway's own coding, system
`urn:careway:fhir:CodeSystem:score`, code `<Questionnaire id>/<score key>` (phq-9/total), display
the score's label; subject; effectiveDateTime when it was scored (the signature or amendment);
valueQuantity: a points score in UCUM's `{score}` as LOINC writes survey totals, and a measured
score (a timed test, whose range Careway does not fix) as the bare number, since the instrument
does not say its unit; interpretation the band's label and note its meaning; derivedFrom the
QuestionnaireResponse. Scores are whole numbers for most instruments but means and prorated sums
are not, so the value is a quantity rather than valueInteger.

Served by the API as Observations: read and searched with the chart's own (the same parameters,
the same order), never versioned, never created or updated (the API answers 422 to a score sent
to it, 405 to an update). Exported in the Observation file after the chart's own; `_since` by when
it was scored.
"""

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery

from careway.assessments import instruments
from careway.assessments.models import Instrument, Score
from careway.fhir import codes, search

from . import Export, ResourceDeclaration, changed_after, register
from . import common as c
from .observation import CATEGORY_CODES
from .questionnaire_response import Unprocessable, reference_to

ID_PREFIX = "score-"
CATEGORY = c.category(codes.OBSERVATION_CATEGORY, "survey", "Survey")


def resource_id(pk: Any) -> str:
    return f"{ID_PREFIX}{pk}"


@cache
def _shipped_ids() -> dict[str, str]:
    # The shipped Questionnaires do not change while Careway runs.
    return {str(q.get("url")): str(q.get("id")) for q in instruments.shipped().values()}


def _uploaded_ids() -> QuerySet:
    return (
        Instrument.objects.exclude(questionnaire_id="")
        .order_by("-uploaded_at")
        .values_list("questionnaire_id", flat=True)
    )


def with_questionnaire_ids(scores: QuerySet) -> QuerySet:
    """Scores with the id of an uploaded instrument's Questionnaire read along (lists of them:
    a search, an export), so that writing them asks the database nothing more."""
    uploaded = _uploaded_ids().filter(
        organization_id=OuterRef("organization_id"), url=OuterRef("questionnaire_url")
    )
    return scores.annotate(uploaded_questionnaire_id=Subquery(uploaded[:1]))


def questionnaire_id(organization_id: int, url: str, uploaded: Any = ...) -> str:
    """The Questionnaire's id as the agency knows it (the URL when an upload had none).
    `uploaded` is the upload's id when already read (with_questionnaire_ids)."""
    shipped = _shipped_ids().get(url)
    if shipped:
        return shipped
    if uploaded is ...:
        uploaded = _uploaded_ids().filter(organization_id=organization_id, url=url).first()
    return uploaded or url


def urls_of(organization_id: int, ident: str) -> list[str]:
    """The Questionnaire URLs an id names for the agency (the way back from questionnaire_id)."""
    found = [url for url, shipped in _shipped_ids().items() if shipped == ident]
    found += Instrument.objects.filter(
        organization_id=organization_id, questionnaire_id=ident
    ).values_list("url", flat=True)
    return [*found, ident]


def score_code(record: Score) -> str:
    uploaded = getattr(record, "uploaded_questionnaire_id", ...)
    ident = questionnaire_id(record.organization_id, record.questionnaire_url, uploaded)
    return f"{ident}/{record.key}"


def score_to_fhir(record: Score) -> dict[str, Any]:
    codings = []
    if record.code:
        codings.append(c.coding(record.code_system or codes.LOINC, record.code))
    codings.append(c.coding(codes.SCORE, score_code(record), record.label))
    quantity: dict[str, Any] = {"value": record.value}
    if record.minimum is not None and record.maximum is not None:
        quantity |= {"unit": codes.UCUM_SCORE, "system": codes.UCUM, "code": codes.UCUM_SCORE}
    resource = {
        "resourceType": "Observation",
        "id": resource_id(record.pk),
        "meta": {"lastUpdated": c.instant(record.observed_at)},
        "status": "amended" if record.amendment_id else "final",
        "category": [CATEGORY],
        "code": {"coding": codings, "text": record.label},
        "subject": c.patient_ref(record),
        "effectiveDateTime": c.instant(record.observed_at),
        "valueQuantity": quantity,
        "interpretation": [{"text": record.band}] if record.band else None,
        "note": c.annotation(record.meaning),
        "derivedFrom": [{"reference": reference_to(record.response_id)}],
    }
    return c.drop_empty(resource)


def derived_from_response(resource: dict[str, Any]) -> bool:
    """Whether an Observation is a score of a QuestionnaireResponse (derivedFrom one, or coded in
    Careway's score system): such a score is worked out again from the response, not taken in."""
    if resource.get("resourceType") != "Observation":
        return False
    derived = resource.get("derivedFrom")
    for ref in derived if isinstance(derived, list) else []:
        target = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(target, str) and "QuestionnaireResponse/" in target:
            return True
    code = resource.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    return any(
        isinstance(coding, dict) and coding.get("system") == codes.SCORE
        for coding in (codings if isinstance(codings, list) else [])
    )


def refuse_score(resource: dict[str, Any]) -> None:
    """Careway works a score out from its QuestionnaireResponse: the API never takes one in."""
    if derived_from_response(resource):
        raise Unprocessable(
            "Observation.derivedFrom",
            "this is a score of a QuestionnaireResponse, which Careway works out from the "
            "response itself: send the QuestionnaireResponse instead",
        )


# --- search --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreCodeParam(search.Param):
    """A score's code: its LOINC code where it has one, or Careway's score code
    `<Questionnaire id>/<key>` (system urn:careway:fhir:CodeSystem:score)."""

    description: str = "The observation's code: system|code or code (LOINC for vital signs)."
    type = "token"
    modifiers = frozenset({""})

    def to_q(self, name: str, modifier: str, raw: str, context: search.Context) -> Q:
        found = search.MATCH_NONE
        for value in search.alternatives(name, raw):
            system, code = search.split_token(value)
            code = code.replace("\\|", "|")
            if not code and not system:
                raise search.SearchError(name, f"{name}: give a code, or system|code.")
            found |= self._one(system, code, context)
        return found

    def _one(self, system: str | None, code: str, context: search.Context) -> Q:
        if system == codes.SCORE:
            return self._careway(code, context) if code else search.MATCH_ALL
        coded = Q(code=code) if code else ~Q(code="")
        if system is None:
            return coded | self._careway(code, context)
        if system == "":
            return search.MATCH_NONE  # a score's code always has its system
        return coded & Q(code_system=system)

    def _careway(self, code: str, context: search.Context) -> Q:
        ident, _, key = code.rpartition("/")
        if not ident or not key:
            return search.MATCH_NONE
        return Q(questionnaire_url__in=urls_of(context.organization_id, ident), key=key)


def current_scores(rows: QuerySet) -> QuerySet:
    return with_questionnaire_ids(rows.filter(current=True))


locate_score = search.locate_prefixed(ID_PREFIX)

# The same parameters as the chart's Observations (observation.py), and the same order by
# (-time, -id), so that one page can take rows from each in turn.
SEARCH = search.SearchDeclaration(
    order=("-observed_at", "-id"),
    locate=locate_score,
    scope=current_scores,
    includes=("patient", "subject"),
    sort_description="most recently taken first",
    versioned=False,
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=locate_score),
            "category": search.FixedTokenParam(
                "category",
                system=codes.OBSERVATION_CATEGORY,
                codes=CATEGORY_CODES,
                description="vital-signs, laboratory, survey or social-history.",
                fixed="survey",
            ),
            "code": ScoreCodeParam(),
            "date": search.DateParam(
                "observed_at", description="When it was taken (eq, ne, gt, lt, ge, le)."
            ),
        }
    ),
)


def _current_scores_of(patient_ids: list[Any]) -> QuerySet:
    scores = Score.objects.filter(patient_id__in=patient_ids, current=True)
    return with_questionnaire_ids(scores.order_by("patient_id", "pk"))


register(
    ResourceDeclaration(
        "Observation",
        Score,
        to_fhir=score_to_fhir,
        search=SEARCH,
        export=Export(rows=_current_scores_of, changed_since=changed_after("observed_at")),
        notes=(
            "An assessment's scores are Observations too (category survey, id score-<n>, "
            "derivedFrom their QuestionnaireResponse): read and searched here, never updated.",
        ),
        refuse=refuse_score,
        read_only_because=(
            "a score worked out from a QuestionnaireResponse; it changes when that response is "
            "amended in Careway"
        ),
    ),
    also=True,
)

"""FHIR R4 search: the parameters each resource type answers, parsed into database filters.

The API (careway/fhir/api.py) hands a request's query to `parse()` and gets back a `Search`: the
filters, the patients the search is restricted to, paging and `_include`. What is declared here
is exactly what the CapabilityStatement lists, so nothing is advertised that does not work.

Values follow FHIR's rules: a comma inside one parameter means OR, a parameter repeated means AND,
`\\,` `\\|` and `\\\\` escape. Dates take a prefix (eq, ne, gt, lt, ge, le) and any precision from
a year to a time; a date without a time means that day in the agency's time zone. Anything not
understood is an error naming the parameter (HTTP 400), never ignored silently, unless the client
asks for lenient handling.
"""

import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

from django.db import models
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from careway.assessments.models import (
    QUESTIONNAIRE_RESPONSE_ID_PREFIX,
    Amendment,
    Assessment,
    Response,
    Score,
)
from careway.patients.models import (
    Allergy,
    Condition,
    Encounter,
    EpisodeOfCare,
    Medication,
    Observation,
    Patient,
    RelatedPerson,
)

from . import codes
from .mapping import questionnaire_response, score
from .mapping.episode import with_members

DEFAULT_COUNT = 50
MAX_COUNT = 500
# Far beyond any real page, small enough for every database's OFFSET.
MAX_OFFSET = 10_000_000
MAX_VALUE_LENGTH = 200
MAX_INT_ID = 2**63 - 1
# A FHIR id: letters, digits, '-' and '.', at most 64 of them.
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# Parameters about the result rather than the rows, and the formats every search understands.
RESULT_PARAMETERS = frozenset({"_count", "_offset", "_include", "_format"})


class SearchError(Exception):
    """A parameter Careway cannot search by, or a value it cannot read (HTTP 400).

    `param` names the parameter as the client wrote it; `code` is the OperationOutcome issue code.
    """

    def __init__(self, param: str, message: str, code: str = "invalid"):
        self.param = param
        self.code = code
        super().__init__(message)


# --- values -----------------------------------------------------------------------------------


def split_values(raw: str) -> list[str]:
    """One parameter's comma-separated alternatives, with FHIR's backslash escapes undone."""
    parts, current, escaped = [], [], False
    for char in raw:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _split_token(value: str) -> tuple[str | None, str]:
    """`system|code` as (system, code); `code` alone as (None, code); `|code` as ("", code)."""
    index = _unescaped_bar(value)
    if index < 0:
        return None, value
    return value[:index], value[index + 1 :]


def _unescaped_bar(value: str) -> int:
    escaped = False
    for i, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            return i
    return -1


def _check_text(param: str, value: str) -> str:
    if "\x00" in value:
        raise SearchError(param, f"{param}: the value must not contain NUL characters.")
    if len(value) > MAX_VALUE_LENGTH:
        raise SearchError(
            param, f"{param}: the value is longer than {MAX_VALUE_LENGTH} characters."
        )
    return value


def _alternatives(param: str, raw: str) -> list[str]:
    values = [_check_text(param, v) for v in split_values(raw)]
    if any(not v for v in values):
        raise SearchError(param, f"{param}: give a value (an empty alternative is not a search).")
    return values


# --- dates --------------------------------------------------------------------------------------

DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")
UNSUPPORTED_PREFIXES = ("sa", "eb", "ap")
_DATE = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6}))?)?"
    r"(?P<zone>Z|[+\- ]\d{2}:\d{2})?)?)?)?"
)


@dataclass(frozen=True)
class DateRange:
    """A searched date as the range it stands for, [start, end), and how to compare with it."""

    prefix: str
    start: Any  # datetime (aware, UTC) or date
    end: Any


def parse_date(param: str, raw: str, zone: Callable[[], tzinfo], *, days_only: bool) -> DateRange:
    """Read `[prefix]YYYY[-MM[-DD[Thh:mm[:ss[.fff]][zone]]]]` as the range it covers.

    A date with no time is that whole day (month, year) in the agency's zone; a time without a
    zone is read in the agency's zone too. `days_only` is for date elements such as birthDate.
    """
    prefix, text = "eq", raw
    if raw[:2].isalpha():
        prefix, text = raw[:2], raw[2:]
        if prefix in UNSUPPORTED_PREFIXES:
            raise SearchError(
                param, f"{param}: the prefix {prefix} is not supported.", "not-supported"
            )
        if prefix not in DATE_PREFIXES:
            raise SearchError(
                param, f"{param}: {raw!r} is not a date; prefixes are eq, ne, gt, lt, ge, le."
            )
    match = _DATE.fullmatch(text)
    if match is None:
        raise SearchError(
            param, f"{param}: {raw!r} is not a date (YYYY, YYYY-MM, YYYY-MM-DD or a date and time)."
        )
    parts = match.groupdict()
    if days_only and parts["hour"] is not None:
        raise SearchError(
            param, f"{param}: give a date without a time (YYYY, YYYY-MM or YYYY-MM-DD)."
        )
    try:
        start, end = _date_bounds(parts)
        if not days_only:
            start, end = _as_utc(start, parts, zone), _as_utc(end, parts, zone)
    except (ValueError, OverflowError):
        raise SearchError(param, f"{param}: {raw!r} is not a date Careway can search by.") from None
    return DateRange(prefix, start, end)


def _date_bounds(parts: Mapping[str, str | None]) -> tuple[Any, Any]:
    year = int(parts["year"] or 0)
    if parts["month"] is None:
        return date(year, 1, 1), _next_year(year)
    month = int(parts["month"])
    if parts["day"] is None:
        first = date(year, month, 1)
        return first, (first + timedelta(days=32)).replace(day=1)
    day = date(year, month, int(parts["day"]))
    if parts["hour"] is None:
        return day, day + timedelta(days=1)
    fraction = parts["fraction"]
    moment = datetime(
        year,
        month,
        day.day,
        int(parts["hour"]),
        int(parts["minute"] or 0),
        int(parts["second"] or 0),
        int((fraction or "0").ljust(6, "0")),
    )
    if fraction is not None:
        step = timedelta(microseconds=10 ** (6 - len(fraction)))
    elif parts["second"] is not None:
        step = timedelta(seconds=1)
    else:
        step = timedelta(minutes=1)
    return moment, moment + step


def _next_year(year: int) -> date:
    return date(year + 1, 1, 1) if year < date.max.year else date.max


def _as_utc(value: Any, parts: Mapping[str, str | None], zone: Callable[[], tzinfo]) -> datetime:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    written = parts["zone"]
    if written is None:
        local = value.replace(tzinfo=zone())
    elif written == "Z":
        local = value.replace(tzinfo=UTC)
    else:
        # An unencoded '+' in a query string arrives as a space: read it as the '+' it was.
        sign = -1 if written[0] == "-" else 1
        hours, minutes = int(written[1:3]), int(written[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError("time zone offset out of range")
        offset = timedelta(hours=hours, minutes=minutes) * sign
        local = value.replace(tzinfo=timezone(offset))
    return local.astimezone(UTC)


def date_filter(searched: DateRange, start_field: str, end_field: str | None = None) -> Q:
    """Rows whose date (or period from start_field to end_field) matches the searched range.

    FHIR's rules for a range [lo, hi): eq, the row lies within it; gt, the row reaches past it;
    lt, the row starts before it; ge and le, the same or within. A period without an end is
    compared as the moment it started.
    """
    lo, hi = searched.start, searched.end

    def starts(lookup: str, bound: Any) -> Q:
        return Q(**{f"{start_field}__{lookup}": bound})

    def ends(lookup: str, bound: Any) -> Q:
        if end_field is None:
            return starts(lookup, bound)
        open_end = Q(**{f"{end_field}__isnull": True})
        return Q(**{f"{end_field}__{lookup}": bound}) | (open_end & starts(lookup, bound))

    within = starts("gte", lo) & ends("lt", hi)
    return {
        "eq": within,
        "ne": ~within,
        "gt": ends("gte", hi),
        "lt": starts("lt", lo),
        "ge": ends("gte", lo),
        "le": starts("lt", hi),
    }[searched.prefix]


# --- parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What parsing needs besides the values: the agency's time zone (looked up only if a date is
    searched) and the agency, whose MRNs have a system of their own."""

    zone: Callable[[], tzinfo]
    organization_id: int


class Param:
    """One search parameter of one resource type."""

    type = "string"  # the FHIR search parameter type, for the CapabilityStatement
    modifiers: frozenset[str] = frozenset()
    description = ""

    def to_q(self, name: str, modifier: str, raw: str, context: Context) -> Q:
        raise NotImplementedError


@dataclass(frozen=True)
class StringParam(Param):
    """Matches when any of the fields starts with the value (case-insensitive); `:exact` matches
    the whole value exactly, `:contains` anywhere."""

    fields: tuple[str, ...]
    description: str = ""
    type = "string"
    modifiers = frozenset({"", "exact", "contains"})

    def to_q(self, name: str, modifier: str, raw: str, context: Context) -> Q:
        lookup = {"": "istartswith", "exact": "exact", "contains": "icontains"}[modifier]
        found = Q()
        for value in _alternatives(name, raw):
            for field_name in self.fields:
                found |= Q(**{f"{field_name}__{lookup}": value})
        return found


@dataclass(frozen=True)
class TokenParam(Param):
    """A coded element: `code`, `system|code`, `|code` or `system|`.

    `codes` maps each FHIR code of the element's value set to the stored values it stands for;
    a code outside the value set is an error naming the parameter. Without `codes`, any code is
    matched against `code_field` (and the system, when given, against `system_field` or the one
    fixed `system`).
    """

    code_field: str
    system: str = ""
    system_field: str = ""
    codes: Mapping[str, Sequence[str]] | None = None
    description: str = ""
    type = "token"
    modifiers = frozenset({""})

    def to_q(self, name: str, modifier: str, raw: str, context: Context) -> Q:
        found = Q(pk__in=[])
        for value in _alternatives(name, raw):
            found |= self._one(name, value)
        return found

    def _one(self, name: str, value: str) -> Q:
        system, code = _split_token(value)
        code = code.replace("\\|", "|")
        if system is not None and self.system and system != self.system:
            return Q(pk__in=[])  # every stored code has the element's one system
        match = Q()
        if system and self.system_field:
            match &= Q(**{self.system_field: system})
        elif system == "" and self.system_field:
            match &= Q(**{self.system_field: ""})
        if not code:
            return match if system else Q(pk__in=[])
        if self.codes is None:
            return match & Q(**{self.code_field: code})
        if code not in self.codes:
            choices = ", ".join(self.codes)
            raise SearchError(name, f"{name}: {code!r} is not one of {choices}.", "code-invalid")
        return match & Q(**{f"{self.code_field}__in": list(self.codes[code])})


@dataclass(frozen=True)
class DateParam(Param):
    """A date or period: `start_field` (and `end_field` for a period) against the searched range,
    by the prefix's rule (see date_filter)."""

    start_field: str
    end_field: str | None = None
    days_only: bool = False
    description: str = ""
    type = "date"
    modifiers = frozenset({""})

    def to_q(self, name: str, modifier: str, raw: str, context: Context) -> Q:
        found = Q(pk__in=[])
        for value in _alternatives(name, raw):
            searched = parse_date(name, value, context.zone, days_only=self.days_only)
            found |= date_filter(searched, self.start_field, self.end_field)
        return found


@dataclass(frozen=True)
class PatientParam(Param):
    """`patient` (or `subject`): `Patient/<id>`, the bare id, or an absolute URL ending so.

    It is not a filter of its own: the patients named are collected, and the API narrows them to
    the ones the caller may see before any row is read (see Search.patient_ids)."""

    description: str = "The patient the record is about: Patient/<id> or the id."
    type = "reference"
    modifiers = frozenset({"", "Patient"})

    def patient_ids(self, name: str, raw: str) -> set[uuid.UUID]:
        return {parse_patient_reference(name, value) for value in _alternatives(name, raw)}


def parse_patient_reference(name: str, value: str) -> uuid.UUID:
    kind, _, ident = value.rstrip("/").rpartition("/")
    kind = kind.rpartition("/")[2]
    if kind not in ("", "Patient"):
        raise SearchError(name, f"{name}: {value!r} does not refer to a Patient.")
    try:
        return uuid.UUID(ident)
    except ValueError:
        raise SearchError(name, f"{name}: {ident!r} is not a Careway patient id.") from None


@dataclass(frozen=True)
class IdParam(Param):
    """`_id`: the resource's logical id."""

    description: str = "The resource's id."
    type = "token"
    modifiers = frozenset({""})
    locate: Callable[[str], Q | None] = field(default=lambda ident: None)

    def to_q(self, name: str, modifier: str, raw: str, context: Context) -> Q:
        found = Q(pk__in=[])
        for value in _alternatives(name, raw):
            where = self.locate(value)
            if where is not None:
                found |= where
        return found


@dataclass(frozen=True)
class IdentifierParam(Param):
    """Patient.identifier: the agency's MRN, Medicare number (MBI) or Medicaid number."""

    description: str = "An identifier: system|value, or the value in any system."
    type = "token"
    modifiers = frozenset({""})

    def to_q(self, name: str, modifier: str, raw: str, context: Context) -> Q:
        fields_by_system = {
            codes.mrn_system(context.organization_id): "mrn",
            codes.US_MBI: "medicare_number",
            codes.MEDICAID: "medicaid_number",
        }
        found = Q(pk__in=[])
        for value in _alternatives(name, raw):
            system, ident = _split_token(value)
            ident = ident.replace("\\|", "|")
            if not ident:
                raise SearchError(name, f"{name}: give the identifier's value after the '|'.")
            if system is None or system == "":
                fields = ["mrn", "medicare_number", "medicaid_number"]
            else:
                fields = [fields_by_system[system]] if system in fields_by_system else []
            for field_name in fields:
                found |= Q(**{field_name: ident})
        return found


# --- resource types -----------------------------------------------------------------------------


def _int_id(ident: str) -> int | None:
    if ident.isascii() and ident.isdigit() and len(ident) <= 19 and 0 < int(ident) <= MAX_INT_ID:
        return int(ident)
    return None


def _uuid_id(ident: str) -> uuid.UUID | None:
    if len(ident) != 36:
        return None
    try:
        return uuid.UUID(ident)
    except ValueError:
        return None


def locate_by_int(ident: str) -> Q | None:
    pk = _int_id(ident)
    return Q(pk=pk) if pk is not None else None


def locate_patient(ident: str) -> Q | None:
    pk = _uuid_id(ident)
    return Q(pk=pk) if pk is not None else None


def locate_observation(ident: str) -> Q | None:
    """A panel is one Observation whose id is its panel_id; any other row's id is its number."""
    panel = _uuid_id(ident)
    if panel is not None:
        return Q(panel_id=panel)
    pk = _int_id(ident)
    return Q(pk=pk, panel_id__isnull=True) if pk is not None else None


def observation_code_q(system: str | None, code: str) -> Q:
    """Observation.code: a panel's code is its panel_code (LOINC), any other row's its code."""
    single = Q(panel_id__isnull=True)
    panel = Q(panel_id__isnull=False)
    if code:
        single &= Q(code=code)
        panel &= Q(panel_code=code)
    if system is not None:
        single &= Q(code_system=system)
        panel &= Q() if system == codes.LOINC else Q(pk__in=[])
    return single | panel


@dataclass(frozen=True)
class ObservationCodeParam(Param):
    description: str = "The observation's code: system|code or code (LOINC for vital signs)."
    type = "token"
    modifiers = frozenset({""})

    def to_q(self, name: str, modifier: str, raw: str, context: Context) -> Q:
        found = Q(pk__in=[])
        for value in _alternatives(name, raw):
            system, code = _split_token(value)
            if not code and not system:
                raise SearchError(name, f"{name}: give a code, or system|code.")
            found |= observation_code_q(system, code.replace("\\|", "|"))
        return found


def _prefixed_int(ident: str, prefix: str) -> int | None:
    return _int_id(ident[len(prefix) :]) if ident.startswith(prefix) else None


def locate_response(ident: str) -> Q | None:
    """A QuestionnaireResponse's id is `qr-<pk>`."""
    pk = _prefixed_int(ident, QUESTIONNAIRE_RESPONSE_ID_PREFIX)
    return Q(pk=pk) if pk is not None else None


def locate_score(ident: str) -> Q | None:
    """A score's Observation id is `score-<pk>`."""
    pk = _prefixed_int(ident, score.ID_PREFIX)
    return Q(pk=pk) if pk is not None else None


MATCH_ALL = Q(pk__isnull=False)  # Q() would vanish when OR-ed with the first alternative
MATCH_NONE = Q(pk__in=[])


@dataclass(frozen=True)
class FixedTokenParam(TokenParam):
    """A coded element every row of the type has the same code in (a score's category is
    survey): a code of the value set matches all rows or none."""

    fixed: str = ""

    def _one(self, name: str, value: str) -> Q:
        system, code = _split_token(value)
        code = code.replace("\\|", "|")
        if system is not None and system not in ("", self.system):
            return MATCH_NONE
        if system == "":
            return MATCH_NONE  # the code is always written with its system
        if not code:
            return MATCH_ALL
        if self.codes is not None and code not in self.codes:
            choices = ", ".join(self.codes)
            raise SearchError(name, f"{name}: {code!r} is not one of {choices}.", "code-invalid")
        return MATCH_ALL if code == self.fixed else MATCH_NONE


@dataclass(frozen=True)
class ScoreCodeParam(Param):
    """A score's code: its LOINC code where it has one, or Careway's score code
    `<Questionnaire id>/<key>` (system urn:careway:fhir:CodeSystem:score)."""

    description: str = "The observation's code: system|code or code (LOINC for vital signs)."
    type = "token"
    modifiers = frozenset({""})

    def to_q(self, name: str, modifier: str, raw: str, context: Context) -> Q:
        found = MATCH_NONE
        for value in _alternatives(name, raw):
            system, code = _split_token(value)
            code = code.replace("\\|", "|")
            if not code and not system:
                raise SearchError(name, f"{name}: give a code, or system|code.")
            found |= self._one(system, code, context)
        return found

    def _one(self, system: str | None, code: str, context: Context) -> Q:
        if system == codes.SCORE:
            return self._careway(code, context) if code else MATCH_ALL
        coded = Q(code=code) if code else ~Q(code="")
        if system is None:
            return coded | self._careway(code, context)
        if system == "":
            return MATCH_NONE  # a score's code always has its system
        return coded & Q(code_system=system)

    def _careway(self, code: str, context: Context) -> Q:
        ident, _, key = code.rpartition("/")
        if not ident or not key:
            return MATCH_NONE
        return Q(questionnaire_url__in=score.urls_of(context.organization_id, ident), key=key)


@dataclass(frozen=True)
class CanonicalParam(Param):
    """QuestionnaireResponse.questionnaire: the Questionnaire's canonical URL, `url|version` for
    one version."""

    description: str = "The Questionnaire answered: its canonical URL, or url|version."
    type = "reference"
    modifiers = frozenset({""})

    def to_q(self, name: str, modifier: str, raw: str, context: Context) -> Q:
        found = MATCH_NONE
        for value in _alternatives(name, raw):
            url, bar, version = value.partition("|")
            match = Q(questionnaire_url=url)
            if bar:
                match &= Q(questionnaire_version=version)
            found |= match
        return found


def _amended() -> Exists:
    return Exists(Amendment.objects.filter(response=OuterRef("pk")))


@dataclass(frozen=True)
class ResponseStatusParam(TokenParam):
    """QuestionnaireResponse.status: in-progress (a draft assessment), completed (signed),
    amended (signed, then corrected); Careway has no stopped or entered-in-error responses."""

    def _one(self, name: str, value: str) -> Q:
        system, code = _split_token(value)
        if system and system != self.system:
            return MATCH_NONE
        if self.codes is None or code not in self.codes:
            choices = ", ".join(self.codes or ())
            raise SearchError(name, f"{name}: {code!r} is not one of {choices}.", "code-invalid")
        signed = Q(assessment__status=Assessment.Status.SIGNED)
        return {
            "in-progress": Q(assessment__status=Assessment.Status.DRAFT),
            "completed": signed & ~Q(_amended()),
            "amended": signed & Q(_amended()),
        }.get(code, MATCH_NONE)


def with_authored_time(responses: QuerySet) -> QuerySet:
    """Responses as the API reads them: what writing them needs and when they were authored."""
    latest = Amendment.objects.filter(response=OuterRef("pk")).order_by("-signed_at", "-pk")
    return questionnaire_response.with_context(responses).annotate(
        authored_at=Coalesce(
            Subquery(latest.values("signed_at")[:1]),
            F("assessment__signed_at"),
            F("updated_at"),
        ),
    )


def current_scores(rows: QuerySet) -> QuerySet:
    return score.with_questionnaire_ids(rows.filter(current=True))


@dataclass(frozen=True)
class ResourceType:
    """One FHIR resource type as Careway serves it: its rows, order, id and search parameters."""

    name: str
    model: type[models.Model]
    order: tuple[str, ...]
    params: Mapping[str, Param]
    locate: Callable[[str], Q | None] = locate_by_int
    # The rows of this type among the model's (MedicationRequest: the orders).
    scope: Callable[[QuerySet], QuerySet] = lambda rows: rows
    # In a search, the one row that stands for each resource (an Observation panel's first).
    one_per_resource: Callable[[QuerySet], QuerySet] = lambda rows: rows
    # The path from a row to its patient's id ("pk" for Patient itself).
    patient_path: str = "patient_id"
    includes: tuple[str, ...] = ()
    sort_description: str = ""
    # False when the resource is assembled from several records and has no version of its own.
    versioned: bool = True
    # Further records served as this type, searched and read with it (an Observation may be a
    # vital sign or an assessment's score). Each declares the same parameters, and every source
    # of a type is ordered by (-time, -id), so that one page can take rows from each in turn.
    also: tuple["ResourceType", ...] = ()

    def by_id(self, ident: str) -> Q | None:
        return self.locate(ident) if FHIR_ID.fullmatch(ident) else None


def _with_patient(params: Mapping[str, Param], *, subject: bool = True) -> dict[str, Param]:
    reference = PatientParam()
    named = {"patient": reference, **({"subject": reference} if subject else {})}
    return {**named, **params}


def _medication_kind(kind: str) -> Callable[[QuerySet], QuerySet]:
    return lambda rows: rows.filter(kind=kind)


def _observations_one_per_resource(rows: QuerySet) -> QuerySet:
    # A panel's members are one resource: keep only its first row (its lowest id). For rows
    # outside a panel the EXISTS compares with NULL and finds nothing, so every such row stays.
    earlier_member = Observation.objects.filter(
        panel_id=OuterRef("panel_id"), pk__lt=OuterRef("pk")
    )
    return rows.filter(~Exists(earlier_member))


def _codes(*pairs: tuple[str, str]) -> dict[str, list[str]]:
    """FHIR code -> stored values, for value sets where some stored values differ in spelling."""
    mapping: dict[str, list[str]] = {}
    for fhir_code, stored in pairs:
        mapping.setdefault(fhir_code, [])
        if stored:
            mapping[fhir_code].append(stored)
    return mapping


def _same(*names: str) -> list[tuple[str, str]]:
    return [(name, name) for name in names]


def _unstored(*names: str) -> list[tuple[str, str]]:
    return [(name, "") for name in names]


CONDITION_CLINICAL = _codes(
    *_same("active", "recurrence", "relapse", "inactive", "remission", "resolved")
)
CONDITION_CATEGORY = _codes(*_same("problem-list-item", "encounter-diagnosis", "health-concern"))
# Codes outside Careway's own choices are kept as written by import, so every code of the value
# set is searched as itself.
MEDICATION_REQUEST_STATUS = _codes(
    *_same(
        "active",
        "on-hold",
        "cancelled",
        "completed",
        "entered-in-error",
        "stopped",
        "draft",
        "unknown",
    )
)
MEDICATION_STATEMENT_STATUS = _codes(
    *_same(
        "active",
        "completed",
        "entered-in-error",
        "intended",
        "stopped",
        "on-hold",
        "unknown",
        "not-taken",
    )
)
ALLERGY_CLINICAL = _codes(*_same("active", "inactive", "resolved"))
OBSERVATION_CATEGORY = _codes(
    *_same(
        "social-history",
        "vital-signs",
        "imaging",
        "laboratory",
        "procedure",
        "survey",
        "exam",
        "therapy",
        "activity",
    )
)
ENCOUNTER_STATUS = _codes(
    *_same(
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    )
)
EPISODE_STATUS = _codes(
    ("planned", EpisodeOfCare.Status.REFERRED),
    ("active", EpisodeOfCare.Status.ACTIVE),
    ("onhold", EpisodeOfCare.Status.ON_HOLD),
    ("finished", EpisodeOfCare.Status.DISCHARGED),
    ("cancelled", EpisodeOfCare.Status.CANCELLED),
    *_unstored("waitlist", "entered-in-error"),
)
TEAM_STATUS = _codes(
    ("proposed", EpisodeOfCare.Status.REFERRED),
    ("active", EpisodeOfCare.Status.ACTIVE),
    ("suspended", EpisodeOfCare.Status.ON_HOLD),
    ("inactive", EpisodeOfCare.Status.DISCHARGED),
    ("inactive", EpisodeOfCare.Status.CANCELLED),
    *_unstored("entered-in-error"),
)
GENDER = _codes(*_same("male", "female", "other", "unknown"))


def _coded_record_code(description: str) -> TokenParam:
    return TokenParam("code", system_field="code_system", description=description)


QUESTIONNAIRE_RESPONSE_STATUS = _codes(
    *_same("in-progress", "completed", "amended"), *_unstored("entered-in-error", "stopped")
)

# An assessment's scores, served as Observations beside the chart's own (see ResourceType.also).
SCORE_OBSERVATIONS = ResourceType(
    "Observation",
    Score,
    order=("-observed_at", "-id"),
    locate=locate_score,
    scope=current_scores,
    includes=("patient", "subject"),
    sort_description="most recently taken first",
    versioned=False,
    params=_with_patient(
        {
            "_id": IdParam(locate=locate_score),
            "category": FixedTokenParam(
                "category",
                system=codes.OBSERVATION_CATEGORY,
                codes=OBSERVATION_CATEGORY,
                description="vital-signs, laboratory, survey or social-history.",
                fixed="survey",
            ),
            "code": ScoreCodeParam(),
            "date": DateParam(
                "observed_at", description="When it was taken (eq, ne, gt, lt, ge, le)."
            ),
        }
    ),
)

RESOURCE_TYPES: dict[str, ResourceType] = {
    rt.name: rt
    for rt in [
        ResourceType(
            "Patient",
            Patient,
            order=("family_name", "given_name", "id"),
            locate=locate_patient,
            patient_path="pk",
            sort_description="by family name, then given name",
            params={
                "_id": IdParam(locate=locate_patient),
                "name": StringParam(
                    ("given_name", "middle_name", "family_name", "preferred_name"),
                    "Any part of the name, from its start.",
                ),
                "family": StringParam(("family_name",), "The family (last) name, from its start."),
                "given": StringParam(
                    ("given_name", "middle_name"), "A given (first or middle) name, from its start."
                ),
                "birthdate": DateParam("birth_date", days_only=True, description="Date of birth."),
                "gender": TokenParam("sex", codes=GENDER, description="Administrative gender."),
                "identifier": IdentifierParam(),
            },
        ),
        ResourceType(
            "RelatedPerson",
            RelatedPerson,
            order=("name", "id"),
            includes=("patient",),
            sort_description="by name",
            params=_with_patient({"_id": IdParam(locate=locate_by_int)}, subject=False),
        ),
        ResourceType(
            "Condition",
            Condition,
            order=("-recorded_at", "-id"),
            includes=("patient", "subject"),
            sort_description="most recently recorded first",
            params=_with_patient(
                {
                    "_id": IdParam(locate=locate_by_int),
                    "clinical-status": TokenParam(
                        "clinical_status",
                        system=codes.CONDITION_CLINICAL,
                        codes=CONDITION_CLINICAL,
                        description="active, recurrence, relapse, inactive, remission, resolved.",
                    ),
                    "category": TokenParam(
                        "category",
                        codes=CONDITION_CATEGORY,
                        description="problem-list-item, encounter-diagnosis or health-concern.",
                    ),
                    "code": _coded_record_code("The condition: system|code or code."),
                }
            ),
        ),
        ResourceType(
            "MedicationRequest",
            Medication,
            order=("-recorded_at", "-id"),
            scope=_medication_kind(Medication.Kind.REQUEST),
            includes=("patient", "subject"),
            sort_description="most recently recorded first",
            params=_with_patient(
                {
                    "_id": IdParam(locate=locate_by_int),
                    "status": TokenParam(
                        "status", codes=MEDICATION_REQUEST_STATUS, description="The order's status."
                    ),
                }
            ),
        ),
        ResourceType(
            "MedicationStatement",
            Medication,
            order=("-recorded_at", "-id"),
            scope=_medication_kind(Medication.Kind.STATEMENT),
            includes=("patient", "subject"),
            sort_description="most recently recorded first",
            params=_with_patient(
                {
                    "_id": IdParam(locate=locate_by_int),
                    "status": TokenParam(
                        "status",
                        codes=MEDICATION_STATEMENT_STATUS,
                        description="Whether the patient takes it.",
                    ),
                }
            ),
        ),
        ResourceType(
            "AllergyIntolerance",
            Allergy,
            order=("-recorded_at", "-id"),
            includes=("patient",),
            sort_description="most recently recorded first",
            params=_with_patient(
                {
                    "_id": IdParam(locate=locate_by_int),
                    "clinical-status": TokenParam(
                        "clinical_status",
                        system=codes.ALLERGY_CLINICAL,
                        codes=ALLERGY_CLINICAL,
                        description="active, inactive or resolved.",
                    ),
                },
                subject=False,
            ),
        ),
        ResourceType(
            "Observation",
            Observation,
            order=("-effective_at", "-id"),
            locate=locate_observation,
            one_per_resource=_observations_one_per_resource,
            includes=("patient", "subject"),
            sort_description="most recently taken first",
            also=(SCORE_OBSERVATIONS,),
            params=_with_patient(
                {
                    "_id": IdParam(locate=locate_observation),
                    "category": TokenParam(
                        "category",
                        system=codes.OBSERVATION_CATEGORY,
                        codes=OBSERVATION_CATEGORY,
                        description="vital-signs, laboratory, survey or social-history.",
                    ),
                    "code": ObservationCodeParam(),
                    "date": DateParam(
                        "effective_at", description="When it was taken (eq, ne, gt, lt, ge, le)."
                    ),
                }
            ),
        ),
        ResourceType(
            "QuestionnaireResponse",
            Response,
            order=("-authored_at", "-id"),
            locate=locate_response,
            scope=with_authored_time,
            includes=("patient", "subject"),
            sort_description="most recently authored first",
            versioned=False,
            params=_with_patient(
                {
                    "_id": IdParam(locate=locate_response),
                    "questionnaire": CanonicalParam(),
                    "authored": DateParam(
                        "authored_at",
                        description="When the answers were last given or corrected "
                        "(eq, ne, gt, lt, ge, le).",
                    ),
                    "status": ResponseStatusParam(
                        "status",
                        system="http://hl7.org/fhir/questionnaire-answers-status",
                        codes=QUESTIONNAIRE_RESPONSE_STATUS,
                        description="in-progress (a draft), completed (signed) or amended.",
                    ),
                }
            ),
        ),
        ResourceType(
            "Encounter",
            Encounter,
            order=("-period_start", "-id"),
            includes=("patient", "subject"),
            sort_description="most recent first",
            params=_with_patient(
                {
                    "_id": IdParam(locate=locate_by_int),
                    "date": DateParam(
                        "period_start",
                        "period_end",
                        description="When it took place (its period; eq, ne, gt, lt, ge, le).",
                    ),
                    "status": TokenParam(
                        "status", codes=ENCOUNTER_STATUS, description="The encounter's status."
                    ),
                }
            ),
        ),
        ResourceType(
            "EpisodeOfCare",
            EpisodeOfCare,
            order=("-id",),
            scope=with_members,
            includes=("patient",),
            sort_description="most recently opened first",
            params=_with_patient(
                {
                    "_id": IdParam(locate=locate_by_int),
                    "status": TokenParam(
                        "status", codes=EPISODE_STATUS, description="The episode's status."
                    ),
                },
                subject=False,
            ),
        ),
        # One CareTeam per episode of care (the same id): its members are the episode's team.
        ResourceType(
            "CareTeam",
            EpisodeOfCare,
            order=("-id",),
            scope=with_members,
            includes=("patient", "subject"),
            sort_description="most recently opened first",
            versioned=False,
            params=_with_patient(
                {
                    "_id": IdParam(locate=locate_by_int),
                    "status": TokenParam(
                        "status", codes=TEAM_STATUS, description="The team's status."
                    ),
                }
            ),
        ),
    ]
}


# --- a whole search -----------------------------------------------------------------------------


@dataclass
class Search:
    """A parsed search: what to filter by, which patients at most, and which page."""

    resource: ResourceType
    filters: list[Q] = field(default_factory=list)
    # None: any patient the caller may see. A set: only these (still narrowed to the visible).
    patient_ids: set[uuid.UUID] | None = None
    count: int = DEFAULT_COUNT
    offset: int = 0
    includes: list[str] = field(default_factory=list)
    # The parameters used, as written, in order: the self link shows exactly these.
    used: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def searched_by(self) -> list[str]:
        """The names of the parameters that filtered (for the audit trail)."""
        return sorted({key for key, _ in self.used if key not in RESULT_PARAMETERS})


def parse(
    resource: ResourceType,
    query: Iterable[tuple[str, list[str]]],
    context: Context,
    *,
    lenient: bool = False,
) -> Search:
    """Read a search's query parameters (as (key, values) pairs) into a Search.

    Unknown parameters raise SearchError naming them, or are skipped (and listed in `ignored`)
    when `lenient`; bad values always raise.
    """
    search = Search(resource)
    for key, values in query:
        for raw in values:
            if _apply_one(search, key, raw, context, lenient):
                search.used.append((key, raw))
    return search


def _apply_one(search: Search, key: str, raw: str, context: Context, lenient: bool) -> bool:
    name, _, modifier = key.partition(":")
    if name.startswith("_") and modifier and name in RESULT_PARAMETERS:
        raise SearchError(key, f"{key}: {name} takes no modifier.", "not-supported")
    if name in ("_count", "_offset"):
        setattr(search, name[1:], _non_negative(key, raw, name))
        return True
    if name == "_include":
        search.includes.append(_include(search.resource, key, raw))
        return True
    if name == "_format":
        return False  # answered by the API's content negotiation, not a filter
    param = search.resource.params.get(name)
    if param is None:
        if lenient:
            search.ignored.append(key)
            return False
        known = ", ".join(sorted(search.resource.params))
        raise SearchError(
            key,
            f"Careway cannot search {search.resource.name} by {name!r}; it can by {known}.",
            "not-supported",
        )
    if modifier not in param.modifiers:
        raise SearchError(
            key, f"{key}: the modifier :{modifier} is not supported.", "not-supported"
        )
    if isinstance(param, PatientParam):
        ids = param.patient_ids(key, raw)
        search.patient_ids = ids if search.patient_ids is None else search.patient_ids & ids
    elif isinstance(param, IdParam) and search.resource.patient_path == "pk":
        ids = {pid for v in _alternatives(key, raw) if (pid := _uuid_id(v)) is not None}
        search.patient_ids = ids if search.patient_ids is None else search.patient_ids & ids
    else:
        search.filters.append(param.to_q(key, modifier, raw, context))
    return True


def _non_negative(key: str, raw: str, name: str) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        raise SearchError(key, f"{key}: give a whole number of 0 or more.")
    value = int(text)
    if name == "_count":
        return min(value, MAX_COUNT)
    return min(value, MAX_OFFSET)


def _include(resource: ResourceType, key: str, raw: str) -> str:
    source, _, rest = raw.partition(":")
    param, _, target = rest.partition(":")
    if source != resource.name or param not in resource.includes or target not in ("", "Patient"):
        allowed = ", ".join(f"{resource.name}:{p}" for p in resource.includes) or "nothing"
        raise SearchError(
            "_include",
            f"_include: {raw!r} is not supported; {resource.name} can include {allowed}.",
            "not-supported",
        )
    return f"{resource.name}:{param}"

"""FHIR R4 search: the generic machinery that reads a request's query into database filters.

Each resource type declares what it answers in its mapping module (careway/fhir/mapping/<type>.py):
a SearchDeclaration with its parameters (the Param classes here, or its own), order, ids and scope.
The API (careway/fhir/api.py) hands a request's query and that declaration to `parse()` and gets
back a `Search`: the filters, the patients the search is restricted to, paging and `_include`.
What is declared is exactly what the CapabilityStatement lists, so nothing is advertised that does
not work.

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

from django.db.models import Q, QuerySet

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


def split_token(value: str) -> tuple[str | None, str]:
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


def alternatives(param: str, raw: str) -> list[str]:
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
        for value in alternatives(name, raw):
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
        for value in alternatives(name, raw):
            found |= self._one(name, value)
        return found

    def _one(self, name: str, value: str) -> Q:
        system, code = split_token(value)
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
        for value in alternatives(name, raw):
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
        return {parse_patient_reference(name, value) for value in alternatives(name, raw)}


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
        for value in alternatives(name, raw):
            where = self.locate(value)
            if where is not None:
                found |= where
        return found


MATCH_ALL = Q(pk__isnull=False)  # Q() would vanish when OR-ed with the first alternative
MATCH_NONE = Q(pk__in=[])


@dataclass(frozen=True)
class FixedTokenParam(TokenParam):
    """A coded element every row of the type has the same code in (a score's category is
    survey): a code of the value set matches all rows or none."""

    fixed: str = ""

    def _one(self, name: str, value: str) -> Q:
        system, code = split_token(value)
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


# --- ids ----------------------------------------------------------------------------------------


def int_id(ident: str) -> int | None:
    """The number an id is, when it is a whole number a database key can hold."""
    if ident.isascii() and ident.isdigit() and len(ident) <= 19 and 0 < int(ident) <= MAX_INT_ID:
        return int(ident)
    return None


def uuid_id(ident: str) -> uuid.UUID | None:
    if len(ident) != 36:
        return None
    try:
        return uuid.UUID(ident)
    except ValueError:
        return None


def locate_by_int(ident: str) -> Q | None:
    pk = int_id(ident)
    return Q(pk=pk) if pk is not None else None


def locate_prefixed(prefix: str) -> Callable[[str], Q | None]:
    """Ids written `<prefix><pk>` (qr-12, score-7): a prefix keeps them from ever being taken for
    the number of a record of another kind."""

    def locate(ident: str) -> Q | None:
        pk = int_id(ident[len(prefix) :]) if ident.startswith(prefix) else None
        return Q(pk=pk) if pk is not None else None

    return locate


# --- what a resource type declares --------------------------------------------------------------


def with_patient(params: Mapping[str, Param], *, subject: bool = True) -> dict[str, Param]:
    """A record type's parameters, after `patient` (and `subject`, where the resource names its
    patient so)."""
    reference = PatientParam()
    named = {"patient": reference, **({"subject": reference} if subject else {})}
    return {**named, **params}


def value_set(*pairs: tuple[str, str]) -> dict[str, list[str]]:
    """FHIR code -> stored values, for value sets where some stored values differ in spelling."""
    mapping: dict[str, list[str]] = {}
    for fhir_code, stored in pairs:
        mapping.setdefault(fhir_code, [])
        if stored:
            mapping[fhir_code].append(stored)
    return mapping


def stored_as_is(*names: str) -> list[tuple[str, str]]:
    return [(name, name) for name in names]


def not_stored(*names: str) -> list[tuple[str, str]]:
    return [(name, "") for name in names]


@dataclass(frozen=True)
class SearchDeclaration:
    """How the API reads and searches one resource type's rows: their order, ids, scope and
    search parameters (part of the type's declaration, careway/fhir/mapping/__init__.py)."""

    order: tuple[str, ...]
    params: Mapping[str, Param]
    locate: Callable[[str], Q | None] = locate_by_int
    # The rows of this type among the model's (MedicationRequest: the orders), with what writing
    # them needs read along.
    scope: Callable[[QuerySet], QuerySet] = lambda rows: rows
    # The path from a row to its patient's id ("pk" for Patient itself).
    patient_path: str = "patient_id"
    includes: tuple[str, ...] = ()
    sort_description: str = ""
    # False when the resource is assembled from several records and has no version of its own.
    versioned: bool = True

    @property
    def of_patients(self) -> bool:
        """Whether the rows are the patients themselves rather than records of a patient."""
        return self.patient_path == "pk"

    def by_id(self, ident: str) -> Q | None:
        return self.locate(ident) if FHIR_ID.fullmatch(ident) else None


# --- a whole search -----------------------------------------------------------------------------


@dataclass
class Search:
    """A parsed search of one resource type: what to filter by, which patients at most, and which
    page."""

    resource_name: str
    declared: SearchDeclaration
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
    resource_name: str,
    declared: SearchDeclaration,
    query: Iterable[tuple[str, list[str]]],
    context: Context,
    *,
    lenient: bool = False,
) -> Search:
    """Read a search's query parameters (as (key, values) pairs) into a Search of the type
    `resource_name`, as its SearchDeclaration `declared` allows.

    Unknown parameters raise SearchError naming them, or are skipped (and listed in `ignored`)
    when `lenient`; bad values always raise.
    """
    search = Search(resource_name, declared)
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
        search.includes.append(_include(search, raw))
        return True
    if name == "_format":
        return False  # answered by the API's content negotiation, not a filter
    param = search.declared.params.get(name)
    if param is None:
        if lenient:
            search.ignored.append(key)
            return False
        known = ", ".join(sorted(search.declared.params))
        raise SearchError(
            key,
            f"Careway cannot search {search.resource_name} by {name!r}; it can by {known}.",
            "not-supported",
        )
    if modifier not in param.modifiers:
        raise SearchError(
            key, f"{key}: the modifier :{modifier} is not supported.", "not-supported"
        )
    if isinstance(param, PatientParam):
        ids = param.patient_ids(key, raw)
        search.patient_ids = ids if search.patient_ids is None else search.patient_ids & ids
    elif isinstance(param, IdParam) and search.declared.of_patients:
        ids = {pid for v in alternatives(key, raw) if (pid := uuid_id(v)) is not None}
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


def _include(search: Search, raw: str) -> str:
    name, includes = search.resource_name, search.declared.includes
    source, _, rest = raw.partition(":")
    param, _, target = rest.partition(":")
    if source != name or param not in includes or target not in ("", "Patient"):
        allowed = ", ".join(f"{name}:{p}" for p in includes) or "nothing"
        raise SearchError(
            "_include",
            f"_include: {raw!r} is not supported; {name} can include {allowed}.",
            "not-supported",
        )
    return f"{name}:{param}"

"""Shared pieces of the per-type mappings: reading FHIR JSON safely, and writing it the same way.

Reading works on plain dicts (no model library in the import path, which must take in thousands of
resources a second). Every reader names the element it reads, so that a wrong type, a missing
required element or a value too long for its Careway field raises `Invalid(path, reason)` instead
of being cut or guessed. Field lengths are read from the models once, at import time.

Repeating elements: a list whose entries become rows (an Observation's components, the source
records of a resource's identifiers) or entries of a stored list (a CarePlan's activities) is read
with the bound its mapping sets (`limit=`), and refused naming the element beyond it. FHIR sets no
upper bound, but one request (or one line of an import) must not become thousands of rows.

Dates and times:
- A FHIR dateTime with a time must carry a zone (R4 says so); one without is refused. A partial
  date ("2012", "2012-07") is read as its first day, and a date alone as midnight UTC.
- A Careway date field read from a FHIR dateTime takes the date as written in the source (no zone
  conversion), which is the day the source meant.
- Written times are UTC ISO 8601 with their fractional seconds, so a time read back is the same.
"""

import math
from datetime import UTC, date, datetime
from typing import Any

from django.db import models

from careway.fhir import codes

from . import Invalid

Resource = dict[str, Any]

_PARTIAL_DATE_LENGTHS = {4: "%Y", 7: "%Y-%m"}
# Identifiers of any resource: an import remembers each as a source record, to match the resource
# again. Synthea writes five for a patient; a health information exchange may write dozens.
MAX_IDENTIFIERS = 50


# --- reading -------------------------------------------------------------------------------------


def obj(parent: Resource, key: str, path: str) -> Resource:
    """The object at parent[key], {} when absent; Invalid when it is not an object."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{path}.{key}", f"wrong type: expected an object, got {_kind(value)}")
    return value


def array(parent: Resource, key: str, path: str, limit: int | None = None) -> list[Any]:
    """The list at parent[key], [] when absent; Invalid when it is not a list, or holds more
    than `limit` entries."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"{path}.{key}", f"wrong type: expected a list, got {_kind(value)}")
    if limit is not None and len(value) > limit:
        raise Invalid(f"{path}.{key}", too_many(len(value), limit))
    return value


def too_many(count: int, limit: int) -> str:
    return f"too many ({count:,}): Careway takes at most {limit}"


def objects(parent: Resource, key: str, path: str, limit: int | None = None) -> list[Resource]:
    """The list of objects at parent[key]; Invalid when one of them is not an object, or when
    there are more than `limit`."""
    items = array(parent, key, path, limit)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise Invalid(
                f"{path}.{key}[{index}]", f"wrong type: expected an object, got {_kind(item)}"
            )
    return items


def text(parent: Resource, key: str, path: str) -> str:
    """The string at parent[key], "" when absent; Invalid when it is not a string."""
    value = parent.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{path}.{key}", f"wrong type: expected a string, got {_kind(value)}")
    return value


def boolean(parent: Resource, key: str, path: str, default: bool = False) -> bool:
    value = parent.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise Invalid(f"{path}.{key}", f"wrong type: expected true or false, got {_kind(value)}")
    return value


def number(parent: Resource, key: str, path: str) -> float | None:
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"{path}.{key}", f"wrong type: expected a number, got {_kind(value)}")
    if not math.isfinite(value):
        raise Invalid(f"{path}.{key}", "not a number FHIR allows (NaN or infinite)")
    return float(value)


def required_text(parent: Resource, key: str, path: str, why: str = "") -> str:
    value = text(parent, key, path)
    if not value:
        raise Invalid(f"{path}.{key}", f"missing{': ' + why if why else ''}")
    return value


def code_in(parent: Resource, key: str, path: str, allowed: frozenset[str], default: str) -> str:
    """A code from a required FHIR value set: the default when absent, Invalid when unknown."""
    value = text(parent, key, path)
    if not value:
        return default
    if value not in allowed:
        raise Invalid(f"{path}.{key}", f"unknown code {value!r}: expected one of {sorted(allowed)}")
    return value


def _kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def reference(parent: Resource, key: str, path: str) -> str:
    """The reference string of parent[key] ("" when absent or display-only)."""
    return text(obj(parent, key, path), "reference", f"{path}.{key}")


def concept(cc: Any, path: str, preferred: tuple[str, ...] = ()) -> tuple[str, str, str]:
    """(system, code, display) of a CodeableConcept.

    The first coding of the first preferred system, else the first coding; display from that
    coding's display, else the concept's text, else another coding's display.
    """
    if cc is None:
        return "", "", ""
    if not isinstance(cc, dict):
        raise Invalid(path, f"wrong type: expected a CodeableConcept, got {_kind(cc)}")
    codings = objects(cc, "coding", path)
    chosen: Resource | None = None
    for system in preferred:
        chosen = next((c for c in codings if c.get("system") == system), None)
        if chosen is not None:
            break
    if chosen is None and codings:
        chosen = codings[0]
    label = text(cc, "text", path)
    if chosen is None:
        return "", "", label
    index = codings.index(chosen)
    where = f"{path}.coding[{index}]"
    display = text(chosen, "display", where) or label
    if not display:
        display = next((c["display"] for c in codings if isinstance(c.get("display"), str)), "")
    return text(chosen, "system", where), text(chosen, "code", where), display


def coding_code(cc: Any, system: str | tuple[str, ...], path: str) -> str:
    """The code of the first coding of `system` in a CodeableConcept ("" when none)."""
    if cc is None:
        return ""
    if not isinstance(cc, dict):
        raise Invalid(path, f"wrong type: expected a CodeableConcept, got {_kind(cc)}")
    systems = (system,) if isinstance(system, str) else system
    for coding in objects(cc, "coding", path):
        if coding.get("system") in systems:
            return text(coding, "code", path)
    return ""


def notes(resource: Resource, path: str) -> str:
    """The texts of all notes (Annotation), one paragraph each."""
    parts = [text(n, "text", f"{path}.note") for n in objects(resource, "note", path)]
    return "\n\n".join(p for p in parts if p)


def extension(resource: Resource, url: str, path: str) -> Resource | None:
    for ext in objects(resource, "extension", path):
        if ext.get("url") == url:
            return ext
    return None


def identifiers(resource: Resource, path: str) -> list[tuple[str, str]]:
    pairs = []
    for index, ident in enumerate(objects(resource, "identifier", path, MAX_IDENTIFIERS)):
        where = f"{path}.identifier[{index}]"
        pairs.append((text(ident, "system", where), text(ident, "value", where)))
    return pairs


def parse_datetime(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise Invalid(path, f"wrong type: expected a dateTime, got {_kind(value)}")
    try:
        if len(value) in _PARTIAL_DATE_LENGTHS:
            return datetime.strptime(value, _PARTIAL_DATE_LENGTHS[len(value)]).replace(tzinfo=UTC)
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(path, f"not a FHIR dateTime: {value!r}") from None
    if parsed.tzinfo is None:
        raise Invalid(path, f"a time needs its zone (for example +00:00): {value!r}")
    return parsed


def parse_date(value: Any, path: str) -> date:
    """The date of a FHIR date or dateTime, as written in the source."""
    if not isinstance(value, str):
        raise Invalid(path, f"wrong type: expected a date, got {_kind(value)}")
    try:
        if len(value) in _PARTIAL_DATE_LENGTHS:
            return datetime.strptime(value, _PARTIAL_DATE_LENGTHS[len(value)]).date()
        if len(value) > 10:
            datetime.fromisoformat(value)  # the whole dateTime must be valid, not just its date
        return date.fromisoformat(value[:10])
    except ValueError:
        raise Invalid(path, f"not a FHIR date: {value!r}") from None


def optional_datetime(parent: Resource, key: str, path: str) -> datetime | None:
    value = parent.get(key)
    return None if value is None else parse_datetime(value, f"{path}.{key}")


def optional_date(parent: Resource, key: str, path: str) -> date | None:
    value = parent.get(key)
    return None if value is None else parse_date(value, f"{path}.{key}")


def limits(model: type[models.Model]) -> dict[str, int]:
    """The maximum length of each text field of a model, read once at import time."""
    return {
        f.name: f.max_length
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField) and f.max_length
    }


def check_lengths(row: dict[str, Any], sizes: dict[str, int], paths: dict[str, str]) -> None:
    """Invalid, naming the element, for any text value longer than its Careway field."""
    for name, size in sizes.items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > size:
            element = paths.get(name, name)
            raise Invalid(
                element, f"too long for Careway ({len(value)} characters, at most {size})"
            )


# --- writing -------------------------------------------------------------------------------------


def instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def day(value: date) -> str:
    return value.isoformat()


def meta(record: models.Model, time_field: str | None = None) -> Resource:
    out: Resource = {}
    version = getattr(record, "version", None)
    if version is not None:
        out["versionId"] = str(version)
    when = getattr(record, time_field, None) if time_field else None
    if when is not None:
        out["lastUpdated"] = instant(when)
    return out


def patient_ref(record: models.Model) -> Resource:
    return {"reference": f"Patient/{record.patient_id}"}  # type: ignore[attr-defined]


def coded(system: str, code: str, display: str) -> Resource:
    """A CodeableConcept from Careway's (system, code, display): coded when there is a code."""
    out: Resource = {}
    if code:
        coding: Resource = {"code": code}
        if system:
            coding["system"] = system
        if display:
            coding["display"] = display
        out["coding"] = [coding]
    if display:
        out["text"] = display
    return out


def coding(system: str, code: str, display: str = "") -> Resource:
    out: Resource = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def category(system: str, code: str, display: str = "") -> Resource:
    """A CodeableConcept of one coding (a category or status of a fixed code system)."""
    return {"coding": [coding(system, code, display)]}


def careway_extension(name: str, **value: Any) -> Resource:
    return {"url": codes.CAREWAY_EXTENSION + name, **value}


def annotation(note: str) -> list[Resource]:
    return [{"text": note}] if note else []


def drop_empty(resource: Resource) -> Resource:
    """The resource without empty elements ("" / [] / {} / None), which FHIR does not allow."""
    return {k: v for k, v in resource.items() if v not in ("", None, [], {})}

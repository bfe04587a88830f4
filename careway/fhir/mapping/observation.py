"""Observation <-> careway.patients.Observation (vital signs, labs, surveys, social history).

Written as US Core Vital Signs where the category is vital-signs: status, category, LOINC code,
subject, effectiveDateTime, valueQuantity with UCUM system and code (Careway's units are UCUM
codes: mm[Hg], /min, [lb_av], ...), and `issued` from when Careway recorded it.

Panels. Measurements taken as one panel share `panel_id` and name the panel's code in
`panel_code` (blood pressure: systolic 8480-6 and diastolic 8462-4 in LOINC 85354-9). A panel is
ONE FHIR Observation: its id is the panel_id, its code the panel code, and each member is a
component (code and value). `to_fhir("Observation", row, members=[...])` writes it from any
member and the others (passing all of them is fine too); given a member alone it reads the other
members from the database. Read back, an Observation with components and no value of its own
becomes one row per component, each with `panel_code` = the resource's code (the importer gives
them one new panel_id). Synthea writes blood pressure as 55284-4; that code is kept as the panel
code, so the panel goes out again as 55284-4. An Observation with both a value and components
becomes its own row and one per component, all members of one panel, so nothing is dropped.
A panel has at most MAX_COMPONENTS components, each of its own code (a code twice is refused: an
update pairs members by code, so such a panel could never be updated).

Values: valueQuantity -> value and unit (the UCUM code, else the unit text); a quantity with a
comparator (<, <=, >=, >) is kept as text ("<5 mg/dL") because a bare number would lose its
meaning. valueCodeableConcept -> value_text (display or text), valueString -> value_text;
valueInteger -> value; valueBoolean, valueTime, valueDateTime, valuePeriod, valueRange and
valueRatio -> value_text as written. valueSampledData is refused (no Careway field holds a
waveform). Written: a number as valueQuantity, text as valueString (a record with both also
carries its text in Careway's `value-text` extension).

Category and status: the FHIR codes. Codes outside Careway's choices (category exam, procedure,
imaging, therapy, activity; status preliminary, registered, corrected, cancelled, unknown) are
kept as written, so they go out as they came in. Without a category of HL7's system, a vital sign
code (careway/patients/vitals.py) reads as vital-signs, anything else as laboratory.

effective[x]: effectiveDateTime, effectiveInstant or effectivePeriod.start; required (Careway
charts by time). issued <-> recorded_at. encounter -> `references["encounter"]`.

Served by the API: read, vread, search (by category, code and date, most recently taken first),
create and update, a panel always whole: its id is its panel_id, and an update keeps the
measurements it was taken with. An assessment's scores are searched and read with these
(score.py). Exported with its panels whole; `_since` by when it was recorded.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from careway.core import audit
from careway.fhir import codes, search
from careway.fhir.errors import FhirError
from careway.patients import services, vitals
from careway.patients.models import Encounter, Observation, Patient

from . import (
    Export,
    Incoming,
    Invalid,
    Located,
    ResourceDeclaration,
    Write,
    Written,
    changed_after,
    patient_rows,
    register,
)
from . import common as c
from .api_writes import check_times, subject_of

PATH = "Observation"
# Far beyond any panel Careway records (blood pressure has two members, a lab panel a few dozen);
# each component is a row.
MAX_COMPONENTS = 50
LIMITS = c.limits(Observation)
ELEMENTS = {
    "code": "Observation.code.coding.code",
    "code_system": "Observation.code.coding.system",
    "display": "Observation.code",
    "unit": "Observation.valueQuantity.unit",
    "value_text": "Observation.value[x]",
    "panel_code": "Observation.code.coding.code",
}
STATUSES = frozenset(
    {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
     "entered-in-error", "unknown"}
)  # fmt: skip
CATEGORIES = frozenset(
    {"social-history", "vital-signs", "imaging", "laboratory", "procedure", "survey", "exam",
     "therapy", "activity"}
)  # fmt: skip
CATEGORY_LABELS = dict(Observation.Category.choices)
VITAL_CODES = frozenset(vitals.all_codes()) | frozenset(vitals.PANELS) | {"55284-4"}
PANEL_DISPLAYS = {
    "85354-9": "Blood pressure panel with all children optional",
    "55284-4": "Blood pressure systolic and diastolic",
}
US_CORE_BP = "85354-9"
BP_MEMBERS = frozenset(vitals.PANELS[US_CORE_BP])
MEMBER_ORDER = {code: i for members in vitals.PANELS.values() for i, code in enumerate(members)}
COMPARATORS = frozenset({"<", "<=", ">=", ">"})
EXT_VALUE_TEXT = codes.careway_extension("value-text")


# --- out -----------------------------------------------------------------------------------------


def observation_to_fhir(record: Observation, members: Sequence[Observation] = ()) -> dict[str, Any]:
    if record.panel_id is None:
        return _single(record)
    group = {m.pk: m for m in (record, *members)}
    if not members:
        group.update(
            (m.pk, m)
            for m in Observation.objects.filter(
                organization_id=record.organization_id, panel_id=record.panel_id
            )
        )
    return _panel(
        record, sorted(group.values(), key=lambda m: (MEMBER_ORDER.get(m.code, 99), m.pk))
    )


def _common(record: Observation) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": record.status,
        "category": [
            c.category(
                codes.OBSERVATION_CATEGORY,
                record.category,
                CATEGORY_LABELS.get(record.category, ""),
            )
        ],
        "subject": c.patient_ref(record),
        "encounter": {"reference": f"Encounter/{record.encounter_id}"}
        if record.encounter_id
        else None,
        "effectiveDateTime": c.instant(record.effective_at),
    }


def _value(record: Observation) -> dict[str, Any]:
    if record.value is not None:
        quantity: dict[str, Any] = {"value": record.value}
        if record.unit:
            quantity.update(unit=record.unit, system=codes.UCUM, code=record.unit)
        return {"valueQuantity": quantity}
    if record.value_text:
        return {"valueString": record.value_text}
    return {}


def _value_text_extension(record: Observation) -> list[dict[str, Any]]:
    if record.value is not None and record.value_text:
        return [{"url": EXT_VALUE_TEXT, "valueString": record.value_text}]
    return []


def _single(record: Observation) -> dict[str, Any]:
    resource = {
        **_common(record),
        "id": str(record.pk),
        "meta": c.meta(record, "recorded_at"),
        "extension": _value_text_extension(record),
        "code": c.coded(record.code_system, record.code, record.display),
        "issued": c.instant(record.recorded_at) if record.recorded_at else None,
        **_value(record),
        "note": c.annotation(record.note),
    }
    resource = {k: resource[k] for k in _ORDER if k in resource}
    return c.drop_empty(resource)


_ORDER = (
    "resourceType", "id", "meta", "extension", "status", "category", "code", "subject",
    "encounter", "effectiveDateTime", "issued", "valueQuantity", "valueString", "note", "component",
)  # fmt: skip


def _panel(first: Observation, members: list[Observation]) -> dict[str, Any]:
    versions = [m.version for m in members]
    times = [m.recorded_at for m in members if m.recorded_at]
    panel_meta: dict[str, Any] = {"versionId": str(max(versions))}
    if times:
        panel_meta["lastUpdated"] = c.instant(max(times))
    notes = list(dict.fromkeys(m.note for m in members if m.note))
    display = PANEL_DISPLAYS.get(first.panel_code, "")
    code = (
        c.coded(codes.LOINC, first.panel_code, display)
        if display
        else {"coding": [{"system": codes.LOINC, "code": first.panel_code}]}
    )
    if first.panel_code != US_CORE_BP and {m.code for m in members} <= BP_MEMBERS:
        # US Core's blood pressure profile asks for 85354-9. Another code for the same panel
        # (Synthea's 55284-4) stays first, as it came, so an import reads back the same panel.
        code["coding"].append(
            {"system": codes.LOINC, "code": US_CORE_BP, "display": PANEL_DISPLAYS[US_CORE_BP]}
        )
    resource = {
        **_common(first),
        "id": str(first.panel_id),
        "meta": panel_meta,
        "code": code,
        "issued": c.instant(max(times)) if times else None,
        "note": [{"text": n} for n in notes],
        "component": [
            c.drop_empty(
                {
                    "extension": _value_text_extension(m),
                    "code": c.coded(m.code_system, m.code, m.display),
                    **_value(m),
                }
            )
            for m in members
        ],
    }
    resource = {k: resource[k] for k in _ORDER if k in resource}
    return c.drop_empty(resource)


# --- in ------------------------------------------------------------------------------------------


def observation_from_fhir(resource: dict[str, Any]) -> Incoming:
    path = PATH
    code_system, code, display = c.concept(resource.get("code"), "Observation.code", (codes.LOINC,))
    if not code and not display:
        raise Invalid("Observation.code", "missing: Careway needs to know what was measured")
    shared: dict[str, Any] = {
        "category": _category(resource, code),
        "status": c.code_in(resource, "status", path, STATUSES, "final"),
        "effective_at": _effective(resource),
        "note": c.notes(resource, path),
        "panel_code": "",
    }
    issued = c.optional_datetime(resource, "issued", path)
    if issued is not None:
        shared["recorded_at"] = issued
    components = c.objects(resource, "component", path, MAX_COMPONENTS)
    rows = []
    if not components or _has_value(resource):
        rows.append(
            {
                **shared,
                "code_system": code_system,
                "code": code,
                "display": display or code,
                **_value_in(resource, path),
            }
        )
    # Members are told apart by their code, so none may share one (nor the observation's own).
    seen: dict[str, str] = {code or display: "the observation's own code"} if rows else {}
    for index, component in enumerate(components):
        where = f"Observation.component[{index}]"
        system, member, label = c.concept(component.get("code"), f"{where}.code", (codes.LOINC,))
        if not member and not label:
            raise Invalid(f"{where}.code", "missing: each component needs a code")
        first = seen.setdefault(member or label, where)
        if first != where:
            raise Invalid(
                f"{where}.code",
                f"{member or label!r} again (first at {first}): each component measures "
                "something else",
            )
        if not _has_value(component):
            continue  # a component with no value (dataAbsentReason) measured nothing to keep
        rows.append(
            {
                **shared,
                "panel_code": code,
                "code_system": system,
                "code": member,
                "display": label or member,
                **_value_in(component, where),
            }
        )
    if not rows:
        raise Invalid("Observation.component", "no component has a value")
    if len(rows) > 1:
        for row in rows:
            row["panel_code"] = code
    for row in rows:
        # The chart compares readings of a sign, so a weight in kg or a temperature in Celsius
        # is kept in the sign's chart unit (lb, °F); see vitals.in_chart_unit.
        if isinstance(row.get("value"), float | int) and row.get("unit"):
            row["value"], row["unit"] = vitals.in_chart_unit(row["code"], row["value"], row["unit"])
        c.check_lengths(row, LIMITS, ELEMENTS)
    encounter = c.reference(resource, "encounter", path)
    return Incoming(
        resource_type="Observation",
        model=Observation,
        rows=rows,
        subject=c.reference(resource, "subject", path),
        references={"encounter": encounter} if encounter else {},
        source_id=c.text(resource, "id", path),
        identifiers=c.identifiers(resource, path),
    )


VALUE_KEYS = (
    "valueQuantity", "valueCodeableConcept", "valueString", "valueBoolean", "valueInteger",
    "valueRange", "valueRatio", "valueSampledData", "valueTime", "valueDateTime", "valuePeriod",
)  # fmt: skip


def _has_value(element: dict[str, Any]) -> bool:
    return any(key in element for key in VALUE_KEYS)


def _category(resource: dict[str, Any], code: str) -> str:
    for index, cc in enumerate(c.objects(resource, "category", PATH)):
        value = c.coding_code(cc, codes.OBSERVATION_CATEGORY, f"Observation.category[{index}]")
        if value in CATEGORIES:
            return value
    return "vital-signs" if code in VITAL_CODES else "laboratory"


def _effective(resource: dict[str, Any]) -> Any:
    for key in ("effectiveDateTime", "effectiveInstant"):
        if key in resource:
            return c.parse_datetime(resource[key], f"Observation.{key}")
    period = c.obj(resource, "effectivePeriod", PATH)
    if period.get("start") is not None:
        return c.parse_datetime(period["start"], "Observation.effectivePeriod.start")
    raise Invalid("Observation.effective[x]", "missing: Careway needs when it was measured")


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _quantity_text(quantity: dict[str, Any], where: str) -> str:
    value = c.number(quantity, "value", where)
    unit = _unit(quantity, where)
    number = "" if value is None else _number(value)
    return f"{c.text(quantity, 'comparator', where)}{number}{' ' + unit if unit else ''}"


def _unit(quantity: dict[str, Any], where: str) -> str:
    if quantity.get("system") == codes.UCUM and quantity.get("code"):
        return c.text(quantity, "code", where)
    return c.text(quantity, "unit", where) or c.text(quantity, "code", where)


def _value_in(element: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"value": None, "unit": "", "value_text": ""}
    extension = c.extension(element, EXT_VALUE_TEXT, where)
    if extension is not None:
        out["value_text"] = c.text(extension, "valueString", f"{where}.extension(value-text)")
    if "valueQuantity" in element:
        quantity = c.obj(element, "valueQuantity", where)
        at = f"{where}.valueQuantity"
        if quantity.get("comparator") is not None:
            c.code_in(quantity, "comparator", at, COMPARATORS, "")
            out["value_text"] = _quantity_text(quantity, at)
        else:
            out["value"] = c.number(quantity, "value", at)
            out["unit"] = _unit(quantity, at)
    elif "valueCodeableConcept" in element:
        _, code, label = c.concept(element["valueCodeableConcept"], f"{where}.valueCodeableConcept")
        out["value_text"] = label or code
    elif "valueString" in element:
        out["value_text"] = c.text(element, "valueString", where)
    elif "valueInteger" in element:
        out["value"] = c.number(element, "valueInteger", where)
    elif "valueBoolean" in element:
        out["value_text"] = "true" if c.boolean(element, "valueBoolean", where) else "false"
    elif "valueTime" in element or "valueDateTime" in element:
        key = "valueTime" if "valueTime" in element else "valueDateTime"
        out["value_text"] = c.text(element, key, where)
    elif "valuePeriod" in element:
        period = c.obj(element, "valuePeriod", where)
        at = f"{where}.valuePeriod"
        out["value_text"] = f"{c.text(period, 'start', at)}/{c.text(period, 'end', at)}"
    elif "valueRange" in element:
        span = c.obj(element, "valueRange", where)
        low = _quantity_text(c.obj(span, "low", f"{where}.valueRange"), f"{where}.valueRange.low")
        high = _quantity_text(
            c.obj(span, "high", f"{where}.valueRange"), f"{where}.valueRange.high"
        )
        out["value_text"] = f"{low} to {high}".strip()
    elif "valueRatio" in element:
        ratio = c.obj(element, "valueRatio", where)
        top = _quantity_text(
            c.obj(ratio, "numerator", f"{where}.valueRatio"), f"{where}.valueRatio"
        )
        bottom = _quantity_text(
            c.obj(ratio, "denominator", f"{where}.valueRatio"), f"{where}.valueRatio"
        )
        out["value_text"] = f"{top}/{bottom}"
    elif "valueSampledData" in element:
        raise Invalid(f"{where}.valueSampledData", "not supported: Careway keeps a number or text")
    if len(out["value_text"]) > LIMITS["value_text"]:
        raise Invalid(
            f"{where}.value[x]",
            f"too long for Careway ({len(out['value_text'])} characters, "
            f"at most {LIMITS['value_text']})",
        )
    return out


# --- search --------------------------------------------------------------------------------------

CATEGORY_CODES = search.value_set(
    *search.stored_as_is(
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


def locate_observation(ident: str) -> Q | None:
    """A panel is one Observation whose id is its panel_id; any other row's id is its number."""
    panel = search.uuid_id(ident)
    if panel is not None:
        return Q(panel_id=panel)
    pk = search.int_id(ident)
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
class ObservationCodeParam(search.Param):
    description: str = "The observation's code: system|code or code (LOINC for vital signs)."
    type = "token"
    modifiers = frozenset({""})

    def to_q(self, name: str, modifier: str, raw: str, context: search.Context) -> Q:
        found = Q(pk__in=[])
        for value in search.alternatives(name, raw):
            system, code = search.split_token(value)
            if not code and not system:
                raise search.SearchError(name, f"{name}: give a code, or system|code.")
            found |= observation_code_q(system, code.replace("\\|", "|"))
        return found


SEARCH = search.SearchDeclaration(
    order=("-effective_at", "-id"),
    locate=locate_observation,
    includes=("patient", "subject"),
    sort_description="most recently taken first",
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=locate_observation),
            "category": search.TokenParam(
                "category",
                system=codes.OBSERVATION_CATEGORY,
                codes=CATEGORY_CODES,
                description="vital-signs, laboratory, survey or social-history.",
            ),
            "code": ObservationCodeParam(),
            "date": search.DateParam(
                "effective_at", description="When it was taken (eq, ne, gt, lt, ge, le)."
            ),
        }
    ),
)


# --- written through the API ---------------------------------------------------------------------


def create_observation(actor: audit.Actor, incoming: Incoming) -> Written:
    patient = subject_of(actor, incoming.subject, "Observation.subject", Observation)
    rows = _rows_to_save(incoming, patient)
    if len(rows) == 1 and not rows[0].get("panel_code"):
        saved = [services.record_observation(actor, patient, rows[0])]
    else:
        panel = uuid.uuid4()
        saved = services.record_observations(
            actor, patient, [{**r, "panel_id": panel} for r in rows]
        )
    return Written(saved[0], saved if saved[0].panel_id else [])


def update_observation(
    actor: audit.Actor, stored: Located, incoming: Incoming, version: int
) -> Written:
    if (
        subject_of(actor, incoming.subject, "Observation.subject", Observation).pk
        != stored.patient.pk
    ):
        raise FhirError(
            400,
            "invalid",
            "subject: an observation cannot move to another patient.",
            "Observation.subject",
        )
    current = stored.members or [stored.record]
    changes = _pair_with_members(current, _rows_to_save(incoming, stored.patient))
    saved = services.update_observations(actor, current, changes, version)
    return Written(saved[0], saved if stored.members else [])


def _rows_to_save(incoming: Incoming, patient: Patient) -> list[dict[str, Any]]:
    """The incoming rows as the service takes them: provenance is the server's, and the
    encounter, when named, must be one of this patient's."""
    encounter = _encounter_of(incoming.references.get("encounter", ""), patient)
    rows = []
    for row in incoming.rows:
        row = {k: v for k, v in row.items() if k not in ("recorded_at", "panel_id")}
        check_times(row, ELEMENTS)
        row["encounter"] = encounter
        rows.append(row)
    return rows


def _encounter_of(reference: str, patient: Patient) -> int | None:
    if not reference:
        return None
    kind, _, ident = reference.rstrip("/").rpartition("/")
    where = search.locate_by_int(ident) if kind.rpartition("/")[2] == "Encounter" else None
    found = None
    if where is not None:
        found = (
            Encounter.objects.filter(where, patient=patient).values_list("pk", flat=True).first()
        )
    if found is None:
        raise FhirError(
            400,
            "invalid",
            f"encounter: {reference!r} is not an encounter of this patient (Encounter/<id>).",
            "Observation.encounter",
        )
    return found


def _pair_with_members(current: list[Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each incoming row for the stored member of the same code (a panel keeps its members)."""

    def key(system: str, code: str) -> tuple[str, str]:
        return (system, code)

    by_code = {key(r.get("code_system", ""), r.get("code", "")): r for r in rows}
    stored = [key(m.code_system, m.code) for m in current]
    if len(by_code) != len(rows) or set(by_code) != set(stored):
        raise FhirError(
            400,
            "not-supported",
            "component: an update keeps the measurements the observation was taken with (the "
            "same codes); record a new observation to add or remove one.",
            "Observation.component",
        )
    return [by_code[k] for k in stored]


register(
    ResourceDeclaration(
        "Observation",
        Observation,
        from_fhir=observation_from_fhir,
        to_fhir=observation_to_fhir,
        elements=ELEMENTS,
        grouped_by="panel_id",
        search=SEARCH,
        export=Export(rows=patient_rows(Observation), changed_since=changed_after("recorded_at")),
        write=Write(create=create_observation, update=update_observation),
    )
)

"""MedicationRequest and MedicationStatement <-> careway.patients.Medication.

Careway keeps one medication list; `Medication.kind` says what each entry is. A MedicationRequest
(what a prescriber ordered) becomes kind=request, a MedicationStatement (what the patient takes,
as found at home or reconciled) kind=statement, and each goes out as the type its kind says:
`to_fhir("MedicationRequest", med)` of a statement (or the other way round) is a ValueError, so a
record is never served under the wrong type. Use `resource_type_of(med)` to choose.

- medication: medicationCodeableConcept, RxNorm first; a medicationReference is read from a
  contained Medication (its code) or from the reference's display; else refused.
- status: the FHIR code; the codes outside Careway's choices (cancelled, draft, unknown,
  intended, not-taken) are kept as written.
- MedicationRequest: intent is written "order" (any intent is taken in as a request);
  authoredOn <-> recorded_at; requester.display <-> prescriber (a requester with only a
  reference leaves `references["prescriber"]`, whose name the importer fills in).
- MedicationStatement: effectiveDateTime / effectivePeriod <-> start_date / end_date;
  dateAsserted <-> recorded_at; prescriber is Careway's extension `prescriber`.
- For a request, start_date / end_date are dosageInstruction[0].timing.repeat.boundsPeriod.
- Dosage (the first dosageInstruction): route.text <-> route; timing.code.text <-> frequency
  (a timing with only `repeat` is read as words: "1 time per 1 day"); asNeededBoolean (or an
  asNeededCodeableConcept) <-> as_needed; dose: "<number> <unit>" goes out as doseQuantity,
  anything else in Careway's `dose` extension, and both come back as the same text. The
  dosage `text` is written as dose, route and frequency in words; read, it is used only when the
  dosage has nothing structured, and then becomes the frequency (the directions as written;
  directions longer than the frequency field go to the note instead).
- reasonCode (text or display) <-> indication; a reasonReference with a display gives the
  indication, one without leaves `references["indication"]` for the importer to fill in with the
  referenced condition's words.
"""

import re
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

from careway.fhir import codes, search
from careway.patients.models import Medication

from . import (
    Export,
    Incoming,
    Invalid,
    ResourceDeclaration,
    changed_after,
    patient_rows,
    register,
)
from . import common as c

LIMITS = c.limits(Medication)
REQUEST_STATUSES = frozenset(
    {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft",
     "unknown"}
)  # fmt: skip
STATEMENT_STATUSES = frozenset(
    {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown",
     "not-taken"}
)  # fmt: skip
INTENTS = frozenset(
    {"proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
     "instance-order", "option"}
)  # fmt: skip
EXT_DOSE = codes.careway_extension("dose")
EXT_PRESCRIBER = codes.careway_extension("prescriber")
# A dose that reads back exactly as written ("40 mg", "0.5 mL"; not "1.50 mg" or "2 tablets a day").
DOSE_QUANTITY = re.compile(r"^((?:0|[1-9]\d*)(?:\.\d*[1-9])?) (\S+)$")
PERIOD_UNITS = {"s": "second", "min": "minute", "h": "hour", "d": "day", "wk": "week",
                "mo": "month", "a": "year"}  # fmt: skip


def _elements(kind: str) -> dict[str, str]:
    return {
        "code": f"{kind}.medicationCodeableConcept.coding.code",
        "code_system": f"{kind}.medicationCodeableConcept.coding.system",
        "display": f"{kind}.medicationCodeableConcept",
        "dose": f"{kind}.dosage.doseAndRate.doseQuantity",
        "route": f"{kind}.dosage.route",
        "frequency": f"{kind}.dosage.timing",
        "indication": f"{kind}.reasonCode",
        "prescriber": f"{kind}.requester" if kind == "MedicationRequest" else f"{kind}.extension",
        "status": f"{kind}.status",
    }


ELEMENTS = {kind: _elements(kind) for kind in ("MedicationRequest", "MedicationStatement")}


# --- out -----------------------------------------------------------------------------------------


def _check_kind(med: Medication, kind: str) -> None:
    if med.kind != kind:
        wanted = (
            "MedicationRequest" if med.kind == Medication.Kind.REQUEST else "MedicationStatement"
        )
        raise ValueError(f"Medication {med.pk} is a {med.kind}: write it as {wanted}")


def request_to_fhir(med: Medication) -> dict[str, Any]:
    _check_kind(med, Medication.Kind.REQUEST)
    dosage = _dosage_out(med, bounds=True)
    return c.drop_empty(
        {
            "resourceType": "MedicationRequest",
            "id": str(med.pk),
            "meta": c.meta(med, "recorded_at"),
            "status": med.status,
            "intent": "order",
            "medicationCodeableConcept": c.coded(med.code_system, med.code, med.display),
            "subject": c.patient_ref(med),
            "authoredOn": c.instant(med.recorded_at) if med.recorded_at else None,
            "requester": {"display": med.prescriber} if med.prescriber else None,
            "reasonCode": [{"text": med.indication}] if med.indication else [],
            "note": c.annotation(med.note),
            "dosageInstruction": [dosage] if dosage else [],
        }
    )


def statement_to_fhir(med: Medication) -> dict[str, Any]:
    _check_kind(med, Medication.Kind.STATEMENT)
    dosage = _dosage_out(med, bounds=False)
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": str(med.pk),
        "meta": c.meta(med, "recorded_at"),
        "extension": (
            [{"url": EXT_PRESCRIBER, "valueString": med.prescriber}] if med.prescriber else []
        ),
        "status": med.status,
        "medicationCodeableConcept": c.coded(med.code_system, med.code, med.display),
        "subject": c.patient_ref(med),
        "dateAsserted": c.instant(med.recorded_at) if med.recorded_at else None,
        "reasonCode": [{"text": med.indication}] if med.indication else [],
        "note": c.annotation(med.note),
        "dosage": [dosage] if dosage else [],
    }
    if med.end_date:
        resource["effectivePeriod"] = c.drop_empty(
            {"start": c.day(med.start_date) if med.start_date else None, "end": c.day(med.end_date)}
        )
    elif med.start_date:
        resource["effectiveDateTime"] = c.day(med.start_date)
    return c.drop_empty(resource)


def _dosage_out(med: Medication, bounds: bool) -> dict[str, Any]:
    timing: dict[str, Any] = {}
    if med.frequency:
        timing["code"] = {"text": med.frequency}
    if bounds and (med.start_date or med.end_date):
        timing["repeat"] = {
            "boundsPeriod": c.drop_empty(
                {
                    "start": c.day(med.start_date) if med.start_date else None,
                    "end": c.day(med.end_date) if med.end_date else None,
                }
            )
        }
    dosage: dict[str, Any] = {}
    match = DOSE_QUANTITY.match(med.dose)
    if match:
        dosage["doseAndRate"] = [
            {"doseQuantity": {"value": _decimal(match.group(1)), "unit": match.group(2)}}
        ]
    elif med.dose:
        dosage["extension"] = [{"url": EXT_DOSE, "valueString": med.dose}]
    return c.drop_empty(
        {
            **dosage,
            "text": _directions(med.dose, med.route, med.frequency, med.as_needed),
            "timing": timing,
            "asNeededBoolean": True if med.as_needed else None,
            "route": {"text": med.route} if med.route else None,
        }
    )


def _directions(dose: str, route: str, frequency: str, as_needed: bool) -> str:
    words = " ".join(p for p in (dose, route, frequency) if p)
    return f"{words} as needed".strip() if as_needed else words


def _decimal(text: str) -> int | float:
    return float(text) if "." in text else int(text)


# --- in ------------------------------------------------------------------------------------------


def request_from_fhir(resource: dict[str, Any]) -> Incoming:
    kind = "MedicationRequest"
    row = _common_in(resource, kind, REQUEST_STATUSES)
    row["kind"] = Medication.Kind.REQUEST
    c.required_text(resource, "intent", kind, "R4 requires the intent")
    c.code_in(resource, "intent", kind, INTENTS, "order")
    references: dict[str, str] = {}
    requester = c.obj(resource, "requester", kind)
    row["prescriber"] = c.text(requester, "display", f"{kind}.requester")
    if not row["prescriber"] and requester.get("reference"):
        references["prescriber"] = c.text(requester, "reference", f"{kind}.requester")
    authored = c.optional_datetime(resource, "authoredOn", kind)
    if authored is not None:
        row["recorded_at"] = authored
    dosages = c.objects(resource, "dosageInstruction", kind)
    row.update(_dosage_in(dosages[0] if dosages else {}, f"{kind}.dosageInstruction[0]", True))
    return _incoming(resource, kind, row, references)


def statement_from_fhir(resource: dict[str, Any]) -> Incoming:
    kind = "MedicationStatement"
    row = _common_in(resource, kind, STATEMENT_STATUSES)
    row["kind"] = Medication.Kind.STATEMENT
    prescriber = c.extension(resource, EXT_PRESCRIBER, kind)
    row["prescriber"] = (
        c.text(prescriber, "valueString", f"{kind}.extension(prescriber)") if prescriber else ""
    )
    asserted = c.optional_datetime(resource, "dateAsserted", kind)
    if asserted is not None:
        row["recorded_at"] = asserted
    dosages = c.objects(resource, "dosage", kind)
    row.update(_dosage_in(dosages[0] if dosages else {}, f"{kind}.dosage[0]", False))
    if "effectiveDateTime" in resource:
        row["start_date"] = c.parse_date(resource["effectiveDateTime"], f"{kind}.effectiveDateTime")
    period = c.obj(resource, "effectivePeriod", kind)
    if period:
        row["start_date"] = c.optional_date(period, "start", f"{kind}.effectivePeriod")
        row["end_date"] = c.optional_date(period, "end", f"{kind}.effectivePeriod")
    return _incoming(resource, kind, row, {})


def _common_in(resource: dict[str, Any], kind: str, statuses: frozenset[str]) -> dict[str, Any]:
    system, code, display = _medication(resource, kind)
    if "status" not in resource:
        raise Invalid(f"{kind}.status", "missing: R4 requires the status")
    indication = ""
    for index, reason in enumerate(c.objects(resource, "reasonCode", kind)):
        indication = indication or c.concept(reason, f"{kind}.reasonCode[{index}]")[2]
    return {
        "code_system": system,
        "code": code,
        "display": display or code,
        "status": c.code_in(resource, "status", kind, statuses, "active"),
        "indication": indication,
        "note": c.notes(resource, kind),
        "start_date": None,
        "end_date": None,
    }


def _medication(resource: dict[str, Any], kind: str) -> tuple[str, str, str]:
    if "medicationCodeableConcept" in resource:
        found = c.concept(
            resource["medicationCodeableConcept"],
            f"{kind}.medicationCodeableConcept",
            (codes.RXNORM,),
        )
        if found[1] or found[2]:
            return found
    reference = c.obj(resource, "medicationReference", kind)
    target = c.text(reference, "reference", f"{kind}.medicationReference")
    if target.startswith("#"):
        for item in c.objects(resource, "contained", kind):
            if item.get("resourceType") == "Medication" and item.get("id") == target[1:]:
                found = c.concept(item.get("code"), f"{kind}.contained.code", (codes.RXNORM,))
                if found[1] or found[2]:
                    return found
    label = c.text(reference, "display", f"{kind}.medicationReference")
    if label:
        return "", "", label
    raise Invalid(
        f"{kind}.medication[x]",
        "missing: Careway needs the medication coded or in words (medicationCodeableConcept, "
        "a contained Medication or a reference with a display)",
    )


def _dosage_in(dosage: dict[str, Any], where: str, bounds: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"dose": "", "route": "", "frequency": "", "as_needed": False}
    dose = c.extension(dosage, EXT_DOSE, where)
    if dose is not None:
        row["dose"] = c.text(dose, "valueString", f"{where}.extension(dose)")
    else:
        for index, rate in enumerate(c.objects(dosage, "doseAndRate", where)):
            quantity = c.obj(rate, "doseQuantity", f"{where}.doseAndRate[{index}]")
            if quantity:
                row["dose"] = _quantity_words(
                    quantity, f"{where}.doseAndRate[{index}].doseQuantity"
                )
                break
    row["route"] = c.concept(dosage.get("route"), f"{where}.route")[2]
    timing = c.obj(dosage, "timing", where)
    row["frequency"] = c.concept(timing.get("code"), f"{where}.timing.code")[2] or _repeat_words(
        c.obj(timing, "repeat", f"{where}.timing"), f"{where}.timing.repeat"
    )
    row["as_needed"] = c.boolean(dosage, "asNeededBoolean", where) or bool(
        dosage.get("asNeededCodeableConcept")
    )
    directions = c.text(dosage, "text", where)
    if not (row["dose"] or row["route"] or row["frequency"]) and directions != _directions(
        "", "", "", row["as_needed"]
    ):
        if len(directions) <= LIMITS["frequency"]:
            row["frequency"] = directions
        else:
            row["directions"] = directions
    if bounds:
        period = c.obj(c.obj(timing, "repeat", f"{where}.timing"), "boundsPeriod", where)
        row["start_date"] = c.optional_date(period, "start", f"{where}.timing.repeat.boundsPeriod")
        row["end_date"] = c.optional_date(period, "end", f"{where}.timing.repeat.boundsPeriod")
    return row


def _quantity_words(quantity: dict[str, Any], where: str) -> str:
    value = c.number(quantity, "value", where)
    unit = c.text(quantity, "unit", where) or c.text(quantity, "code", where)
    number = "" if value is None else (str(int(value)) if value.is_integer() else repr(value))
    return f"{number} {unit}".strip()


def _repeat_words(repeat: dict[str, Any], where: str) -> str:
    frequency = c.number(repeat, "frequency", where)
    period = c.number(repeat, "period", where)
    unit = PERIOD_UNITS.get(c.text(repeat, "periodUnit", where), "")
    if frequency is None or period is None or not unit:
        return ""
    times = f"{int(frequency)} time{'s' if frequency != 1 else ''}"
    every = f"{period:g} {unit}{'s' if period != 1 else ''}"
    return f"{times} per {every}"


def _incoming(
    resource: dict[str, Any], kind: str, row: dict[str, Any], references: dict[str, str]
) -> Incoming:
    directions = row.pop("directions", "")
    if directions:
        row["note"] = "\n\n".join(p for p in (directions, row["note"]) if p)
    for index, reason in enumerate(c.objects(resource, "reasonReference", kind)):
        where = f"{kind}.reasonReference[{index}]"
        if not row["indication"]:
            row["indication"] = c.text(reason, "display", where)
            if not row["indication"] and reason.get("reference"):
                references["indication"] = c.text(reason, "reference", where)
    c.check_lengths(row, LIMITS, ELEMENTS[kind])
    return Incoming(
        resource_type=kind,
        model=Medication,
        rows=[row],
        subject=c.reference(resource, "subject", kind),
        references=references,
        source_id=c.text(resource, "id", kind),
        identifiers=c.identifiers(resource, kind),
    )


# --- search --------------------------------------------------------------------------------------

# Codes outside Careway's own choices are kept as written by import, so every code of the value
# set is searched as itself.
REQUEST_STATUS_CODES = search.value_set(
    *search.stored_as_is(
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
STATEMENT_STATUS_CODES = search.value_set(
    *search.stored_as_is(
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


def _requests(rows: QuerySet) -> QuerySet:
    return rows.filter(kind=Medication.Kind.REQUEST)


def _statements(rows: QuerySet) -> QuerySet:
    return rows.filter(kind=Medication.Kind.STATEMENT)


def _search(
    scope: Callable[[QuerySet], QuerySet], status: search.TokenParam
) -> search.SearchDeclaration:
    return search.SearchDeclaration(
        order=("-recorded_at", "-id"),
        scope=scope,
        includes=("patient", "subject"),
        sort_description="most recently recorded first",
        params=search.with_patient(
            {"_id": search.IdParam(locate=search.locate_by_int), "status": status}
        ),
    )


register(
    ResourceDeclaration(
        "MedicationRequest",
        Medication,
        from_fhir=request_from_fhir,
        to_fhir=request_to_fhir,
        elements=ELEMENTS["MedicationRequest"],
        search=_search(
            _requests,
            search.TokenParam(
                "status", codes=REQUEST_STATUS_CODES, description="The order's status."
            ),
        ),
        export=Export(
            rows=patient_rows(Medication, kind=Medication.Kind.REQUEST),
            changed_since=changed_after("recorded_at"),
        ),
    )
)
register(
    ResourceDeclaration(
        "MedicationStatement",
        Medication,
        from_fhir=statement_from_fhir,
        to_fhir=statement_to_fhir,
        elements=ELEMENTS["MedicationStatement"],
        search=_search(
            _statements,
            search.TokenParam(
                "status",
                codes=STATEMENT_STATUS_CODES,
                description="Whether the patient takes it.",
            ),
        ),
        export=Export(
            rows=patient_rows(Medication, kind=Medication.Kind.STATEMENT),
            changed_since=changed_after("recorded_at"),
        ),
    )
)

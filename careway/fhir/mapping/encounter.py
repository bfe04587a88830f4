"""Encounter <-> careway.patients.Encounter.

- class <-> kind, v3 ActCode: HH (home visit), AMB, EMER, IMP, VR. Read, the other inpatient-like
  classes (ACUTE, NONAC, SS, OBSENC) read as IMP and PRENC as AMB; any other class is refused.
- type[0] <-> type_system / type_code / type_display (SNOMED CT first). Without a type, the
  class in words ("Home visit") is the type's display.
- status: the FHIR code; arrived, triaged, onleave and unknown are kept as written.
- period <-> period_start / period_end; a start is required (Careway lists visits by time).
- reasonCode (every reason in words, joined by "; ") <-> reason, written as one reason in words.
- location[0].location.display <-> location; participant[0].individual.display <->
  practitioner (a participant with only a reference leaves `references["practitioner"]` for the
  importer to fill in with the person's name).
- episodeOfCare[0] <-> episode ("EpisodeOfCare/<pk>"; read as `references["episode"]`).
"""

from typing import Any

from careway.fhir import codes, search
from careway.patients.models import Encounter

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

PATH = "Encounter"
LIMITS = c.limits(Encounter)
ELEMENTS = {
    "type_display": "Encounter.type",
    "type_code": "Encounter.type.coding.code",
    "type_system": "Encounter.type.coding.system",
    "reason": "Encounter.reasonCode",
    "location": "Encounter.location.location.display",
    "practitioner": "Encounter.participant.individual.display",
}
KINDS = dict(Encounter.Kind.choices)
CLASSES = {
    **{kind: kind for kind in KINDS},
    "ACUTE": "IMP",
    "NONAC": "IMP",
    "SS": "IMP",
    "OBSENC": "IMP",
    "PRENC": "AMB",
}
STATUSES = frozenset(
    {"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
     "entered-in-error", "unknown"}
)  # fmt: skip


def encounter_to_fhir(encounter: Encounter) -> dict[str, Any]:
    return c.drop_empty(
        {
            "resourceType": "Encounter",
            "id": str(encounter.pk),
            "meta": c.meta(encounter),
            "status": encounter.status,
            "class": c.coding(codes.ACT_CODE, encounter.kind, KINDS.get(encounter.kind, "")),
            "type": [c.coded(encounter.type_system, encounter.type_code, encounter.type_display)],
            "subject": c.patient_ref(encounter),
            "episodeOfCare": (
                [{"reference": f"EpisodeOfCare/{encounter.episode_id}"}]
                if encounter.episode_id
                else []
            ),
            "participant": (
                [{"individual": {"display": encounter.practitioner}}]
                if encounter.practitioner
                else []
            ),
            "period": c.drop_empty(
                {
                    "start": c.instant(encounter.period_start),
                    "end": c.instant(encounter.period_end) if encounter.period_end else None,
                }
            ),
            "reasonCode": [{"text": encounter.reason}] if encounter.reason else [],
            "location": (
                [{"location": {"display": encounter.location}}] if encounter.location else []
            ),
        }
    )


def encounter_from_fhir(resource: dict[str, Any]) -> Incoming:
    references: dict[str, str] = {}
    period = c.obj(resource, "period", PATH)
    if period.get("start") is None:
        raise Invalid("Encounter.period.start", "missing: Careway needs when the visit began")
    row: dict[str, Any] = {
        "kind": _kind(resource),
        "status": c.code_in(resource, "status", PATH, STATUSES, "finished"),
        "period_start": c.parse_datetime(period["start"], "Encounter.period.start"),
        "period_end": c.optional_datetime(period, "end", "Encounter.period"),
        "reason": _reasons(resource),
        "location": "",
        "practitioner": "",
    }
    if "status" not in resource:
        raise Invalid("Encounter.status", "missing: R4 requires the status")
    types = c.objects(resource, "type", PATH)
    system, code, display = c.concept(
        types[0] if types else None, "Encounter.type[0]", (codes.SNOMED,)
    )
    row.update(
        type_system=system, type_code=code, type_display=display or code or KINDS[row["kind"]]
    )
    for index, place in enumerate(c.objects(resource, "location", PATH)):
        row["location"] = c.text(
            c.obj(place, "location", f"Encounter.location[{index}]"), "display", PATH
        )
        break
    for index, person in enumerate(c.objects(resource, "participant", PATH)):
        individual = c.obj(person, "individual", f"Encounter.participant[{index}]")
        row["practitioner"] = c.text(individual, "display", "Encounter.participant.individual")
        if not row["practitioner"] and individual.get("reference"):
            references["practitioner"] = c.text(individual, "reference", "Encounter.participant")
        break
    for episode in c.objects(resource, "episodeOfCare", PATH):
        if episode.get("reference"):
            references["episode"] = c.text(episode, "reference", "Encounter.episodeOfCare")
            break
    c.check_lengths(row, LIMITS, ELEMENTS)
    return Incoming(
        resource_type=PATH,
        model=Encounter,
        rows=[row],
        subject=c.reference(resource, "subject", PATH),
        references=references,
        source_id=c.text(resource, "id", PATH),
        identifiers=c.identifiers(resource, PATH),
    )


def _kind(resource: dict[str, Any]) -> str:
    klass = resource.get("class")
    if klass is None:
        raise Invalid("Encounter.class", "missing: R4 requires the class (for example AMB, HH)")
    if not isinstance(klass, dict):
        raise Invalid("Encounter.class", "wrong type: expected a Coding")
    code = c.text(klass, "code", "Encounter.class")
    if code not in CLASSES:
        raise Invalid(
            "Encounter.class", f"unknown class {code!r}: Careway keeps {', '.join(KINDS)}"
        )
    return CLASSES[code]


def _reasons(resource: dict[str, Any]) -> str:
    words = []
    for index, reason in enumerate(c.objects(resource, "reasonCode", PATH)):
        word = c.concept(reason, f"Encounter.reasonCode[{index}]", (codes.SNOMED,))[2]
        if word and word not in words:
            words.append(word)
    return "; ".join(words)


# --- search --------------------------------------------------------------------------------------

STATUS_CODES = search.value_set(
    *search.stored_as_is(
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

SEARCH = search.SearchDeclaration(
    order=("-period_start", "-id"),
    includes=("patient", "subject"),
    sort_description="most recent first",
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=search.locate_by_int),
            "date": search.DateParam(
                "period_start",
                "period_end",
                description="When it took place (its period; eq, ne, gt, lt, ge, le).",
            ),
            "status": search.TokenParam(
                "status", codes=STATUS_CODES, description="The encounter's status."
            ),
        }
    ),
)

# An encounter keeps no time it was recorded: `_since` goes by when it began.
register(
    ResourceDeclaration(
        "Encounter",
        Encounter,
        from_fhir=encounter_from_fhir,
        to_fhir=encounter_to_fhir,
        elements=ELEMENTS,
        search=SEARCH,
        export=Export(rows=patient_rows(Encounter), changed_since=changed_after("period_start")),
    )
)

"""Procedure <- careway.careplans.TeachingRecord: one teaching of one topic, written only (read,
searched and exported; never written through FHIR: a teaching is recorded in Careway, with its
teach-back).

Served as Procedure beside the chart's procedures (careway.patients.Procedure, procedure.py):
registered with `also=True`, read and searched with them, exported after them. Ids:
`teaching-<uuid>` (a chart procedure's are numbers, so the two never meet).

- code: SNOMED CT 311401005 "Patient education (procedure)" (as HL7's own R4 examples code patient
  education), and Careway's teaching-topic code (the handout's key, with the topic's title);
  code.text is the topic's title as taught.
- category: SNOMED CT 409073007 Education, from R4's procedure-category value set.
- status: completed, or entered-in-error; performedDateTime: when it was taught.
- performer: the clinician who taught, by name (Careway serves no Practitioner).
- To whom: R4's Procedure has no element for it (performer.onBehalfOf is the performer's
  organization, not the audience). R5 added Procedure.focus for exactly this ("when a caregiver is
  given education for a patient, the caregiver would be the focus"), so it is written with HL7's
  cross-version extension for R5's Procedure.focus in R4: the Patient, or the caregiver as a
  reference to their RelatedPerson (by name alone when the record names no one).
- How: one extension procedure-method (R4's own) per method, in Careway's teaching-method codes
  with their words: explained, demonstrated, handout (the handout's title, version and language
  in its text).
- outcome: the teach-back result (Careway's teach-back codes, with their words).
- followUp: the task raised for the next visit when it needs reinforcement, in words.
- basedOn: the CarePlan, and the intervention's ServiceRequest (part 1) when it served one; the
  goal it serves with the standard extension resource-pertainsToGoal. No `report`.
- note: the teacher's notes.
meta.versionId is the record's version; earlier versions are not served (vread).
"""

from typing import Any

from django.db.models import Q, QuerySet

from careway.careplans.models import TeachingRecord
from careway.fhir import codes, search

from . import Export, ResourceDeclaration, changed_after, patient_rows, register
from . import common as c
from . import plan_common as pc
from .service_request import PERTAINS_TO_GOAL

ID_PREFIX = "teaching-"
EDUCATION = c.coding(codes.SNOMED, "311401005", "Patient education (procedure)")
CATEGORY = {"coding": [c.coding(codes.SNOMED, "409073007", "Education")], "text": "Education"}
# HL7's cross-version extension for R5's Procedure.focus, and R4's own procedure-method.
FOCUS = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Procedure.focus"
METHOD = "http://hl7.org/fhir/StructureDefinition/procedure-method"
TOPIC = f"{codes.CAREWAY}CodeSystem:teaching-topic"
TEACHING_METHOD = f"{codes.CAREWAY}CodeSystem:teaching-method"
TEACH_BACK = f"{codes.CAREWAY}CodeSystem:teach-back"
RESULTS = dict(TeachingRecord.Result.choices)
LANGUAGES = {"en": "English", "es": "Spanish"}
STATUSES = ("completed", "entered-in-error")
# R4's event statuses a teaching never has (recorded when done): searching by them finds none.
NEVER = ("preparation", "in-progress", "not-done", "on-hold", "stopped", "unknown")


def teaching_id(record: TeachingRecord) -> str:
    return f"{ID_PREFIX}{record.pk}"


def teaching_to_fhir(record: TeachingRecord) -> dict[str, Any]:
    extensions: list[dict[str, Any]] = [{"url": FOCUS, "valueReference": _audience(record)}]
    extensions += [{"url": METHOD, "valueCodeableConcept": m} for m in _methods(record)]
    if record.goal_id:
        assert record.goal is not None
        goal = {"reference": f"Goal/{record.goal_id}", "display": record.goal.description}
        extensions.append({"url": PERTAINS_TO_GOAL, "valueReference": goal})
    based_on = [pc.plan_reference(record.plan_id)] if record.plan_id else []
    if record.intervention_id:
        ident = pc.request_id(pc.INTERVENTION_PREFIX, record.intervention_id, 1)
        based_on.append({"reference": f"ServiceRequest/{ident}"})
    result = RESULTS.get(record.result, record.result)
    follow_up = []
    if record.follow_up_id:
        assert record.follow_up is not None
        follow_up = [{"text": f"Reinforce at the next visit: {record.follow_up.title}"}]
    return c.drop_empty(
        {
            "resourceType": "Procedure",
            "id": teaching_id(record),
            "meta": c.meta(record, "updated_at"),
            "extension": extensions,
            "basedOn": based_on,
            "status": record.status,
            "category": CATEGORY,
            "code": {
                "coding": [EDUCATION, c.coding(TOPIC, record.topic, record.topic_title)],
                "text": record.topic_title,
            },
            "subject": c.patient_ref(record),
            "performedDateTime": c.instant(record.taught_at),
            "performer": (
                [{"actor": {"display": record.taught_by.display_name}}] if record.taught_by else []
            ),
            "outcome": {
                "coding": [c.coding(TEACH_BACK, record.result, result)],
                "text": f"Teach-back: {result.lower()}",
            },
            "followUp": follow_up,
            "note": c.annotation(record.notes),
        }
    )


def _audience(record: TeachingRecord) -> dict[str, Any]:
    if record.audience == TeachingRecord.Audience.PATIENT:
        return c.patient_ref(record)
    if record.caregiver_id:
        assert record.caregiver is not None
        return {
            "reference": f"RelatedPerson/{record.caregiver_id}",
            "display": record.caregiver.name,
        }
    return {"display": "Caregiver"}


def _methods(record: TeachingRecord) -> list[dict[str, Any]]:
    said = []
    if record.explained:
        said.append(("explained", "Explained", "Explained"))
    if record.demonstrated:
        said.append(("demonstrated", "Demonstrated", "Demonstrated"))
    if record.handout_given:
        language = LANGUAGES.get(record.language, record.language)
        version = f", version {record.handout_version}" if record.handout_version else ""
        words = f"Handout given: {record.topic_title}{version}, in {language}"
        said.append(("handout", "Handout given", words))
    return [
        {"coding": [c.coding(TEACHING_METHOD, code, label)], "text": words}
        for code, label, words in said
    ]


# --- search and export ---------------------------------------------------------------------------


def locate_teaching(ident: str) -> Q | None:
    if not ident.startswith(ID_PREFIX):
        return None
    key = ident[len(ID_PREFIX) :]
    pk = search.uuid_id(key)
    return Q(pk=pk) if pk is not None and str(pk) == key else None


def with_links(rows: QuerySet) -> QuerySet:
    return rows.select_related("goal", "caregiver", "taught_by", "follow_up")


def _teaching_of(patient_ids: list[Any]) -> QuerySet:
    return with_links(patient_rows(TeachingRecord)(patient_ids))


# The same parameters and order (-time, -id) as the chart's procedures (procedure.py), so that one
# page can take rows from both.
SEARCH = search.SearchDeclaration(
    order=("-created_at", "-id"),
    locate=locate_teaching,
    scope=with_links,
    includes=("patient", "subject"),
    sort_description="most recently recorded first",
    versioned=False,
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=locate_teaching),
            "status": search.TokenParam(
                "status",
                codes=search.value_set(*search.stored_as_is(*STATUSES), *search.not_stored(*NEVER)),
                description="The procedure's status.",
            ),
            "date": search.DateParam(
                "taught_at", description="When it was done (eq, ne, gt, lt, ge, le)."
            ),
        }
    ),
)

register(
    ResourceDeclaration(
        "Procedure",
        TeachingRecord,
        to_fhir=teaching_to_fhir,
        search=SEARCH,
        export=Export(rows=_teaching_of, changed_since=changed_after("updated_at")),
        notes=(
            "Teaching recorded in Careway is a Procedure too (id teaching-<uuid>, SNOMED CT "
            "311401005 Patient education; to whom in the cross-version extension for R5's "
            "Procedure.focus; the teach-back in outcome): read, searched and exported, never "
            "written here; no earlier versions.",
        ),
        read_only_because="a teaching recorded in Careway; record teaching in Careway",
    ),
    also=True,
)

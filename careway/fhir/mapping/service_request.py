"""ServiceRequest <- a care plan's visit frequencies and interventions (careway.careplans), written
only. This module owns the type: later domains add their kinds of request as further
declarations (`also=True`), each with ids of its own prefix.

A Timing holds one repeat, so a frequency of several parts is several ServiceRequests, one a part
(careway/fhir/timing.py writes each part's occurrenceTiming and asNeeded[x]):
- id `frequency-<uuid>-<n>` or `intervention-<uuid>-<n>`, n the part, from 1 (an intervention
  without a frequency of its own is part 1 alone);
- linked in order: the parts of one frequency share `requisition` (R4's "composite or group
  identifier" of requests made together: system urn:careway:fhir:visit-frequency or
  urn:careway:fhir:intervention, value the row's id), and Careway's extension frequency-part
  (valuePositiveInt) says which part each is, since nothing in R4 orders requests; each part
  starts where the previous one ends, from `authoredOn`, the start date (timing.py). `basedOn`
  is the CarePlan; the CarePlan's activities list the parts in order too.

Visit frequency (DisciplineFrequency): category Careway service-request-kind `visit-frequency`;
code and performerType the discipline (Careway's discipline code system, with its words: no
standard code says "physical therapy visits"); the whole notation and its words in `note`;
status active, revoked (stopped) or entered-in-error.

Intervention: categories `intervention` and its kind (Careway intervention-kind: teach, perform,
monitor, coordinate, refer); code.text its words; performerType the discipline, performer a
family caregiver as a reference to their RelatedPerson, the patient themself (by_patient) as a
reference to the Patient (the subject), or a named clinician by name (Careway serves no
Practitioner); at the visits of a discipline: Careway's extension at-visits-of;
occurrenceTiming when it has a frequency of its own (a PRN one), else occurrencePeriod (start,
end); the goal it serves with the standard extension resource-pertainsToGoal (R4's reasonReference
does not take a Goal), its problem in reasonReference (a Condition of the chart) or reasonCode
(a problem in words); status active, on-hold, completed, revoked (cancelled) or entered-in-error.

A visit frequency is one of the physician's orders: the plan of care that carries it (of its
plan, sent or signed, whose certification period holds today in the agency's zone, else the
latest sent) says where its signature stands, with Careway's extension signature-status
(plan_common.py: sent, signed or overdue, and the due date), and `supportingInfo` refers to that
plan of care's DocumentReference (document_reference.py). A frequency no plan of care was sent
with yet has neither.

Either kind: intent `plan`; while its plan is not in effect, an active request takes the plan's
status (a draft plan's requests are drafts). meta.versionId is the row's version (its ETag);
earlier versions are not served (vread), since an id names one part of a row's notation as it
is now.

Verbal order (careway.careplans.VerbalOrder, declared `also=True`, id `verbal-order-<uuid>`): an
order a practitioner gave by word, written down and read back by the clinician who took it.
Category Careway service-request-kind `verbal-order`; intent `order`; status active (taken, sent
or signed: the order stands from when it is given) or entered-in-error; where its signature
stands, with the extension signature-status (taken, sent, signed or overdue, the due date, when
sent and signed); requester: the practitioner who gave it, by name and kind (Careway serves no
Practitioner); performerType the discipline it is for, if any; authoredOn: when it was taken;
note: the order as written, by the clinician who took it and when (and that it was read back);
basedOn the CarePlan; supportingInfo the plan of care it was sent with (its DocumentReference),
once that one is sent. Not part of a plan's activities, and never taken in (careplan_draft.py
reads only the plan's own kinds).

Served by the API (read; search by patient, _id, status), paged by resource; exported, every
part; never taken in (a Careway plan's requests are read back by careplan_draft.py). Not written
through FHIR.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from careway.careplans.frequency import parse
from careway.careplans.models import DisciplineFrequency, Intervention, PlanOfCare, VerbalOrder
from careway.fhir import codes, search, timing

from . import Export, ResourceDeclaration, changed_after, patient_rows, register
from . import common as c
from . import plan_common as pc

FREQUENCY_REQUISITION = f"{codes.CAREWAY}visit-frequency"
INTERVENTION_REQUISITION = f"{codes.CAREWAY}intervention"
PERTAINS_TO_GOAL = "http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal"
FREQUENCY_STATUS = {
    "active": "active",
    "stopped": "revoked",
    "entered-in-error": "entered-in-error",
}
INTERVENTION_STATUS = {
    "active": "active",
    "on-hold": "on-hold",
    "completed": "completed",
    "cancelled": "revoked",
    "entered-in-error": "entered-in-error",
}
KIND_LABELS = dict(Intervention.Kind.choices)


def _status(row_status: str, plan_status: str) -> str:
    """The request's status: the row's, but an active request of a plan not in effect takes the
    plan's (a draft plan's requests are drafts, a completed plan's completed)."""
    if row_status == "active" and plan_status != "active":
        return plan_status
    return row_status


def _kind(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": pc.REQUEST_KIND, "code": code, "display": display}]}


def _timing(notation: str, part: int) -> dict[str, Any]:
    return timing.part_to_fhir(parse(notation).parts[part - 1])


def _in_words(notation: str) -> str:
    return f"{notation}: {parse(notation).in_words()}"


def frequency_to_fhir(row: DisciplineFrequency, part: int = 1) -> dict[str, Any]:
    count = pc.part_count(row.frequency)
    label = pc.DISCIPLINES.get(row.discipline, row.discipline)
    carried_by = plan_of_care_of(row)
    return c.drop_empty(
        {
            "resourceType": "ServiceRequest",
            "id": pc.request_id(pc.FREQUENCY_PREFIX, row.pk, part),
            "meta": c.meta(row, "updated_at"),
            "extension": [
                {"url": pc.EXT_PART, "valuePositiveInt": part},
                *(pc.signature_extension(carried_by) if carried_by else []),
            ],
            "basedOn": [pc.plan_reference(row.plan_id)],
            "requisition": {"system": FREQUENCY_REQUISITION, "value": str(row.pk)},
            "status": _status(FREQUENCY_STATUS[row.status], row.plan.status),
            "intent": "plan",
            "category": [_kind("visit-frequency", "Visit frequency")],
            "code": pc.discipline_concept(row.discipline, f"{label} visits"),
            "subject": c.patient_ref(row),
            **_timing(row.frequency, part),
            "authoredOn": c.day(row.start_date),
            "performerType": pc.discipline_concept(row.discipline),
            "supportingInfo": [_document(carried_by)] if carried_by else [],
            "note": [{"text": f"Part {part} of {count}. {_in_words(row.frequency)}"}],
        }
    )


def plan_of_care_of(row: DisciplineFrequency) -> PlanOfCare | None:
    """The plan of care that carries a frequency: of its plan, sent or signed, whose period holds
    today (in the agency's zone), else the latest sent; None when none was sent."""
    carrying = getattr(row.plan, "served_plans_of_care", None)
    if carrying is None:
        carrying = list(_carrying(PlanOfCare.objects.filter(plan_id=row.plan_id)))
    if not carrying:
        return None
    today = pc.agency_today(carrying[0].organization)
    in_effect = [p for p in carrying if p.period_start <= today <= p.period_end]
    return (in_effect or carrying)[0]


def _carrying(rows: QuerySet) -> QuerySet:
    """Plans of care that carry their plan's frequencies (sent or signed, with their document),
    latest first, without the document itself (a ServiceRequest needs only where it stands)."""
    return (
        rows.filter(
            pc.PLAN_OF_CARE_SERVED, status__in=(PlanOfCare.Status.SENT, PlanOfCare.Status.SIGNED)
        )
        .defer("sent_pdf", "content")
        .select_related("organization")
        .order_by("-period_start", "-created_at")
    )


def _document(plan_of_care: PlanOfCare) -> dict[str, Any]:
    period = f"{c.day(plan_of_care.period_start)} to {c.day(plan_of_care.period_end)}"
    return {
        "reference": f"DocumentReference/{plan_of_care.pk}",
        "display": f"Plan of care {period}",
    }


def intervention_to_fhir(row: Intervention, part: int = 1) -> dict[str, Any]:
    extensions: list[dict[str, Any]] = []
    if row.frequency:
        extensions.append({"url": pc.EXT_PART, "valuePositiveInt": part})
    if row.at_visits_of:
        at = pc.discipline_concept(row.at_visits_of)["coding"][0]
        extensions.append({"url": pc.EXT_AT_VISITS_OF, "valueCoding": at})
    if row.goal is not None:
        goal = {"reference": f"Goal/{row.goal_id}", "display": row.goal.description}
        extensions.append({"url": PERTAINS_TO_GOAL, "valueReference": goal})
    when: dict[str, Any]
    if row.frequency:
        when = _timing(row.frequency, part)
    else:
        period = {"start": c.day(row.start_date)}
        when = {"occurrencePeriod": period | ({"end": c.day(row.end_date)} if row.end_date else {})}
    label = KIND_LABELS[row.kind]
    problem = row.problem
    return c.drop_empty(
        {
            "resourceType": "ServiceRequest",
            "id": pc.request_id(pc.INTERVENTION_PREFIX, row.pk, part),
            "meta": c.meta(row, "updated_at"),
            "extension": extensions,
            "basedOn": [pc.plan_reference(row.plan_id)],
            "requisition": {"system": INTERVENTION_REQUISITION, "value": str(row.pk)},
            "status": _status(INTERVENTION_STATUS[row.status], row.plan.status),
            "intent": "plan",
            "category": [
                _kind("intervention", "Care plan intervention"),
                {
                    "coding": [
                        {"system": pc.INTERVENTION_KIND, "code": row.kind, "display": label}
                    ],
                    "text": label,
                },
            ],
            "code": {"text": row.text},
            "subject": c.patient_ref(row),
            **when,
            "authoredOn": c.day(row.start_date),
            "performerType": pc.discipline_concept(row.discipline) if row.discipline else None,
            "performer": _performers(row),
            "reasonReference": (
                [pc.problem_reference(problem)] if problem and problem.condition_id else []
            ),
            "reasonCode": (
                [{"text": problem.text}] if problem and not problem.condition_id else []
            ),
        }
    )


def _performers(row: Intervention) -> list[dict[str, Any]]:
    if row.by_patient:
        return [c.patient_ref(row)]
    if row.caregiver_id:
        assert row.caregiver is not None
        return [{"reference": f"RelatedPerson/{row.caregiver_id}", "display": row.caregiver.name}]
    if row.clinician_id:
        assert row.clinician is not None
        return [{"display": row.clinician.display_name}]
    return []


def frequency_parts(row: DisciplineFrequency) -> int:
    return pc.part_count(row.frequency)


def intervention_parts(row: Intervention) -> int:
    return pc.part_count(row.frequency)


# --- search and export ---------------------------------------------------------------------------


def with_plans(rows: QuerySet) -> QuerySet:
    carrying = _carrying(PlanOfCare.objects.all())
    return rows.select_related("plan").prefetch_related(
        Prefetch("plan__plans_of_care", queryset=carrying, to_attr="served_plans_of_care")
    )


def with_plans_and_people(rows: QuerySet) -> QuerySet:
    return rows.select_related("plan", "goal", "problem", "clinician", "caregiver")


PLAN_STATUSES = ("draft", "active", "on-hold", "completed", "revoked", "entered-in-error")


@dataclass(frozen=True)
class RequestStatusParam(search.TokenParam):
    """status as the resource says it: the row's own, or, for an active row, its plan's when the
    plan is not in effect (see `_status`)."""

    def _one(self, name: str, value: str) -> Q:
        _, code = search.split_token(value)
        assert self.codes is not None
        if code not in self.codes:
            choices = ", ".join(self.codes)
            raise search.SearchError(
                name, f"{name}: {code!r} is not one of {choices}.", "code-invalid"
            )
        found = Q(status__in=[row for row in self.codes[code] if row != "active"])
        if code in PLAN_STATUSES:
            found |= Q(status="active", plan__status=code)
        return found


def _status_param(row_codes: dict[str, str]) -> RequestStatusParam:
    pairs = [(fhir, row) for row, fhir in row_codes.items()]
    return RequestStatusParam(
        "status",
        codes=search.value_set(*pairs, *search.not_stored(*PLAN_STATUSES)),
        description="The request's status (a draft plan's requests are drafts).",
    )


def _search(prefix: str, scope: Any, codes_of: dict[str, str]) -> search.SearchDeclaration:
    locate = pc.locate_request(prefix)
    return search.SearchDeclaration(
        order=("-created_at", "-id"),
        locate=locate,
        scope=scope,
        includes=("patient", "subject"),
        sort_description="most recently planned first",
        versioned=False,
        params=search.with_patient(
            {
                "_id": search.IdParam(locate=locate),
                "status": _status_param(codes_of),
            }
        ),
    )


def _frequencies_of(patient_ids: list[Any]) -> QuerySet:
    rows = patient_rows(DisciplineFrequency)(patient_ids)
    return with_plans(pc.in_plan_order(rows, "discipline"))


def _interventions_of(patient_ids: list[Any]) -> QuerySet:
    rows = patient_rows(Intervention)(patient_ids)
    return with_plans_and_people(pc.in_plan_order(rows, "position", "created_at"))


register(
    ResourceDeclaration(
        "ServiceRequest",
        DisciplineFrequency,
        to_fhir=frequency_to_fhir,
        search=_search(pc.FREQUENCY_PREFIX, with_plans, FREQUENCY_STATUS),
        export=Export(rows=_frequencies_of, changed_since=changed_after("updated_at")),
        parts=frequency_parts,
        part_named=pc.part_in(pc.FREQUENCY_PREFIX),
        notes=(
            "A care plan's visit frequencies and interventions, one ServiceRequest for each part "
            "of a frequency (ids frequency-<id>-<part> and intervention-<id>-<part>; the parts "
            "of one share requisition and are ordered by the extension "
            f"{pc.EXT_PART}). Read and searched, never written here; no earlier versions.",
        ),
    )
)
register(
    ResourceDeclaration(
        "ServiceRequest",
        Intervention,
        to_fhir=intervention_to_fhir,
        search=_search(pc.INTERVENTION_PREFIX, with_plans_and_people, INTERVENTION_STATUS),
        export=Export(rows=_interventions_of, changed_since=changed_after("updated_at")),
        parts=intervention_parts,
        part_named=pc.part_in(pc.INTERVENTION_PREFIX),
        read_only_because="an intervention of a care plan; change it in Careway's plan",
    ),
    also=True,
)


# --- verbal orders -------------------------------------------------------------------------------

VERBAL_PREFIX = "verbal-order-"
VERBAL_STATUS = {
    "taken": "active",
    "sent": "active",
    "signed": "active",
    "entered-in-error": "entered-in-error",
}


def verbal_order_id(row: VerbalOrder) -> str:
    return f"{VERBAL_PREFIX}{row.pk}"


def verbal_order_to_fhir(row: VerbalOrder, part: int = 1) -> dict[str, Any]:
    """A verbal order is one resource (`part` is always 1: see its declaration)."""
    taker = row.taken_by.display_name if row.taken_by else None
    notes = [
        c.drop_empty({"authorString": taker, "time": c.instant(row.taken_at), "text": row.text})
    ]
    if row.read_back:
        notes.append({"text": "Read back to the practitioner who gave it."})
    kind = row.get_practitioner_kind_display() if row.practitioner_kind else ""
    return c.drop_empty(
        {
            "resourceType": "ServiceRequest",
            "id": verbal_order_id(row),
            "meta": c.meta(row, "updated_at"),
            "extension": pc.signature_extension(row),
            "basedOn": [pc.plan_reference(row.plan_id)],
            "status": VERBAL_STATUS[row.status],
            "intent": "order",
            "category": [_kind("verbal-order", "Verbal order")],
            "subject": c.patient_ref(row),
            "authoredOn": c.instant(row.taken_at),
            "requester": {
                "display": f"{row.practitioner_name}, {kind}" if kind else row.practitioner_name
            },
            "performerType": pc.discipline_concept(row.discipline) if row.discipline else None,
            "supportingInfo": (
                [{"reference": f"DocumentReference/{row.plan_of_care_id}"}]
                if row.plan_of_care_id and _document_served(row)
                else []
            ),
            "note": notes,
        }
    )


def _document_served(row: VerbalOrder) -> bool:
    known = getattr(row, "document_served", None)
    if known is not None:
        return bool(known)
    pk = row.plan_of_care_id
    return pk is not None and PlanOfCare.objects.filter(pc.PLAN_OF_CARE_SERVED, pk=pk).exists()


def with_orders_links(rows: QuerySet) -> QuerySet:
    served = PlanOfCare.objects.filter(pc.PLAN_OF_CARE_SERVED, pk=OuterRef("plan_of_care_id"))
    return rows.select_related("taken_by", "organization").annotate(document_served=Exists(served))


def locate_verbal_order(ident: str) -> Q | None:
    if not ident.startswith(VERBAL_PREFIX):
        return None
    key = ident[len(VERBAL_PREFIX) :]
    pk = search.uuid_id(key)
    return Q(pk=pk) if pk is not None and str(pk) == key else None


def _verbal_orders_of(patient_ids: list[Any]) -> QuerySet:
    return with_orders_links(patient_rows(VerbalOrder)(patient_ids))


VERBAL_SEARCH = search.SearchDeclaration(
    order=("-created_at", "-id"),
    locate=locate_verbal_order,
    scope=with_orders_links,
    includes=("patient", "subject"),
    sort_description="most recently planned first",
    versioned=False,
    params=search.with_patient(
        {
            "_id": search.IdParam(locate=locate_verbal_order),
            # The same codes as the plan's requests (a code of theirs finds no verbal order).
            "status": search.TokenParam(
                "status",
                codes=search.value_set(
                    *((fhir, row) for row, fhir in VERBAL_STATUS.items()),
                    *search.not_stored(
                        *(s for s in PLAN_STATUSES if s not in VERBAL_STATUS.values())
                    ),
                ),
                description="The request's status (a draft plan's requests are drafts).",
            ),
        }
    ),
)

register(
    ResourceDeclaration(
        "ServiceRequest",
        VerbalOrder,
        to_fhir=verbal_order_to_fhir,
        search=VERBAL_SEARCH,
        export=Export(rows=_verbal_orders_of, changed_since=changed_after("updated_at")),
        # One resource a record; declared as one part, since the API pages this type by part and
        # an _id search keeps only the parts the ids name.
        parts=lambda row: 1,
        part_named=lambda ident: 1 if locate_verbal_order(ident) is not None else 0,
        notes=(
            "Verbal orders are ServiceRequests too (id verbal-order-<id>, intent order, category "
            "verbal-order); where the signature of a verbal order, or of the plan of care that "
            f"carries a visit frequency, stands: extension {pc.EXT_SIGNATURE} (taken, sent, "
            "signed or overdue, with the due date).",
        ),
        read_only_because="a verbal order recorded in Careway; record and track it in Careway",
    ),
    also=True,
)

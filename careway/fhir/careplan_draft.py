"""Taking a care plan Careway wrote back in as a DRAFT plan of the patient (issue 17: a plan from
elsewhere arrives as history or a draft, never silently active).

The rule, exactly:
1. Every imported CarePlan and Goal is kept as history, as it came (PastCarePlan, PastGoal:
   careway/fhir/mapping/careplan.py), whatever follows. ServiceRequests are not kept on their own.
2. A CarePlan Careway wrote (identifier system urn:careway:fhir:care-plan, care_plan.py) also
   becomes the patient's own plan, as a draft, when all of these hold: it is not entered in
   error; its patient is one the importer may change care plans of (the system actor: any of the
   agency's); the patient has an open episode (an import's new patient has one, referred); and
   that episode has no plan yet. Otherwise it stays history only: an import never replaces or
   merges into a plan the team is working on, and never starts one without an episode.
3. The draft's status is draft, whatever the plan's was; its goals are proposed (the services
   make a draft plan's goals so), and it comes into effect only when a person puts it in effect.
4. Its problems are its `addresses`: a reference to a Condition the import has taken in links
   the problem to it; one in words only is a problem written in those words.
5. A Goal Careway wrote for that plan (its extension care-plan names the CarePlan) becomes a
   proposed goal of the draft: the measurable goal, the patient's words (a note by the patient),
   the measure (Careway's goal-measure code), target, rule, dates, problem. Its achievement is
   worked out afresh from this agency's chart; an override is not brought back (it was a person's
   judgement on the other agency's evidence). A goal on a task done comes back in words only (the
   task was the other agency's).
6. A ServiceRequest whose basedOn names that CarePlan becomes a visit frequency (category
   visit-frequency) or an intervention: the parts of one frequency, in order (frequency-part),
   are put back together into one notation. A caregiver is the RelatedPerson the import took in;
   a performer that is the patient (the request's subject) makes the intervention the patient's
   own (by_patient); an intervention carried out only by a named clinician of the other agency
   cannot say who here, and is reported instead. Stopped, completed or cancelled requests are
   not taken in.
So the CarePlan file must come before its Goal and ServiceRequest files, and Goals before
ServiceRequests: the importer imports them in that order (importer.FIRST).

Each draft is remembered as a source record of its own kind ("CarePlan draft", "Goal draft",
"ServiceRequest draft"), so importing the same files again drafts nothing twice. Every write goes
through careway.careplans.services (audited, each change a revision of the draft, the reason
naming the import). What cannot be taken in is reported as a problem of the import; the rest
still is.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from careway.careplans import measures
from careway.careplans import services as plans
from careway.careplans.frequency import FrequencyError
from careway.careplans.models import CarePlan, DisciplineFrequency, Goal, Intervention, Problem
from careway.careplans.permissions import CAREPLANS_EDIT
from careway.core import audit
from careway.core.models import Organization
from careway.patients import access
from careway.patients.models import Condition, PastCarePlan, Patient, RelatedPerson

from . import codes, timing
from .mapping import plan_common as pc
from .mapping.service_request import PERTAINS_TO_GOAL
from .models import SourceRecord

DRAFTED = " draft"  # a SourceRecord's resource_type: "CarePlan draft", ...
REASON = "Taken in from a FHIR import as a draft"
TAKEN = ("CarePlan", "Goal", "ServiceRequest")
OPEN_REQUEST = ("active", "draft", "on-hold")


@dataclass(frozen=True)
class Incoming:
    """One resource of a written batch, and how the import knows it."""

    resource: dict[str, Any]
    source_key: str
    meta_source: str


class Drafts:
    """Drafts plans for one import run. `keys_of(reference, meta_source)` gives the source keys an
    earlier import may have stored a referenced resource under (the importer's own rule)."""

    def __init__(
        self,
        actor: audit.Actor,
        organization: Organization,
        keys_of: Callable[[Any, str], list[str]],
    ):
        self.actor, self.organization, self.keys_of = actor, organization, keys_of

    def take(self, batch: list[Incoming]) -> list[str]:
        """Draft what this written batch holds (in the order of the rule); the problems found."""
        problems: list[str] = []
        for kind, take in (
            ("CarePlan", self._plan),
            ("Goal", self._goal),
            ("ServiceRequest", self._request),
        ):
            for item in batch:
                if item.resource.get("resourceType") != kind:
                    continue
                try:
                    with transaction.atomic():
                        take(item)
                except (ValidationError, FrequencyError, ValueError, TypeError, KeyError) as exc:
                    problems.append(f"{kind}/{item.resource.get('id', '?')}: {_said(exc)}")
        return problems

    # -- looking up what the import has taken in --

    def _record(self, kind: str, reference: Any, meta_source: str) -> str | None:
        keys = self.keys_of(reference, meta_source)
        found = (
            SourceRecord.objects.filter(
                organization=self.organization, resource_type=kind, source_key__in=keys
            )
            .values_list("record_id", flat=True)
            .first()
        )
        return found

    def _remember(self, kind: str, key: str, record: Any) -> None:
        SourceRecord.objects.create(
            organization=self.organization,
            resource_type=kind + DRAFTED,
            source_key=key,
            record_type=record._meta.label_lower,
            record_id=str(record.pk),
            content_hash="",
        )

    def _drafted(self, kind: str, key: str) -> bool:
        return SourceRecord.objects.filter(
            organization=self.organization, resource_type=kind + DRAFTED, source_key=key
        ).exists()

    def _plan_of(self, reference: Any, meta_source: str) -> CarePlan | None:
        pk = self._record("CarePlan" + DRAFTED, reference, meta_source)
        plan = CarePlan.objects.filter(pk=pk).select_related("episode").first() if pk else None
        return plan if plan and plan.status == CarePlan.Status.DRAFT else None

    # -- the plan --

    def _plan(self, item: Incoming) -> None:
        resource = item.resource
        if not _is_careways(resource) or resource.get("status") == "entered-in-error":
            return
        if self._drafted("CarePlan", item.source_key):
            return
        past = SourceRecord.objects.filter(
            organization=self.organization, resource_type="CarePlan", source_key=item.source_key
        ).first()
        patient = self._patient(past.record_id if past else None)
        episode = plans.current_episode(patient) if patient else None
        if patient is None or episode is None or CarePlan.objects.filter(episode=episode).exists():
            return
        title = resource.get("title") if isinstance(resource.get("title"), str) else ""
        plan = plans.start_plan(
            self.actor, patient, episode=episode, data={"title": title} if title else {},
            reason=REASON,
        )  # fmt: skip
        for address in _objects(resource, "addresses"):
            self._problem(plan, address, item.meta_source)
        self._remember("CarePlan", item.source_key, plan)

    def _patient(self, past_plan_id: str | None) -> Patient | None:
        """The patient of the history copy the import made, if the importer may plan for them."""
        if past_plan_id is None:
            return None
        past = PastCarePlan.objects.filter(pk=past_plan_id).select_related("patient").first()
        if past is None:
            return None
        user = self.actor.user
        if user is not None and not (
            access.visible_patients(user).filter(pk=past.patient_id).exists()
            and access.can_edit(user, past.patient, CAREPLANS_EDIT)
        ):
            return None
        return past.patient

    def _problem(self, plan: CarePlan, address: dict[str, Any], meta_source: str) -> None:
        words = address.get("display") if isinstance(address.get("display"), str) else ""
        condition = self._condition(plan, address, meta_source)
        if condition is None and not words:
            return
        data: dict[str, Any] = {"text": words or ""}
        if condition is not None:
            data["condition"] = condition
        plans.add_problem(self.actor, plan, data, reason=REASON)

    def _condition(self, plan: CarePlan, reference: Any, meta_source: str) -> Any:
        pk = self._record("Condition", reference, meta_source) if reference else None
        if pk is None:
            return None
        return (
            Condition.objects.filter(pk=pk, patient_id=plan.patient_id)
            .values_list("pk", flat=True)
            .first()
        )

    # -- goals --

    def _goal(self, item: Incoming) -> None:
        resource = item.resource
        link = _extension(resource, pc.EXT_CARE_PLAN)
        plan = self._plan_of(link.get("valueReference"), item.meta_source) if link else None
        if plan is None or self._drafted("Goal", item.source_key):
            return
        if resource.get("lifecycleStatus") in ("entered-in-error", "cancelled", "rejected"):
            return
        description = _text(resource.get("description"), "text")
        data: dict[str, Any] = {
            "description": description,
            "patient_words": _patient_words(resource),
            "start_date": _day(resource.get("startDate")),
            **_target(resource),
        }
        problem = self._problem_of(plan, _objects(resource, "addresses"), item.meta_source)
        if problem is not None:
            data["problem"] = problem.pk
        goal = plans.add_goal(self.actor, plan, _present(data), reason=REASON)
        self._remember("Goal", item.source_key, goal)

    def _problem_of(
        self, plan: CarePlan, addresses: list[dict[str, Any]], meta_source: str
    ) -> Problem | None:
        for address in addresses:
            condition = self._condition(plan, address, meta_source)
            rows = Problem.objects.filter(plan=plan)
            found = (
                rows.filter(condition_id=condition).first()
                if condition is not None
                else rows.filter(text=address.get("display", "")).first()
            )
            if found is not None:
                return found
        return None

    # -- visit frequencies and interventions --

    def _request(self, item: Incoming) -> None:
        resource = item.resource
        plan = next(
            (
                p
                for ref in _objects(resource, "basedOn")
                if (p := self._plan_of(ref, item.meta_source)) is not None
            ),
            None,
        )
        if plan is None or self._drafted("ServiceRequest", item.source_key):
            return
        if resource.get("status") not in OPEN_REQUEST:
            return
        kinds = {c.get("code") for cc in _objects(resource, "category") for c in _codings(cc)}
        row: DisciplineFrequency | Intervention
        if "visit-frequency" in kinds:
            row = self._frequency(plan, item)
        elif "intervention" in kinds:
            row = self._intervention(plan, item)
        else:
            return
        self._remember("ServiceRequest", item.source_key, row)

    def _frequency(self, plan: CarePlan, item: Incoming) -> DisciplineFrequency:
        resource = item.resource
        part = str(timing.part_from_fhir(resource))
        group = self._group(resource)
        row = self._row_of(DisciplineFrequency, group)
        if row is not None:
            return self._next_part(row, resource, part, plans.update_frequency)
        discipline = _coded(resource.get("code"), pc.DISCIPLINE)
        data = {"discipline": discipline, "frequency": part, "start_date": _authored(resource)}
        row = plans.set_frequency(self.actor, plan, data, reason=REASON)
        self._remember("ServiceRequest", group, row)
        return row

    def _intervention(self, plan: CarePlan, item: Incoming) -> Intervention:
        resource = item.resource
        part = str(timing.part_from_fhir(resource)) if "occurrenceTiming" in resource else ""
        group = self._group(resource)
        row = self._row_of(Intervention, group)
        if row is not None and part:
            return self._next_part(row, resource, part, plans.update_intervention)
        data = self._intervention_data(plan, item)
        data["frequency"] = part
        row = plans.add_intervention(self.actor, plan, _present(data), reason=REASON)
        self._remember("ServiceRequest", group, row)
        return row

    def _intervention_data(self, plan: CarePlan, item: Incoming) -> dict[str, Any]:
        resource = item.resource
        categories = [c for cc in _objects(resource, "category") for c in _codings(cc)]
        kind = next(
            (c.get("code") for c in categories if c.get("system") == pc.INTERVENTION_KIND), ""
        )
        at_visits = (_extension(resource, pc.EXT_AT_VISITS_OF) or {}).get("valueCoding")
        period = resource.get("occurrencePeriod") or {}
        data: dict[str, Any] = {
            "kind": kind,
            "text": _text(resource.get("code"), "text"),
            "discipline": _coded(resource.get("performerType"), pc.DISCIPLINE),
            "at_visits_of": at_visits.get("code", "") if isinstance(at_visits, dict) else "",
            "start_date": _authored(resource),
            "end_date": _day(period.get("end")),
        }  # fmt: skip
        for performer in _objects(resource, "performer"):
            if self._is_the_patient(plan, performer, resource, item.meta_source):
                data["by_patient"] = True
                continue
            pk = self._record("RelatedPerson", performer, item.meta_source)
            if pk and RelatedPerson.objects.filter(pk=pk, patient_id=plan.patient_id).exists():
                data["caregiver"] = RelatedPerson._meta.pk.to_python(pk)
        if not data["discipline"] and "caregiver" not in data and "by_patient" not in data:
            raise ValueError(
                "performer: carried out by a clinician of the sending agency, whom Careway "
                "cannot name here; add the intervention with who carries it out"
            )
        goal_link = _extension(resource, PERTAINS_TO_GOAL)
        if goal_link:
            goal_pk = self._record(
                "Goal" + DRAFTED, goal_link.get("valueReference"), item.meta_source
            )
            if goal_pk and Goal.objects.filter(pk=goal_pk, plan=plan).exists():
                data["goal"] = Goal._meta.pk.to_python(goal_pk)
        reasons = _objects(resource, "reasonReference") + [
            {"display": r.get("text", "")} for r in _objects(resource, "reasonCode")
        ]
        problem = self._problem_of(plan, reasons, item.meta_source)
        if problem is not None:
            data["problem"] = problem.pk
        return data

    def _is_the_patient(
        self, plan: CarePlan, performer: dict[str, Any], resource: dict[str, Any], source: str
    ) -> bool:
        """Whether a performer is the plan's patient: the request's own subject, or a Patient the
        import took in as this plan's patient."""
        reference = str(performer.get("reference") or "")
        if not reference.startswith("Patient/") and "/Patient/" not in reference:
            return False
        if reference == str((resource.get("subject") or {}).get("reference") or ""):
            return True
        return str(self._record("Patient", performer, source)) == str(plan.patient_id)

    def _group(self, resource: dict[str, Any]) -> str:
        requisition = resource.get("requisition") or {}
        return f"requisition:{requisition.get('system', '')}|{requisition.get('value', '')}"

    def _row_of(self, model: Any, group: str) -> Any:
        found = SourceRecord.objects.filter(
            organization=self.organization,
            resource_type="ServiceRequest" + DRAFTED,
            source_key=group,
        ).first()
        return model.objects.filter(pk=found.record_id).first() if found else None

    def _next_part(self, row: Any, resource: dict[str, Any], part: str, update: Any) -> Any:
        """A later part of a frequency already begun: it follows the parts taken in so far."""
        number = (_extension(resource, pc.EXT_PART) or {}).get("valuePositiveInt")
        if number != pc.part_count(row.frequency) + 1:
            raise ValueError(
                f"part {number} of a frequency arrived after {pc.part_count(row.frequency)} "
                "part(s): the parts must come in order"
            )
        changed = {"frequency": f"{row.frequency}, {part}"}
        return update(self.actor, row, changed, row.version, reason=REASON)


# --- reading the resources (they were read once already, by the history mapping) ---------------


def _is_careways(resource: dict[str, Any]) -> bool:
    return any(
        isinstance(i, dict) and i.get("system") == pc.PLAN_IDENTIFIER
        for i in _objects(resource, "identifier")
    )


def _objects(parent: Any, key: str) -> list[dict[str, Any]]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _codings(concept: Any) -> list[dict[str, Any]]:
    return _objects(concept, "coding")


def _coded(concept: Any, system: str) -> str:
    return next((c.get("code", "") for c in _codings(concept) if c.get("system") == system), "")


def _text(parent: Any, key: str) -> str:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, str) else ""


def _extension(resource: dict[str, Any], url: str) -> dict[str, Any] | None:
    return next((e for e in _objects(resource, "extension") if e.get("url") == url), None)


def _day(value: Any) -> date | None:
    return date.fromisoformat(value[:10]) if isinstance(value, str) and value else None


def _authored(resource: dict[str, Any]) -> date | None:
    return _day(resource.get("authoredOn"))


def _present(data: dict[str, Any]) -> dict[str, Any]:
    """The values given: an absent one is the field's default, not an empty value."""
    return {k: v for k, v in data.items() if v not in (None, "")}


def _patient_words(resource: dict[str, Any]) -> str:
    subject = _text(resource.get("subject"), "reference")
    for note in _objects(resource, "note"):
        if subject and _text(note.get("authorReference"), "reference") == subject:
            return _text(note, "text")
    return ""


def _target(resource: dict[str, Any]) -> dict[str, Any]:
    """The goal's measure and target, from its first target (see plan_goal.py)."""
    targets = _objects(resource, "target")
    if not targets:
        return {}
    target = targets[0]
    found: dict[str, Any] = {"due_date": _day(target.get("dueDate"))}
    measure = measures.measure_of(_coded(target.get("measure"), pc.GOAL_MEASURE))
    if measure is None or measure.kind == measures.TASK:
        return found
    found["measure"] = measure.key
    for key, url in (("needed", codes.careway_extension("readings-needed")),
                     ("window", codes.careway_extension("readings-counted"))):  # fmt: skip
        ext = _extension(target, url)
        if ext:
            found[key] = ext.get("valuePositiveInt")
    if measure.kind == measures.EVENT:
        days = _extension(target, codes.careway_extension("days-without"))
        found["target_days"] = (days or {}).get("valueDuration", {}).get("value")
        return found
    span = target.get("detailRange") or {}
    quantity = target.get("detailQuantity") or {}
    low, high = (span.get("low") or {}).get("value"), (span.get("high") or {}).get("value")
    if quantity.get("comparator") == ">=":
        low = quantity.get("value")
    elif quantity.get("comparator") == "<=":
        high = quantity.get("value")
    found["target_low"], found["target_high"] = low, high
    return found


def _said(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)

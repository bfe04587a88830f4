"""The demo patients' care plans, at every stage, written through the care plan services.

content/careplans.json gives each demo patient a stage (no plan yet, a draft, active, active and
due for review, completed at discharge) and each scenario a plan: problems, goals in the
patient's words with a target on the chart, interventions of every kind (one carried by the
family caregiver, who is on the team) and a visit frequency for each discipline that visits.

Goals' statuses are never set here: the services compute them from the chart, whose readings
tell each story (a heart failure patient's weight climbing, blood pressure coming down, pain
scores the nurse records at each visit easing). The primary case manager writes the plan, so
its revisions carry their name, and the changes after it was agreed carry a reason.
"""

from datetime import timedelta
from typing import Any

from careway.careplans import plan_of_care, services
from careway.careplans.models import CarePlan, Goal, Problem
from careway.core import audit
from careway.core.models import User
from careway.patients import services as patient_services
from careway.patients.models import (
    LOINC,
    CareTeamMember,
    Condition,
    Encounter,
    Patient,
    RelatedPerson,
)

from . import content, follow_through, vital_series
from .charts import ChartBuilder

NONE, DRAFT, ACTIVE, REVIEW_DUE, COMPLETED = "none", "draft", "active", "review_due", "completed"


def stage_of(slug: str, number: int) -> str:
    return plans_content()["stages"][slug][number]


def plans_content() -> dict[str, Any]:
    return content.load("careplans")


def add_care_plan(chart: ChartBuilder, patient: Patient) -> CarePlan | None:
    """The plan the demo gives this patient, or None for a patient new enough to have none."""
    stage = stage_of(chart.agency.organization.slug, chart.number)
    if stage == NONE:
        return None
    return PlanWriter(chart, patient, stage).write()


class PlanWriter:
    """Writes one patient's plan as their case manager would: started at the start of care,
    agreed with the patient and family, revised as the weeks went on."""

    def __init__(self, chart: ChartBuilder, patient: Patient, stage: str):
        self.chart, self.patient, self.stage = chart, patient, stage
        self.timeline = chart.timeline
        self.family_key = plans_content()["scenario_families"][chart.person["scenario"]]
        self.family = plans_content()["families"][self.family_key]
        self.episode = patient.episodes.get()
        team = CareTeamMember.objects.filter(episode=self.episode, active=True)
        primary = team.get(is_primary_case_manager=True)
        self.case_manager: User = primary.user  # type: ignore[assignment]
        self.caregiver: RelatedPerson | None = next(
            (m.related_person for m in team.select_related("related_person") if m.related_person),
            None,
        )
        self.actor = audit.Actor(
            user=self.case_manager,
            via="demo",
            on_behalf_of_organization_id=patient.organization_id,
        )

    def write(self) -> CarePlan:
        self._record_readings()
        plan = services.start_plan(
            self.actor,
            self.patient,
            episode=self.episode,
            data=self._plan_data(),
            reason="Written at the start-of-care visit.",
        )
        later: list[tuple[dict[str, Any], Problem, list[Goal]]] = []
        for spec in self.family["problems"]:
            problem = services.add_problem(self.actor, plan, self._problem_data(spec))
            goals = [
                services.add_goal(self.actor, plan, self._goal_data(g, problem))
                for g in spec["goals"]
            ]
            for intervention in spec["interventions"]:
                if "later" in intervention:
                    later.append((intervention, problem, goals))
                else:
                    self._add_intervention(plan, intervention, problem, goals)
        for discipline, frequency in self._frequencies():
            services.set_frequency(
                self.actor, plan, {"discipline": discipline, "frequency": frequency}
            )
        if self.stage == DRAFT:
            # The physician's plan of care is drafted beside it, to be sent once agreed.
            plan_of_care.draft_plan_of_care(self.actor, plan, today=self.timeline.today)
            return plan
        plan = self._set_status(plan, CarePlan.Status.ACTIVE, self._agreed_reason())
        follow_through.agree(self.actor, plan, self.family_key, self.caregiver)
        for intervention, problem, goals in later:
            self._add_intervention(plan, intervention, problem, goals, reason=intervention["later"])
        if self.stage == COMPLETED:
            return self._set_status(
                plan, CarePlan.Status.COMPLETED, "Discharged from home health care."
            )
        plan.refresh_from_db()
        follow_through.follow_through(
            self.actor,
            plan,
            self.chart.agency,
            self.chart.person["scenario"],
            self.family_key,
            self.timeline.today,
        )
        return plan

    # --- the chart's evidence ------------------------------------------------------------------

    def _record_readings(self) -> None:
        """Scores the nurse recorded at the home visits, the latest at the latest visit (before
        the plan: goals on them are worked out from what the chart then holds)."""
        visits = list(
            Encounter.objects.filter(patient=self.patient, kind="HH").order_by("period_start")
        )
        for spec in self.family["problems"]:
            readings = spec.get("readings")
            if readings is None:
                continue
            sign = vital_series.vital_sign(readings["measure"])
            values = readings["values"][-len(visits) :]
            for visit, value in zip(visits[-len(values) :], values, strict=True):
                patient_services.record_observations(
                    self.chart.actor,
                    self.patient,
                    [
                        {
                            "code_system": LOINC,
                            "code": sign.code,
                            "display": sign.label,
                            "category": "vital-signs",
                            "effective_at": visit.period_start,
                            "value": value,
                            "unit": sign.unit,
                            "encounter": visit.pk,
                        }
                    ],
                )

    # --- the plan's content ---------------------------------------------------------------------

    def _plan_data(self) -> dict[str, Any]:
        if self.stage != REVIEW_DUE:
            return {}
        # A plan the team chose to review early (a new stroke, therapy just begun): its review
        # date has passed and the caseload shows it due.
        days = plans_content()["review_after_days"]
        return {"review_due": self.timeline.start_of_care + timedelta(days=days)}

    def _problem_data(self, spec: dict[str, Any]) -> dict[str, Any]:
        if spec["from"] == "primary_condition":
            condition = Condition.objects.get(patient=self.patient, is_primary=True)
            return {"condition": condition.pk, "text": ""}
        return {"text": spec["text"]}

    def _goal_data(self, spec: dict[str, Any], problem: Problem) -> dict[str, Any]:
        start = self.timeline.start_of_care
        data: dict[str, Any] = {
            "problem": problem.pk,
            "patient_words": spec["patient_words"],
            "description": spec["description"],
            "start_date": start,
            "due_date": start + timedelta(days=spec["due_day"]),
        }
        if "measure" in spec:
            data["measure"] = spec["measure"]
            data.update(self._target(spec["target"]))
        return data

    def _target(self, target: dict[str, Any]) -> dict[str, Any]:
        if "days" in target:
            return {"target_days": target["days"]}
        base = (
            self.chart.case["vitals"][target["from_baseline"]] if "from_baseline" in target else 0
        )
        return {
            "target_low": base + target["low"] if "low" in target else None,
            "target_high": base + target["high"] if "high" in target else None,
        }

    def _add_intervention(
        self,
        plan: CarePlan,
        spec: dict[str, Any],
        problem: Problem,
        goals: list[Goal],
        reason: str = "",
    ) -> None:
        who = self._who(spec["who"])
        if who is None:
            return  # the patient has no family caregiver to carry it
        data: dict[str, Any] = {
            **who,
            "problem": problem.pk,
            "kind": spec["kind"],
            "text": spec["text"],
            "frequency": spec.get("frequency", ""),
            "start_date": self.timeline.start_of_care,
        }
        if "goal" in spec:
            data["goal"] = goals[spec["goal"]].pk
        services.add_intervention(self.actor, plan, data, reason=reason)

    def _who(self, who: str) -> dict[str, Any] | None:
        if who == "patient":
            return {"by_patient": True}
        if who == "caregiver":
            return {"caregiver": self.caregiver.pk} if self.caregiver else None
        if who == "case_manager":
            return {"clinician": self.case_manager.pk}
        return {"discipline": who, "at_visits_of": who}

    def _frequencies(self) -> list[tuple[str, str]]:
        frequencies = plans_content()["frequencies"]
        visiting = ["RN", "PT", "HHA", *self.chart.case["disciplines"]]
        return [(d, frequencies[d]) for d in dict.fromkeys(visiting) if d in frequencies]

    def _agreed_reason(self) -> str:
        with_whom = f" and {self.caregiver.name}" if self.caregiver else ""
        return f"Agreed with {self.patient.given_name}{with_whom} at the start-of-care visit."

    def _set_status(self, plan: CarePlan, status: str, reason: str) -> CarePlan:
        plan.refresh_from_db()
        return services.update_plan(
            self.actor, plan, {"status": status}, plan.version, reason=reason
        )

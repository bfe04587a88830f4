"""Reads of an agency's care plan templates, for its template pages and the JSON API: every
template it can use (the shipped ones and its own, one entry per key, read as every kind of the
agency's content is: careway/careplans/agency_content.py), and one template's content laid out
as a plan reads.

The agency's rows are AgencyTemplate (careway/careplans/models.py), written only by the services
of careway/careplans/services.py ("agency templates"); what suggestions use is
plan_templates.templates_for, which these entries agree with.
"""

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from careway.core.roles import Discipline

from . import agency_content, measures, plan_templates, services
from .frequency import FrequencyError, parse
from .models import AgencyTemplate, Intervention
from .plan_templates import PlanTemplate, TemplateItem
from .revisions import PATIENT_WORDS


class TemplateEntry(agency_content.Entry[PlanTemplate, AgencyTemplate]):
    """One key of the agency's templates: Careway's template of that key, the agency's current
    version of it, or both (its copy)."""

    kind = services.TEMPLATES


# --- a template laid out as a plan reads ------------------------------------------------------


# How a row written once per assessment finding reads (its text holds the placeholders).
PLACEHOLDER_WORDS = {"{fix}": "[the fix for each finding]", "{finding}": "[each finding]"}


def in_words(item: TemplateItem) -> str:
    text = item.text
    for mark, words in PLACEHOLDER_WORDS.items():
        text = text.replace(mark, words)
    return text


@dataclass(frozen=True)
class InterventionShown:
    item: TemplateItem
    kind: str
    who: str
    frequency: str

    @property
    def text(self) -> str:
        return in_words(self.item)


@dataclass(frozen=True)
class GoalShown:
    item: TemplateItem
    target: str
    interventions: list[InterventionShown]

    @property
    def text(self) -> str:
        return in_words(self.item)


@dataclass(frozen=True)
class ProblemShown:
    item: TemplateItem
    goals: list[GoalShown]
    # The problem's interventions that serve no one goal.
    interventions: list[InterventionShown]

    @property
    def text(self) -> str:
        return in_words(self.item)


@dataclass(frozen=True)
class Shown:
    """A template's content as its page shows it; `errors` when stored content no longer
    passes the checks (a goal measure Careway dropped since): the page says what to fix."""

    template: PlanTemplate | None
    problems: list[ProblemShown] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        items = self.template.items.values() if self.template else ()
        return {
            kind: sum(1 for item in items if item.kind == kind)
            for kind in (plan_templates.PROBLEM, plan_templates.GOAL, plan_templates.INTERVENTION)
        }


def shown(content: Any) -> Shown:
    template, errors = services.TEMPLATES.read(content)
    if template is None:
        return Shown(None, errors=errors)
    return shown_template(template)


def shown_template(template: PlanTemplate) -> Shown:
    interventions = [_intervention(item) for item in template.of_kind(plan_templates.INTERVENTION)]
    problems = []
    for problem in template.of_kind(plan_templates.PROBLEM):
        goals = [
            GoalShown(
                goal,
                target_in_words(goal),
                [i for i in interventions if i.item.goal == goal.key],
            )
            for goal in template.of_kind(plan_templates.GOAL)
            if goal.problem == problem.key
        ]
        loose = [i for i in interventions if i.item.problem == problem.key and not i.item.goal]
        problems.append(ProblemShown(problem, goals, loose))
    return Shown(template, problems)


def target_in_words(goal: TemplateItem) -> str:
    """A template goal's measurable target in words ("Body weight: at most 170 lb", "no fall
    for 60 days"); '' for a goal in words only. When it falls due is said apart."""
    fields = goal.fields
    measured = SimpleNamespace(
        measure=fields.get("measure", ""),
        target_low=fields.get("target_low"),
        target_high=fields.get("target_high"),
        target_days=fields.get("target_days"),
        due_date=None,
        start_date=None,
        needed=None,
        window=None,
        task_id=None,
    )
    try:
        return measures.target_in_words(measured)
    except ValueError:  # a target that cannot be met (lowest above highest): the checks say so
        return ""


def _intervention(item: TemplateItem) -> InterventionShown:
    fields = item.fields
    kind = dict(Intervention.Kind.choices).get(str(fields.get("kind")), "")
    who = (
        PATIENT_WORDS
        if fields.get("by_patient")
        else dict(Discipline.choices).get(str(fields.get("discipline")), "")
    )
    frequency = ""
    if fields.get("frequency"):
        try:
            frequency = parse(fields["frequency"]).in_words()
        except FrequencyError:
            frequency = fields["frequency"]
    return InterventionShown(item, str(kind), str(who), frequency)

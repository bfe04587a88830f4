"""A plan's revisions: the whole plan as it stood after each change, and what changed between two.

`content_of(plan)` is what a revision keeps: the plan's own fields and each problem, goal,
intervention, visit frequency and team member, in words a reader of the history understands
(a goal's target as a sentence, a person by name), keyed by the row's id so that two revisions
can be lined up. `differences(older, newer)` lists what was added, removed and changed, field by
field, in the order the plan page shows its parts. Computed achievement is evidence, not plan
content, and is left out; a person's override of it is in.
"""

from dataclasses import dataclass
from typing import Any

from careway.patients.display import plain_name
from careway.patients.models import CareTeamMember

from . import measures
from .models import CarePlan, DisciplineFrequency, Goal, Intervention, Problem

# Each part of the plan, with the fields a revision keeps and their labels, in page order.
PARTS: dict[str, tuple[str, dict[str, str]]] = {
    "plan": ("Plan", {"title": "Title", "status": "Status", "review_due": "Review due"}),
    "problems": (
        "Problem",
        {"text": "Problem", "source": "From", "linked": "Linked to", "status": "Status"},
    ),
    "goals": (
        "Goal",
        {
            "description": "Goal",
            "patient_words": "In the patient's words",
            "problem": "Problem",
            "target": "Target",
            "lifecycle_status": "Status",
            "start_date": "Start",
            "due_date": "Due",
            "override": "Status set by hand",
        },
    ),
    "interventions": (
        "Intervention",
        {
            "text": "Intervention",
            "kind": "Kind",
            "who": "Who",
            "at_visits_of": "At the visits of",
            "frequency": "Frequency",
            "goal": "Goal",
            "teaching_topic": "Teaching topic",
            "start_date": "Start",
            "end_date": "End",
            "status": "Status",
        },
    ),
    "frequencies": (
        "Visit frequency",
        {
            "discipline": "Discipline",
            "frequency": "Frequency",
            "start_date": "Start",
            "end_date": "End",
            "status": "Status",
        },
    ),
    "team": ("Team member", {"name": "Name", "role": "Role", "status": "Status"}),
}


def content_of(plan: CarePlan) -> dict[str, Any]:
    """The whole plan now, as a revision keeps it (JSON-ready), in a fixed number of queries."""
    problems = list(
        Problem.objects.filter(plan=plan).select_related("condition", "flag", "finding")
    )
    goals = list(Goal.objects.filter(plan=plan).select_related("task"))
    interventions = list(
        Intervention.objects.filter(plan=plan).select_related("clinician", "caregiver")
    )
    frequencies = list(DisciplineFrequency.objects.filter(plan=plan))
    team = list(
        CareTeamMember.objects.filter(episode_id=plan.episode_id).select_related(
            "user", "related_person"
        )
    )
    problem_words = {p.pk: p.text for p in problems}
    goal_words = {g.pk: g.description for g in goals}
    return {
        "plan": {
            str(plan.pk): {
                "title": plan.title,
                "status": plan.get_status_display(),
                "review_due": _day(plan.review_due),
            }
        },
        "problems": {str(p.pk): _problem(p) for p in problems},
        "goals": {str(g.pk): _goal(g, problem_words) for g in goals},
        "interventions": {str(i.pk): _intervention(i, goal_words) for i in interventions},
        "frequencies": {str(f.pk): _frequency(f) for f in frequencies},
        "team": {
            str(m.pk): {
                "name": m.member_name,
                "role": m.get_role_display(),
                "status": "Active" if m.active else "Left the team",
            }
            for m in team
        },
    }


def _problem(problem: Problem) -> dict[str, str]:
    return {
        "text": problem.text,
        "source": problem.get_source_display(),
        "linked": linked_record(problem),
        "status": problem.get_status_display(),
    }


def _goal(goal: Goal, problems: dict[Any, str]) -> dict[str, str]:
    return {
        "description": goal.description,
        "patient_words": goal.patient_words,
        "problem": problems.get(goal.problem_id, ""),
        "target": measures.target_in_words(goal),
        "lifecycle_status": goal.get_lifecycle_status_display(),
        "start_date": _day(goal.start_date),
        "due_date": _day(goal.due_date),
        "override": (
            f"{goal.get_override_display()}: {goal.override_reason}" if goal.override else ""
        ),
    }


def _intervention(intervention: Intervention, goals: dict[Any, str]) -> dict[str, str]:
    return {
        "text": intervention.text,
        "kind": intervention.get_kind_display(),
        "who": who_of(intervention),
        "at_visits_of": intervention.get_at_visits_of_display()
        if intervention.at_visits_of
        else "",
        "frequency": intervention.frequency,
        "goal": goals.get(intervention.goal_id, ""),
        "teaching_topic": (
            measures.topic_words(intervention.teaching_topic) if intervention.teaching_topic else ""
        ),
        "start_date": _day(intervention.start_date),
        "end_date": _day(intervention.end_date),
        "status": intervention.get_status_display(),
    }


def _frequency(row: DisciplineFrequency) -> dict[str, str]:
    return {
        "discipline": row.get_discipline_display(),
        "frequency": row.frequency,
        "start_date": _day(row.start_date),
        "end_date": _day(row.end_date),
        "status": row.get_status_display(),
    }


def linked_record(problem: Problem) -> str:
    """What the problem is linked to, in words ('' for a problem written freely)."""
    record = problem.condition or problem.flag or problem.finding
    return plain_name(str(getattr(record, "label", "") or record or ""))


# Who, for an intervention the patient does themself (the page, a revision, a task, the API).
PATIENT_WORDS = "The patient"


def who_of(intervention: Intervention) -> str:
    """The person or discipline who carries the intervention out, in words."""
    if intervention.by_patient:
        return PATIENT_WORDS
    if intervention.clinician_id:
        return intervention.clinician.display_name  # type: ignore[union-attr]
    if intervention.caregiver_id:
        caregiver = intervention.caregiver
        assert caregiver is not None
        return f"{caregiver.name} ({caregiver.get_relationship_display().lower()})"
    return intervention.get_discipline_display()


def _day(day: Any) -> str:
    return day.isoformat() if day else ""


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class Change:
    what: str  # "Goal", "Intervention", ...
    how: str  # "added", "removed", "changed"
    name: str  # the row in words, as the newer revision has it (the older when removed)
    fields: tuple[FieldChange, ...] = ()


def differences(older: dict[str, Any], newer: dict[str, Any]) -> list[Change]:
    """What changed from `older` to `newer` (two revisions' content), part by part."""
    changes: list[Change] = []
    for part, (what, labels) in PARTS.items():
        before, after = older.get(part, {}), newer.get(part, {})
        name_field = next(iter(labels))
        for key, row in after.items():
            if key not in before:
                changes.append(Change(what, "added", _name(row, name_field), _filled(row, labels)))
                continue
            moved = tuple(
                FieldChange(label, str(before[key].get(f, "")), str(row.get(f, "")))
                for f, label in labels.items()
                if str(before[key].get(f, "")) != str(row.get(f, ""))
            )
            if moved:
                changes.append(Change(what, "changed", _name(row, name_field), moved))
        for key, row in before.items():
            if key not in after:
                changes.append(Change(what, "removed", _name(row, name_field)))
    return changes


def _name(row: dict[str, Any], field: str) -> str:
    return str(row.get(field, "")) or "(untitled)"


def _filled(row: dict[str, Any], labels: dict[str, str]) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(label, "", str(row[f])) for f, label in labels.items() if row.get(f, "")
    )

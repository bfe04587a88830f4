"""Reads of suggestions for their pages: a patient's, grouped as the page shows them, and the
counts the care plan section and the caseload show. A fixed number of queries each."""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from careway.patients.models import Patient

from . import plan_templates
from .models import Suggestion


@dataclass
class TemplateGroup:
    """The open suggestions of one template, and the template they come from."""

    key: str
    title: str
    sources: tuple[str, ...]
    version: str
    shipped: bool
    rows: list[Suggestion] = field(default_factory=list)


@dataclass
class PatientSuggestions:
    plan: list[TemplateGroup]
    preventive: list[Suggestion]
    rejected: list[Suggestion]
    accepted: int

    @property
    def open_count(self) -> int:
        return sum(len(g.rows) for g in self.plan) + len(self.preventive)


def suggestions_of(patient: Patient) -> PatientSuggestions:
    """The patient's suggestions: open ones by template (in the rules' order), preventive care
    gaps, the rejected with their reasons, and how many were accepted. Two queries."""
    rows = list(
        Suggestion.objects.filter(patient=patient)
        .exclude(status=Suggestion.Status.LAPSED)
        .select_related("decided_by")
    )
    templates = plan_templates.templates_for(patient.organization_id)
    groups: dict[str, TemplateGroup] = {}
    preventive, rejected, accepted = [], [], 0
    for row in rows:
        if row.status == Suggestion.Status.ACCEPTED:
            accepted += 1
        elif row.status == Suggestion.Status.REJECTED:
            rejected.append(row)
        elif row.preventive:
            preventive.append(row)
        else:
            group = groups.get(row.template)
            if group is None:
                template = templates.get(row.template)
                group = groups[row.template] = TemplateGroup(
                    row.template,
                    template.title if template else row.template,
                    template.sources if template else (),
                    row.template_version,
                    template.shipped if template else True,
                )
            group.rows.append(row)
    kind_order = {"problem": 0, "goal": 1, "intervention": 2}
    for group in groups.values():
        group.rows.sort(key=lambda r: (kind_order.get(r.kind, 3), r.position))
    return PatientSuggestions(
        sorted(groups.values(), key=lambda g: min(r.position for r in g.rows)),
        sorted(preventive, key=lambda r: r.position),
        sorted(rejected, key=lambda r: r.decided_at or r.updated_at, reverse=True),
        accepted,
    )


def open_counts(patient: Patient) -> dict[str, int]:
    """How many suggestions wait for the plan and how many preventive gaps. One query."""
    counts = Suggestion.objects.filter(patient=patient, status=Suggestion.Status.OPEN).aggregate(
        plan=Count("pk", filter=Q(preventive=False)),
        preventive=Count("pk", filter=Q(preventive=True)),
    )
    return {"plan": counts["plan"] or 0, "preventive": counts["preventive"] or 0}


def _open_count(preventive: bool) -> Any:
    rows = (
        Suggestion.objects.filter(
            patient_id=OuterRef("pk"), status=Suggestion.Status.OPEN, preventive=preventive
        )
        .order_by()
        .values("patient_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def with_open_suggestions(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """The caseload's Suggestions column: `open_suggestions` and `open_gaps` per patient."""
    return patients.annotate(open_suggestions=_open_count(False), open_gaps=_open_count(True))

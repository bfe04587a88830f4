"""What the rules propose for each patient, worked out from the chart, many patients at a time.

`charts_for` reads what the rules look at (careway/careplans/rules.py) for a list of patients in
a fixed number of queries; `proposals_for` turns a chart into the template rows the rules call
for, each with its reasons and the facts it rests on; careway/careplans/services.py
(`refresh_suggestions`) keeps the Suggestion rows in step with them.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from typing import Any

from django.utils import timezone

from careway.assessments.models import Assessment, Finding, Score
from careway.patients.models import (
    Condition,
    Immunization,
    Observation,
    Patient,
    PatientFlag,
    Procedure,
)

from . import rules as rule_engine
from .plan_templates import PlanTemplate, TemplateItem
from .rules import Chart, Coded, FindingFact, FlagFact, Rule, ScoreFact

LIVE_CONDITION = (
    Condition.ClinicalStatus.ACTIVE,
    Condition.ClinicalStatus.RECURRENCE,
    Condition.ClinicalStatus.RELAPSE,
)
NOT_CONDITION = (Condition.Verification.REFUTED, Condition.Verification.ENTERED_IN_ERROR)
GIVEN = Immunization.Status.COMPLETED
FINAL = (Observation.Status.FINAL, Observation.Status.AMENDED)


@dataclass
class Proposal:
    """One template row the rules call for, and why."""

    template: PlanTemplate
    item: TemplateItem
    key: str  # the item key; with the finding's source for a row per finding
    text: str
    rules: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    recommendation: str = ""
    preventive: bool = False
    finding: FindingFact | None = None

    def add(self, rule: Rule, fired: rule_engine.Fired) -> None:
        if rule.id not in self.rules:
            self.rules.append(rule.id)
        self.facts.extend(f for f in fired.facts if f not in self.facts)
        self.reasons.extend(r for r in fired.reasons if r not in self.reasons)
        if rule.recommendation and rule.recommendation not in self.recommendation:
            self.recommendation = " ".join(
                p for p in (self.recommendation, rule.recommendation) if p
            )
        self.preventive = self.preventive or rule.preventive


def proposals_for(
    chart: Chart, templates: dict[str, PlanTemplate]
) -> dict[tuple[str, str], Proposal]:
    """The rows the rules call for, by (template key, item key)."""
    found: dict[tuple[str, str], Proposal] = {}
    for rule in rule_engine.rules():
        template = templates.get(rule.template)
        if template is None:
            continue
        fired = rule_engine.evaluate(rule.when, chart, rule)
        if fired is None:
            continue
        for item in _items_of(rule, template):
            for key, text, finding, why in _rows_of(rule, item, fired, chart):
                proposal = found.get((template.key, key))
                if proposal is None:
                    proposal = found[(template.key, key)] = Proposal(
                        template, item, key, text, finding=finding
                    )
                proposal.add(rule, why)
    return found


def _items_of(rule: Rule, template: PlanTemplate) -> list[TemplateItem]:
    if rule.items:
        return [template.items[k] for k in rule.items if k in template.items]
    # A row made from one finding is suggested only by a rule that looks at findings one by one.
    return [item for item in template.items.values() if not item.per_finding]


def _rows_of(
    rule: Rule, item: TemplateItem, fired: rule_engine.Fired, chart: Chart
) -> Iterable[tuple[str, str, FindingFact | None, rule_engine.Fired]]:
    if not item.per_finding:
        yield item.key, item.text, None, fired
        return
    if not rule.per_finding:
        return
    for finding in fired.findings:
        # The row rests on its own finding (and the rule's other facts), not on every finding of
        # its kind: a hazard fixed does not bring back the others that were rejected.
        alone = replace(
            chart, findings=[f for f in chart.findings if f.kind != finding.kind] + [finding]
        )
        why = rule_engine.evaluate(rule.when, alone, rule)
        if why is None:
            continue
        text = item.text.replace("{fix}", finding.fix or finding.label)
        text = text.replace("{finding}", finding.label)
        yield f"{item.key}:{finding.source}"[:120], text[:300], finding, why


# --- the charts, read for many patients at once ----------------------------------------------


@cache
def _observation_codes() -> tuple[str, ...]:
    """The LOINC codes the rules look at: observations are read only for them."""
    codes: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        ((kind, value),) = node.items()
        if kind in ("all", "any"):
            for child in value:
                walk(child)
        elif kind == "not":
            walk(value)
        elif kind == "observation":
            for group in value["codes"]:
                codes.update(group.get("codes", ()))

    for rule in rule_engine.rules():
        walk(rule.when)
    return tuple(sorted(codes))


def charts_for(patient_ids: Collection[Any], today: date) -> dict[Any, Chart]:
    """Each patient's chart as the rules see it, in eight queries whatever their number."""
    ids = list(patient_ids)
    charts = {
        row["pk"]: Chart(today=today, birth_date=row["birth_date"], sex=row["sex"])
        for row in Patient.objects.filter(pk__in=ids).values("pk", "birth_date", "sex")
    }
    _conditions(charts, ids)
    _scores(charts, ids)
    _findings(charts, ids)
    _flags(charts, ids)
    _records(charts, ids)
    return charts


def _day(moment: Any) -> date | None:
    if moment is None:
        return None
    return timezone.localdate(moment) if hasattr(moment, "hour") else moment


def _conditions(charts: dict[Any, Chart], ids: list[Any]) -> None:
    rows = (
        Condition.objects.filter(patient_id__in=ids, clinical_status__in=LIVE_CONDITION)
        .exclude(verification_status__in=NOT_CONDITION)
        .values_list("patient_id", "code_system", "code", "display", "onset_date", "recorded_at")
    )
    for pid, system, code, display, onset, recorded in rows:
        charts[pid].conditions.append(Coded(system, code, display, onset or _day(recorded)))


def _scores(charts: dict[Any, Chart], ids: list[Any]) -> None:
    rows = (
        Score.objects.filter(patient_id__in=ids, current=True)
        .order_by("patient_id", "questionnaire_url", "key", "-observed_at", "-pk")
        .values_list("patient_id", "questionnaire_url", "key", "label", "value", "observed_at")
    )
    for pid, url, key, label, value, observed in rows:
        charts[pid].scores.setdefault((url, key), ScoreFact(label, value, _day(observed)))  # type: ignore[arg-type]


def _findings(charts: dict[Any, Chart], ids: list[Any]) -> None:
    """Findings whose flag is still active, of each instrument the latest signed assessment's
    (a later assessment that no longer finds a hazard resolves its flag)."""
    rows = (
        Finding.objects.filter(
            patient_id__in=ids,
            flag__active=True,
            assessment__status=Assessment.Status.SIGNED,
        )
        .order_by("patient_id", "questionnaire_url", "-assessment__signed_at", "pk")
        .values_list(
            "patient_id",
            "questionnaire_url",
            "assessment_id",
            "pk",
            "kind",
            "label",
            "fix",
            "source",
            "assessment__visit_date",
        )
    )
    latest: dict[tuple[Any, str], Any] = {}
    for pid, url, assessment_id, pk, kind, label, fix, source, visit_date in rows:
        if latest.setdefault((pid, url), assessment_id) != assessment_id:
            continue
        charts[pid].findings.append(FindingFact(pk, kind, label, fix, source, visit_date, url))


def _flags(charts: dict[Any, Chart], ids: list[Any]) -> None:
    rows = PatientFlag.objects.filter(patient_id__in=ids, active=True).values_list(
        "patient_id", "kind", "severity", "label", "raised_at"
    )
    for pid, kind, severity, label, raised in rows:
        charts[pid].flags.append(FlagFact(kind, severity, label, _day(raised)))  # type: ignore[arg-type]


def _records(charts: dict[Any, Chart], ids: list[Any]) -> None:
    vaccines = Immunization.objects.filter(patient_id__in=ids, status=GIVEN).values_list(
        "patient_id", "code_system", "code", "display", "occurred_at"
    )
    for pid, system, code, display, occurred in vaccines:
        charts[pid].immunizations.append(Coded(system, code, display, _day(occurred)))
    procedures = Procedure.objects.filter(
        patient_id__in=ids, status=Procedure.Status.COMPLETED
    ).values_list("patient_id", "code_system", "code", "display", "performed_start", "recorded_at")
    for pid, system, code, display, started, recorded in procedures:
        charts[pid].procedures.append(Coded(system, code, display, _day(started or recorded)))
    codes = _observation_codes()
    if not codes:
        return
    readings = Observation.objects.filter(
        patient_id__in=ids, code__in=codes, status__in=FINAL
    ).values_list("patient_id", "code_system", "code", "display", "effective_at", "value")
    for pid, system, code, display, effective, value in readings:
        charts[pid].observations.append(Coded(system, code, display, _day(effective), value))

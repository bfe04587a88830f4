"""Reads for the assessment pages, the chart's results and the caseload's due column."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from careway.core.models import Membership
from careway.patients.models import Encounter, EpisodeOfCare, Patient
from careway.patients.queries import OPEN_EPISODE, current_episodes
from careway.patients.today import TodayRow
from careway.toolkit import trend_charts

from . import catalog, engine, lace, schedule, template
from .models import Assessment, Response, Score
from .questionnaires import answers_from_response, missing_required

LIST_LIMIT = 50
TREND_DAYS = 730


# --- what is due ---------------------------------------------------------------------------------


def due_for_patients(
    patient_ids: Iterable[Any] | QuerySet[Any], today: date
) -> dict[Any, list[schedule.Due]]:
    """Each patient's assessments due in their current episode: three queries for any number
    of patients (their current episodes, inpatient stays, signed assessments). The ids may be a
    queryset (a whole caseload), which the three queries then read as a subquery."""
    ids: Any = patient_ids if isinstance(patient_ids, QuerySet) else list(patient_ids)
    if not isinstance(ids, QuerySet) and not ids:
        return {}
    episodes: dict[Any, EpisodeOfCare] = {}
    for episode in current_episodes().filter(patient_id__in=ids):
        episodes.setdefault(episode.patient_id, episode)
    stays: dict[Any, list[schedule.Stay]] = defaultdict(list)
    inpatient = Encounter.objects.filter(
        patient_id__in=ids, kind=Encounter.Kind.INPATIENT, period_end__isnull=False
    ).exclude(status__in=[Encounter.Status.CANCELLED, Encounter.Status.ENTERED_IN_ERROR])
    for patient_id, admitted, discharged in inpatient.values_list(
        "patient_id", "period_start", "period_end"
    ):
        stays[patient_id].append(schedule.Stay(admitted, discharged))
    signed: dict[Any, list[schedule.Signed]] = defaultdict(list)
    # By patient rather than by episode, so that a whole caseload needs no list of ids; the
    # assessments of past episodes are read and not looked at.
    done = Assessment.objects.filter(patient_id__in=ids, status=Assessment.Status.SIGNED)
    for episode_id, time_point, visit_date in done.values_list(
        "episode_id", "time_point", "visit_date"
    ):
        signed[episode_id].append(schedule.Signed(time_point, visit_date))
    found = {}
    for patient_id, episode in episodes.items():
        if episode.status == EpisodeOfCare.Status.CANCELLED:
            continue
        end = None
        if episode.status == EpisodeOfCare.Status.DISCHARGED:
            if episode.discharge_date is None:
                continue
            end = episode.discharge_date
        found[patient_id] = schedule.due_assessments(
            episode.start_of_care, end, stays[patient_id], signed[episode.pk], today
        )
    return found


def add_due(patients: list[Patient], today: date) -> None:
    """Set `assessment_due` (the most pressing open item, or None) on each caseload row."""
    due = due_for_patients([p.pk for p in patients], today)
    for patient in patients:
        patient.assessment_due = schedule.most_pressing(due.get(patient.pk, []))  # type: ignore[attr-defined]


def due_sort_keys(patients: QuerySet[Patient], today: date) -> dict[Any, tuple[int, date]]:
    """The caseload's sort by what is due, over the whole caseload: the most pressing open item
    (the one the column shows) by urgency, then by date. Nothing open: no key (sorted last)."""
    keys = {}
    for patient_id, items in due_for_patients(patients.values("pk"), today).items():
        pressing = schedule.most_pressing(items)
        if pressing is not None:
            keys[patient_id] = (schedule.URGENCY[pressing.status], pressing.due)
    return keys


def due_rows(user: Any, patients: QuerySet[Patient], today: date) -> list[TodayRow]:
    """Today's assessments due and overdue for these patients (open episodes), overdue first:
    four queries whatever their number."""
    open_now = patients.filter(episodes__status__in=OPEN_EPISODE).values_list("pk", flat=True)
    due = due_for_patients(set(open_now), today)
    pressing = [
        (patient_id, item)
        for patient_id, items in due.items()
        for item in items
        if item.status in (schedule.OVERDUE, schedule.DUE)
    ]
    pressing.sort(key=lambda found: (schedule.URGENCY[found[1].status], found[1].due))
    return [
        TodayRow(
            patient_id=patient_id,
            title=f"{item.label} assessment",
            reason=_due_reason(item),
            urgency=item.status,
            url=reverse("chart_section", args=[patient_id, "assessments"]),
        )
        for patient_id, item in pressing
    ]


def _due_reason(item: schedule.Due) -> str:
    when = f"{item.due:%b} {item.due.day}"
    if item.status == schedule.OVERDUE:
        return f"Was due {when}: {item.reason}."
    return f"Due {when}: {item.reason}."


# --- the chart's assessments section -------------------------------------------------------------


def signers_credentials(lookup: str) -> Prefetch:
    """The signers' active memberships in one query, for their credential beside their name."""
    return Prefetch(
        f"{lookup}__memberships",
        queryset=Membership.objects.filter(active=True).order_by("pk"),
        to_attr="current_memberships",
    )


def assessments_of(patient: Patient) -> QuerySet[Assessment]:
    return (
        Assessment.objects.filter(patient=patient)
        .select_related("signed_by", "started_by")
        .prefetch_related(signers_credentials("signed_by"))
        .order_by("-visit_date", "-created_at")[:LIST_LIMIT]
    )


@dataclass
class Trend:
    questionnaire_url: str
    title: str
    key: str
    label: str
    latest: Score
    previous: Score | None
    count: int
    svg: str = ""
    description: str = ""
    unit: str = "points"  # from the instrument's score definition: a timed test's "seconds"

    @property
    def change(self) -> float | None:
        return None if self.previous is None else self.latest.value - self.previous.value

    @property
    def change_words(self) -> str:
        change = self.change
        if change is None:
            return "first score"
        if change == 0:
            return "no change"
        return f"{'up' if change > 0 else 'down'} {abs(change):g}"


def trends(patient: Patient, now: datetime) -> list[Trend]:
    """Per instrument and score, the latest value with its band, the change since the one
    before, and a chart over the last two years. Superseded scores (amended) are left out."""
    start = now - timedelta(days=TREND_DAYS)
    rows = list(
        Score.objects.filter(patient=patient, current=True, observed_at__gte=start).order_by(
            "observed_at", "pk"
        )
    )
    grouped: dict[tuple[str, str], list[Score]] = {}
    for row in rows:
        grouped.setdefault((row.questionnaire_url, row.key), []).append(row)
    agency = catalog.entries(patient.organization_id, {url for url, _ in grouped})
    found: list[Trend] = []
    for (url, key), scores in grouped.items():
        latest = scores[-1]
        trend = Trend(
            url,
            latest.instrument_title,
            key,
            latest.label,
            latest,
            scores[-2] if len(scores) > 1 else None,
            len(scores),
        )
        rule = _rule(agency.get(url), key)
        trend.unit = rule.unit if rule else "points"
        trend.description = _describe(trend)
        trend.svg = _chart(trend, scores, now, rule, len(found))
        found.append(trend)
    return sorted(found, key=lambda t: (t.title, t.key))


def _describe(trend: Trend) -> str:
    latest = trend.latest
    text = f"{trend.count} score{'s' if trend.count != 1 else ''}. Latest {_number(latest.value)}"
    if trend.unit != "points":
        text += f" {trend.unit}"
    if latest.band:
        text += f" ({latest.band})"
    when = timezone.localtime(latest.observed_at)
    text += f" on {when:%b} {when.day}"
    if trend.change is not None:
        text += f", {trend.change_words} since the one before"
    return text + "."


def _number(value: float) -> str:
    return f"{value:g}"


def _rule(entry: catalog.Entry | None, key: str) -> engine.ScoreRule | None:
    if entry is None:
        return None
    return next((r for r in entry.instrument.scores if r.key == key), None)


def with_units(organization_id: int, scores: list[Score]) -> list[Score]:
    """Give each score the unit its instrument counts in (`unit`: "points", or a timed test's
    "seconds"), read from the agency's catalogue once for all of them."""
    agency = catalog.entries(organization_id, {score.questionnaire_url for score in scores})
    for score in scores:
        rule = _rule(agency.get(score.questionnaire_url), score.key)
        score.unit = rule.unit if rule else "points"  # type: ignore[attr-defined]
    return scores


def _chart(
    trend: Trend, scores: list[Score], now: datetime, rule: engine.ScoreRule | None, index: int
) -> str:
    bands = _joined(
        [
            trend_charts.Band(b.low, b.high, b.label, risk=True)
            for b in (rule.bands if rule else ())
            if b.flag  # shade the bands that raise a finding: the ones to stay out of
        ]
    )
    latest = scores[-1]
    # The score's whole range; a measure with no upper end (seconds) from its floor, or 0.
    scale = (latest.minimum if latest.minimum is not None else 0.0, latest.maximum)
    series = [
        trend_charts.Series(
            trend.label,
            [
                trend_charts.Point(timezone.localtime(s.observed_at), s.value, bool(s.flag))
                for s in scores
            ],
        )
    ]
    # The time axis fits the scores (one score: a fortnight around it), not the two years looked in.
    start, end = trend_charts.fitted_window(series, now)
    svg = trend_charts.trend_chart_svg(
        series,
        title=f"{trend.label}, scores of the last two years",
        description=trend.description,
        unit=trend.unit,
        start=start,
        end=end,
        bands=bands,
        chart_id=f"trend-{index}",
        scale=scale,
    )
    return mark_safe(svg)  # noqa: S308  (trend_charts.py escapes every text it draws)


def _joined(bands: list[trend_charts.Band]) -> list[trend_charts.Band]:
    """Neighbouring risk bands as one shaded stretch: Braden's 6-9, 10-12, 13-14 and 15-18 are
    whole numbers apart, and white stripes between them would read as safe ground."""
    out: list[trend_charts.Band] = []
    for band in sorted(bands, key=lambda b: b.low):
        if out and band.low - out[-1].high <= 1:
            last = out[-1]
            out[-1] = trend_charts.Band(
                last.low, max(last.high, band.high), f"{last.label}; {band.label}", risk=True
            )
        else:
            out.append(band)
    return out


# --- one assessment ------------------------------------------------------------------------------


@dataclass
class SectionProgress:
    section: template.Section
    started: bool
    missing: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        if not self.started:
            return "not-started"
        return "incomplete" if self.missing else "complete"

    @property
    def state_label(self) -> str:
        return {
            "not-started": "Not started",
            "incomplete": f"{len(self.missing)} required left",
            "complete": "Complete",
        }[self.state]


def responses_by_part(assessment: Assessment) -> dict[tuple[str, str], Response]:
    return {(r.section, r.questionnaire_url): r for r in assessment.responses.all()}


def progress(assessment: Assessment) -> list[SectionProgress]:
    """Each section of the assessment's time point: started or not, and what required answers
    it still lacks."""
    responses = responses_by_part(assessment)
    found = []
    for section in template.comprehensive().sections_for(assessment.time_point):
        started = False
        missing: list[str] = []
        for part in section.parts:
            questionnaire = catalog.shipped_by_id(part.questionnaire)
            response = responses.get((section.key, questionnaire["url"]))
            started = started or bool(response and response.items)
            if part.required:
                answers = answers_from_response({"item": response.items if response else []})
                missing += [text for _, text in missing_required(questionnaire, answers)]
        found.append(SectionProgress(section, started, missing))
    return found


# --- what the record already holds ---------------------------------------------------------------

LIVE_CONDITION = ("active", "recurrence", "relapse")
NOT_HAPPENED = (Encounter.Status.CANCELLED, Encounter.Status.ENTERED_IN_ERROR)


@dataclass
class FromRecord:
    """Answers a questionnaire can take from the chart, and a sentence per answer saying where
    each came from (shown beside the form, for the nurse to check with the patient)."""

    answers: dict[str, list[dict[str, Any]]]
    sources: dict[str, str]


def lace_from_record(patient: Patient, on: date) -> FromRecord:
    """The LACE answers the chart holds on the day `on` (see careway/assessments/lace.py): the
    last inpatient stay begun by then, the codes of the live conditions, and the emergency
    department visits. An admission is taken as acute when an emergency visit began on its day or
    the day before; otherwise the record does not say and the nurse is asked."""
    encounters = list(
        Encounter.objects.filter(
            patient=patient,
            kind__in=[Encounter.Kind.INPATIENT, Encounter.Kind.EMERGENCY],
            period_start__date__lte=on,
        )
        .exclude(status__in=NOT_HAPPENED)
        .order_by("period_start")
        .values_list("kind", "period_start", "period_end")
    )
    emergency = [timezone.localdate(start) for kind, start, _ in encounters if kind == "EMER"]
    stays = [(start, end) for kind, start, end in encounters if kind == "IMP"]
    stay = None
    if stays:
        start, end = stays[-1]
        admitted = timezone.localdate(start)
        acute = any(0 <= (admitted - day).days <= 1 for day in emergency) or None
        stay = lace.Stay(admitted, timezone.localdate(end) if end else None, acute)
    conditions = patient.condition_set.exclude(code="").filter(clinical_status__in=LIVE_CONDITION)
    codes = list(conditions.exclude(verification_status__in=["refuted", "entered-in-error"]))
    answers, _, sources = lace.lace_answers(
        stay,
        [(c.code_system, c.code) for c in codes] if codes else None,
        emergency if encounters else None,
        on,
    )
    return FromRecord(answers, sources)


# Questionnaires (by canonical url) whose answers Careway proposes from the chart.
FROM_RECORD = {lace.QUESTIONNAIRE_URL: lace_from_record}


def from_record(patient: Patient, questionnaire_url: str, on: date) -> FromRecord | None:
    fill = FROM_RECORD.get(questionnaire_url)
    return fill(patient, on) if fill else None

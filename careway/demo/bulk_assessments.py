"""Signed start-of-care assessments for the benchmark agency (`careway demo --patients N`), built
as rows in bulk.

Every patient gets one signed start-of-care assessment, visited on the day care started and
signed that day by the primary case manager, with the questionnaires of the comprehensive
assessment that score or find something: Katz ADL, PHQ-2 (and the PHQ-9 where the PHQ-2 or a
depression diagnosis calls for it), MAHC-10, Braden, pain intensity, the STEADI home check, the
AHC social needs screen, the caregiver questions and, for some caregivers, the MCSI.

Answers are drawn for each patient from what the loader knows of them (age, conditions,
medicines, the caregiver) and three hidden traits (frailty, low mood, the caregiver's strain), so
they hang together: a patient with a hip fracture has fallen and walks badly, a home with
hazards counts on the MAHC-10, a strained caregiver asks for respite. The shares are the ones the
benchmark asks for (issue 18): about 40% at fall risk (MAHC-10 of 4 or more), 15 to 20% with a
PHQ-9 of 10 or more, about 20% at pressure injury risk (Braden 18 or less), 10 to 15% food
insecure, about 1% reporting thoughts of self-harm, about half the homes with a fall hazard.

Each questionnaire's answers are scored by the assessment engine (careway/assessments/engine.py),
and the rows are what signing keeps (careway/assessments/services.py): the scores as
`_keep_scores` writes them, the findings and one flag per kind as `_keep_findings` and
`_flag_for` raise them (source: the instrument's title), a task for the case manager for each
urgent finding as `_raise_urgent` makes it at the visit (closed by them that day), and the pain
score as the chart's pain reading of the visit (`_vital_signs`). tests/demo/test_bulk_assessments.py
runs the answers through those functions and finds the same rows.

A response keeps no answers by default (`items` empty): stored as the services store them, with
each option's wording, they come to about 21 KB of JSON a patient (2 GB at 100,000) that the
benchmarks never read. `keep_answers=True` keeps them (the tests do, to score them again).
"""

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.db import connection
from psycopg.types.json import Jsonb

from careway.assessments import catalog, engine, template
from careway.assessments.models import Assessment, Finding, Response, Score
from careway.assessments.questionnaires import response_items
from careway.assessments.services import FLAG_LABEL_LIMIT, SEVERITY_ORDER
from careway.core.tables import RowWriter, TableShape, reserve_ids
from careway.patients.flags import category_of
from careway.patients.models import LOINC, Observation, PatientFlag, Task

from . import vital_series
from .bulk_careplans import PatientFacts, score_key

TIME_POINT = Assessment.TimePoint.START_OF_CARE
# The questionnaires answered, by id (content/*.json of careway/assessments).
QUESTIONNAIRES = (
    "katz-adl",
    "phq-2",
    "phq-9",
    "mahc-10",
    "braden-scale",
    "pain-nrs",
    "steadi-home-safety",
    "ahc-hrsn",
    "soc-caregivers",
    "mcsi",
)
MODELS = (Assessment, Response, Score, PatientFlag, Finding, Task, Observation)
SIGNED_HOURS = (9, 16)
SIGNED_MINUTES = (10, 20, 35, 50)  # never on the hour, when the care plan's pain scores are
SCORED_LIMIT = 50_000  # sets of answers kept scored (a few KB each)

# --- how patients are drawn (each share is of all patients unless it says otherwise) --------
# Frailty: 0 fit, 1 frail. Most patients are in between; some conditions add to it.
FRAILTY = (2.0, 5.0)  # beta distribution
FRAIL_CONDITIONS = {"hip_fracture": 0.15, "right_hemiparesis": 0.2, "alzheimers": 0.15}
# By condition: the chance of a fall in the last 3 months, of impaired mobility, and the usual
# pain (0 to 10).
FALLEN = {"hip_fracture": 0.85, "alzheimers": 0.15, "right_hemiparesis": 0.15}
IMMOBILE = {"hip_fracture": 0.85, "right_hemiparesis": 0.75}
PAINFUL = {"hip_fracture": 5, "oa_knee": 4, "oa_hip": 4, "gout": 4, "dm_neuropathy": 4}
USUAL_PAIN, PAIN_SPREAD = 2, 1.8
# Low mood: 0 none, 1 severe. A depression diagnosis adds to it.
MOOD = (1.2, 6.5)
DEPRESSED_BY_DIAGNOSIS = 0.3
PHQ9_ANYWAY = 0.15  # asked without a positive PHQ-2, on the nurse's judgement
SELF_HARM = {"moderate": 0.06, "mild": 0.002}  # item 9 above zero, by the PHQ-9 without it
# Caregivers: the MCSI is asked of some, more where dementia or a stroke asks much of them.
MCSI_ASKED, MCSI_ASKED_HEAVY = 0.25, 0.55
HEAVY_CARE = {"alzheimers", "right_hemiparesis"}
STRAIN = (2.0, 5.0)
ABLE_WILLING = (("needs-teaching", 0.08), ("limited", 0.06), ("unwilling", 0.015))
RESPITE = 0.05  # asked for without an MCSI
STRAINED = 0.6  # a strain at which the caregiver asks for respite
# The home: stairs in about half, at least one hazard in about half.
HAS_STAIRS, ANY_HAZARD = 0.55, 0.5
HAZARD_COUNTS = ((1, 45), (2, 30), (3, 17), (4, 8))
COMMON_HAZARDS = {"floor-rugs": 3, "floor-clutter": 2, "bath-support": 3, "bedroom-dark": 2}
# Social needs.
UNSTEADY_HOUSING, NO_HOUSING = 0.05, 0.01
HOUSING_PROBLEM = 0.08
FOOD_INSECURE = 0.12
NO_TRANSPORT, UTILITY_THREAT, UTILITY_OFF = 0.10, 0.05, 0.01
UNSAFE = 0.01
# Katz: the chance of needing help with each activity, at no frailty and the most.
DEPENDENT = {
    "bathing": (0.2, 0.95),
    "dressing": (0.08, 0.85),
    "toileting": (0.04, 0.7),
    "transferring": (0.04, 0.75),
    "continence": (0.05, 0.55),
    "feeding": (0.01, 0.3),
}
# The caregiver's relationship (RelatedPerson) as the caregiver questions code it.
RELATIONSHIPS = {"spouse": "spouse-partner", "child": "child", "friend": "friend-neighbour"}


@dataclass
class AssessmentRows:
    """The rows of one batch, by model. Responses and flags are numbered within the batch until
    `BulkAssessments.write` reserves their ids (scores and findings point at them)."""

    rows: dict[type, list[dict[str, Any]]] = field(
        default_factory=lambda: {model: [] for model in MODELS}
    )
    assessment_ids: list[uuid.UUID] = field(default_factory=list)
    patient_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class _Form:
    """One questionnaire as the agency scores it, the section it is part of, and each item's
    answers by code as the Questionnaire writes them (the value[x] of each answerOption)."""

    entry: catalog.Entry
    section: str
    options: dict[str, dict[str, dict[str, Any]]]
    url: str
    title: str  # the score rows' instrument_title
    source: str  # the flags' source: the title, as the chart shows it
    name: str  # "PHQ-9", as a task names the questionnaire

    def pick(self, link_id: str, code: str | int) -> dict[str, Any]:
        return self.options[link_id][str(code)]


@dataclass(frozen=True)
class _Kind:
    """The findings of one kind in one questionnaire's answers, with the flag they raise."""

    kind: str
    label: str  # the flag's: the worst finding's, "(+N more)" when there are several
    severity: str
    findings: tuple[dict[str, Any], ...]  # the Finding rows but for the patient's columns
    urgent: tuple[engine.Finding, ...]


@dataclass(frozen=True)
class _Scored:
    """What signing keeps of one set of answers to a questionnaire, but for the patient's own
    columns: its score rows (services._keep_scores) and its findings by kind
    (services._keep_findings)."""

    scores: tuple[dict[str, Any], ...]
    kinds: tuple[_Kind, ...]


class BulkAssessments:
    """Builds each patient's signed assessment in memory (no query): see the module's docstring."""

    def __init__(self, organization_id: int, seed: int, zone: Any, *, keep_answers: bool = False):
        self.organization_id, self.seed, self.zone = organization_id, seed, zone
        self.keep_answers = keep_answers
        # Responses and flags are pointed at, so their ids are given (reserved at writing).
        self.shapes = {
            model: TableShape(model, with_id=model in (Response, PatientFlag)) for model in MODELS
        }
        self.json = Jsonb if connection.vendor == "postgresql" else _as_is
        self.template = template.comprehensive()
        sections = {p.questionnaire: s.key for s in self.template.sections for p in s.parts}
        ids = [q for q in self.template.questionnaires() if q in QUESTIONNAIRES]
        urls = {q: str(catalog.shipped_by_id(q)["url"]) for q in ids}
        entries = catalog.entries(organization_id, urls.values())
        self.forms = {q: _form(entries[urls[q]], sections[q]) for q in ids}
        self.pain = vital_series.vital_sign("pain")
        # Patients answer alike far more often than not: each distinct set of answers to a
        # questionnaire is scored once (the engine reads nothing but the answers).
        self.scored: dict[tuple, _Scored] = {}
        # The version signing leaves: one for the start, one for each section saved, one for
        # the signature.
        self.version = 1 + len({form.section for form in self.forms.values()}) + 1

    def rows(self, facts: PatientFacts, out: AssessmentRows) -> None:
        """Append the patient's assessment to `out`, and its scores and pain reading to
        `facts.readings` (the care plan's goals follow them)."""
        rng = random.Random(f"assessment-{self.seed}-{facts.number}")
        assessment_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        visit = facts.start_of_care
        hour = rng.randint(*SIGNED_HOURS)
        # In the agency's working day, which is the same day in UTC: signing records the pain
        # score at the moment it is signed (services._taken_at).
        signed_at = datetime.combine(visit, time(hour, rng.choice(SIGNED_MINUTES)), self.zone)
        case_manager = facts.team[0].user_id
        common = {"organization_id": self.organization_id, "patient_id": facts.patient_id}
        answers = _Answers(self.forms, facts, rng).all()
        out.rows[Assessment].append(
            {
                **common,
                "id": assessment_id,
                "episode_id": facts.episode_id,
                "time_point": TIME_POINT,
                "template": self.template.id,
                "template_version": self.template.version,
                "status": Assessment.Status.SIGNED,
                "visit_date": visit,
                "started_by_id": case_manager,
                "signed_by_id": case_manager,
                "signed_at": signed_at,
                "version": self.version,
                "created_at": signed_at - timedelta(hours=1),
                "updated_at": signed_at,
            }
        )
        out.assessment_ids.append(assessment_id)
        out.patient_ids.append(facts.patient_id)
        signing = _Signing(self, out, common, assessment_id, signed_at, case_manager)
        for key, form in self.forms.items():
            if key in answers:
                signing.keep(form, answers[key])
        for (url, score), value in signing.values.items():
            facts.readings.setdefault(score_key(url, score), []).append((signed_at, value))
        pain = signing.values.get((self.forms["pain-nrs"].url, "total"))
        if pain is not None:
            out.rows[Observation].append(self._pain_reading(common, signed_at, pain, case_manager))
            facts.readings.setdefault(self.pain.code, []).append((signed_at, pain))
            facts.readings[self.pain.code].sort(key=lambda reading: reading[0])

    def score(self, form: _Form, answers: dict[str, list[dict[str, Any]]]) -> _Scored:
        """What signing keeps of these answers, scored by the engine once for each distinct
        set of chosen options (answers in the patient's own words are scored each time)."""
        key = None
        if all(link in form.options for link in answers):
            key = (form.url, *((link, *map(_key, values)) for link, values in answers.items()))
            if key in self.scored:
                return self.scored[key]
        items = [{"linkId": link, "answer": values} for link, values in answers.items()]
        scored = _scored(form, engine.score(form.entry.instrument, {"item": items}))
        if key is not None:
            if len(self.scored) >= SCORED_LIMIT:
                self.scored.clear()
            self.scored[key] = scored
        return scored

    def _pain_reading(self, common: dict, at: datetime, value: float, by: int | None) -> dict:
        """The pain score as the chart's pain reading of the visit, as signing records it."""
        return {
            **common,
            "category": Observation.Category.VITAL_SIGNS,
            "code_system": LOINC,
            "code": self.pain.code,
            "display": self.pain.label,
            "effective_at": at,
            "value": value,
            "unit": self.pain.unit,
            "recorded_at": at,
            "recorded_by_id": by,
        }

    def write(self, writer: RowWriter, out: AssessmentRows) -> None:
        """Reserve the ids scores and findings point at, then write every table in order."""
        rows = out.rows
        response_ids = reserve_ids(Response, len(rows[Response]))
        flag_ids = reserve_ids(PatientFlag, len(rows[PatientFlag]))
        for row in rows[Response]:
            row["id"] = response_ids[row["id"]]
        for row in rows[Score]:
            row["response_id"] = response_ids[row["response_id"]]
        for row in rows[PatientFlag]:
            row["id"] = flag_ids[row["id"]]
        for row in rows[Finding]:
            row["flag_id"] = flag_ids[row["flag_id"]]
        for model in MODELS:
            shape = self.shapes[model]
            writer.write(shape, [shape.row(row) for row in rows[model]])


def _scored(form: _Form, result: engine.Result) -> _Scored:
    scores = []
    for score in result.scores.values():
        if score.value is None:
            continue
        band, code = score.band, score.code or {}
        scores.append(
            {
                "questionnaire_url": form.url,
                "instrument_title": form.title,
                "key": score.key,
                "label": score.label[:200],
                "value": score.value,
                "minimum": score.minimum,
                "maximum": score.maximum,
                "band": band.label[:100] if band else "",
                "meaning": band.meaning[:300] if band else "",
                "flag": band.flag[:40] if band else "",
                "code_system": code.get("system", "")[:100],
                "code": code.get("code", "")[:40],
                "current": True,
            }
        )
    by_kind: dict[str, list[engine.Finding]] = defaultdict(list)
    for finding in result.findings:
        by_kind[finding.kind].append(finding)
    kinds = []
    for kind, found in by_kind.items():
        worst = min(found, key=lambda f: SEVERITY_ORDER.get(f.severity, 3))
        label = worst.label if len(found) == 1 else f"{worst.label} (+{len(found) - 1} more)"
        findings = tuple(
            {
                "questionnaire_url": form.url,
                "kind": kind,
                "label": f.label[:300],
                "severity": f.severity,
                "fix": (f.fix or "")[:500],
                "source": str(f.source)[:60],
            }
            for f in found
        )
        urgent = tuple(f for f in found if f.severity == PatientFlag.Severity.URGENT)
        kinds.append(_Kind(kind, label, worst.severity, findings, urgent))
    return _Scored(tuple(scores), tuple(kinds))


class _Signing:
    """One assessment's signature: each questionnaire scored and kept, its findings raised as
    flags, one flag per kind (services._keep_findings and _flag_for)."""

    def __init__(
        self,
        bulk: BulkAssessments,
        out: AssessmentRows,
        common: dict[str, Any],
        assessment_id: uuid.UUID,
        signed_at: datetime,
        case_manager: int | None,
    ):
        self.bulk, self.out, self.common = bulk, out, common
        self.assessment_id, self.signed_at, self.case_manager = (
            assessment_id,
            signed_at,
            case_manager,
        )
        # What every row of the assessment shares.
        self.of_assessment = {
            **common,
            "assessment_id": assessment_id,
            "created_at": signed_at,
            "updated_at": signed_at,
        }
        self.flags: dict[str, dict[str, Any]] = {}
        self.tasks: set[str] = set()
        self.values: dict[tuple[str, str], float] = {}

    def keep(self, form: _Form, answers: dict[str, list[dict[str, Any]]]) -> None:
        rows, at = self.out.rows, self.signed_at
        scored = self.bulk.score(form, answers)
        response = len(rows[Response])
        rows[Response].append(
            {
                **self.of_assessment,
                "id": response,
                "section": form.section,
                "questionnaire_url": form.url,
                "questionnaire_version": form.entry.version,
                "updated_by_id": self.case_manager,
                **self._items(form, answers),
            }
        )
        for score in scored.scores:
            rows[Score].append(
                {**self.of_assessment, **score, "response_id": response, "observed_at": at}
            )
            self.values[(form.url, score["key"])] = score["value"]
        for kind in scored.kinds:
            flag = self._flag(form, kind.kind, kind.label, kind.severity)
            rows[Finding] += [
                {**self.of_assessment, **finding, "flag_id": flag["id"], "found_at": at}
                for finding in kind.findings
            ]
            for finding in kind.urgent:
                self._task(form, finding, answers)

    def _items(self, form: _Form, answers: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        """The answers as the services keep them (QuestionnaireResponse.item in the
        Questionnaire's shape), or nothing: the default, no items."""
        if not self.bulk.keep_answers:
            return {}
        return {"items": self.bulk.json(response_items(form.entry.questionnaire, answers))}

    def _flag(self, form: _Form, kind: str, label: str, severity: str) -> dict[str, Any]:
        """The patient's flag of this kind: raised by the first questionnaire that finds it,
        brought up to date by the same one, left as it is by any other."""
        flag = self.flags.get(kind[:40])
        if flag is None:
            flag = {
                **self.common,
                "id": len(self.out.rows[PatientFlag]),
                "kind": kind[:40],
                "category": category_of(kind[:40]),
                "label": label[:FLAG_LABEL_LIMIT],
                "severity": severity,
                "source": form.source,
                "active": True,
                "raised_at": self.signed_at,
                "created_at": self.signed_at,
                "updated_at": self.signed_at,
            }
            self.out.rows[PatientFlag].append(flag)
            self.flags[kind[:40]] = flag
        elif flag["source"] == form.source:
            flag["label"], flag["severity"] = label[:FLAG_LABEL_LIMIT], severity
        return flag

    def _task(
        self, form: _Form, finding: engine.Finding, answers: dict[str, list[dict[str, Any]]]
    ) -> None:
        """The case manager's task an urgent answer makes the moment it is saved
        (services._task_for), done by them at the visit."""
        source = f"assessment:{self.assessment_id}:{finding.kind}"[:100]
        if source in self.tasks:
            return
        self.tasks.add(source)
        answered = _answered(form, answers, finding.source)
        visit = self.signed_at.date()
        self.out.rows[Task].append(
            {
                **self.common,
                "assigned_to_id": self.case_manager,
                "title": finding.label[:200],
                "detail": (
                    f"{answered} on {visit:%b} {visit.day}, in the "
                    if answered
                    else "Raised by an answer in the "
                )
                + f"{Assessment.TimePoint(TIME_POINT).label.lower()} assessment. "
                "Assess safety today and follow the agency's protocol.",
                "priority": PatientFlag.Severity.URGENT,
                "due_date": visit,
                "source": source,
                "status": Task.Status.DONE,
                "completed_at": self.signed_at + timedelta(minutes=30),
                "completed_by_id": self.case_manager,
                "completion_note": "Safety assessed with the patient at the visit; the "
                "agency's protocol followed and the physician told.",
                "created_at": self.signed_at - timedelta(minutes=30),
                "updated_at": self.signed_at + timedelta(minutes=30),
            }
        )


def _answered(form: _Form, answers: dict[str, list[dict[str, Any]]], link_id: str) -> str:
    """'PHQ-9 item 9 answered “Several days”', as the services' task says it (empty when the
    finding is not one answer's)."""
    values = answers.get(link_id)
    if not values:
        return ""
    coding = values[0].get("valueCoding") or {}
    answer = coding.get("display") or coding.get("code")
    return f"{form.name} item {link_id} answered “{answer}”"


def _form(entry: catalog.Entry, section: str) -> _Form:
    options: dict[str, dict[str, dict[str, Any]]] = {}
    for item in _all_items(entry.questionnaire.get("item", [])):
        values = [
            {k: v for k, v in option.items() if k.startswith("value")}
            for option in item.get("answerOption") or []
        ]
        if values:
            options[item["linkId"]] = {_key(value): value for value in values}
    name = str(entry.questionnaire.get("name") or "").replace("_", "-") or entry.title
    return _Form(entry, section, options, entry.url, entry.title[:200], entry.title[:100], name)


def _key(value: dict[str, Any]) -> str:
    coding = value.get("valueCoding")
    if isinstance(coding, dict):
        return str(coding.get("code"))
    return str(next(iter(value.values())))


def _all_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        found.append(item)
        found += _all_items(item.get("item", []))
    return found


# --- the answers --------------------------------------------------------------------------------


class _Answers:
    """One patient's answers to each questionnaire (linkId -> [value[x]]), drawn from what the
    loader knows of them and their hidden traits."""

    def __init__(self, forms: dict[str, _Form], facts: PatientFacts, rng: random.Random):
        self.forms, self.facts, self.rng = forms, facts, rng
        self.conditions = set(facts.conditions)
        frailty = rng.betavariate(*FRAILTY) + sum(
            extra for key, extra in FRAIL_CONDITIONS.items() if key in self.conditions
        )
        self.frailty = min(frailty, 1.0)

    def all(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        found: dict[str, dict[str, list[dict[str, Any]]]] = {}
        found["katz-adl"] = self._katz()
        found.update(self._mood())
        found["braden-scale"] = self._braden()
        pain = self._pain()
        found["pain-nrs"] = {"pain": [self.forms["pain-nrs"].pick("pain", pain)]}
        hazards, found["steadi-home-safety"] = self._home()
        found["mahc-10"] = self._falls(hazards, pain)
        found["ahc-hrsn"] = self._social_needs()
        found.update(self._caregiver())
        return found

    def _yes_no(self, key: str, link_id: str, yes: bool) -> list[dict[str, Any]]:
        return [self.forms[key].pick(link_id, "yes" if yes else "no")]

    def _chance(self, low: float, high: float) -> bool:
        return self.rng.random() < low + (high - low) * self.frailty

    def _katz(self) -> dict[str, list[dict[str, Any]]]:
        return {
            link: [
                self.forms["katz-adl"].pick(
                    link, f"{link}-{'dependent' if self._chance(*chances) else 'independent'}"
                )
            ]
            for link, chances in DEPENDENT.items()
        }

    def _mood(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        rng = self.rng
        mood = rng.betavariate(*MOOD) + 0.1 * self.frailty
        depressed = "depression" in self.conditions
        mood = min(1.0, mood + (DEPRESSED_BY_DIAGNOSIS if depressed else 0.0))
        points = [_level(mood * 3.4 + rng.gauss(0, 0.7), 3) for _ in range(8)]
        codes = list(self.forms["phq-9"].options["1"])  # the four answers, least to most
        phq2 = {
            link: [self.forms["phq-2"].pick(link, codes[points[int(link) - 1]])] for link in "12"
        }
        found = {"phq-2": phq2}
        positive = points[0] + points[1] >= 3 or max(points[:2]) >= 2
        if positive or depressed or rng.random() < PHQ9_ANYWAY:
            without_9 = sum(points)
            band = "moderate" if without_9 >= 10 else "mild" if without_9 >= 5 else ""
            item_9 = 0
            if band and rng.random() < SELF_HARM[band]:
                item_9 = rng.choice((1, 1, 2))
            found["phq-9"] = {
                str(n): [self.forms["phq-9"].pick(str(n), codes[p])]
                for n, p in enumerate([*points, item_9], start=1)
            }
        return found

    def _braden(self) -> dict[str, list[dict[str, Any]]]:
        found = {}
        form = self.forms["braden-scale"]
        immobile = bool(IMMOBILE.keys() & self.conditions)
        for link, options in form.options.items():
            best = len(options)
            lost = sum(self.rng.random() < 0.025 + 0.55 * self.frailty**2 for _ in range(best - 1))
            if immobile and link in ("activity", "mobility"):
                lost += 1
            found[link] = [form.pick(link, f"{link}-{max(1, best - lost)}")]
        return found

    def _pain(self) -> int:
        level = max([USUAL_PAIN, *(PAINFUL.get(key, 0) for key in self.conditions)])
        return min(10, max(0, round(self.rng.gauss(level, PAIN_SPREAD))))

    def _home(self) -> tuple[int, dict[str, list[dict[str, Any]]]]:
        rng, key = self.rng, "steadi-home-safety"
        stairs = rng.random() < HAS_STAIRS
        questions = [
            link
            for link in self.forms[key].options
            if link != "has-stairs" and (stairs or not link.startswith("stairs-"))
        ]
        hazards: set[str] = set()
        if rng.random() < ANY_HAZARD:
            count = rng.choices(*zip(*HAZARD_COUNTS, strict=True))[0]
            weights = [COMMON_HAZARDS.get(link, 1) for link in questions]
            ranked = sorted(
                zip(questions, weights, strict=True),
                key=lambda pair: rng.random() ** (1 / pair[1]),
                reverse=True,
            )
            hazards = {link for link, _ in ranked[:count]}
        found = {"has-stairs": self._yes_no(key, "has-stairs", stairs)}
        found.update({link: self._yes_no(key, link, link in hazards) for link in questions})
        return len(hazards), found

    def _falls(self, hazards: int, pain: int) -> dict[str, list[dict[str, Any]]]:
        rng, facts, key = self.rng, self.facts, "mahc-10"
        fallen = max([0.03 + 0.08 * self.frailty, *(FALLEN.get(c, 0) for c in self.conditions)])
        immobile = max([0.0, *(IMMOBILE.get(c, 0) for c in self.conditions)])
        dementia = "alzheimers" in self.conditions
        age = _age_on(facts.birth_date, facts.start_of_care) if facts.birth_date else 65
        elements = {
            "age": age >= 65,
            "diagnoses": len(self.conditions) >= 3,
            "falls": rng.random() < fallen,
            "incontinence": self._chance(0.02, 0.08) or (dementia and rng.random() < 0.1),
            "vision": rng.random() < (0.4 if "dm_retinopathy" in self.conditions else 0.03),
            "mobility": rng.random() < immobile if immobile else self._chance(0.02, 0.12),
            "environment": rng.random() < (0.2 if hazards >= 2 else 0.05 if hazards else 0.0),
            "polypharmacy": facts.medications >= 4,
            "pain": rng.random() < (0.5 if pain >= 7 else 0.01),
            "cognition": dementia or self._chance(0.01, 0.07),
        }
        return {link: self._yes_no(key, link, yes) for link, yes in elements.items()}

    def _social_needs(self) -> dict[str, list[dict[str, Any]]]:
        rng, form = self.rng, self.forms["ahc-hrsn"]
        living = rng.random()
        housing = "LA31995-6" if living < NO_HOUSING else "LA31994-9"
        if living >= NO_HOUSING + UNSTEADY_HOUSING:
            housing = "LA31993-1"
        problems = ["LA9-3"]
        if rng.random() < HOUSING_PROBLEM:
            others = [code for code in form.options["housing-problems"] if code != "LA9-3"]
            problems = rng.sample(others, k=rng.choice((1, 1, 2)))
        worry, ran_out = "LA28398-8", "LA28398-8"  # never true
        if rng.random() < FOOD_INSECURE:
            worry = rng.choice(("LA6729-3", "LA6729-3", "LA28397-0"))
            ran_out = rng.choice(("LA28398-8", "LA6729-3", "LA6729-3", "LA28397-0"))
        utilities = rng.random()
        utility = "LA32002-0" if utilities < UTILITY_OFF else "LA33-6"
        if utilities >= UTILITY_OFF + UTILITY_THREAT:
            utility = "LA32-8"
        safety = ["LA6270-8"] * 4  # never
        if rng.random() < UNSAFE:  # sometimes, fairly often or frequently: above 10 in all
            safety = [rng.choice(("LA10082-8", "LA16644-9", "LA6482-9")) for _ in range(4)]
        found = {
            "living-situation": [form.pick("living-situation", housing)],
            "housing-problems": [form.pick("housing-problems", code) for code in problems],
            "food-worry": [form.pick("food-worry", worry)],
            "food-ran-out": [form.pick("food-ran-out", ran_out)],
            "transportation": [
                form.pick("transportation", "LA33-6" if rng.random() < NO_TRANSPORT else "LA32-8")
            ],
            "utilities": [form.pick("utilities", utility)],
        }
        for link, code in zip(("hurt", "insult", "threaten", "scream"), safety, strict=True):
            found[link] = [form.pick(link, code)]
        return found

    def _caregiver(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        caregiver, rng = self.facts.caregiver, self.rng
        form = self.forms["soc-caregivers"]
        if caregiver is None:
            return {
                "soc-caregivers": {
                    "living-arrangement": [form.pick("living-arrangement", "alone")],
                    "has-caregiver": [{"valueBoolean": False}],
                }
            }
        heavy = bool(HEAVY_CARE & self.conditions)
        strain = min(1.0, rng.betavariate(*STRAIN) + 0.2 * heavy + 0.2 * self.frailty)
        asked = rng.random() < (MCSI_ASKED_HEAVY if heavy else MCSI_ASKED)
        able = "able-willing"
        draw = rng.random() - (0.1 if strain > 0.6 else 0.0)
        for code, share in ABLE_WILLING:
            if draw < share:
                able = code
                break
            draw -= share
        respite = strain > STRAINED if asked else rng.random() < RESPITE
        lives_with = caregiver.lives_with
        found: dict[str, dict[str, list[dict[str, Any]]]] = {
            "soc-caregivers": {
                "living-arrangement": [
                    form.pick("living-arrangement", "with-others" if lives_with else "alone")
                ],
                "has-caregiver": [{"valueBoolean": True}],
                "caregiver-name": [{"valueString": caregiver.name}],
                "caregiver-relationship": [
                    form.pick(
                        "caregiver-relationship",
                        RELATIONSHIPS.get(caregiver.relationship, "other"),
                    )
                ],
                "caregiver-lives-with": [{"valueBoolean": lives_with}],
                "caregiver-hours": [
                    {"valueInteger": rng.randint(20, 70) if lives_with else rng.randint(4, 20)}
                ],
                "caregiver-able-willing": [form.pick("caregiver-able-willing", able)],
                "respite": [form.pick("respite", "yes" if respite else "no")],
            }
        }
        if asked:
            mcsi = self.forms["mcsi"]
            codes = list(mcsi.options["sleep"])  # no, sometimes, on a regular basis
            found["mcsi"] = {
                link: [mcsi.pick(link, codes[_level(strain * 2.4 + rng.gauss(0, 0.6), 2)])]
                for link in mcsi.options
            }
        return found


def _level(value: float, highest: int) -> int:
    return min(highest, max(0, round(value)))


def _as_is(value: Any) -> Any:
    return value


def _age_on(birth: Any, day: Any) -> int:
    return int(day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day)))

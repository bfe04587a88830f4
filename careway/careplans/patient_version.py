"""The patient's version of the care plan: the plan as the patient and family read it (issue 19).

Their goals first (in their own words where the team wrote them down), what each person will do (the
plan's active interventions, grouped by who does them, the patient's own part first), when the nurse
and the others come (the plan's active visit frequencies, in words), and whom to call and when (the
red flags for their conditions, with the agency's phone numbers and 911). Large print, printed from
the browser or as a PDF, in the patient's language where Careway has one.

Every text Careway writes here comes from content/patient_words.json, in English and Spanish.
Text the care team typed (a goal, an intervention, the reason of an as-needed visit) is shown as
it was typed and never machine-translated: a wrong translation of a clinical instruction is worse
than an instruction in English that a family member or interpreter reads out. In any other
language than English the page says so in small print.

`build_version(plan, lang)` reads in a fixed number of queries whatever the plan holds;
`frequency_in_words(text, lang)` says a visit frequency in either language, from the one parser
of careway/careplans/frequency.py.
"""

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from careway.core.models import Organization
from careway.core.roles import Discipline
from careway.patients.models import Patient

from .frequency import AsNeeded, Daily, FrequencyError, Monthly, Part, Weekly, parse
from .handouts import ENGLISH, language_for
from .models import CarePlan, CarePlanRevision, DisciplineFrequency, Goal, Intervention
from .red_flags import RedFlags, red_flags_for

WORDS_FILE = Path(__file__).parent / "content" / "patient_words.json"
EMERGENCY_NUMBER = "911"

# The goals a patient is working toward, and the interventions and visits under way.
SHOWN_GOALS = (Goal.Lifecycle.ACTIVE, Goal.Lifecycle.PROPOSED)
SHOWN_INTERVENTIONS = (Intervention.Status.ACTIVE,)
SHOWN_FREQUENCIES = (DisciplineFrequency.Status.ACTIVE,)

# Who does what, in the order the page lists them: the patient first ("You": what they do
# themself, Intervention.by_patient), then the visiting disciplines, then the named clinicians
# who are not tied to one discipline's visits, then the family. The patient's own part comes
# first because it is the part of the plan only this reader carries out, every day, between
# visits (weighing each morning, checking blood sugar), and the section comes right after their
# goals, which those daily tasks serve: read top down, "my goals" then "what I do for them".
# What the team does at its visits is also said again under "When we come".
DISCIPLINE_GROUPS = {
    Discipline.RN: "who_nurse",
    Discipline.LPN: "who_nurse",
    Discipline.PT: "who_physical_therapist",
    Discipline.OT: "who_occupational_therapist",
    Discipline.SLP: "who_speech_therapist",
    Discipline.MSW: "who_social_worker",
    Discipline.HHA: "who_aide",
}
WHO_PATIENT = "who_patient"
GROUP_ORDER = [
    WHO_PATIENT,
    "who_nurse",
    "who_physical_therapist",
    "who_occupational_therapist",
    "who_speech_therapist",
    "who_social_worker",
    "who_aide",
]


# --- the words ---------------------------------------------------------------------------------


@cache
def _file() -> dict[str, Any]:
    return json.loads(WORDS_FILE.read_text(encoding="utf-8"))


def languages() -> tuple[str, ...]:
    """The languages the version is written in (English first)."""
    return tuple(_file()["languages"])


def words(lang: str) -> dict[str, Any]:
    """Every text of the version in `lang` (English for a language Careway does not have)."""
    shipped = _file()["languages"]
    return shipped.get(lang, shipped[ENGLISH])


def language_of(patient: Patient, asked: str | None = None) -> tuple[str, bool]:
    """The language to show the version in, and whether the one asked for was missing.

    `asked` (a `?lang=` of the page) wins when Careway has it; otherwise the patient's preferred
    language (BCP 47: "es-MX" gives Spanish) where Careway has it, else English."""
    shipped = languages()
    if asked:
        chosen = language_for(asked, shipped)
        return chosen, chosen != asked.strip().lower().split("-")[0]
    return language_for(patient.preferred_language, shipped), False


def written_date(day: date, lang: str) -> str:
    said = words(lang)
    return str(said["date"]).format(month=said["months"][day.month - 1], day=day.day, year=day.year)


# --- frequencies in words ----------------------------------------------------------------------


def frequency_in_words(text: str, lang: str) -> str:
    """A visit frequency in words, in `lang`: "3w1, 2w4" is "3 times a week for 1 week, then 2
    times a week for 4 weeks" ("3 veces por semana durante 1 semana, luego 2 veces por semana
    durante 4 semanas"). The scheduled parts in order, then the as-needed part. An empty string
    for a notation the parser cannot read (an imported one): callers show it as typed."""
    try:
        frequency = parse(text)
    except FrequencyError:
        return ""
    said = words(lang)
    scheduled = [_part_in_words(part, said) for part in frequency.scheduled]
    result = str(said["freq_then"]).join(scheduled)
    for part in frequency.parts:
        if isinstance(part, AsNeeded):
            as_needed = _part_in_words(part, said)
            result = f"{result}{said['freq_also']}{as_needed}" if result else as_needed
    return result


def _part_in_words(part: Part, said: dict[str, Any]) -> str:
    if isinstance(part, Weekly):
        return str(said["freq_week"]).format(
            times=_times(part.per_week, said), count=_count(part.weeks, "week", said)
        )
    if isinstance(part, Monthly):
        return str(said["freq_month"]).format(
            times=_times(part.per_month, said), count=_count(part.months, "month", said)
        )
    if isinstance(part, Daily):
        return str(said["freq_daily"]).format(count=_count(part.days, "day", said))
    as_needed = str(said["freq_as_needed"]).format(visits=_count(part.most, "visit", said))
    if part.reason:  # typed by the team: shown as typed
        return str(said["freq_reason"]).format(said=as_needed, reason=part.reason)
    return as_needed


def _times(n: int, said: dict[str, Any]) -> str:
    return str(said["freq_once"]) if n == 1 else str(said["freq_times"]).format(n=n)


def _count(n: int, unit: str, said: dict[str, Any]) -> str:
    return str(said[f"count_{unit}" if n == 1 else f"count_{unit}s"]).format(n=n)


# --- the version -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One thing a person will do: the team's words, and how often where it has its own."""

    text: str
    how_often: str = ""


@dataclass(frozen=True)
class WhoGroup:
    key: str
    title: str
    tasks: tuple[Task, ...]


@dataclass(frozen=True)
class PhoneLine:
    """A line of the phone box: the number apart, so that it never breaks across lines."""

    before: str
    number: str = ""
    after: str = ""

    def __str__(self) -> str:
        return f"{self.before}{self.number}{self.after}"


@dataclass(frozen=True)
class PatientVersion:
    """What the patient's version shows, every text in `lang` but what the team typed."""

    lang: str
    words: dict[str, Any]
    patient_name: str
    title: str
    for_line: str
    revision: int
    revised_on: date
    revision_line: str
    goals: tuple[str, ...]
    groups: tuple[WhoGroup, ...]
    visits: tuple[str, ...]
    red_flags: tuple[RedFlags, ...]
    phones: tuple[PhoneLine, ...]
    agency_name: str
    typed_note: str


def build_version(plan: CarePlan, lang: str) -> PatientVersion:
    """The patient's version of `plan` in `lang` (a BCP 47 tag; English where Careway has no
    translation). The caller has checked access to the plan's patient."""
    lang = language_for(lang, languages())
    said = words(lang)
    patient = plan.patient
    organization = patient.organization
    revised_on = _revised_on(plan, organization)
    goals = tuple(_goal_words(goal) for goal in _goals(plan))
    groups = _groups(_interventions(plan), said, lang)
    return PatientVersion(
        lang=lang,
        words=said,
        patient_name=_name_of(patient),
        title=said["title"],
        for_line=str(said["for_name"]).format(name=_name_of(patient)),
        revision=plan.revision,
        revised_on=revised_on,
        revision_line=str(said["plan_version"]).format(
            revision=plan.revision, date=written_date(revised_on, lang)
        ),
        goals=goals,
        groups=groups,
        visits=tuple(_visit_sentences(plan, said, lang)),
        red_flags=tuple(red_flags_for(patient, lang)),
        phones=tuple(_phones(organization, said)),
        agency_name=organization.name,
        typed_note="" if lang == ENGLISH or not (goals or groups) else said["typed_by_team"],
    )


def _name_of(patient: Patient) -> str:
    return f"{patient.preferred_name or patient.given_name} {patient.family_name}"


def zone_of(organization: Organization) -> ZoneInfo:
    """The agency's time zone, in which the version's dates are written."""
    try:
        return ZoneInfo(organization.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _revised_on(plan: CarePlan, organization: Organization) -> date:
    """The day of the plan's newest revision, in the agency's zone."""
    made = (
        CarePlanRevision.objects.filter(plan=plan, number=plan.revision)
        .values_list("made_at", flat=True)
        .first()
    )
    return timezone.localtime(made or plan.updated_at, zone_of(organization)).date()


def _goals(plan: CarePlan) -> list[Goal]:
    return list(Goal.objects.filter(plan=plan, lifecycle_status__in=SHOWN_GOALS))


def _goal_words(goal: Goal) -> str:
    return goal.patient_words.strip() or goal.description


def _interventions(plan: CarePlan) -> list[Intervention]:
    return list(
        Intervention.objects.filter(plan=plan, status__in=SHOWN_INTERVENTIONS).select_related(
            "clinician", "caregiver"
        )
    )


def _groups(rows: list[Intervention], said: dict[str, Any], lang: str) -> tuple[WhoGroup, ...]:
    """The interventions by who does them: the patient's own, a discipline's (a named
    clinician's too, when the intervention is done at that discipline's visits), a named
    clinician's, a caregiver's."""
    found: dict[str, tuple[str, list[Task]]] = {}
    for row in rows:
        key, title = _who(row, said)
        task = Task(row.text, _how_often(row, said, lang))
        found.setdefault(key, (title, []))[1].append(task)
    ordered = sorted(found, key=_group_rank)
    return tuple(WhoGroup(key, found[key][0], tuple(found[key][1])) for key in ordered)


def _who(row: Intervention, said: dict[str, Any]) -> tuple[str, str]:
    if row.by_patient:
        return WHO_PATIENT, said[WHO_PATIENT]
    if row.caregiver_id is not None and row.caregiver is not None:
        key = f"caregiver:{row.caregiver_id}"
        return key, str(said["who_caregiver"]).format(name=row.caregiver.name)
    discipline = row.discipline or row.at_visits_of
    if row.clinician_id is not None and row.clinician is not None and not row.at_visits_of:
        key = f"clinician:{row.clinician_id}"
        return key, str(said["who_team_member"]).format(name=row.clinician.display_name)
    group = DISCIPLINE_GROUPS[Discipline(discipline)]
    return group, said[group]


def _group_rank(key: str) -> tuple[int, str]:
    if key in GROUP_ORDER:
        return GROUP_ORDER.index(key), ""
    kind = key.partition(":")[0]
    return {"clinician": len(GROUP_ORDER), "caregiver": len(GROUP_ORDER) + 1}[kind], key


def _how_often(row: Intervention, said: dict[str, Any], lang: str) -> str:
    """How often, where the intervention has its own frequency (else it is done at the visits
    the next section lists); a notation the parser cannot read (an imported one) as typed."""
    if not row.frequency:
        return ""
    in_words = frequency_in_words(row.frequency, lang) or row.frequency
    return str(said["how_often"]).format(words=in_words)


def _visit_sentences(plan: CarePlan, said: dict[str, Any], lang: str) -> list[str]:
    rows = DisciplineFrequency.objects.filter(plan=plan, status__in=SHOWN_FREQUENCIES)
    groups = [(DISCIPLINE_GROUPS[Discipline(row.discipline)], row) for row in rows]
    sentences = []
    for group, row in sorted(groups, key=lambda pair: GROUP_ORDER.index(pair[0])):
        in_words = frequency_in_words(row.frequency, lang)
        # A notation the parser cannot read (an imported one) is shown as typed.
        template = said["visit"] if in_words else said["visit_as_typed"]
        said_of_row = [str(template).format(who=said[group], words=in_words or row.frequency)]
        for key, day in (("visit_from", row.start_date), ("visit_until", row.end_date)):
            if day:
                said_of_row.append(str(said[key]).format(date=written_date(day, lang)))
        sentences.append(" ".join(said_of_row))
    return sentences


def _phone_line(template: str, number: str = "") -> PhoneLine:
    before, _, after = template.partition("{phone}")
    return PhoneLine(before, number, after) if number else PhoneLine(template)


def _phones(organization: Organization, said: dict[str, Any]) -> list[PhoneLine]:
    day, night = organization.phone.strip(), organization.after_hours_phone.strip()
    if day and night and day != night:
        lines = [_phone_line(said["phone_day"], day), _phone_line(said["phone_after_hours"], night)]
    elif day or night:
        lines = [_phone_line(said["phone_any_time"], day or night)]
    else:
        lines = [_phone_line(said["phone_missing"])]
    return [*lines, _phone_line(said["phone_emergency"], EMERGENCY_NUMBER)]

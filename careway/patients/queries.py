"""Read-side queries of the patient pages: the caseload, the banner and each chart section.

Every function starts from a patient the caller got from `careway.patients.access` (or from
`access.visible_patients`) and uses a fixed number of queries whatever the number of rows:
annotations and subqueries for the caseload, Prefetch for related lists, bounded slices elsewhere.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf.locale import LANG_INFO
from django.core.paginator import Page
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from careway.core.models import Membership, User
from careway.core.roles import Role
from careway.patients import alerts
from careway.toolkit.pages import paginate

from . import access
from .display import role_and_discipline
from .models import (
    Allergy,
    CareTeamMember,
    Condition,
    Coverage,
    Encounter,
    EpisodeOfCare,
    Medication,
    Observation,
    Patient,
    PatientFlag,
    RelatedPerson,
    Task,
)
from .today import TodayRow
from .vitals import VitalSign, all_codes, sign_for_code

CASELOAD_PAGE_SIZE = 50
OPEN_EPISODE = (
    EpisodeOfCare.Status.REFERRED,
    EpisodeOfCare.Status.ACTIVE,
    EpisodeOfCare.Status.ON_HOLD,
)
ACTIVE_CONDITION = (
    Condition.ClinicalStatus.ACTIVE,
    Condition.ClinicalStatus.RECURRENCE,
    Condition.ClinicalStatus.RELAPSE,
)
HIDDEN_CONDITION = (Condition.Verification.ENTERED_IN_ERROR, Condition.Verification.REFUTED)
CURRENT_MEDICATION = (Medication.Status.ACTIVE, Medication.Status.ON_HOLD)
SEVERITY_RANK = Case(
    When(severity=PatientFlag.Severity.URGENT, then=Value(0)),
    When(severity=PatientFlag.Severity.WARNING, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)
SEVERITY_RANK_OF_PRIORITY = Case(
    When(priority=PatientFlag.Severity.URGENT, then=Value(0)),
    When(priority=PatientFlag.Severity.WARNING, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)
# The most rows one list of Today shows (a supervisor's branch may have many).
TODAY_LIMIT = 200
VITALS_WINDOW = timedelta(days=90)
# A patient on remote monitoring may send many readings a day; a page never draws more than this.
VITALS_LIMIT = 3000


def current_episodes() -> QuerySet[EpisodeOfCare]:
    """Episodes, the current one first: an open one if any, else the latest closed one."""
    return EpisodeOfCare.objects.annotate(
        closed=Case(When(status__in=OPEN_EPISODE, then=Value(0)), default=Value(1))
    ).order_by("closed", F("start_of_care").desc(nulls_first=True), "-pk")


def primary_diagnoses() -> QuerySet[Condition]:
    """The patient's primary diagnosis first, else their earliest recorded active problem."""
    return (
        Condition.objects.filter(Q(is_primary=True) | Q(clinical_status__in=ACTIVE_CONDITION))
        .exclude(verification_status__in=HIDDEN_CONDITION)
        .order_by("-is_primary", "recorded_at", "pk")
    )


def active_flags() -> QuerySet[PatientFlag]:
    return PatientFlag.objects.filter(active=True).order_by(SEVERITY_RANK, "-raised_at")


# --- The caseload ---------------------------------------------------------------------------


# The case manager filter's value for patients whose current episode has no primary one.
NO_CASE_MANAGER = "none"


def caseload(
    user: User, *, q: str = "", flag: str = "", episodes: str = "open", case_manager: str = ""
) -> QuerySet[Patient]:
    episode = current_episodes().filter(patient=OuterRef("pk"))
    patients = (
        access.visible_patients(user)
        .select_related("branch")
        .annotate(
            episode_status=Subquery(episode.values("status")[:1]),
            episode_start=Subquery(episode.values("start_of_care")[:1]),
            current_episode_id=Subquery(episode.values("pk")[:1]),
        )
    )
    if episodes == "open":
        patients = patients.filter(episode_status__in=OPEN_EPISODE)
    elif episodes == "closed":
        patients = patients.exclude(episode_status__in=OPEN_EPISODE)
    if flag:
        flagged = PatientFlag.objects.filter(patient=OuterRef("pk"), active=True, category=flag)
        patients = patients.filter(Exists(flagged))
    if case_manager == NO_CASE_MANAGER:
        patients = patients.exclude(Exists(primary_case_managers()))
    elif case_manager:
        patients = patients.filter(Exists(primary_case_managers().filter(user_id=case_manager)))
    return _search(patients, q)


def primary_case_managers() -> QuerySet[CareTeamMember]:
    """The primary case manager on the current episode of each caseload row (a subquery of
    `caseload`, whose rows carry `current_episode_id`)."""
    return CareTeamMember.objects.filter(
        episode_id=OuterRef("current_episode_id"),
        active=True,
        is_primary_case_manager=True,
        user__isnull=False,
    )


def with_case_manager(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """The caseload's case manager column: `case_manager` ("Family, Given"), in its own query."""
    name = Concat("user__last_name", Value(", "), "user__first_name")
    return patients.annotate(
        case_manager=Subquery(primary_case_managers().annotate(name=name).values("name")[:1])
    )


@dataclass(frozen=True)
class CaseloadSize:
    """One case manager's caseload (user_id None: the patients with no primary case manager)."""

    user_id: int | None
    name: str
    patients: int

    @property
    def filter_value(self) -> str:
        return NO_CASE_MANAGER if self.user_id is None else str(self.user_id)


def caseload_sizes(supervisor: User, patients: QuerySet[Patient]) -> list[CaseloadSize]:
    """How many of these caseload rows each case manager is primary for, in two queries: every
    case manager of the supervised branches (none too) and anyone else primary here, by name;
    the patients without one last."""
    counted = {
        row["manager"]: row["n"]
        for row in patients.annotate(
            manager=Subquery(primary_case_managers().values("user_id")[:1])
        )
        .order_by()
        .values("manager")
        .annotate(n=Count("pk"))
    }
    found = [pk for pk in counted if pk is not None]
    sizes = [
        CaseloadSize(m.pk, _family_first(m), counted.get(m.pk, 0))
        for m in _case_managers(supervisor, Q(pk__in=found))
    ]
    if counted.get(None):
        sizes.append(CaseloadSize(None, "No case manager", counted[None]))
    return sizes


def case_manager_choices(supervisor: User) -> list[tuple[str, str]]:
    """The case manager filter's choices, in one query and without counting: the case managers
    of the supervised branches and anyone primary on the team of a patient the supervisor sees
    (in any episode), by name; then the patients with none."""
    primary = CareTeamMember.objects.filter(
        active=True, is_primary_case_manager=True, patient__in=access.visible_patients(supervisor)
    ).values("user_id")
    managers = _case_managers(supervisor, Q(pk__in=primary))
    return [(str(m.pk), _family_first(m)) for m in managers] + [
        (NO_CASE_MANAGER, "No case manager")
    ]


def _case_managers(supervisor: User, also: Q) -> QuerySet[User]:
    """The active case managers of the supervisor's branches, and the people `also` names."""
    in_branches = Membership.objects.filter(
        active=True, role=Role.CASE_MANAGER, branch_id__in=supervisor.supervised_branch_ids()
    ).values("user_id")
    return (
        User.objects.filter(organization_id=supervisor.organization_id)
        .filter(also | Q(is_active=True, pk__in=in_branches))
        .order_by("last_name", "first_name", "pk")
    )


def _family_first(user: User) -> str:
    return f"{user.last_name}, {user.first_name}" if user.last_name else user.username


def with_primary_diagnosis(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """The caseload's diagnosis column: `primary_diagnosis`, in the caseload's own query."""
    return patients.annotate(
        primary_diagnosis=Subquery(
            primary_diagnoses().filter(patient=OuterRef("pk")).values("display")[:1]
        )
    )


def with_active_flags(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """The caseload's flags column: `active_flags`, the most severe first (one more query)."""
    return patients.prefetch_related(
        Prefetch("flags", queryset=active_flags(), to_attr="active_flags")
    )


def add_episode_days(patients: list[Patient], today: date) -> None:
    """The caseload's episode column: `episode_day`, the day of care the episode is on."""
    for patient in patients:
        start = patient.episode_start  # type: ignore[attr-defined]
        patient.episode_day = (today - start).days + 1 if start and start <= today else None  # type: ignore[attr-defined]


def _search(patients: QuerySet[Patient], q: str) -> QuerySet[Patient]:
    """Every word must match a name, or the whole query the start of the MRN."""
    words = q.split()
    if not words:
        return patients
    by_name = Q()
    for word in words:
        by_name &= (
            Q(given_name__icontains=word)
            | Q(family_name__icontains=word)
            | Q(preferred_name__icontains=word)
        )
    return patients.filter(by_name | Q(mrn__istartswith=q.strip()))


def sorted_caseload(patients: QuerySet[Patient], order: tuple[str, ...], descending: bool):
    first, *rest = order
    lead = F(first.lstrip("-"))
    ascending = first.startswith("-") == descending
    lead = lead.asc(nulls_last=True) if ascending else lead.desc(nulls_last=True)
    return patients.order_by(lead, *rest)


def page_sorted_by_keys(
    patients: QuerySet[Patient],
    sort_keys: Callable[[QuerySet[Patient], date], dict[Any, Any]],
    descending: bool,
    page_number: Any,
    today: date,
    name_order: tuple[str, ...],
) -> Page:
    """A page of the caseload in an order the database cannot give (a column's `sort_keys`):
    the whole caseload's ids and keys, then the page's rows. Rows with equal keys keep the name
    order; rows without a key come last in either direction."""
    ids = list(patients.order_by(*name_order).values_list("pk", flat=True))
    keys = sort_keys(patients, today)
    keyed = sorted((pk for pk in ids if pk in keys), key=keys.__getitem__, reverse=descending)
    page = paginate(keyed + [pk for pk in ids if pk not in keys], page_number, CASELOAD_PAGE_SIZE)
    rows = {patient.pk: patient for patient in patients.filter(pk__in=page.object_list)}
    page.object_list = [rows[pk] for pk in page.object_list]
    return page


def caseload_flag_categories(user: User) -> list[tuple[str, str]]:
    """The categories of active flag on the patients this person sees, for the filter: each
    with the number of patients that have one ('High fall risk (3)'), in alphabetical order."""
    rows = (
        PatientFlag.objects.filter(patient__in=access.visible_patients(user), active=True)
        .values("category")
        .annotate(patients=Count("patient", distinct=True))
        .order_by("category")
    )
    return [(row["category"], f"{row['category']} ({row['patients']})") for row in rows]


# --- The banner -----------------------------------------------------------------------------


@dataclass
class Banner:
    patient: Patient
    allergies: list[Allergy]
    caregiver: RelatedPerson | None
    payer: Coverage | None

    @property
    def allergy_state(self) -> str:
        """'listed', 'none' (asked: no known allergies) or 'unrecorded' (never asked)."""
        if self.allergies:
            return "listed"
        return "none" if self.patient.no_known_allergies else "unrecorded"


def active_allergies(patient: Patient) -> QuerySet[Allergy]:
    return Allergy.objects.filter(
        patient=patient, clinical_status=Allergy.ClinicalStatus.ACTIVE
    ).order_by(Case(When(criticality=Allergy.Criticality.HIGH, then=0), default=1), "display")


def banner_for(patient: Patient) -> Banner:
    return Banner(
        patient=patient,
        allergies=list(active_allergies(patient)[:12]),
        caregiver=RelatedPerson.objects.filter(
            patient=patient, active=True, is_primary_caregiver=True
        )
        .order_by("pk")
        .first(),
        payer=Coverage.objects.filter(patient=patient, active=True).order_by("priority").first(),
    )


# --- Chart sections -------------------------------------------------------------------------


def current_episode(patient: Patient) -> EpisodeOfCare | None:
    return current_episodes().filter(patient=patient).first()


@dataclass
class Reading:
    """One vital sign reading, with what it says: `alert` past the patient's notify-if
    thresholds ("High: over 160"), `category` a guideline's label for it (a blood pressure's
    ACC/AHA category), `old` how long ago it was when that is more than OLD_AFTER."""

    sign: VitalSign
    at: datetime
    value: float
    alert: str = ""
    category: str = ""
    old: str = ""

    @property
    def text(self) -> str:
        return self.sign.format(self.value)


@dataclass
class VitalLine:
    """One line of the summary's latest vital signs: a sign, or a blood pressure as one."""

    label: str
    text: str  # with its unit: "122/82 mmHg", "93%", "1 of 10"
    at: datetime
    alerts: list[str]
    category: str
    old: str


# Readings older than this are marked old wherever the latest are shown: a month-old pulse
# still tells something; a weight from last year does not describe today's patient.
OLD_AFTER = timedelta(days=30)


def _vital_observations(patient: Patient) -> QuerySet[Observation]:
    return Observation.objects.filter(
        patient=patient,
        category=Observation.Category.VITAL_SIGNS,
        code__in=all_codes(),
        value__isnull=False,
    ).exclude(status=Observation.Status.ENTERED_IN_ERROR)


def _annotate(readings: list[Reading], thresholds: alerts.AlertThresholds) -> None:
    """Set each reading's alert and, for blood pressures, their category. `readings` are oldest
    first; a weight is compared with the weights before it in the list."""
    weights: list[tuple[datetime, float]] = []
    pairs: dict[datetime, dict[str, Reading]] = {}
    for reading in readings:
        if reading.sign.key == "weight":
            reading.alert = thresholds.weight_alert(reading.value, reading.at, weights)
            weights.append((reading.at, reading.value))
        else:
            reading.alert = thresholds.alert(reading.sign, reading.value)
        if reading.sign.chart == "blood_pressure":
            pairs.setdefault(reading.at, {})[reading.sign.key] = reading
    for pair in pairs.values():
        systolic, diastolic = pair.get("systolic"), pair.get("diastolic")
        category = alerts.blood_pressure_category(
            systolic.value if systolic else None, diastolic.value if diastolic else None
        )
        for reading in pair.values():
            reading.category = category


def age_words(at: datetime, now: datetime) -> str:
    """'from Mar 2019, 7 years ago' for a reading older than OLD_AFTER, else ''."""
    if now - at <= OLD_AFTER:
        return ""
    local = timezone.localtime(at)
    ago = timesince(at, now, depth=1).replace("\xa0", " ")
    return f"from {local:%b %Y}, {ago} ago"


def latest_vitals(patient: Patient, now: datetime | None = None) -> list[Reading]:
    """The latest reading of each vital sign, with its alert, category and age, in four
    queries (the weights of the week before the latest weight count towards its gain)."""
    now = now or timezone.now()
    latest = _vital_observations(patient).values("code").annotate(at=Max("effective_at"))
    wanted = Q(pk__in=[])
    for row in latest:
        wanted |= Q(code=row["code"], effective_at=row["at"])
    readings: dict[str, Reading] = {}
    for obs in _vital_observations(patient).filter(wanted).order_by("-pk"):
        sign = sign_for_code(obs.code)
        if sign and sign.key not in readings:
            readings[sign.key] = Reading(sign, obs.effective_at, obs.value)
    found = sorted(readings.values(), key=lambda r: _sign_order(r.sign))
    earlier = _weights_before(patient, readings.get("weight"))
    _annotate([*earlier, *found], alerts.alert_thresholds(patient))
    for reading in found:
        reading.old = age_words(reading.at, now)
    return found


def _weights_before(patient: Patient, weight: Reading | None) -> list[Reading]:
    if weight is None:
        return []
    sign = weight.sign
    rows = (
        _vital_observations(patient)
        .filter(
            code__in=sign.codes,
            effective_at__gte=weight.at - alerts.WEEK_WINDOW,
            effective_at__lt=weight.at,
        )
        .order_by("effective_at", "pk")
        .values_list("effective_at", "value")[:VITALS_LIMIT]
    )
    return [Reading(sign, at, value) for at, value in rows]


def latest_vital_lines(readings: list[Reading]) -> list[VitalLine]:
    """The latest readings as the summary shows them: a blood pressure taken together as one
    line ("122/82"), every other sign on its own."""
    by_key = {r.sign.key: r for r in readings}
    systolic, diastolic = by_key.get("systolic"), by_key.get("diastolic")
    lines = []
    for reading in readings:
        if reading.sign.chart == "blood_pressure" and systolic and diastolic:
            if reading is diastolic and systolic.at == diastolic.at:
                continue
            if reading is systolic and systolic.at == diastolic.at:
                lines.append(
                    VitalLine(
                        "Blood pressure",
                        f"{systolic.text}/{diastolic.text} {systolic.sign.unit_display}",
                        systolic.at,
                        [a for a in (systolic.alert, diastolic.alert) if a],
                        systolic.category,
                        systolic.old,
                    )
                )
                continue
        lines.append(
            VitalLine(
                reading.sign.short_label,
                reading.sign.with_unit(reading.value),
                reading.at,
                [reading.alert] if reading.alert else [],
                "",
                reading.old,
            )
        )
    return lines


def _sign_order(sign: VitalSign) -> int:
    return all_codes().index(sign.code)


def last_vitals_taken(patient: Patient) -> datetime | None:
    return _vital_observations(patient).aggregate(at=Max("effective_at"))["at"]


def recent_vitals(patient: Patient, now: datetime) -> list[Reading]:
    """Readings of the last 90 days, oldest first (bounded), with their alerts and categories."""
    rows = (
        _vital_observations(patient)
        .filter(effective_at__gte=now - VITALS_WINDOW, effective_at__lte=now)
        .order_by("-effective_at", "pk")[:VITALS_LIMIT]
    )
    readings = [Reading(sign_for_code(o.code), o.effective_at, o.value) for o in rows]
    readings.reverse()
    _annotate(readings, alerts.alert_thresholds(patient))
    return readings


# Languages spoken by home health patients in the US that Django's list of its own translations
# does not name (ISO 639 codes, as FHIR and Synthea send them).
MORE_LANGUAGES = {
    "yue": "Cantonese",
    "cmn": "Mandarin",
    "hmn": "Hmong",
    "so": "Somali",
    "ht": "Haitian Creole",
    "tl": "Tagalog",
    "fil": "Filipino",
    "sm": "Samoan",
    "am": "Amharic",
    "ti": "Tigrinya",
    "prs": "Dari",
    "ps": "Pashto",
    "lo": "Lao",
    "gu": "Gujarati",
    "haw": "Hawaiian",
    "chr": "Cherokee",
    "nv": "Navajo",
}


def language_name(code: str) -> str:
    """The language's English name ("yue" is Cantonese), or the code when none is known."""
    for key in (code.lower(), code.split("-")[0].lower()):
        if key in MORE_LANGUAGES:
            return MORE_LANGUAGES[key]
        if key in LANG_INFO and "name" in LANG_INFO[key]:
            return LANG_INFO[key]["name"]
    return code


def summary(patient: Patient) -> dict[str, Any]:
    episode = current_episode(patient)
    latest = latest_vitals(patient)
    problems = (
        Condition.objects.filter(patient=patient, clinical_status__in=ACTIVE_CONDITION)
        .exclude(verification_status__in=HIDDEN_CONDITION)
        .order_by("-is_primary", "display")
    )
    return {
        "episode": episode,
        "day_of_episode": episode.day_of_episode(timezone.localdate()) if episode else None,
        "language_name": language_name(patient.preferred_language),
        "problems": list(problems[:10]),
        "problem_count": problems.count(),
        "medication_count": Medication.objects.filter(
            patient=patient, status__in=CURRENT_MEDICATION
        ).count(),
        "latest_vitals": latest,
        "vital_lines": latest_vital_lines(latest),
        "flags": list(active_flags().filter(patient=patient)[:20]),
        "coverages": list(
            Coverage.objects.filter(patient=patient, active=True).order_by("priority", "pk")[:10]
        ),
    }


def conditions(patient: Patient, page: Any) -> dict[str, Any]:
    rows = (
        Condition.objects.filter(patient=patient)
        .exclude(verification_status__in=HIDDEN_CONDITION)
        .annotate(
            group=Case(
                When(clinical_status__in=ACTIVE_CONDITION, then=Value("Active")),
                default=Value("Resolved or inactive"),
            )
        )
        .order_by(
            Case(When(clinical_status__in=ACTIVE_CONDITION, then=0), default=1),
            "-is_primary",
            "display",
            "pk",
        )
    )
    voided = Condition.objects.filter(
        patient=patient, verification_status=Condition.Verification.ENTERED_IN_ERROR
    )
    return {"page": paginate(rows, page), **_entered_in_error(voided)}


# Records entered in error leave the lists; a chart shows at most this many of them, newest first.
ENTERED_IN_ERROR_LIMIT = 50


def _entered_in_error(rows: QuerySet[Any]) -> dict[str, Any]:
    return {"voided": list(rows.order_by("-updated_at", "-pk")[:ENTERED_IN_ERROR_LIMIT])}


def medications(patient: Patient, page: Any) -> dict[str, Any]:
    rows = (
        Medication.objects.filter(patient=patient)
        .exclude(status=Medication.Status.ENTERED_IN_ERROR)
        .annotate(
            group=Case(
                When(status__in=CURRENT_MEDICATION, then=Value("Taking now")),
                default=Value("Stopped or completed"),
            )
        )
        .order_by(Case(When(status__in=CURRENT_MEDICATION, then=0), default=1), "display", "pk")
    )
    voided = Medication.objects.filter(patient=patient, status=Medication.Status.ENTERED_IN_ERROR)
    return {"page": paginate(rows, page), **_entered_in_error(voided)}


def allergies(patient: Patient, page: Any) -> dict[str, Any]:
    rows = (
        Allergy.objects.filter(patient=patient)
        .exclude(clinical_status=Allergy.ClinicalStatus.ENTERED_IN_ERROR)
        .order_by(
            Case(When(clinical_status=Allergy.ClinicalStatus.ACTIVE, then=0), default=1),
            Case(When(criticality=Allergy.Criticality.HIGH, then=0), default=1),
            "display",
            "pk",
        )
    )
    voided = Allergy.objects.filter(
        patient=patient, clinical_status=Allergy.ClinicalStatus.ENTERED_IN_ERROR
    )
    return {"page": paginate(rows, page), **_entered_in_error(voided)}


def encounters(patient: Patient, page: Any) -> dict[str, Any]:
    rows = (
        Encounter.objects.filter(patient=patient)
        .exclude(status=Encounter.Status.ENTERED_IN_ERROR)
        .order_by("-period_start", "-pk")
    )
    return {"page": paginate(rows, page)}


def contacts(patient: Patient, page: Any) -> dict[str, Any]:
    rows = RelatedPerson.objects.filter(patient=patient, active=True).order_by(
        "-is_primary_caregiver", "-is_emergency_contact", "name", "pk"
    )
    return {"page": paginate(rows, page)}


@dataclass
class CareTeam:
    staff: list[CareTeamMember] = field(default_factory=list)
    family: list[CareTeamMember] = field(default_factory=list)
    external: list[CareTeamMember] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.staff) + len(self.family) + len(self.external)


# A team is a handful of people; the bound only keeps a data mistake from flooding the page.
CARE_TEAM_LIMIT = 200


def care_team(patient: Patient) -> dict[str, Any]:
    members = (
        CareTeamMember.objects.filter(patient=patient, active=True)
        .select_related("user", "related_person")
        .prefetch_related(
            Prefetch(
                "user__memberships",
                queryset=Membership.objects.filter(active=True).order_by("pk"),
                to_attr="current_memberships",
            )
        )
        .order_by("-is_primary_case_manager", "role", "pk")[:CARE_TEAM_LIMIT]
    )
    team = CareTeam()
    for member in members:
        if member.user_id:
            member.role_text = role_and_discipline(
                member.get_role_display(), _discipline(member.user)
            )
            team.staff.append(member)
        elif member.related_person_id:
            team.family.append(member)
        else:
            team.external.append(member)
    former = (
        CareTeamMember.objects.filter(patient=patient, active=False)
        .select_related("user", "related_person")
        .order_by("-end_date", "-pk")[:CARE_TEAM_LIMIT]
    )
    return {"team": team, "former": list(former), "episode": current_episode(patient)}


def _discipline(user: User) -> str:
    labels = [m.get_discipline_display() for m in user.current_memberships if m.discipline]
    return labels[0] if labels else ""


# --- Flags and tasks: the chart's section and Today's rows ---------------------------------

HISTORY_LIMIT = 50


def _day(moment: datetime | date) -> str:
    """'Nov 19' in the agency's zone (the page sets it)."""
    if isinstance(moment, datetime):
        moment = timezone.localtime(moment)
    return f"{moment:%b} {moment.day}"


def open_tasks() -> QuerySet[Task]:
    overdue_first = F("due_date").asc(nulls_last=True)
    return (
        Task.objects.filter(status=Task.Status.OPEN)
        .select_related("assigned_to")
        .order_by(SEVERITY_RANK_OF_PRIORITY, overdue_first, "created_at")
    )


def flags_and_tasks(patient: Patient) -> dict[str, Any]:
    """The chart's flags and tasks: what is open, and the history of what was closed."""
    flags = active_flags().filter(patient=patient).select_related("acknowledged_by")
    resolved = (
        PatientFlag.objects.filter(patient=patient, active=False)
        .select_related("resolved_by", "acknowledged_by")
        .order_by(F("resolved_at").desc(nulls_last=True), "-pk")
    )
    done = (
        Task.objects.filter(patient=patient)
        .exclude(status=Task.Status.OPEN)
        .select_related("completed_by")
        .order_by(F("completed_at").desc(nulls_last=True), "-pk")
    )
    return {
        "flags": list(flags[:HISTORY_LIMIT]),
        "tasks": list(open_tasks().filter(patient=patient)[:HISTORY_LIMIT]),
        "resolved_flags": list(resolved[:HISTORY_LIMIT]),
        "closed_tasks": list(done[:HISTORY_LIMIT]),
    }


def flag_reason(flag: PatientFlag) -> str:
    """Why the flag is on Today: what was found, when and by what; who has seen it."""
    text = flag.detail or flag.label
    text = text[:1].upper() + text[1:]
    raised = f"Raised {_day(flag.raised_at)}" + (f" from {flag.source}" if flag.source else "")
    parts = [text.rstrip(".") + "." if text else "", raised + "."]
    if flag.acknowledged_at:
        who = flag.acknowledged_by.display_name if flag.acknowledged_by else "someone"
        parts.append(f"Acknowledged by {who} on {_day(flag.acknowledged_at)}.")
    return " ".join(p for p in parts if p)


def urgent_flag_rows(user: User, patients: QuerySet[Patient], today: date) -> list[TodayRow]:
    """Today's urgent flags of these patients: those nobody has acknowledged first."""
    flags = (
        PatientFlag.objects.filter(
            patient__in=patients, active=True, severity=PatientFlag.Severity.URGENT
        )
        .select_related("acknowledged_by")
        .order_by(F("acknowledged_at").asc(nulls_first=True), "-raised_at", "pk")
    )
    return [
        TodayRow(
            patient_id=flag.patient_id,
            title=flag.category,
            reason=flag_reason(flag),
            urgency="seen" if flag.acknowledged_at else "urgent",
            url=reverse("chart_section", args=[flag.patient_id, "flags"]) + f"#flag-{flag.pk}",
            item=flag,
        )
        for flag in flags[:TODAY_LIMIT]
    ]


def task_reason(task: Task, today: date) -> str:
    parts = [task.detail.strip()] if task.detail.strip() else []
    if task.due_date is not None:
        if task.due_date < today:
            parts.append(f"Overdue: was due {_day(task.due_date)}.")
        elif task.due_date == today:
            parts.append(f"Due today ({_day(task.due_date)}).")
        else:
            parts.append(f"Due {_day(task.due_date)}.")
    if task.assigned_to_id:
        parts.append(f"Assigned to {task.assigned_to.display_name}.")
    return " ".join(parts)


def task_urgency(task: Task, today: date) -> str:
    if task.due_date is not None and task.due_date < today:
        return "overdue"
    if task.priority == PatientFlag.Severity.URGENT:
        return "urgent"
    return "due" if task.due_date == today else "open"


def open_task_rows(user: User, patients: QuerySet[Patient], today: date) -> list[TodayRow]:
    """Open tasks of these patients, urgent and overdue first."""
    tasks = open_tasks().filter(patient__in=patients)
    return [
        TodayRow(
            patient_id=task.patient_id,
            title=task.title,
            reason=task_reason(task, today),
            urgency=task_urgency(task, today),
            url=reverse("chart_section", args=[task.patient_id, "flags"]) + f"#task-{task.pk}",
            item=task,
        )
        for task in tasks[:TODAY_LIMIT]
    ]


def patients_for_today(user: User, ids: set[Any]) -> dict[Any, Patient]:
    """The patients of Today's rows, each with `user_on_team` (so access.can_edit decides about
    them without a query of its own): one query."""
    cared_for = access.patients_cared_for(user).filter(pk__in=list(ids)).select_related("branch")
    return {patient.pk: patient for patient in access.with_user_on_team(cared_for, user)}

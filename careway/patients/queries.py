"""Read-side queries of the patient pages: the caseload, the banner and each chart section.

Every function starts from a patient the caller got from `careway.patients.access` (or from
`access.visible_patients`) and uses a fixed number of queries whatever the number of rows:
annotations and subqueries for the caseload, Prefetch for related lists, bounded slices elsewhere.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf.locale import LANG_INFO
from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone
from django.utils.timesince import timesince

from careway.core.models import Membership, User
from careway.patients import alerts
from careway.toolkit.pages import paginate

from . import access
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
)
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


def caseload(
    user: User, *, q: str = "", flag: str = "", episodes: str = "open"
) -> QuerySet[Patient]:
    episode = current_episodes().filter(patient=OuterRef("pk"))
    patients = (
        access.visible_patients(user)
        .select_related("branch")
        .annotate(
            episode_status=Subquery(episode.values("status")[:1]),
            episode_start=Subquery(episode.values("start_of_care")[:1]),
        )
    )
    if episodes == "open":
        patients = patients.filter(episode_status__in=OPEN_EPISODE)
    elif episodes == "closed":
        patients = patients.exclude(episode_status__in=OPEN_EPISODE)
    if flag:
        flagged = PatientFlag.objects.filter(patient=OuterRef("pk"), active=True, kind=flag)
        patients = patients.filter(Exists(flagged))
    return _search(patients, q)


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


def caseload_flag_kinds(user: User) -> list[tuple[str, str]]:
    """The kinds of active flag on the patients this person sees, for the filter."""
    rows = (
        PatientFlag.objects.filter(patient__in=access.visible_patients(user), active=True)
        .values("kind")
        .annotate(label=Min("label"))
        .order_by("label")
    )
    return [(row["kind"], row["label"]) for row in rows]


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


def language_name(code: str) -> str:
    info = LANG_INFO.get(code.lower()) or LANG_INFO.get(code.split("-")[0].lower())
    return info["name"] if info else code


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
    return {"page": paginate(rows, page)}


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
    return {"page": paginate(rows, page)}


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
    return {"page": paginate(rows, page)}


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
            member.discipline = _discipline(member.user)
            team.staff.append(member)
        elif member.related_person_id:
            team.family.append(member)
        else:
            team.external.append(member)
    return {"team": team, "episode": current_episode(patient)}


def _discipline(user: User) -> str:
    labels = [m.get_discipline_display() for m in user.current_memberships if m.discipline]
    return labels[0] if labels else ""

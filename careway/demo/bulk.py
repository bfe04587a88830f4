"""`careway demo --patients N`: one large agency for benchmarks, loaded in bulk.

Per-row service calls take hours at 100,000 patients, so this loader builds rows in memory, one
batch of patients at a time, and writes them with PostgreSQL COPY (bulk_create on SQLite). It is
still a service of its own kind: each batch is one transaction that also appends one audit event
per patient created (audit.record_many, system actor acting for the agency), so the trail stays
complete and its hash chain verifies. Every patient also gets a signed start-of-care assessment
with its scores, findings and flags (careway/demo/bulk_assessments.py), with one audit event per
assessment; the vaccines, colonoscopies and A1c results their records already show
(careway/demo/bulk_preventive.py); and a care plan (careway/demo/bulk_careplans.py), whose goals
follow those scores and results, with one audit event per plan.
"""

import math
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from careway.core import audit
from careway.core.models import Branch, Membership, Organization, User
from careway.core.roles import Discipline, Role
from careway.core.tables import RowWriter, TableShape, reserve_ids
from careway.patients import vitals
from careway.patients.display import plain_name
from careway.patients.models import (
    ICD10CM,
    LOINC,
    RXNORM,
    SNOMED,
    CareTeamMember,
    Condition,
    Coverage,
    EpisodeOfCare,
    Immunization,
    Medication,
    Observation,
    Patient,
    Procedure,
    RelatedPerson,
)

from . import bulk_assessments, bulk_careplans, bulk_preventive, content, identifiers, vital_series
from .bulk_careplans import Caregiver, PatientFacts, TeamMember

BENCH_SLUG = "bench-lakeshore"
BENCH_NAME = "Lakeshore Home Health (benchmark)"
BENCH_TIMEZONE = "America/Chicago"
TOWN = {"city": "Madison", "state": "WI", "postal_code": "53703", "area_code": "608"}
TOWN_CENTRE = (43.0731, -89.4012)
BRANCH_NAMES = ("North branch", "South branch", "East branch", "West branch")
PATIENTS_PER_CASE_MANAGER = 60
BATCH_SIZE = 1000
VITAL_KEYS = ("systolic", "diastolic", "heart_rate", "oxygen_saturation", "weight")
VITAL_SETS = 10  # 10 sets of 5 signs: 50 observations per patient
_NAMES = content.load("names")
GIVEN_NAMES: dict[str, list[str]] = _NAMES["given_names"]
FAMILY_NAMES: list[str] = _NAMES["family_names"]
STREETS: list[str] = _NAMES["streets"]
LANGUAGES = (["en"] * 16) + ["es", "es", "vi", "yue", "bs", "hmn"]
WITH_IDS = (Patient, EpisodeOfCare, CareTeamMember, RelatedPerson)
# Ids reserved per patient: five staff on the team and a caregiver; up to three contacts.
MEMBERS_PER_PATIENT = 6
CONTACTS_PER_PATIENT = 3


@dataclass
class BulkResult:
    organization: Organization | None
    created: bool
    patients: int = 0
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    # Of `seconds`, the time spent building and writing the care plans, and the assessments
    # with the preventive history.
    plan_seconds: float = 0.0
    assessment_seconds: float = 0.0

    def summary(self) -> str:
        if not self.created:
            return f"{BENCH_NAME} already exists; nothing loaded (use a fresh database)."
        lines = [
            f"{BENCH_NAME}: {self.patients:,} patients in {self.seconds:.1f} s "
            f"({self.patients / max(self.seconds, 1e-9):,.0f} patients/s), "
            f"of which care plans {self.plan_seconds:.1f} s, "
            f"assessments and preventive history {self.assessment_seconds:.1f} s",
            "Rows written:",
        ]
        lines += [f"  {label:<28} {count:>12,}" for label, count in sorted(self.rows.items())]
        return "\n".join(lines)


class TerminalProgress:
    """Patients done / total and the rate, on one line that rewrites itself on a terminal."""

    def __init__(self, stream: TextIO, total: int):
        self.stream, self.total = stream, total
        self.started = time.monotonic()
        self.is_tty = stream.isatty()
        self._last_tenth = -1

    def update(self, done: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = done / elapsed
        remaining = (self.total - done) / rate if rate else 0
        line = (
            f"patients {done:,}/{self.total:,} ({100 * done / self.total:.0f}%), "
            f"{rate:,.0f}/s, about {remaining:,.0f} s to go"
        )
        if self.is_tty:
            self.stream.write("\r" + line, ending="\n" if done >= self.total else "")
            self.stream.flush()
        elif (tenth := 10 * done // self.total) != self._last_tenth:
            self._last_tenth = tenth
            self.stream.write(line)


class NoProgress:
    def update(self, done: int) -> None:
        """Tests and callers that do not want output."""


@dataclass
class Staff:
    """The people of one branch that patients are shared out to."""

    branch: Branch
    case_managers: list[int]
    nurses: list[int]
    therapists: list[int]
    aides: list[int]
    scheduler: int


def build_benchmark_agency(
    patients: int,
    *,
    progress: Any = None,
    today: date | None = None,
    seed: int = 2026,
    keep_answers: bool = False,
) -> BulkResult:
    """Load the benchmark agency with `patients` patients; leave an existing one untouched.
    `keep_answers` keeps each assessment response's answers (bulk_assessments.py)."""
    if Organization.objects.filter(slug=BENCH_SLUG).exists():
        return BulkResult(Organization.objects.get(slug=BENCH_SLUG), created=False)
    progress = progress or NoProgress()
    started = time.monotonic()
    writer = RowWriter()
    with transaction.atomic():
        organization, staff = _create_agency_and_staff(patients, writer)
    # The agency's today: its goals are worked out in its days (careway/careplans/services.py).
    today = today or timezone.localdate(timezone=ZoneInfo(BENCH_TIMEZONE))
    loader = PatientLoader(organization, staff, writer, today, seed, keep_answers=keep_answers)
    for first in range(0, patients, BATCH_SIZE):
        with transaction.atomic():
            loader.load_batch(first, min(first + BATCH_SIZE, patients))
        progress.update(min(first + BATCH_SIZE, patients))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    writer.counts["core.AuditEvent (patient.create)"] = patients
    writer.counts["core.AuditEvent (careplan.create)"] = patients
    writer.counts["core.AuditEvent (assessment.sign)"] = patients
    return BulkResult(
        organization,
        True,
        patients,
        time.monotonic() - started,
        writer.counts,
        plan_seconds=loader.plan_seconds,
        assessment_seconds=loader.assessment_seconds,
    )


# --- the agency and its people --------------------------------------------------------------


def _create_agency_and_staff(patients: int, writer: RowWriter) -> tuple[Organization, list]:
    organization = Organization.objects.create(
        name=BENCH_NAME, slug=BENCH_SLUG, timezone=BENCH_TIMEZONE, is_demo=True
    )
    branches = [Branch.objects.create(organization=organization, name=n) for n in BRANCH_NAMES]
    per_branch = math.ceil(patients / len(branches))
    managers = math.ceil(per_branch / PATIENTS_PER_CASE_MANAGER)
    plan = [(b, _branch_roles(managers)) for b in branches]
    people = [(b, role, discipline) for b, roles in plan for role, discipline in roles]
    people += [(None, Role.AGENCY_ADMIN, ""), (None, Role.AUDITOR, "")]
    user_ids = _bulk_users(organization, people, writer)
    actor = audit.Actor.system(via="demo", organization_id=organization.pk)
    audit.record(actor, "organization.create", obj=organization, detail={"benchmark": True})
    audit.record(
        actor,
        "user.bulk_create",
        object_type="core.user",
        detail={"count": len(user_ids), "first_id": user_ids[0], "last_id": user_ids[-1]},
    )
    return organization, _staff_by_branch(branches, people, user_ids)


def _branch_roles(managers: int) -> list[tuple[str, str]]:
    roles = [(Role.SUPERVISOR, Discipline.RN), (Role.SCHEDULER, "")]
    roles += [(Role.CASE_MANAGER, Discipline.RN)] * managers
    roles += [(Role.CLINICIAN, Discipline.RN)] * managers
    roles += [(Role.CLINICIAN, Discipline.PT)] * math.ceil(managers / 2)
    roles += [(Role.CLINICIAN, Discipline.HHA)] * managers
    return roles


def _bulk_users(organization: Organization, people: list, writer: RowWriter) -> list[int]:
    """Users and memberships, all with the demo password (hashed once: same hash for all)."""
    password = make_password(content.demo_password())
    ids = reserve_ids(User, len(people))
    user_shape, membership_shape = TableShape(User, with_id=True), TableShape(Membership)
    users, memberships = [], []
    for user_id, (branch, role, discipline) in zip(ids, people, strict=True):
        username = f"bench.{role.replace('_', '')}{discipline.lower()}.{user_id}"
        users.append(
            user_shape.row(
                {
                    "id": user_id,
                    "username": username,
                    "password": password,
                    "first_name": role.replace("_", " ").title(),
                    "last_name": str(user_id),
                    "organization_id": organization.pk,
                }
            )
        )
        memberships.append(
            membership_shape.row(
                {
                    "user_id": user_id,
                    "organization_id": organization.pk,
                    "branch_id": branch.pk if branch else None,
                    "role": role,
                    "discipline": discipline,
                }
            )
        )
    writer.write(user_shape, users)
    writer.write(membership_shape, memberships)
    return ids


def _staff_by_branch(branches: list[Branch], people: list, user_ids: list[int]) -> list[Staff]:
    def ids(branch: Branch, role: str, discipline: str = "") -> list[int]:
        return [
            uid
            for uid, (b, r, d) in zip(user_ids, people, strict=True)
            if b == branch and r == role and (not discipline or d == discipline)
        ]

    return [
        Staff(
            branch=b,
            case_managers=ids(b, Role.CASE_MANAGER),
            nurses=ids(b, Role.CLINICIAN, Discipline.RN),
            therapists=ids(b, Role.CLINICIAN, Discipline.PT),
            aides=ids(b, Role.CLINICIAN, Discipline.HHA),
            scheduler=ids(b, Role.SCHEDULER)[0],
        )
        for b in branches
    ]


# --- patients -------------------------------------------------------------------------------


class PatientLoader:
    """Builds the rows of one batch of patients and writes them, with their audit events."""

    def __init__(
        self,
        organization,
        staff: list[Staff],
        writer: RowWriter,
        today: date,
        seed,
        *,
        keep_answers: bool = False,
    ):
        self.organization, self.staff, self.writer, self.today = organization, staff, writer, today
        self.seed = seed
        self.actor = audit.Actor.system(via="demo", organization_id=organization.pk)
        self.zone = ZoneInfo(BENCH_TIMEZONE)
        self.scenario_keys = list(content.scenarios())
        self.cases = list(content.scenarios().values())
        self.staff_names = {
            user.pk: user.display_name for user in User.objects.filter(organization=organization)
        }
        self.plans = bulk_careplans.BulkPlans(organization.pk, today, seed, self.zone)
        self.plan_seconds = 0.0
        self.assessments = bulk_assessments.BulkAssessments(
            organization.pk, seed, self.zone, keep_answers=keep_answers
        )
        self.preventive = bulk_preventive.BulkPreventive(organization.pk, today, seed, self.zone)
        self.assessment_seconds = 0.0
        self.codes = content.codes()
        self.signs = {key: vital_series.vital_sign(key) for key in VITAL_KEYS}
        self.shapes = {
            model: TableShape(model, with_id=model in WITH_IDS)
            for model in (
                Patient,
                EpisodeOfCare,
                CareTeamMember,
                RelatedPerson,
                Coverage,
                Condition,
                Medication,
                Observation,
                Immunization,
                Procedure,
            )
        }

    def load_batch(self, first: int, stop: int) -> None:
        rows: dict[type, list[tuple]] = {model: [] for model in self.shapes}
        count = stop - first
        episode_ids = reserve_ids(EpisodeOfCare, count)
        self.member_ids = iter(reserve_ids(CareTeamMember, MEMBERS_PER_PATIENT * count))
        self.contact_ids = iter(reserve_ids(RelatedPerson, CONTACTS_PER_PATIENT * count))
        patient_ids, plans = [], bulk_careplans.PlanRows()
        assessments = bulk_assessments.AssessmentRows()
        for number, episode_id in zip(range(first, stop), episode_ids, strict=True):
            facts = self._patient_rows(number, episode_id, rows)
            patient_ids.append(facts.patient_id)
            started = time.monotonic()
            self.assessments.rows(facts, assessments)
            self.assessment_seconds += time.monotonic() - started
            started = time.monotonic()
            self.plans.plan_rows(facts, plans)
            self.plan_seconds += time.monotonic() - started
        for model, shape in self.shapes.items():
            self.writer.write(shape, rows[model])
        audit.record_many(
            self.actor, "patient.create", patient_ids, detail={"source": "bulk loader"}
        )
        started = time.monotonic()
        self.assessments.write(self.writer, assessments)
        audit.record_many(
            self.actor,
            "assessment.sign",
            assessments.patient_ids,
            object_type="assessments.assessment",
            object_ids=assessments.assessment_ids,
            detail={"source": "bulk loader", "time_point": bulk_assessments.TIME_POINT.value},
        )
        self.assessment_seconds += time.monotonic() - started
        started = time.monotonic()
        self._write_plans(plans, patient_ids)
        self.plan_seconds += time.monotonic() - started

    def _write_plans(self, plans: bulk_careplans.PlanRows, patient_ids: list[uuid.UUID]) -> None:
        """The plans' rows, the caregivers they put on the team and the pain scores they are
        measured by, with one audit event per plan created."""
        team_shape, observation_shape = self.shapes[CareTeamMember], self.shapes[Observation]
        self.writer.write(team_shape, [team_shape.row(m) for m in plans.caregivers_on_team])
        pain = vital_series.vital_sign("pain")
        self.writer.write(
            observation_shape,
            [
                observation_shape.row(
                    {
                        "organization_id": self.organization.pk,
                        "patient_id": patient_id,
                        "code_system": LOINC,
                        "code": pain.code,
                        "display": pain.label,
                        "category": "vital-signs",
                        "effective_at": taken,
                        "value": value,
                        "unit": pain.unit,
                    }
                )
                for patient_id, taken, value in plans.pain_readings
            ],
        )
        for model in bulk_careplans.PLAN_MODELS:
            self.writer.write(self.plans.shapes[model], plans.rows[model])
        audit.record_many(
            self.actor, "careplan.create", patient_ids, detail={"source": "bulk loader"}
        )

    def _patient_rows(self, number: int, episode_id: int, rows: dict) -> PatientFacts:
        rng = random.Random(self.seed * 1_000_003 + number)
        staff = self.staff[number % len(self.staff)]
        within_branch = number // len(self.staff)
        case = self.cases[number % len(self.cases)]
        patient_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        start_of_care = self.today - timedelta(days=rng.randint(1, 60))
        common = {"organization_id": self.organization.pk, "patient_id": patient_id}
        sex = rng.choice(["female", "female", "male"])
        rows[Patient].append(self._patient(number, patient_id, staff, sex, rng))
        rows[EpisodeOfCare].append(self._episode(episode_id, staff, start_of_care, rng, common))
        team = self._team(staff, within_branch, episode_id, start_of_care, common)
        rows[CareTeamMember] += [row for row, _ in team]
        contacts = self._contacts(sex, rng, common)
        rows[RelatedPerson] += [row for row, _ in contacts]
        rows[Coverage] += self._coverages(rng, common)
        conditions, condition_keys = self._conditions(case, start_of_care, rng, common)
        rows[Condition] += conditions
        medications = self._medications(case, start_of_care, rng, common)
        rows[Medication] += medications
        observations = self._observations(case, start_of_care, rng, common)
        rows[Observation] += observations
        facts = PatientFacts(
            number=number,
            patient_id=patient_id,
            episode_id=episode_id,
            start_of_care=start_of_care,
            scenario=self.scenario_keys[number % len(self.cases)],
            case=case,
            primary_problem=plain_name(self.codes["conditions"][case["primary"]]["display"]),
            team=[member for _, member in team],
            caregiver=next((c for _, c in contacts if c is not None), None),
            caregiver_member_id=next(self.member_ids),
            readings=self._readings_of(observations),
            conditions=condition_keys,
            medications=len(medications),
            birth_date=rows[Patient][-1][self.shapes[Patient].attnames.index("birth_date")],
        )
        started = time.monotonic()
        results = self.preventive.rows(facts, rows)
        rows[Observation] += results
        facts.readings.update(self._readings_of(results))
        self.assessment_seconds += time.monotonic() - started
        return facts

    def _readings_of(self, observations: list[tuple]) -> dict[str, list[tuple[datetime, float]]]:
        attnames = self.shapes[Observation].attnames
        code, taken, value = (attnames.index(n) for n in ("code", "effective_at", "value"))
        readings: dict[str, list[tuple[datetime, float]]] = {}
        for row in observations:
            readings.setdefault(row[code], []).append((row[taken], row[value]))
        return readings

    def _patient(self, number: int, patient_id, staff: Staff, sex: str, rng) -> tuple:
        latitude, longitude = identifiers.point_near(*TOWN_CENTRE, rng, km=12)
        language = rng.choice(LANGUAGES)
        return self.shapes[Patient].row(
            {
                "id": patient_id,
                "organization_id": self.organization.pk,
                "branch_id": staff.branch.pk,
                "mrn": f"LS-{number + 1:07d}",
                "given_name": rng.choice(GIVEN_NAMES[sex]),
                "family_name": rng.choice(FAMILY_NAMES),
                "birth_date": self.today - timedelta(days=rng.randint(68 * 366, 95 * 365)),
                "sex": sex,
                "preferred_language": language,
                "interpreter_needed": language != "en" and rng.random() < 0.7,
                "address_line": f"{rng.randint(1, 4999)} {rng.choice(STREETS)} Street",
                "city": TOWN["city"],
                "state": TOWN["state"],
                "postal_code": TOWN["postal_code"],
                "latitude": latitude,
                "longitude": longitude,
                "phone_home": identifiers.fictional_phone(TOWN["area_code"], rng),
                "medicare_number": identifiers.medicare_number(rng),
                "code_status": rng.choice(["full", "full", "dnr", "dnr_dni", "unknown"]),
                "no_known_allergies": rng.random() < 0.6,
            }
        )

    def _episode(self, episode_id, staff: Staff, start_of_care: date, rng, common) -> tuple:
        return self.shapes[EpisodeOfCare].row(
            {
                **common,
                "id": episode_id,
                "branch_id": staff.branch.pk,
                "status": EpisodeOfCare.Status.ACTIVE,
                "referral_source": rng.choice(
                    ["UW Health University Hospital", "SSM Health St. Mary's", "Meriter Hospital"]
                ),
                "referral_date": start_of_care - timedelta(days=1),
                "start_of_care": start_of_care,
            }
        )

    def _team(
        self, staff: Staff, n: int, episode_id, start_of_care, common
    ) -> list[tuple[tuple, TeamMember]]:
        """Each member's row, and the member as the care plan names them (primary first)."""
        shape, roles = self.shapes[CareTeamMember], CareTeamMember.TeamRole
        members = [
            (staff.case_managers[n // PATIENTS_PER_CASE_MANAGER], roles.CASE_MANAGER, True),
            (staff.nurses[n % len(staff.nurses)], roles.NURSE, False),
            (staff.therapists[n % len(staff.therapists)], roles.THERAPIST, False),
            (staff.aides[n % len(staff.aides)], roles.AIDE, False),
            (staff.scheduler, roles.SCHEDULER, False),
        ]
        team = []
        for user_id, role, primary in members:
            member_id = next(self.member_ids)
            row = shape.row(
                {
                    **common,
                    "id": member_id,
                    "episode_id": episode_id,
                    "user_id": user_id,
                    "role": role,
                    "is_primary_case_manager": primary,
                    "start_date": start_of_care,
                }
            )
            team.append((row, TeamMember(member_id, self.staff_names[user_id], role, user_id)))
        return team

    def _contacts(self, sex: str, rng, common) -> list[tuple[tuple, Caregiver | None]]:
        """Each contact's row, and the primary caregiver as the care plan names them."""
        shape = self.shapes[RelatedPerson]
        family = rng.choice(FAMILY_NAMES)
        spouse_sex = "male" if sex == "female" else "female"
        people = [
            (f"{rng.choice(GIVEN_NAMES[spouse_sex])} {family}", "spouse", True, True),
            (f"{rng.choice(GIVEN_NAMES['female'])} {family}", "child", False, True),
            (
                f"{rng.choice(GIVEN_NAMES['male'])} {rng.choice(FAMILY_NAMES)}",
                "friend",
                False,
                False,
            ),
        ][: rng.randint(1, 3)]
        contacts = []
        for index, (name, relationship, lives_with, consent) in enumerate(people):
            contact_id = next(self.contact_ids)
            row = shape.row(
                {
                    **common,
                    "id": contact_id,
                    "name": name,
                    "relationship": relationship,
                    "phone": identifiers.fictional_phone(TOWN["area_code"], rng),
                    "lives_with_patient": lives_with,
                    "is_primary_caregiver": index == 0,
                    "is_emergency_contact": True,
                    "may_receive_information": consent,
                }
            )
            caregiver = (
                Caregiver(contact_id, name, relationship, lives_with) if index == 0 else None
            )
            contacts.append((row, caregiver))
        return contacts

    def _coverages(self, rng, common) -> list[tuple]:
        shape = self.shapes[Coverage]
        plans = [(Coverage.Kind.MEDICARE, "Medicare Part A and B")]
        if rng.random() < 0.2:
            plans.append((Coverage.Kind.MEDICAID, "Wisconsin Medicaid (ForwardHealth)"))
        return [
            shape.row({**common, "kind": kind, "payer_name": payer, "priority": priority})
            for priority, (kind, payer) in enumerate(plans, start=1)
        ]

    def _conditions(
        self, case: dict, start_of_care: date, rng, common
    ) -> tuple[list[tuple], list[str]]:
        """The condition rows, and the demo's keys of those conditions."""
        shape = self.shapes[Condition]
        keys = [case["primary"], *[key for key, _ in case["conditions"]][: rng.randint(1, 3)]]
        rows = []
        for index, key in enumerate(keys):
            coded = self.codes["conditions"][key]
            icd = coded["icd10cm"]
            rows.append(
                shape.row(
                    {
                        **common,
                        "code_system": SNOMED,
                        "code": coded["snomed"],
                        "display": coded["display"],
                        "onset_date": start_of_care - timedelta(days=rng.randint(3, 4000)),
                        "is_primary": index == 0,
                        "note": f"ICD-10-CM {icd[0]} {icd[1]} ({ICD10CM})" if icd else "",
                    }
                )
            )
        return rows, keys

    def _medications(self, case: dict, start_of_care: date, rng, common) -> list[tuple]:
        shape = self.shapes[Medication]
        orders = list(case["medications"])
        extra = [o for c in self.cases for o in c["medications"] if o not in orders]
        chosen = orders + rng.sample(extra, k=max(0, rng.randint(3, 8) - len(orders)))
        chosen = chosen[: rng.randint(3, 8)] if len(chosen) > 3 else chosen
        return [
            shape.row(
                {
                    **common,
                    "code_system": RXNORM,
                    "code": self.codes["medications"][order["med"]]["rxnorm"],
                    "display": self.codes["medications"][order["med"]]["display"],
                    "dose": order["dose"],
                    "route": order["route"],
                    "frequency": order["frequency"],
                    "as_needed": order.get("as_needed", False),
                    "indication": order["indication"],
                    "status": order.get("status", "active"),
                    "start_date": start_of_care - timedelta(days=rng.randint(10, 900)),
                    "end_date": None
                    if order.get("status", "active") == "active"
                    else start_of_care,
                }
            )
            for order in chosen
        ]

    def _observations(self, case: dict, start_of_care: date, rng, common) -> list[tuple]:
        shape, signs, baseline = self.shapes[Observation], self.signs, case["vitals"]
        rows = []
        for visit in range(VITAL_SETS):
            # Every third day up to yesterday, so the latest readings are recent.
            day = self.today - timedelta(days=1 + 3 * (VITAL_SETS - 1 - visit))
            taken = datetime(day.year, day.month, day.day, 9 + visit % 8, 15, tzinfo=self.zone)
            # Systolic and diastolic taken together are one blood pressure panel.
            panel = uuid.UUID(int=rng.getrandbits(128), version=4)
            for key in VITAL_KEYS:
                sign = signs[key]
                value = baseline[key] + rng.gauss(0, vital_series.NOISE[key])
                panel_code = vitals.panel_of(sign.code)
                rows.append(
                    shape.row(
                        {
                            **common,
                            "panel_code": panel_code,
                            "panel_id": panel if panel_code else None,
                            "code_system": LOINC,
                            "code": sign.code,
                            "display": sign.label,
                            "category": "vital-signs",
                            "effective_at": taken,
                            "value": round(
                                min(value, 100) if key == "oxygen_saturation" else value,
                                sign.decimals,
                            ),
                            "unit": sign.unit,
                        }
                    )
                )
        return rows

"""The rules of Medicare's home health certification and plan of care, as pure functions: the
60-day certification periods, who may certify, the face-to-face encounter, homebound status, the
diagnoses, and `problems(poc)`, everything that stops a plan of care being sent or signed. Nothing
is written here; careway/careplans/plan_of_care.py applies these rules in its services.

Sources (restated in Careway's words):
- 42 CFR 424.22 (Requirements for home health services): the certification (the patient is
  confined to the home, needs skilled services, is under the care of a physician or allowed
  practitioner with a plan of care established and reviewed by them, and for the initial
  certification a face-to-face encounter no more than 90 days before or 30 days after the start of
  care, related to the primary reason for home health, by an allowed practitioner); the
  recertification at least every 60 days.
- 42 CFR 484.2 and 484.60 (Conditions of participation): the "allowed practitioner" (a nurse
  practitioner, clinical nurse specialist or physician assistant, since the CARES Act of 2020,
  section 3708) beside the physician (MD, DO, and a doctor of podiatric medicine acting within
  his or her licence); the plan of care's content.
- 42 CFR 484.55(d): the recertification assessment in the last 5 days of each 60-day period.
- Medicare Benefit Policy Manual (CMS Pub. 100-02) chapter 7, section 30.1.1: the two criteria
  of "confined to the home".
- Form CMS-485, Home Health Certification and Plan of Care: the elements and the checkbox lists
  of functional limitations (18.A), activities permitted (18.B) and mental status (19).
A certified nurse-midwife is not an allowed practitioner for home health (the CARES Act named NPs,
CNSs and PAs only), so a CNM may neither certify nor do the face-to-face encounter.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from careway.patients import alerts
from careway.patients.models import EpisodeOfCare

from . import icd10, services
from .models import DisciplineFrequency, PlanOfCare, Practitioner

PERIOD_DAYS = services.EPISODE_DAYS
# Recertification falls due in the last 5 days of a period (days 56-60).
RECERT_WINDOW_DAYS = PERIOD_DAYS - services.REVIEW_DAY + 1
CERTIFYING = frozenset(
    {
        Practitioner.MD,
        Practitioner.DO,
        Practitioner.DPM,
        Practitioner.NP,
        Practitioner.CNS,
        Practitioner.PA,
    }
)
FACE_TO_FACE_DAYS_BEFORE = 90
FACE_TO_FACE_DAYS_AFTER = 30

HOMEBOUND_CRITERIA = (
    "Criterion one: because of an illness or injury the patient needs the help of another person, "
    "a device (crutches, cane, wheelchair, walker), special transport, or leaving home is "
    "medically advised against.",
    "Criterion two: the patient normally cannot leave home, and leaving it takes a considerable "
    "and taxing effort.",
)

CERTIFICATION_STATEMENT = (
    "I certify that this patient is confined to the home and needs intermittent skilled nursing "
    "care, physical therapy or speech-language pathology, or continues to need occupational "
    "therapy; that the patient is under my care and this plan of care was established by me and "
    "will be reviewed by me periodically; and that a face-to-face encounter related to the "
    "primary reason for home health was performed by me or by an allowed practitioner within 90 "
    "days before or 30 days after the start of care. Anyone who misrepresents, falsifies or "
    "conceals essential information required for payment of Federal funds may be subject to "
    "fine, imprisonment or civil penalty under Federal law."
)
RECERTIFICATION_STATEMENT = (
    "I recertify that this patient continues to be confined to the home and to need intermittent "
    "skilled care; that the patient is under my care and this plan of care, established by me, "
    "has been reviewed by me. Anyone who misrepresents, falsifies or conceals essential "
    "information required for payment of Federal funds may be subject to fine, imprisonment or "
    "civil penalty under Federal law."
)

# Form CMS-485 items 18.A, 18.B and 19, with the form's own numbering.
FUNCTIONAL_LIMITATIONS = [
    ("1", "Amputation"),
    ("2", "Bowel/bladder (incontinence)"),
    ("3", "Contracture"),
    ("4", "Hearing"),
    ("5", "Paralysis"),
    ("6", "Endurance"),
    ("7", "Ambulation"),
    ("8", "Speech"),
    ("9", "Legally blind"),
    ("A", "Dyspnea with minimal exertion"),
    ("B", "Other"),
]
ACTIVITIES_PERMITTED = [
    ("1", "Complete bedrest"),
    ("2", "Bedrest, bathroom privileges"),
    ("3", "Up as tolerated"),
    ("4", "Transfer bed/chair"),
    ("5", "Exercises prescribed"),
    ("6", "Partial weight bearing"),
    ("7", "Independent at home"),
    ("8", "Crutches"),
    ("9", "Cane"),
    ("A", "Wheelchair"),
    ("B", "Walker"),
    ("C", "No restrictions"),
    ("D", "Other"),
]
MENTAL_STATUS = [
    ("1", "Oriented"),
    ("2", "Comatose"),
    ("3", "Forgetful"),
    ("4", "Depressed"),
    ("5", "Disoriented"),
    ("6", "Lethargic"),
    ("7", "Agitated"),
    ("8", "Other"),
]


# --- certification periods ----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One 60-day certification period: the first is the certification, each later one a
    recertification, due in its last 5 days."""

    number: int
    start: date
    end: date

    @property
    def kind(self) -> str:
        if self.number == 1:
            return PlanOfCare.Kind.CERTIFICATION
        return PlanOfCare.Kind.RECERTIFICATION

    @property
    def recertification_from(self) -> date:
        return self.end - timedelta(days=RECERT_WINDOW_DAYS - 1)

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


def period_on(episode: EpisodeOfCare, day: date) -> Period:
    """The certification period of the episode that `day` falls in (the first, before the start
    of care). Follows the episode's recertification due dates (services.next_recertification):
    the period ends 4 days after its recertification review day."""
    start_of_care = episode.start_of_care or day
    day = max(day, start_of_care)
    review_day = services.next_recertification(episode, day - timedelta(days=RECERT_WINDOW_DAYS))
    end = review_day + timedelta(days=RECERT_WINDOW_DAYS - 1)
    start = end - timedelta(days=PERIOD_DAYS - 1)
    return Period((start - start_of_care).days // PERIOD_DAYS + 1, start, end)


# --- who certifies ------------------------------------------------------------------------------


def may_certify(kind: str) -> bool:
    return kind in CERTIFYING


def practitioner_problem(kind: str, role: str = "certify") -> str:
    if not kind:
        return "Choose the kind of practitioner."
    if kind == Practitioner.CNM:
        return (
            f"A certified nurse-midwife may not {role} home health: only a physician (MD, DO, "
            "DPM), nurse practitioner, clinical nurse specialist or physician assistant may."
        )
    if not may_certify(kind):
        return "Choose a physician or an allowed practitioner."
    return ""


def npi_problem(npi: str) -> str:
    """An NPI is 10 digits whose last is a Luhn check digit over '80840' and the first nine."""
    npi = (npi or "").strip()
    if not npi:
        return "Write the practitioner's NPI."
    if not re.fullmatch(r"\d{10}", npi):
        return "An NPI is 10 digits."
    digits = [int(d) for d in "80840" + npi[:9]]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    if (10 - total % 10) % 10 != int(npi[9]):
        return "This NPI's check digit is wrong: check the number."
    return ""


# --- face-to-face and homebound -----------------------------------------------------------------


def face_to_face_window(start_of_care: date) -> tuple[date, date]:
    return (
        start_of_care - timedelta(days=FACE_TO_FACE_DAYS_BEFORE),
        start_of_care + timedelta(days=FACE_TO_FACE_DAYS_AFTER),
    )


def face_to_face_problems(poc: PlanOfCare, start_of_care: date | None) -> dict[str, str]:
    """Only the start-of-care certification needs the encounter (42 CFR 424.22(a)(1)(v))."""
    if poc.kind != PlanOfCare.Kind.CERTIFICATION:
        return {}
    found: dict[str, str] = {}
    if poc.face_to_face_date is None:
        found["face_to_face_date"] = "Write the date of the face-to-face encounter."
    elif start_of_care is not None:
        first, last = face_to_face_window(start_of_care)
        if not first <= poc.face_to_face_date <= last:
            found["face_to_face_date"] = (
                f"The face-to-face encounter must be between {first:%m/%d/%Y} and "
                f"{last:%m/%d/%Y}: 90 days before to 30 days after the start of care "
                f"({start_of_care:%m/%d/%Y})."
            )
    if not poc.face_to_face_practitioner.strip():
        found["face_to_face_practitioner"] = "Name who performed the face-to-face encounter."
    kind_problem = practitioner_problem(poc.face_to_face_kind, "perform the face-to-face for")
    if kind_problem:
        found["face_to_face_kind"] = kind_problem
    if not poc.face_to_face_findings.strip():
        found["face_to_face_findings"] = (
            "Write the encounter's findings related to the primary reason for home health."
        )
    return found


def homebound_problems(poc: PlanOfCare) -> dict[str, str]:
    if poc.homebound is not True:
        return {"homebound": "Medicare home health needs the patient to be homebound: record it."}
    if not poc.homebound_reason.strip():
        return {
            "homebound_reason": "Say why the patient is homebound, by both criteria: what they "
            "need to leave home (criterion one) and why leaving is a taxing effort (two)."
        }
    return {}


# --- diagnoses and notify-if --------------------------------------------------------------------


def diagnosis_problems(diagnoses: Any) -> dict[str, str]:
    """Each row's code must be a billable ICD-10-CM code, once; exactly one is principal. Keys
    name the row as the JSON does (`diagnoses.1.code`); messages number rows from 1."""
    if not isinstance(diagnoses, list) or not diagnoses:
        return {"diagnoses": "List the diagnoses, the principal one first."}
    found: dict[str, str] = {}
    seen: set[str] = set()
    for index, row in enumerate(diagnoses):
        code = icd10.normalized(str(row.get("code", ""))) if isinstance(row, dict) else ""
        problem = icd10.code_problem(code)
        if not problem and code in seen:
            problem = f"{code} is listed twice."
        if problem:
            found[f"diagnoses.{index}.code"] = f"Diagnosis {index + 1}: {problem}"
        seen.add(code)
    principals = sum(1 for row in diagnoses if isinstance(row, dict) and row.get("principal"))
    if principals != 1:
        found["diagnoses"] = "Mark exactly one diagnosis as principal" + (
            f" ({principals} are marked)." if principals else "."
        )
    return found


def notify_if_problems(values: Any) -> dict[str, str]:
    """The keys are the alert thresholds' (careway/patients/alerts.py); each a positive number."""
    if not isinstance(values, dict):
        return {"notify_if": "Give the parameters as numbers by name."}
    known = {field.name: field for field in alerts.fields()}
    found: dict[str, str] = {}
    for key, value in values.items():
        if key not in known:
            found[f"notify_if.{key}"] = "Not a parameter Careway knows."
        elif value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
        ):
            found[f"notify_if.{key}"] = f"{known[key].label}: give a number above 0."
    return found


# --- everything -------------------------------------------------------------------------------


def problems(poc: PlanOfCare) -> dict[str, str]:
    """What stops this plan of care being sent for signature (or marked signed), by field; empty
    when it may go. Reads the plan's orders; writes nothing."""
    found: dict[str, str] = {}
    found.update(diagnosis_problems(poc.diagnoses))
    if not poc.practitioner_name.strip():
        found["practitioner_name"] = "Name the certifying practitioner."
    kind_problem = practitioner_problem(poc.practitioner_kind)
    if kind_problem:
        found["practitioner_kind"] = kind_problem
    npi = npi_problem(poc.practitioner_npi)
    if npi:
        found["practitioner_npi"] = npi
    if not poc.practitioner_address.strip():
        found["practitioner_address"] = "Write the practitioner's address."
    found.update(face_to_face_problems(poc, poc.episode.start_of_care))
    found.update(homebound_problems(poc))
    if not poc.prognosis:
        found["prognosis"] = "Choose the prognosis."
    found.update(notify_if_problems(poc.notify_if))
    if not DisciplineFrequency.objects.filter(
        plan_id=poc.plan_id, status=DisciplineFrequency.Status.ACTIVE
    ).exists():
        found["orders"] = (
            "The care plan has no visit frequency: add the disciplines' orders to the plan first."
        )
    return found

"""One realistic demo patient, written through the audited patient services.

A person from content/people.json is joined with their case from content/scenarios.json: the
registry entry, the episode and its team, contacts, coverage, coded conditions, medications and
allergies, the hospital stay before referral, home visits since the start of care, four months of
vital signs and the flags a case manager would want raised.
"""

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from careway.core import audit
from careway.core.models import User
from careway.patients import services
from careway.patients.models import (
    ICD10CM,
    LOINC,
    RXNORM,
    SNOMED,
    CareTeamMember,
    Coverage,
    EpisodeOfCare,
    Patient,
)

from . import assessments as demo_assessments
from . import content, identifiers, vital_series
from .staff import DemoAgency

VITALS_HISTORY_DAYS = 120
OFFICE_VISIT_EVERY_DAYS = 30
HOME_VISIT_EVERY_DAYS = 4
DISCIPLINE_TEAM_ROLES = {
    "RN": CareTeamMember.TeamRole.NURSE,
    "LPN": CareTeamMember.TeamRole.NURSE,
    "PT": CareTeamMember.TeamRole.THERAPIST,
    "OT": CareTeamMember.TeamRole.THERAPIST,
    "SLP": CareTeamMember.TeamRole.THERAPIST,
    "MSW": CareTeamMember.TeamRole.SOCIAL_WORKER,
    "HHA": CareTeamMember.TeamRole.AIDE,
}
CODE_SYSTEMS = {"snomed": SNOMED, "rxnorm": RXNORM}


@dataclass(frozen=True)
class Timeline:
    """The dates of one patient's story, counted back from the day the demo is built."""

    today: date
    admitted: date
    referred: date
    start_of_care: date
    discharged: date | None

    @classmethod
    def for_person(cls, person: dict[str, Any], case: dict[str, Any], today: date) -> "Timeline":
        start_of_care = today - timedelta(days=person["soc_days_ago"])
        referred = start_of_care - timedelta(days=1)
        ended = person.get("discharged_days_ago")
        return cls(
            today=today,
            admitted=referred - timedelta(days=case["hospital"]["days"]),
            referred=referred,
            start_of_care=start_of_care,
            discharged=None if ended is None else today - timedelta(days=ended),
        )

    @property
    def last_home_day(self) -> date:
        # Yesterday at the latest: a visit "today" at a working hour could still be in the future.
        return self.discharged or self.today - timedelta(days=1)


@dataclass
class ChartBuilder:
    agency: DemoAgency
    actor: audit.Actor
    person: dict[str, Any]
    number: int
    today: date

    def __post_init__(self) -> None:
        self.case = content.scenarios()[self.person["scenario"]]
        self.rng = random.Random(f"{self.agency.organization.slug}-{self.number}")
        self.timeline = Timeline.for_person(self.person, self.case, self.today)
        self.zone = self.agency.spec["timezone"]

    def build(self) -> Patient:
        case_manager = self.agency.staff_with("case_manager")[self.number % 2]
        patient = services.create_patient(
            self.actor,
            self.agency.branch,
            self._registry_entry(),
            episode=self._episode(),
            primary_case_manager=case_manager,
        )
        episode = patient.episodes.get()
        contacts = [services.add_contact(self.actor, patient, c) for c in self._contacts()]
        self._add_team(episode, contacts)
        for coverage in self._coverages():
            services.add_coverage(self.actor, patient, coverage)
        self._add_conditions(patient)
        self._add_medications(patient)
        self._add_allergies(patient)
        self._add_encounters_and_vitals(patient, episode)
        for flag in self.case["flags"]:
            services.raise_flag(self.actor, patient, flag)
        # The primary case manager assesses at the kitchen table and signs with their name.
        demo_assessments.add_assessments(
            audit.Actor(
                user=case_manager,
                via="demo",
                on_behalf_of_organization_id=self.agency.organization.pk,
            ),
            patient,
            episode,
            self.timeline.start_of_care,
            self.timeline.last_home_day,
            self.zone,
            self.rng,
            measured={
                vital_series.vital_sign(key).code: value
                for key, value in self.case["vitals"].items()
            },
            leave_draft=self.number == 0,
        )
        return patient

    # --- registry ---------------------------------------------------------------------------

    def _registry_entry(self) -> dict[str, Any]:
        person, town = self.person, self.agency.spec["town"]
        latitude, longitude = identifiers.point_near(town["latitude"], town["longitude"], self.rng)
        prefix = "RB" if self.agency.organization.slug.startswith("riverbend") else "CV"
        entry = {
            "mrn": f"{prefix}-{10040 + self.number * 7}",
            "given_name": person["given"],
            "family_name": person["family"],
            "preferred_name": person.get("preferred", ""),
            "birth_date": date.fromisoformat(person["born"]),
            "sex": person["sex"],
            "gender_identity": person.get("gender_identity", ""),
            "pronouns": person.get("pronouns", ""),
            "preferred_language": person["language"],
            "interpreter_needed": person.get("interpreter", False),
            "address_line": person["street"],
            "address_line2": person.get("unit", ""),
            "city": town["city"],
            "state": town["state"],
            "postal_code": town["postal_code"],
            "latitude": latitude,
            "longitude": longitude,
            "phone_home": identifiers.fictional_phone(town["area_code"], self.rng),
            "medicare_number": identifiers.medicare_number(self.rng),
            "code_status": person["code_status"],
            "advance_directive": person["advance_directive"],
            "no_known_allergies": not person["allergies"],
            "what_matters_most": person["what_matters"],
        }
        if self.number % 3 == 0:
            entry["phone_mobile"] = identifiers.fictional_phone(town["area_code"], self.rng)
        if person["coverage"] == "dual":
            entry["medicaid_number"] = f"{town['state']}{self.rng.randrange(10**8):08d}"
        return entry

    def _episode(self) -> dict[str, Any]:
        hospital = self.agency.spec["hospitals"][self.person["hospital"]]
        timeline = self.timeline
        episode = {
            "status": EpisodeOfCare.Status.ACTIVE,
            "referral_source": hospital,
            "referral_date": timeline.referred,
            "start_of_care": timeline.start_of_care,
        }
        if timeline.discharged:
            episode["status"] = EpisodeOfCare.Status.DISCHARGED
            episode["discharge_date"] = timeline.discharged
            episode["discharge_reason"] = "Goals met; managing at home with family support"
        return episode

    def _contacts(self) -> list[dict[str, Any]]:
        area_code = self.agency.spec["town"]["area_code"]
        return [
            {
                "name": contact["name"],
                "relationship": contact["relationship"],
                "phone": identifiers.fictional_phone(area_code, self.rng),
                "lives_with_patient": contact.get("lives_with", False),
                "is_primary_caregiver": contact.get("primary_caregiver", False),
                "is_emergency_contact": contact.get("emergency", False),
                "may_receive_information": contact.get("may_receive_info", False),
                "notes": contact.get("notes", ""),
            }
            for contact in self.person["contacts"]
        ]

    def _add_team(self, episode: EpisodeOfCare, contacts: list) -> None:
        disciplines = ["RN", "PT", "HHA", *self.case["disciplines"]]
        for discipline in disciplines:
            clinician = self.agency.staff_with("clinician", discipline)[0]
            role = DISCIPLINE_TEAM_ROLES[discipline]
            services.add_care_team_member(self.actor, episode, role=role, user=clinician)
        scheduler = self.agency.staff_with("scheduler")[0]
        services.add_care_team_member(
            self.actor, episode, role=CareTeamMember.TeamRole.SCHEDULER, user=scheduler
        )
        physician = self.agency.spec["physicians"][self.number % 3]
        services.add_care_team_member(
            self.actor, episode, role=CareTeamMember.TeamRole.PHYSICIAN, external_name=physician
        )
        for contact in contacts:
            if contact.is_primary_caregiver:
                services.add_care_team_member(
                    self.actor,
                    episode,
                    role=CareTeamMember.TeamRole.CAREGIVER,
                    related_person=contact,
                )

    def _coverages(self) -> list[dict[str, Any]]:
        spec, kind = self.agency.spec, self.person["coverage"]
        medicare = {"kind": Coverage.Kind.MEDICARE, "payer_name": "Medicare Part A and B"}
        plans = {
            "medicare": [medicare],
            "medicare_advantage": [
                {
                    "kind": Coverage.Kind.MEDICARE_ADVANTAGE,
                    "payer_name": spec["medicare_advantage_payer"],
                }
            ],
            "dual": [
                medicare,
                {"kind": Coverage.Kind.MEDICAID, "payer_name": spec["medicaid_payer"]},
            ],
        }[kind]
        start = date(date.fromisoformat(self.person["born"]).year + 65, 1, 1)
        return [
            {**plan, "priority": priority, "start_date": start}
            for priority, plan in enumerate(plans, start=1)
        ]

    # --- clinical record --------------------------------------------------------------------

    def _add_conditions(self, patient: Patient) -> None:
        services.add_condition(
            self.actor,
            patient,
            self._condition(self.case["primary"], self.timeline.admitted, primary=True),
        )
        for key, years_ago in self.case["conditions"]:
            onset = self.timeline.admitted - timedelta(days=int(365.25 * years_ago))
            services.add_condition(self.actor, patient, self._condition(key, onset))

    def _condition(self, key: str, onset: date, primary: bool = False) -> dict[str, Any]:
        coded = content.codes()["conditions"][key]
        icd = coded["icd10cm"]
        return {
            "code_system": SNOMED,
            "code": coded["snomed"],
            "display": coded["display"],
            "onset_date": onset,
            "is_primary": primary,
            # The model holds one coding; the ICD-10-CM code rides along in the note.
            "note": f"ICD-10-CM {icd[0]} {icd[1]} ({ICD10CM})" if icd else "",
        }

    def _add_medications(self, patient: Patient) -> None:
        for order in self.case["medications"]:
            coded = content.codes()["medications"][order["med"]]
            status = order.get("status", "active")
            stopped = status != "active"
            services.add_medication(
                self.actor,
                patient,
                {
                    "code_system": RXNORM,
                    "code": coded["rxnorm"],
                    "display": coded["display"],
                    "dose": order["dose"],
                    "route": order["route"],
                    "frequency": order["frequency"],
                    "as_needed": order.get("as_needed", False),
                    "indication": order["indication"],
                    "prescriber": self.agency.spec["physicians"][0].split(" (")[0],
                    "status": status,
                    "start_date": self.timeline.admitted - timedelta(days=400),
                    "end_date": self.timeline.referred if stopped else None,
                    "note": order.get("note", ""),
                },
            )

    def _add_allergies(self, patient: Patient) -> None:
        reactions = ["Eruption of skin (disorder)", "Wheal (finding)", "Allergic angioedema"]
        for key in self.person["allergies"]:
            coded = content.codes()["allergies"][key]
            services.add_allergy(
                self.actor,
                patient,
                {
                    "code_system": CODE_SYSTEMS[coded["system"]],
                    "code": coded["code"],
                    "display": coded["display"],
                    "category": coded["category"],
                    "criticality": "high" if key == "penicillin" else "low",
                    "reaction": self.rng.choice(reactions),
                },
            )

    # --- encounters and vital signs ---------------------------------------------------------

    def _add_encounters_and_vitals(self, patient: Patient, episode: EpisodeOfCare) -> None:
        timeline = self.timeline
        first_day = timeline.today - timedelta(days=VITALS_HISTORY_DAYS)
        office_days = vital_series.days_between(
            first_day, timeline.admitted - timedelta(days=7), OFFICE_VISIT_EVERY_DAYS
        )
        for day in office_days:
            self._visit(patient, None, day, "AMB", "Primary care office visit", "Follow-up")
        self._hospital_stay(patient)
        home_days = vital_series.days_between(
            timeline.start_of_care, timeline.last_home_day, HOME_VISIT_EVERY_DAYS
        )
        if home_days[-1] != timeline.last_home_day:
            home_days.append(timeline.last_home_day)  # the latest readings are the freshest
        for n, day in enumerate(home_days):
            title = "Start of care visit" if n == 0 else "Skilled nursing home visit"
            self._visit(patient, episode, day, "HH", title, self.case["summary"])

    def _hospital_stay(self, patient: Patient) -> None:
        timeline = self.timeline
        start = vital_series.at_visit_time(timeline.admitted, self.zone, self.rng)
        stay = services.add_encounter(
            self.actor,
            patient,
            {
                "kind": "IMP",
                "type_display": "Hospital stay",
                "reason": self.case["hospital"]["reason"],
                "location": self.agency.spec["hospitals"][self.person["hospital"]],
                "practitioner": "Hospitalist service",
                "period_start": start,
                "period_end": start + (timeline.referred - timeline.admitted),
            },
        )
        for day in (timeline.admitted, timeline.referred):  # on admission and at discharge
            self._record_vitals(patient, stay.pk, day)

    def _visit(self, patient, episode, day: date, kind: str, title: str, reason: str) -> None:
        start = vital_series.at_visit_time(day, self.zone, self.rng)
        encounter = services.add_encounter(
            self.actor,
            patient,
            {
                "episode": episode.pk if episode else None,
                "kind": kind,
                "type_display": title,
                "reason": reason,
                "location": "Home" if kind == "HH" else self.agency.spec["physicians"][0],
                "practitioner": self._visiting_clinician(kind, day),
                "period_start": start,
                "period_end": start + timedelta(minutes=45),
            },
        )
        self._record_vitals(patient, encounter.pk, day, start)

    def _visiting_clinician(self, kind: str, day: date) -> str:
        if kind != "HH":
            return self.agency.spec["physicians"][0].split(" (")[0]
        nurse: User = self.agency.staff_with("clinician", "RN")[0]
        therapist: User = self.agency.staff_with("clinician", "PT")[0]
        return (nurse if day.toordinal() % 2 else therapist).get_full_name()

    def _record_vitals(
        self, patient: Patient, encounter_id: int, day: date, taken: datetime | None = None
    ) -> None:
        taken = taken or vital_series.at_visit_time(day, self.zone, self.rng)
        readings = vital_series.readings_on(
            day, self.today, self.case["vitals"], self.case["pattern"], self.rng
        )
        services.record_observations(
            self.actor,
            patient,
            [self._observation(r, taken, encounter_id) for r in readings],
        )

    @staticmethod
    def _observation(reading, taken: datetime, encounter_id: int) -> dict[str, Any]:
        sign = vital_series.vital_sign(reading.key)
        return {
            "code_system": LOINC,
            "code": sign.code,
            "display": sign.label,
            "category": "vital-signs",
            "effective_at": taken,
            "value": reading.value,
            "unit": sign.unit,
            "encounter": encounter_id,
        }

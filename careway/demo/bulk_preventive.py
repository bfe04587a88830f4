"""What the benchmark agency's charts already show of preventive care, built as rows in bulk:
vaccines given, colonoscopies done and, for patients with diabetes, A1c results.

Care plan suggestions and preventive care gaps are measured on the 100,000-patient agency
(`careway demo --patients N`), so its charts hold what an imported record of an adult over 65
holds (Immunization, Procedure and Observation rows, as careway/fhir/mapping imports them), at
the shares the benchmark asks for (issue 18), in the range national surveys of adults over 65
report:

- influenza, most seasons: about 70% with a dose this season (since July 1), and the two seasons
  before for most of the same people;
- pneumococcal: about 70% done (PCV20 alone, or PCV13 then PPSV23 a year or more later), a few
  with PPSV23 only;
- zoster recombinant: none, one or two doses, about 40% with both;
- COVID-19: about 45% with this season's dose, fewer the seasons before;
- Td or Tdap: about 60% within 10 years;
- colonoscopy: about 60% of those 45 to 75 within 10 years, and some of the older patients when
  they were younger;
- A1c, for a diabetes condition on the chart and none already there: about 75% within 6 months.

Codes: CVX vaccine codes and short descriptions from CDC's CVX table ("IIS: HL7 Standard Code
Set, Vaccines administered", https://www2a.cdc.gov/vaccines/iis/iisstandards/vaccines.asp?rpt=cvx;
the COVID-19 codes as listed in the SMART Health Cards terminology, dvci/shc-terminology,
immunization-covid-cvx.json, 2023.1); SNOMED CT 73761001 Colonoscopy and LOINC 4548-4 as
Synthea's records code them (../shared/data/synthea). Every row is drawn from the patient's own
generator (seeded by the loader's seed and the patient's number), so a seed always loads the same
history, and the patient's other rows are the same as without it.
"""

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from careway.core.tables import TableShape
from careway.patients.models import LOINC, SNOMED, Immunization, Observation, Procedure

from .bulk_careplans import PatientFacts

CVX = "http://hl7.org/fhir/sid/cvx"
VACCINES = {
    "140": "Influenza, split virus, trivalent, PF",
    "150": "influenza, injectable, quadrivalent, preservative free",
    "197": "influenza, high-dose, quadrivalent",
    "216": "Pneumococcal conjugate PCV20, polysaccharide CRM197 conjugate, adjuvant, PF",
    "133": "Pneumococcal conjugate PCV 13",
    "33": "pneumococcal polysaccharide PPV23",
    "187": "zoster recombinant",
    "113": "Td (adult) preservative free",
    "115": "Tdap",
    "300": "COVID-19, mRNA, LNP-S, bivalent, PF, 30 mcg/0.3 mL dose",
    "309": "COVID-19, mRNA, LNP-S, PF, tris-sucrose, 30 mcg/0.3 mL",
    "312": "COVID-19, mRNA, LNP-S, PF, 50 mcg/0.5 mL",
    "313": "COVID-19, subunit, rS-nanoparticle, adjuvanted, PF, 5 mcg/0.5 mL",
}
COLONOSCOPY = ("73761001", "Colonoscopy")
A1C = ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%")
# The demo's diabetes conditions (content/codes.json): type 2 diabetes and its complications.
DIABETES = frozenset({"t2dm", "dm_neuropathy", "dm_retinopathy"})

# A season runs from July 1, when the next season's vaccines may be given, to June 30.
SEASON_STARTS = (7, 1)
SEASONS_BACK = 2  # the seasons before this one that the chart shows
# Influenza: most people who have it one season have it every season.
FLU_REGULAR_SHARE = 0.68
FLU_REGULAR_CHANCE, FLU_OTHERS_CHANCE = 0.93, 0.2
FLU_HIGH_DOSE_SHARE = 0.65  # before trivalent vaccines (2024), most over 65 had high dose
TRIVALENT_FROM = 2024
COVID_REGULAR_SHARE = 0.5
COVID_REGULAR_CHANCE, COVID_OTHERS_CHANCE = 0.86, 0.05
BIVALENT_SEASON, UPDATED_FROM = 2022, 2023
PNEUMOCOCCAL_PCV20, PNEUMOCOCCAL_SERIES, PNEUMOCOCCAL_PPSV23_ONLY = 0.40, 0.30, 0.05
PCV20_FROM = date(2022, 1, 1)  # recommended for adults over 65 from late 2021
PCV13_YEARS = (date(2015, 1, 1), date(2020, 12, 31))
ZOSTER_BOTH, ZOSTER_ONE = 0.40, 0.10
ZOSTER_FROM = date(2018, 1, 1)  # the recombinant vaccine came in late 2017
TD_RECENT, TD_OLDER = 0.60, 0.18
TDAP_FROM = date(2005, 6, 1)
COLONOSCOPY_AGES = (45, 75)
COLONOSCOPY_RECENT, COLONOSCOPY_OLDER, COLONOSCOPY_OVER_75 = 0.60, 0.15, 0.5
A1C_RECENT, A1C_OLDER = 0.75, 0.20  # the rest have none on the chart
A1C_RECENT_DAYS, A1C_OLDER_DAYS = (7, 170), (190, 400)
A1C_LEVEL, A1C_SPREAD, A1C_RANGE = 7.4, 1.0, (5.6, 12.0)
MODELS = (Immunization, Procedure)


class BulkPreventive:
    """Builds each patient's preventive history in memory (no query)."""

    def __init__(self, organization_id: int, today: date, seed: int, zone: Any):
        self.organization_id, self.today, self.seed, self.zone = organization_id, today, seed, zone
        self.shapes = {model: TableShape(model) for model in (*MODELS, Observation)}
        self.season = _season_of(today)

    def rows(self, facts: PatientFacts, out: dict[type, list[tuple]]) -> list[tuple]:
        """Append the patient's vaccines and procedures to `out` (the batch's rows by model);
        return their A1c results as Observation rows (the loader keeps them with the rest of
        the chart's readings)."""
        rng = random.Random(f"preventive-{self.seed}-{facts.number}")
        common = {"organization_id": self.organization_id, "patient_id": facts.patient_id}
        birth = facts.birth_date
        assert birth is not None
        doses = (
            self._influenza(rng)
            + self._pneumococcal(rng, birth)
            + self._zoster(rng)
            + self._covid(rng)
            + self._tetanus(rng)
        )
        shape = self.shapes[Immunization]
        out[Immunization] += [
            shape.row(
                {
                    **common,
                    "code_system": CVX,
                    "code": code,
                    "display": VACCINES[code],
                    "status": Immunization.Status.COMPLETED,
                    "occurred_at": self._at(day, 11),
                    # Given elsewhere (a pharmacy, the doctor's office) and reported to us.
                    "primary_source": False,
                }
            )
            for code, day in doses
        ]
        out[Procedure] += self._colonoscopy(rng, birth, common)
        return self._a1c(rng, facts, common)

    # --- vaccines ---------------------------------------------------------------------------

    def _seasons(self) -> list[int]:
        return [self.season - back for back in range(SEASONS_BACK + 1)]

    def _influenza(self, rng: random.Random) -> list[tuple[str, date]]:
        chance = FLU_REGULAR_CHANCE if rng.random() < FLU_REGULAR_SHARE else FLU_OTHERS_CHANCE
        doses = []
        for season in self._seasons():
            if rng.random() >= chance:
                continue
            day = self._in_season(rng, season, (9, 1), (12, 15))
            if season >= TRIVALENT_FROM:
                code = "140"
            else:
                code = "197" if rng.random() < FLU_HIGH_DOSE_SHARE else "150"
            doses.append((code, day))
        return doses

    def _covid(self, rng: random.Random) -> list[tuple[str, date]]:
        regular = rng.random() < COVID_REGULAR_SHARE
        chance = COVID_REGULAR_CHANCE if regular else COVID_OTHERS_CHANCE
        doses = []
        for season in self._seasons():
            if season < BIVALENT_SEASON or rng.random() >= chance:
                continue
            if season >= UPDATED_FROM:
                code = rng.choices(("309", "312", "313"), weights=(55, 40, 5))[0]
            else:
                code = "300"
            doses.append((code, self._in_season(rng, season, (9, 15), (12, 31))))
        return doses

    def _pneumococcal(self, rng: random.Random, birth: date) -> list[tuple[str, date]]:
        at_65 = _birthday(birth, 65)
        draw = rng.random()
        if draw < PNEUMOCOCCAL_PCV20:
            return [("216", self._between(rng, max(PCV20_FROM, at_65), self.today))]
        draw -= PNEUMOCOCCAL_PCV20
        if draw < PNEUMOCOCCAL_SERIES:
            first, last = max(PCV13_YEARS[0], at_65), PCV13_YEARS[1]
            if first > last:  # 65 after PCV13's years: PCV20 instead
                return [("216", self._between(rng, max(PCV20_FROM, at_65), self.today))]
            pcv13 = self._between(rng, first, last)
            ppsv23 = self._between(rng, pcv13 + timedelta(days=365), pcv13 + timedelta(days=730))
            return [("133", pcv13), ("33", ppsv23)]
        draw -= PNEUMOCOCCAL_SERIES
        if draw < PNEUMOCOCCAL_PPSV23_ONLY:
            return [("33", self._between(rng, at_65, self.today))]
        return []

    def _zoster(self, rng: random.Random) -> list[tuple[str, date]]:
        draw = rng.random()
        if draw >= ZOSTER_BOTH + ZOSTER_ONE:
            return []
        first = self._between(rng, ZOSTER_FROM, self.today - timedelta(days=200))
        if draw >= ZOSTER_BOTH:
            return [("187", first)]
        return [("187", first), ("187", first + timedelta(days=rng.randint(60, 180)))]

    def _tetanus(self, rng: random.Random) -> list[tuple[str, date]]:
        draw = rng.random()
        if draw < TD_RECENT:
            day = self._between(rng, _years_before(self.today, 10) + timedelta(days=30), self.today)
        elif draw < TD_RECENT + TD_OLDER:
            day = self._between(
                rng, _years_before(self.today, 20), _years_before(self.today, 10) - timedelta(1)
            )
        else:
            return []
        tdap = day >= TDAP_FROM and rng.random() < 0.55
        return [("115" if tdap else "113", day)]

    # --- procedures and results -------------------------------------------------------------

    def _colonoscopy(self, rng: random.Random, birth: date, common: dict) -> list[tuple]:
        age = _age_on(birth, self.today)
        draw = rng.random()
        low, high = COLONOSCOPY_AGES
        if low <= age <= high:
            if draw < COLONOSCOPY_RECENT:
                start = _years_before(self.today, 10) + timedelta(days=30)
                day = self._between(rng, start, self.today - timedelta(days=60))
            elif draw < COLONOSCOPY_RECENT + COLONOSCOPY_OLDER:
                day = self._between(
                    rng, _years_before(self.today, 15), _years_before(self.today, 10)
                )
            else:
                return []
        elif age > high and draw < COLONOSCOPY_OVER_75:
            day = self._between(rng, _birthday(birth, 60), _birthday(birth, high))
        else:
            return []
        return [
            self.shapes[Procedure].row(
                {
                    **common,
                    "code_system": SNOMED,
                    "code": COLONOSCOPY[0],
                    "display": COLONOSCOPY[1],
                    "status": Procedure.Status.COMPLETED,
                    "performed_start": self._at(day, 9),
                    "reason": "Colorectal cancer screening",
                }
            )
        ]

    def _a1c(self, rng: random.Random, facts: PatientFacts, common: dict) -> list[tuple]:
        if not DIABETES & set(facts.conditions) or A1C[0] in facts.readings:
            return []
        draw = rng.random()
        if draw < A1C_RECENT:
            days = A1C_RECENT_DAYS
        elif draw < A1C_RECENT + A1C_OLDER:
            days = A1C_OLDER_DAYS
        else:
            return []
        last = self.today - timedelta(days=rng.randint(*days))
        level = rng.gauss(A1C_LEVEL, A1C_SPREAD)
        # The last result and up to two before it, about a quarter to half a year apart.
        taken = [last]
        for _ in range(rng.randint(0, 2)):
            taken.insert(0, taken[0] - timedelta(days=rng.randint(90, 180)))
        shape = self.shapes[Observation]
        rows = []
        for day in taken:
            low, high = A1C_RANGE
            value = round(min(max(level + rng.gauss(0, 0.4), low), high), 1)
            rows.append(
                shape.row(
                    {
                        **common,
                        "code_system": LOINC,
                        "code": A1C[0],
                        "display": A1C[1],
                        "category": Observation.Category.LABORATORY,
                        "effective_at": self._at(day, 8),
                        "value": value,
                        "unit": A1C[2],
                    }
                )
            )
        return rows

    # --- days -------------------------------------------------------------------------------

    def _in_season(
        self, rng: random.Random, season: int, first: tuple[int, int], last: tuple[int, int]
    ) -> date:
        """A day of the season's usual weeks for the vaccine, never after today (early in a
        season, a day since it began)."""
        start, end = date(season, *first), date(season, *last)
        if start > self.today:
            start = date(season, *SEASON_STARTS)
        return self._between(rng, start, min(end, self.today))

    def _between(self, rng: random.Random, first: date, last: date) -> date:
        last = min(last, self.today)
        first = min(first, last)
        return first + timedelta(days=rng.randint(0, (last - first).days))

    def _at(self, day: date, hour: int) -> datetime:
        """That hour of the day, or now when the day is today and the hour has not come yet
        (a record is never in the future, whatever the time the demo is built)."""
        return min(datetime.combine(day, time(hour, 0), tzinfo=self.zone), timezone.now())


def _season_of(day: date) -> int:
    """The year the influenza season holding `day` began."""
    return day.year if (day.month, day.day) >= SEASON_STARTS else day.year - 1


def season_start(day: date) -> date:
    return date(_season_of(day), *SEASON_STARTS)


def _birthday(birth: date, years: int) -> date:
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:  # February 29
        return birth.replace(year=birth.year + years, day=28)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))

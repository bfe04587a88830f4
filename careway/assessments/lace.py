"""The LACE readmission index from what the record holds: its answers, and what must be asked.

No Django here: the caller passes plain values (the index inpatient stay, the codes of the active
conditions, the dates of emergency department visits) and gets the answers of the `lace`
Questionnaire (content/lace.json) as `{linkId: [value[x]]}`, the linkIds the nurse must still
answer, and a sentence per answer saying where it came from. The engine then scores it like any
other response: the points of each raw number come from the Questionnaire's points-by-range.

LACE: van Walraven C, Dhalla IA, Bell C, et al. Derivation and validation of an index to predict
early death or unplanned readmission after discharge from hospital to the community. CMAJ
2010;182(6):551-557.

The Charlson comorbidity index score (C) is counted with the weights of the LACE tool, as
reproduced with the index (for example Wang H et al. BMC Cardiovasc Disord 2014;14:97, table 1):
previous myocardial infarction, cerebrovascular disease, peripheral vascular disease, diabetes
without complications 1 each; congestive heart failure, diabetes with end-organ damage, chronic
pulmonary disease, mild liver or renal disease, any tumour (lymphoma and leukaemia included) 2;
dementia, connective tissue disease 3; AIDS, moderate or severe liver or renal disease 4;
metastatic solid tumour 6. Peptic ulcer disease and hemiplegia, Charlson conditions the LACE tool
does not list, count 0. The more severe form of a condition counts instead of the milder one.
These are not the original Charlson weights (Charlson ME et al. J Chronic Dis 1987;40:373-383:
1 each for myocardial infarction, heart failure, peripheral vascular and cerebrovascular disease,
dementia, chronic pulmonary and connective tissue disease, peptic ulcer, mild liver disease and
uncomplicated diabetes; 2 for hemiplegia, moderate or severe renal disease, diabetes with end-organ
damage and any tumour, leukaemia or lymphoma; 3 for moderate or severe liver disease; 6 for
metastatic solid tumour and AIDS; no mild renal category). Some LACE implementations use those
instead (for example NCTraCSIDSci/LACE_omop_ordrd, LACE.sql); Careway follows the tool published
with the index, as reproduced by Wang et al. above.

Which codes make each condition: ICD-10 and ICD-10-CM by code prefix, after the ICD-10 coding
algorithm of Quan H, Sundararajan V, Halfon P, et al. Coding algorithms for defining comorbidities
in ICD-9-CM and ICD-10 administrative data. Med Care 2005;43(11):1130-1139, with ICD-10-CM's
E08/E09 diabetes read like E10-E14 and its I85.1 (secondary oesophageal varices) and Z49.3
(dialysis adequacy testing) read like their ICD-10 neighbours. Quan has one renal category; LACE
splits mild from moderate or severe renal disease, so Careway counts chronic kidney disease stages
4 and 5, end-stage disease, dialysis and a kidney transplant as moderate or severe, and the rest of
Quan's renal codes as mild.
SNOMED CT: the codes Synthea and most records use for these conditions; any other SNOMED code is
not mapped, counts 0 and is named in the result so the nurse can check the score.
"""

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

QUESTIONNAIRE_URL = "urn:careway:fhir:Questionnaire:lace"
SYSTEM = "urn:careway:fhir:lace"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD_SYSTEMS = frozenset({ICD10CM, ICD10, "urn:oid:2.16.840.1.113883.6.90"})

LENGTH_OF_STAY = "length-of-stay"
EMERGENT = "emergent"
CHARLSON = "charlson"
ED_VISITS = "ed-visits"
LINK_IDS = (LENGTH_OF_STAY, EMERGENT, CHARLSON, ED_VISITS)
ED_LOOKBACK_MONTHS = 6


class Stay(NamedTuple):
    """The index inpatient stay: admitted, discharged (None: not yet), and whether the admission
    was acute (emergent); None when the record does not say."""

    start: datetime | date
    end: datetime | date | None
    emergent: bool | None


# Each Charlson condition: what it is called, and its weight in the LACE tool.
CONDITIONS: dict[str, tuple[str, int]] = {
    "mi": ("previous myocardial infarction", 1),
    "cerebrovascular": ("cerebrovascular disease", 1),
    "pvd": ("peripheral vascular disease", 1),
    "diabetes": ("diabetes without complications", 1),
    "chf": ("congestive heart failure", 2),
    "diabetes-complicated": ("diabetes with end-organ damage", 2),
    "pulmonary": ("chronic pulmonary disease", 2),
    "liver-mild": ("mild liver disease", 2),
    "renal-mild": ("mild renal disease", 2),
    "cancer": ("any tumour (lymphoma and leukaemia included)", 2),
    "dementia": ("dementia", 3),
    "connective-tissue": ("connective tissue disease", 3),
    "aids": ("AIDS", 4),
    "liver-severe": ("moderate or severe liver disease", 4),
    "renal-severe": ("moderate or severe renal disease", 4),
    "metastatic": ("metastatic solid tumour", 6),
    # Charlson conditions the LACE tool gives no weight.
    "peptic-ulcer": ("peptic ulcer disease", 0),
    "hemiplegia": ("hemiplegia or paraplegia", 0),
}
# The more severe form of a condition counts instead of the milder one.
SUPERSEDES = {
    "diabetes-complicated": "diabetes",
    "liver-severe": "liver-mild",
    "renal-severe": "renal-mild",
    "metastatic": "cancer",
}


def _expand(spec: str) -> list[str]:
    """'I60-I69' -> I60, I61, ... I69; 'K70.0-K70.3' -> K700 ... K703; 'I25.2' -> I252."""
    if "-" not in spec:
        return [spec.replace(".", "")]
    first, last = (part.replace(".", "") for part in spec.split("-"))
    stem, low, high = first[:-1], int(first[-1]), int(last[-1])
    if len(first) == 3 and first[1:] != last[1:]:  # whole categories: C00-C26
        stem, low, high = first[0], int(first[1:]), int(last[1:])
        return [f"{stem}{n:02d}" for n in range(low, high + 1)]
    return [f"{stem}{n}" for n in range(low, high + 1)]


# Quan 2005's ICD-10 algorithm, by prefix (the code without its dot). A code takes the
# conditions of the longest prefix it starts with.
_QUAN: dict[str, tuple[str, ...]] = {
    "mi": ("I21", "I22", "I25.2"),
    "chf": (
        "I09.9", "I11.0", "I13.0", "I13.2", "I25.5", "I42.0", "I42.5-I42.9", "I43", "I50",
        "P29.0",
    ),
    "pvd": (
        "I70", "I71", "I73.1", "I73.8", "I73.9", "I77.1", "I79.0", "I79.2", "K55.1", "K55.8",
        "K55.9", "Z95.8", "Z95.9",
    ),
    "cerebrovascular": ("G45", "G46", "H34.0", "I60-I69"),
    "dementia": ("F00-F03", "F05.1", "G30", "G31.1"),
    "pulmonary": ("I27.8", "I27.9", "J40-J47", "J60-J67", "J68.4", "J70.1", "J70.3"),
    "connective-tissue": ("M05", "M06", "M31.5", "M32-M34", "M35.1", "M35.3", "M36.0"),
    "peptic-ulcer": ("K25-K28",),
    "liver-mild": (
        "B18", "K70.0-K70.3", "K70.9", "K71.3-K71.5", "K71.7", "K73", "K74", "K76.0",
        "K76.2-K76.4", "K76.8", "K76.9", "Z94.4",
    ),
    "diabetes": tuple(
        f"{stem}.{n}" for stem in ("E08", "E09", "E10", "E11", "E12", "E13", "E14")
        for n in (0, 1, 6, 8, 9)
    ),
    "diabetes-complicated": tuple(
        f"{stem}.{n}" for stem in ("E08", "E09", "E10", "E11", "E12", "E13", "E14")
        for n in (2, 3, 4, 5, 7)
    ),
    "hemiplegia": ("G04.1", "G11.4", "G80.1", "G80.2", "G81", "G82", "G83.0-G83.4", "G83.9"),
    # Quan's renal codes, split as the module docstring says.
    "renal-mild": ("N03.2-N03.7", "N05.2-N05.7", "N18", "N25.0", "I13.10"),
    "renal-severe": (
        "I12.0", "I13.1", "I13.11", "N18.4", "N18.5", "N18.6", "N19", "Z49.0-Z49.3", "Z94.0",
        "Z99.2",
    ),
    "cancer": (
        "C00-C26", "C30-C34", "C37-C41", "C43", "C45-C58", "C60-C76", "C81-C85", "C88",
        "C90-C97",
    ),
    "liver-severe": (
        "I85.0", "I85.1", "I85.9", "I86.4", "I98.2", "K70.4", "K71.1", "K72.1", "K72.9", "K76.5",
        "K76.6", "K76.7",
    ),
    "metastatic": ("C77-C80",),
    "aids": ("B20-B22", "B24"),
}  # fmt: skip

ICD_PREFIXES: dict[str, tuple[str, ...]] = {}
for _condition, _specs in _QUAN.items():
    for _spec in _specs:
        for _prefix in _expand(_spec):
            ICD_PREFIXES[_prefix] = (*ICD_PREFIXES.get(_prefix, ()), _condition)

# SNOMED CT codes of Charlson conditions (those Synthea uses, and the common general ones).
SNOMED_CONDITIONS: dict[str, str] = {
    "22298006": "mi",  # Myocardial infarction
    "401303003": "mi",  # Acute ST segment elevation myocardial infarction
    "401314000": "mi",  # Acute non-ST segment elevation myocardial infarction
    "399211009": "mi",  # History of myocardial infarction
    "1755008": "mi",  # Old myocardial infarction
    "88805009": "chf",  # Chronic congestive heart failure
    "84114007": "chf",  # Heart failure
    "42343007": "chf",  # Congestive heart failure
    "400047006": "pvd",  # Peripheral vascular disease
    "230690007": "cerebrovascular",  # Cerebrovascular accident (stroke)
    "266257000": "cerebrovascular",  # Transient ischemic attack
    "26929004": "dementia",  # Alzheimer's disease
    "230265002": "dementia",  # Familial Alzheimer's disease of early onset
    "52448006": "dementia",  # Dementia
    "13645005": "pulmonary",  # Chronic obstructive lung disease
    "185086009": "pulmonary",  # Chronic obstructive bronchitis
    "87433001": "pulmonary",  # Pulmonary emphysema
    "63480004": "pulmonary",  # Chronic bronchitis
    "195967001": "pulmonary",  # Asthma
    "233678006": "pulmonary",  # Childhood asthma
    "69896004": "connective-tissue",  # Rheumatoid arthritis
    "55464009": "connective-tissue",  # Systemic lupus erythematosus
    "44054006": "diabetes",  # Diabetes mellitus type 2
    "46635009": "diabetes",  # Diabetes mellitus type 1
    "73211009": "diabetes",  # Diabetes mellitus
    "422034002": "diabetes-complicated",  # Diabetic retinopathy with type 2 diabetes
    "1551000119108": "diabetes-complicated",  # Nonproliferative retinopathy, type 2 diabetes
    "1501000119109": "diabetes-complicated",  # Proliferative retinopathy, type 2 diabetes
    "97331000119101": "diabetes-complicated",  # Macular edema and retinopathy, type 2 diabetes
    "368581000119106": "diabetes-complicated",  # Neuropathy due to type 2 diabetes
    "127013003": "diabetes-complicated",  # Diabetic renal disease
    "90781000119102": "diabetes-complicated",  # Microalbuminuria due to type 2 diabetes
    "157141000119108": "diabetes-complicated",  # Proteinuria due to type 2 diabetes
    "60951000119105": "diabetes-complicated",  # Blindness due to type 2 diabetes
    "431855005": "renal-mild",  # Chronic kidney disease stage 1
    "431856006": "renal-mild",  # Chronic kidney disease stage 2
    "433144002": "renal-mild",  # Chronic kidney disease stage 3
    "709044004": "renal-mild",  # Chronic kidney disease
    "431857002": "renal-severe",  # Chronic kidney disease stage 4
    "46177005": "renal-severe",  # End-stage renal disease
    "128302006": "liver-mild",  # Chronic hepatitis C
    "61977001": "liver-mild",  # Chronic type B viral hepatitis
    "19943007": "liver-mild",  # Cirrhosis of liver (Quan: K74, mild)
    "363346000": "cancer",  # Malignant neoplastic disease
    "254637007": "cancer",  # Non-small cell lung cancer
    "424132000": "cancer",  # Non-small cell carcinoma of lung, TNM stage 1
    "254632001": "cancer",  # Small cell carcinoma of lung
    "67811000119102": "cancer",  # Primary small cell malignant neoplasm of lung, stage 1
    "363406005": "cancer",  # Malignant neoplasm of colon
    "93761005": "cancer",  # Primary malignant neoplasm of colon
    "109838007": "cancer",  # Overlapping malignant neoplasm of colon
    "254837009": "cancer",  # Malignant neoplasm of breast
    "94260004": "metastatic",  # Secondary malignant neoplasm of colon
    "86406008": "aids",  # Human immunodeficiency virus infection
    "62479008": "aids",  # Acquired immune deficiency syndrome
}
# SNOMED CT codes known not to be Charlson conditions (common in Synthea): they count 0 and are
# not reported as unmapped.
SNOMED_NOT_COUNTED = frozenset(
    {
        "38341003",  # Hypertension
        "59621000",  # Essential hypertension
        "55822004",  # Hyperlipidemia
        "302870006",  # Hypertriglyceridemia
        "15777000",  # Prediabetes
        "80394007",  # Hyperglycemia
        "237602007",  # Metabolic syndrome X
        "162864005",  # Body mass index 30+ - obesity
        "271737000",  # Anemia
        "53741008",  # Coronary heart disease (not an infarction)
        "239872002",  # Osteoarthritis of hip
        "239873007",  # Osteoarthritis of knee
        "64859006",  # Osteoporosis
        "90560007",  # Gout
        "68496003",  # Polyp of colon
        "713197008",  # Recurrent rectal polyp
        "92691004",  # Carcinoma in situ of prostate (Quan counts no in-situ tumour)
        "40055000",  # Chronic sinusitis
        "36971009",  # Sinusitis
        "444814009",  # Viral sinusitis
        "446096008",  # Perennial allergic rhinitis
        "10509002",  # Acute bronchitis
        "195662009",  # Acute viral pharyngitis
        "19169002",  # Miscarriage in first trimester
        "275272006",  # Brain damage - traumatic
        "62106007",  # Concussion with no loss of consciousness
        "62564004",  # Concussion with loss of consciousness
        "370247008",  # Facial laceration
        "283385000",  # Laceration of thigh
    }
)
_ICD_CODE = re.compile(r"[A-Z][0-9][0-9A-Z]{1,5}")


@dataclass
class Charlson:
    """The Charlson score with the LACE weights, the conditions that make it (condition ->
    the codes that showed it), and the codes Careway could not map (they count 0)."""

    score: int = 0
    conditions: dict[str, list[str]] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)

    def explain(self) -> str:
        counted = [
            f"{CONDITIONS[c][0]} {CONDITIONS[c][1]} ({', '.join(codes)})"
            for c, codes in self.conditions.items()
        ]
        text = "; ".join(counted) if counted else "no Charlson condition among them"
        if self.unmapped:
            text += f"; not mapped, counted 0: {', '.join(self.unmapped)}"
        return text


def conditions_of(system: str, code: str) -> tuple[str, ...] | None:
    """The Charlson conditions a code shows; () for a code known to show none; None for a code
    Careway cannot map."""
    code = code.strip()
    if system in ICD_SYSTEMS:
        plain = code.upper().replace(".", "")
        if not _ICD_CODE.fullmatch(plain):
            return None
        for length in range(len(plain), 2, -1):
            if plain[:length] in ICD_PREFIXES:
                return ICD_PREFIXES[plain[:length]]
        return ()
    if system == SNOMED:
        if code in SNOMED_CONDITIONS:
            return (SNOMED_CONDITIONS[code],)
        return () if code in SNOMED_NOT_COUNTED else None
    return None


def charlson(codes: Iterable[tuple[str, str]]) -> Charlson:
    """The Charlson comorbidity index score, LACE weights, of the active conditions' codes."""
    result = Charlson()
    for system, code in codes:
        found = conditions_of(system, code)
        label = code if system in ICD_SYSTEMS or system == SNOMED else f"{system}|{code}"
        if found is None:
            if label not in result.unmapped:
                result.unmapped.append(label)
            continue
        for condition in found:
            if CONDITIONS[condition][1] == 0:
                continue
            shown = result.conditions.setdefault(condition, [])
            if label not in shown:
                shown.append(label)
    for severe, mild in SUPERSEDES.items():
        if severe in result.conditions:
            result.conditions.pop(mild, None)
    result.score = sum(CONDITIONS[c][1] for c in result.conditions)
    return result


def lace_answers(
    index_stay: Stay | tuple[Any, Any, Any] | None,
    conditions: Iterable[tuple[str, str]] | None,
    ed_visits: Iterable[datetime | date] | None,
    today: date,
) -> tuple[dict[str, list[dict[str, Any]]], list[str], dict[str, str]]:
    """What the record says of each LACE question.

    - `index_stay`: the inpatient stay the patient came home from (start, end, emergent), or
      None when the record has none: then the length of stay and acuity must be asked.
    - `conditions`: (system, code) of each active condition; None when the record holds no
      problem list (then the Charlson score must be asked); an empty list counts 0.
    - `ed_visits`: when each emergency department visit was; None when the record holds no
      encounters. Visits in the 6 months before the admission count, not the one on the day of
      admission (the visit that led to it) nor any later; with no stay, the 6 months before
      `today`.

    Returns (answers as {linkId: [value[x]]}, the linkIds still to ask, {linkId: where from}).
    """
    answers: dict[str, list[dict[str, Any]]] = {}
    sources: dict[str, str] = {}
    stay = Stay(*index_stay) if index_stay is not None else None
    admitted = _day(stay.start) if stay else None
    if stay is not None and stay.end is not None and admitted is not None:
        days = (_day(stay.end) - admitted).days
        if days >= 0:
            answers[LENGTH_OF_STAY] = [{"valueInteger": days}]
            sources[LENGTH_OF_STAY] = (
                f"from the inpatient stay of {admitted.isoformat()} to "
                f"{_day(stay.end).isoformat()}: {days} day{'' if days == 1 else 's'}"
            )
    if stay is not None and stay.emergent is not None:
        code, display = (
            ("yes", "Yes, acute (emergent)") if stay.emergent else ("no", "No, planned (elective)")
        )
        answers[EMERGENT] = [{"valueCoding": {"system": SYSTEM, "code": code, "display": display}}]
        sources[EMERGENT] = "the record marks the admission " + (
            "acute (emergent)" if stay.emergent else "planned (elective)"
        )
    if conditions is not None:
        counted = charlson(conditions)
        answers[CHARLSON] = [{"valueInteger": counted.score}]
        sources[CHARLSON] = f"from the active conditions on the record: {counted.explain()}"
    if ed_visits is not None:
        until = admitted or today
        since = _months_before(until, ED_LOOKBACK_MONTHS)
        visits = sorted(d for d in (_day(v) for v in ed_visits) if since <= d < until)
        answers[ED_VISITS] = [{"valueInteger": len(visits)}]
        sources[ED_VISITS] = (
            f"{len(visits)} emergency department visit{'' if len(visits) == 1 else 's'} on the "
            f"record from {since.isoformat()} to the day before "
            + ("the admission" if admitted else "today")
            + (f" ({', '.join(v.isoformat() for v in visits)})" if visits else "")
        )
    missing = [link for link in LINK_IDS if link not in answers]
    return answers, missing, sources


def response_from(answers: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """A QuestionnaireResponse for the lace Questionnaire holding these answers."""
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": QUESTIONNAIRE_URL,
        "status": "in-progress",
        "item": [
            {"linkId": link, "answer": [dict(value) for value in answers[link]]}
            for link in LINK_IDS
            if answers.get(link)
        ],
    }


def _day(moment: datetime | date) -> date:
    return moment.date() if isinstance(moment, datetime) else moment


def _months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the month's last day where it is short)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))

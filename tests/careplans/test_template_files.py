"""The shipped care plan templates (careway/careplans/content/templates/*.json) read with the json
module alone and checked against the field rules of issue 18's data format: the file set, keys,
references between items, goal measures and targets, lengths, kinds, disciplines, and the items
that rules name (preventive-care's one intervention per gap, fall-risk's fall-home-fix).

The loader (careway/careplans/templates.py) enforces the same rules; this file checks the data
on its own, and shows on broken copies that each check catches what it is for."""

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from careway.careplans.frequency import FrequencyError, parse

CONTENT = Path(__file__).resolve().parents[2] / "careway" / "careplans" / "content"
TEMPLATES = CONTENT / "templates"

SHIPPED = [
    "heart-failure", "copd", "diabetes", "hypertension", "hip-fracture-joint-replacement",
    "stroke", "dementia-caregiver-support", "fall-risk", "depression", "pressure-injury-risk",
    "pain", "polypharmacy", "wound-care", "food-insecurity", "social-isolation",
    "caregiver-strain", "end-of-life-advance-care-planning", "preventive-care",
]  # fmt: skip
PREVENTIVE_GAPS = [
    "flu-vaccine", "pneumococcal-vaccine", "zoster-vaccine", "covid-vaccine", "td-tdap-vaccine",
    "colorectal-screening", "diabetic-eye-exam", "diabetic-foot-exam", "a1c-test",
]  # fmt: skip
# Health-related social needs: the plan links the patient to community resources through the MSW.
HRSN = ["food-insecurity", "social-isolation", "caregiver-strain"]

KEY = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CODE_SYSTEMS = {
    "http://snomed.info/sct": re.compile(r"^\d{6,18}$"),
    "http://hl7.org/fhir/sid/icd-10-cm": re.compile(r"^[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?$"),
}
KINDS = {"teach", "perform", "monitor", "coordinate", "refer"}
DISCIPLINES = {"RN", "LPN", "PT", "OT", "SLP", "MSW", "HHA"}
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
PLACEHOLDERS = {"{fix}", "{finding}"}
TEXT_MAX = 300

TOP_FIELDS = {"key", "version", "title", "summary", "sources", "terms"}
ITEM_LISTS = ("problems", "goals", "interventions")
PROBLEM_FIELDS = {"key", "text", "code_system", "code"}
TARGET_FIELDS = {"target_low", "target_high", "target_days"}
GOAL_FIELDS = {"key", "problem", "description", "ask", "measure", "due_in_days"} | TARGET_FIELDS
INTERVENTION_FIELDS = {"key", "problem", "goal", "kind", "text", "discipline", "who", "frequency"}
SIZES = {"problems": (1, 3), "goals": (2, 5), "interventions": (3, 8)}
# Interventions the patient does themself ("who": "patient"), beside the team's 3-8: few, since a
# short list of daily tasks is one a patient keeps up.
PATIENT_INTERVENTIONS_MAX = 2


def measures() -> dict[str, str]:
    """Each goal measure's key and kind, from content/goal_measures.json."""
    data = json.loads((CONTENT / "goal_measures.json").read_text(encoding="utf-8"))
    return {m["key"]: m["kind"] for m in data["measures"]}


MEASURES = measures()


def load(key: str) -> dict[str, Any]:
    return json.loads((TEMPLATES / f"{key}.json").read_text(encoding="utf-8"))


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def is_text(value: object, limit: int = TEXT_MAX) -> bool:
    return isinstance(value, str) and value.strip() != "" and len(value) <= limit


def breaks(data: dict[str, Any], file_key: str) -> list[str]:
    """Every field rule the template breaks, each naming the place; [] when it keeps them all."""
    out: list[str] = []
    out += _top_breaks(data, file_key)
    if any(not isinstance(data.get(name), list) for name in ITEM_LISTS):
        return [*out, "problems, goals and interventions must each be a list"]
    out += _size_breaks(data, file_key)
    keys = [item.get("key") for name in ITEM_LISTS for item in data[name]]
    out += [f"item key {k!r} is used twice" for k in sorted({k for k in keys if keys.count(k) > 1})]
    problems = {p.get("key") for p in data["problems"]}
    goal_problem = {g.get("key"): g.get("problem") for g in data["goals"]}
    for problem in data["problems"]:
        out += [f"problem {problem.get('key')!r}: {e}" for e in _problem_breaks(problem)]
    for goal in data["goals"]:
        out += [f"goal {goal.get('key')!r}: {e}" for e in _goal_breaks(goal, problems)]
    for intervention in data["interventions"]:
        errors = _intervention_breaks(intervention, problems, goal_problem)
        out += [f"intervention {intervention.get('key')!r}: {e}" for e in errors]
    return out


def _top_breaks(data: dict[str, Any], file_key: str) -> list[str]:
    out = [f"unknown field {f!r}" for f in sorted(set(data) - TOP_FIELDS - set(ITEM_LISTS))]
    key = data.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        out.append(f"key {key!r} is not lowercase letters, digits and hyphens")
    elif key != file_key:
        out.append(f"key {key!r} is not the file name {file_key!r}")
    for field in ("version", "title", "summary", "terms"):
        if not isinstance(data.get(field), str) or not data[field].strip():
            out.append(f"{field} is missing or empty")
    sources = data.get("sources")
    if not isinstance(sources, list) or not sources or not all(is_text(s, 1000) for s in sources):
        out.append("sources must be a non-empty list of citations")
    return out


def _size_breaks(data: dict[str, Any], file_key: str) -> list[str]:
    out = []
    for name, (low, high) in SIZES.items():
        rows = data[name]
        if name == "interventions":
            patients = [i for i in rows if i.get("who") == "patient"]
            if len(patients) > PATIENT_INTERVENTIONS_MAX:
                out.append(f"{len(patients)} patient interventions: at most 2")
            rows = [i for i in rows if i.get("who") != "patient"]
        if name == "interventions" and file_key == "preventive-care":
            low = high = len(PREVENTIVE_GAPS)  # one per gap, named by the spec
        if not low <= len(rows) <= high:
            out.append(f"{len(rows)} {name}: keep to {low}-{high}")
    return out


def _item_key_breaks(item: dict[str, Any], fields: set[str]) -> list[str]:
    out = [f"unknown field {f!r}" for f in sorted(set(item) - fields)]
    if not isinstance(item.get("key"), str) or not KEY.match(item["key"]):
        out.append(f"key {item.get('key')!r} is not lowercase letters, digits and hyphens")
    return out


def _no_placeholder(text: object, field: str) -> list[str]:
    found = PLACEHOLDER.findall(text) if isinstance(text, str) else []
    return [f"{field} has a placeholder {p}: only intervention text may" for p in found]


def _problem_breaks(problem: dict[str, Any]) -> list[str]:
    out = _item_key_breaks(problem, PROBLEM_FIELDS)
    if not is_text(problem.get("text")):
        out.append(f"text must be 1-{TEXT_MAX} characters")
    out += _no_placeholder(problem.get("text"), "text")
    system, code = problem.get("code_system"), problem.get("code")
    if (system is None) != (code is None):
        out.append("code_system and code come together")
    elif system is not None:
        if system not in CODE_SYSTEMS:
            out.append(f"code_system {system!r} is neither SNOMED CT nor ICD-10-CM")
        elif not isinstance(code, str) or not CODE_SYSTEMS[system].match(code):
            out.append(f"code {code!r} is not a code of {system}")
    return out


def _goal_breaks(goal: dict[str, Any], problems: set[object]) -> list[str]:
    out = _item_key_breaks(goal, GOAL_FIELDS)
    if goal.get("problem") not in problems:
        out.append(f"problem {goal.get('problem')!r} is not a problem of the template")
    if not is_text(goal.get("description")):
        out.append(f"description must be 1-{TEXT_MAX} characters")
    out += _no_placeholder(goal.get("description"), "description")
    ask = goal.get("ask")
    if ask is not None and not (is_text(ask) and ask.rstrip().endswith("?")):
        out.append("ask must be a question of at most 300 characters")
    if "due_in_days" in goal and not is_positive_int(goal["due_in_days"]):
        out.append("due_in_days must be a positive whole number")
    return out + _target_breaks(goal)


def _target_breaks(goal: dict[str, Any]) -> list[str]:
    targets = TARGET_FIELDS & set(goal)
    measure = goal.get("measure")
    if measure is None:
        return [f"{', '.join(sorted(targets))} without a measure"] if targets else []
    kind = MEASURES.get(measure)
    if kind is None or kind == "task":
        return [f"measure {measure!r} is not a goal measure a template may use"]
    if kind == "event":
        ok = targets == {"target_days"} and is_positive_int(goal["target_days"])
        return [] if ok else [f"measure {measure!r} takes target_days alone (days without one)"]
    low, high = goal.get("target_low"), goal.get("target_high")
    if not targets or "target_days" in targets:
        return [f"measure {measure!r} takes target_low and/or target_high"]
    if any(v is not None and not is_number(v) for v in (low, high)):
        return ["target_low and target_high must be numbers"]
    if low is not None and high is not None and low > high:
        return [f"target_low {low} is above target_high {high}"]
    return []


def _intervention_breaks(
    item: dict[str, Any], problems: set[object], goal_problem: dict[object, object]
) -> list[str]:
    out = _item_key_breaks(item, INTERVENTION_FIELDS)
    if item.get("problem") not in problems:
        out.append(f"problem {item.get('problem')!r} is not a problem of the template")
    goal = item.get("goal")
    if goal is not None and goal not in goal_problem:
        out.append(f"goal {goal!r} is not a goal of the template")
    elif goal is not None and goal_problem[goal] != item.get("problem"):
        out.append(f"goal {goal!r} belongs to another problem")
    if item.get("kind") not in KINDS:
        out.append(f"kind {item.get('kind')!r} is not one of {sorted(KINDS)}")
    if "who" in item:  # the patient does it themself: no discipline beside it
        if item["who"] != "patient":
            out.append(f"who {item['who']!r} is not 'patient'")
        if "discipline" in item:
            out.append("discipline beside who 'patient': the patient does it alone")
    elif item.get("discipline") not in DISCIPLINES:
        out.append(f"discipline {item.get('discipline')!r} is not one of {sorted(DISCIPLINES)}")
    text = item.get("text")
    if not is_text(text):
        out.append(f"text must be 1-{TEXT_MAX} characters")
    else:
        unknown = sorted(set(PLACEHOLDER.findall(text)) - PLACEHOLDERS)
        out += [f"text has an unknown placeholder {p}" for p in unknown]
    if "frequency" in item:
        try:
            parse(item["frequency"])
        except FrequencyError as error:
            out.append(f"frequency {item['frequency']!r}: {error}")
    return out


def test_the_shipped_templates_are_exactly_the_issues_list() -> None:
    assert sorted(p.stem for p in TEMPLATES.glob("*.json")) == sorted(SHIPPED)
    assert not [p.name for p in TEMPLATES.iterdir() if p.suffix != ".json"]


@pytest.mark.parametrize("key", SHIPPED)
def test_each_template_keeps_every_field_rule(key: str) -> None:
    assert breaks(load(key), key) == []


@pytest.mark.parametrize("key", SHIPPED)
def test_each_file_is_utf8_json_with_an_indent_of_one_or_two_spaces(key: str) -> None:
    text = (TEMPLATES / f"{key}.json").read_bytes().decode("utf-8")
    indents = {len(line) - len(line.lstrip(" ")) for line in text.splitlines()} - {0}
    assert min(indents) in (1, 2)
    assert all(n % min(indents) == 0 for n in indents)
    assert "\t" not in text


def test_preventive_care_has_one_problem_and_one_intervention_per_gap() -> None:
    data = load("preventive-care")
    [problem] = data["problems"]
    interventions = data["interventions"]
    assert [i["key"] for i in interventions] == PREVENTIVE_GAPS
    assert {i["problem"] for i in interventions} == {problem["key"]}
    assert {i["kind"] for i in interventions} <= {"coordinate", "teach"}
    assert {i["discipline"] for i in interventions} == {"RN"}


def test_fall_risk_has_one_home_fix_per_hazard_for_the_therapist() -> None:
    data = load("fall-risk")
    [fix] = [i for i in data["interventions"] if i["key"] == "fall-home-fix"]
    assert fix["text"] == "{fix}"
    assert fix["kind"] == "perform"
    assert fix["discipline"] in {"OT", "PT"}
    assert fix["problem"] in {p["key"] for p in data["problems"]}
    assert "fall" in fix["problem"]
    # No other template fills text from a finding it has no rule for.
    others = [
        (t, i["key"])
        for t in SHIPPED
        for i in load(t)["interventions"]
        if PLACEHOLDER.search(i["text"]) and (t, i["key"]) != ("fall-risk", "fall-home-fix")
    ]
    assert others == []


@pytest.mark.parametrize("key", HRSN)
def test_social_needs_templates_refer_to_community_resources_through_the_social_worker(
    key: str,
) -> None:
    referrals = [i for i in load(key)["interventions"] if i["kind"] == "refer"]
    assert referrals
    assert {i["discipline"] for i in referrals} == {"MSW"}


@pytest.mark.parametrize(
    ("key", "goal", "target"),
    [
        ("heart-failure", "hf-no-readmission", {"measure": "hospital-stays", "target_days": 60}),
        ("copd", "copd-no-readmission", {"measure": "hospital-stays", "target_days": 60}),
        ("diabetes", "dm-a1c", {"measure": "a1c", "target_high": 8}),
        ("hypertension", "htn-systolic", {"measure": "systolic", "target_high": 140}),
        ("hypertension", "htn-diastolic", {"measure": "diastolic", "target_high": 90}),
        ("fall-risk", "fall-no-falls", {"measure": "falls", "target_days": 60}),
        ("depression", "dep-phq9", {"measure": "phq-9", "target_high": 9}),
        ("pain", "pain-tolerable", {}),  # the tolerable level is the patient's: words only
        ("copd", "copd-inhaler", {}),
    ],
)
def test_targets_are_the_ones_that_hold_for_most_patients(
    key: str, goal: str, target: dict[str, object]
) -> None:
    [found] = [g for g in load(key)["goals"] if g["key"] == goal]
    assert {f: found[f] for f in ("measure", *TARGET_FIELDS) if f in found} == target


def test_no_template_sets_an_oxygen_or_pain_number() -> None:
    """Both are patient-specific (the physician's SpO2 range, the patient's tolerable pain)."""
    measured = {g.get("measure") for key in SHIPPED for g in load(key)["goals"]}
    assert not measured & {"oxygen-saturation", "pain", "task"}


def test_every_goal_measure_named_is_one_of_goal_measures_json() -> None:
    measured = {g["measure"] for key in SHIPPED for g in load(key)["goals"] if "measure" in g}
    assert measured
    assert measured <= set(MEASURES) - {"task"}


# Each breakage is applied to a copy of heart-failure, which keeps every rule.
BROKEN = [
    ("key", lambda t: t.update(key="Heart_Failure"), "lowercase letters"),
    ("file name", lambda t: t.update(key="copd"), "is not the file name"),
    ("sources", lambda t: t.update(sources=[]), "sources"),
    ("terms", lambda t: t.pop("terms"), "terms is missing"),
    ("typo", lambda t: t["goals"][0].update(decription="x"), "unknown field 'decription'"),
    ("twice", lambda t: t["goals"][1].update(key="hf"), "'hf' is used twice"),
    ("no problem", lambda t: t.update(problems=[]), "0 problems"),
    ("goals", lambda t: t.update(goals=t["goals"][:1]), "1 goals"),
    ("too many", lambda t: t["interventions"].extend([t["interventions"][0]] * 3), "10 interv"),
    (
        "patient's",
        lambda t: t["interventions"].append({**t["interventions"][1], "key": "hf-more"}),
        "3 patient interventions",
    ),
    ("who", lambda t: t["interventions"][1].update(who="family"), "who 'family'"),
    ("both", lambda t: t["interventions"][1].update(discipline="RN"), "beside who 'patient'"),
    ("code", lambda t: t["problems"][0].update(code_system="http://loinc.org"), "neither"),
    ("code alone", lambda t: t["problems"][0].pop("code_system"), "come together"),
    ("problem", lambda t: t["goals"][0].update(problem="copd"), "not a problem"),
    ("long", lambda t: t["goals"][0].update(description="x" * 301), "1-300 characters"),
    ("ask", lambda t: t["goals"][0].update(ask="Tell us."), "ask must be a question"),
    ("due", lambda t: t["goals"][0].update(due_in_days=0), "due_in_days"),
    ("measure", lambda t: t["goals"][0].update(measure="steps"), "not a goal measure"),
    ("task", lambda t: t["goals"][0].update(measure="task"), "not a goal measure"),
    ("days", lambda t: t["goals"][0].update(target_high=1), "target_days alone"),
    ("reading", lambda t: t["goals"][0].update(measure="weight"), "target_low and/or"),
    ("order", lambda t: t["goals"][1].update(measure="pain", target_low=9, target_high=2), "above"),
    ("orphan", lambda t: t["goals"][1].update(target_low=92), "without a measure"),
    ("goal", lambda t: t["interventions"][0].update(goal="nope"), "not a goal"),
    ("kind", lambda t: t["interventions"][0].update(kind="educate"), "kind 'educate'"),
    ("no one", lambda t: t["interventions"][0].pop("discipline"), "discipline None"),
    ("who else", lambda t: t["interventions"][0].update(discipline="MD"), "discipline 'MD'"),
    ("fill", lambda t: t["interventions"][0].update(text="Fix {hazard}"), "{hazard}"),
    ("fill goal", lambda t: t["goals"][2].update(description="{fix}"), "only intervention"),
    ("frequency", lambda t: t["interventions"][0].update(frequency="often"), "frequency 'often'"),
]


@pytest.mark.parametrize(("what", "change", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_check_catches_what_it_is_for(what: str, change: Any, message: str) -> None:
    data = copy.deepcopy(load("heart-failure"))
    change(data)
    found = breaks(data, "heart-failure")
    assert any(message in e for e in found), found


def test_a_goal_of_another_problem_is_refused_and_fill_ins_and_frequencies_are_allowed() -> None:
    data = copy.deepcopy(load("heart-failure"))
    data["problems"].append({"key": "hf-other", "text": "Another problem"})
    data["goals"].append({"key": "hf-other-goal", "problem": "hf-other", "description": "Done"})
    data["interventions"][0].update(goal="hf-other-goal")
    assert breaks(data, "heart-failure") == [
        "intervention 'hf-weigh-daily': goal 'hf-other-goal' belongs to another problem"
    ]
    data["interventions"][0].update(
        goal="hf-weight-log", text="{fix} ({finding})", frequency="1w4, PRN x2"
    )
    assert breaks(data, "heart-failure") == []

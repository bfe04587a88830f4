"""The suggestion and preventive care rule files: read as plain JSON and checked against the
format of issue 18 and against the instruments, flags and templates they name, so that every
rule is well formed and can actually fire."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from careway.assessments import engine, instruments

CONTENT = Path(__file__).resolve().parents[2] / "careway" / "careplans" / "content"
RULES = CONTENT / "rules"
TEMPLATES = CONTENT / "templates"
FLAG_CATEGORIES = (
    Path(__file__).resolve().parents[2]
    / "careway"
    / "patients"
    / "content"
    / "flag_categories.json"
)

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
CVX = "http://hl7.org/fhir/sid/cvx"
CPT = "http://www.ama-assn.org/go/cpt"

TEMPLATE_KEYS = {
    "heart-failure", "copd", "diabetes", "hypertension", "hip-fracture-joint-replacement", "stroke",
    "dementia-caregiver-support", "fall-risk", "depression", "pressure-injury-risk", "pain",
    "polypharmacy", "wound-care", "food-insecurity", "social-isolation", "caregiver-strain",
    "end-of-life-advance-care-planning", "preventive-care",
}  # fmt: skip
PREVENTIVE_GAPS = {
    "flu-vaccine", "pneumococcal-vaccine", "zoster-vaccine", "covid-vaccine", "td-tdap-vaccine",
    "colorectal-screening", "diabetic-eye-exam", "diabetic-foot-exam", "a1c-test",
}  # fmt: skip
LEAVES = {
    "condition", "score", "finding", "flag", "age", "sex", "immunization", "procedure",
    "observation", "all", "any", "not",
}  # fmt: skip
RULE_FIELDS = {"id", "name", "template", "items", "per_finding", "recommendation", "when"}
KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
ICD10_PREFIX = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?")
LOINC_CODE = re.compile(r"\d{1,7}-\d")
CVX_CODE = re.compile(r"\d{2,3}")
CPT_CODE = re.compile(r"\d{4}[0-9F]")
SEASON_START = re.compile(r"(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")

SUGGESTIONS = json.loads((RULES / "suggestions.json").read_text(encoding="utf-8"))
PREVENTIVE = json.loads((RULES / "preventive.json").read_text(encoding="utf-8"))
ALL_RULES = SUGGESTIONS["rules"] + PREVENTIVE["rules"]


def _instruments() -> dict[str, engine.Instrument]:
    loaded = (engine.load(q) for q in instruments.shipped().values())
    return {instrument.url: instrument for instrument in loaded}


INSTRUMENTS = _instruments()


def kinds_raised(instrument: engine.Instrument) -> set[str]:
    """Every finding kind the instrument can raise: band flags, alerts and answer findings."""
    kinds = {band.flag for rule in instrument.scores for band in rule.bands if band.flag}
    kinds |= {alert.flag for alert in instrument.alerts if alert.flag}
    kinds |= {f.kind for item in instrument.items.values() for f in item.findings.values()}
    return kinds


ALL_KINDS = set().union(*(kinds_raised(i) for i in INSTRUMENTS.values()))
FLAG_KINDS = ALL_KINDS | set(json.loads(FLAG_CATEGORIES.read_text())["categories"])


def leaves(node: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(leaf name, leaf value) for every node of a condition tree, the boolean ones included."""
    ((name, value),) = node.items()
    yield name, value
    if name in ("all", "any"):
        for child in value:
            yield from leaves(child)
    elif name == "not":
        yield from leaves(value)


def rule_leaves(rules: list[dict[str, Any]], name: str) -> Iterator[tuple[str, Any]]:
    for rule in rules:
        for leaf_name, value in leaves(rule["when"]):
            if leaf_name == name:
                yield rule["id"], value


def condition_matches(leaf: dict[str, Any], system: str, code: str) -> bool:
    """The spec's matching: an exact code, or an ICD-10-CM prefix with or without the dot."""
    for entry in leaf["codes"]:
        if entry["system"] != system:
            continue
        if code in entry.get("codes", []):
            return True
        bare = code.replace(".", "")
        if any(bare.startswith(p.replace(".", "")) for p in entry.get("prefixes", [])):
            return True
    return False


def templates_matching(system: str, code: str) -> set[str]:
    return {
        rule["template"]
        for rule in SUGGESTIONS["rules"]
        for name, leaf in leaves(rule["when"])
        if name == "condition" and condition_matches(leaf, system, code)
    }


# --- the files -------------------------------------------------------------------------------


@pytest.mark.parametrize("document", [SUGGESTIONS, PREVENTIVE], ids=["suggestions", "preventive"])
def test_each_file_names_its_sources_and_terms(document):
    assert document["title"].strip() and document["version"] == "1"
    assert document["sources"] and all(s.strip() for s in document["sources"])
    assert document["terms"].strip()
    assert document["rules"]


def test_rule_ids_are_unique_across_both_files_and_kebab_case():
    ids = [rule["id"] for rule in ALL_RULES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(KEBAB.fullmatch(i) for i in ids), [i for i in ids if not KEBAB.fullmatch(i)]


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r["id"])
def test_each_rule_has_only_known_fields_and_a_known_template(rule):
    assert set(rule) <= RULE_FIELDS, set(rule) - RULE_FIELDS
    assert rule["template"] in TEMPLATE_KEYS
    assert isinstance(rule["when"], dict)
    if "items" in rule:
        assert rule["items"] and all(KEBAB.fullmatch(i) for i in rule["items"])
        assert len(set(rule["items"])) == len(rule["items"])


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r["id"])
def test_each_node_of_a_condition_tree_is_one_known_leaf(rule):
    for name, value in leaves(rule["when"]):
        assert name in LEAVES
        if name in ("all", "any"):
            assert isinstance(value, list) and len(value) >= 2, name
        if name == "not":
            assert isinstance(value, dict) and len(value) == 1


def test_each_non_preventive_template_has_a_suggestion_rule():
    suggested = {rule["template"] for rule in SUGGESTIONS["rules"]}
    assert TEMPLATE_KEYS - {"preventive-care"} <= suggested


# --- leaves that read the chart ---------------------------------------------------------------


def _coded(entries: list[dict[str, Any]], systems: dict[str, re.Pattern[str]]) -> None:
    assert entries
    for entry in entries:
        assert entry["system"] in systems, entry["system"]
        assert set(entry) == {"system", "codes"}, "only conditions match by prefix"
        codes = entry["codes"]
        assert codes and len(codes) == len(set(codes)), entry
        assert all(systems[entry["system"]].fullmatch(c) for c in codes), entry


CONDITION_SYSTEMS = {SNOMED: re.compile(r"\d{6,18}"), ICD10CM: ICD10_PREFIX}


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r["id"])
def test_condition_leaves_hold_snomed_codes_and_icd_10_cm_codes_or_prefixes(rule):
    for name, leaf in leaves(rule["when"]):
        if name != "condition":
            continue
        assert set(leaf) == {"codes"} and leaf["codes"]
        for entry in leaf["codes"]:
            assert entry["system"] in CONDITION_SYSTEMS
            ((key, values),) = ((k, v) for k, v in entry.items() if k != "system")
            assert key in ("codes", "prefixes") and values
            assert len(values) == len(set(values))
            pattern = CONDITION_SYSTEMS[entry["system"]]
            assert all(pattern.fullmatch(v) for v in values), entry
            if entry["system"] == SNOMED:
                assert key == "codes", "SNOMED CT codes are matched whole"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r["id"])
def test_immunization_procedure_and_observation_leaves_are_well_formed(rule):
    for name, leaf in leaves(rule["when"]):
        if name == "immunization":
            _coded(leaf["codes"], {CVX: CVX_CODE})
            assert set(leaf) <= {"codes", "within_days", "since_season", "count_at_least"}
            assert not ("within_days" in leaf and "since_season" in leaf)
            assert SEASON_START.fullmatch(leaf.get("since_season", "08-01"))
            assert leaf.get("count_at_least", 1) >= 1
        elif name == "procedure":
            _coded(leaf["codes"], {SNOMED: CONDITION_SYSTEMS[SNOMED], CPT: CPT_CODE})
            assert set(leaf) <= {"codes", "within_days"}
        elif name == "observation":
            _coded(leaf["codes"], {LOINC: LOINC_CODE})
            assert set(leaf) <= {"codes", "within_days", "at_least", "at_most"}
        else:
            continue
        assert leaf.get("within_days", 1) > 0


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r["id"])
def test_age_and_sex_leaves_are_well_formed(rule):
    for name, leaf in leaves(rule["when"]):
        if name == "age":
            assert leaf and set(leaf) <= {"at_least", "at_most"}
            assert leaf.get("at_least", 0) <= leaf.get("at_most", 150)
        elif name == "sex":
            assert leaf in ("female", "male")


# --- leaves that read assessments and flags ---------------------------------------------------


@pytest.mark.parametrize(
    ("rule_id", "leaf"), list(rule_leaves(ALL_RULES, "score")), ids=lambda v: str(v)[:40]
)
def test_score_leaves_name_a_shipped_score_and_its_own_cut_point(rule_id, leaf):
    instrument = INSTRUMENTS.get(leaf["questionnaire"])
    assert instrument, f"{rule_id}: no shipped instrument {leaf['questionnaire']}"
    scores = {s.key: s for s in instrument.scores}
    assert leaf["key"] in scores, f"{rule_id}: {leaf['key']} is not one of {sorted(scores)}"
    assert set(leaf) - {"questionnaire", "key"} in (
        {"at_least"},
        {"at_most"},
        {"at_least", "at_most"},
    )
    bands = scores[leaf["key"]].bands
    # Each threshold is an edge of one of the instrument's published bands, so it can be reached.
    if "at_least" in leaf:
        assert leaf["at_least"] in {band.low for band in bands}, rule_id
    if "at_most" in leaf:
        assert leaf["at_most"] in {band.high for band in bands}, rule_id


@pytest.mark.parametrize(
    ("rule_id", "leaf"), list(rule_leaves(ALL_RULES, "finding")), ids=lambda v: str(v)[:40]
)
def test_finding_leaves_name_a_kind_an_instrument_raises(rule_id, leaf):
    assert set(leaf) <= {"kind", "questionnaire"}
    assert leaf["kind"] in ALL_KINDS, f"{rule_id}: no instrument raises {leaf['kind']}"
    if "questionnaire" in leaf:
        assert leaf["kind"] in kinds_raised(INSTRUMENTS[leaf["questionnaire"]])


@pytest.mark.parametrize(
    ("rule_id", "leaf"), list(rule_leaves(ALL_RULES, "flag")), ids=lambda v: str(v)[:40]
)
def test_flag_leaves_name_a_kind_careway_raises(rule_id, leaf):
    assert set(leaf) <= {"kind", "severity"}
    assert leaf["kind"] in FLAG_KINDS, f"{rule_id}: nothing raises a {leaf['kind']} flag"
    assert leaf.get("severity", "warning") in ("info", "warning", "urgent")


def test_the_steadi_rule_gives_one_home_fix_per_fall_hazard_and_no_other_hazard():
    (rule,) = [r for r in SUGGESTIONS["rules"] if r.get("per_finding")]
    assert rule["template"] == "fall-risk" and rule["items"] == ["fall-home-fix"]
    assert rule["when"] == {
        "finding": {
            "kind": "home-hazard",
            "questionnaire": "urn:careway:fhir:Questionnaire:steadi-home-safety",
        }
    }
    # Without the questionnaire, the home safety section's smoke alarms and firearms would
    # become fall-risk interventions: it raises home-hazard findings too.
    assert "home-hazard" in kinds_raised(INSTRUMENTS["urn:careway:fhir:Questionnaire:soc-home"])


def test_only_the_per_finding_rule_picks_items_among_the_suggestions():
    assert [r["id"] for r in SUGGESTIONS["rules"] if "items" in r] == ["steadi-hazard-fixes"]


# --- preventive care --------------------------------------------------------------------------


@pytest.mark.parametrize("rule", PREVENTIVE["rules"], ids=lambda r: r["id"])
def test_each_preventive_rule_names_its_gap_and_its_published_recommendation(rule):
    assert rule["template"] == "preventive-care"
    # Only the gap: its problem ("preventive care due") comes into the plan with the first gap
    # accepted, rather than being suggested with every preventive rule's reasons gathered.
    assert len(rule["items"]) == 1 and rule["items"][0] in PREVENTIVE_GAPS
    assert re.search(r"\b(CDC|USPSTF|ADA)\b.*20\d\d", rule["recommendation"]), rule["id"]


def test_every_preventive_gap_has_exactly_one_rule():
    gaps = [rule["items"][0] for rule in PREVENTIVE["rules"]]
    assert sorted(gaps) == sorted(PREVENTIVE_GAPS)


def test_no_suggestion_rule_needs_a_recommendation_and_none_suggests_preventive_care():
    assert not [r["id"] for r in SUGGESTIONS["rules"] if "recommendation" in r]
    assert not [r["id"] for r in SUGGESTIONS["rules"] if r["template"] == "preventive-care"]


def test_live_zoster_vaccine_does_not_count_toward_the_two_recombinant_doses():
    rule = next(r for r in PREVENTIVE["rules"] if r["id"] == "zoster-vaccine")
    (leaf,) = [leaf for name, leaf in leaves(rule["when"]) if name == "immunization"]
    assert leaf["codes"][0]["codes"] == ["187"] and leaf["count_at_least"] == 2


def test_pcv13_or_ppsv23_alone_never_completes_the_pneumococcal_series():
    rule = next(r for r in PREVENTIVE["rules"] if r["id"] == "pneumococcal-vaccine")
    ((_, done),) = [(n, v) for n, v in leaves(rule["when"]) if n == "not"]
    complete_alone = [
        branch["immunization"]["codes"][0]["codes"]
        for branch in done["any"]
        if "immunization" in branch and "within_days" not in branch["immunization"]
    ]
    assert complete_alone == [["216"]], "only PCV20 completes the series on its own"


# --- real charts ------------------------------------------------------------------------------


def _diabetes_leaves() -> list[dict[str, Any]]:
    rules = [
        r for r in ALL_RULES if r["id"] in ("diabetes-on-chart", "diabetic-eye-exam", "a1c-test")
    ]
    return [leaf for rule in rules for name, leaf in leaves(rule["when"]) if name == "condition"]


def test_diabetes_rules_share_one_code_set_and_prediabetes_is_not_diabetes():
    first, *others = _diabetes_leaves()
    assert all(leaf == first for leaf in others)
    assert not condition_matches(first, SNOMED, "15777000")  # Prediabetes, as Synthea records it
    assert not condition_matches(first, ICD10CM, "R73.03")  # Prediabetes
    assert condition_matches(first, ICD10CM, "E119")  # without the dot
    assert condition_matches(first, ICD10CM, "E11.65")


def test_the_chronic_conditions_of_the_synthea_bundles_each_suggest_their_template(synthea_data):
    expected = {
        "38341003": {"hypertension"},
        "87433001": {"copd"},
        "44054006": {"diabetes"},
        "230690007": {"stroke"},
        "26929004": {"dementia-caregiver-support"},
        "15777000": set(),  # prediabetes suggests nothing
    }
    seen: dict[str, set[str]] = {}
    for bundle in sorted(synthea_data.glob("*.json")):
        for entry in json.loads(bundle.read_text())["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] != "Condition":
                continue
            for coding in resource["code"]["coding"]:
                if coding["code"] in expected:
                    seen[coding["code"]] = templates_matching(coding["system"], coding["code"])
    assert seen == expected


# --- the templates the rules name -------------------------------------------------------------


def _template_item_keys(key: str) -> set[str]:
    path = TEMPLATES / f"{key}.json"
    if not path.exists():
        pytest.skip(f"{path} is not written yet")
    template = json.loads(path.read_text(encoding="utf-8"))
    return {
        item["key"]
        for part in ("problems", "goals", "interventions")
        for item in template.get(part, [])
    }


@pytest.mark.parametrize("rule", [r for r in ALL_RULES if "items" in r], ids=lambda r: r["id"])
def test_items_are_item_keys_of_their_template(rule):
    keys = _template_item_keys(rule["template"])
    assert set(rule["items"]) <= keys, set(rule["items"]) - keys

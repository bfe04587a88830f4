"""Scoring throughput of the assessment engine: responses scored per second, per instrument, and
whole comprehensive assessments scored per second the way signing scores them.

Per instrument: each shipped instrument is scored on random complete responses (every item
answered with one of its options) in one process, after a warm-up, with the Questionnaire loaded
once as Careway does.

Whole assessment: a complete start-of-care assessment is every questionnaire of every section
the comprehensive template asks at start of care (careway/assessments/template.py), each answered
on every item with a random valid answer (tests/assessments/fill.py, the answer sets the tests
sign with), kept as the section page keeps it (questionnaires.response_items). It is scored as
`services.sign_assessment` scores it: each response through `engine.score` with the instrument
the agency's catalog gives (a shipped instrument without band edges is `instruments.instrument`,
loaded once per process); a second figure adds what signing also works out in Python for each
response, the vital signs it charts (`services._vital_signs`). Signing's database work (the
catalog's band-edge query, the scores, findings and flags it writes) is not in these figures:
benchmarks/assessment_section.py times pages against PostgreSQL. The baseline, timed in the same
loop, is a JSON round trip of the same responses (what reading them from the database costs in
Python); the ratio is what survives a noisy machine.

Usage: .venv/bin/python benchmarks/scoring.py [--responses 20000] [--assessments 2000]
It prints a JSON summary and writes it to benchmarks/results/scoring-<date>-<time>.json.
"""

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIME_POINT = "start-of-care"
# The whole-assessment loop is timed this many times; the median and the spread are reported.
REPEATS = 5


def random_response(questionnaire: dict, rng: random.Random) -> dict:
    items = []

    def walk(raw_items):
        for item in raw_items:
            if item.get("answerOption"):
                option = rng.choice(item["answerOption"])
                value = {k: v for k, v in option.items() if k.startswith("value")}
                items.append({"linkId": item["linkId"], "answer": [value]})
            elif item.get("type") in ("integer", "decimal"):
                items.append(
                    {"linkId": item["linkId"], "answer": [{"valueDecimal": rng.uniform(5, 20)}]}
                )
            walk(item.get("item", []))

    walk(questionnaire.get("item", []))
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}


def per_instrument(responses: int, rng: random.Random) -> dict[str, int]:
    from careway.assessments import engine

    rates = {}
    for path in sorted((ROOT / "careway/assessments/content").glob("*.json")):
        questionnaire = json.loads(path.read_text())
        instrument = engine.load(questionnaire)
        samples = [random_response(questionnaire, rng) for _ in range(1000)]
        for response in samples[:100]:
            engine.score(instrument, response)
        start = time.perf_counter()
        for i in range(responses):
            engine.score(instrument, samples[i % len(samples)])
        seconds = time.perf_counter() - start
        rates[questionnaire["id"]] = round(responses / seconds)
    return rates


# --- the whole comprehensive assessment ----------------------------------------------------------


def complete_assessment(rng: random.Random) -> list[tuple[str, list[dict[str, Any]]]]:
    """(questionnaire url, QuestionnaireResponse.item) for every questionnaire of every section
    of a start-of-care assessment, every item answered (a random option, or the low or the high
    end of a number's range), as the section page stores it."""
    from careway.assessments import catalog, template
    from careway.assessments.questionnaires import response_items

    responses = []
    for section in template.comprehensive().sections_for(TIME_POINT):
        for part in section.parts:
            questionnaire = catalog.shipped_by_id(part.questionnaire)
            items = response_items(questionnaire, random_answers(questionnaire, rng))
            responses.append((str(questionnaire["url"]), items))
    return responses


def random_answers(questionnaire: dict, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """linkId -> [value[x]] for every item: a random option, or the low or the high end of a
    number's range (tests/assessments/fill.py's answers, mixed item by item)."""
    from tests.assessments import fill

    answers = {}
    for item in fill.items_of(questionnaire):
        options = item.get("answerOption") or []
        choice = rng.randrange(len(options)) if options else rng.choice((0, -1))
        value = fill.answer_for(item, choice)
        if value is not None:
            answers[item["linkId"]] = [value]
    return answers


def whole_assessments(count: int, rng: random.Random) -> dict[str, Any]:
    from careway.assessments import catalog, engine, instruments, services

    assessments = [complete_assessment(rng) for _ in range(200)]
    by_url = catalog.shipped_by_url()
    # What catalog.entries gives signing for a shipped instrument the agency has no band edges
    # for: the instrument parsed once per process.
    scoring = {url: instruments.instrument(str(q["id"])) for url, q in by_url.items()}
    taken = datetime(2026, 11, 24, 10, tzinfo=UTC)

    def score_only(assessment):
        for url, items in assessment:
            engine.score(scoring[url], {"item": items})

    def score_and_vitals(assessment):
        for url, items in assessment:
            engine.score(scoring[url], {"item": items})
            services._vital_signs(by_url[url], items, taken)

    def json_round_trip(assessment):
        for _url, items in assessment:
            json.loads(json.dumps(items))

    loops = {"score": score_only, "score_and_vital_signs": score_and_vitals}
    loops["baseline_json_round_trip"] = json_round_trip
    for assessment in assessments[:50]:  # warm-up
        for loop in loops.values():
            loop(assessment)
    rates: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(REPEATS):
        for name, loop in loops.items():  # interleaved, so a busy spell hits all three
            start = time.perf_counter()
            for i in range(count):
                loop(assessments[i % len(assessments)])
            rates[name].append(count / (time.perf_counter() - start))
    sample = assessments[0]
    result: dict[str, Any] = {
        "time_point": TIME_POINT,
        "questionnaires_per_assessment": len(sample),
        "answered_items_per_assessment": sum(
            len(engine.answers_of({"item": items})) for _url, items in sample
        ),
        "assessments_timed_per_repeat": count,
        "repeats": REPEATS,
    }
    for name, values in rates.items():
        result[f"{name}_per_second"] = {
            "median": round(statistics.median(values)),
            "min": round(min(values)),
            "max": round(max(values)),
        }
    # Per repeat, so that the noise of one spell cancels out.
    ratios = [b / s for s, b in zip(rates["score"], rates["baseline_json_round_trip"], strict=True)]
    result["score_time_over_json_round_trip_time"] = round(statistics.median(ratios), 2)
    result["ms_per_assessment_scored"] = round(1000 / statistics.median(rates["score"]), 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=20000)
    parser.add_argument("--assessments", type=int, default=2000)
    args = parser.parse_args()
    # Settings only, for the services module's imports; nothing here touches a database.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careway.settings")
    import django

    django.setup()

    rng = random.Random(7)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "python": platform.python_version(),
        "responses_per_second": per_instrument(args.responses, rng),
        "comprehensive_assessment": whole_assessments(args.assessments, rng),
    }
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"scoring-{datetime.now(UTC):%Y-%m-%d-%H%M}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Scoring throughput of the assessment engine: responses scored per second, per instrument.

Each shipped instrument is scored on random complete responses (every item answered with one of
its options) in one process, after a warm-up, with the Questionnaire loaded once as Careway does.
Usage: .venv/bin/python benchmarks/scoring.py [--responses 20000]
"""

import argparse
import json
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=20000)
    args = parser.parse_args()
    from careway.assessments import engine

    rng = random.Random(7)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "python": platform.python_version(),
        "responses_per_second": {},
    }
    for path in sorted((ROOT / "careway/assessments/content").glob("*.json")):
        questionnaire = json.loads(path.read_text())
        instrument = engine.load(questionnaire)
        responses = [random_response(questionnaire, rng) for _ in range(1000)]
        for response in responses[:100]:
            engine.score(instrument, response)
        start = time.perf_counter()
        for i in range(args.responses):
            engine.score(instrument, responses[i % len(responses)])
        seconds = time.perf_counter() - start
        result["responses_per_second"][questionnaire["id"]] = round(args.responses / seconds)
    out = ROOT / "benchmarks" / "results" / f"scoring-{datetime.now(UTC):%Y-%m-%d-%H%M}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

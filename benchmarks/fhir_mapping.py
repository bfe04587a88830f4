"""How fast the FHIR mapping reads resources in, against reading their JSON in the same run.

Reads the twelve Synthea R4 bundles (../shared/data/synthea), keeps the resources Careway takes
in, and times (best of --repeat) `careway.fhir.mapping.from_fhir` over all of them, beside the
baseline of parsing the same resources from JSON text (orjson) in the same process. The ratio
says what the mapping costs in units of JSON parsing, which a shared machine moves much less than
the absolute rate. (This was a timed assertion in tests/fhir/test_mapping_synthea.py; speed is
measured here, not asserted in tests.)

Usage: .venv/bin/python benchmarks/fhir_mapping.py [--repeat 5]
Prints a JSON summary and writes it to benchmarks/results/fhir-mapping-<date>-<time>.json.
"""

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea"


def best_of(repeat: int, work) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careway.settings")
    import django

    django.setup()
    from careway.fhir.mapping import from_fhir, taken_in

    files = sorted(SYNTHEA.glob("*.json"))
    if not files:
        raise SystemExit(f"No Synthea bundles in {SYNTHEA}")
    kinds = taken_in()
    resources = [
        entry["resource"]
        for path in files
        for entry in orjson.loads(path.read_bytes())["entry"]
        if entry["resource"]["resourceType"] in kinds
    ]
    texts = [orjson.dumps(r) for r in resources]
    mapping = best_of(args.repeat, lambda: [from_fhir(r) for r in resources])
    parsing = best_of(args.repeat, lambda: [orjson.loads(t) for t in texts])
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "python": platform.python_version(),
        "resources": len(resources),
        "mapping_per_second": round(len(resources) / mapping),
        "json_parsing_per_second": round(len(resources) / parsing),
        "mapping_to_parsing_time": round(mapping / parsing, 1),
    }
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"fhir-mapping-{datetime.now(UTC):%Y-%m-%d-%H%M}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Generate FHIR R4 input for the import benchmarks from the twelve Synthea bundles.

Each copy of a bundle gets new ids: every UUID in it is replaced by one derived from the copy
number and the old UUID (uuid5), so references stay consistent within a copy and copies never
collide. Two shapes:
- bundles: one transaction bundle per patient, as Synthea writes them;
- NDJSON: one file per resource type, as FHIR Bulk Data writes them, with `urn:uuid:` references
  rewritten to relative `Type/id` references (NDJSON has no fullUrls to resolve them against).

Usage:
  .venv/bin/python benchmarks/fhir_data.py bundles OUT_DIR --patients 600
  .venv/bin/python benchmarks/fhir_data.py ndjson OUT_DIR --patients 600
  .venv/bin/python benchmarks/fhir_data.py ndjson OUT_DIR --gigabytes 2   # the memory test
Writes as it goes: memory stays small whatever the size.
"""

import argparse
import json
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NAMESPACE = uuid.UUID("6f1c3f1e-3c1a-4c55-9a8e-2b8f3f8e7d10")


def sources() -> list[str]:
    files = sorted(SYNTHEA.glob("*.json"))
    if not files:
        sys.exit(f"No Synthea bundles in {SYNTHEA}")
    return [f.read_text() for f in files]


def copy_of(text: str, n: int) -> str:
    """The bundle text with every UUID replaced, consistently, for copy number n, and the
    patient's other identifiers (social security, driver's licence and passport numbers) made
    unique to the copy, so that no two copies are the same person."""
    cache: dict[str, str] = {}

    def new(match: re.Match) -> str:
        old = match.group(0)
        if old not in cache:
            cache[old] = str(uuid.uuid5(NAMESPACE, f"{n}:{old}"))
        return cache[old]

    bundle = json.loads(UUID.sub(new, text))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            for identifier in resource.get("identifier", []):
                if not UUID.fullmatch(identifier.get("value", "")):
                    identifier["value"] = f"{identifier['value']}-{n}"
    return json.dumps(bundle)


def bundle_copies(patients: int) -> Iterator[tuple[str, str]]:
    originals = sources()
    for n in range(patients):
        yield f"patient-{n:06d}.json", copy_of(originals[n % len(originals)], n)


def ndjson_lines(bundle_text: str) -> Iterator[tuple[str, str]]:
    """(resource type, one NDJSON line) for each entry, references made relative."""
    bundle = json.loads(bundle_text)
    where = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle["entry"]
        if e.get("fullUrl") and e["resource"].get("id")
    }
    for entry in bundle["entry"]:
        resource = entry["resource"]
        line = json.dumps(resource, separators=(",", ":"))
        line = re.sub(
            r'"reference":"(urn:uuid:[0-9a-f-]{36})"',
            lambda m: f'"reference":"{where.get(m.group(1), m.group(1))}"',
            line,
        )
        yield resource["resourceType"], line


def write_bundles(out: Path, patients: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in bundle_copies(patients):
        (out / name).write_text(text)


def write_ndjson(out: Path, patients: int | None, gigabytes: float | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    limit = int(gigabytes * 1024**3) if gigabytes else None
    handles: dict[str, object] = {}
    written = 0
    n = 0
    originals = sources()
    try:
        while (patients is None or n < patients) and (limit is None or written < limit):
            text = copy_of(originals[n % len(originals)], n)
            for kind, line in ndjson_lines(text):
                if kind not in handles:
                    handles[kind] = (out / f"{kind}.ndjson").open("w")
                handles[kind].write(line + "\n")  # type: ignore[attr-defined]
                written += len(line) + 1
            n += 1
    finally:
        for handle in handles.values():
            handle.close()  # type: ignore[attr-defined]
    print(f"{n} patients, {written / 1024**2:.0f} MB in {len(handles)} files under {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", choices=["bundles", "ndjson"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--patients", type=int)
    parser.add_argument("--gigabytes", type=float)
    args = parser.parse_args()
    if args.shape == "bundles":
        write_bundles(args.out, args.patients or 600)
    else:
        write_ndjson(args.out, args.patients, args.gigabytes)


if __name__ == "__main__":
    main()

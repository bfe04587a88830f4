"""The demo's data files, read once: codes with their sources, agencies, cases and people."""

import json
from functools import cache
from pathlib import Path
from typing import Any

CONTENT_DIR = Path(__file__).parent / "content"


@cache
def load(name: str) -> dict[str, Any]:
    return json.loads((CONTENT_DIR / f"{name}.json").read_text(encoding="utf-8"))


def codes() -> dict[str, Any]:
    return load("codes")


def agencies() -> list[dict[str, Any]]:
    return load("agencies")["agencies"]


def demo_password() -> str:
    return load("agencies")["password"]


def scenarios() -> dict[str, Any]:
    return load("scenarios")["scenarios"]


def people(agency_slug: str) -> list[dict[str, Any]]:
    return load("people")["agencies"][agency_slug]

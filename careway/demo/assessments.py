"""The demo's assessments: a signed start-of-care assessment on each patient's start-of-care
day, a recertification for those in care past day 56, and, for one patient, a draft left half
done: enough for the chart's scores and trends, the caseload's due column and a resumed draft.

Answers are drawn from each item's options at a level that starts where the scenario puts the
patient and eases as care goes on, so trends move the way a recovering patient's would."""

import random
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from careway.assessments import catalog, engine, queries, questionnaires, services, template
from careway.assessments.services import SectionAnswers
from careway.core import audit
from careway.patients.models import EpisodeOfCare, Patient

# How unwell each scenario starts (0: no problem on any item, 1: the worst answer everywhere).
STARTING_LEVEL = 0.2
EASING_PER_ASSESSMENT = 0.07
FINDING_CHANCE = 0.08
RECERT_DAY = 57
DRAFT_SECTIONS = 4
# A timed test in seconds (an item whose unit is UCUM "s"), from the best time to the worst the
# demo draws: older adults who walk well take about 8 to 12 s on the Timed Up and Go (Bohannon
# RW, Reference values for the timed up and go test: a descriptive meta-analysis, J Geriatr Phys
# Ther 2006;29(2):64-68: 9.2 s at 70 to 79, 11.3 s at 80 to 99); frail people take 20 s and
# more (Podsiadlo and Richardson 1991). A patient at level 0.2 takes about 9 to 16 s.
TIMED_SECONDS = (8.0, 30.0)


def answers_at(
    questionnaire: dict[str, Any],
    level: float,
    rng: random.Random,
    measured: dict[str, float] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """One answer per item, near `level` on each item's scale (0 the best answer, 1 the worst).
    A measurement the scenario knows (its vital signs, by LOINC code) is answered with it. An
    item that raises an urgent alert (PHQ-9's item 9) gets its first, calm answer: the demo
    does not put every patient at risk of self-harm."""
    found: dict[str, list[dict[str, Any]]] = {}
    instrument = engine.load(questionnaire)
    calm = {alert.item for alert in instrument.alerts}
    known = measured or {}
    url = questionnaire.get("url", "")
    if url not in _WORST_FIRST:
        _WORST_FIRST[url] = _worst_first(questionnaire, instrument)
    worst_first = _WORST_FIRST[url]

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            codes = [c.get("code") for c in item.get("code", [])]
            reading = next((known[c] for c in codes if c in known), None)
            if reading is not None:
                key = "valueInteger" if item.get("type") == "integer" else "valueDecimal"
                value: dict[str, Any] | None = {key: type_of(item)(reading)}
            elif item["linkId"] in calm:
                value = _value(item, 0.0, random.Random(0), worst_first)
            else:
                value = _value(item, level, rng, worst_first)
            if value is not None:
                found[item["linkId"]] = [value]
            walk(item.get("item", []))

    walk(questionnaire.get("item", []))
    return found


_WORST_FIRST: dict[str, bool] = {}


def _worst_first(questionnaire: dict[str, Any], instrument: engine.Instrument) -> bool:
    """Whether the instrument lists its worst answers first (Braden: 1 is the worst), told by
    the engine: every first answer raises a flag and every last one does not."""

    def flags(pick: int) -> list[str]:
        items = []
        for item in _choice_items(questionnaire.get("item", [])):
            value = {k: v for k, v in item["answerOption"][pick].items() if k.startswith("value")}
            items.append({"linkId": item["linkId"], "answer": [value]})
        return engine.score(instrument, {"item": items}).flags

    return bool(flags(0)) and not flags(-1)


def _choice_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        if item.get("answerOption"):
            found.append(item)
        found += _choice_items(item.get("item", []))
    return found


def _value(
    item: dict[str, Any], level: float, rng: random.Random, worst_first: bool = False
) -> dict[str, Any] | None:
    kind = item.get("type")
    options = (
        list(reversed(item.get("answerOption") or []))
        if worst_first
        else item.get("answerOption") or []
    )
    jitter = min(1.0, max(0.0, level + rng.uniform(-0.15, 0.15)))
    if options:
        # A finding (a hazard, a social need) is a real thing found in a home: most demo homes
        # have few, so an answer that raises one is picked only now and then.
        calm = [o for o in options if not _finds(o)]
        if calm and len(calm) < len(options) and rng.random() > FINDING_CHANCE:
            options = calm
        chosen = options[round(jitter * (len(options) - 1))]
        return {k: v for k, v in chosen.items() if k.startswith("value")}
    if kind == "boolean":
        return {"valueBoolean": jitter > 0.5}
    if kind == "decimal" and _unit_code(item) == "s":
        fastest, slowest = TIMED_SECONDS
        return {"valueDecimal": round(fastest + (slowest - fastest) * jitter, 1)}
    if kind in ("integer", "decimal"):
        low, high = _bound(item, "minValue", 0.0), _bound(item, "maxValue", 10.0)
        number = low + (high - low) * jitter * 0.5
        return (
            {"valueInteger": round(number)}
            if kind == "integer"
            else {"valueDecimal": round(number, 1)}
        )
    if kind == "date":
        return {"valueDate": (date.today() - timedelta(days=3)).isoformat()}
    if kind in ("string", "text"):
        return {"valueString": "Discussed with the patient and family at the visit."}
    return None


def _unit_code(item: dict[str, Any]) -> str:
    unit = questionnaires.extension_value(item, questionnaires.UNIT)
    return str(unit.get("code", "")) if isinstance(unit, dict) else ""


def _finds(option: dict[str, Any]) -> bool:
    coding = option.get("valueCoding") or {}
    extensions = [*(option.get("extension") or []), *(coding.get("extension") or [])]
    return any(e.get("url") == engine.FINDING for e in extensions)


def type_of(item: dict[str, Any]) -> Any:
    return int if item.get("type") == "integer" else float


def _bound(item: dict[str, Any], name: str, default: float) -> float:
    for ext in item.get("extension", []) or []:
        if ext.get("url", "").endswith("/" + name):
            for key, value in ext.items():
                if key.startswith("value") and isinstance(value, int | float):
                    return float(value)
    return default


def add_assessments(
    actor: audit.Actor,
    patient: Patient,
    episode: EpisodeOfCare,
    start_of_care: date,
    today: date,
    zone: str,
    rng: random.Random,
    measured: dict[str, float],
    leave_draft: bool = False,
) -> None:
    days_in_care = (today - start_of_care).days
    if days_in_care < 2:
        return  # admitted a day ago: the start-of-care assessment shows as due
    visits = [("start-of-care", start_of_care + timedelta(days=1))]
    if days_in_care >= RECERT_DAY:
        visits.append(("recertification", start_of_care + timedelta(days=RECERT_DAY)))
    for number, (time_point, day) in enumerate(visits):
        level = max(0.0, STARTING_LEVEL - EASING_PER_ASSESSMENT * number)
        _signed(actor, patient, episode, time_point, day, level, zone, rng, measured)
    if leave_draft:
        draft = services.start_assessment(actor, patient, "follow-up", today, episode)
        sections = template.comprehensive().sections_for("follow-up")[:DRAFT_SECTIONS]
        level = max(0.0, STARTING_LEVEL - EASING_PER_ASSESSMENT * len(visits))
        for section in sections:
            _save(actor, draft, section, level, rng, measured)


def _signed(
    actor: audit.Actor,
    patient: Patient,
    episode: EpisodeOfCare,
    time_point: str,
    day: date,
    level: float,
    zone: str,
    rng: random.Random,
    measured: dict[str, float],
) -> None:
    assessment = services.start_assessment(actor, patient, time_point, day, episode)
    for section in template.comprehensive().sections_for(time_point):
        _save(actor, assessment, section, level, rng, measured)
    assessment.refresh_from_db()
    signed_at = datetime.combine(day, time(11, 30), tzinfo=ZoneInfo(zone))
    services.sign_assessment(actor, assessment, assessment.version, signed_at=signed_at)


def _save(
    actor: audit.Actor,
    assessment: Any,
    section: Any,
    level: float,
    rng: random.Random,
    measured: dict[str, float],
) -> None:
    parts = []
    for part in section.parts:
        questionnaire = catalog.shipped_by_id(part.questionnaire)
        answers = answers_at(questionnaire, level, rng, measured)
        # What the chart holds (LACE's stay, conditions, ED visits) is taken as the page offers it.
        found = queries.from_record(assessment.patient, questionnaire["url"], assessment.visit_date)
        if found is not None:
            answers |= found.answers
        parts.append(SectionAnswers(questionnaire["url"], answers, 0))
    services.save_section(actor, assessment, section.key, parts)

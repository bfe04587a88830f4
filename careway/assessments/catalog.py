"""The instruments one agency uses: the shipped Questionnaires, the ones its admins uploaded, and
its own band edges. Everything that scores for an agency asks here, so a page, a signature and
an import score alike."""

from dataclasses import dataclass
from typing import Any

from . import engine, instruments
from .models import BandSetting, Instrument


@dataclass(frozen=True)
class Entry:
    questionnaire: dict[str, Any]
    instrument: engine.Instrument
    shipped: bool

    @property
    def url(self) -> str:
        return str(self.questionnaire.get("url", ""))

    @property
    def version(self) -> str:
        return str(self.questionnaire.get("version", ""))

    @property
    def title(self) -> str:
        return self.instrument.title or self.url


def shipped_by_id(questionnaire_id: str) -> dict[str, Any]:
    return instruments.shipped()[questionnaire_id]


def shipped_by_url() -> dict[str, dict[str, Any]]:
    return {q["url"]: q for q in instruments.shipped().values()}


def entry(organization_id: int, url: str) -> Entry | None:
    """The instrument at `url` as this agency scores it; None when the agency has no such one."""
    questionnaire = shipped_by_url().get(url)
    shipped = questionnaire is not None
    if questionnaire is None:
        upload = (
            Instrument.objects.filter(organization_id=organization_id, url=url, active=True)
            .order_by("-uploaded_at")
            .first()
        )
        if upload is None:
            return None
        questionnaire = upload.resource
    return Entry(questionnaire, scored_instrument(organization_id, questionnaire), shipped)


def scored_instrument(organization_id: int, questionnaire: dict[str, Any]) -> engine.Instrument:
    instrument = engine.load(questionnaire)
    for setting in BandSetting.objects.filter(
        organization_id=organization_id, questionnaire_url=questionnaire.get("url", "")
    ):
        instrument = engine.with_bands(
            instrument, setting.score_key, engine.bands_from_json(setting.bands)
        )
    return instrument


def uploaded(organization_id: int) -> list[Instrument]:
    return list(
        Instrument.objects.filter(organization_id=organization_id, active=True).order_by("title")
    )

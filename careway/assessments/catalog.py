"""The instruments one agency uses: the shipped Questionnaires, the ones its admins uploaded, and
its own band edges. Everything that scores for an agency asks here, so a page, a signature and
an import score alike."""

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
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


@cache
def shipped_by_url() -> dict[str, dict[str, Any]]:
    return {q["url"]: q for q in instruments.shipped().values()}


def entry(organization_id: int, url: str) -> Entry | None:
    """The instrument at `url` as this agency scores it; None when the agency has no such one."""
    return entries(organization_id, [url]).get(url)


def entries(organization_id: int, urls: Iterable[str]) -> dict[str, Entry]:
    """Several instruments as this agency scores them, in two queries however many (a page of
    trends, a signed assessment's answers): its uploads and its band edges."""
    wanted = set(urls)
    found: dict[str, tuple[dict[str, Any], bool]] = {
        url: (shipped_by_url()[url], True) for url in wanted if url in shipped_by_url()
    }
    others = wanted - set(found)
    if others:
        uploads = Instrument.objects.filter(
            organization_id=organization_id, url__in=others, active=True
        ).order_by("uploaded_at")
        for upload in uploads:  # the latest upload of a url wins
            found[upload.url] = (upload.resource, False)
    settings: dict[str, list[BandSetting]] = {}
    for setting in BandSetting.objects.filter(
        organization_id=organization_id, questionnaire_url__in=list(found)
    ):
        settings.setdefault(setting.questionnaire_url, []).append(setting)
    return {
        url: Entry(q, _with_settings(q, settings.get(url, []), shipped), shipped)
        for url, (q, shipped) in found.items()
    }


def scored_instrument(organization_id: int, questionnaire: dict[str, Any]) -> engine.Instrument:
    settings = BandSetting.objects.filter(
        organization_id=organization_id, questionnaire_url=questionnaire.get("url", "")
    )
    return _with_settings(questionnaire, list(settings), False)


def _with_settings(
    questionnaire: dict[str, Any], settings: list[BandSetting], shipped: bool
) -> engine.Instrument:
    # A shipped instrument is parsed once per process; an upload each time it is asked for.
    if shipped:
        instrument = instruments.instrument(str(questionnaire["id"]))
    else:
        instrument = engine.load(questionnaire)
    for setting in settings:
        instrument = engine.with_bands(
            instrument, setting.score_key, engine.bands_from_json(setting.bands)
        )
    return instrument


def uploaded(organization_id: int) -> list[Instrument]:
    return list(
        Instrument.objects.filter(organization_id=organization_id, active=True).order_by("title")
    )

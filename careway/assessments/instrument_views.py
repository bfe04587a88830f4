"""An agency's instruments: what ships, what its admins uploaded (a FHIR Questionnaire written
elsewhere), and its own band edges where sources differ (the Morse Fall Scale)."""

import json
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from careway.core import audit
from careway.core.models import Organization, User
from careway.core.permissions import require

from . import catalog, engine, instruments, services
from .models import BandSetting
from .permissions import INSTRUMENTS_MANAGE

MAX_UPLOAD_BYTES = 2 * 1024 * 1024


def _manager(request: HttpRequest) -> Organization:
    """The agency of someone who manages its instruments; 404 for anyone else."""
    user = cast(User, request.user)
    require(user, INSTRUMENTS_MANAGE)
    if user.organization is None:
        raise Http404("Not found")
    return user.organization


@login_required
@require_http_methods(["GET", "POST"])
def instrument_list(request: HttpRequest) -> HttpResponse:
    organization = _manager(request)
    error = ""
    if request.method == "POST":
        try:
            questionnaire = _uploaded_json(request)
            upload = services.upload_instrument(
                audit.Actor.from_request(request), organization, questionnaire
            )
        except ValidationError as problem:
            error = "; ".join(m for ms in problem.message_dict.values() for m in ms)
        else:
            note = (
                "" if upload.scorable else f" It renders but is not scored: {upload.why_not_scored}"
            )
            messages.success(request, f"{upload.title} added.{note}")
            return redirect("instrument_list")
    shipped = sorted(
        (
            catalog.Entry(q, instruments.instrument(qid), shipped=True)
            for qid, q in instruments.shipped().items()
        ),
        key=lambda entry: entry.title.casefold(),
    )
    context = {
        "shipped": shipped,
        "uploaded": catalog.uploaded(organization.pk),
        "settings": {
            (s.questionnaire_url, s.score_key): s
            for s in BandSetting.objects.filter(organization=organization)
        },
        "error": error,
        "title": "Instruments",
    }
    return render(
        request, "assessments/instrument_list.html", context, status=422 if error else 200
    )


def _uploaded_json(request: HttpRequest) -> Any:
    upload = request.FILES.get("questionnaire")
    raw = request.POST.get("questionnaire_json", "").strip()
    if upload is not None:
        if (upload.size or 0) > MAX_UPLOAD_BYTES:
            raise ValidationError(
                {"questionnaire": "File: larger than 2 MB; is it a Questionnaire?"}
            )
        raw = upload.read().decode("utf-8", errors="replace")
    if not raw:
        raise ValidationError(
            {"questionnaire": "Questionnaire file: choose a file to upload, or paste its text."}
        )
    try:
        return json.loads(raw)
    except RecursionError as error:
        raise ValidationError(
            {"questionnaire": "Questionnaire: nested too deeply to be a Questionnaire"}
        ) from error
    except json.JSONDecodeError as error:
        raise ValidationError(
            {"questionnaire": f"Questionnaire: not valid JSON (line {error.lineno}: {error.msg})"}
        ) from error


@login_required
@require_http_methods(["GET", "POST"])
def instrument_bands(request: HttpRequest, questionnaire_id: str, score_key: str) -> HttpResponse:
    """Change the band edges of one score of a shipped instrument, for this agency."""
    organization = _manager(request)
    questionnaire = instruments.shipped().get(questionnaire_id)
    if questionnaire is None:
        raise Http404("No such instrument")
    published = engine.load(questionnaire)
    rule = next((r for r in published.scores if r.key == score_key), None)
    if rule is None or not rule.bands or rule.bands_fixed:
        raise Http404("No such score, or its bands are fixed by the instrument's terms")
    current = catalog.scored_instrument(organization.pk, questionnaire)
    bands = next(r for r in current.scores if r.key == score_key).bands
    rows = [_row(band) for band in bands]
    error = ""
    if request.method == "POST":
        edges = [
            {**engine.bands_to_json([band])[0], "min": request.POST.get(f"min-{i}", ""),
             "max": request.POST.get(f"max-{i}", "")}
            for i, band in enumerate(bands)
        ]  # fmt: skip
        try:
            services.set_bands(
                audit.Actor.from_request(request),
                organization,
                questionnaire["url"],
                score_key,
                [_numbers(edge, index) for index, edge in enumerate(edges)],
            )
        except ValidationError as problem:
            error = "; ".join(m for ms in problem.message_dict.values() for m in ms)
            rows = [
                {**row, "low": edge["min"], "high": edge["max"]}
                for row, edge in zip(rows, edges, strict=True)
            ]
        else:
            messages.success(request, f"{published.title}: band edges saved.")
            return redirect("instrument_list")
    context = {
        "instrument": published,
        "rule": rule,
        "rows": rows,
        "published": [_row(band) for band in rule.bands],
        "error": error,
        "title": f"Band edges: {published.title}",
    }
    return render(
        request, "assessments/instrument_bands.html", context, status=422 if error else 200
    )


def _numbers(edge: dict[str, Any], index: int) -> dict[str, Any]:
    out = dict(edge)
    for end in ("min", "max"):
        try:
            out[end] = float(edge[end])
        except (TypeError, ValueError) as error:
            raise ValidationError(
                {"bands": f"Band {index + 1} ({edge.get('label')}): {end} must be a number"}
            ) from error
    return out


def _row(band: engine.Band) -> dict[str, Any]:
    return {"low": f"{band.low:g}", "high": f"{band.high:g}", "label": band.label,
            "meaning": band.meaning}  # fmt: skip

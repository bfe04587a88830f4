"""Score trends that say the right things (issue 16, point 5): a timed test is charted in its
own unit, and a chart's time axis fits its scores instead of the two years looked in."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from careway.assessments import catalog, engine, queries, services
from tests.assessments.test_services import actor

pytestmark = pytest.mark.django_db

TUG = catalog.shipped_by_id("tug")
PHQ2 = catalog.shipped_by_id("phq-2")


def tug(world, seconds, when):
    items = [{"linkId": "seconds", "answer": [{"valueDecimal": seconds}]}]
    services.record_response(actor(world.cm), world.patient, TUG["url"], items, when)


def trend_of(world, title_start):
    trends = queries.trends(world.patient, timezone.now())
    return next(t for t in trends if t.title.startswith(title_start))


def x_ticks(svg):
    return re.findall(r'class="tick x-tick"[^>]*>([^<]+)<', svg)


def test_the_timed_up_and_go_score_is_counted_in_seconds():
    rule = engine.load(TUG).scores[0]
    assert rule.unit == "seconds"
    assert engine.load(PHQ2).scores[0].unit == "points"


def test_a_timed_test_is_charted_and_captioned_in_seconds(login, world):
    tug(world, 14.5, timezone.now() - timedelta(days=10))
    trend = trend_of(world, "Timed Up and Go")
    assert ">seconds</text>" in trend.svg and ">points</text>" not in trend.svg
    assert "Latest 14.5 seconds" in trend.description
    url = reverse("chart_section", args=[world.patient.pk, "assessments"])
    html = login(world.cm).get(url).content.decode()
    assert re.search(r'big-number">14.5</strong> seconds', html)


def test_one_score_is_charted_in_a_short_window_around_it(world):
    when = timezone.now() - timedelta(days=40)
    tug(world, 11, when)
    ticks = x_ticks(trend_of(world, "Timed Up and Go").svg)
    local = timezone.localtime(when)
    first, last = local - timedelta(days=7), local + timedelta(days=7)
    assert ticks[0] == f"{first:%b} {first.day}" and ticks[-1] == f"{last:%b} {last.day}"


def test_scores_months_apart_are_charted_from_the_first_to_the_last(world):
    earliest = timezone.now() - timedelta(days=200)
    tug(world, 16, earliest)
    tug(world, 12, earliest + timedelta(days=180))
    ticks = x_ticks(trend_of(world, "Timed Up and Go").svg)
    first = timezone.localtime(earliest - timedelta(days=9))  # a twentieth of 180 days before
    assert ticks[0] == f"{first:%b} {first.day}"
    assert not any(re.fullmatch(r"[A-Z][a-z]{2} \d{4}", t) for t in ticks)  # not a 2-year span

"""The SVG trend chart: a pure function, so its geometry is tested directly."""

import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from careway.toolkit import trend_charts
from careway.toolkit.trend_charts import Band, Point, Series, trend_chart_svg

START = datetime(2026, 9, 1, tzinfo=UTC)
END = START + timedelta(days=90)
NS = {"svg": "http://www.w3.org/2000/svg"}


def render(series, bands=(), **kwargs):
    svg = trend_chart_svg(
        series,
        title=kwargs.pop("title", "Heart rate, last 90 days"),
        description=kwargs.pop("description", "3 readings"),
        unit="beats/min",
        start=START,
        end=END,
        bands=bands,
        **kwargs,
    )
    return svg, ElementTree.fromstring(svg)  # noqa: S314 (our own output, not untrusted)


def circles(root):
    return [
        (float(c.get("cx")), float(c.get("cy")))
        for c in root.iter("{http://www.w3.org/2000/svg}circle")
        if "point" in c.get("class", "")
    ]


def test_points_are_placed_by_time_and_value():
    points = [Point(START, 60), Point(START + timedelta(days=45), 80), Point(END, 100)]
    _, root = render([Series("Pulse", points)])
    low, high, _ = trend_charts.value_domain([Series("Pulse", points)], [])
    placed = circles(root)
    assert [x for x, _ in placed] == [
        trend_charts.PLOT_LEFT,
        pytest.approx((trend_charts.PLOT_LEFT + trend_charts.PLOT_RIGHT) / 2, abs=0.1),
        trend_charts.PLOT_RIGHT,
    ]
    # Higher values are drawn higher up (smaller y), in proportion.
    ys = [y for _, y in placed]
    assert ys[0] > ys[1] > ys[2]
    expected_middle = trend_charts.PLOT_BOTTOM - (80 - low) / (high - low) * (
        trend_charts.PLOT_BOTTOM - trend_charts.PLOT_TOP
    )
    assert ys[1] == pytest.approx(expected_middle, abs=0.1)


def test_the_value_axis_covers_every_reading_and_the_usual_range():
    series = [Series("Pulse", [Point(START, 130)])]
    low, high, step = trend_charts.value_domain(series, [Band(60, 100, "usual")])
    assert low <= 60 and high >= 130
    assert step in (5, 10, 20)


def test_axis_labels_show_dates_values_and_unit():
    svg, root = render([Series("Pulse", [Point(START + timedelta(days=3), 72)])])
    x_labels = [
        t.text
        for t in root.iter("{http://www.w3.org/2000/svg}text")
        if "x-tick" in t.get("class", "")
    ]
    assert x_labels[0] == "Sep 1" and x_labels[-1] == "Nov 30"
    assert len(x_labels) == 5
    y_labels = [
        t.text
        for t in root.iter("{http://www.w3.org/2000/svg}text")
        if "y-tick" in t.get("class", "")
    ]
    assert all(re.fullmatch(r"-?\d+(\.\d)?", label) for label in y_labels)
    assert ">beats/min</text>" in svg


def test_is_an_accessible_image_with_title_and_description():
    _, root = render([Series("Pulse", [Point(START, 72)])], title="Pulse & <more>")
    assert root.get("role") == "img"
    title = root.find("svg:title", NS)
    desc = root.find("svg:desc", NS)
    assert title.text == "Pulse & <more>"  # escaped in the markup, intact once parsed
    assert desc.text == "3 readings"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


def test_empty_data_says_so_and_draws_no_points():
    svg, root = render([Series("Pulse", [])])
    assert "No readings in this period" in svg
    assert circles(root) == []
    assert root.get("role") == "img"


def test_a_single_point_is_drawn_without_a_line():
    svg, root = render([Series("Pulse", [Point(START + timedelta(days=30), 75)])])
    assert len(circles(root)) == 1
    assert "<polyline" not in svg
    ((x, y),) = circles(root)
    assert trend_charts.PLOT_LEFT < x < trend_charts.PLOT_RIGHT
    assert trend_charts.PLOT_TOP <= y <= trend_charts.PLOT_BOTTOM


def test_a_single_value_gets_a_range_around_it():
    low, high, _ = trend_charts.value_domain([Series("Weight", [Point(START, 150)])], [])
    assert low < 150 < high


def test_usual_range_is_shaded_between_its_limits():
    _, root = render([Series("Pulse", [Point(START, 72)])], bands=[Band(60, 100, "usual")])
    rect = next(
        r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "normal-range"
    )
    low, high, _ = trend_charts.value_domain(
        [Series("Pulse", [Point(START, 72)])], [Band(60, 100, "u")]
    )
    top = trend_charts.y_position(100, (low, high))
    bottom = trend_charts.y_position(60, (low, high))
    assert float(rect.get("y")) == pytest.approx(top, abs=0.1)
    assert float(rect.get("height")) == pytest.approx(bottom - top, abs=0.1)


def test_out_of_range_readings_differ_by_shape_and_say_so():
    _, root = render([Series("Pulse", [Point(START, 72), Point(END, 130, out_of_range=True)])])
    assert len(circles(root)) == 1
    marked = [
        p
        for p in root.iter("{http://www.w3.org/2000/svg}path")
        if "out-of-range" in p.get("class", "")
    ]
    assert len(marked) == 1
    assert "outside the usual range" in marked[0].find("svg:title", NS).text


def test_two_series_get_a_legend_and_different_markers():
    series = [
        Series("Systolic", [Point(START, 130), Point(END, 120)]),
        Series("Diastolic", [Point(START, 80), Point(END, 75)]),
    ]
    svg, root = render(series)
    assert ">Systolic</text>" in svg and ">Diastolic</text>" in svg
    squares = [
        r for r in root.iter("{http://www.w3.org/2000/svg}rect") if "point" in r.get("class", "")
    ]
    assert len(squares) >= 2
    assert 'stroke-dasharray="6 4"' in svg


def test_text_from_data_is_escaped():
    svg, _ = render([Series("<script>", [Point(START, 1)])], title="a</title><script>")
    assert "<script>" not in svg


def _ticks(root, kind):
    return [
        t.text
        for t in root.iter("{http://www.w3.org/2000/svg}text")
        if f"{kind}-tick" in t.get("class", "")
    ]


def test_a_score_axis_runs_over_the_instruments_whole_range():
    """Braden runs 6 to 23: the axis shows all of it, not just the readings and bands."""
    _, root = render([Series("Braden", [Point(START, 17)])], [Band(6, 18, "risk")], scale=(6, 23))
    values = [float(v) for v in _ticks(root, "y")]
    assert values[0] <= 6 and 23 <= values[-1] < 30


def test_a_band_without_a_real_end_is_cut_to_the_readings():
    """Timed Up and Go: 'higher risk at 12 seconds or more' must not stretch the axis to 4000."""
    series = [Series("TUG", [Point(START, 14.5), Point(END, 10)])]
    _, root = render(series, [Band(12, 4000, "risk")])
    values = [float(v) for v in _ticks(root, "y")]
    assert values[-1] < 40
    rect = next(
        r for r in root.iter("{http://www.w3.org/2000/svg}rect") if "range" in r.get("class")
    )
    assert float(rect.get("y")) >= trend_charts.PLOT_TOP - 0.1


def test_a_span_of_more_than_a_year_names_the_years():
    start = datetime(2024, 12, 4, tzinfo=UTC)
    svg = trend_chart_svg(
        [Series("PHQ-9", [Point(start + timedelta(days=400), 5)])],
        title="t",
        description="d",
        unit="points",
        start=start,
        end=start + timedelta(days=730),
    )
    labels = _ticks(ElementTree.fromstring(svg), "x")  # noqa: S314
    assert labels == ["Dec 2024", "Dec 2025", "Dec 2026"]


def test_all_zero_scores_get_a_plain_axis_from_zero():
    _, root = render([Series("Hazards", [Point(START, 0)])], scale=(0, 10))
    values = [float(v) for v in _ticks(root, "y")]
    assert values[0] == 0 and values[-1] == 10 and all(v == int(v) for v in values)


def test_a_measure_with_a_floor_but_no_ceiling_starts_at_its_floor():
    series = [Series("TUG", [Point(START, 14.5)])]
    _, root = render(series, [Band(12, 4000, "risk")], scale=(0, None))
    values = [float(v) for v in _ticks(root, "y")]
    assert values[0] == 0 and 14.5 <= values[-1] < 40


# --- the time axis fits the readings (issue 16) ----------------------------------------------


def test_one_reading_gets_a_fortnight_around_it():
    at = START + timedelta(days=30)
    start, end = trend_charts.fitted_window([Series("Pulse", [Point(at, 72)])], latest=END)
    assert (start, end) == (at - timedelta(days=7), at + timedelta(days=7))


def test_a_window_never_runs_past_now():
    at = END - timedelta(days=2)
    start, end = trend_charts.fitted_window([Series("Pulse", [Point(at, 72)])], latest=END)
    assert end == END and end - start == trend_charts.MIN_WINDOW


def test_readings_far_apart_span_from_the_first_to_the_last_with_a_margin():
    points = [Point(START, 60), Point(START + timedelta(days=100), 80)]
    start, end = trend_charts.fitted_window(
        [Series("Pulse", points)], latest=END + timedelta(days=30)
    )
    assert start == START - timedelta(days=5) and end == START + timedelta(days=105)


def test_no_readings_leave_a_fortnight_before_now():
    assert trend_charts.fitted_window([Series("Pulse", [])], latest=END) == (
        END - trend_charts.MIN_WINDOW,
        END,
    )


def test_a_score_scale_fixes_the_value_axis_for_one_reading():
    low, high, _ = trend_charts.value_domain([Series("Pain", [Point(START, 1)])], [], (0, 10))
    assert (low, high) == (0, 10)

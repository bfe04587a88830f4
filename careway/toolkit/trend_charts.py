"""Server-rendered SVG trend charts: a pure function from points to an SVG string.

No JavaScript and no database: the caller passes the series, the time window and the usual range,
and gets markup that prints, scales with its container and is announced to screen readers as one
image with a title and a description. The same data goes in a table beside it for anyone who
cannot see the chart.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

WIDTH = 480
HEIGHT = 260
MARGIN_LEFT = 48
MARGIN_RIGHT = 16
MARGIN_TOP = 36
MARGIN_BOTTOM = 40
PLOT_LEFT = MARGIN_LEFT
PLOT_RIGHT = WIDTH - MARGIN_RIGHT
PLOT_TOP = MARGIN_TOP
PLOT_BOTTOM = HEIGHT - MARGIN_BOTTOM

# Each series gets a colour and a marker shape, so two series differ without colour too.
SERIES_STYLES = (
    {"colour": "#0b5cad", "dash": "", "marker": "circle"},
    {"colour": "#6a3d9a", "dash": "6 4", "marker": "square"},
)
OUT_OF_RANGE_COLOUR = "#b3261e"
# The narrowest time axis: one reading (or a day's readings) sits in a fortnight around it.
MIN_WINDOW = timedelta(days=14)
# Space beside the first and last reading so their markers clear the plot's edges.
WINDOW_MARGIN = 0.05


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float
    out_of_range: bool = False


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[Point]


@dataclass(frozen=True)
class Band:
    """A shaded range: a usual one (60 to 100 beats a minute), or with `risk` one to stay out
    of (a score's band that raises a flag)."""

    low: float
    high: float
    label: str
    risk: bool = False


def scale(value: float, domain: tuple[float, float], span: tuple[float, float]) -> float:
    """Map `value` from `domain` onto `span` linearly; a zero-width domain maps to the middle."""
    lo, hi = domain
    a, b = span
    if hi == lo:
        return (a + b) / 2
    return a + (value - lo) / (hi - lo) * (b - a)


def nice_step(span: float, target_ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about `target_ticks` ticks."""
    raw = span / max(target_ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def value_domain(
    series: Sequence[Series],
    bands: Sequence[Band],
    scale: tuple[float, float | None] | None = None,
) -> tuple[float, float, float]:
    """The y axis, widened to round ticks: (low, high, step).

    With `scale` (a score's whole range, Braden 6 to 23) the axis shows all of it, and any
    reading outside it; a scale with no upper end (None) fixes the floor only. Otherwise it fits
    every reading and the edges of the bands near them; an edge far beyond the readings ("12
    seconds or more", written as up to 4000) is left out and its band is cut at the axis."""
    readings = [p.value for s in series for p in s.points]
    if scale is not None and scale[1] is not None:
        values = [scale[0], scale[1], *readings]
    else:
        values = list(readings)
        if readings:
            near = max(max(readings) - min(readings), abs(max(readings)), 1.0)
            values += [
                edge
                for band in bands
                for edge in (band.low, band.high)
                if min(readings) - near <= edge <= max(readings) + near
            ]
        else:
            values = [edge for band in bands for edge in (band.low, band.high)] or [0.0]
        if scale is not None:  # a known floor only (a timed test starts at 0 seconds)
            values.append(scale[0])
    low, high = min(values), max(values)
    if low == high:
        pad = max(1.0, abs(low) * 0.1)
        low, high = low - pad, high + pad
    step = nice_step(high - low)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def fitted_window(series: Sequence[Series], latest: datetime) -> tuple[datetime, datetime]:
    """The time axis fitted to the readings, not to the period they were looked up in: from
    the first to the last with a little space beside them. Readings closer together than
    `MIN_WINDOW` (one reading) get that window centred on them, moved back so it does not run
    past `latest` (now): a chart never shows days to come."""
    times = [p.at for s in series for p in s.points]
    if not times:
        return latest - MIN_WINDOW, latest
    first, last = min(times), max(times)
    margin = (last - first) * WINDOW_MARGIN
    start, end = first - margin, last + margin
    if end - start < MIN_WINDOW:
        middle = first + (last - first) / 2
        start, end = middle - MIN_WINDOW / 2, middle + MIN_WINDOW / 2
    if end > latest >= last:
        start, end = start - (end - latest), latest
    return start, end


def x_position(at: datetime, start: datetime, end: datetime) -> float:
    return scale(at.timestamp(), (start.timestamp(), end.timestamp()), (PLOT_LEFT, PLOT_RIGHT))


def y_position(value: float, domain: tuple[float, float]) -> float:
    return scale(value, domain, (PLOT_BOTTOM, PLOT_TOP))


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _date_label(at: datetime, long_span: bool = False) -> str:
    """ "Sep 1"; over a span of more than a year, "Dec 2026" (two "Dec 4"s would not tell)."""
    return f"{at:%b %Y}" if long_span else f"{at:%b} {at.day}"


def _y_axis(domain: tuple[float, float], step: float, unit: str) -> list[str]:
    parts = []
    count = round((domain[1] - domain[0]) / step)
    for i in range(count + 1):
        value = domain[0] + i * step
        y = y_position(value, domain)
        parts.append(
            f'<line class="grid" x1="{PLOT_LEFT}" x2="{PLOT_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#d5dbe1" stroke-width="1"/>'
            f'<text class="tick y-tick" x="{PLOT_LEFT - 6}" y="{y + 5:.1f}" text-anchor="end" '
            f'font-size="15">{_number(value)}</text>'
        )
    parts.append(
        f'<text class="unit" x="4" y="{PLOT_TOP - 14}" text-anchor="start" '
        f'font-size="15">{escape(unit)}</text>'
    )
    return parts


def _x_axis(start: datetime, end: datetime, ticks: int = 4) -> list[str]:
    parts = [
        f'<line x1="{PLOT_LEFT}" x2="{PLOT_RIGHT}" y1="{PLOT_BOTTOM}" y2="{PLOT_BOTTOM}" '
        'stroke="#4a5563" stroke-width="1"/>'
    ]
    long_span = (end - start).days > 366
    if long_span:  # "Dec 2024" is wider than "Sep 1": fewer labels, so they never touch
        ticks = min(ticks, 2)
    for i in range(ticks + 1):
        at = start + (end - start) * i / ticks
        x = x_position(at, start, end)
        anchor = "start" if i == 0 else "end" if i == ticks else "middle"
        parts.append(
            f'<text class="tick x-tick" x="{x:.1f}" y="{PLOT_BOTTOM + 22}" '
            f'text-anchor="{anchor}" font-size="15">{_date_label(at, long_span)}</text>'
        )
    return parts


def _band(band: Band, domain: tuple[float, float]) -> str:
    """The band shaded, cut at the axis: green for a usual range, amber for a risk band."""
    low, high = max(band.low, domain[0]), min(band.high, domain[1])
    if high < low:
        return ""
    top = y_position(high, domain)
    bottom = y_position(low, domain)
    kind, fill = ("risk-range", "#fff4d6") if band.risk else ("normal-range", "#e6f4ea")
    return (
        f'<rect class="{kind}" x="{PLOT_LEFT}" y="{top:.1f}" '
        f'width="{PLOT_RIGHT - PLOT_LEFT}" height="{bottom - top:.1f}" fill="{fill}">'
        f"<title>{escape(band.label)}</title></rect>"
    )


def _marker(shape: str, x: float, y: float, colour: str, label: str, out_of_range: bool) -> str:
    fill = OUT_OF_RANGE_COLOUR if out_of_range else colour
    css = "point out-of-range" if out_of_range else "point"
    title = f"<title>{escape(label)}</title>"
    if out_of_range:
        # A larger diamond: out-of-range readings stand out by shape, not only by colour.
        d = f"M{x:.1f} {y - 8:.1f}L{x + 8:.1f} {y:.1f}L{x:.1f} {y + 8:.1f}L{x - 8:.1f} {y:.1f}Z"
        return (
            f'<path class="{css}" d="{d}" fill="{fill}" data-x="{x:.1f}" data-y="{y:.1f}">'
            f"{title}</path>"
        )
    if shape == "square":
        return (
            f'<rect class="{css}" x="{x - 4.5:.1f}" y="{y - 4.5:.1f}" width="9" height="9" '
            f'fill="{fill}" data-x="{x:.1f}" data-y="{y:.1f}">{title}</rect>'
        )
    return f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{fill}">{title}</circle>'


def _series(
    index: int,
    series: Series,
    start: datetime,
    end: datetime,
    domain: tuple[float, float],
    unit: str,
) -> list[str]:
    style = SERIES_STYLES[index % len(SERIES_STYLES)]
    points = sorted(series.points, key=lambda p: p.at)
    coords = [(x_position(p.at, start, end), y_position(p.value, domain)) for p in points]
    parts = []
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        dash = f' stroke-dasharray="{style["dash"]}"' if style["dash"] else ""
        parts.append(
            f'<polyline class="line" points="{path}" fill="none" stroke="{style["colour"]}" '
            f'stroke-width="2"{dash}/>'
        )
    for point, (x, y) in zip(points, coords, strict=True):
        label = f"{series.label} {_date_label(point.at)}: {_number(point.value)} {unit}"
        if point.out_of_range:
            label += " (outside the usual range)"
        parts.append(_marker(style["marker"], x, y, style["colour"], label, point.out_of_range))
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    """Right-aligned above the plot, clear of the unit label on the left."""
    parts = []
    x: float = PLOT_RIGHT
    for index, item in reversed(list(enumerate(series))):
        style = SERIES_STYLES[index % len(SERIES_STYLES)]
        parts.append(
            f'<text x="{x}" y="{PLOT_TOP - 14}" text-anchor="end" font-size="15">'
            f"{escape(item.label)}</text>"
        )
        x -= 8.5 * len(item.label) + 6
        parts.append(_marker(style["marker"], x, PLOT_TOP - 19, style["colour"], item.label, False))
        x -= 18
    return parts


def trend_chart_svg(
    series: Sequence[Series],
    *,
    title: str,
    description: str,
    unit: str,
    start: datetime,
    end: datetime,
    bands: Sequence[Band] = (),
    chart_id: str = "chart",
    scale: tuple[float, float | None] | None = None,
) -> str:
    """An SVG line chart of `series` between `start` and `end`, usual ranges shaded."""
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend-chart" viewBox="0 0 {WIDTH} '
        f'{HEIGHT}" role="img" aria-labelledby="{title_id} {desc_id}" '
        'font-family="system-ui, sans-serif">'
        f'<title id="{title_id}">{escape(title)}</title><desc id="{desc_id}">'
        f"{escape(description)}</desc>"
    )
    if not any(s.points for s in series):
        return head + (
            f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" '
            'font-size="16">No readings in this period</text></svg>'
        )
    low, high, step = value_domain(series, bands, scale)
    domain = (low, high)
    parts = [head]
    parts += [_band(band, domain) for band in bands]
    parts += _y_axis(domain, step, unit)
    parts += _x_axis(start, end)
    for index, item in enumerate(series):
        parts += _series(index, item, start, end, domain, unit)
    if len(series) > 1:
        parts += _legend(series)
    parts.append("</svg>")
    return "".join(parts)

"""Run and control charts as inline SVG: no JavaScript, no external assets, readable without colour.

`chart_svg(result, title=..., description=...)` draws a `domain.spc.ChartResult`: the periods on
the x axis, the data line and its points, the centre line and the limits of each part (stepped
point by point for p and u charts), excluded points hollow, signal points red AND marked with a
diamond, part boundaries, and `Marker` spans (e.g. a PDSA cycle's Do-Study span) on the time axis.
A proportion's y axis stays within 0-100 % and is labelled in percentages.
`chart_table(result)` gives the same numbers as rows for a table. Everything the user wrote
(titles, labels, reasons) is XML-escaped. Colours are those of templates/static/app.css.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from domain.spc import RUN, ChartPoint, ChartResult, number_text

PROPORTION = "proportion"  # the value label the callers give a proportion measure's chart

INK = "#1d2433"
MUTED = "#5b6474"
GRID = "#d9dee7"
PAPER = "#ffffff"
DATA = "#1f5f8b"  # --brand
CENTRE = "#1e6b3a"  # --good
LIMIT = "#8a4b00"  # --warn
SIGNAL = "#a3261b"  # --bad
MARKER_FILL = "#e8f0fb"  # --plan
MARKER_EDGE = "#b6cdee"
FONT = 'system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif'
TEXT = 13  # px: axis labels and legend
CHAR = 0.6 * TEXT  # a generous average character width

KIND_NAMES = {
    RUN: "Run chart",
    "i": "I chart (individual values)",
    "mr": "MR chart (moving ranges)",
    "p": "P chart (proportions)",
    "u": "U chart (rates)",
    "c": "C chart (counts)",
}


@dataclass(frozen=True, slots=True)
class Marker:
    """A span on the time axis, e.g. a PDSA cycle from Do to Study; `end` None: a single day."""

    start: date
    end: date | None
    label: str


def _label(x: date | str) -> str:
    return x.isoformat() if isinstance(x, date) else str(x)


PeriodNames = Callable[[date | str], str]
"""Names a point's period as people say it ("March 2025"); the ISO date when none is given."""


def _num(value: float) -> str:
    """A coordinate: two decimals are plenty on screen."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _percent(share: float) -> str:
    """A proportion as a percentage: 0.8 is "80%", 0.7073 is "70.73%"."""
    return f"{number_text(round(share * 100, 2))}%"


def _proportion_range(low: float, high: float) -> tuple[float, float]:
    """The y range of a proportion chart: within [0, 1], and never a single value."""
    low, high = max(low, 0.0), min(high, 1.0)
    if high - low < 1e-9:
        middle = (low + high) / 2
        low, high = max(middle - 0.05, 0.0), min(middle + 0.05, 1.0)
    return low, high


def _text(value: str) -> str:
    return escape(value)


def _attr(value: str) -> str:
    return quoteattr(value)


def nice_ticks(low: float, high: float, count: int = 5, *, whole: bool = False) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high]; with
    `whole`, steps of at least 1 and never 2.5 (for counts)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    multiples = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    step = next(m * power for m in multiples if m * power >= raw)
    if whole:
        step = max(step, 1)
    first = math.floor(low / step + 1e-9) * step
    ticks = []
    k = 0
    while True:
        tick = first + k * step
        ticks.append(round(tick, 12))
        if tick >= high - 1e-9 * step:
            break
        k += 1
    return ticks


def _x_position(when: date, points: Sequence[ChartPoint], xs: list[float]) -> float | None:
    """Where a date falls on an axis of dated points: between its neighbours, by days."""
    dated = [(p.x, x) for p, x in zip(points, xs, strict=True) if isinstance(p.x, date)]
    if not dated:
        return None
    if when <= dated[0][0]:
        return dated[0][1]
    for (d0, x0), (d1, x1) in itertools.pairwise(dated):
        if d0 <= when <= d1:
            return x0 + (x1 - x0) * (when - d0).days / max((d1 - d0).days, 1)
    return dated[-1][1]


def chart_svg(
    result: ChartResult,
    *,
    title: str,
    description: str,
    value_label: str = "",
    markers: Sequence[Marker] = (),
    period_names: PeriodNames | None = None,
    axis_names: PeriodNames | None = None,
    width: int = 760,
    height: int = 320,
) -> str:
    """The chart as one `<svg>` element (role="img", with `<title>` and `<desc>`).

    With `value_label="proportion"` the y axis stays within 0-100 % and reads in percentages;
    a limit beyond it (an I chart of proportions) is cut off at the edge of the plot. Periods
    are named by `period_names` in the points' tooltips and by the shorter `axis_names` under
    the axis (both default to the ISO date)."""
    named = period_names or _label
    axis_name = axis_names or _label
    points = result.points
    values = [p.value for p in points if p.value is not None]
    proportion = value_label == PROPORTION and all(0 <= v <= 1 for v in values)
    lines = [v for p in points for v in (p.centre, p.lower, p.upper) if v is not None]
    low = min(values + lines, default=0.0)
    high = max(values + lines, default=1.0)
    pad = (high - low) * 0.04  # keep the extreme points off the axis and the top edge
    low, high = (max(low - pad, 0.0) if low >= 0 else low - pad), high + pad
    whole = not proportion and bool(values) and all(float(v).is_integer() for v in values)
    if proportion:
        low, high = _proportion_range(low, high)
    ticks = nice_ticks(low, high, 6 if whole else 5, whole=whole)
    if proportion:  # 1, 2, 2.5 and 5 steps divide 1: the ticks end on 0 and 1 at the most
        ticks = [min(max(t, 0.0), 1.0) for t in ticks]
    y_min, y_max = ticks[0], ticks[-1]

    tick_texts = [_percent(t) if proportion else number_text(t) for t in ticks]
    label_room = 22 if value_label else 0
    left = 14 + label_room + max(len(t) for t in tick_texts) * CHAR
    right = 16
    plot_w = max(width - left - right, 10)
    n = len(points)
    dx = plot_w / n if n else plot_w
    xs = [left + dx * (i + 0.5) for i in range(n)]
    marker_rows = _marker_rows(markers, points, xs, width - 4) if n else []
    top = 14 + (len(marker_rows) * (TEXT + 8) if marker_rows else 0)
    bottom = 30 + 26  # x tick labels, then the legend
    plot_h = max(height - top - bottom, 10)

    def y_of(v: float) -> float:
        return top + plot_h - (v - y_min) / (y_max - y_min) * plot_h

    ident = f"chart-{zlib.crc32(f'{title}|{result.kind}|{n}'.encode()):08x}"
    clip = ""  # lines beyond a bounded axis stop at the plot's edge
    if proportion:
        clip = f' clip-path="url(#{ident}-plot)"'
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{ident}-title {ident}-desc" '
        f'font-family={_attr(FONT)} font-size="{TEXT}">',
        f'<title id="{ident}-title">{_text(title)}</title>',
        f'<desc id="{ident}-desc">{_text(description)}</desc>',
        f'<rect class="background" x="0" y="0" width="{width}" height="{height}" '
        f'fill="{PAPER}"/>',
    ]
    if clip:
        out.append(
            f'<defs><clipPath id="{ident}-plot"><rect x="{_num(left)}" y="{_num(top - 2)}" '
            f'width="{_num(plot_w)}" height="{_num(plot_h + 4)}"/></clipPath></defs>'
        )

    # Marker spans first, under everything else.
    if markers and n:
        out.append('<g class="markers">')
        for row, row_markers in enumerate(marker_rows):
            label_y = 12 + row * (TEXT + 8) + TEXT * 0.8
            for marker, x0, x1, text_x, text in row_markers:
                out.append(
                    f'<g class="marker"><title>{_text(_marker_words(marker))}</title>'
                    f'<rect x="{_num(x0)}" y="{_num(top)}" width="{_num(x1 - x0)}" '
                    f'height="{_num(plot_h)}" fill="{MARKER_FILL}" stroke="{MARKER_EDGE}"/>'
                    f'<text x="{_num(text_x)}" y="{_num(label_y)}" fill="{INK}">'
                    f"{_text(text)}</text></g>"
                )
        out.append("</g>")

    # Grid and y axis.
    out.append(f'<g class="y-axis" fill="{MUTED}">')
    for tick, text in zip(ticks, tick_texts, strict=True):
        y = y_of(tick)
        out.append(
            f'<line x1="{_num(left)}" x2="{_num(left + plot_w)}" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="{GRID}"/>'
            f'<text x="{_num(left - 6)}" y="{_num(y + TEXT * 0.35)}" text-anchor="end">'
            f"{_text(text)}</text>"
        )
    if value_label:
        cy = top + plot_h / 2
        out.append(
            f'<text class="value-label" x="{TEXT + 2}" y="{_num(cy)}" text-anchor="middle" '
            f'transform="rotate(-90 {TEXT + 2} {_num(cy)})" fill="{INK}">'
            f"{_text(value_label)}</text>"
        )
    out.append("</g>")

    # x axis: as many period labels as fit without touching.
    out.append(f'<g class="x-axis" fill="{MUTED}">')
    out.append(
        f'<line x1="{_num(left)}" x2="{_num(left + plot_w)}" y1="{_num(top + plot_h)}" '
        f'y2="{_num(top + plot_h)}" stroke="{MUTED}"/>'
    )
    if n:
        longest = max(len(axis_name(p.x)) for p in points)
        step = max(1, math.ceil((longest * CHAR + 12) / dx))
        for i in range(0, n, step):
            text = axis_name(points[i].x)
            half = len(text) * CHAR / 2
            x = min(max(xs[i], half + 2), width - half - 2)  # not cut off at either edge
            out.append(
                f'<text x="{_num(x)}" y="{_num(top + plot_h + TEXT + 6)}" '
                f'text-anchor="middle">{_text(text)}</text>'
            )
    out.append("</g>")

    # Part boundaries.
    starts = [s.first for s in result.parts[1:]]
    if starts:
        out.append('<g class="parts">')
        for first in starts:
            x = left + dx * first
            out.append(
                f'<line class="part-boundary" x1="{_num(x)}" x2="{_num(x)}" y1="{_num(top)}" '
                f'y2="{_num(top + plot_h)}" stroke="{MUTED}" stroke-width="1.5" '
                f'stroke-dasharray="2 3"/>'
            )
        out.append("</g>")

    # Centre line and limits, part by part, stepped point by point.
    for part in result.parts:
        span = points[part.first : part.last + 1]
        for name, colour, dash, attr in (
            ("centre", CENTRE, "", "centre"),
            ("lower-limit", LIMIT, ' stroke-dasharray="6 4"', "lower"),
            ("upper-limit", LIMIT, ' stroke-dasharray="6 4"', "upper"),
        ):
            path = _step_path(span, attr, xs, dx, y_of)
            if path:
                out.append(
                    f'<path class="{name}" data-part="{part.part}" d="{path}" fill="none" '
                    f'stroke="{colour}" stroke-width="{2 if attr == "centre" else 1.5}"{dash}'
                    f"{clip}/>"
                )

    # The data line, broken at missing values and part boundaries.
    segments: list[list[str]] = []
    previous: ChartPoint | None = None
    for p, x in zip(points, xs, strict=True):
        if p.value is None:
            previous = None
            continue
        if previous is None or previous.part != p.part:
            segments.append([])
        segments[-1].append(f"{_num(x)},{_num(y_of(p.value))}")
        previous = p
    for segment in segments:
        if len(segment) > 1:
            out.append(
                f'<polyline class="data-line" points="{" ".join(segment)}" fill="none" '
                f'stroke="{DATA}" stroke-width="1.5"/>'
            )

    # Points: filled, hollow when excluded; a signal adds red and a diamond around the point.
    radius = 3.5 if dx >= 6 else 2.5 if dx >= 3 else 1.8
    out.append('<g class="points">')
    for p, x in zip(points, xs, strict=True):
        if p.value is None:
            continue
        y = y_of(p.value)
        words = f"{named(p.x)}: {_percent(p.value) if proportion else number_text(p.value)}"
        classes = ["point"]
        if p.excluded:
            classes.append("excluded")
            words += f" (excluded: {p.reason})" if p.reason else " (excluded)"
        if p.signal_kinds:
            classes.append("signal")
            words += " — signal: " + ", ".join(k.replace("_", " ") for k in p.signal_kinds)
            d = radius + 3.5
            out.append(
                f'<polygon class="signal-mark" points="{_num(x)},{_num(y - d)} '
                f'{_num(x + d)},{_num(y)} {_num(x)},{_num(y + d)} {_num(x - d)},{_num(y)}" '
                f'fill="none" stroke="{SIGNAL}" stroke-width="1.5"/>'
            )
        colour = SIGNAL if p.signal_kinds else DATA
        fill = PAPER if p.excluded else colour
        out.append(
            f'<circle class="{" ".join(classes)}" data-index="{p.index}" cx="{_num(x)}" '
            f'cy="{_num(y)}" r="{radius}" fill="{fill}" stroke="{colour}" stroke-width="1.5">'
            f"<title>{_text(words)}</title></circle>"
        )
    out.append("</g>")

    out.append(_legend(result, left, height - 10))
    out.append("</svg>")
    return "".join(out)


def _step_path(
    span: Sequence[ChartPoint], attr: str, xs: list[float], dx: float, y_of: Any
) -> str:
    """A horizontal step per point (consecutive equal values join into one segment)."""
    commands: list[str] = []
    current: float | None = None
    for p in span:
        value = getattr(p, attr)
        x0, x1 = xs[p.index] - dx / 2, xs[p.index] + dx / 2
        if value is None:
            current = None
            continue
        y = _num(y_of(value))
        if current is None:
            commands.append(f"M{_num(x0)},{y}")
        elif value != current:
            commands.append(f"L{_num(x0)},{y}")
        commands.append(f"L{_num(x1)},{y}")
        current = value
    return "".join(commands)


def _marker_words(marker: Marker) -> str:
    if marker.end is None or marker.end == marker.start:
        return f"{marker.label}: {marker.start.isoformat()}"
    return f"{marker.label}: {marker.start.isoformat()} to {marker.end.isoformat()}"


def _marker_rows(
    markers: Sequence[Marker], points: Sequence[ChartPoint], xs: list[float], right: float
) -> list[list[tuple[Marker, float, float, float, str]]]:
    """Markers placed in label rows so that no label runs into the one before it (three rows
    at most; beyond that they share the last row). Markers off a dateless axis are left out.
    A label that would run past `right` moves left, and is shortened (…) if it still does not
    fit; its `<title>` keeps the whole of it. Each: (marker, x0, x1, label x, label text)."""
    placed = []
    days = [p.x for p in points if isinstance(p.x, date)]
    for marker in markers:
        if days and ((marker.end or marker.start) < days[0] or marker.start > days[-1]):
            continue  # wholly outside the data: pinned to an edge it would mislead
        x0 = _x_position(marker.start, points, xs)
        x1 = _x_position(marker.end or marker.start, points, xs)
        if x0 is None or x1 is None:
            continue
        text = marker.label
        fits = max(int((right - x0) / CHAR), 0)
        if len(text) > fits:  # move it left, as far as the start of the span allows
            room = int(right / CHAR)
            text = text if len(text) <= room else text[: max(room - 1, 1)] + "…"
        text_x = max(min(x0, right - len(text) * CHAR), 0.0)
        placed.append((marker, x0, max(x1, x0 + 3), text_x, text))
    placed.sort(key=lambda m: min(m[1], m[3]))
    rows: list[list[tuple[Marker, float, float, float, str]]] = []
    ends: list[float] = []
    for item in placed:
        # A span and its label both take room: overlapping spans get their own rows too.
        start = min(item[1], item[3])
        reach = max(item[2], item[3] + len(item[4]) * CHAR) + 8
        for k, end in enumerate(ends):
            if end <= start:
                rows[k].append(item)
                ends[k] = reach
                break
        else:
            if len(rows) < 3:
                rows.append([item])
                ends.append(reach)
            else:
                rows[-1].append(item)
                ends[-1] = max(ends[-1], reach)
    return rows


def _legend(result: ChartResult, left: float, baseline: float) -> str:
    centre_name = "Median" if result.kind == RUN else "Centre (mean)"
    if result.kind in ("p", "u"):
        centre_name = "Centre"
    items: list[tuple[str, str]] = []
    x = left
    has_limits = any(p.upper is not None or p.lower is not None for p in result.points)
    entries = [("centre", centre_name)]
    if has_limits:
        entries.append(("limit", "Limits"))
    if any(p.signal_kinds for p in result.points):
        entries.append(("signal", "Signal"))
    if any(p.excluded for p in result.points):
        entries.append(("excluded", "Excluded"))
    y = baseline - TEXT * 0.35
    for key, name in entries:
        if key == "centre":
            mark = (f'<line x1="{_num(x)}" x2="{_num(x + 22)}" y1="{_num(y)}" y2="{_num(y)}" '
                    f'stroke="{CENTRE}" stroke-width="2"/>')
            width = 28
        elif key == "limit":
            mark = (f'<line x1="{_num(x)}" x2="{_num(x + 22)}" y1="{_num(y)}" y2="{_num(y)}" '
                    f'stroke="{LIMIT}" stroke-width="1.5" stroke-dasharray="6 4"/>')
            width = 28
        elif key == "signal":
            cx = x + 7
            mark = (f'<polygon points="{_num(cx)},{_num(y - 7)} {_num(cx + 7)},{_num(y)} '
                    f'{_num(cx)},{_num(y + 7)} {_num(cx - 7)},{_num(y)}" fill="none" '
                    f'stroke="{SIGNAL}" stroke-width="1.5"/><path d="M{_num(cx - 3.5)},'
                    f'{_num(y)}a3.5,3.5 0 1,0 7,0a3.5,3.5 0 1,0 -7,0" fill="{SIGNAL}"/>')
            width = 20
        else:
            cx = x + 5
            mark = (f'<path d="M{_num(cx - 3.5)},{_num(y)}a3.5,3.5 0 1,0 7,0a3.5,3.5 0 1,0 '
                    f'-7,0" fill="{PAPER}" stroke="{DATA}" stroke-width="1.5"/>')
            width = 16
        items.append((mark, f'<text x="{_num(x + width)}" y="{_num(baseline)}">'
                            f"{_text(name)}</text>"))
        x += width + len(name) * CHAR + 18
    body = "".join(mark + text for mark, text in items)
    return f'<g class="legend" fill="{INK}" aria-hidden="true">{body}</g>'


def chart_table(result: ChartResult, period_names: PeriodNames | None = None
                ) -> list[dict[str, Any]]:
    """The chart's numbers, one row per point: period, value, centre, lower, upper, signal."""

    def shown(value: float | None) -> str:
        return "" if value is None else number_text(value)

    rows = []
    for p in result.points:
        note = f"excluded: {p.reason}" if p.excluded else ""
        rows.append({
            "period": (period_names or _label)(p.x),
            "value": shown(p.value),
            "centre": shown(p.centre),
            "lower": shown(p.lower),
            "upper": shown(p.upper),
            "signal": ", ".join(k.replace("_", " ") for k in p.signal_kinds),
            "note": note,
        })
    return rows


def chart_description(result: ChartResult, subject: str,
                      period_names: PeriodNames | None = None) -> str:
    """A `<desc>` for the chart: what it shows and the signals in words."""
    name = period_names or _label
    kind = KIND_NAMES.get(result.kind, result.kind)
    count = sum(1 for p in result.points if p.value is not None)
    text = f"{kind} of {subject}, {count} points"
    if result.points:
        text += f" from {name(result.points[0].x)} to {name(result.points[-1].x)}"
    if result.sentences:
        return text + ". Signals: " + "; ".join(result.sentences) + "."
    return text + ". No signals."

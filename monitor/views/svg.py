"""Hand-written SVG charts for the HTML report: no JavaScript, no external files.

Each chart is an inline ``<svg>`` with a viewBox, drawn as wide as the page by the
report's CSS. An axis ends at its data (the y axis a twentieth above the largest value,
the x axis at the run's end), with ticks on round numbers inside it. Hover: a chart
carries transparent strips, each with a ``<title>`` the browser shows as a tooltip
(the values at that moment), so a reader gets figures off a chart without any script.

Why not a plotting library: the same charts made self-contained with plotly came to
4.9 MB (the 1000-message example) and 5.5 MB (a 40-sender run), 4.8 MB of it plotly.js;
with bokeh 1.4 and 1.9 MB; here 67 and 231 kB (measured for issue 25). A report is a
file attached to a ticket, often opened where scripts are blocked; these charts are few
and simple, and tooltips give their figures without a script.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

Point = tuple[float, float]
Bar = tuple[float, float, float]  # (low x, high x, height)

FONT = 12  # px in the viewBox: the report's CSS draws a wide chart about 1:1
GRID = "#e8e8e8"
AXIS = "#444"


@dataclass(frozen=True)
class Size:
    """A chart's viewBox and the margins around its plotting area."""

    width: int
    height: int
    left: int = 70
    right: int = 24
    top: int = 30
    bottom: int = 42


WIDE = Size(1000, 320)  # a chart across the page
SMALL = Size(330, 170, left=48, right=12, top=12, bottom=34)  # one of a grid


@dataclass(frozen=True)
class Frame:
    """Maps data coordinates onto the plotting area of a chart of ``size``."""

    x_max: float
    y_max: float
    size: Size = WIDE

    def x(self, value: float) -> float:
        s = self.size
        return s.left + (s.width - s.left - s.right) * value / (self.x_max or 1)

    def y(self, value: float) -> float:
        s = self.size
        return s.height - s.bottom - (s.height - s.top - s.bottom) * value / (self.y_max or 1)


def num(value: float) -> str:
    """A tick label: ``0.25``, ``40``, ``12,000`` (never ``1e+03``)."""
    if abs(value) >= 1000 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.3g}"


def nice_step(top: float, ticks: int = 5) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving at most about ``ticks``
    ticks up to ``top``."""
    raw = max(top, 1e-12) / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def ticks(top: float, count: int = 5) -> list[float]:
    """Round values from 0 up to ``top`` (never past it)."""
    step = nice_step(top, count)
    return [i * step for i in range(int(top / step + 1e-9) + 1)]


def fitted(values: Sequence[float]) -> float:
    """The top of a y axis for ``values``: a twentieth above the largest (1 when none)."""
    top = max([v for v in values if math.isfinite(v)] + [0.0])
    return top * 1.05 if top > 0 else 1.0


@dataclass(frozen=True)
class Line:
    """One line of a chart, drawn in order (the last on top)."""

    points: Sequence[Point]
    color: str
    width: float = 2.0
    dashed: bool = False
    opacity: float = 1.0


@dataclass(frozen=True)
class Shade:
    """A shaded stretch of the x axis (an outage, a band), its ``title`` on hover."""

    start: float
    end: float
    color: str
    title: str = ""
    opacity: float = 0.22


@dataclass(frozen=True)
class Mark:
    """A vertical line at ``x``, labelled at the top of the plotting area."""

    x: float
    label: str
    color: str = "#666"


@dataclass(frozen=True)
class Rule:
    """A horizontal line at ``y``, labelled at its right end."""

    y: float
    label: str
    color: str = "#666"


@dataclass(frozen=True)
class Tip:
    """A stretch of the x axis whose hover shows ``text``."""

    start: float
    end: float
    text: str


def _axes(frame: Frame, x_label: str, y_label: str, count: int = 5) -> list[str]:
    s = frame.size
    x0, y0, x1, y1 = frame.x(0), frame.y(0), frame.x(frame.x_max), frame.y(frame.y_max)
    middle = (s.top + s.height - s.bottom) / 2
    parts = [
        f'<text x="{(s.left + s.width - s.right) / 2:.0f}" y="{s.height - 6}" '
        f'text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="13" y="{middle:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 13 {middle:.0f})">{escape(y_label)}</text>',
    ]
    for yv in ticks(frame.y_max, count):
        y = frame.y(yv)
        if yv:
            parts.append(f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}" '
                         f'stroke="{GRID}"/>')  # fmt: skip
        parts.append(f'<text x="{x0 - 5:.1f}" y="{y + 4:.1f}" text-anchor="end">{num(yv)}</text>')
    for xv in ticks(frame.x_max, count + 3):
        parts.append(
            f'<text x="{frame.x(xv):.1f}" y="{y0 + 16:.1f}" text-anchor="middle">{num(xv)}</text>'
        )
    parts += [
        f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y0:.1f}" stroke="{AXIS}"/>',
        f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x0:.1f}" y2="{y1:.1f}" stroke="{AXIS}"/>',
    ]
    return parts


def path(frame: Frame, points: Sequence[Point]) -> str:
    """The ``points`` attribute of a polyline through ``points``."""
    return " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in points)


def _line(frame: Frame, line: Line) -> str:
    extra = f' stroke-width="{line.width:g}"'
    extra += ' stroke-dasharray="7 5"' if line.dashed else ""
    extra += f' stroke-opacity="{line.opacity:g}"' if line.opacity < 1 else ""
    return (
        f'<polyline fill="none" stroke="{line.color}"{extra} stroke-linejoin="round" '
        f'points="{path(frame, line.points)}"/>'
    )


def _shade(frame: Frame, shade: Shade) -> str:
    s = frame.size
    x0 = frame.x(max(shade.start, 0.0))
    x1 = frame.x(min(shade.end, frame.x_max))
    if x1 <= x0:
        return ""
    title = f"<title>{escape(shade.title)}</title>" if shade.title else ""
    return (
        f'<rect x="{x0:.1f}" y="{s.top}" width="{x1 - x0:.1f}" '
        f'height="{s.height - s.top - s.bottom}" fill="{shade.color}" '
        f'fill-opacity="{shade.opacity:g}">{title}</rect>'
    )


def _marks(frame: Frame, marks: Sequence[Mark]) -> list[str]:
    """Vertical lines with their labels in rows at the top, so near ones do not overlap."""
    s = frame.size
    parts: list[str] = []
    ends: list[float] = []  # the right end of each row's last label
    for mark in sorted(marks, key=lambda m: m.x):
        if not 0 <= mark.x <= frame.x_max:
            continue
        x, wide = frame.x(mark.x), len(mark.label) * FONT * 0.62
        # a label in the middle of its line, or ending at it near the right edge
        left = x - wide / 2 if x + wide / 2 <= s.width - 2 else x - wide - 3
        row = next((i for i, end in enumerate(ends) if left > end + 6), len(ends))
        ends[row : row + 1] = [left + wide]
        y = s.top - 14 + (FONT + 3) * (row + 1)
        parts.append(
            f'<line x1="{x:.1f}" y1="{y + 3:.1f}" x2="{x:.1f}" y2="{frame.y(0):.1f}" '
            f'stroke="{mark.color}" stroke-dasharray="2 3"/>'
            f'<text x="{left:.1f}" y="{y:.1f}" fill="{mark.color}">{escape(mark.label)}</text>'
        )
    return parts


def _rule(frame: Frame, rule: Rule) -> str:
    y, x0, x1 = frame.y(rule.y), frame.x(0), frame.x(frame.x_max)
    return (
        f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}" stroke="{rule.color}" '
        f'stroke-dasharray="2 3"/><text x="{x0 + 6:.1f}" y="{y - 4:.1f}" '
        f'fill="{rule.color}">{escape(rule.label)}</text>'
    )


def _tips(frame: Frame, tips: Sequence[Tip]) -> list[str]:
    s = frame.size
    parts = []
    for tip in tips:
        x0, x1 = frame.x(max(tip.start, 0.0)), frame.x(min(tip.end, frame.x_max))
        if x1 > x0:
            parts.append(
                f'<rect x="{x0:.1f}" y="{s.top}" width="{x1 - x0:.1f}" '
                f'height="{s.height - s.top - s.bottom}" fill-opacity="0">'
                f"<title>{escape(tip.text)}</title></rect>"
            )
    return [f'<g class="tips">{"".join(parts)}</g>'] if parts else []


def svg(css_class: str, title: str, parts: Sequence[str], size: Size = WIDE) -> str:
    return (
        f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {size.width} {size.height}" role="img">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def time_chart(
    css_class: str,
    title: str,
    x_label: str,
    y_label: str,
    *,
    x_max: float,
    lines: Sequence[Line],
    shades: Sequence[Shade] = (),
    marks: Sequence[Mark] = (),
    rules: Sequence[Rule] = (),
    tips: Sequence[Tip] = (),
) -> str:
    """Lines over time on an x axis from 0 to ``x_max`` and a y axis fitted to the lines
    and rules; shaded stretches behind them, marks and rules over them, tips on top."""
    y_top = fitted([y for line in lines for _, y in line.points] + [r.y for r in rules])
    frame = Frame(x_max if x_max > 0 else 1.0, y_top)
    parts = [_shade(frame, shade) for shade in shades]
    parts += _axes(frame, x_label, y_label)
    parts += [_line(frame, line) for line in lines if line.points]
    parts += [_rule(frame, rule) for rule in rules]
    parts += _marks(frame, marks)
    parts += _tips(frame, tips)
    return svg(css_class, title, parts)


def histogram(
    bars: Sequence[Bar],
    frame: Frame,
    title: str,
    x_label: str,
    y_label: str,
    *,
    curve: str = "",
) -> str:
    """Bars (observed density) on ``frame`` (shared by a grid of them), under ``curve``:
    markup drawn over them (the configured distribution, often a ``<use>`` of a path
    drawn once for every chart of a profile)."""
    parts = _axes(frame, x_label, y_label, count=3)
    base, outline = frame.y(0), []
    for lo, hi, height in bars:
        y = frame.y(min(height, frame.y_max))
        if base - y >= 0.05:  # one path for every bar: a fraction of the markup of rects
            outline.append(f"M{frame.x(lo):.1f} {base:.1f}V{y:.1f}H{frame.x(hi):.1f}V{base:.1f}Z")
    if outline:
        parts.append(
            f'<path fill="#9ecae1" stroke="#6baed6" stroke-width="0.5" d="{"".join(outline)}"/>'
        )
    parts.append(curve)
    return svg("dist", title, parts, frame.size)


@dataclass(frozen=True)
class Cell:
    """A stretch of one row of a timeline: ``level`` 0 for none, else 1 to ``LEVELS``."""

    start: float
    end: float
    level: int
    title: str = ""


@dataclass(frozen=True)
class Row:
    """One row of a timeline: a label, its cells, and stretches drawn hatched over them."""

    label: str
    cells: Sequence[Cell]
    hatched: Sequence[tuple[float, float]] = ()
    title: str = ""


NONE_COLOR = "#f4a582"  # a row's stretch with nothing in it
LEVEL_COLORS = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
LEVELS = len(LEVEL_COLORS)
ROW, HEADING = 14, 18  # px of a row and of a group's heading


def timeline(
    css_class: str,
    title: str,
    x_label: str,
    groups: Sequence[tuple[str, Sequence[Row]]],
    *,
    x_max: float,
) -> str:
    """Rows of coloured cells over time (one per sender), under a heading per group
    (none when the group's label is empty); hatched stretches drawn over the cells."""
    labels = [row.label for _, rows in groups for row in rows]
    left = min(12 + int(max([len(t) for t in labels] + [4]) * FONT * 0.6), 240)
    headings = sum(1 for label, _ in groups if label)
    top = 8
    height = top + len(labels) * ROW + headings * HEADING + 36
    size = Size(WIDE.width, height, left=left, right=WIDE.right, top=top, bottom=36)
    frame = Frame(x_max if x_max > 0 else 1.0, 1.0, size)
    parts = [
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#222" '
        'stroke-width="2"/></pattern></defs>'
    ]
    y = float(top)
    for label, rows in groups:
        if label:
            parts.append(f'<text x="4" y="{y + HEADING - 5:.1f}" class="heading">'
                         f"{escape(_clipped(label, size.width))}<title>{escape(label)}</title>"
                         "</text>")  # fmt: skip
            y += HEADING
        for row in rows:
            parts.append(_row(frame, row, y))
            y += ROW
    x0, x1, y0 = frame.x(0), frame.x(frame.x_max), y + 2
    parts.append(f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y0:.1f}" stroke="{AXIS}"/>')
    for xv in ticks(frame.x_max, 8):
        parts.append(
            f'<text x="{frame.x(xv):.1f}" y="{y0 + 15:.1f}" text-anchor="middle">{num(xv)}</text>'
        )
    parts.append(f'<text x="{(x0 + x1) / 2:.0f}" y="{height - 4}" text-anchor="middle">'
                 f"{escape(x_label)}</text>")  # fmt: skip
    return svg(css_class, title, parts, size)


def _clipped(text: str, width: float) -> str:
    """``text`` cut to what fits ``width`` px (bold), with an ellipsis."""
    fits = int(width / (FONT * 0.62))
    return text if len(text) <= fits else text[: fits - 1].rstrip() + "…"


def _row(frame: Frame, row: Row, y: float) -> str:
    title = f"<title>{escape(row.title)}</title>" if row.title else ""
    parts = [
        f'<text x="{frame.size.left - 6}" y="{y + ROW - 3:.1f}" text-anchor="end">'
        f"{escape(row.label)}{title}</text>"
    ]
    cells = []  # thick lines on the row's middle: a third less markup than rects
    for cell in row.cells:
        x0, x1 = frame.x(max(cell.start, 0.0)), frame.x(min(cell.end, frame.x_max))
        if x1 <= x0:
            continue
        color = NONE_COLOR if cell.level <= 0 else LEVEL_COLORS[min(cell.level, LEVELS) - 1]
        tip = f"<title>{escape(cell.title)}</title>" if cell.title else ""
        cells.append(f'<line x1="{x0:.1f}" x2="{x1:.1f}" stroke="{color}">{tip}</line>')
    if cells:
        parts.append(
            f'<g transform="translate(0 {y + ROW / 2:.1f})" stroke-width="{ROW - 2}">'
            f"{''.join(cells)}</g>"
        )
    for start, end in row.hatched:
        x0, x1 = frame.x(max(start, 0.0)), frame.x(min(end, frame.x_max))
        if x1 > x0:
            parts.append(
                f'<rect x="{x0:.1f}" y="{y + 1:.1f}" width="{x1 - x0:.1f}" '
                f'height="{ROW - 2}" fill="url(#hatch)" fill-opacity="0.6"/>'
            )
    return "".join(parts)

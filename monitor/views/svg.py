"""Tiny hand-written SVG charts for the HTML report: no JavaScript, no external files."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

Point = tuple[float, float]
Bar = tuple[float, float, float]  # (low x, high x, height)

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40


@dataclass(frozen=True)
class Frame:
    """Maps data coordinates onto the plotting area."""

    x_max: float
    y_max: float

    def x(self, value: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * value / (self.x_max or 1)

    def y(self, value: float) -> float:
        return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * value / (self.y_max or 1)


def _num(value: float) -> str:
    """A tick label: three digits, whole numbers from 1000 (no ``1e+03``)."""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def nice_step(top: float, ticks: int = 4) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks."""
    raw = max(top, 1e-12) / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def nice_frame(x_max: float, y_max: float) -> Frame:
    """A frame whose axes end on a round tick."""
    sx, sy = nice_step(x_max), nice_step(y_max)
    return Frame(math.ceil(x_max / sx - 1e-9) * sx, math.ceil(y_max / sy - 1e-9) * sy)


def _axes(frame: Frame, x_label: str, y_label: str) -> list[str]:
    x0, y0 = frame.x(0), frame.y(0)
    parts = [
        f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{frame.x(frame.x_max):.1f}" y2="{y0:.1f}" '
        'stroke="#444"/>',
        f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x0:.1f}" y2="{frame.y(frame.y_max):.1f}" '
        'stroke="#444"/>',
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"{escape(x_label)}</text>",
        f'<text x="12" y="{(TOP + HEIGHT - BOTTOM) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {(TOP + HEIGHT - BOTTOM) / 2:.0f})">{escape(y_label)}</text>',
    ]
    for xv in _ticks(frame.x_max):
        parts.append(
            f'<text x="{frame.x(xv):.1f}" y="{y0 + 16:.1f}" text-anchor="middle">{_num(xv)}</text>'
        )
    for yv in _ticks(frame.y_max):
        parts.append(
            f'<text x="{x0 - 4:.1f}" y="{frame.y(yv) + 4:.1f}" text-anchor="end">{_num(yv)}</text>'
        )
    return parts


def _ticks(top: float) -> list[float]:
    step = nice_step(top)
    return [i * step for i in range(int(top / step + 1e-9) + 1)]


def _polyline(frame: Frame, points: Sequence[Point], color: str, extra: str = "") -> str:
    coords = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in points)
    if "stroke-width" not in extra:
        extra = f'stroke-width="2" {extra}'
    return f'<polyline fill="none" stroke="{color}" {extra}points="{coords}"/>'


def _svg(css_class: str, title: str, parts: list[str]) -> str:
    return (
        f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def line_chart(
    points: Sequence[Point],
    title: str,
    x_label: str,
    y_label: str,
    *,
    reference: Sequence[Point] = (),
    x_max: float | None = None,
) -> str:
    """A line through ``points`` and a dashed ``reference`` line (e.g. a prediction), on an
    x axis to ``x_max`` (by default the furthest point)."""
    y_top = max([y for _, y in (*points, *reference)] + [1e-9])
    x_top = x_max if x_max else max([x for x, _ in (*points, *reference)] + [1e-9])
    frame = nice_frame(x_top, y_top * 1.05)
    parts = _axes(frame, x_label, y_label)
    if reference:
        parts.append(_polyline(frame, reference, "#d62728", 'stroke-dasharray="6 4" '))
    if points:
        parts.append(_polyline(frame, points, "#1f77b4"))
    return _svg("timeline", title, parts)


@dataclass(frozen=True)
class Line:
    """One line of a chart with several."""

    points: Sequence[Point]
    color: str
    width: float = 2.0
    dashed: bool = False


def lines_chart(
    lines: Sequence[Line], title: str, x_label: str, y_label: str, *, x_max: float | None = None
) -> str:
    """Several lines on one frame, drawn in order (the last on top), on an x axis to
    ``x_max`` (by default the furthest point)."""
    every = [pt for line in lines for pt in line.points]
    y_top = max([y for _, y in every] + [1e-9])
    x_top = x_max if x_max else max([x for x, _ in every] + [1e-9])
    frame = nice_frame(x_top, y_top * 1.05)
    parts = _axes(frame, x_label, y_label)
    for line in lines:
        if line.points:
            extra = f'stroke-width="{line.width:g}" '
            extra += 'stroke-dasharray="6 4" ' if line.dashed else ""
            parts.append(_polyline(frame, line.points, line.color, extra))
    return _svg("delivered", title, parts)


def bars_and_curve(
    bars: Sequence[Bar], curve: Sequence[Point], title: str, x_label: str, y_label: str
) -> str:
    """Bars (observed density) with a curve over them (the configured distribution)."""
    x_max = max([hi for _, hi, _ in bars] + [x for x, _ in curve] + [1e-9])
    y_max = max([h for _, _, h in bars] + [y for _, y in curve] + [1e-9]) * 1.05
    frame = nice_frame(x_max, y_max)
    parts = _axes(frame, x_label, y_label)
    for lo, hi, height in bars:
        x, y = frame.x(lo), frame.y(height)
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(frame.x(hi) - x, 0.5):.1f}" '
            f'height="{frame.y(0) - y:.1f}" fill="#9ecae1" stroke="#6baed6"/>'
        )
    if curve:
        parts.append(_polyline(frame, curve, "#d62728"))
    return _svg("dist", title, parts)

"""The HTML report (``--report PATH``): one self-contained file to attach to a ticket.

Summary, percentile (the whole ladder) and failures (by reason) tables; charts as wide
as the page: the messages delivered over simulated time (the fleet, each gateway or each
profile, the prediction drawn over the fleet's line, the predicted completion's band,
the delivery-time percentiles), throughput against the fleet's prediction, the delivery
time (queue wait + send) of the messages delivered over time, and each sender's
deliveries over time, where outages show; scheduled outage windows shaded on every chart
over time; the senders' table grouped by profile; and per sender the observed
attempt-time distribution against the configured gamma curve, on one time axis. Hovering over a
chart shows its figures at that moment. Inline CSS and SVG (``monitor/views/svg.py``):
no script, no network. In a compressed run every time is simulated, and says so.
"""

from __future__ import annotations

import bisect
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from common.format import duration
from common.model import DEFAULT_SHAPE
from monitor.figures.catalogue import FIGURES, SENDER_FIGURES, Kind, Section, SenderFigure, figure
from monitor.figures.catalogue import SIMULATED as SIMULATED_KINDS
from monitor.figures.fleet import SenderRow
from monitor.figures.report import STATES, Report
from monitor.tally.quantiles import LABELS, NAMES, SHORT, Percentiles
from monitor.views import formatting as fig
from monitor.views.distribution import bulk_range, density_bins, gamma_curve
from monitor.views.svg import (
    LEVEL_COLORS,
    LEVELS,
    NONE_COLOR,
    SMALL,
    Cell,
    Frame,
    Line,
    Mark,
    Point,
    Row,
    Rule,
    Shade,
    Tip,
    fitted,
    histogram,
    path,
    time_chart,
    timeline,
)

CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; padding: 0 1.5em;
  max-width: 84em; color: #222; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1em; margin: 1em 0 0.3em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { padding: 0.15em 0.7em; border-bottom: 1px solid #e4e4e4; text-align: right; }
td { white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
.tables { display: flex; flex-wrap: wrap; gap: 0 3em; align-items: flex-start; }
.scroll { overflow-x: auto; }
.tables > div { max-width: 100%; }
.ladder td:first-child { white-space: normal; min-width: 10em; }
.senders { font-size: 0.85em; }
.senders th { vertical-align: bottom; }
.senders td:first-child { position: sticky; left: 0; background: #fff; }
.failures td:nth-child(2), .failures th:nth-child(2) { text-align: left;
  white-space: normal; }
.senders tr.group th { text-align: left; background: #eef3f8; padding-top: 0.4em; }
svg { display: block; width: 100%; height: auto; }
svg text { font-size: 12px; fill: #333; }
svg text.heading { font-weight: 600; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(16em, 1fr));
  gap: 0.3em 1.5em; }
figure { margin: 0.3em 0; }
figcaption { font-size: 0.85em; }
figcaption b { white-space: nowrap; }
.note { color: #555; font-size: 0.9em; max-width: 75em; }
.legend { font-size: 0.9em; }
.legend span { white-space: nowrap; margin-right: 1.2em; }
.key { display: inline-block; width: 1.8em; height: 0; vertical-align: middle;
  border-top: 3px solid; margin-right: 0.3em; }
.swatch { display: inline-block; width: 1.2em; height: 0.9em; vertical-align: middle;
  margin-right: 0.3em; }
.warn { color: #b00; font-weight: bold; }
"""
FLEET_COLOR, PREDICTED_COLOR, OUTAGE_COLOR = "#1f77b4", "#d62728", "#7f7f7f"
MOST_COLOR = "#ff7f0e"  # the largest delivery time of a step
MAX_LINES = 12  # lines of their own in the deliveries chart: gateways, else profiles
GATEWAY_COLORS = ("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
TIPS = 100  # hover strips across a chart whose points are not steps
SUMMED_POINTS = 240  # points of a profile's line in the deliveries chart
CELL_CROWD, CELLS = 20, 16  # a sender's row over time: deliveries a cell, cells at least


def write_report(rep: Report, path: Path) -> None:
    """Write the report to ``path``, whose folder exists (the settings refuse one that
    does not, before the run starts)."""
    path.write_text(report_html(rep), encoding="utf-8")


def report_html(rep: Report) -> str:
    generated = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(rep.now or time.time()))
    groups = profile_groups(rep.senders)
    body = [
        f"<h1>SMS alert run {escape(rep.run)}: {STATES[rep.state]}</h1>",
        f'<p class="note">Redis {escape(rep.url or "?")}; report generated {generated}.</p>',
        *_thresholds(rep),
        "<h2>Summary</h2>",
        _distortion(rep),
        f'<div class="tables">{_summary_table(rep)}{_percentiles_table(rep)}</div>',
        "<h2>Failures</h2>",
        _failures(rep),
        "<h2>Delivered over time</h2>",
        _delivered(rep, groups),
        "<h2>Throughput over time</h2>",
        _throughput(rep),
        "<h2>Delivery time over time</h2>",
        _waits(rep),
        "<h2>Deliveries per sender over time</h2>",
        _per_sender(rep, groups),
        "<h2>Senders</h2>",
        _senders_table(rep, groups),
        "<h2>Attempt time per sender</h2>",
        _attempt_times(rep, groups),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>sms-sim run {escape(rep.run)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


# --- profiles ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """Senders of one profile, in name order."""

    rows: tuple[SenderRow, ...]

    @property
    def names(self) -> str:
        first, last = self.rows[0].name, self.rows[-1].name
        if len(self.rows) == 1:
            return first
        return f"{len(self.rows)} senders ({first} … {last})"

    @property
    def label(self) -> str:
        return f"{self.names}: {describe(self.rows[0])}"


def profile_groups(rows: Sequence[SenderRow]) -> list[Group]:
    """The senders by profile (the YAML a sender claimed, else its configured figures),
    in the order of each profile's first sender."""
    found: dict[str, list[SenderRow]] = {}
    for row in rows:
        found.setdefault(_profile_key(row), []).append(row)
    return [Group(tuple(members)) for members in found.values()]


def _grouped(groups: Sequence[Group]) -> bool:
    """Profiles are worth a heading: some profile has more than one sender."""
    return any(len(group.rows) > 1 for group in groups)


def _profile_key(row: SenderRow) -> str:
    known = row.profile or {
        "mean_time": row.mean_time,
        "failure_rate": row.failure_rate,
        "concurrency": row.concurrency,
        "shape": row.shape,
    }
    return json.dumps(known, sort_keys=True, default=str)


def _number(profile: dict[str, Any], key: str) -> float | None:
    value = profile.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def describe(row: SenderRow) -> str:
    """A sender's profile in a line: ``mean 1.500 s, fail 2.0%, 20 slots, max 12/s``."""
    if row.mean_time is None:
        return "unknown profile"
    p = row.profile
    parts = [f"mean {fig.secs(row.mean_time)}" if row.mean_time > 0 else "no delay"]
    if row.shape is not None and row.shape != DEFAULT_SHAPE:
        parts.append(f"shape {row.shape:g}")
    parts.append(f"fail {fig.ratio(row.failure_rate)}")
    parts.append(f"{row.concurrency} slot{'' if row.concurrency == 1 else 's'}")
    if (cap := _number(p, "max_rate")) is not None:
        burst = _number(p, "burst")
        parts.append(f"max {cap:g}/s" + (f" (burst {burst:g})" if burst else ""))
    if (tries := _number(p, "max_attempts")) is not None:
        parts.append(f"at most {tries:g} attempts")
    backoff = p.get("retry_backoff")
    if isinstance(backoff, dict) and (first := _number(backoff, "initial")) is not None:
        factor, most = _number(backoff, "factor") or 2.0, _number(backoff, "max")
        parts.append(f"backoff {first:g} s x{factor:g}" + (f" to {most:g} s" if most else ""))
    parts += [f"outage {start:g}-{end:g} s" for start, end in row.windows]
    mtbf, mttr = _number(p, "mtbf"), _number(p, "mttr")
    if mtbf is not None and mttr is not None:
        parts.append(f"random outages (up {mtbf:g} s, down {mttr:g} s, on average)")
    if (row.windows or mtbf is not None) and (timeout := _number(p, "timeout")) is not None:
        parts.append(f"timeout {timeout:g} s")
    return ", ".join(parts)


# --- tables -----------------------------------------------------------------------------


def _table(header: list[str] | None, rows: list[list[str]]) -> str:
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>" if header else ""
    return f"<table>{head}{''.join(_tr(r) for r in rows)}</table>"


def _tr(cells: list[str]) -> str:
    return "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"


def _distortion(rep: Report) -> str:
    distorted = fig.distortion(rep)
    return f'<p class="warn">{escape(distorted)}</p>' if distorted else ""


def _summary_table(rep: Report) -> str:
    """Every figure of the catalogue but the percentiles (a table of their own)."""
    rows = [["elapsed", fig.span(rep.elapsed, rep.scale, mark=True)]]
    for f in FIGURES:
        if f.section not in (Section.HEAD, Section.PERCENTILES) and not f.shown_by:
            rows.append([f.label.of(rep.compressed), fig.of_report(f, rep)])
    return _table(None, rows)


def _thresholds(rep: Report) -> list[str]:
    """The drill's goals first, as judged: a heading that says how many passed, a row
    each (none when the run was given none)."""
    if not rep.thresholds:
        return []
    head, *_ = fig.thresholds_lines(rep)
    rows = [
        [
            fig.verdict_status(v),
            f"{v.threshold.figure} {v.threshold.condition}",
            fig.verdict_value(v),
        ]
        for v in rep.thresholds
    ]
    return [f"<h2>{escape(head.capitalize())}</h2>", _table(["", "threshold", "the run's"], rows)]


def _percentiles_table(rep: Report) -> str:
    """A row per distribution, a column per rung of the ladder (min ... max)."""
    rows = []
    for f in FIGURES:
        if f.kind is Kind.PERCENTILES:
            values = getattr(rep, f.key)
            cells = [fig.secs(v) for v in values.values()] if values else [fig.MISSING] * len(NAMES)
            rows.append([f.label.of(rep.compressed), *cells])
    table = _table(["percentiles", *(LABELS[name] for name in NAMES)], rows)
    return f'<div class="scroll ladder">{table}</div>'


def _failures(rep: Report) -> str:
    """The failures table, as Locust's: the dead stream's entries by kind and reason."""
    if rep.failures is None:
        return '<p class="note">Not known: the run\'s dead stream was not read.</p>'
    if not rep.failures:
        said = "None: no message was abandoned, undeliverable or dead-lettered."
        return f'<p class="note">{said}</p>'
    rows = [[f.kind, f.reason, f"{f.count:,}"] for f in rep.failures]
    note = (
        "Every entry of the run's dead stream, by kind and reason: messages abandoned after"
        " max_attempts, messages to undeliverable numbers, and dead letters (outbox entries"
        " that could not be processed). Numbers in a dead letter's reason read N, so alike"
        " reasons count together."
    )
    table = _table(["kind", "reason", "count"], rows)
    return f'<div class="scroll failures">{table}</div><p class="note">{escape(note)}</p>'


def _senders_table(rep: Report, groups: Sequence[Group]) -> str:
    """A column per sender figure (per percentile); ``(simulated)`` on times and rates in
    a compressed run; a heading row per profile when some profile has several senders."""
    if not rep.senders:
        return '<p class="note">No sender has reported yet.</p>'
    sim = " (simulated)" if rep.compressed else ""
    header = ["sender"]
    for f in SENDER_FIGURES:
        title = f.header.replace("\n", " ") + (sim if f.kind in SIMULATED_KINDS else "")
        header += [f"{title} {q}" for q in SHORT] if f.kind is Kind.PERCENTILES else [title]
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>"
    body = []
    for group in groups if _grouped(groups) else [Group(rep.senders)]:
        rows = "".join(_tr(_sender_cells(row)) for row in group.rows)
        if _grouped(groups):
            span = f'<th colspan="{len(header)}">{escape(group.label)}</th>'
            rows = f'<tr class="group">{span}</tr>{rows}'
        body.append(f"<tbody>{rows}</tbody>")
    table = f'<table class="senders"><thead>{head}</thead>{"".join(body)}</table>'
    return f'<div class="scroll">{table}</div>'


def _sender_cells(row: SenderRow) -> list[str]:
    return [row.name, *(c for f in SENDER_FIGURES for c in _cells(f, row))]


def _cells(f: SenderFigure, row: SenderRow) -> list[str]:
    value = getattr(row, f.key)
    if f.kind is Kind.PERCENTILES:
        found: Percentiles | None = value
        return [fig.secs(v) for v in found.values(SHORT)] if found else [fig.MISSING] * len(SHORT)
    return [fig.text(f.kind, value)]


# --- charts over time -------------------------------------------------------------------


def _seconds_axis(rep: Report) -> str:
    return ("simulated " if rep.compressed else "") + "seconds since the run's start"


def _when(rep: Report, t: float) -> str:
    """A moment of the run for a tooltip: ``at 6m58s``."""
    return f"at {duration(max(t, 0.0))}" + (" (simulated)" if rep.compressed else "")


def _at(points: Sequence[Point], x: float, step: bool = False) -> float | None:
    """The line through ``points`` at ``x`` (``step``: the last point's value at or before
    it); its ends beyond them; None for no points."""
    if not points:
        return None
    i = bisect.bisect_right([px for px, _ in points], x)
    if i == 0:
        return points[0][1]
    if i == len(points) or step:
        return points[i - 1][1]
    (x0, y0), (x1, y1) = points[i - 1], points[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y1


def outage_windows(rep: Report) -> list[tuple[float, float, list[str]]]:
    """Each scheduled outage window of the fleet, with the senders it takes down."""
    found: dict[tuple[float, float], list[str]] = {}
    for row in rep.senders:
        for window in row.windows:
            found.setdefault(window, []).append(row.name)
    return [(start, end, names) for (start, end), names in sorted(found.items())]


def _outages(rep: Report) -> list[Shade]:
    shades = []
    for start, end, names in outage_windows(rep):
        who = names[0] if len(names) == 1 else f"{len(names)} senders ({names[0]} … {names[-1]})"
        title = f"scheduled outage {start:g}-{end:g} s: {who}"
        shades.append(Shade(start, end, OUTAGE_COLOR, title))
    return shades


def _legend(*items: tuple[str, str]) -> str:
    """``(html of the key, label)`` pairs in one line."""
    shown = "".join(f"<span>{key}{escape(label)}</span>" for key, label in items)
    return f'<p class="legend">{shown}</p>'


def _key(color: str, dashed: bool = False, width: int = 3) -> str:
    style = f"border-top: {width}px {'dashed' if dashed else 'solid'} {color}"
    return f'<span class="key" style="{style}"></span>'


def _swatch(color: str, opacity: float = 0.35) -> str:
    return f'<span class="swatch" style="background:{color};opacity:{opacity:g}"></span>'


def _x_end(rep: Report) -> float:
    """Where the charts over time end: the run's end (or now), or its predicted
    completion's band when later."""
    ends = [rep.elapsed, *(x for x, _ in rep.expected)]
    ends += [v for v in (rep.predicted_completion, rep.predicted_high) if v is not None]
    return max([v for v in ends if math.isfinite(v)] + [1e-9])


def _delivered(rep: Report, groups: Sequence[Group]) -> str:
    """Messages delivered over simulated time: the fleet, each gateway (or each profile in a
    larger fleet), the prediction drawn over the fleet, its completion band, the
    delivery-time percentiles and the scheduled outages."""
    x_max = _x_end(rep)
    own = _own_lines(rep, groups, x_max)
    lines = [Line(points, color, 1.25) for _, color, points in own]
    lines += [
        Line(rep.delivered, FLEET_COLOR, 4.0, opacity=0.5),
        Line(rep.expected, PREDICTED_COLOR, 2.0, dashed=True),
    ]
    shades, marks = _outages(rep), []
    band = rep.predicted_low is not None and rep.predicted_high is not None
    if rep.predicted_low is not None and rep.predicted_high is not None:
        low, high = rep.predicted_low, rep.predicted_high
        title = f"predicted completion band (virtual runs): {duration(low)} to {duration(high)}"
        shades.append(Shade(low, high, PREDICTED_COLOR, title, opacity=0.12))
    if rep.predicted_completion is not None and math.isfinite(rep.predicted_completion):
        marks.append(Mark(rep.predicted_completion, "predicted", PREDICTED_COLOR))
    if rep.delivery_time is not None:
        marks += [Mark(v, q) for q, v in rep.delivery_time.items(SHORT)]
    chart = time_chart(
        "delivered",
        "messages delivered over time",
        _seconds_axis(rep),
        "messages delivered",
        x_max=x_max,
        lines=lines,
        shades=shades,
        marks=marks,
        rules=[Rule(rep.total, f"total {rep.total:,}")] if rep.total else [],
        tips=_delivered_tips(rep, x_max),
    )
    keys = [(_key(FLEET_COLOR), "the fleet"), (_key(PREDICTED_COLOR, True), "predicted")]
    if band:
        keys.append((_swatch(PREDICTED_COLOR, 0.2), "predicted completion band"))
    if any(row.windows for row in rep.senders):
        keys.append((_swatch(OUTAGE_COLOR), "scheduled outage"))
    keys += [(_key(color, width=2), name) for name, color, _ in own]
    note = _delivered_note(rep, band)
    if len(rep.senders) > MAX_LINES and len(own) < len(groups):
        note += f" One line each for the {len(own)} profiles that delivered most."
    return f'{chart}{_legend(*keys)}<p class="note">{escape(note)}</p>'


def _own_lines(
    rep: Report, groups: Sequence[Group], x_max: float
) -> list[tuple[str, str, Sequence[Point]]]:
    """(name, colour, points): a line per gateway, or in a fleet of more than MAX_LINES
    one per profile (the MAX_LINES that delivered most)."""
    by_name = dict(rep.delivered_by)
    if len(rep.senders) <= MAX_LINES:
        found: list[tuple[str, Sequence[Point]]]
        found = [(row.name, by_name.get(row.name, ())) for row in rep.senders]
    else:
        order = sorted(range(len(groups)), key=lambda i: -sum(r.sent for r in groups[i].rows))
        found = [
            (g.names, _summed([by_name.get(r.name, ()) for r in g.rows], x_max))
            for i, g in enumerate(groups)
            if i in order[:MAX_LINES]
        ]
    return [
        (name, GATEWAY_COLORS[i % len(GATEWAY_COLORS)], points)
        for i, (name, points) in enumerate(found)
    ]


def _delivered_tips(rep: Report, x_max: float) -> list[Tip]:
    tips = []
    for i in range(TIPS):
        a, b = x_max * i / TIPS, x_max * (i + 1) / TIPS
        t = (a + b) / 2
        said = f"{_at(rep.delivered, min(t, rep.elapsed)) or 0:,.0f} delivered"
        if (expected := _at(rep.expected, t)) is not None:
            said += f", predicted {expected:,.0f}"
        tips.append(Tip(a, b, f"{_when(rep, t)}: {said}{_down_text(rep, t)}"))
    return tips


def _down_text(rep: Report, t: float) -> str:
    down = sum(1 for row in rep.senders if any(a <= t < b for a, b in row.windows))
    return f"; {down} sender{'s' if down > 1 else ''} in a scheduled outage" if down else ""


def _delivered_note(rep: Report, band: bool) -> str:
    took = fig.span(rep.elapsed, rep.scale)
    predicted = fig.left(rep.predicted_completion, rep.scale)
    note = (
        "Messages delivered since the run's start, by when each delivery was recorded: the"
        f" fleet and each {'gateway' if len(rep.senders) <= MAX_LINES else 'profile'}."
        " Dashed: what the virtual runs of the fleet predict, on average (the same gateways"
        " on a virtual clock: throughput caps, the account cap, outage windows and random"
        " outages, failure rates, backoff and undeliverable numbers), drawn over the"
        " fleet's line."
        f" {figure('predicted_completion').label.of(rep.compressed)}: {predicted};"
        f" the run {'took' if rep.complete else 'has run'} {took}."
    )
    if band:
        note += " Shaded red: the band of the virtual runs' completions."
    if rep.delivery_time is not None:
        note += (
            f" Dotted: the {figure('delivery_time').label.of(rep.compressed)} percentiles,"
            " when 50, 95 and 99 % of the delivered messages had arrived."
        )
    if not rep.expected:
        note += " No prediction is drawn: unbounded (a mean time of 0) or no profile known."
    return note


def _summed(lines: Sequence[Sequence[Point]], x_max: float) -> list[Point]:
    """The sum of cumulative lines, at ``SUMMED_POINTS`` moments up to ``x_max``; each
    line keeps its last value past its end."""
    if not any(lines):
        return []
    out = []
    for i in range(SUMMED_POINTS + 1):
        x = x_max * i / SUMMED_POINTS
        out.append((x, sum(_at(line, x) or 0.0 for line in lines)))
    return out


def _step_tips(rep: Report, xs: Sequence[float], texts: Sequence[str]) -> list[Tip]:
    """A tip per point of a chart of steps: from halfway to the point before to halfway
    to the next."""
    tips = []
    for i, (x, text) in enumerate(zip(xs, texts, strict=True)):
        a = (xs[i - 1] + x) / 2 if i else 0.0
        b = (x + xs[i + 1]) / 2 if i + 1 < len(xs) else max(rep.elapsed, x)
        tips.append(Tip(a, b, f"{_when(rep, x)}: {text}"))
    return tips


def _throughput(rep: Report) -> str:
    title, x_label = "throughput over time", _seconds_axis(rep)
    y_label = "msg/s (simulated)" if rep.compressed else "msg/s"
    texts = []
    for x, rate in rep.throughput:
        said = f"{rate:.1f} msg/s delivered"
        if (expected := _at(rep.predicted, x, step=True)) is not None:
            said += f", {expected:.1f} predicted"
        texts.append(said + _down_text(rep, x))
    chart = time_chart(
        "timeline",
        title,
        x_label,
        y_label,
        x_max=max([rep.elapsed, *(x for x, _ in rep.throughput), 1e-09]),
        lines=[
            Line(rep.throughput, FLEET_COLOR, 3.0, opacity=0.7),
            Line(rep.predicted, PREDICTED_COLOR, 2.0, dashed=True),
        ],
        shades=_outages(rep),
        tips=_step_tips(rep, [x for x, _ in rep.throughput], texts),
    )
    keys = [(_key(FLEET_COLOR), "delivered per second"), (_key(PREDICTED_COLOR, True), "predicted")]
    if any(row.windows for row in rep.senders):
        keys.append((_swatch(OUTAGE_COLOR), "scheduled outage"))
    predicted = figure("predicted_rate").label.of(rep.compressed)
    note = (
        "Messages delivered per second, by when each delivery was recorded, each point a"
        " step of the run. Dashed: the rate the profiles predict for the senders up at each"
        f" moment ({predicted}: {fig.rate(rep.predicted_rate, rep.scale)}), drawn over the"
        " fleet's line."
    )
    if not rep.predicted:
        note += " No prediction is drawn: unbounded (a mean time of 0) or no profile known."
    if rep.charted < rep.sent:
        note += (
            f" The chart holds {rep.charted} of the {rep.sent} deliveries: the monitor's"
            " checkpoint was saved by a version that kept no time series."
        )
    return f'{chart}{_legend(*keys)}<p class="note">{escape(note)}</p>'


def _waits(rep: Report) -> str:
    """Queue wait + send of the messages delivered in each step of the run."""
    label = figure("queue_wait").label.of(rep.compressed)
    if not rep.waits:
        why = "no message delivered yet" if not rep.sent else "the monitor kept no wait times"
        return f'<p class="note">No chart: {escape(why)}.</p>'
    means = [(x, mean) for x, mean, _ in rep.waits]
    most = [(x, top) for x, _, top in rep.waits]
    texts = [f"mean {fig.secs(mean)}, largest {fig.secs(top)}" for _, mean, top in rep.waits]
    y_label = "seconds (simulated)" if rep.compressed else "seconds"
    chart = time_chart(
        "waits",
        "delivery time over time",
        _seconds_axis(rep),
        y_label,
        x_max=max([rep.elapsed, *(x for x, _ in means), 1e-09]),
        lines=[Line(most, MOST_COLOR, 1.25), Line(means, FLEET_COLOR, 2.5)],
        shades=_outages(rep),
        tips=_step_tips(rep, [x for x, _ in means], texts),
    )
    keys = [(_key(FLEET_COLOR), "mean"), (_key(MOST_COLOR, width=2), "largest")]
    note = (
        f"{label} of the messages delivered in each step of the run (the throughput"
        " chart's steps), by when each was delivered. Messages enqueued at once wait their"
        " turn, so the line climbs while a backlog drains; a steeper climb than expected"
        " means the fleet fell behind."
    )
    return f'{chart}{_legend(*keys)}<p class="note">{escape(note)}</p>'


def _per_sender(rep: Report, groups: Sequence[Group]) -> str:
    """One row per sender (grouped by profile): how fast it delivered over the run,
    relative to the fastest of its profile; stretches with nothing delivered stand out
    (random outages show so), scheduled outages hatched."""
    if not rep.senders:
        return '<p class="note">No sender has reported yet.</p>'
    buckets = {name: (width, points) for name, width, points in rep.buckets_by}
    grouped = _grouped(groups)
    shown = []
    for group in groups:
        found = {row.name: _stretches(*buckets.get(row.name, (0.0, ()))) for row in group.rows}
        top = max([rate for cells in found.values() for *_, rate in cells] + [1e-12])
        rows = [
            Row(row.name, _shades(found[row.name], top), row.windows, describe(row))
            for row in group.rows
        ]
        shown.append((group.label if grouped else "", rows))
    x_max = max([rep.elapsed] + [c.end for _, rows in shown for row in rows for c in row.cells])
    chart = timeline(
        "per-sender", "deliveries per sender over time", _seconds_axis(rep), shown, x_max=x_max
    )
    keys = [
        (_swatch(LEVEL_COLORS[0], 1), "slow"),
        (_swatch(LEVEL_COLORS[-1], 1), "fast (the fastest of its profile)"),
        (_swatch(NONE_COLOR, 1), "nothing delivered"),
    ]
    if any(row.windows for row in rep.senders):
        hatch = "background: repeating-linear-gradient(45deg, #222 0 2px, #fff 2px 5px)"
        keys.append((f'<span class="swatch" style="{hatch}"></span>', "scheduled outage"))
    note = (
        "Each sender's deliveries per second over the run, by when each was recorded, in"
        f" {LEVELS} shades relative to the fastest stretch of any sender of its profile;"
        " between its first and last delivery, a stretch with nothing delivered is orange:"
        " a random outage shows so (the monitor sees its effect, not the outage itself)."
    )
    if any(row.windows for row in rep.senders):
        note += " Hatched: the profile's scheduled outage windows."
    note += " Hover for the figures."
    return f'{chart}{_legend(*keys)}<p class="note">{escape(note)}</p>'


# (start, end, deliveries, rate) of a run of a sender's buckets
Stretch = tuple[float, float, float, float]


def _stretches(width: float, points: Sequence[Point]) -> list[Stretch]:
    """A sender's deliveries from its first bucket to its last, in stretches of whole
    buckets holding ``CELL_CROWD`` deliveries on average (fewer show mostly noise), but at
    least ``CELLS`` stretches in all, or one bucket each; a stretch of empty buckets holds
    none."""
    if not points or width <= 0:
        return []
    first, last = points[0][0], points[-1][0] + width
    span, sent = last - first, sum(n for _, n in points)
    step = width * max(1, math.floor(min(span * CELL_CROWD / sent, span / CELLS) / width))
    counts: dict[int, float] = {}
    for start, n in points:
        at = math.floor((start - first) / step + 1e-9)
        counts[at] = counts.get(at, 0.0) + n
    found: list[Stretch] = []
    for at in range(max(counts) + 1):
        a, b = first + at * step, min(first + (at + 1) * step, last)
        n = counts.get(at, 0.0)
        found.append((a, b, n, n / (b - a) if b > a else 0.0))
    return found


def _level(rate: float, top: float) -> int:
    """0 for nothing, else 1 (slowest) to LEVELS (as fast as ``top``)."""
    return 0 if rate <= 0 else min(LEVELS, max(1, math.ceil(LEVELS * rate / top - 1e-9)))


def _shades(stretches: Sequence[Stretch], top: float) -> list[Cell]:
    """Neighbouring stretches of one shade as one cell (its tooltip: their mean rate)."""
    runs: list[list[float]] = []  # start, end, deliveries, level
    for start, end, n, rate in stretches:
        level = _level(rate, top)
        if runs and runs[-1][3] == level and abs(runs[-1][1] - start) < 1e-9 * max(end, 1):
            runs[-1][1], runs[-1][2] = end, runs[-1][2] + n
        else:
            runs.append([start, end, n, level])
    cells = []
    for start, end, n, shade in runs:
        rate = n / (end - start) if end > start else 0.0
        said = f"{rate:.3g} msg/s" if n else "nothing delivered"
        cells.append(Cell(start, end, int(shade), f"{start:.0f}-{end:.0f} s: {said}"))
    return cells


# --- attempt times ----------------------------------------------------------------------


def _attempt_times(rep: Report, groups: Sequence[Group]) -> str:
    """A small chart per sender, every one on the same time axis; those of one profile on
    the same density axis too, under one curve."""
    if not rep.senders:
        return '<p class="note">No sender has reported yet.</p>'
    x_max = max([_reach(row) for row in rep.senders] + [0.0])
    x_label = "attempt time (simulated s)" if rep.compressed else "attempt time (s)"
    grouped = _grouped(groups)
    out = []
    for index, group in enumerate(groups):
        shape = group.rows[0].shape or DEFAULT_SHAPE
        mean = group.rows[0].mean_time or 0.0
        bars = {row.name: density_bins(row.attempt_times, x_max) for row in group.rows}
        curve = gamma_curve(mean, shape, x_max) if _reach(group.rows[0]) > 0 else []
        heights = [h for found in bars.values() for _, _, h in found] + [y for _, y in curve]
        frame = Frame(x_max, fitted(heights), SMALL)
        figures = []
        defined = False
        for row in group.rows:
            if _reach(row) <= 0 or not bars[row.name]:
                figures.append(_no_chart(row, grouped))
                continue
            use = f'<use href="#curve-{index}"/>' if curve else ""
            if curve and not defined:
                use = (
                    f'<defs><polyline id="curve-{index}" fill="none" stroke="{PREDICTED_COLOR}"'
                    f' stroke-width="1.5" points="{path(frame, curve)}"/></defs>{use}'
                )
                defined = True
            title = f"{row.name}: attempt time"
            chart = histogram(bars[row.name], frame, title, x_label, "density", curve=use)
            caption = _caption(row, grouped, bars[row.name])
            figures.append(f"<figure>{chart}<figcaption>{caption}</figcaption></figure>")
        if grouped:
            out.append(f'<h3>{escape(group.label)}</h3><div class="grid">{"".join(figures)}</div>')
        else:
            out += figures
    if not grouped:
        out = [f'<div class="grid">{"".join(out)}</div>']
    note = (
        "Bars: each sender's observed attempt times, failed or not, as a density. Red"
        " curve: the configured gamma (mean mean_time, shape shape). Every chart on one"
        " time axis; the charts of one profile share the density axis. A sender whose bars"
        " sit right of its curve is slower than configured."
    )
    return f'<p class="note">{escape(note)}</p>{"".join(out)}'


def _reach(row: SenderRow) -> float:
    """How far right a sender's chart needs to go (0: no chart)."""
    return bulk_range(row.attempt_times, row.mean_time, row.shape or DEFAULT_SHAPE)


def _caption(row: SenderRow, grouped: bool, bars: Sequence[tuple[float, float, float]]) -> str:
    seen = row.attempt_times
    said = f"observed: {seen.count:,} attempts, mean {fig.secs(seen.mean)}"
    beyond = 1.0 - sum((hi - lo) * density for lo, hi, density in bars)
    if beyond >= 0.0005:
        said += f"; {fig.ratio(beyond)} beyond the axis (up to {fig.secs(seen.quantile(1.0))})"
    caption = f"<b>{escape(row.name)}</b> {escape(said)}"
    if not grouped:
        configured = f"configured: {describe(row)}"
        caption += f'<br><span title="{escape(configured)}">{escape(configured)}</span>'
    return caption


def _no_chart(row: SenderRow, grouped: bool) -> str:
    seen = row.attempt_times
    what = "no attempt recorded" if not seen.count else "every attempt took 0 s (no delay)"
    configured = "" if grouped else f"; configured: {describe(row)}"
    return (
        f'<figure><figcaption><b>{escape(row.name)}</b></figcaption><p class="note">'
        f"No chart: {escape(what)}{escape(configured)}.</p></figure>"
    )

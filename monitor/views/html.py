"""The HTML report (``--report PATH``): one self-contained file to attach to a ticket.

Summary and percentile tables; the messages delivered over simulated time, for the
fleet and per gateway, against what the profiles predict; throughput over time (by the
results' own timestamps) against the fleet's prediction; the senders' table; and per
sender the observed attempt-time distribution against the configured gamma curve. Inline
CSS and SVG; no JS, no CDN. In a compressed run every time is simulated, and says so.
"""

from __future__ import annotations

import time
from html import escape
from pathlib import Path

from common.model import DEFAULT_SHAPE
from monitor.figures.catalogue import FIGURES, SENDER_FIGURES, Kind, Section, SenderFigure, figure
from monitor.figures.catalogue import SIMULATED as SIMULATED_KINDS
from monitor.figures.fleet import SenderRow
from monitor.figures.report import STATES, Report
from monitor.tally.quantiles import NAMES, Percentiles
from monitor.views import formatting as fig
from monitor.views.distribution import density_bins, gamma_curve, x_range
from monitor.views.svg import Line, bars_and_curve, line_chart, lines_chart

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 60em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg text { font-size: 11px; fill: #333; }
.note { color: #666; font-size: 0.9em; }
.warn { color: #b00; font-weight: bold; }
.key { display: inline-block; width: 1.5em; height: 0.25em; vertical-align: middle; }
"""
FLEET_COLOR, PREDICTED_COLOR = "#1f77b4", "#d62728"
MAX_LINES = 12  # gateways with a line of their own in the deliveries chart
GATEWAY_COLORS = ("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


def write_report(rep: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(rep), encoding="utf-8")


def report_html(rep: Report) -> str:
    generated = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(rep.now or time.time()))
    body = [
        f"<h1>SMS alert run {escape(rep.run)}: {STATES[rep.state]}</h1>",
        f'<p class="note">Redis {escape(rep.url or "?")}; report generated {generated}.</p>',
        "<h2>Summary</h2>",
        _distortion(rep),
        _summary_table(rep),
        _percentiles_table(rep),
        "<h2>Delivered over time</h2>",
        _delivered(rep),
        "<h2>Throughput over time</h2>",
        _throughput(rep),
        "<h2>Senders</h2>",
        _senders_table(rep),
        *(_sender_section(row, rep.compressed) for row in rep.senders),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>sms-sim run {escape(rep.run)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _table(header: list[str] | None, rows: list[list[str]]) -> str:
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>" if header else ""
    lines = ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows]
    return f"<table>{head}{''.join(lines)}</table>"


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


def _percentiles_table(rep: Report) -> str:
    rows = []
    for f in FIGURES:
        if f.kind is Kind.PERCENTILES:
            values = getattr(rep, f.key)
            cells = [fig.secs(v) for v in values.values()] if values else [fig.MISSING] * len(NAMES)
            rows.append([f.label.of(rep.compressed), *cells])
    return _table(["percentiles", *NAMES], rows)


def _seconds_axis(rep: Report) -> str:
    return ("simulated " if rep.compressed else "") + "seconds since the run's start"


def _delivered(rep: Report) -> str:
    """Messages delivered over simulated time: the fleet, each gateway, the prediction."""
    shown = _busiest(rep)
    gateways = [
        (name, GATEWAY_COLORS[i % len(GATEWAY_COLORS)], points)
        for i, (name, points) in enumerate(p for p in rep.delivered_by if p[0] in shown)
    ]
    lines = [Line(points, color, 1.25) for _, color, points in gateways]
    lines += [Line(rep.expected, PREDICTED_COLOR, dashed=True), Line(rep.delivered, FLEET_COLOR)]
    x_max = max([rep.elapsed, *(x for x, _ in rep.expected)])
    title = "messages delivered over time"
    chart = lines_chart(lines, title, _seconds_axis(rep), "messages delivered", x_max=x_max)
    keys = [(FLEET_COLOR, "the fleet"), (PREDICTED_COLOR, "predicted (dashed)")]
    keys += [(color, name) for name, color, _ in gateways]
    legend = " ".join(
        f'<span class="key" style="background:{color}"></span> {escape(name)}'
        for color, name in keys
    )
    took = fig.span(rep.elapsed, rep.scale)
    predicted = fig.left(rep.predicted_completion, rep.scale)
    note = (
        "Messages delivered since the run's start, by when each delivery was recorded: the"
        " fleet and each gateway. Dashed: what the virtual runs of the fleet predict, on"
        " average (the same gateways on a virtual clock: throughput caps, the account cap,"
        " outage windows and random outages, failure rates, backoff and undeliverable"
        f" numbers). {figure('predicted_completion').label.of(rep.compressed)}: {predicted};"
        f" the run {'took' if rep.complete else 'has run'} {took}."
    )
    if not rep.expected:
        note += " No prediction is drawn: unbounded (a mean time of 0) or no profile known."
    if len(shown) < len(rep.delivered_by):
        note += f" One line each for the {len(shown)} gateways that delivered most."
    return f'{chart}<p class="note">{legend}</p><p class="note">{escape(note)}</p>'


def _busiest(rep: Report) -> set[str]:
    """The gateways that get a line: all of them, or the MAX_LINES that delivered most."""
    ranked = sorted(rep.senders, key=lambda row: -row.sent)
    return {row.name for row in ranked[:MAX_LINES]}


def _throughput(rep: Report) -> str:
    title, x_label = "throughput over time", _seconds_axis(rep)
    y_label = "msg/s (simulated)" if rep.compressed else "msg/s"
    chart = line_chart(
        rep.throughput, title, x_label, y_label, reference=rep.predicted, x_max=rep.elapsed
    )
    predicted = figure("predicted_rate").label.of(rep.compressed)
    note = (
        "Blue: messages delivered per second, by when each delivery was recorded. "
        "Dashed red: the rate the profiles predict for the senders up at each moment"
        f" ({predicted}: {fig.rate(rep.predicted_rate, rep.scale)})."
    )
    if not rep.predicted:
        note += " No prediction is drawn: unbounded (a mean time of 0) or no profile known."
    if rep.charted < rep.sent:
        note += (
            f" The chart holds {rep.charted} of the {rep.sent} deliveries: the monitor's"
            " checkpoint was saved by a version that kept no time series."
        )
    return f'{chart}<p class="note">{escape(note)}</p>'


def _senders_table(rep: Report) -> str:
    """A column per sender figure (per percentile); ``(simulated)`` on times and rates in
    a compressed run."""
    sim = " (simulated)" if rep.compressed else ""
    header = ["sender"]
    for f in SENDER_FIGURES:
        title = f.header.replace("\n", " ") + (sim if f.kind in SIMULATED_KINDS else "")
        header += [f"{title} {q}" for q in NAMES] if f.kind is Kind.PERCENTILES else [title]
    rows = [[row.name, *(c for f in SENDER_FIGURES for c in _cells(f, row))] for row in rep.senders]
    return _table(header, rows)


def _cells(f: SenderFigure, row: SenderRow) -> list[str]:
    value = getattr(row, f.key)
    if f.kind is Kind.PERCENTILES:
        found: Percentiles | None = value
        return [fig.secs(v) for v in found.values()] if found else [fig.MISSING] * len(NAMES)
    return [fig.text(f.kind, value)]


def _sender_section(row: SenderRow, compressed: bool) -> str:
    seen = row.attempt_times
    shape = row.shape or DEFAULT_SHAPE
    x_max = x_range(seen, row.mean_time, shape)
    if row.mean_time is None:
        configured = "unknown profile"
    elif row.mean_time <= 0:
        configured = "configured mean 0: no delay"
    else:
        configured = f"configured gamma: mean {fig.secs(row.mean_time)}, shape {shape:g}"
    observed = f"observed: {seen.count} attempts, mean {fig.secs(seen.mean)}"
    if x_max <= 0:
        what = "no attempt recorded" if not seen.count else "every attempt took 0 s (no delay)"
        return (
            f'<section class="sender"><h3>{escape(row.name)}</h3>'
            f'<p class="note">No chart: {escape(what)}; {escape(configured)}.</p></section>'
        )
    bars = density_bins(seen, x_max)
    curve = gamma_curve(row.mean_time or 0.0, shape, x_max)
    title = f"{row.name}: attempt time"
    x_label = "attempt time (simulated s)" if compressed else "attempt time (s)"
    chart = bars_and_curve(bars, curve, title, x_label, "density")
    return (
        f'<section class="sender"><h3>{escape(row.name)}</h3>{chart}'
        f'<p class="note">Bars: {escape(observed)}. Red curve: {escape(configured)}.</p>'
        "</section>"
    )

"""The HTML report (``--report PATH``): one self-contained file to attach to a ticket.

Summary table, throughput over time, and per sender the observed attempt-time
distribution against the configured gamma curve. Inline CSS and SVG; no JS, no CDN.
"""

from __future__ import annotations

import itertools
import math
import time
from html import escape
from pathlib import Path

from common.format import duration
from monitor import figures as fig
from monitor.distribution import DEFAULT_SHAPE, density_bins, gamma_curve, x_range
from monitor.fleet import SenderRow, fleet
from monitor.rates import predicted_rate
from monitor.stats import SenderStats
from monitor.summary import Snapshot
from monitor.svg import Point, bars_and_curve, line_chart

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 60em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg text { font-size: 11px; fill: #333; }
.note { color: #666; font-size: 0.9em; }
"""


def write_report(snap: Snapshot, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(snap), encoding="utf-8")


def report_html(snap: Snapshot) -> str:
    rows = fleet(snap)
    state = "complete" if snap.state.complete else "stopped before completion"
    generated = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(snap.now or time.time()))
    body = [
        f"<h1>SMS alert run {escape(snap.run)}: {state}</h1>",
        f'<p class="note">Redis {escape(snap.url or "?")}; report generated {generated}.</p>',
        "<h2>Summary</h2>",
        _summary_table(snap, rows),
        "<h2>Throughput over time</h2>",
        _throughput(snap, rows),
        "<h2>Senders</h2>",
        _senders_table(rows),
        *(_sender_section(row, snap.stats.senders.get(row.name)) for row in rows),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>sms-sim run {escape(snap.run)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _table(header: list[str] | None, rows: list[list[str]]) -> str:
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>" if header else ""
    lines = ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows]
    return f"<table>{head}{''.join(lines)}</table>"


def _summary_table(snap: Snapshot, rows: list[SenderRow]) -> str:
    s = snap.stats
    latency = " / ".join(fig.secs(s.latency.quantile(q)) for q in (0.5, 0.95, 0.99))
    return _table(
        None,
        [
            ["elapsed", duration(snap.elapsed)],
            ["sent (messages delivered)", f"{s.sent} / {snap.state.total}"],
            ["failed attempts", str(s.failed)],
            ["attempts", str(s.attempts)],
            ["failure ratio", fig.pct(s.failed, s.attempts)],
            ["avg time/attempt", fig.secs(s.avg_attempt_time)],
            ["avg time/message (incl. retries)", fig.secs(s.avg_time_per_message)],
            ["throughput (overall)", fig.rate(snap.throughput)],
            ["predicted rate (every sender's profile)", fig.rate(predicted_rate(rows, True))],
            ["latency p50 / p95 / p99 (enqueue to delivered)", latency],
            ["duplicates suppressed", str(s.duplicates)],
            ["abandoned", str(snap.state.abandoned)],
            ["dead letters", str(snap.state.dead_letters)],
        ],
    )


def throughput_points(snap: Snapshot) -> list[Point]:
    """(seconds since the start, msg/s over the interval ending there)."""
    samples = snap.timeline.points()
    if not samples:
        return []
    start = snap.created or samples[0][0]
    points = []
    for (t0, s0), (t1, s1) in itertools.pairwise(samples):
        if t1 > t0:
            points.append((t1 - start, (s1 - s0) / (t1 - t0)))
    return points


def _throughput(snap: Snapshot, rows: list[SenderRow]) -> str:
    points = throughput_points(snap)
    predicted = predicted_rate(rows, True)
    level = predicted if 0 < predicted < math.inf else None
    note = "Blue: measured between reports. Dashed red: predicted from the profiles."
    chart = line_chart(points, "throughput over time", "seconds since start", "msg/s", level)
    return f'{chart}<p class="note">{note}</p>'


def _senders_table(rows: list[SenderRow]) -> str:
    header = ["sender", "status", "cfg mean", "cfg failure rate", "concurrency", "sent"]
    header += ["failed attempts", "obs mean attempt", "obs failure ratio", "share"]
    return _table(
        header,
        [
            [
                r.name,
                r.status,
                fig.MISSING if r.mean_time is None else fig.secs(r.mean_time),
                fig.maybe(r.failure_rate, ".3f"),
                str(r.concurrency),
                str(r.sent),
                str(r.failed),
                fig.secs(r.avg_attempt_time) if r.attempts else fig.MISSING,
                f"{r.failure_ratio:.3f}" if r.attempts else fig.MISSING,
                f"{100 * r.share:.1f}%",
            ]
            for r in rows
        ],
    )


def _sender_section(row: SenderRow, stats: SenderStats | None) -> str:
    seen = stats or SenderStats()
    shape = row.shape or DEFAULT_SHAPE
    x_max = x_range(seen.durations, row.mean_time, shape)
    bars = density_bins(seen.durations, x_max)
    curve = gamma_curve(row.mean_time or 0.0, shape, x_max)
    title = f"{row.name}: attempt time"
    chart = bars_and_curve(bars, curve, title, "attempt time (s)", "density")
    configured = (
        "unknown profile"
        if row.mean_time is None
        else f"configured gamma: mean {fig.secs(row.mean_time)}, shape {shape:g}"
    )
    observed = f"observed: {seen.attempts} attempts, mean {fig.secs(seen.avg_attempt_time)}"
    return (
        f'<section class="sender"><h3>{escape(row.name)}</h3>{chart}'
        f'<p class="note">Bars: {escape(observed)}. Red curve: {escape(configured)}.</p>'
        "</section>"
    )

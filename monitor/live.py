"""The live dashboard on a terminal (rich), redrawn every report period, and the final
summary table. Everything goes to stderr; stdout stays free for ``--json``."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table

from common.format import duration
from monitor import figures as fig
from monitor.fleet import SenderRow, fleet
from monitor.health import GONE, IDLE, LIVE
from monitor.rates import Rates, predicted_rate, rates
from monitor.summary import Snapshot

STATUS_STYLE = {LIVE: "green", IDLE: "yellow", GONE: "red"}
WIDE = 100  # columns from which figures go three to a line (two below)


def render(snap: Snapshot, width: int = WIDE) -> RenderableType:
    """The whole dashboard for one snapshot, laid out for a terminal ``width`` wide."""
    rows = fleet(snap)
    r = rates(snap, rows)
    per_line = 3 if width >= WIDE else 2
    body = Group(
        _progress(snap),
        "",
        _rates(snap, r, per_line),
        "",
        _totals(snap, per_line),
        "",
        _senders(rows),
    )
    state = "complete" if snap.state.complete else "running"
    title = f"[b]sms-sim[/b]  run [b]{snap.run}[/b]  {state}  elapsed {duration(snap.elapsed)}"
    return Panel(body, title=title, title_align="left", subtitle=f"redis {snap.url or '?'}")


def _progress(snap: Snapshot) -> Table:
    total, sent = snap.state.total, snap.stats.sent
    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(ratio=1)
    grid.add_column(justify="right", no_wrap=True)
    bar = ProgressBar(total=max(total, 1), completed=min(sent, total), width=None)
    grid.add_row(bar, f"sent {sent} / {total}  {fig.pct(sent, total)}")
    return grid


def _pairs(per_line: int, *pairs: tuple[str, str]) -> Table:
    """label/value pairs laid out ``per_line`` to a line."""
    grid = Table.grid(padding=(0, 1), expand=True)
    for _ in range(per_line):
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(no_wrap=True)
    for i in range(0, len(pairs), per_line):
        cells = [cell for pair in pairs[i : i + per_line] for cell in pair]
        grid.add_row(*cells)
    return grid


def _rates(snap: Snapshot, r: Rates, per_line: int) -> Table:
    """Measured beside predicted; each finish time under the rate it comes from."""
    current = ("rate (last 10 s)", fig.rate(r.current))
    overall = ("overall rate", fig.rate(r.overall))
    predicted = ("predicted rate", fig.rate(r.predicted))
    eta = ("ETA", fig.left(r.eta))
    finish = ("predicted finish", fig.finish(snap.now, r.predicted_eta))
    remaining = ("remaining", str(r.remaining))
    if per_line >= 3:
        return _pairs(3, current, overall, predicted, eta, remaining, finish)
    return _pairs(2, current, predicted, eta, finish, overall, remaining)


def _totals(snap: Snapshot, per_line: int) -> Table:
    s = snap.stats
    lat = s.latency
    return _pairs(
        per_line,
        ("sent (messages)", str(s.sent)),
        ("failed attempts", str(s.failed)),
        ("attempts", str(s.attempts)),
        ("failure ratio", fig.pct(s.failed, s.attempts)),
        ("avg time/attempt", fig.secs(s.avg_attempt_time)),
        ("avg time/message", fig.secs(s.avg_time_per_message)),
        ("latency p50", fig.secs(lat.quantile(0.50))),
        ("latency p95", fig.secs(lat.quantile(0.95))),
        ("latency p99", fig.secs(lat.quantile(0.99))),
        ("duplicates suppressed", str(s.duplicates)),
        ("abandoned", str(snap.state.abandoned)),
        ("dead letters", str(snap.state.dead_letters)),
    )


HEADERS = (
    "cfg\nmean",
    "cfg\nfail",
    "status",
    "sent",
    "failed\nattempts",
    "obs\nmean",
    "obs\nfail",
    "share",
)


def _senders(rows: list[SenderRow]) -> Table:
    table = Table(expand=True, box=None, header_style="bold", pad_edge=False)
    table.add_column("sender", overflow="ellipsis", no_wrap=True, ratio=1)
    for header in HEADERS:
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(
            row.name,
            fig.MISSING if row.mean_time is None else fig.secs(row.mean_time),
            fig.maybe(row.failure_rate, ".2f"),
            f"[{STATUS_STYLE.get(row.status, '')}]{row.status}[/]",
            str(row.sent),
            str(row.failed),
            fig.secs(row.avg_attempt_time) if row.attempts else fig.MISSING,
            f"{row.failure_ratio:.2f}" if row.attempts else fig.MISSING,
            f"{100 * row.share:.1f}%",
        )
    return table


def summary_table(snap: Snapshot) -> RenderableType:
    """The final summary: every figure of the dashboard, then the senders."""
    rows = fleet(snap)
    s = snap.stats
    table = Table(title=f"run {snap.run!r}: final summary", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in (
        ("state", "complete" if snap.state.complete else "stopped before completion"),
        ("elapsed", duration(snap.elapsed)),
        ("sent (messages delivered)", f"{s.sent} / {snap.state.total}"),
        ("failed attempts", str(s.failed)),
        ("attempts", str(s.attempts)),
        ("failure ratio", fig.pct(s.failed, s.attempts)),
        ("avg time/attempt", fig.secs(s.avg_attempt_time)),
        ("avg time/message (incl. retries)", fig.secs(s.avg_time_per_message)),
        ("overall rate", fig.rate(snap.throughput)),
        ("predicted rate (profiles)", fig.rate(predicted_rate(rows, True))),
        ("latency p50 / p95 / p99", _latencies(snap)),
        ("duplicates suppressed", str(s.duplicates)),
        ("abandoned", str(snap.state.abandoned)),
        ("dead letters", str(snap.state.dead_letters)),
    ):
        table.add_row(label, value)
    return Group(table, "", _senders(rows))


def _latencies(snap: Snapshot) -> str:
    lat = snap.stats.latency
    return " / ".join(fig.secs(lat.quantile(q)) for q in (0.50, 0.95, 0.99))


class LiveView:
    """Redraws the dashboard on each update; on finish (or close) stops the live display
    and prints the final summary. Log lines print above the dashboard while it runs."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._live: Live | None = None
        self._moved: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []

    def update(self, snap: Snapshot) -> None:
        if self._live is None:
            self._start()
        assert self._live is not None
        self._live.update(render(snap, self.console.width), refresh=True)

    def finish(self, snap: Snapshot) -> None:
        self.close()
        self.console.print(summary_table(snap))

    def close(self) -> None:
        """Stop the live display and give logging its stream back; safe to call twice."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()
        for handler, stream in self._moved:
            handler.setStream(stream)
        self._moved = []

    def _start(self) -> None:
        stderr = sys.stderr
        self._live = Live(
            console=self.console, auto_refresh=False, transient=True, redirect_stdout=False
        )
        self._live.start()
        if sys.stderr is not stderr:  # rich redirected stderr: route log lines through it
            self._move_logging(stderr, sys.stderr)

    def _move_logging(self, old: TextIO, new: TextIO) -> None:
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is old:
                self._moved.append((handler, old))
                handler.setStream(new)

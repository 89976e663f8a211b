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
from monitor.fleet import SenderRow
from monitor.health import GONE, IDLE, LIVE
from monitor.report import LABELS, STATES, Report
from monitor.snapshot import Snapshot

STATUS_STYLE = {LIVE: "green", IDLE: "yellow", GONE: "red"}
WIDE = 100  # columns from which figures go three to a line (two below)


def render(snap: Snapshot, width: int = WIDE) -> RenderableType:
    """The whole dashboard for one snapshot, laid out for a terminal ``width`` wide."""
    rep = snap.report
    per_line = 3 if width >= WIDE else 2
    body = Group(
        _progress(rep),
        "",
        _rates(rep, per_line),
        "",
        _totals(rep, per_line),
        "",
        _senders(rep.senders),
    )
    state = STATES[rep.state(final=False)]
    title = f"[b]sms-sim[/b]  run [b]{rep.run}[/b]  {state}  elapsed {duration(rep.elapsed)}"
    return Panel(body, title=title, title_align="left", subtitle=f"redis {rep.url or '?'}")


def _progress(rep: Report) -> Table:
    total, sent = rep.total, rep.sent
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


def _short(figure: str, value: str) -> tuple[str, str]:
    return LABELS[figure].short, value


def _rates(rep: Report, per_line: int) -> Table:
    """Measured beside predicted; each finish time under the rate it comes from."""
    current = _short("rate", fig.rate(rep.rate))
    overall = _short("overall_rate", fig.rate(rep.overall_rate))
    predicted = _short("predicted_rate", fig.rate(rep.predicted_rate))
    eta = _short("eta", fig.left(rep.eta))
    finish = _short("predicted_finish", fig.finish(rep.now, rep.predicted_eta))
    remaining = _short("remaining", str(rep.remaining))
    if per_line >= 3:
        return _pairs(3, current, overall, predicted, eta, remaining, finish)
    return _pairs(2, current, predicted, eta, finish, overall, remaining)


def _totals(rep: Report, per_line: int) -> Table:
    latency = LABELS["latency"].short
    return _pairs(
        per_line,
        _short("sent", str(rep.sent)),
        _short("failed", str(rep.failed)),
        _short("attempts", str(rep.attempts)),
        _short("failure_ratio", fig.ratio(rep.failure_ratio)),
        _short("avg_attempt_time", fig.secs(rep.avg_attempt_time)),
        _short("avg_time_per_message", fig.secs(rep.avg_time_per_message)),
        *((f"{latency} {name}", fig.secs(value)) for name, value in rep.latency.items()),
        _short("duplicates", str(rep.duplicates)),
        _short("abandoned", str(rep.abandoned)),
        _short("dead_letters", str(rep.dead_letters)),
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


def _senders(rows: tuple[SenderRow, ...]) -> Table:
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
    rep = snap.report
    table = Table(title=f"run {rep.run!r}: final summary", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(justify="right")
    latency = " / ".join(fig.secs(value) for _, value in rep.latency.items())
    for figure, value in (
        ("state", STATES[rep.state(final=True)]),
        ("elapsed", duration(rep.elapsed)),
        ("sent", f"{rep.sent} / {rep.total}"),
        ("failed", str(rep.failed)),
        ("attempts", str(rep.attempts)),
        ("failure_ratio", fig.ratio(rep.failure_ratio)),
        ("avg_attempt_time", fig.secs(rep.avg_attempt_time)),
        ("avg_time_per_message", fig.secs(rep.avg_time_per_message)),
        ("overall_rate", fig.rate(rep.overall_rate)),
        ("predicted_all", fig.rate(rep.predicted_all)),
        ("latency", latency),
        ("duplicates", str(rep.duplicates)),
        ("abandoned", str(rep.abandoned)),
        ("dead_letters", str(rep.dead_letters)),
    ):
        table.add_row(LABELS[figure].text, value)
    return Group(table, "", _senders(rep.senders))


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

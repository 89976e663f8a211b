"""The live dashboard on a terminal (rich), redrawn every report period, and the final
summary table. Everything goes to stderr; stdout stays free for ``--json``.

The dashboard fits the terminal it is drawn on: when the senders do not all fit its
height, the blank lines go first, then the sender table shows one page of senders per
report, in turn; when the width is short, the sender table drops its least needed columns
before a sender's name is cut. The dashboard keeps off the terminal's last columns and
its last line: a ``^C`` the terminal echoes at the end of a full-width line wraps it, and
a dashboard as high as the terminal scrolls when rich ends it with a newline; either way
the dashboard would then be cleared one line too low, leaving its top border behind.
"""

from __future__ import annotations

import io
import logging
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.measure import Measurement
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from monitor import figures as fig
from monitor.fleet import SenderRow
from monitor.health import DONE, GONE, IDLE, LIVE, OUTAGE, UP
from monitor.quantiles import NAMES
from monitor.report import PERCENTILE_FIGURES, STATES, Report
from monitor.snapshot import Snapshot

STATUS_STYLE = {LIVE: "green", IDLE: "yellow", OUTAGE: "magenta", GONE: "red", DONE: "blue"}
WIDE = 100  # columns of a dashboard drawn for no terminal in particular
EDGE = 2  # columns left free at the right of the dashboard (see above)
FRAME = 4  # columns the panel's borders and padding take
NAME_ROOM = 14  # columns a sender's name keeps before its table drops a column
MAX_ERRORS = 3  # senders' errors shown under the table
BORDERS = 2  # lines the panel's borders take
SENDER_HEAD = 2  # lines the sender table's header takes


def render(
    snap: Snapshot, width: int = WIDE, height: int | None = None, page: int = 0
) -> RenderableType:
    """The whole dashboard for one snapshot, laid out for a terminal ``width`` wide and
    ``height`` high (None: as high as it needs); ``page``: which page of senders to show
    when they do not all fit (it turns over)."""
    rep = snap.report
    inner = width - EDGE - FRAME
    errors = _errors(rep.senders)
    sections = [
        _progress(rep),
        _rates(rep, inner),
        _totals(rep, inner),
        _percentiles(rep, short=True),
    ]
    sections, blank, room = _fit_height(sections, height, len(rep.senders), len(errors))
    rows, footer = _page(rep.senders, room, page)
    parts: list[RenderableType] = [*sections, Group(_senders(rows, inner, False), *footer, *errors)]
    body = Group(*_spaced(parts, blank))
    state = STATES[rep.state(final=False)]
    run = escape(rep.run)
    elapsed = escape(fig.span(rep.elapsed, rep.scale, mark=True))
    title = f"[b]sms-sim[/b]  run [b]{run}[/b]  {state}  elapsed {elapsed}"
    subtitle = escape(f"redis {rep.url or '?'}")
    return Panel(body, title=title, title_align="left", subtitle=subtitle, width=width - EDGE)


def _fit_height(
    sections: list[Table], height: int | None, senders: int, errors: int
) -> tuple[list[Table], bool, int]:
    """The sections shown above the senders, whether blank lines part them, and how many
    lines the senders' rows get. When they do not all fit, the blank lines go first; then
    the senders are paged, and the percentiles, the totals and the rates go in turn until
    a page of one sender fits."""
    if height is None:
        return sections, True, senders
    tries = [(len(sections), True, senders), (len(sections), False, senders)]
    tries += [(kept, False, min(senders, 2)) for kept in range(len(sections), 0, -1)]
    room = 0
    for kept, blank, need in tries:
        shown = sections[:kept]
        used = BORDERS + sum(t.row_count for t in shown) + SENDER_HEAD + errors
        room = height - used - (len(shown) if blank else 0)
        if room >= need:
            return shown, blank, room
    return sections[:1], False, max(room, 1)


def _spaced(parts: list[RenderableType], blank: bool) -> list[RenderableType]:
    if not blank:
        return parts
    spaced: list[RenderableType] = []
    for part in parts:
        spaced += [part, ""]
    return spaced[:-1]


def _page(
    rows: tuple[SenderRow, ...], room: int, page: int
) -> tuple[tuple[SenderRow, ...], list[Text]]:
    """The rows that fit in ``room`` lines: all of them, or page ``page`` (turning over)
    with a line saying which these are."""
    if len(rows) <= room:
        return rows, []
    per_page = max(room - 1, 1)
    pages = math.ceil(len(rows) / per_page)
    first = (page % pages) * per_page
    shown = rows[first : first + per_page]
    note = f"senders {first + 1}-{first + len(shown)} of {len(rows)} (the rest on the next reports)"
    return shown, [Text(note, style="dim", no_wrap=True, overflow="ellipsis")]


def _progress(rep: Report) -> Table:
    total, sent = rep.total, rep.sent
    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(ratio=1)
    grid.add_column(justify="right", no_wrap=True)
    bar = ProgressBar(total=max(total, 1), completed=min(sent, total), width=None)
    grid.add_row(bar, f"sent {sent} / {total}  {fig.pct(sent, total)}  {rep.remaining} left")
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


def _fit(width: int, layouts: dict[int, list[tuple[str, str]]]) -> Table:
    """The layout with the most pairs to a line that fits ``width`` uncut."""
    console = Console(width=10_000, file=io.StringIO())
    for per_line in sorted(layouts, reverse=True):
        grid = _pairs(per_line, *layouts[per_line])
        if per_line == 1 or Measurement.get(console, console.options, grid).maximum <= width:
            return grid
    raise ValueError("no layout")


def _short(rep: Report, figure: str, value: str) -> tuple[str, str]:
    return rep.label(figure, short=True), value


def _rates(rep: Report, width: int) -> Table:
    """Each measured rate beside its prediction; each finish time under its rate."""
    scale = rep.scale
    current = _short(rep, "rate", fig.rate(rep.rate, scale))
    now = _short(rep, "predicted_now", fig.rate(rep.predicted_now, scale))
    overall = _short(rep, "overall_rate", fig.rate(rep.overall_rate, scale))
    predicted = _short(rep, "predicted_rate", fig.rate(rep.predicted_rate, scale))
    eta = _short(rep, "eta", fig.left(rep.eta, scale))
    finish = _short(rep, "predicted_finish", fig.finish(rep.now, rep.predicted_eta, scale))
    by_kind = [current, now, overall, predicted, eta, finish]
    return _fit(width, {3: [current, now, eta, overall, predicted, finish], 2: by_kind, 1: by_kind})


def _totals(rep: Report, width: int) -> Table:
    pairs = [
        _short(rep, "failed", str(rep.failed)),
        _short(rep, "attempts", str(rep.attempts)),
        _short(rep, "failure_ratio", fig.ratio(rep.failure_ratio)),
        _short(rep, "avg_attempt_time", fig.secs(rep.avg_attempt_time)),
        _short(rep, "avg_time_per_message", fig.secs(rep.avg_time_per_message)),
        _short(rep, "duplicates", str(rep.duplicates)),
        _short(rep, "abandoned", str(rep.abandoned)),
        _short(rep, "undeliverable", str(rep.undeliverable)),
        _short(rep, "dead_letters", str(rep.dead_letters)),
    ]
    return _fit(width, {3: pairs, 2: pairs, 1: pairs})


def _percentiles(rep: Report, short: bool) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    for _ in NAMES:
        grid.add_column(justify="right", no_wrap=True)
    grid.add_row("simulated" if rep.compressed and short else "", *NAMES)
    for figure in PERCENTILE_FIGURES:
        label = rep.label(figure, short)
        values = rep.percentiles(figure)
        cells = [fig.secs(v) for v in values.values()] if values else [fig.MISSING] * len(NAMES)
        grid.add_row(label, *cells)
    return grid


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[SenderRow], str]
    drop: int = 0  # when room is short the highest goes first; 0 always stays


def _observed(row: SenderRow, value: float) -> str:
    return fig.brief(value) if row.attempts else fig.MISSING


def _status(row: SenderRow) -> str:
    return f"[{STATUS_STYLE.get(row.status, '')}]{row.status}[/]"


def _slots(row: SenderRow) -> str:
    busy = str(row.inflight) if row.status in UP else fig.MISSING
    return f"{busy}/{row.concurrency}"


def _cfg_mean(row: SenderRow) -> str:
    return fig.MISSING if row.mean_time is None else fig.brief(row.mean_time)


def _attempt(i: int) -> Callable[[SenderRow], str]:
    return lambda row: _observed(row, row.attempt_time.values()[i])


LIVE_COLUMNS = (
    Column("status", _status),
    Column("busy/\nslots", _slots, 1),
    Column("sent", lambda r: str(r.sent)),
    Column("share", lambda r: fig.ratio(r.share), 2),
    Column("failed\nattempts", lambda r: str(r.failed), 3),
    Column("cfg\nmean", _cfg_mean, 5),
    Column("obs\nmean", lambda r: _observed(r, r.avg_attempt_time), 4),
    Column("cfg\nfail", lambda r: fig.ratio(r.failure_rate), 7),
    Column("obs\nfail", lambda r: fig.ratio(r.failure_ratio), 6),
)
FINAL_COLUMNS = (
    LIVE_COLUMNS[0],
    Column("slots", lambda r: str(r.concurrency), 1),
    *LIVE_COLUMNS[2:],
    *(Column(f"attempt\n{name}", _attempt(i), 8) for i, name in enumerate(NAMES)),
)


def _senders(rows: tuple[SenderRow, ...], width: int, final: bool) -> Table:
    """The senders' table in ``width`` columns: the name keeps up to NAME_ROOM of them
    while columns can be dropped."""
    columns = list(FINAL_COLUMNS if final else LIVE_COLUMNS)
    cells = [[column.cell(row) for column in columns] for row in rows]
    widths = [
        max(
            [len(line) for line in column.header.split("\n")]
            + [Text.from_markup(c[i]).cell_len for c in cells]
        )
        for i, column in enumerate(columns)
    ]
    name_room = min(max([len(row.name) for row in rows] + [len("sender")]), NAME_ROOM)
    keep = list(range(len(columns)))
    for index in sorted(keep, key=lambda i: -columns[i].drop):
        if sum(widths[i] + 2 for i in keep) + name_room <= width or not columns[index].drop:
            break
        keep.remove(index)
    table = Table(expand=True, box=None, header_style="bold", pad_edge=False)
    table.add_column("sender", overflow="ellipsis", no_wrap=True, ratio=1, min_width=name_room)
    for i in keep:
        table.add_column(columns[i].header, justify="right", no_wrap=True)
    for row, row_cells in zip(rows, cells, strict=True):
        table.add_row(Text(row.name), *(row_cells[i] for i in keep))
    return table


def _errors(rows: tuple[SenderRow, ...]) -> list[Text]:
    """What keeps senders from working, as their heartbeats say: one line each."""
    lines = [
        Text(f"{row.name}: {row.error}", style="red", no_wrap=True, overflow="ellipsis")
        for row in rows
        if row.error
    ]
    if len(lines) > MAX_ERRORS:
        more = len(lines) - MAX_ERRORS + 1
        lines = [
            *lines[: MAX_ERRORS - 1],
            Text(f"... and {more} more senders report errors", style="red"),
        ]
    return lines


def summary_table(snap: Snapshot, width: int = WIDE) -> RenderableType:
    """The final summary: every figure of the dashboard, then the senders."""
    rep = snap.report
    title = escape(f"run {rep.run!r}: final summary")
    table = Table(title=title, show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(justify="right")
    scale = rep.scale
    for figure, value in [
        ("state", STATES[rep.state(final=True)]),
        ("elapsed", fig.span(rep.elapsed, scale, mark=True)),
        *rep.totals(),
    ]:
        table.add_row(rep.label(figure), escape(value))
    senders = _senders(rep.senders, width, final=True)
    return Group(table, "", _percentiles(rep, short=False), "", senders, *_errors(rep.senders))


class LiveView:
    """Redraws the dashboard on each update; on finish (or close) stops the live display
    and prints the final summary. Log lines print above the dashboard while it runs."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._live: Live | None = None
        self._page = 0  # which page of senders the next redraw shows, when they do not fit
        self._moved: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []

    def update(self, snap: Snapshot) -> None:
        if self._live is None:
            self._start()
        assert self._live is not None
        width, height = self.console.size
        self._live.update(render(snap, width, height - 1, self._page), refresh=True)
        self._page += 1

    def finish(self, snap: Snapshot) -> None:
        self.close()
        self.console.print(summary_table(snap, self.console.width))

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

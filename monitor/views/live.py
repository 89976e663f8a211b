"""The live dashboard on a terminal (rich), redrawn every report period, and the final
summary table. Everything goes to stderr; stdout stays free for ``--json``.

The dashboard fits the terminal it is drawn on: when the senders do not all fit its
height, the blank lines go first, then the sender table shows one page of senders per
report, in turn; when the width is short, the sender table drops its least needed columns
before a sender's name is cut. The dashboard keeps off the terminal's last columns and
its last line: a ``^C`` the terminal echoes at the end of a full-width line wraps it, and
a dashboard as high as the terminal scrolls when rich ends it with a newline; either way
the dashboard would then be cleared one line too low, leaving its top border behind.

Its title says when it was last drawn and how often it is (``updated 14:02:07, every
2.0 s``: a screen that stopped changing shows it), and a line above the senders' table
counts them by status (``40 senders: 38 live, 2 outage``).
"""

from __future__ import annotations

import io
import logging
import math
import sys
import time
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

from monitor.figures.catalogue import (
    SENDER_FIGURES,
    Figure,
    Kind,
    Section,
    SenderFigure,
    in_section,
)
from monitor.figures.fleet import SenderRow
from monitor.figures.health import DONE, GONE, IDLE, LIVE, OUTAGE, STATUSES
from monitor.figures.report import STATES, Report
from monitor.tally.quantiles import LABELS, NAMES, SHORT, Percentiles
from monitor.views import formatting as fig

STATUS_STYLE = {LIVE: "green", IDLE: "yellow", OUTAGE: "magenta", GONE: "red", DONE: "blue"}
WIDE = 100  # columns of a dashboard drawn for no terminal in particular
EDGE = 2  # columns left free at the right of the dashboard (see above)
FRAME = 4  # columns the panel's borders and padding take
NAME_ROOM = 14  # columns a sender's name keeps before its table drops a column
MAX_ERRORS = 3  # senders' errors shown under the table
BORDERS = 2  # lines the panel's borders take
SENDER_HEAD = 2  # lines the sender table's header takes
CENSUS = 1  # the line counting the senders by status


def render(
    rep: Report,
    width: int = WIDE,
    height: int | None = None,
    page: int = 0,
    *,
    updated: str | None = None,
    every: float | None = None,
) -> RenderableType:
    """The whole dashboard for one snapshot, laid out for a terminal ``width`` wide and
    ``height`` high (None: as high as it needs); ``page``: which page of senders to show
    when they do not all fit (it turns over); ``updated``: when it was drawn (HH:MM:SS),
    ``every``: seconds since the drawing before (the title says both, as room allows)."""
    inner = width - EDGE - FRAME
    errors = _errors(rep.senders)
    sections = [
        _progress(rep),
        _fit(inner, _pairs_of(rep, in_section(Section.RATES))),
        _fit(inner, _pairs_of(rep, in_section(Section.ATTEMPTS, Section.SETTLED))),
        _percentiles(rep, short=True, names=SHORT),
    ]
    sections, blank, room = _fit_height(sections, height, len(rep.senders), len(errors))
    rows, shown = _page(rep.senders, room, page)
    table = Group(_census(rep, shown), _senders(rows, inner), *errors)
    parts: list[RenderableType] = [*sections, table]
    body = Group(*_spaced(parts, blank))
    state = STATES[rep.state]
    run = escape(rep.run)
    elapsed = escape(fig.span(rep.elapsed, rep.scale, mark=True))
    title = f"[b]sms-sim[/b]  run [b]{run}[/b]  {state}  elapsed {elapsed}"
    title += _refreshed(Text.from_markup(title).cell_len, width - EDGE - FRAME, updated, every)
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
        used = BORDERS + sum(t.row_count for t in shown) + CENSUS + SENDER_HEAD + errors
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
) -> tuple[tuple[SenderRow, ...], str | None]:
    """The rows that fit in ``room`` lines: all of them (and None), or page ``page``
    (turning over) and which these are, for the line above the table to say."""
    if len(rows) <= room:
        return rows, None
    per_page = max(room, 1)
    pages = math.ceil(len(rows) / per_page)
    first = (page % pages) * per_page
    shown = rows[first : first + per_page]
    return (
        shown,
        f"senders {first + 1}-{first + len(shown)} of {len(rows)} (the rest on the next reports)",
    )


def _refreshed(used: int, room: int, updated: str | None, every: float | None) -> str:
    """The title's end: ``updated 14:02:07, every 2.0 s``, or as much of it as fits."""
    if not updated:
        return ""
    said = [f"updated {updated}"]
    if every is not None:
        said.insert(0, f"{said[0]}, every {every:.1f} s")
    fits = [text for text in said if used + 2 + len(text) <= room]
    return f"  [dim]{escape(fits[0])}[/dim]" if fits else ""


def _census(rep: Report, page: str | None = None) -> Text:
    """The line above the senders' table: ``40 senders: 38 live, 2 outage`` (each status
    there is, in its colour; ``no sender yet`` before the first heartbeat), then which
    senders the table shows when they do not all fit."""
    total = sum(rep.statuses.values())
    line = Text(no_wrap=True, overflow="ellipsis")
    if not total:
        line.append("no sender yet", style="dim")
    else:
        line.append(f"{total} sender{'s' if total != 1 else ''}: ")
        counts = [(status, rep.statuses.get(status, 0)) for status in STATUSES]
        for i, (status, count) in enumerate((s, n) for s, n in counts if n):
            line.append(", " if i else "")
            line.append(f"{count} {status}", style=STATUS_STYLE.get(status, ""))
    if page:
        line.append(f"; {page}", style="dim")
    return line


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


def _fit(width: int, pairs: list[tuple[str, str]]) -> Table:
    """The pairs laid out with the most to a line (3, 2 or 1) that fits ``width`` uncut."""
    console = Console(width=10_000, file=io.StringIO())
    for per_line in (3, 2):
        grid = _pairs(per_line, *pairs)
        if Measurement.get(console, console.options, grid).maximum <= width:
            return grid
    return _pairs(1, *pairs)


def _pairs_of(rep: Report, figures: tuple[Figure, ...]) -> list[tuple[str, str]]:
    """(short label, value) of each figure, as the dashboard writes them."""
    return [(f.label.of(rep.compressed, short=True), _text(rep, f)) for f in figures]


def _text(rep: Report, figure: Figure) -> str:
    return fig.of_report(figure, rep)


def _percentiles(rep: Report, short: bool, names: tuple[str, ...]) -> Table:
    """The distributions' percentiles: ``names`` of the ladder (the dashboard p50, p95
    and p99; the final summary all it has room for); ``short``: the short labels."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    for _ in names:
        grid.add_column(justify="right", no_wrap=True)
    grid.add_row("simulated" if rep.compressed and short else "", *(LABELS[n] for n in names))
    for figure in in_section(Section.PERCENTILES):
        values = getattr(rep, figure.key)
        cells = (
            [fig.secs(v) for v in values.values(names)] if values else [fig.MISSING] * len(names)
        )
        grid.add_row(figure.label.of(rep.compressed, short), *cells)
    return grid


def _ladder(rep: Report, width: int) -> Table:
    """The final summary's percentiles: the whole ladder when it fits ``width``, else p50,
    p95 and p99 (the JSON summary, the HTML report and ``sms-sim show`` have it all)."""
    console = Console(width=10_000, file=io.StringIO())
    whole = _percentiles(rep, short=False, names=NAMES)
    if Measurement.get(console, console.options, whole).maximum <= width - EDGE:
        return whole
    return _percentiles(rep, short=False, names=SHORT)


def _failures(rep: Report) -> list[RenderableType]:
    """The failures table (the dead stream by kind and reason), when it is known."""
    if rep.failures is None:
        return []
    if not rep.failures:
        return ["", Text("failures (dead stream, by reason): none", style="bold")]
    table = Table(title="failures (dead stream, by reason)", box=None, header_style="bold")
    table.add_column("kind", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for found in rep.failures:
        table.add_row(found.kind, f"{found.count:,}", escape(found.reason))
    return ["", table]


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[SenderRow], str]
    drop: int = 0  # when room is short the highest goes first; 0 always stays


def _cell(figure: SenderFigure, value: float | str | None) -> str:
    """One sender's figure in a narrow column."""
    if value is None:
        return fig.MISSING
    if figure.kind is Kind.STATE:
        return f"[{STATUS_STYLE.get(str(value), '')}]{value}[/]"
    return fig.brief_of(figure.kind, value)


def _column(figure: SenderFigure, index: int | None = None) -> Column:
    """The column of ``figure`` (``index``: which of its percentiles)."""
    if figure.out_of:
        whole = next(f for f in SENDER_FIGURES if f.key == figure.out_of)

        def part(row: SenderRow) -> str:
            value = _cell(figure, getattr(row, figure.key))
            return f"{value}/{_cell(whole, getattr(row, whole.key))}"

        return Column(f"{figure.header}/\n{whole.header}", part, figure.drop)
    if index is None:
        return Column(
            figure.header, lambda row: _cell(figure, getattr(row, figure.key)), figure.drop
        )

    def cell(row: SenderRow) -> str:
        found: Percentiles | None = getattr(row, figure.key)
        return _cell(figure, None if found is None else found.values(SHORT)[index])

    return Column(f"{figure.header}\n{SHORT[index]}", cell, figure.drop)


def _columns() -> tuple[Column, ...]:
    """A column per sender figure (per percentile), but the error: shown under the table."""
    found: list[Column] = []
    for figure in SENDER_FIGURES:
        if figure.kind is Kind.PERCENTILES:
            found += [_column(figure, i) for i in range(len(SHORT))]
        elif figure.kind is not Kind.TEXT and not figure.shown_by:
            found.append(_column(figure))
    return tuple(found)


COLUMNS = _columns()


def _senders(rows: tuple[SenderRow, ...], width: int) -> Table:
    """The senders' table in ``width`` columns: the name keeps up to NAME_ROOM of them
    while columns can be dropped."""
    columns = list(COLUMNS)
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


def summary_table(rep: Report, width: int = WIDE) -> RenderableType:
    """The final summary: every figure of the catalogue, the failures by reason, then the
    senders."""
    title = escape(f"run {rep.run!r}: final summary")
    table = Table(title=title, show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("state", STATES[rep.state])
    table.add_row("elapsed", escape(fig.span(rep.elapsed, rep.scale, mark=True)))
    for figure in in_section(Section.PROGRESS, Section.RATES, Section.ATTEMPTS, Section.SETTLED):
        if figure.shown_by:
            continue
        table.add_row(figure.label.of(rep.compressed), escape(_text(rep, figure)))
    senders = _senders(rep.senders, width)
    parts: list[RenderableType] = [table, "", _ladder(rep, width), *_failures(rep), "", senders]
    if distorted := fig.distortion(rep):
        parts = [Text(distorted, style="bold red"), "", *parts]
    return Group(*parts, *_errors(rep.senders))


class LiveView:
    """Redraws the dashboard on each update; on finish (or close) stops the live display
    and prints the final summary. Log lines print above the dashboard while it runs."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._live: Live | None = None
        self._page = 0  # which page of senders the next redraw shows, when they do not fit
        self._moved: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []
        self._last: float | None = None  # time.monotonic() of the last redraw

    def update(self, rep: Report) -> None:
        if self._live is None:
            self._start()
        assert self._live is not None
        width, height = self.console.size
        now = time.monotonic()
        every = None if self._last is None else now - self._last  # since the redraw before
        self._last = now
        drawn = render(
            rep, width, height - 1, self._page, updated=time.strftime("%H:%M:%S"), every=every
        )
        self._live.update(drawn, refresh=True)
        self._page += 1

    def finish(self, rep: Report) -> None:
        self.close()
        self.console.print(summary_table(rep, self.console.width))
        for line in fig.thresholds_lines(rep):  # the drill's goals, after the figures
            self.console.print(line, markup=False, highlight=False)

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

"""``PlainView``: one ``key=value`` line per report, for logs, pipes and CI, and the final
summary as plain text. Both write every figure of the catalogue, in its order: the line
percentiles' p50, p95 and p99 (``SHORT``), the summary their whole ladder (min ... max),
then the failures by reason."""

from __future__ import annotations

import sys
from typing import TextIO

from monitor.figures.catalogue import FIGURES, SENDER_FIGURES, Figure, Kind, Section
from monitor.figures.fleet import SenderRow
from monitor.figures.report import Report
from monitor.tally.failures import Failure
from monitor.tally.quantiles import LABELS, NAMES, SHORT
from monitor.views import formatting as fig


def plain_line(rep: Report) -> str:
    """One compact ``key=value`` line: no spaces inside values, no escape codes. In a
    compressed run it says ``times=simulated`` and the time scale, and gives each stretch
    of time in real seconds too (``elapsed_real``, ``eta_real``, ...)."""
    fields: dict[str, str] = {"run": _token(rep.run)}
    if rep.compressed:
        fields |= {"times": "simulated", "time_scale": f"{rep.scale:g}"}
    for figure in FIGURES:
        if not figure.shown_by:
            fields |= _tokens(figure, rep)
    fields |= {name: str(count) for name, count in rep.statuses.items()}
    return " ".join(f"{k}={v}" for k, v in fields.items())


def _tokens(figure: Figure, rep: Report) -> dict[str, str]:
    value = getattr(rep, figure.key)
    if figure.out_of:
        whole = getattr(rep, figure.out_of)
        share = 100.0 * value / whole if whole else 100.0
        return {figure.name: f"{value}/{whole}", "pct": f"{share:.1f}"}
    pairs = fig.expand(figure.kind, figure.name, value, SHORT)
    tokens = {name: fig.plain(figure.kind, v) for name, v in pairs}
    if rep.compressed and figure.kind in (Kind.SPAN, Kind.FINISH):
        real = None if value is None else value / rep.scale
        tokens[f"{figure.name}_real"] = fig.plain(figure.kind, real)
    return tokens


def _token(text: str) -> str:
    """``text`` as one key=value token: whitespace and ``=`` replaced by ``_``."""
    return "".join("_" if ch.isspace() or ch == "=" else ch for ch in text) or "_"


class PlainView:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr

    def update(self, rep: Report) -> None:
        print(plain_line(rep), file=self.out, flush=True)

    def finish(self, rep: Report) -> None:
        print(plain_line(rep), file=self.out)
        print(final_text(rep), file=self.out, flush=True)


def final_text(rep: Report) -> str:
    """The final summary as plain text: its state and time, every other figure of the
    catalogue (the percentiles as a table of their whole ladder), the failures by reason,
    then one line per sender."""
    rows: list[tuple[str, str]] = []
    ladders: list[tuple[str, list[str]]] = []
    for figure in FIGURES:
        if figure.section is Section.HEAD or figure.shown_by:
            continue
        if figure.kind is Kind.PERCENTILES:
            value = getattr(rep, figure.key)
            cells = [f"{v:.4f}" for v in value.values()] if value else [fig.MISSING] * len(NAMES)
            ladders.append((_label(figure, rep), cells))
        else:
            rows.append((_label(figure, rep), _exact(figure, rep)))
    head = "percentiles (simulated s)" if rep.compressed else "percentiles (s)"
    width = max(len(label) for label, _ in [*rows, *ladders, (head, "")]) + 2
    state = "complete" if rep.complete else "stopped"
    text = [f"run {rep.run!r} {state} in {fig.span(rep.elapsed, rep.scale, mark=True)}"]
    if distorted := fig.distortion(rep):
        text.append(f"  ! {distorted}")
    text += [f"  {label:<{width}}{value}" for label, value in rows]
    text += _ladder_lines(head, ladders, width)
    text += failures_lines(rep.failures)
    text += [f"  {sender_line(row)}" for row in rep.senders]
    text += fig.thresholds_lines(rep)
    return "\n".join(text)


def _ladder_lines(head: str, ladders: list[tuple[str, list[str]]], width: int) -> list[str]:
    """The percentiles' table: a row per distribution, a column per rung of the ladder."""
    names = [LABELS[name] for name in NAMES]
    cell = max(len(c) for c in [*names, *(c for _, cells in ladders for c in cells)])
    lines = [f"  {head:<{width}}" + "  ".join(n.rjust(cell) for n in names)]
    lines += [f"  {label:<{width}}" + "  ".join(c.rjust(cell) for c in cells)
              for label, cells in ladders]  # fmt: skip
    return lines


def failures_lines(failures: tuple[Failure, ...] | None) -> list[str]:
    """The failures table (the dead stream by kind and reason), as Locust's: a heading,
    then a line per reason; ``none`` when nothing was given up; nothing when unknown."""
    if failures is None:
        return []
    if not failures:
        return ["  failures (dead stream, by reason): none"]
    kind = max(len(f.kind) for f in failures)
    count = max(len(str(f.count)) for f in failures)
    lines = ["  failures (dead stream, by reason):"]
    lines += [f"    {f.kind:<{kind}}  {f.count:>{count}}  {f.reason}" for f in failures]
    return lines


def _label(figure: Figure, rep: Report) -> str:
    return figure.label.of(rep.compressed)


def _exact(figure: Figure, rep: Report) -> str:
    """As the summary writes it, short times to 0.1 ms."""
    if figure.kind in (Kind.SECONDS, Kind.PERCENTILES):
        return fig.exact(getattr(rep, figure.key))
    return fig.of_report(figure, rep)


def sender_line(row: SenderRow) -> str:
    """One sender's figures as ``key=value`` tokens (an error last, quoted); a configured
    figure's token says ``cfg_``, an observed one follows it."""
    parts = [f"{row.name}:"]
    for figure in SENDER_FIGURES:
        value = getattr(row, figure.key)
        if figure.kind is Kind.TEXT:
            if value:
                parts.append(f"{figure.name}={value!r}")
            continue
        if figure.kind is Kind.PERCENTILES:
            shown = fig.MISSING if value is None else fig.exact(value).replace(" ", "")
            parts.append(f"{figure.name}_{'/'.join(SHORT)}={shown}")
            continue
        parts.append(f"{figure.name}={fig.plain(figure.kind, value)}")
    return " ".join(parts)

"""``--csv PATH``: one row per report period, as Locust's ``--csv`` does, for a
spreadsheet or pandas.

A header row, then a row at every report (the first when the monitor starts, the last
with the final figures), each flushed at once: a monitor killed mid-run leaves a usable
file. Columns are named as in the plain key=value lines (``monitor/report.py``'s
LABELS); ``COLUMNS`` is the one mapping from the report to the file. Times in seconds
(``time`` is epoch seconds, UTC), rates in messages per second, ratios as fractions; an
unknown figure is an empty cell, an unbounded prediction ``inf``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from common.errors import UsageProblem
from monitor.quantiles import NAMES
from monitor.report import LABELS, PERCENTILE_FIGURES, Report
from monitor.snapshot import Snapshot

Cell = float | int | str | None


def _plain(figure: str) -> str:
    return LABELS[figure].plain


def _percentile(figure: str, index: int) -> Callable[[Report], Cell]:
    def value(rep: Report) -> Cell:
        found = rep.percentiles(figure)
        return None if found is None else found.values()[index]

    return value


COLUMNS: tuple[tuple[str, Callable[[Report], Cell]], ...] = (
    ("time", lambda r: r.now),
    (_plain("elapsed"), lambda r: r.elapsed),
    ("complete", lambda r: int(r.complete)),
    ("total", lambda r: r.total),
    (_plain("sent"), lambda r: r.sent),
    ("remaining", lambda r: r.remaining),
    (_plain("failed"), lambda r: r.failed),
    (_plain("attempts"), lambda r: r.attempts),
    (_plain("failure_ratio"), lambda r: r.failure_ratio),
    (_plain("rate"), lambda r: r.rate),
    (_plain("overall_rate"), lambda r: r.overall_rate),
    (_plain("predicted_rate"), lambda r: r.predicted_rate),
    (_plain("predicted_now"), lambda r: r.predicted_now),
    (_plain("avg_attempt_time"), lambda r: r.avg_attempt_time),
    (_plain("avg_time_per_message"), lambda r: r.avg_time_per_message),
    *(
        (f"{_plain(figure)}_{name}", _percentile(figure, i))
        for figure in PERCENTILE_FIGURES
        for i, name in enumerate(NAMES)
    ),
    (_plain("duplicates"), lambda r: r.duplicates),
    (_plain("abandoned"), lambda r: r.abandoned),
    (_plain("dead_letters"), lambda r: r.dead_letters),
)
HEADER = tuple(name for name, _ in COLUMNS)


def cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


class PeriodCsv:
    """A view writing one CSV row per report; the file is opened (and truncated) at once,
    so a path that cannot be written is refused before the run starts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._file: TextIO = path.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise UsageProblem(f"csv: cannot write {path}: {exc.strerror or exc}") from None
        self._writer = csv.writer(self._file)
        self._write(HEADER)

    def update(self, snap: Snapshot) -> None:
        rep = snap.report
        self._write(tuple(cell(value(rep)) for _, value in COLUMNS))

    def finish(self, snap: Snapshot) -> None:
        self.update(snap)

    def _write(self, row: tuple[str, ...]) -> None:
        self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        self._file.close()

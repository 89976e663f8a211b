"""``--csv PATH``: one row per report period, as Locust's ``--csv`` does, for a
spreadsheet or pandas.

A header row, then a row at every report (the first when the monitor starts, the last
with the final figures), each flushed at once: a monitor killed mid-run leaves a usable
file. ``time`` (epoch seconds, UTC) and ``run`` first, then every figure of the catalogue
under its plain name (percentiles as ``NAME_p50`` ...). Times in seconds, rates in
messages per second, ratios as fractions; an unknown figure is an empty cell, an
unbounded prediction ``inf``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

from common.errors import UsageProblem
from monitor.figures.catalogue import FIGURES
from monitor.figures.report import Report
from monitor.views.formatting import cell, expand

Cell = float | int | str | None


def columns(rep: Report) -> list[tuple[str, Cell]]:
    """The row of ``rep``: (column, value), in the header's order."""
    found: list[tuple[str, Cell]] = [("time", rep.now), ("run", rep.run)]
    for figure in FIGURES:
        found += expand(figure.kind, figure.name, getattr(rep, figure.key))
    return found


HEADER = ("time", "run", *(n for f in FIGURES for n, _ in expand(f.kind, f.name, None)))


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
        self._write(list(HEADER))

    def update(self, rep: Report) -> None:
        self._write([cell(value) for _, value in columns(rep)])

    def finish(self, rep: Report) -> None:
        self.update(rep)

    def _write(self, row: list[str]) -> None:
        self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        self._file.close()

"""``--csv PATH``: CSV files for a spreadsheet or pandas, as Locust's ``--csv`` writes its
stats history, stats and failures.

- ``PATH``: one row per report period. A header row, then a row at every report (the first
  when the monitor starts, the last with the final figures), each flushed at once: a
  monitor killed mid-run leaves a usable file. ``time`` (epoch seconds, UTC) and ``run``
  first, then every figure of the catalogue under its plain name (percentiles as their
  whole ladder, ``NAME_min``, ``NAME_p50`` ... ``NAME_p99_9``, ``NAME_max``).
- ``PATH`` with ``-senders`` before its suffix (``periods-senders.csv``): one row per
  sender, its latest figures (``time``, ``run``, ``sender``, then every sender figure of
  the catalogue), rewritten whole at each report (a new file renamed over the old: never
  half written).
- ``PATH`` with ``-failures`` before its suffix: the failures table (``run``, ``kind``,
  ``reason``, ``count``), written when the monitor ends.

Times in seconds, rates in messages per second, ratios as fractions; an unknown figure
is an empty cell, an unbounded prediction ``inf``.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from common.errors import UsageProblem
from monitor.figures.catalogue import FIGURES, SENDER_FIGURES
from monitor.figures.fleet import SenderRow
from monitor.figures.report import Report
from monitor.views.formatting import cell, expand

logger = logging.getLogger(__name__)

Cell = float | int | str | None
SENDERS, FAILURES = "senders", "failures"


def columns(rep: Report) -> list[tuple[str, Cell]]:
    """The row of ``rep``: (column, value), in the header's order."""
    found: list[tuple[str, Cell]] = [("time", rep.now), ("run", rep.run)]
    for figure in FIGURES:
        found += expand(figure.kind, figure.name, getattr(rep, figure.key))
    return found


HEADER = ("time", "run", *(n for f in FIGURES for n, _ in expand(f.kind, f.name, None)))


def sender_columns(rep: Report, row: SenderRow) -> list[tuple[str, Cell]]:
    """A sender's row: (column, value), in ``SENDER_HEADER``'s order."""
    found: list[tuple[str, Cell]] = [("time", rep.now), ("run", rep.run), ("sender", row.name)]
    for figure in SENDER_FIGURES:
        found += expand(figure.kind, figure.name, getattr(row, figure.key))
    return found


SENDER_HEADER = (
    "time",
    "run",
    "sender",
    *(n for f in SENDER_FIGURES for n, _ in expand(f.kind, f.name, None)),
)
FAILURE_HEADER = ("run", "kind", "reason", "count")


def beside(path: Path, what: str) -> Path:
    """The file written beside ``path``: ``periods.csv`` -> ``periods-senders.csv``."""
    return path.with_name(f"{path.stem}-{what}{path.suffix}")


def _rows(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Write ``path`` whole: a new file beside it, renamed over it once complete."""
    part = path.with_name(f".{path.name}.part")
    with part.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(part, path)


class PeriodCsv:
    """A view writing one CSV row per report, the senders' file at each report and the
    failures' at the end; the period file is opened (and truncated) and the senders'
    written at once, so a path that cannot be written is refused before the run starts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.senders_path = beside(path, SENDERS)
        self.failures_path = beside(path, FAILURES)
        try:
            self._file: TextIO = path.open("w", newline="", encoding="utf-8")
            _rows(self.senders_path, SENDER_HEADER, [])
        except OSError as exc:
            raise UsageProblem(f"csv: cannot write {path}: {exc.strerror or exc}") from None
        self._writer = csv.writer(self._file)
        self._write(list(HEADER))
        self._warned = False

    def update(self, rep: Report) -> None:
        self._write([cell(value) for _, value in columns(rep)])
        rows = [[cell(v) for _, v in sender_columns(rep, row)] for row in rep.senders]
        self._beside(self.senders_path, SENDER_HEADER, rows)

    def finish(self, rep: Report) -> None:
        self.update(rep)
        if rep.failures is not None:
            rows = [[rep.run, f.kind, f.reason, str(f.count)] for f in rep.failures]
            self._beside(self.failures_path, FAILURE_HEADER, rows)

    def _beside(self, path: Path, header: Sequence[str], rows: list[list[str]]) -> None:
        try:
            _rows(path, header, rows)
        except OSError as exc:  # the run goes on; said once
            if not self._warned:
                logger.error("csv: cannot write %s: %s", path, exc.strerror or exc)
                self._warned = True

    def _write(self, row: list[str]) -> None:
        self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        self._file.close()

"""The drill's goals on the command line: ``--threshold 'FIGURE OP VALUE'`` (repeatable),
merged over the config file's ``thresholds:``, checked before the run starts (exit 2), and
the exit code of a completed run that failed one (99, as k6's)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from common.cli import fail
from common.errors import EXIT_THRESHOLDS, SimError
from common.settings import MonitorSettings
from monitor.figures.report import Report
from monitor.figures.thresholds import parse, parse_flag, passed
from monitor.views.formatting import verdict_text


def threshold_option() -> Any:
    return typer.Option(
        None,
        "--threshold",
        metavar="'FIGURE OP VALUE'",
        help="A goal the run must meet, e.g. 'delivered_95 <= 10m' (repeatable; over the "
        "config's thresholds:); a completed run that fails one exits 99.",
    )


def with_thresholds(
    prog: str, settings: MonitorSettings, flags: list[str] | None
) -> MonitorSettings:
    """``settings`` with the ``--threshold`` flags over its file's thresholds; exit 2 with
    one line when one is wrong."""
    try:
        merged = {**settings.thresholds, **dict(parse_flag(f) for f in flags or [])}
        parse(merged)
    except SimError as exc:
        fail(prog, str(exc), exc.exit_code)
    return settings.model_copy(update={"thresholds": merged})


def exit_on_thresholds(prog: str, rep: Report | None) -> None:
    """Exit 99 naming the thresholds that failed, when the run completed and one did."""
    if rep is None or passed(rep.thresholds) is not False:
        return
    failed = [verdict_text(v) for v in rep.thresholds if v.passed is False]
    print(f"{prog}: thresholds failed: {'; '.join(failed)}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_THRESHOLDS)

"""The live dashboard (monitor/views/live.py) and the choice of view."""

from __future__ import annotations

import io
import logging
import re
import sys

from rich.console import Console

from monitor.views.live import LiveView, render
from monitor.views.plain import PlainView
from monitor.views.view import make_view
from tests.monitor.support import (
    recorded,
    sample_report,
)


def test_dashboard_shows_every_figure_at_width_100() -> None:
    text = recorded(render(sample_report()))
    for label in (
        "blast-1",
        "elapsed 20.0s",
        "redis redis://ops:***@redis.internal:6379/0",
        "sent 9 / 100  9.0%  90 left",
        "rate (last 10 s)",
        "overall rate",
        "predicted overall",
        "ETA",
        "predicted finish",
        "failed attempts",
        "attempts",
        "failure ratio",
        "avg time/attempt",
        "avg time/message",
        "delivery time",
        "queue wait + send",
        "attempt time",
        "duplicates suppressed",
        "abandoned",
        "dead letters",
    ):
        assert label in text, label
    # predicted now: gw-a 1 * 0.5 / 0.1 = 5; gw-b 2 * 0.8 / 0.2 = 8; gw-c is gone
    assert re.search(r"predicted now\s+13\.0 msg/s", text)
    # over the run: gw-c (5 msg/s) too, up for 19.5 of the 20 s
    assert re.search(r"predicted overall\s+17\.9 msg/s", text)
    assert re.search(r"p50\s+p95\s+p99", text)
    assert re.search(r"rate \(last 10 s\)\s+0\.6 msg/s", text)  # 6 delivered 1 s ago
    assert re.search(r"failure ratio\s+28\.6%", text)  # 4 of 14 attempts
    assert re.search(r"duplicates suppressed\s+1\b", text)
    assert re.search(r"ETA\s+2m30s", text)  # 90 left at 0.6 msg/s


def test_dashboard_has_one_row_per_sender_with_status_and_share() -> None:
    lines = recorded(render(sample_report())).splitlines()
    row = {n: next(line for line in lines if f" {n} " in line) for n in ("gw-a", "gw-b", "gw-c")}
    # status, busy/slots, sent, share, failed attempts, cfg/obs mean, cfg/obs failure ratio
    assert re.search(r"live\s+1/1\s+6\s+66\.7%\s+4\s+100ms\s+100ms\s+50\.0%\s+40\.0%", row["gw-a"])
    assert re.search(r"idle\s+0/2\s+3\s+33\.3%\s+0\s+200ms\s+200ms\s+20\.0%\s+0\.0%", row["gw-b"])
    assert re.search(r"gone\s+-/1\s+0\s+0\.0%\s+0\s+100ms\s+-\s+50\.0%\s+-", row["gw-c"])


def test_dashboard_fits_an_80_column_terminal() -> None:
    text = recorded(render(sample_report(), width=80), width=80)
    assert "13.0 msg/s" in text
    assert "…" not in text.replace("gw-", "")  # no figure cut short
    assert max(len(line) for line in text.splitlines()) <= 80


def test_live_view_stops_cleanly_and_prints_the_final_summary() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True)
    view = LiveView(console)
    view.update(sample_report())
    assert view._live is not None and view._live.is_started
    view.finish(sample_report())
    assert view._live is None
    text = out.getvalue()
    assert "final summary" in text
    assert "avg time/message (incl. retries)" in text
    view.close()  # twice is harmless


def test_log_lines_go_through_the_live_display_and_come_back() -> None:
    handler = logging.StreamHandler(sys.stderr)
    original = handler.stream
    logging.getLogger().addHandler(handler)
    try:
        view = LiveView(Console(file=io.StringIO(), width=100, force_terminal=True))
        view.update(sample_report())
        assert handler.stream is not original  # rich's stderr proxy while live
        view.close()
        assert handler.stream is original
    finally:
        logging.getLogger().removeHandler(handler)


def test_make_view_picks_plain_unless_stderr_is_a_terminal() -> None:
    assert isinstance(make_view(True, tty=True), PlainView)
    assert isinstance(make_view(False, tty=False), PlainView)
    assert isinstance(make_view(False, tty=True), LiveView)

"""Shared helpers of the monitor's tests: a sample run, its heartbeats and stats, and
ways to read what a view shows."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from common.heartbeat import Heartbeat
from common.results import Result
from common.run import RunState
from monitor.figures.report import Report, build
from monitor.figures.snapshot import Snapshot
from monitor.tally.stats import Stats

NOW = 1_700_000_100.0


ESC = "\x1b"


def info(name: str, **kw: Any) -> Heartbeat:
    base: dict[str, Any] = {
        "mean_time": 0.1,
        "failure_rate": 0.5,
        "concurrency": 1,
        "status": "live",
        "heartbeat": NOW - 0.5,
        "shape": 10.0,
        "inflight": 1,
    }
    return Heartbeat(name, **{**base, **kw})


def sample_stats() -> Stats:
    """gw-a: 6 delivered, 4 failed attempts; gw-b: 3 delivered, 1 duplicate."""
    stats = Stats()
    for i in range(10):
        ok = i >= 4
        stats.apply(Result(i, "gw-a", 1, ok, 0.1, NOW - 1, 0.5 if ok else None))
    for i in range(3):
        stats.apply(Result(10 + i, "gw-b", 1, True, 0.2, NOW - 30, 1.0))
    stats.apply(Result(10, "gw-b", 2, True, 0.2, NOW - 30, 1.0, dup=True))
    return stats


def sample_snapshot(**kw: Any) -> Snapshot:
    senders = {
        "gw-a": info("gw-a"),
        "gw-b": info("gw-b", mean_time=0.2, failure_rate=0.2, concurrency=2, inflight=0),
        "gw-c": info("gw-c", status="stopped"),
    }
    base: dict[str, Any] = {
        "run": "blast-1",
        "state": RunState(total=100, produced=100, done=True, delivered=9, abandoned=1),
        "stats": sample_stats(),
        "senders": senders,
        "created": NOW - 20,
        "now": NOW,
        "url": "redis://ops:***@redis.internal:6379/0",
    }
    return Snapshot(**{**base, **kw})


def recorded(renderable: Any, width: int = 100) -> str:
    console = Console(record=True, width=width, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def parse_plain(line: str) -> dict[str, str]:
    pairs = [token.split("=", 1) for token in line.split(" ")]
    assert all(len(p) == 2 and p[0] and p[1] for p in pairs), line
    keys = [p[0] for p in pairs]
    assert len(keys) == len(set(keys)), line
    return {key: value for key, value in pairs}


def sample_report(**kw: Any) -> Report:
    """The report of ``sample_snapshot(**kw)``, as the monitor builds it each period."""
    return build(sample_snapshot(**kw))


def final_report(**kw: Any) -> Report:
    """The same as the run's last report: a run not complete is ``stopped``."""
    return build(sample_snapshot(**kw), final=True)

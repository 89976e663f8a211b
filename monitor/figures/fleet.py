"""One row per sender: its configured profile, its status and what the monitor observed,
in natural name order (vm-2 before vm-10)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from common.heartbeat import Heartbeat
from common.histogram import LogHistogram
from monitor.figures.health import UP, Interval, sender_status, up_interval
from monitor.figures.prediction import Yields, windows, yields
from monitor.figures.snapshot import Snapshot
from monitor.tally.quantiles import Percentiles
from monitor.tally.series import Series
from monitor.tally.stats import SenderStats


@dataclass(frozen=True)
class SenderRow:
    name: str
    status: str
    mean_time: float | None  # configured
    failure_rate: float | None  # configured
    concurrency: int  # configured slots
    shape: float | None  # configured
    inflight: int | None  # messages in flight at its last heartbeat; None: not up
    error: str  # what keeps it from working, as its heartbeat says ("" when nothing)
    sent: int
    failed: int
    attempts: int
    duplicates: int
    avg_attempt_time: float | None  # observed, None before its first attempt
    failure_ratio: float | None  # observed, None before its first attempt
    share: float  # of all messages sent, 0..1
    attempt_time: Percentiles | None  # observed, None before its first attempt
    avg_lateness: float | None  # simulated s its attempts ended after due, None before one
    lateness: Percentiles | None  # the same, None before its first attempt (or not all seen)
    rate: float | None  # predicted msg/s (simulated) from its profile (inf: no delay)
    up: Interval | None  # when it was up (epoch seconds), None without a heartbeat
    yields: Yields | None  # what its profile predicts it does (None: unknown profile)
    windows: tuple[Interval, ...]  # its scheduled outages, simulated seconds
    attempt_times: LogHistogram = field(compare=False, repr=False)  # (real seconds)
    series: Series = field(compare=False, repr=False)  # its deliveries over time
    profile: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # its YAML


def natural_key(name: str) -> tuple[tuple[int | str, ...], str]:
    """``vm-2`` before ``vm-10``: digit runs compare as numbers, the rest as text."""
    parts = re.split(r"(\d+)", name)  # text, digits, text, ...: the kinds alternate
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts)), name


def fleet(snap: Snapshot) -> list[SenderRow]:
    """Every sender that reported a heartbeat or a result, by name; once the run is
    complete, not those that joined after its end and did nothing."""
    names = sorted(snap.senders.keys() | snap.stats.senders.keys(), key=natural_key)
    rows = [_row(name, snap) for name in names]
    end = snap.finished_at
    if end is None:
        return rows
    return [row for row in rows if row.attempts or row.up is None or row.up[0] <= end]


def _row(name: str, snap: Snapshot) -> SenderRow:
    info = snap.senders.get(name)
    seen = snap.stats.senders.get(name) or SenderStats()
    profile = info or Heartbeat(name)
    total_sent = snap.stats.sent
    durations = LogHistogram(seen.durations.rel_error)
    durations.merge(seen.durations)
    model = yields(profile, snap.state.invalid_fraction)
    status = sender_status(info, seen.last_ts, snap.now, snap.finished_at)
    return SenderRow(
        name=name,
        status=status,
        mean_time=profile.mean_time,
        failure_rate=profile.failure_rate,
        concurrency=profile.concurrency,
        shape=profile.shape,
        inflight=profile.inflight if status in UP else None,
        error=profile.error,
        sent=seen.sent,
        failed=seen.failed,
        attempts=seen.attempts,
        duplicates=seen.duplicates,
        avg_attempt_time=seen.avg_attempt_time if seen.attempts else None,
        failure_ratio=seen.failure_ratio if seen.attempts else None,
        share=seen.sent / total_sent if total_sent else 0.0,
        attempt_time=Percentiles.of(seen.durations) if seen.attempts else None,
        avg_lateness=seen.avg_late if seen.attempts else None,
        lateness=lateness(seen),
        rate=None if model is None else model.rate,
        up=None if info is None else up_interval(info, snap.now, snap.created),
        yields=model,
        windows=windows(profile.profile),
        attempt_times=durations,
        series=seen.series,
        profile=profile.profile,
    )


def lateness(seen: SenderStats) -> Percentiles | None:
    """How late its attempts ended (p50/p95/p99, simulated seconds); None before its first
    attempt, or when some were counted by a monitor that kept no lateness (an older
    checkpoint)."""
    if not seen.attempts or seen.lateness.count < seen.attempts:
        return None
    return Percentiles.of(seen.lateness)

"""One row per sender: its configured profile, its status and what the monitor observed."""

from __future__ import annotations

from dataclasses import dataclass

from common.heartbeat import Heartbeat
from monitor.health import sender_status
from monitor.snapshot import Snapshot
from monitor.stats import SenderStats


@dataclass(frozen=True)
class SenderRow:
    name: str
    status: str
    mean_time: float | None  # configured
    failure_rate: float | None  # configured
    concurrency: int
    shape: float | None
    sent: int
    failed: int
    attempts: int
    avg_attempt_time: float  # observed
    failure_ratio: float  # observed
    share: float  # of all messages sent, 0..1


def fleet(snap: Snapshot) -> list[SenderRow]:
    """Every sender that reported a heartbeat or a result, by name."""
    names = sorted(snap.senders.keys() | snap.stats.senders.keys())
    return [_row(name, snap) for name in names]


def _row(name: str, snap: Snapshot) -> SenderRow:
    info = snap.senders.get(name)
    seen = snap.stats.senders.get(name) or SenderStats()
    profile = info or Heartbeat(name)
    total_sent = snap.stats.sent
    return SenderRow(
        name=name,
        status=sender_status(info, seen.last_ts, snap.now),
        mean_time=profile.mean_time,
        failure_rate=profile.failure_rate,
        concurrency=profile.concurrency,
        shape=profile.shape,
        sent=seen.sent,
        failed=seen.failed,
        attempts=seen.attempts,
        avg_attempt_time=seen.avg_attempt_time,
        failure_ratio=seen.failure_ratio,
        share=seen.sent / total_sent if total_sent else 0.0,
    )

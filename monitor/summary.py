"""The summary object of DESIGN.md, built from the monitor's stats and the run's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.heartbeat import Heartbeat
from common.run import RunState
from monitor.stats import Stats
from monitor.timeline import Timeline


@dataclass(frozen=True)
class Snapshot:
    """Everything a report shows at one moment."""

    run: str
    state: RunState
    stats: Stats
    senders: dict[str, Heartbeat] = field(default_factory=dict)
    created: float = 0.0
    now: float = 0.0
    url: str = ""  # the Redis URL, password masked
    timeline: Timeline = field(default_factory=Timeline)

    @property
    def elapsed(self) -> float:
        end = self.stats.last_ts if self.state.complete and self.stats.last_ts else self.now
        return max(end - self.created, 0.0) if self.created else 0.0

    @property
    def throughput(self) -> float:
        return self.stats.sent / self.elapsed if self.elapsed > 0 else 0.0


def summary(snap: Snapshot) -> dict[str, Any]:
    stats = snap.stats
    return {
        "run": snap.run,
        "total": snap.state.total,
        "sent": stats.sent,
        "failed_attempts": stats.failed,
        "attempts": stats.attempts,
        "duplicates_suppressed": stats.duplicates,
        "abandoned": snap.state.abandoned,
        "dead_letters": snap.state.dead_letters,
        "avg_attempt_time": round(stats.avg_attempt_time, 6),
        "avg_time_per_message": round(stats.avg_time_per_message, 6),
        "elapsed": round(snap.elapsed, 3),
        "throughput": round(snap.throughput, 3),
        "latency": {f"p{q}": round(stats.latency.quantile(q / 100), 6) for q in (50, 95, 99)},
        "senders": [
            _sender(name, snap) for name in sorted(stats.senders.keys() | snap.senders.keys())
        ],
    }


def _sender(name: str, snap: Snapshot) -> dict[str, Any]:
    info = snap.senders.get(name, Heartbeat(name))
    stats = snap.stats.senders.get(name)
    return {
        "name": name,
        "mean_time": info.mean_time,
        "failure_rate": info.failure_rate,
        "sent": stats.sent if stats else 0,
        "failed_attempts": stats.failed if stats else 0,
        "attempts": stats.attempts if stats else 0,
        "avg_attempt_time": round(stats.avg_attempt_time, 6) if stats else 0.0,
    }

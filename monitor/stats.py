"""The monitor's arithmetic: totals over every attempt in the results stream.

- sent: messages delivered, each once; duplicate successes are counted apart.
- failed_attempts: failed attempts (a message failing twice then succeeding adds 2).
- attempts = sent + failed_attempts + duplicates.
- avg time/attempt: mean duration of all attempts; avg time/message: all attempt time
  divided by sent (sender time per delivered message, retries included).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.codec import Result
from common.histogram import LogHistogram


@dataclass
class SenderStats:
    sent: int = 0
    failed: int = 0
    duplicates: int = 0
    durations: LogHistogram = field(default_factory=LogHistogram)
    last_ts: float = 0.0  # when this sender's latest result was written

    @property
    def attempts(self) -> int:
        return self.durations.count

    @property
    def avg_attempt_time(self) -> float:
        return self.durations.mean

    @property
    def failure_ratio(self) -> float:
        return self.failed / self.attempts if self.attempts else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "dup": self.duplicates,
            "durations": self.durations.to_dict(),
            "ts": self.last_ts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SenderStats:
        return cls(
            int(data["sent"]),
            int(data["failed"]),
            int(data["dup"]),
            LogHistogram.from_dict(data["durations"]),
            float(data.get("ts", 0.0)),
        )


@dataclass
class Stats:
    senders: dict[str, SenderStats] = field(default_factory=dict)
    latency: LogHistogram = field(default_factory=LogHistogram)
    last_ts: float = 0.0

    def apply(self, result: Result) -> None:
        stats = self.senders.get(result.sender)
        if stats is None:
            stats = self.senders[result.sender] = SenderStats()
        stats.durations.add(result.duration)
        stats.last_ts = max(stats.last_ts, result.ts)
        self.last_ts = max(self.last_ts, result.ts)
        if not result.ok:
            stats.failed += 1
        elif result.dup:
            stats.duplicates += 1
        else:
            stats.sent += 1
            if result.latency is not None:
                self.latency.add(result.latency)

    @property
    def sent(self) -> int:
        return sum(s.sent for s in self.senders.values())

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.senders.values())

    @property
    def duplicates(self) -> int:
        return sum(s.duplicates for s in self.senders.values())

    @property
    def attempts(self) -> int:
        return sum(s.attempts for s in self.senders.values())

    @property
    def attempt_time(self) -> float:
        return sum(s.durations.total for s in self.senders.values())

    @property
    def avg_attempt_time(self) -> float:
        return self.attempt_time / self.attempts if self.attempts else 0.0

    @property
    def avg_time_per_message(self) -> float:
        return self.attempt_time / self.sent if self.sent else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "senders": {n: s.to_dict() for n, s in self.senders.items()},
            "latency": self.latency.to_dict(),
            "last_ts": self.last_ts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stats:
        return cls(
            {n: SenderStats.from_dict(s) for n, s in data["senders"].items()},
            LogHistogram.from_dict(data["latency"]),
            float(data["last_ts"]),
        )

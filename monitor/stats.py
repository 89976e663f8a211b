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
        self.count(result.sender, result.duration, result.ts, result.ok, result.dup, result.latency)

    def apply_entries(self, entries: list[tuple[str, Any]]) -> None:
        """Count results-stream entries (the monitor's hot path: no objects per entry).

        An entry's fields come as a flat ``[field, value, ...]`` list (raw reply) or a dict.
        """
        count = self.count
        for _, fields in entries:
            f = fields
            if isinstance(f, list):
                if len(f) >= 12 and f[2] == "sender" and f[8] == "duration" and f[10] == "ts":
                    # the senders' own layout: seq sender attempt ok duration ts [latency|dup]
                    extra = f[12] if len(f) > 12 else None
                    latency = float(f[13]) if extra == "latency" else None
                    count(f[3], float(f[9]), float(f[11]), f[7] == "1", extra == "dup", latency)
                    continue
                f = dict(zip(f[::2], f[1::2], strict=True))
            raw_latency = f.get("latency")
            count(
                f["sender"],
                float(f["duration"]),
                float(f["ts"]),
                f["ok"] == "1",
                "dup" in f,
                float(raw_latency) if raw_latency is not None else None,
            )

    def count(  # noqa: PLR0917 (the hot path: positional is cheapest)
        self, sender: str, duration: float, ts: float, ok: bool, dup: bool, latency: float | None
    ) -> None:
        """Count one attempt."""
        stats = self.senders.get(sender)
        if stats is None:
            stats = self.senders[sender] = SenderStats()
        stats.durations.add(duration)
        if ts > stats.last_ts:
            stats.last_ts = ts
            self.last_ts = max(self.last_ts, ts)
        if not ok:
            stats.failed += 1
        elif dup:
            stats.duplicates += 1
        else:
            stats.sent += 1
            if latency is not None:
                self.latency.add(latency)

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

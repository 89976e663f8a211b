"""The monitor's arithmetic: totals over every attempt in the results stream.

- sent: messages delivered, each once; duplicate successes are counted apart.
- failed_attempts: failed attempts (a message failing twice then succeeding adds 2).
- attempts = sent + failed_attempts + duplicates.
- avg time/attempt: mean duration of all attempts; avg time/message: all attempt time
  divided by sent (sender time per delivered message, retries included).
- series: the deliveries over time, by when each was recorded (``monitor/tally/series.py``);
  each sender keeps a coarser one of its own.
- lateness: how long after it was due each attempt ended (simulated seconds, as the
  senders record it): the simulator's own delay, summed and, per sender, a histogram.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from common import results as r
from common.histogram import LogHistogram
from common.results import Result
from monitor.tally.series import SENDER_BUCKETS, Series

logger = logging.getLogger(__name__)


@dataclass
class SenderStats:
    sent: int = 0
    failed: int = 0
    duplicates: int = 0
    durations: LogHistogram = field(default_factory=LogHistogram)
    last_ts: float = 0.0  # when this sender's latest result was written
    late_total: float = 0.0  # seconds its attempts ended after they were due, summed
    series: Series = field(default_factory=lambda: Series(limit=SENDER_BUCKETS))
    # how late each attempt ended (below 0, on time: none); fewer than ``attempts``
    # counted when the checkpoint it resumed from predates it
    lateness: LogHistogram = field(default_factory=LogHistogram)

    @property
    def attempts(self) -> int:
        return self.durations.count

    def merge(self, other: SenderStats) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.duplicates += other.duplicates
        self.durations.merge(other.durations)
        self.last_ts = max(self.last_ts, other.last_ts)
        self.late_total += other.late_total
        self.series.merge(other.series)
        self.lateness.merge(other.lateness)

    @property
    def avg_late(self) -> float:
        """Mean lateness of an attempt: the simulator's error, beside the model's time."""
        return self.late_total / self.attempts if self.attempts else 0.0

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
            "late": self.late_total,
            "series": self.series.to_dict(),
            "lateness": self.lateness.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SenderStats:
        return cls(
            int(data["sent"]),
            int(data["failed"]),
            int(data["dup"]),
            LogHistogram.from_dict(data["durations"]),
            float(data.get("ts", 0.0)),
            float(data.get("late", 0.0)),
            Series.from_dict(data["series"]) if "series" in data else Series(limit=SENDER_BUCKETS),
            LogHistogram.from_dict(data["lateness"]) if "lateness" in data else LogHistogram(),
        )


@dataclass(slots=True)
class _Batch:
    """One sender's attempts within a slice of entries, before they join the totals."""

    durations: list[float] = field(default_factory=list)
    sent: int = 0
    failed: int = 0
    duplicates: int = 0
    ts: list[float] = field(default_factory=list)  # when each attempt was recorded
    late: float = 0.0  # the attempts' lateness, summed
    lates: list[float] = field(default_factory=list)  # each attempt's lateness
    delivered: list[float] = field(default_factory=list)  # when each delivery was recorded

    @property
    def last(self) -> float:
        return self.ts[-1]  # a sender writes its results in time order


_NAMES = (r.SENDER, r.DURATION, r.TS, r.TRUE, r.DUP, r.LATENCY)
_BYTE_NAMES = tuple(name.encode() for name in _NAMES)
# Where the senders' layout (common.results) puts each name and value.
_SENDER_NAME, _SENDER = r.AT[r.SENDER] - 1, r.AT[r.SENDER]
_DURATION_NAME, _DURATION = r.AT[r.DURATION] - 1, r.AT[r.DURATION]
_LATE = r.AT[r.LATE]
_TS_NAME, _TS = r.AT[r.TS] - 1, r.AT[r.TS]
_OK = r.AT[r.OK]
_EXTRA_NAME, _EXTRA = r.EXTRA_NAME_AT, r.EXTRA_AT


def _pairs(flat: list[Any]) -> zip[tuple[Any, Any]]:
    return zip(flat[::2], flat[1::2], strict=True)


def _text(value: str | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class _Unreadable(Exception):
    """A slice holds an entry the fast path cannot count."""


def _slice(
    entries: list[tuple[Any, Any]],
) -> tuple[dict[Any, _Batch], list[float], list[float], list[float]]:
    """Each sender's attempts in ``entries``, the latencies, when each delivery was
    recorded and when each of those with a latency was; _Unreadable when an entry is not
    in the senders' layout with finite numbers (nothing is counted then)."""
    undecoded = bool(entries) and isinstance(entries[0][0], bytes)
    sender, duration, ts, one, dup, latency = _BYTE_NAMES if undecoded else _NAMES
    batches: dict[Any, _Batch] = {}
    latencies: list[float] = []
    delivered: list[float] = []
    timed: list[float] = []  # when each latency's delivery was recorded
    try:
        for _, f in entries:
            if not (  # the senders' own layout (common.results), read by position
                isinstance(f, list)
                and len(f) >= _EXTRA_NAME
                and f[_SENDER_NAME] == sender
                and f[_DURATION_NAME] == duration
                and f[_TS_NAME] == ts
            ):
                raise _Unreadable
            batch = batches.get(f[_SENDER])
            if batch is None:
                batch = batches[f[_SENDER]] = _Batch()
            batch.durations.append(float(f[_DURATION]))
            late = float(f[_LATE])
            batch.late += late
            batch.lates.append(late)
            ts_value = float(f[_TS])
            batch.ts.append(ts_value)
            extra = f[_EXTRA_NAME] if len(f) > _EXTRA_NAME else None
            if f[_OK] != one:
                batch.failed += 1
            elif extra == dup:
                batch.duplicates += 1
            else:
                batch.sent += 1
                batch.delivered.append(ts_value)
                delivered.append(ts_value)
                if extra == latency:
                    latencies.append(float(f[_EXTRA]))
                    timed.append(ts_value)
        for batch in batches.values():
            _finite(sum(batch.durations) + sum(batch.ts) + batch.late)
            if min(batch.durations) < 0:
                raise _Unreadable
        _finite(sum(latencies))
    except (ValueError, TypeError, IndexError):
        raise _Unreadable from None
    return batches, latencies, delivered, timed


def _finite(total: float) -> None:
    """One check for a whole sum: NaN or an infinity anywhere makes it so."""
    if not math.isfinite(total):
        raise _Unreadable


def _check(result: Result) -> None:
    numbers = (result.duration, result.ts, result.late, result.latency or 0.0)
    if not all(math.isfinite(x) for x in numbers) or result.duration < 0:
        raise ValueError(f"not a usable number in {result}")


@dataclass
class Stats:
    senders: dict[str, SenderStats] = field(default_factory=dict)
    latency: LogHistogram = field(default_factory=LogHistogram)
    last_ts: float = 0.0
    ignored: int = 0  # result entries no sender wrote (unreadable), left uncounted
    series: Series = field(default_factory=Series)  # deliveries over time, by their ts

    @classmethod
    def merged(cls, parts: list[Stats]) -> Stats:
        """The totals of a run's partitions, each counted apart (the parts are left as
        they are)."""
        if len(parts) == 1:
            return parts[0]
        total = cls()
        for part in parts:
            for name, stats in part.senders.items():
                total._sender(name).merge(stats)
            total.latency.merge(part.latency)
            total.last_ts = max(total.last_ts, part.last_ts)
            total.ignored += part.ignored
            total.series.merge(part.series)
        return total

    def apply(self, result: Result) -> None:
        self.count(result.sender, result.duration, result.ts, result.ok, result.dup, result.latency)
        stats = self._sender(result.sender)
        stats.late_total += result.late
        stats.lateness.add(result.late)

    def apply_entries(self, entries: list[tuple[Any, Any]]) -> None:
        """Count results-stream entries: the monitor's hot path, so no object per entry
        and no call per value; the histograms take each sender's values in one go.

        An entry's fields come as a flat ``[field, value, ...]`` list of a raw reply (str,
        or bytes when read undecoded) or as a dict. A slice holding anything unreadable
        (not a number, NaN, an infinity: not written by a sender) is counted entry by
        entry instead, and what cannot be counted is ignored (``ignored``).
        """
        try:
            batches, latencies, delivered, timed = _slice(entries)
        except _Unreadable:
            for _, fields in entries:
                self._apply_fields(fields)
            return
        for name, batch in batches.items():
            self._apply_batch(_text(name), batch)
        self.latency.add_many(latencies)
        self.series.add_many(delivered)
        self.series.add_waits(timed, latencies)

    def _apply_fields(self, fields: dict[Any, Any] | list[Any]) -> None:
        """One entry in any field order (written by hand, or by another version)."""
        try:
            pairs = fields.items() if isinstance(fields, dict) else _pairs(fields)
            result = Result.from_fields({_text(key): _text(value) for key, value in pairs})
            _check(result)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            self.ignored += 1
            if self.ignored == 1:
                logger.warning("ignoring a result entry that no sender wrote: %s", exc)
            return
        self.apply(result)

    def _apply_batch(self, sender: str, batch: _Batch) -> None:
        stats = self._sender(sender)
        stats.durations.add_many(batch.durations)
        stats.sent += batch.sent
        stats.failed += batch.failed
        stats.duplicates += batch.duplicates
        stats.late_total += batch.late
        stats.lateness.add_many(batch.lates)
        if batch.delivered:
            stats.series.add_many(batch.delivered)
        last_ts = batch.last
        if last_ts > stats.last_ts:
            stats.last_ts = last_ts
            self.last_ts = max(self.last_ts, last_ts)

    def _sender(self, name: str) -> SenderStats:
        stats = self.senders.get(name)
        if stats is None:
            stats = self.senders[name] = SenderStats()
        return stats

    def count(  # noqa: PLR0917 (the hot path: positional is cheapest)
        self, sender: str, duration: float, ts: float, ok: bool, dup: bool, latency: float | None
    ) -> None:
        """Count one attempt."""
        stats = self._sender(sender)
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
            stats.series.add(ts)
            self.series.add(ts)
            if latency is not None:
                self.latency.add(latency)
                self.series.add_waits([ts], [latency])

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
            "ignored": self.ignored,
            "series": self.series.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stats:
        return cls(
            {n: SenderStats.from_dict(s) for n, s in data["senders"].items()},
            LogHistogram.from_dict(data["latency"]),
            float(data["last_ts"]),
            int(data.get("ignored", 0)),
            Series.from_dict(data["series"]) if "series" in data else Series(),
        )

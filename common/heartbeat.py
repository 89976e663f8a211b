"""A sender's heartbeat: what it says of itself in the run's ``senders`` hash.

Each sender rewrites its record (JSON) every second: its profile, its status and what
it has in flight. The monitor reads it back with ``Heartbeat.parse``, which survives
anything unreadable (an unknown profile, never a crash).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

LIVE = "live"
OUTAGE = "outage"  # up, but its gateway is down (a scheduled or random outage)
STOPPED = "stopped"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Heartbeat:
    name: str
    mean_time: float | None = None
    failure_rate: float | None = None
    concurrency: int = 1
    status: str = UNKNOWN
    heartbeat: float = 0.0  # epoch seconds of this beat
    shape: float | None = None
    inflight: int = 0
    sent: int = 0
    max_attempts: int | None = None
    started: float = 0.0  # epoch seconds when it began serving the run
    error: str = ""  # what keeps it from working right now (e.g. Redis out of memory)
    late: float = 0.0  # mean seconds its attempts ended after they were due, lately
    attempt_rate: float | None = None  # attempts per simulated second when busy (its model)
    profile: dict[str, Any] = field(default_factory=dict)  # its whole profile, as in YAML

    def to_json(self) -> str:
        record = asdict(self)
        del record["name"]  # the hash field is the name
        return json.dumps(record)

    @classmethod
    def parse(cls, name: str, raw: str | bytes) -> Heartbeat:
        """The record written by ``to_json``; anything unreadable gives an unknown profile."""
        try:
            data = json.loads(raw)
            return cls(
                name,
                _number(data.get("mean_time")),
                _number(data.get("failure_rate")),
                max(int(data.get("concurrency") or 1), 1),
                str(data.get("status", UNKNOWN)),
                _number(data.get("heartbeat")) or 0.0,
                _number(data.get("shape")),
                int(data.get("inflight") or 0),
                int(data.get("sent") or 0),
                _whole(data.get("max_attempts")),
                _number(data.get("started")) or 0.0,
                str(data.get("error") or ""),
                _number(data.get("late")) or 0.0,
                _rate(data.get("attempt_rate")),
                _mapping(data.get("profile")),
            )
        except (ValueError, TypeError, AttributeError, OverflowError):
            return cls(name)


def working(beats: dict[str, Heartbeat], now: float, fresh: float = 5.0) -> int:
    """How many senders say they are serving, with a heartbeat at most ``fresh`` s old."""
    return sum(1 for b in beats.values() if b.status == LIVE and now - b.heartbeat <= fresh)


def _number(value: Any) -> float | None:
    """A finite float, or None (missing, NaN, an infinity)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _rate(value: Any) -> float | None:
    """A rate: a number, "inf" (a gateway with no delay), or None."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _whole(value: Any) -> int | None:
    return None if value is None else int(value)

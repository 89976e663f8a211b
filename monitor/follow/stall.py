"""Why a run stopped moving, when the monitor can see it: Redis out of memory, senders
reporting a problem in their heartbeats, every gateway in an outage, or no sender at
work; and when senders fall behind their schedules (a run compressed further than this
machine can simulate faithfully, or a process that cannot keep up)."""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from common import clock
from common.heartbeat import OUTAGE, Heartbeat, working
from monitor.figures.health import BEHIND, GONE_AFTER

logger = logging.getLogger(__name__)

MB = 1024 * 1024
FULL = 0.98  # used_memory at this share of maxmemory counts as full


async def why_stalled(client: Redis, beats: dict[str, Heartbeat]) -> str | None:
    """The likeliest reason no result arrives, or None when none is visible."""
    memory = await _memory_problem(client)
    if memory:
        return memory
    errors = sorted({f"{b.name}: {b.error}" for b in beats.values() if b.error})
    if errors:
        return "senders report: " + "; ".join(errors[:3])
    now = clock.now()
    if beats and working(beats, now) == 0:
        if any(b.status == OUTAGE and now - b.heartbeat <= GONE_AFTER for b in beats.values()):
            return (
                "every gateway that is up is in an outage (scheduled or random): sending "
                "resumes when its outage ends"
            )
        return "no sender is working on this run (every heartbeat stopped or stale)"
    if not beats:
        return "no sender has joined this run yet (start sms-sender)"
    return None


async def _memory_problem(client: Redis) -> str | None:
    try:
        info = await client.info("memory")
    except RedisError:
        return None  # INFO not permitted: nothing to tell
    limit, used = int(info.get("maxmemory") or 0), int(info.get("used_memory") or 0)
    if limit and used >= FULL * limit:
        return (
            f"Redis is out of memory ({used / MB:.1f} MB used, maxmemory {limit / MB:.1f} MB): "
            "senders cannot record until memory is freed or maxmemory raised"
        )
    return None


class StallWatch:
    """Says once per stall why progress stopped, when it has stopped for ``after`` s."""

    def __init__(self, after: float) -> None:
        self.after = after
        self._seen = -1
        self._since = time.monotonic()
        self._said: str | None = None

    async def check(self, client: Redis, progress: int, beats: dict[str, Heartbeat]) -> bool:
        """True while progress has stopped for ``after`` s (saying why, once)."""
        now = time.monotonic()
        if progress != self._seen:
            self._seen, self._since, self._said = progress, now, None
            return False
        if now - self._since < self.after:
            return False
        reason = await why_stalled(client, beats)
        if reason and reason != self._said:
            logger.warning("no progress for %.0f s: %s", now - self._since, reason)
            self._said = reason
        return True


class LagWatch:
    """Says when senders run behind their schedule, once per sender.

    A heartbeat's ``late`` is how long after they were due its attempts ended, on average
    over the last second: the time its timers fired after the end the simulation had set
    (a busy process, a starved event loop). Time a message spends waiting for a slot, a
    token or its backoff is the simulation's, not lateness (see sender/schedule.py). A
    slot's schedule absorbs a little lateness (the next attempt starts when the last was
    due to end; a freed slot catches up at most one second), so recorded times may run a
    little late without the run being any slower. Past ``behind`` real seconds the
    schedules are about to slip: from there on the run is slower than the fleet would be.
    In a compressed run (time scale above 1) that means the run is compressed past what
    this machine simulates faithfully (lower time_scale); at real time, that the process
    cannot keep up (spread the senders)."""

    def __init__(self, behind: float = BEHIND) -> None:
        self.behind = behind
        self._said: set[str] = set()

    def check(self, beats: dict[str, Heartbeat], scale: float = 1.0) -> None:
        """One line for the senders newly found behind (a large fleet says it once, not
        once per sender)."""
        behind = [b for b in beats.values() if b.name not in self._said and b.late >= self.behind]
        if not behind:
            return
        self._said.update(b.name for b in behind)
        worst = max(behind, key=lambda b: b.late)
        late = f"{_who(behind, worst)} runs {worst.late * 1000:.0f} ms behind its schedule"
        what = "its attempts end that long after they were due (the mean of its last second)"
        if scale > 1:
            logger.warning(
                "%s (%s simulated): %s, because its process cannot keep up: the run is "
                "compressed (time scale %g) past what this machine simulates faithfully, so "
                "it is slower than that fleet would be and its recorded times run late; "
                "lower time_scale, or spread the senders over more processes (--workers)",
                late,
                _seconds(worst.late * scale),
                what,
                scale,
            )
        else:
            logger.warning(
                "%s: %s, because its process cannot keep up with the gateways it "
                "simulates, so the run is slower than that fleet would be; spread the "
                "senders over more processes (--workers, more sms-sender) or use a faster "
                "machine",
                late,
                what,
            )


def _seconds(value: float) -> str:
    """``5.93 s``, ``0.593 s``."""
    return f"{value:.3g} s"


def _who(senders: list[Heartbeat], worst: Heartbeat) -> str:
    """``sender NAME``, or ``sender NAME (the worst of N senders)``."""
    if len(senders) == 1:
        return f"sender {worst.name}"
    return f"sender {worst.name} (the worst of {len(senders)} senders)"

"""Why a run stopped moving, when the monitor can see it: Redis out of memory, senders
reporting a problem in their heartbeats, or no sender at work."""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.heartbeat import Heartbeat, working

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
    if beats and working(beats, time.time()) == 0:
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

    async def check(self, client: Redis, progress: int, beats: dict[str, Heartbeat]) -> None:
        now = time.monotonic()
        if progress != self._seen:
            self._seen, self._since, self._said = progress, now, None
            return
        if now - self._since < self.after:
            return
        reason = await why_stalled(client, beats)
        if reason and reason != self._said:
            logger.warning("no progress for %.0f s: %s", now - self._since, reason)
            self._said = reason


BEHIND = 0.25  # seconds: a sender this far behind its schedule cannot keep up for long


class LagWatch:
    """Says once per sender when it runs behind its schedule: its process cannot keep up
    with the gateways it simulates (a slot's schedule catches up at most one second), so
    from there on the run is slower than the fleet would be."""

    def __init__(self, behind: float = BEHIND) -> None:
        self.behind = behind
        self._said: set[str] = set()

    def check(self, beats: dict[str, Heartbeat]) -> None:
        for beat in beats.values():
            if beat.late >= self.behind and beat.name not in self._said:
                self._said.add(beat.name)
                logger.warning(
                    "sender %s runs %.0f ms behind its schedule: its process cannot keep up "
                    "with the gateways it simulates, so the run is slower than that fleet "
                    "would be (spread the senders over more processes, or a faster machine)",
                    beat.name,
                    beat.late * 1000,
                )

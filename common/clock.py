"""The run's one wall clock: Redis's.

Every epoch time a role writes or compares (a message's creation, an attempt's end, a
heartbeat, the run's time 0, the monitor's "now") is this process's clock corrected by
its offset to the server's ``TIME``, so processes whose clocks are minutes or hours
apart (containers, VMs, a host without NTP) still agree on elapsed time, latency and
liveness, and no message is judged by one process's clock. Durations stay on each
process's monotonic clock. The offset is taken when a role first connects and again
every ``RESYNC`` seconds by the loops that run anyway (heartbeats, reports), so a clock
set mid-run is followed within that time.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RESYNC = 10.0  # seconds between two readings of the server's clock
TRUSTED_TRIP = 1.0  # a reading whose round trip took longer is not taken


class ServerClock:
    """This process's wall clock, moved onto the server's."""

    def __init__(self) -> None:
        self.offset = 0.0  # server time minus local time, seconds
        self.synced_at: float | None = None  # monotonic time of the last reading

    def now(self) -> float:
        """Epoch seconds on the server's clock."""
        return time.time() + self.offset

    def due(self) -> bool:
        return self.synced_at is None or time.monotonic() - self.synced_at >= RESYNC

    async def sync(self, client: Redis) -> None:
        """Take the offset to ``client``'s server (TIME, read at the middle of its round
        trip). A server that refuses TIME (an ACL without it) leaves the local clock."""
        try:
            before, sent = time.monotonic(), time.time()
            seconds, micros = await client.time()
            trip = time.monotonic() - before
        except RedisError as exc:
            logger.debug("TIME is not available (%s): the local clock is used", exc)
            self.synced_at = time.monotonic()
            return
        if trip > TRUSTED_TRIP:
            return  # too slow to be exact: the next loop takes it again
        offset = int(seconds) + int(micros) / 1e6 - (sent + trip / 2)
        if abs(offset - self.offset) > 1.0:
            way = "behind" if offset > 0 else "ahead of"
            logger.info("this host's clock is %.1f s %s Redis's: Redis's is used", abs(offset), way)
        self.offset, self.synced_at = offset, time.monotonic()

    async def refresh(self, client: Redis) -> None:
        """``sync`` when the last reading is ``RESYNC`` seconds old."""
        if self.due():
            await self.sync(client)


CLOCK = ServerClock()


def now() -> float:
    """Epoch seconds on the server's clock (this process's, before its first reading)."""
    return CLOCK.now()

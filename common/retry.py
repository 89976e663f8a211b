"""Riding out Redis outages: capped exponential backoff, one warning per outage."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

T = TypeVar("T")
TRANSIENT = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, ConnectionError, OSError)


class Outage:
    """Retries a Redis operation while Redis is away, for up to ``give_up`` seconds.

    Before the first success nothing is retried: a Redis unreachable at start is an
    error to report at once, not an outage to ride out.
    """

    def __init__(self, what: str, give_up: float = 60.0, cap: float = 2.0) -> None:
        self.what = what
        self.give_up = give_up
        self.cap = cap
        self._since: float | None = None
        self._connected = False

    async def call(self, op: Callable[[], Awaitable[T]]) -> T:
        delay = 0.05
        while True:
            try:
                result = await op()
            except TRANSIENT as exc:
                if not self._connected:
                    raise
                self._lost(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.cap)
                continue
            self._connected = True
            self._recovered()
            return result

    def _lost(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._since is None:
            self._since = now
            logger.warning("%s: Redis unavailable (%s); retrying", self.what, exc)
        elif now - self._since > self.give_up:
            raise RedisConnectionError(
                f"Redis unavailable for over {self.give_up:.0f} s: {exc}"
            ) from exc

    def _recovered(self) -> None:
        if self._since is not None:
            logger.info("%s: Redis is back after %.1f s", self.what, time.monotonic() - self._since)
            self._since = None

"""The run's fleet-wide cap (``account: {max_rate, burst}``), shared by every sender of
the run through Redis (``sender/account.lua``).

An attempt that must go through the account asks for a token; tokens are reserved in
Redis in one round trip for every attempt waiting at that moment, each with the time from
which it may start (Redis's clock). An attempt starts at its wanted time or its token's,
whichever is later.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from common import scripts
from common.errors import translate
from common.keys import RunKeys

logger = logging.getLogger(__name__)

ACCOUNT = scripts.load("sender", "account.lua")
MAX_RESERVE = 1000  # tokens in one reservation

Start = Callable[[float], None]  # starts an attempt at the given event-loop time


class Account:
    def __init__(  # noqa: PLR0917
        self,
        client: Redis,
        keys: RunKeys,
        run_id: str,
        rate: float,
        burst: int,
        epoch: Callable[[], float],
    ) -> None:
        """``rate``: submissions per real second; ``epoch``: epoch seconds at event-loop
        time 0 (Redis's clock is taken as the wall clock)."""
        self.keys = keys
        self.run_id = run_id
        self.interval_us = max(1, round(1e6 / rate))
        self.burst = burst
        self.epoch = epoch
        self._script = client.register_script(ACCOUNT)
        self._waiting: deque[tuple[float, Start]] = deque()
        self._needed = asyncio.Event()

    def take(self, wanted: float, start: Start) -> None:
        """Start an attempt (``start(at)``) at ``wanted`` or at its token's time."""
        self._waiting.append((wanted, start))
        self._needed.set()

    async def run(self) -> None:
        """Reserve tokens for the waiting attempts, until cancelled."""
        while True:
            await self._needed.wait()
            self._needed.clear()
            while self._waiting:
                await self._serve(min(len(self._waiting), MAX_RESERVE))

    async def _serve(self, n: int) -> None:
        offset = self.epoch()
        times = await self._reserve(n, round((self._waiting[0][0] + offset) * 1e6))
        for token in times:
            wanted, start = self._waiting.popleft()
            start(max(wanted, token / 1e6 - offset))

    async def _reserve(self, n: int, wanted_us: int) -> list[int]:
        args: list[str | int] = [self.run_id, n, self.interval_us, self.burst, wanted_us]
        try:
            reply = await self._script(keys=[self.keys.run_meta, self.keys.account], args=args)
        except ResponseError as exc:
            raise translate(exc, self.keys.run) from None
        return [int(t) for t in reply]

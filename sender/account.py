"""The run's fleet-wide cap (``account: {max_rate, burst}``), shared by every sender of
the run through Redis (``sender/account.lua``).

An attempt that must go through the account asks for a token; tokens are reserved in
Redis in one round trip for every attempt of the process (every sender of its station)
waiting at that moment, each with the time from which it may start (Redis's clock). An
attempt starts at its wanted time or its token's, whichever is later. A reservation
waits a moment for more attempts to share it (``linger``: 5 ms, at most 0.1 simulated
seconds): a token may be as far back as its attempt's wanted time, so the wait costs no
simulated time, and tokens go out in the order the attempts wanted them, to within that
moment (measured: 5 ms at x50, 250 simulated ms, shifted 2.5 % of the tokens from slower
gateways to faster ones; 2 ms, 1.6 %).
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
LINGER = 0.005  # real seconds an attempt waits at most for others to share its reservation
SIM_LINGER = 0.1  # simulated seconds it waits at most

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
        scale: float = 1.0,
    ) -> None:
        """``rate``: submissions per real second; ``epoch``: epoch seconds at event-loop
        time 0 (Redis's clock is taken as the wall clock); ``scale``: the run's time
        scale."""
        self.keys = keys
        self.run_id = run_id
        self.interval_us = max(1, round(1e6 / rate))
        self.burst = burst
        self.epoch = epoch
        self.linger = min(LINGER, SIM_LINGER / scale)
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
            await asyncio.sleep(self.linger)
            self._needed.clear()
            await self._serve(min(len(self._waiting), MAX_RESERVE))
            if self._waiting:  # more than one reservation takes, or came meanwhile
                self._needed.set()

    async def _serve(self, n: int) -> None:
        """Tokens for the first ``n`` waiting attempts, handed out in the order the
        attempts wanted to start (a slot's schedule may be backdated: see
        ``sender.schedule``), the first as far back as the earliest wanted."""
        batch = sorted((self._waiting.popleft() for _ in range(n)), key=lambda w: w[0])
        offset = self.epoch()
        times = await self._reserve(n, round((batch[0][0] + offset) * 1e6))
        for (wanted, start), token in zip(batch, times, strict=True):
            start(max(wanted, token / 1e6 - offset))

    async def _reserve(self, n: int, wanted_us: int) -> list[int]:
        args: list[str | int] = [self.run_id, n, self.interval_us, self.burst, wanted_us]
        try:
            reply = await self._script(keys=[self.keys.run_meta, self.keys.account], args=args)
        except ResponseError as exc:
            raise translate(exc, self.keys.run) from None
        return [int(t) for t in reply]

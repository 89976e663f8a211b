"""The run's fleet-wide cap (``account: {max_rate, burst}``), shared by every sender of
the run through Redis (``sender/account.lua``).

An attempt that must go through the account asks for a token; tokens are reserved in
Redis in one round trip for every attempt of the process (every sender of its station)
waiting at that moment, each with the time from which it may start (Redis's clock). An
attempt starts at its wanted time or its token's, whichever is later. A reservation
waits a moment for more attempts to share it (``linger``: 5 ms, at most 0.1 simulated
seconds): a token may be as far back as its attempt's wanted time, so the wait costs no
simulated time, and tokens go out in the order the attempts wanted them, to within that
moment. An attempt paced into the future (its gateway's ``max_rate``) waits for a token
from its paced time on, as a gateway's submission would: given one earlier, it would
leave it unused, and the more so the more the run is compressed (measured at x50:
secondary gateways' share -2.5 % against x5).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
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
Waiting = tuple[float, int, Start]  # (wanted, order, start)


class Account:
    def __init__(  # noqa: PLR0917
        self,
        client: Redis,
        keys: RunKeys,
        run_id: str,
        rate: float,
        burst: int,
        scale: float = 1.0,
    ) -> None:
        """``rate``: submissions per real second; ``scale``: the run's time scale."""
        self.keys = keys
        self.run_id = run_id
        self.interval_us = max(1, round(1e6 / rate))
        self.burst = burst
        self.linger = min(LINGER, SIM_LINGER / scale)
        self._script = client.register_script(ACCOUNT)
        self._waiting: list[Waiting] = []  # a heap: the earliest wanted first
        self._order = itertools.count()
        self._needed = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def take(self, wanted: float, start: Start) -> None:
        """Start an attempt (``start(at)``) at ``wanted`` or at its token's time."""
        heapq.heappush(self._waiting, (wanted, next(self._order), start))
        self._needed.set()

    async def run(self) -> None:
        """Reserve tokens for the waiting attempts as they come due, until cancelled."""
        while True:
            await self._until_due()
            await asyncio.sleep(self.linger)
            await self._serve(self._due())

    async def _until_due(self) -> None:
        """Until an attempt waits for a token from now or earlier: one paced into the
        future (``max_rate``) joins the queue when its time comes, as a gateway's
        submission would, not before (it would take a token it leaves unused)."""
        while not self._waiting or self._waiting[0][0] > self._loop.time():
            self._needed.clear()
            wait = self._waiting[0][0] - self._loop.time() if self._waiting else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._needed.wait(), wait)

    def _due(self) -> list[Waiting]:
        """The attempts due now, the earliest wanted first (at most MAX_RESERVE)."""
        now, due = self._loop.time(), list[Waiting]()
        while self._waiting and self._waiting[0][0] <= now and len(due) < MAX_RESERVE:
            due.append(heapq.heappop(self._waiting))
        return due

    async def _serve(self, batch: list[Waiting]) -> None:
        """Tokens for ``batch`` (in the order its attempts wanted to start: a slot's
        schedule may be backdated, see ``sender.schedule``), the first as far back as
        the earliest wanted."""
        sent = self._loop.time()
        times = await self._reserve(len(batch), round((sent - batch[0][0]) * 1e6))
        now = (sent + self._loop.time()) / 2  # Redis's "now": within the round trip
        for (wanted, _, start), token in zip(batch, times, strict=True):
            start(max(wanted, now + token / 1e6))

    async def _reserve(self, n: int, ago_us: int) -> list[int]:
        args: list[str | int] = [self.run_id, n, self.interval_us, self.burst, ago_us]
        try:
            reply = await self._script(keys=[self.keys.run_meta, self.keys.account], args=args)
        except ResponseError as exc:
            raise translate(exc, self.keys.run) from None
        return [int(t) for t in reply]

"""A run of several partitions (issue 15), as one results stream for the monitor.

Each partition has its own results stream and its own checkpoint (``monitor.follow.reader``).
The monitor reads every partition in turn, and its figures are the partitions' totals
added up (``Stats.merged``): exact, since each partition counts its own messages once.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from common.heartbeat import Heartbeat
from common.keys import RunKeys
from common.run import RunState
from monitor.follow.reader import Read, ResultsReader
from monitor.tally.stats import Stats

IDLE_WAIT = 0.05  # seconds between rounds of non-blocking reads that found nothing


class Readers:
    def __init__(self, client: Redis, keys: RunKeys, trim: bool) -> None:
        self.client = client
        self.keys = keys
        self.trim = trim
        self.readers = [ResultsReader(client, keys, trim=trim)]
        self.run_id = ""
        self._merged: Stats | None = None

    def attach(self, state: RunState) -> None:
        """Follow the run ``state`` describes: its incarnation, its partitions."""
        self.run_id = state.id
        if state.partitions > 1:
            self.readers = [
                ResultsReader(self.client, part, state.id, self.trim)
                for part in self.keys.parts(state.partitions)
            ]
        for reader in self.readers:
            reader.run_id = state.id
        self._merged = None

    @property
    def stats(self) -> Stats:
        """Every partition's totals together."""
        if self._merged is None:
            self._merged = Stats.merged([reader.stats for reader in self.readers])
        return self._merged

    async def load_checkpoint(self) -> None:
        for reader in self.readers:
            await reader.load_checkpoint()
        self._merged = None

    async def read(self, block_ms: int | None, fresh: bool = False) -> Read:
        """Count the next results of every partition; as ``ResultsReader.read``, with
        ``more`` while some partition has more waiting."""
        if len(self.readers) == 1:
            read = await self.readers[0].read(block_ms, fresh)
        else:
            read = await self._read_all(block_ms, fresh)
        self._merged = None
        return read

    async def _read_all(self, block_ms: int | None, fresh: bool) -> Read:
        reads = [await reader.read(None, fresh) for reader in self.readers]
        count = sum(read.count for read in reads)
        if not count and block_ms:
            await asyncio.sleep(min(block_ms / 1000, IDLE_WAIT))
        more = any(read.more for read in reads)
        return Read(count, more, took_over=any(read.took_over for read in reads))

    async def save_checkpoint(self) -> None:
        for reader in self.readers:
            await reader.save_checkpoint()

    async def senders(self) -> dict[str, Heartbeat]:
        return await self.readers[0].senders()

    async def close(self) -> None:
        for reader in self.readers:
            await reader.close()

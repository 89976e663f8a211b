"""Following the results stream into totals, and the run's shared checkpoint.

Any number of monitors may follow one run. They share one checkpoint (totals, and the
last result they include): the monitor furthest ahead saves it and trims the results it
includes (``monitor/checkpoint.lua``). A monitor that falls behind the checkpoint (paused,
or started late) takes it over instead of reading what may have been trimmed: after each
read it compares the checkpoint with where that read started, and when the checkpoint is
further on it adopts the checkpoint's totals and drops the read. Totals stay exact for
every monitor, and results stay trimmed behind the leader.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.client import NEVER_DECODE
from redis.exceptions import OutOfMemoryError, ResponseError

from common import scripts
from common.connection import raw_streams, stream_entries
from common.errors import translate
from common.heartbeat import Heartbeat
from common.keys import RunKeys
from common.tasks import cancel_all
from monitor.tally.stats import Stats

logger = logging.getLogger(__name__)

READ_COUNT = 2000  # entries per XREAD: 1000 and 5000 both read slower (measured)
APPLY_SLICE = 250
START = "0-0"
CHECKPOINT = scripts.load("monitor.follow", "checkpoint.lua")
Pending = tuple[str, "asyncio.Task[Any]"]  # (where it starts, the XREAD on its way)


@dataclass(frozen=True)
class Read:
    """What one read did: counted ``count`` results (``more``: a full batch, more are
    waiting), or took the shared checkpoint over instead (``took_over``)."""

    count: int = 0
    more: bool = False
    took_over: bool = False

    @property
    def caught_up(self) -> bool:
        """Counted everything there was."""
        return not self.more and not self.took_over


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def after(a: str, b: str) -> bool:
    """Stream id ``a`` comes after ``b``."""
    return _id_key(a) > _id_key(b)


class ResultsReader:
    """Follows the results stream into ``stats``. Replies are left raw (entries keep their
    flat field lists: no dict per entry), and while one batch is counted the next is on
    its way."""

    def __init__(self, client: Redis, keys: RunKeys, run_id: str = "", trim: bool = False) -> None:
        self.client = client
        self.keys = keys
        self.run_id = run_id
        self.trim = trim
        self.stats = Stats()
        self.last_id = START
        self._prefetch: Pending | None = None
        self._raw = raw_streams(client)
        self._save = client.register_script(CHECKPOINT)
        self._memory_warned = False

    async def read(self, block_ms: int | None, fresh: bool = False) -> Read:
        """Count the next results (or take the checkpoint over instead). ``fresh``: read
        now, not what was fetched ahead (which may predate what the caller knows)."""
        pending, self._prefetch = self._prefetch, None
        if pending is not None and fresh:
            await pending[1]  # reading consumes nothing: its entries come again below
            pending = None
        if pending is None:
            pending = (self.last_id, asyncio.create_task(self._xread(self.last_id, block_ms)))
        start, task = pending
        reply = await task
        if await self._behind_checkpoint(start):
            return Read(took_over=True)
        entries = stream_entries(reply)
        if not entries:
            return Read()
        self.last_id = entries[-1][0].decode()
        if len(entries) == READ_COUNT:  # a backlog: fetch more while counting these
            ahead = asyncio.create_task(self._xread(self.last_id, None))
            self._prefetch = (self.last_id, ahead)
        for first in range(0, len(entries), APPLY_SLICE):
            self.stats.apply_entries(entries[first : first + APPLY_SLICE])
            await asyncio.sleep(0)  # lets the prefetch go out
        return Read(len(entries), more=len(entries) == READ_COUNT)

    async def _xread(self, last_id: str, block_ms: int | None) -> Any:
        """XREAD left undecoded: bytes cost hiredis a third less to build than str."""
        block = ["BLOCK", block_ms] if block_ms is not None else []
        args = ["XREAD", "COUNT", READ_COUNT, *block, "STREAMS", self.keys.results, last_id]
        return await self._raw.execute_command(*args, **{NEVER_DECODE: True})  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        """Drop a read fetched ahead (it consumed nothing)."""
        if self._prefetch is not None:
            await cancel_all([self._prefetch[1]])
            self._prefetch = None

    async def senders(self) -> dict[str, Heartbeat]:
        raw: dict[str, str] = await self.client.hgetall(self.keys.senders)  # type: ignore[assignment]
        return {name: Heartbeat.parse(name, value) for name, value in raw.items()}

    async def _behind_checkpoint(self, start: str) -> bool:
        """Take the shared checkpoint over when it reaches past ``start`` (what a read from
        there returned may lack results trimmed meanwhile); True when taken over."""
        run_id, last_id = await self.client.hmget(self.keys.monitor, ["run_id", "last_id"])
        if run_id != self.run_id or not isinstance(last_id, str) or not after(last_id, start):
            return False
        saved = await self.client.hget(self.keys.monitor, "stats")
        if saved is None:
            return False
        self.stats = Stats.from_dict(json.loads(saved))
        self.last_id = last_id
        await self.close()  # a read fetched ahead started before the checkpoint
        logger.debug("took over the checkpoint at result %s", last_id)
        return True

    async def load_checkpoint(self) -> None:
        """Start from the run's checkpoint, when it has one (a restart, or another
        monitor ahead)."""
        if await self._behind_checkpoint(START):
            logger.info("resuming from the monitor checkpoint at result %s", self.last_id)

    async def save_checkpoint(self) -> bool:
        """Save the totals as the run's checkpoint when they reach furthest; then, when
        trimming, the results they include are dropped. False when another monitor's
        checkpoint reaches as far (nothing written)."""
        payload = json.dumps(self.stats.to_dict())
        args = [self.run_id, self.last_id, payload, "1" if self.trim else "0"]
        keys = [self.keys.meta, self.keys.monitor, self.keys.results]
        try:
            return bool(await self._save(keys=keys, args=args))
        except OutOfMemoryError:
            if not self._memory_warned:
                logger.warning("Redis is out of memory: the monitor's checkpoint is not saved")
                self._memory_warned = True
            return False
        except ResponseError as exc:
            raise translate(exc, self.keys.run) from None

"""Reading the results stream incrementally, and the monitor's checkpoint."""

from __future__ import annotations

import json
import logging
from typing import Any

from redis.asyncio import Redis

from common.codec import Result
from common.keys import RunKeys
from monitor.stats import Stats
from monitor.summary import SenderInfo

logger = logging.getLogger(__name__)

READ_COUNT = 10_000


class ResultsReader:
    def __init__(self, client: Redis, keys: RunKeys, last_id: str = "0-0") -> None:
        self.client = client
        self.keys = keys
        self.last_id = last_id

    async def read_into(self, stats: Stats, block_ms: int | None) -> int:
        """Apply the next results to ``stats``; return how many were read."""
        reply = await self.client.xread(
            {self.keys.results: self.last_id}, count=READ_COUNT, block=block_ms
        )
        if not reply:
            return 0
        raw: Any = reply
        entries: list[tuple[str, dict[str, str]]] = (
            raw[self.keys.results][0] if isinstance(raw, dict) else raw[0][1]
        )
        for _, fields in entries:
            stats.apply(Result.parse(fields))
        self.last_id = entries[-1][0]
        return len(entries)

    async def senders(self) -> dict[str, SenderInfo]:
        raw: dict[str, str] = await self.client.hgetall(self.keys.senders)  # type: ignore[assignment]
        return {name: SenderInfo.parse(name, value) for name, value in raw.items()}

    async def save_checkpoint(self, stats: Stats) -> None:
        payload: dict[Any, Any] = {"last_id": self.last_id, "stats": json.dumps(stats.to_dict())}
        await self.client.hset(self.keys.monitor, mapping=payload)

    async def load_checkpoint(self) -> Stats:
        """The totals a previous monitor saved, resuming after its last result id."""
        saved: dict[str, str] = await self.client.hgetall(self.keys.monitor)  # type: ignore[assignment]
        if not saved:
            return Stats()
        self.last_id = saved["last_id"]
        logger.info("resuming from the monitor checkpoint at result %s", self.last_id)
        return Stats.from_dict(json.loads(saved["stats"]))

"""A sender's view of the outbox consumer group: read, take over, keep fresh, hand back."""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from common import keys as k
from common.keys import RunKeys
from common.retry import Outage
from common.run import RunMissing, ensure_group

logger = logging.getLogger(__name__)

Entry = tuple[str, dict[str, str]]
BLOCK_MS = 1000  # well under the client's socket timeout (DESIGN.md, known pitfalls)
HAND_BACK_IDLE_MS = 10**9  # idle long enough that any live sender may take it at once


class Inbox:
    def __init__(
        self, client: Redis, keys: RunKeys, consumer: str, block_ms: int = BLOCK_MS
    ) -> None:
        self.client = client
        self.keys = keys
        self.consumer = consumer
        self.block_ms = block_ms
        self._outage = Outage(f"sender {consumer}")

    async def join(self) -> None:
        await self._outage.call(lambda: ensure_group(self.client, self.keys))

    async def own_pending(self, count: int) -> list[Entry]:
        """Entries this consumer already holds (a restart under the same name)."""
        return await self._read("0", count, block=None)

    async def read_new(self, count: int) -> list[Entry]:
        """Up to ``count`` never-delivered entries, blocking up to ``block_ms``."""
        return await self._read(">", count, block=self.block_ms)

    async def _read(self, start: str, count: int, block: int | None) -> list[Entry]:
        streams: dict[Any, Any] = {self.keys.outbox: start}
        try:
            reply = await self._outage.call(
                lambda: self.client.xreadgroup(
                    k.GROUP, self.consumer, streams, count=count, block=block
                )
            )
        except ResponseError as exc:
            raise _missing(exc, self.keys) from None
        if not reply:
            return []
        entries = _entries(reply)
        return await self._drop_deleted(entries)

    async def take_over(self, count: int, min_idle_ms: int) -> list[Entry]:
        """Claim up to ``count`` entries idle on other (dead) consumers (XAUTOCLAIM)."""
        taken: list[Entry] = []
        cursor = "0-0"
        while len(taken) < count:
            try:
                reply = await self._outage.call(
                    lambda c=cursor: self.client.xautoclaim(  # type: ignore[misc]
                        self.keys.outbox,
                        k.GROUP,
                        self.consumer,
                        min_idle_ms,
                        start_id=c,
                        count=count - len(taken),
                    )
                )
            except ResponseError as exc:
                raise _missing(exc, self.keys) from None
            cursor, claimed = reply[0], reply[1]  # Redis 7 adds deleted ids: already dropped
            taken.extend((eid, f) for eid, f in claimed if f)
            if cursor in ("0-0", b"0-0"):
                break
        return taken

    async def keep_fresh(self, ids: list[str]) -> None:
        """Reset the idle time of in-flight entries so no one takes them over."""
        if ids:
            await self._outage.call(
                lambda: self.client.xclaim(
                    self.keys.outbox, k.GROUP, self.consumer, 0, list[Any](ids), justid=True
                )
            )

    async def hand_back(self, ids: list[str]) -> None:
        """Mark in-flight entries as long idle so another sender takes them at once."""
        if ids:
            await self.client.xclaim(
                self.keys.outbox,
                k.GROUP,
                self.consumer,
                0,
                list[Any](ids),
                idle=HAND_BACK_IDLE_MS,
                justid=True,
            )

    async def _drop_deleted(self, entries: list[tuple[str, dict[str, str] | None]]) -> list[Entry]:
        """Pending entries whose stream entry is gone were delivered already: ack them."""
        gone = [eid for eid, fields in entries if fields is None]
        if gone:
            await self.client.xack(self.keys.outbox, k.GROUP, *gone)
        return [(eid, fields) for eid, fields in entries if fields is not None]


def _entries(reply: object) -> list[tuple[str, dict[str, str] | None]]:
    """Entries of the one stream in an XREADGROUP reply (RESP2 list or RESP3 dict)."""
    if isinstance(reply, dict):
        streams = list(reply.values())
        return list(streams[0][0]) if streams else []
    return list(reply[0][1])  # type: ignore[index]


def _missing(exc: ResponseError, keys: RunKeys) -> Exception:
    if "NOGROUP" in str(exc):
        return RunMissing(f"run {keys.run!r} is gone from Redis (consumer group missing)")
    return exc

"""A sender's view of the outbox consumer group: read, take over, keep fresh, hand back.

Entries are read as Redis holds them (bytes, never decoded as a whole reply): one entry
with invalid UTF-8 must not cost the others of its read, so each is decoded (and
checked) on its own by ``common.codec.Message.parse``.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis
from redis.client import NEVER_DECODE
from redis.exceptions import ResponseError

from common import keys as k
from common.connection import flat_entries, raw_streams, stream_entries
from common.errors import translate
from common.keys import RunKeys
from common.run import ensure_group

logger = logging.getLogger(__name__)

Fields = list[bytes]  # an entry's flat [field, value, ...] list, undecoded
Entry = tuple[str, Fields]
BLOCK_MS = 1000  # well under the client's socket timeout (DESIGN.md, known pitfalls)
HAND_BACK_IDLE_MS = 10**9  # idle long enough that any live sender may take it at once


class Inbox:
    def __init__(
        self, client: Redis, keys: RunKeys, consumer: str, block_ms: float = BLOCK_MS
    ) -> None:
        self.client = client
        self._raw = raw_streams(client)
        self.keys = keys
        self.consumer = consumer
        self.block_ms = max(1, int(block_ms))  # BLOCK 0 would wait for ever
        self._pending_cursor: str | None = "0"

    async def join(self) -> None:
        await ensure_group(self.client, self.keys)

    async def read(
        self, count: int, block: bool = True, block_ms: int | None = None
    ) -> list[Entry]:
        """Up to ``count`` entries: first those this consumer already held (a restart under
        the same name), then never-delivered ones, blocking up to ``block_ms`` (default:
        the inbox's; ``block`` False: not at all)."""
        while self._pending_cursor is not None:
            entries = await self._read(self._pending_cursor, count, block=None)
            if not entries:
                self._pending_cursor = None
                break
            self._pending_cursor = entries[-1][0]
            live = await self._drop_deleted(entries)
            if live:
                logger.info("%s: resuming %d message(s) it held", self.consumer, len(live))
                return live
        wait = (block_ms or self.block_ms) if block else None
        return await self._drop_deleted(await self._read(">", count, block=wait))

    async def _read(self, start: str, count: int, block: int | None) -> list[tuple[str, Any]]:
        args: list[Any] = ["XREADGROUP", "GROUP", k.GROUP, self.consumer, "COUNT", count]
        if block is not None:
            args += ["BLOCK", block]
        args += ["STREAMS", self.keys.outbox, start]
        reply = await self._call(*args)
        return [(_id(eid), fields) for eid, fields in stream_entries(reply)]

    async def take_over(self, count: int, min_idle_ms: int) -> list[Entry]:
        """Claim up to ``count`` entries idle for ``min_idle_ms`` (on crashed or stopped
        senders). One scan of the whole pending list finds them (XPENDING IDLE, inside
        Redis), then one XCLAIM takes those still idle: two round trips at most, however
        long the list (XAUTOCLAIM looks at 10 entries per entry asked for, so a sender
        with few free slots walked a long list in many calls, reading nothing meanwhile).
        """
        try:
            idle = await self.client.xpending_range(
                self.keys.outbox, k.GROUP, "-", "+", count, idle=min_idle_ms
            )
        except ResponseError as exc:
            raise translate(exc, self.keys.run) from None
        ids = [row["message_id"] for row in idle if row["consumer"] != self.consumer]
        if not ids:
            return []
        reply = await self._call(
            "XCLAIM", self.keys.outbox, k.GROUP, self.consumer, min_idle_ms, *ids
        )
        # Entries deleted from the stream meanwhile come back empty or not at all: they
        # were acked already.
        return [(_id(eid), fields) for eid, fields in flat_entries(reply) if fields]

    async def keep_fresh(self, ids: list[str]) -> None:
        """Reset the idle time of in-flight entries so no one takes them over."""
        await self._reclaim(ids, idle_ms=None)

    async def hand_back(self, ids: list[str]) -> None:
        """Mark in-flight entries as long idle so another sender takes them at once."""
        await self._reclaim(ids, idle_ms=HAND_BACK_IDLE_MS)

    async def _reclaim(self, ids: list[str], idle_ms: int | None) -> None:
        if not ids:
            return
        try:
            await self.client.xclaim(
                self.keys.outbox,
                k.GROUP,
                self.consumer,
                0,
                list[Any](ids),
                idle=idle_ms,
                justid=True,
            )
        except ResponseError as exc:
            raise translate(exc, self.keys.run) from None

    async def _call(self, *args: Any) -> Any:
        """A command whose reply stays undecoded; a vanished group says the run is gone."""
        try:
            return await self._raw.execute_command(*args, **{NEVER_DECODE: True})  # type: ignore[no-untyped-call]
        except ResponseError as exc:
            raise translate(exc, self.keys.run) from None

    async def _drop_deleted(self, entries: list[tuple[str, Any]]) -> list[Entry]:
        """Pending entries whose stream entry is gone were delivered already: ack them."""
        gone = [eid for eid, fields in entries if not fields]
        if not gone:
            return entries  # the usual case: no copy
        await self.client.xack(self.keys.outbox, k.GROUP, *gone)
        return [(eid, fields) for eid, fields in entries if fields]


def _id(value: bytes | str) -> str:
    """A stream id as text (Redis ids are ASCII)."""
    return value.decode() if isinstance(value, bytes) else value

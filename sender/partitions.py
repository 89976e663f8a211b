"""A run of several partitions (issue 15), as one outbox for the sender.

Each partition has its own outbox stream and consumer group (``sender.inbox.Inbox``), in
a slot of its own. A sender serves every partition: it reads them in turn (none
starved), takes orphans over in each, and keeps fresh or hands back what it holds in
each. Inside the sender an entry is known as ``"p/id"`` (partition p, stream id), since
two partitions' streams may hand out the same id; a run of one partition keeps plain ids.
"""

from __future__ import annotations

from collections import defaultdict

from redis.asyncio import Redis

from common.keys import RunKeys
from sender.inbox import Entry, Inbox

SEP = "/"


def key_of(partition: int, entry_id: str, partitions: int) -> str:
    return entry_id if partitions == 1 else f"{partition}{SEP}{entry_id}"


def split(key: str) -> tuple[int, str]:
    """(partition, stream id) of an entry key."""
    partition, sep, entry_id = key.partition(SEP)
    return (int(partition), entry_id) if sep else (0, key)


class Outboxes:
    def __init__(
        self, client: Redis, keys: RunKeys, consumer: str, block_ms: float, partitions: int
    ) -> None:
        self.partitions = partitions
        self.inboxes = [Inbox(client, part, consumer, block_ms) for part in keys.parts(partitions)]
        self._next = 0  # the partition read first next time

    async def join(self) -> None:
        for inbox in self.inboxes:
            await inbox.join()

    async def read(self, count: int, block_ms: int | None = None) -> list[Entry]:
        """Up to ``count`` entries: one partition's, the partitions taking turns; when none
        has any, a read of the next one blocking ``block_ms`` (default: the inbox's)."""
        if self.partitions == 1:
            return await self.inboxes[0].read(count, block_ms=block_ms)
        for _ in range(self.partitions):
            p = self._turn()
            entries = await self.inboxes[p].read(count, block=False)
            if entries:
                return self._keyed(p, entries)
        p = self._turn()
        return self._keyed(p, await self.inboxes[p].read(count, block_ms=block_ms))

    async def take_over(self, count: int, min_idle_ms: int) -> list[Entry]:
        taken: list[Entry] = []
        for p, inbox in enumerate(self.inboxes):
            if len(taken) >= count:
                break
            taken += self._keyed(p, await inbox.take_over(count - len(taken), min_idle_ms))
        return taken

    async def keep_fresh(self, keys: list[str]) -> None:
        for p, ids in self._by_partition(keys).items():
            await self.inboxes[p].keep_fresh(ids)

    async def hand_back(self, keys: list[str]) -> None:
        for p, ids in self._by_partition(keys).items():
            await self.inboxes[p].hand_back(ids)

    def _turn(self) -> int:
        p = self._next
        self._next = (p + 1) % self.partitions
        return p

    def _keyed(self, partition: int, entries: list[Entry]) -> list[Entry]:
        if self.partitions == 1:
            return entries
        return [(key_of(partition, eid, self.partitions), fields) for eid, fields in entries]

    def _by_partition(self, keys: list[str]) -> dict[int, list[str]]:
        grouped: dict[int, list[str]] = defaultdict(list)
        for key in keys:
            partition, entry_id = split(key)
            grouped[partition].append(entry_id)
        return grouped

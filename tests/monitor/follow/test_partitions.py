"""Reading the results of every partition as one stream (monitor/follow/partitions.py and
the ``Read`` each read returns, monitor/follow/reader.py)."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from common.keys import RunKeys
from common.run import RunState
from monitor.follow.partitions import Readers
from monitor.follow.reader import READ_COUNT, Read, ResultsReader
from monitor.tally.stats import Stats
from tests.monitor.support import NOW

RUN_ID = "run-id-1"


def state(partitions: int) -> RunState:
    return RunState(10_000, 10_000, True, 0, 0, id=RUN_ID, partitions=partitions)


async def delivered(client: Redis, keys: RunKeys, first: int, count: int) -> None:
    """``count`` deliveries (seq ``first``...) in ``keys``'s results stream."""
    async with client.pipeline(transaction=False) as pipe:
        for seq in range(first, first + count):
            fields: dict[Any, Any] = {"seq": seq, "sender": f"gw-{seq % 2}", "attempt": 1}
            fields |= {"ok": 1, "duration": 0.01, "ts": NOW, "latency": 0.5}
            pipe.xadd(keys.results, fields)
        await pipe.execute()


async def test_every_partition_is_counted_once(fake: Redis, keys: RunKeys) -> None:
    readers = Readers(fake, keys, trim=False)
    readers.attach(state(3))
    parts = keys.parts(3)
    for i, part in enumerate(parts):
        await delivered(fake, part, first=100 * i, count=i + 1)  # 1, 2 and 3 results
    read = await readers.read(None)
    assert read == Read(6) and read.caught_up
    assert readers.stats.sent == 6
    assert set(readers.stats.senders) == {"gw-0", "gw-1"}
    assert await readers.read(None) == Read(0)  # nothing new: caught up, nothing counted twice
    assert readers.stats.sent == 6


async def test_a_full_batch_in_one_partition_means_more(fake: Redis, keys: RunKeys) -> None:
    readers = Readers(fake, keys, trim=False)
    readers.attach(state(2))
    first, second = keys.parts(2)
    await delivered(fake, first, 0, READ_COUNT + 5)
    await delivered(fake, second, 50_000, 2)
    reads = [await readers.read(None)]
    while reads[-1].more:
        reads.append(await readers.read(None))
    assert reads[0].more and not reads[0].caught_up
    assert sum(r.count for r in reads) == READ_COUNT + 7 == readers.stats.sent
    assert reads[-1].caught_up


async def test_a_checkpoint_ahead_is_taken_over_not_read(fake: Redis, keys: RunKeys) -> None:
    """Another monitor saved totals further on: a read adopts them instead of counting."""
    await delivered(fake, keys, 0, 5)
    ahead = Stats()
    ahead.count("gw-9", 0.01, NOW, True, False, 0.5)
    entries: list[tuple[str, Any]] = await fake.xrange(keys.results)  # type: ignore[assignment]
    last = entries[-1][0]
    await fake.hset(
        keys.monitor,
        mapping={"run_id": RUN_ID, "last_id": last, "stats": json.dumps(ahead.to_dict())},
    )
    reader = ResultsReader(fake, keys, RUN_ID)
    read = await reader.read(None)
    assert read == Read(took_over=True) and not read.caught_up
    assert reader.stats.sent == 1 and set(reader.stats.senders) == {"gw-9"}  # its totals
    assert await reader.read(None) == Read(0)  # and from where it got to


async def test_one_partition_reads_as_a_plain_reader(fake: Redis, keys: RunKeys) -> None:
    readers = Readers(fake, keys, trim=False)
    readers.attach(state(1))
    await delivered(fake, keys, 0, 4)
    assert await readers.read(None) == Read(4)
    assert readers.stats.sent == 4

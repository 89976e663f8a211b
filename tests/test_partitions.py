"""A run of several partitions (issue 15), on fakeredis and a real redis-server: each
partition's own keys and counters, and the run's totals exact."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from common import keys as k
from common.keys import RunKeys
from common.run import read_state
from tests.roles import produce_now, send_all, watch


async def test_three_partitions_deliver_every_message_once(client: Redis, keys: RunKeys) -> None:
    await produce_now(client, keys.run, 301, partitions=3, seed=1)
    state = await read_state(client, keys)
    assert state is not None and state.partitions == 3 and state.produced == 301
    shares = [int(await client.hget(part.meta, k.META_TOTAL) or 0) for part in keys.parts(3)]
    assert shares == [101, 100, 100]  # seq % 3
    for part in keys.parts(3):  # each partition holds its own seqs only
        entries: Any = await client.xrange(part.outbox)
        assert {int(f["seq"]) % 3 for _, f in entries} == {part.partition}
    sender = await send_all(client, keys.run, failure_rate=0.3, seed=2, concurrency=8)
    assert sender.sent == 301
    state = await read_state(client, keys)
    assert state is not None and state.complete and state.delivered == 301
    for part in keys.parts(3):  # every partition counted its own, once
        meta = await client.hgetall(part.meta)
        assert int(meta[k.META_DELIVERED]) == int(meta[k.META_TOTAL])
        base = int(meta.get(k.META_DELIVERED_BASE, 0))
        assert base + await client.bitcount(part.delivered) == int(meta[k.META_TOTAL])
    snap = await watch(client, keys.run)
    assert snap is not None and snap.sent == 301
    attempts = sum([await client.xlen(part.results) for part in keys.parts(3)])
    assert snap.attempts == attempts
    await client.delete(*keys.all(3))


def test_partitions_spread_over_the_slot_space() -> None:
    """Each partition's keys share one slot, in its own share of the 16384 slots: a
    cluster of as many masters holding equal shares keeps them on different masters."""
    for partitions in (2, 3, 8):
        for part in RunKeys("national-alert").parts(partitions):
            slots = {key_slot(key.encode()) for key in (part.outbox, part.meta, part.results)}
            assert len(slots) == 1
            low = part.partition * 16384 // partitions
            assert low <= slots.pop() < (part.partition + 1) * 16384 // partitions


@pytest.mark.parametrize("partitions", [1, 3])
async def test_a_run_of_one_partition_keeps_its_key_names(partitions: int) -> None:
    keys = RunKeys("r").parts(partitions)[0]
    if partitions == 1:
        assert (keys.outbox, keys.meta, keys.run_meta) == (
            "sms:{r}:outbox",
            "sms:{r}:meta",
            "sms:{r}:meta",
        )
    else:
        assert keys.run_meta == "sms:{r}:meta" and keys.meta != keys.run_meta

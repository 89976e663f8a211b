"""``read_state`` reads the run's meta by field name (issue 22): every field of
``RunState`` round trips, and a run of several partitions sums its partitions' counters."""

from __future__ import annotations

import dataclasses
from typing import Any

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from common import keys as k
from common.keys import RunKeys
from common.run import RunState, read_state

# A distinct value in every field, so that a field read from another's place shows.
META: dict[FieldT, EncodableT] = {
    k.META_ID: "run-id-1",
    k.META_TOTAL: "100",
    k.META_PRODUCED: "90",
    k.META_DONE: "1",
    k.META_DELIVERED: "70",
    k.META_ABANDONED: "5",
    k.META_DEAD: "2",
    k.META_UNDELIVERABLE: "3",
    k.META_CREATED: "1700000000.5",
    k.META_TIME_SCALE: "4",
    k.META_INVALID_FRACTION: "0.03",
    k.META_ACCOUNT_RATE: "400",
    k.META_ACCOUNT_BURST: "50",
    k.META_PARTITIONS: "1",
    k.META_DUPLICATES: "6",
}
STATE = RunState(
    total=100,
    produced=90,
    done=True,
    delivered=70,
    abandoned=5,
    dead_letters=2,
    id="run-id-1",
    undeliverable=3,
    created=1700000000.5,
    time_scale=4.0,
    invalid_fraction=0.03,
    account_rate=400.0,
    account_burst=50,
    partitions=1,
    duplicates=6,
)
# A partition's counters, and where RunState keeps each.
COUNTERS = {
    k.META_PRODUCED: "produced",
    k.META_DELIVERED: "delivered",
    k.META_ABANDONED: "abandoned",
    k.META_DEAD: "dead_letters",
    k.META_UNDELIVERABLE: "undeliverable",
    k.META_DUPLICATES: "duplicates",
}


async def test_every_field_round_trips(fake: Redis, keys: RunKeys) -> None:
    await fake.hset(keys.run_meta, mapping=META)
    # Other fields of the meta are not the state's.
    await fake.hset(keys.run_meta, mapping={k.META_PROFILE_CLAIMS: "9", k.META_CONFIG: "{}"})
    assert await read_state(fake, keys) == STATE


def test_the_round_trip_covers_every_field() -> None:
    """Each field of STATE differs from its default (partitions: in the test below)."""
    values = dataclasses.asdict(STATE)
    defaults = {f.name: f.default for f in dataclasses.fields(RunState)}
    assert [name for name in values if values[name] == defaults[name]] == ["partitions"]


async def test_no_meta_is_no_run_and_absent_fields_take_their_defaults(
    fake: Redis, keys: RunKeys
) -> None:
    assert await read_state(fake, keys) is None
    await fake.hset(keys.run_meta, mapping={k.META_ID: "x"})
    assert await read_state(fake, keys) is None  # no total: not created yet
    await fake.hset(keys.run_meta, mapping={k.META_TOTAL: "10", k.META_ACCOUNT_RATE: ""})
    state = await read_state(fake, keys)
    assert state == RunState(total=10, produced=0, done=False, delivered=0, abandoned=0, id="x")


async def test_a_partitioned_run_sums_its_partitions_counters(fake: Redis, keys: RunKeys) -> None:
    parts = 3
    await fake.hset(keys.run_meta, mapping={**META, k.META_PARTITIONS: str(parts)})
    expected: dict[str, Any] = dict.fromkeys(COUNTERS.values(), 0)
    for p, part in enumerate(keys.parts(parts)):
        assert part.meta != keys.run_meta
        own: dict[FieldT, EncodableT] = {
            field: (i + 1) * 100 + p for i, field in enumerate(COUNTERS)
        }
        await fake.hset(part.meta, mapping=own)
        for i, field in enumerate(COUNTERS):
            expected[COUNTERS[field]] += (i + 1) * 100 + p
    state = await read_state(fake, keys)
    # The counters are the partitions' (not the run meta's), the rest the run meta's.
    assert state == dataclasses.replace(STATE, partitions=parts, **expected)
    assert expected["produced"] == 303 and expected["undeliverable"] == 1503


async def test_a_partition_without_counters_counts_zero(fake: Redis, keys: RunKeys) -> None:
    await fake.hset(keys.run_meta, mapping={**META, k.META_PARTITIONS: "2"})
    first = keys.parts(2)[0]
    await fake.hset(first.meta, mapping={k.META_DELIVERED: "8"})
    state = await read_state(fake, keys)
    assert state is not None
    assert (state.delivered, state.produced, state.abandoned, state.partitions) == (8, 0, 0, 2)

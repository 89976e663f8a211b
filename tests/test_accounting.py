"""Exactly-once accounting: duplicates, dead letters, abandonment, restarts under a name."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from common import keys as k
from common.codec import Message
from common.connection import EmbeddedRedis, check_server
from common.errors import RedisUnavailable, RunMissing
from common.keys import RunKeys
from common.run import read_state
from common.target import RedisTarget
from monitor.follow.reader import ResultsReader
from sender.inbox import Inbox
from sender.recorder import FAIL, OK, Outcome, Recorder
from sender.station import Station
from tests.roles import produce_now, run_id, send_all, sender_settings, watch


async def test_malformed_entries_are_dead_lettered(client: Redis, keys: RunKeys) -> None:
    await produce_now(client, keys.run, 30)
    bad = [
        {"seq": "900", "to": "+15551234567"},  # no body
        {"seq": "901", "to": "12345", "body": "hi", "created": "1"},  # not E.164
        {"seq": "x", "to": "+15551234567", "body": "hi", "created": "1"},
    ]
    for fields in bad:
        await client.xadd(keys.outbox, fields)  # type: ignore[arg-type]
    await send_all(client, keys.run)
    snap = await watch(client, keys.run)
    assert snap is not None and snap.sent == 30
    dead: list[tuple[str, dict[str, str]]] = await client.xrange(keys.dead)  # type: ignore[assignment]
    reasons = [f["reason"] for _, f in dead]
    assert len(reasons) == 3
    assert any("missing field body" in r for r in reasons)
    assert any("invalid phone number" in r for r in reasons)
    assert any("invalid number" in r for r in reasons)
    state = await read_state(client, keys)
    assert state is not None and state.dead_letters == 3 and state.complete
    assert await client.xlen(keys.outbox) == 0


async def test_max_attempts_abandons_and_the_run_still_completes(
    client: Redis, keys: RunKeys
) -> None:
    await produce_now(client, keys.run, 12)
    await send_all(client, keys.run, failure_rate=1.0, max_attempts=3, concurrency=4)
    snap = await watch(client, keys.run)
    assert snap is not None
    assert (snap.sent, snap.failed, snap.abandoned) == (0, 36, 12)
    assert await client.xlen(keys.dead) == 12


async def test_restart_under_same_name_finishes_its_own_pending(
    client: Redis, keys: RunKeys
) -> None:
    await produce_now(client, keys.run, 20)
    # A sender named "gw" took five messages and died before acking them.
    await client.xreadgroup(k.GROUP, "gw", {keys.outbox: ">"}, count=5)
    held = await client.xpending(keys.outbox, k.GROUP)
    assert held["pending"] == 5
    # Restarted under the same name, with a claim_idle far too long to take anything over.
    sender = await send_all(client, keys.run, name="gw", claim_idle=60)
    assert sender.sent == 20
    assert (await client.xpending(keys.outbox, k.GROUP))["pending"] == 0


async def test_second_success_is_a_suppressed_duplicate(client: Redis, keys: RunKeys) -> None:
    await produce_now(client, keys.run, 1)
    entries: Any = await client.xreadgroup(k.GROUP, "a", {keys.outbox: ">"}, count=1)
    entry_id = entries[0][1][0][0] if isinstance(entries, list) else None
    assert entry_id is not None
    rid = await run_id(client, keys.run)
    first, second = Recorder(client, keys, "a", run_id=rid), Recorder(client, keys, "b", run_id=rid)
    assert await _submit(first, Outcome(OK, entry_id, "0", 1, 0.01, 1.0, "0.5")) is True
    assert await _submit(second, Outcome(OK, entry_id, "0", 1, 0.01, 1.0, "0.6")) is False
    reader = ResultsReader(client, keys)
    await reader.read(None)
    stats = reader.stats
    assert (stats.sent, stats.duplicates, stats.attempts) == (1, 1, 2)


async def test_a_redis_older_than_6_2_is_refused() -> None:
    class OldServer(Redis):
        async def execute_command(self, *args: Any, **options: Any) -> Any:
            return {"redis_version": "6.0.16"}

    with pytest.raises(RedisUnavailable, match=r"6\.0\.16; 6\.2 or newer"):
        await check_server(OldServer(), RedisTarget("redis://old:6379/0"))


async def _submit(recorder: Recorder, outcome: Outcome) -> bool:
    task = asyncio.create_task(recorder.run())
    try:
        [flag] = await recorder.submit([outcome])
        return flag
    finally:
        task.cancel()


# An event of the property test: (kind, message, sender). "ok" on a delivered message is a
# duplicate success (its first owner finished after a takeover); "fail" a failed attempt.
MESSAGES = 12
events = st.lists(
    st.tuples(st.sampled_from([FAIL, OK]), st.integers(0, MESSAGES - 1), st.sampled_from("abc")),
    max_size=40,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=events, batch=st.integers(1, 7), compact_at=st.sampled_from([8, 1 << 16]))
def test_accounting_invariants_hold_for_any_interleaving(
    events: list[tuple[str, int, str]], batch: int, compact_at: int
) -> None:
    asyncio.run(_check_interleaving(events, batch, compact_at))


async def _check_interleaving(
    events: list[tuple[str, int, str]], batch: int, compact_at: int
) -> None:
    client = EmbeddedRedis().client()
    keys = RunKeys("prop")
    await produce_now(client, keys.run, MESSAGES)
    entries: Any = await client.xreadgroup(k.GROUP, "a", {keys.outbox: ">"}, count=MESSAGES)
    ids = {int(f["seq"]): eid for eid, f in entries[0][1]}
    rid = await run_id(client, keys.run)
    recorders = {
        name: Recorder(client, keys, name, run_id=rid, max_batch=batch, compact_at=compact_at)
        for name in "abc"
    }
    for kind, seq, name in events:
        recorders[name].add(Outcome(kind, ids[seq], str(seq), 1, 0.01, 1.0, "0.1"))
    for recorder in recorders.values():
        await recorder.flush()
    reader = ResultsReader(client, keys)
    await reader.read(None)
    stats = reader.stats
    delivered = {seq for kind, seq, _ in events if kind == OK}
    assert stats.sent == len(delivered)
    # The bitmap holds the bits from its base on; every seq below the base was delivered.
    base = int(await client.hget(keys.meta, k.META_DELIVERED_BASE) or 0)
    event("bitmap compacted" if base else "bitmap whole")
    assert set(range(base)) <= delivered
    assert await client.bitcount(keys.delivered) == len({s for s in delivered if s >= base})
    assert stats.attempts == len(events) == stats.sent + stats.failed + stats.duplicates
    assert stats.failed == sum(1 for kind, _, _ in events if kind == FAIL)
    state = await read_state(client, keys)
    assert state is not None and state.delivered == len(delivered)
    # Acked entries may be trimmed; every undelivered one is still there and pending.
    left: Any = await client.xrange(keys.outbox)
    undelivered = {int(f["seq"]) for _, f in left} - delivered
    assert undelivered == set(range(MESSAGES)) - delivered
    assert (await client.xpending(keys.outbox, k.GROUP))["pending"] == MESSAGES - len(delivered)
    await client.aclose()


async def test_handing_back_when_the_run_vanished_says_it_is_gone(
    client: Redis, keys: RunKeys
) -> None:
    await produce_now(client, keys.run, 3)
    inbox = Inbox(client, keys, "gw")
    [(entry_id, _)] = await inbox.read(1)
    await client.delete(*keys.all())
    with pytest.raises(RunMissing, match="is gone from Redis"):
        await inbox.hand_back([entry_id])
    with pytest.raises(RunMissing, match="is gone from Redis"):
        await inbox.keep_fresh([entry_id])


async def test_a_sender_leaves_no_task_behind_when_the_run_vanishes(
    client: Redis, keys: RunKeys
) -> None:
    await produce_now(client, keys.run, 20)
    # Every slot busy for about 10 s: the keep-fresh sweep (every claim_idle/3 = 0.33 s)
    # notices first; handing the four messages back fails too. Both say "run is gone".
    settings = sender_settings(keys.run, mean_time=10.0, concurrency=4)
    stop = asyncio.Event()
    station = await Station.create(client, [(settings, None)], stop)
    assert station is not None
    sender = station.senders[0]
    running = asyncio.create_task(station.run(stop))
    for _ in range(500):
        if len(sender.slots.inflight) == 4:
            break
        await asyncio.sleep(0.01)
    await client.delete(*keys.all())
    with pytest.raises(RunMissing, match="is gone from Redis"):
        await asyncio.wait_for(running, 3)
    left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert left == []


async def test_a_replayed_batch_is_written_once_and_keeps_its_flags(
    client: Redis, keys: RunKeys
) -> None:
    await produce_now(client, keys.run, 2)
    [(first, fields)] = await Inbox(client, keys, "gw").read(1)
    seq = str(Message.parse(fields).seq)
    recorder = Recorder(client, keys, "gw", run_id=await run_id(client, keys.run))
    await recorder.write([Outcome(OK, first, seq, 1, 0.1, 1.0, "0.5")], "b-1")
    # the same message again (a duplicate), then the batch replayed after a lost reply
    batch = [Outcome(FAIL, first, seq, 2, 0.1, 2.0), Outcome(OK, first, seq, 3, 0.1, 3.0, "1")]
    assert await recorder.write(batch, "b-2") == [True, False]
    assert await recorder.write(batch, "b-2") == [True, False]
    assert await client.xlen(keys.results) == 3
    assert await client.hget(keys.meta, k.META_DELIVERED) == "1"

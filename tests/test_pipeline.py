"""The three roles together on one Redis, parametrised over fakeredis and redis-server."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from common import keys as k
from common.keys import RunKeys
from common.run import read_state
from monitor.views.json_summary import summary
from sender import recorder
from tests.roles import fails_then_succeeds, produce_now, send_all, watch


async def test_every_message_is_delivered_once(client: Redis, keys: RunKeys) -> None:
    await produce_now(client, keys.run, 300, seed=1)
    await asyncio.gather(
        send_all(client, keys.run, name="a", failure_rate=0.3, seed=1),
        send_all(client, keys.run, name="b", failure_rate=0.5, seed=2, concurrency=4),
    )
    snap = await watch(client, keys.run)
    assert snap is not None
    s = summary(snap)
    assert s["sent"] == 300
    assert s["attempts"] == s["sent"] + s["failed_attempts"]
    assert s["duplicates_suppressed"] == 0
    assert await client.bitcount(keys.delivered) == 300
    assert await client.xlen(keys.outbox) == 0  # delivered entries leave the outbox
    assert await client.xlen(keys.results) == s["attempts"]
    assert {x["name"] for x in s["senders"]} == {"a", "b"}
    assert sum(x["sent"] for x in s["senders"]) == 300


async def test_the_delivered_bitmap_keeps_only_what_is_not_settled(
    client: Redis, keys: RunKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder, "COMPACT_AT", 64)  # 8 bytes instead of 8 KiB at a time
    await produce_now(client, keys.run, 3000)
    await send_all(client, keys.run, failure_rate=0.3, seed=3, concurrency=16)
    state = await read_state(client, keys)
    assert state is not None and state.complete and state.delivered == 3000
    base = int(await client.hget(keys.meta, k.META_DELIVERED_BASE) or 0)
    assert 3000 - 64 - 8 < base <= 3000  # the settled prefix left the bitmap as it grew
    assert await client.strlen(keys.delivered) <= (3000 - base) // 8 + 1
    assert await client.bitcount(keys.delivered) == 3000 - base
    # A late success for a message below the base is a suppressed duplicate.
    late = recorder.Recorder(client, keys, "late", run_id=state.id)
    task = asyncio.create_task(late.run())
    try:
        outcome = recorder.Outcome(recorder.OK, "1-0", "7", 2, 0.01, 1.0, "0.5")
        assert await late.submit([outcome]) == [False]
    finally:
        task.cancel()
    snap = await watch(client, keys.run)
    assert snap is not None
    assert (snap.sent, snap.duplicates) == (3000, 1)


async def test_k_failures_add_k_failed_attempts_and_one_sent(client: Redis, keys: RunKeys) -> None:
    await produce_now(client, keys.run, 3)
    rng = fails_then_succeeds(2, 0, 5)
    await send_all(client, keys.run, rng=rng, failure_rate=0.5)
    snap = await watch(client, keys.run)
    assert snap is not None
    assert (snap.sent, snap.failed, snap.attempts) == (3, 7, 10)
    results: list[tuple[str, dict[str, str]]] = await client.xrange(keys.results)  # type: ignore[assignment]
    per_seq: dict[str, list[tuple[str, str]]] = {}
    for _, f in results:
        per_seq.setdefault(f["seq"], []).append((f["attempt"], f["ok"]))
    assert per_seq["0"] == [("1", "0"), ("2", "0"), ("3", "1")]
    assert per_seq["1"] == [("1", "1")]
    assert len(per_seq["2"]) == 6 and per_seq["2"][-1] == ("6", "1")


async def test_avg_time_per_message_counts_retries(client: Redis, keys: RunKeys) -> None:
    await produce_now(client, keys.run, 40)
    await send_all(client, keys.run, mean_time=0.002, failure_rate=0.5, seed=3, concurrency=8)
    snap = await watch(client, keys.run)
    assert snap is not None
    s = snap
    assert s.avg_time_per_message is not None and s.avg_attempt_time is not None
    assert s.avg_time_per_message > s.avg_attempt_time
    # both are the total attempt time, divided by messages or by attempts
    assert s.avg_time_per_message * s.sent == pytest.approx(s.avg_attempt_time * s.attempts)
    assert 0.0015 < s.avg_attempt_time < 0.02  # the 2 ms mean, plus scheduling slack


async def test_sender_waits_for_the_producer(client: Redis, keys: RunKeys) -> None:
    sender = asyncio.create_task(send_all(client, keys.run, name="early"))
    monitor = asyncio.create_task(watch(client, keys.run))
    await asyncio.sleep(0.3)
    assert not sender.done() and not monitor.done()
    await produce_now(client, keys.run, 20)
    assert (await sender).sent == 20
    snap = await monitor
    assert snap is not None and snap.sent == 20


async def test_run_meta_tracks_completion(client: Redis, keys: RunKeys) -> None:
    assert await read_state(client, keys) is None
    await produce_now(client, keys.run, 10)
    state = await read_state(client, keys)
    assert state is not None and state.done and state.total == 10 and not state.complete
    await send_all(client, keys.run)
    state = await read_state(client, keys)
    assert state is not None and state.complete and state.delivered == 10


async def test_results_are_trimmed_behind_the_checkpoint(client: Redis, keys: RunKeys) -> None:
    await produce_now(client, keys.run, 200)
    await send_all(client, keys.run, failure_rate=0.5, seed=4, concurrency=8)
    attempts = await client.xlen(keys.results)
    assert attempts > 200
    snap = await watch(client, keys.run, keep_results=False)
    assert snap is not None and snap.sent == 200 and snap.attempts == attempts
    assert await client.xlen(keys.results) <= 1  # only what the checkpoint already counts
    again = await watch(client, keys.run)  # a restarted monitor: the checkpoint has it all
    assert again is not None and (again.sent, again.attempts) == (200, attempts)

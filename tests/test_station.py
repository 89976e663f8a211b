"""A station: the senders of one process sharing their Redis round trips (issue 21)."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from common import keys as k
from common.heartbeat import OUTAGE, Heartbeat
from common.keys import RunKeys
from common.model import SenderProfile
from sender.account import Account
from sender.station import serve, serve_fleet
from tests.roles import ScriptedRandom, produce_now, run_id, sender_settings
from tests.support import sync_client


def fleet(run: str, *profiles: dict[str, Any]) -> list[tuple[Any, SenderProfile]]:
    """One sender per profile, named gw-1, gw-2, ..."""
    return [
        (
            sender_settings(run, name=f"gw-{i}", seed=i),
            SenderProfile.model_validate({"failure_rate": 0.0, **p}),
        )
        for i, p in enumerate(profiles, start=1)
    ]


def _requests(url: str) -> int:
    """Requests Redis has read from its clients (round trips; script calls not counted)."""
    client = sync_client(url)
    try:
        info: Any = client.info("stats")
        return int(info["total_reads_processed"])
    finally:
        client.close()


async def test_senders_of_one_process_share_reads_and_writes(
    real: Redis, keys: RunKeys, redis_url: str
) -> None:
    """Eight senders of 4 slots at 10 ms: each message delivered once, by every sender, in
    about 0.1 round trip per attempt (each sender reading and writing on its own made
    about one per attempt); the group has one consumer, the station."""
    total = 2000
    await produce_now(real, keys.run, total)
    before = _requests(redis_url)
    senders = fleet(keys.run, *({"mean_time": 0.01, "concurrency": 4} for _ in range(8)))
    station = await asyncio.wait_for(serve_fleet(real, senders, asyncio.Event(), "proc"), 20)
    trips = _requests(redis_url) - before
    assert station is not None
    assert sum(s.sent for s in station.senders) == total
    assert all(s.sent > total / 8 / 2 for s in station.senders)
    assert await real.hget(keys.meta, k.META_DELIVERED) == str(total)
    assert trips / total < 0.3, f"{trips} round trips for {total} attempts"
    consumers = await real.xinfo_consumers(keys.outbox, k.GROUP)
    assert [c["name"] for c in consumers] == ["proc"]
    results: Any = await real.xrange(keys.results)
    assert {f["sender"] for _, f in results} == {f"gw-{i}" for i in range(1, 9)}


async def test_the_slot_free_longest_takes_the_next_message(client: Redis, keys: RunKeys) -> None:
    """A gateway ten times faster sends about ten times as many messages from the same
    process (handing messages out in turn would give each the same number)."""
    await produce_now(client, keys.run, 220)
    senders = fleet(keys.run, {"mean_time": 0.002}, {"mean_time": 0.02})
    station = await asyncio.wait_for(serve_fleet(client, senders, asyncio.Event()), 20)
    assert station is not None
    fast, slow = (s.sent for s in station.senders)
    assert fast + slow == 220
    assert 5 < fast / slow < 20


async def test_account_tokens_go_first_to_the_attempts_that_wanted_them_first(
    fake: Redis, keys: RunKeys
) -> None:
    """Attempts queue for the fleet-wide cap in any order (a slot's schedule may be
    backdated); the earliest wanted gets the earliest token, so no token is lost."""
    await produce_now(fake, keys.run, 1)
    loop = asyncio.get_running_loop()
    account = Account(fake, keys, await run_id(fake, keys.run), 100.0, 1)
    t0 = loop.time() - 0.1
    started: dict[str, float] = {}
    account.take(t0 + 0.02, lambda at: started.update(late=at))
    account.take(t0, lambda at: started.update(early=at))
    serving = asyncio.create_task(account.run())
    try:
        for _ in range(100):
            if len(started) == 2:
                break
            await asyncio.sleep(0.01)
    finally:
        serving.cancel()
    assert abs(started["early"] - t0) < 0.002
    assert abs(started["late"] - (t0 + 0.02)) < 0.002


def test_sms_sender_serves_several_profiles_in_one_process(
    redis_url: str, run_name: str, tmp_path: Any
) -> None:
    """`sms-sender --gateways 3` claims three profiles of the config and serves them in
    one process (one consumer of the group), each under its own name."""
    from tests.processes import finish, role_env, spawn  # noqa: PLC0415

    config = tmp_path / "c.yaml"
    config.write_text(
        "senders:\n"
        "  - {mean_time: 0.001, failure_rate: 0.1, concurrency: 4}\n"
        "  - {mean_time: 0.002, failure_rate: 0.2, concurrency: 4}\n"
        "  - {mean_time: 0.003, failure_rate: 0.3, concurrency: 4}\n",
        encoding="utf-8",
    )
    env = role_env(redis_url, run_name)
    assert finish(spawn("producer", ["--count", "600"], env))[0] == 0
    sender = spawn("sender", ["--config", str(config), "--gateways", "3", "--name", "gw"], env)
    code, _, err = finish(sender)
    assert code == 0, err
    r: redis.Redis = sync_client(redis_url)
    keys = RunKeys(run_name)
    try:
        beats: Any = r.hgetall(keys.senders)
        assert sorted(beats) == ["gw-1", "gw-2", "gw-3"]
        means = [json.loads(beats[f"gw-{i}"])["mean_time"] for i in (1, 2, 3)]
        assert means == [0.001, 0.002, 0.003]
        assert r.hget(keys.meta, k.META_DELIVERED) == "600"
        consumers: Any = r.xinfo_consumers(keys.outbox, k.GROUP)
        assert [c["name"] for c in consumers] == ["gw"]
    finally:
        r.delete(*keys.all())
        r.close()


@pytest.mark.parametrize("slots", [1, 2], ids=["empty outbox", "read begun before"])
async def test_a_retry_after_its_backoff_is_on_time_whatever_the_reads(
    client: Redis, keys: RunKeys, slots: int
) -> None:
    """One message, 5 s attempts that always fail, 3 attempts, 7 s backoffs, at x20: it
    is abandoned at 29 s simulated (1.45 s real). The reads block 3 s when the outbox is
    empty; a retry whose backoff ends meanwhile used to wait for them (35 s and more).
    With a second slot, free, the station reads for it, blocking 3 s, before anything
    backs off; the attempt fails during that read and its backoff ends during it too:
    the retry starts from its own timer, on time, and no attempt ends late (it used to
    wait for the read and end late by as much: the lag warnings at the end of every run
    with backoff)."""
    await produce_now(client, keys.run, 1, time_scale=20.0)
    profile = {
        "mean_time": 5.0,
        "shape": 10_000,
        "failure_rate": 1.0,
        "max_attempts": 3,
        "concurrency": slots,
        "retry_backoff": {"initial": 7, "factor": 1},
    }
    [(_, gateway)] = fleet(keys.run, profile)
    settings = sender_settings(keys.run, name="gw", block=3.0)
    await asyncio.wait_for(serve(client, settings, asyncio.Event(), gateway), 15)
    assert await client.hget(keys.meta, k.META_ABANDONED) == "1"
    created = float(await client.hget(keys.meta, k.META_CREATED) or 0)
    results: Any = await client.xrange(keys.results)
    ends = [(float(f["ts"]) - created) * 20 for _, f in results]
    assert ends == pytest.approx([5, 17, 29], abs=0.6)
    if slots == 2:
        assert max(float(f["late"]) for _, f in results) < 0.4  # simulated s: 20 ms real


OUTAGE_PROFILES: dict[str, tuple[dict[str, Any], list[float] | None]] = {
    "window": ({"outages": [{"at": 0, "for": 10}]}, None),
    # the first random outage from 0 to 10 s (expovariate: -log(1 - u) x mean), then up
    "random": ({"mtbf": 1000, "mttr": 20}, [0.0, 1 - math.exp(-0.5)]),
}


@pytest.mark.parametrize("kind", list(OUTAGE_PROFILES))
async def test_a_sender_stuck_in_an_outage_says_outage_until_it_is_out(
    fake: Redis, keys: RunKeys, kind: str
) -> None:
    """Down from 0 to 10 s simulated (a window, or a random outage), attempts time out
    after 30 s, at x10: its one slot waits out the first attempt's timeout until 30 s.
    Every heartbeat until then says outage: while the gateway is down, and after, while
    all it holds is an attempt begun in the outage (it said live from 10 s on: a sender
    stuck in an outage showed live for 20 s, 28 s with the default timeout)."""
    await produce_now(fake, keys.run, 3, time_scale=10.0)
    profile, script = OUTAGE_PROFILES[kind]
    [(settings, gateway)] = fleet(keys.run, {"mean_time": 0, "timeout": 30, **profile})
    rng = ScriptedRandom(script) if script else None
    created = float(await fake.hget(keys.meta, k.META_CREATED) or 0)
    task = asyncio.create_task(serve(fake, settings, asyncio.Event(), gateway, rng))
    beats: dict[float, str] = {}
    while not task.done():
        await asyncio.sleep(0.05)
        if raw := await fake.hget(keys.senders, "gw-1"):
            beat = Heartbeat.parse("gw-1", raw)
            beats[(beat.heartbeat - created) * 10] = beat.status
    assert (await task) is not None
    stuck = {round(t): status for t, status in beats.items() if 0.5 < t < 29}
    assert len([t for t in stuck if t > 11]) >= 1, beats  # a beat after the outage ended
    assert set(stuck.values()) == {OUTAGE}, beats


async def test_a_large_idle_fleet_fills_its_slots_without_sorting_each(
    fake: Redis, keys: RunKeys
) -> None:
    """200 senders of 50 slots all free (10,000): a read of 500 goes to the senders whose
    first slot freed first, each taking as many as it has free, every message once."""
    await produce_now(fake, keys.run, 2000)
    senders = fleet(keys.run, *({"mean_time": 0.05, "concurrency": 50} for _ in range(200)))
    station = await asyncio.wait_for(serve_fleet(fake, senders, asyncio.Event()), 20)
    assert station is not None
    assert sum(s.sent for s in station.senders) == 2000
    assert await fake.hget(keys.meta, k.META_DELIVERED) == "2000"


def test_a_sender_whose_clock_is_off_gets_its_account_tokens_on_time(
    redis_url: str, run_name: str, tmp_path: Any
) -> None:
    """A sender 90 s behind (libfaketime) under the fleet-wide cap: only durations cross
    between its clock and Redis's, so it sends at once (it used to wait 90 s for every
    token: nothing sent in 40 s)."""
    from tests.processes import Role, finish, python_m, role_env, spawn  # noqa: PLC0415

    faketime = shutil.which("faketime")
    if faketime is None:
        pytest.skip("no faketime binary (Debian: faketime; .ci/run installs it)")
    config = tmp_path / "c.yaml"
    config.write_text(
        "account: {max_rate: 200, burst: 10}\n"
        "senders:\n  - {mean_time: 0.05, failure_rate: 0.1, concurrency: 8}\n",
        encoding="utf-8",
    )
    env = role_env(redis_url, run_name)
    assert finish(spawn("producer", ["--config", str(config), "--count", "400"], env))[0] == 0
    argv = [faketime, "-f", "-90s", *python_m("sender", ["--config", str(config)])]
    code, _, err = finish(Role("skewed", argv, env), timeout=30)
    assert code == 0, err
    r: redis.Redis = sync_client(redis_url)
    try:
        assert r.hget(RunKeys(run_name).meta, k.META_DELIVERED) == "400"
    finally:
        r.delete(*RunKeys(run_name).all())
        r.close()

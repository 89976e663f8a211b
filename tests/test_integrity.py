"""A run whose keys vanish mid-run ends every role with one line saying why (issue 24,
items 2 and 3): a destroyed consumer group or a deleted outbox is named as such, keys
evicted by a server that evicts are reported as eviction, not as a reset; nothing hangs
and the counts that remain agree."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from common import keys as k
from common.errors import RunMissing, run_gone
from common.integrity import check_outboxes, explain
from common.keys import RunKeys
from common.run import ensure_group
from common.settings import MonitorSettings
from tests.processes import Role, finish, python_m, role_env, spawn, stop_all
from tests.support import RedisServer, sync_client, wait_until

GONE_GROUP = "its consumer group 'senders' is gone from Redis while the run is not"


async def test_a_lost_outbox_or_group_is_named(real: Redis, keys: RunKeys) -> None:
    await real.hset(keys.run_meta, mapping={k.META_TOTAL: 10, k.META_ID: "x"})
    await ensure_group(real, keys)
    await check_outboxes(real, keys, 1)  # whole: nothing raised
    gone = run_gone(keys.run)
    assert await explain(real, keys, gone) is gone  # nothing to tell
    await real.xgroup_destroy(keys.outbox, k.GROUP)
    with pytest.raises(RunMissing, match="consumer group 'senders' is gone"):
        await check_outboxes(real, keys, 1)
    await real.delete(keys.outbox)
    said = str(await explain(real, keys, gone))
    assert f"run {keys.run!r}: its outbox is gone from Redis while the run is not" in said
    assert f"sms-sim reset --run {keys.run}" in said
    await real.delete(keys.run_meta)
    assert await explain(real, keys, gone) is gone  # a reset: as it said


def test_a_destroyed_group_ends_every_role_with_one_line(redis_url: str, run_name: str) -> None:
    """XGROUP DESTROY mid-run: the senders, the producer (waiting for room under its
    backlog cap) and the monitor each exit 1 naming the lost group, within seconds (the
    producer and the monitor used to wait for ever); what was recorded agrees."""
    env = role_env(redis_url, run_name)
    monitor = spawn("monitor", ["--plain", "--report-period", "0.3", "--keep-results"], env)
    flags = ["--mean-time", "0.01", "--failure-rate", "0.1", "--concurrency", "4"]
    senders = [spawn("sender", [*flags, "--name", f"gw-{i}"], env) for i in (1, 2)]
    producer = spawn("producer", ["--count", "20000", "--max-backlog", "300"], env)
    keys = RunKeys(run_name)
    r: redis.Redis = sync_client(redis_url)
    try:
        wait_until(
            lambda: int(r.hget(keys.meta, k.META_DELIVERED) or 0) >= 300, 30, "300 delivered"
        )
        r.xgroup_destroy(keys.outbox, k.GROUP)
        began = time.monotonic()
        for role in (*senders, producer, monitor):
            code, _, err = finish(role, timeout=40)
            assert code == 1, (role.name, err)
            assert GONE_GROUP in err, (role.name, err)
            assert "Traceback" not in err
        assert time.monotonic() - began < 30
        delivered = int(r.hget(keys.meta, k.META_DELIVERED) or 0)
        assert delivered == r.bitcount(keys.delivered) > 0
        entries: Any = r.xrange(keys.results)
        ok = [f for _, f in entries if f["ok"] == "1" and "dup" not in f]
        assert len(ok) == delivered
    finally:
        stop_all([*senders, producer, monitor])
        r.delete(*keys.all())
        r.close()


@pytest.fixture
def evicting(own_redis: RedisServer) -> RedisServer:
    return own_redis  # each test sets its policy


def test_keys_evicted_mid_run_are_reported_as_eviction(
    evicting: RedisServer, tmp_path: Path
) -> None:
    """With the risk accepted (REDIS_ALLOW_EVICTION=1), a server that evicts the run's
    keys mid-run: sms-sim run exits 1 saying the keys were evicted and by which policy,
    not that the run was reset."""
    env = role_env(evicting.url, "evicted", {"REDIS_ALLOW_EVICTION": "1"})
    config = tmp_path / "c.yaml"
    config.write_text("senders:\n  - {mean_time: 0.01, failure_rate: 0, concurrency: 4}\n")
    argv = python_m("launcher", ["run", str(config), "--count", "20000", "--plain"])
    run = Role("sim", argv, env)
    r = redis.Redis(port=evicting.port, decode_responses=True)
    keys = RunKeys("evicted")
    try:
        wait_until(
            lambda: int(r.hget(keys.meta, k.META_DELIVERED) or 0) >= 200, 30, "200 delivered"
        )
        r.config_set("maxmemory-policy", "allkeys-random")
        r.config_set("maxmemory", 1)  # every key goes
        r.config_set("maxmemory", 0)
        code, _, err = finish(run, timeout=40)
        assert code == 1, err
        assert "lost keys to eviction" in err and "maxmemory-policy allkeys-random" in err
        assert "reset" not in err.splitlines()[-1]
        assert "Traceback" not in err
    finally:
        stop_all([run])
        r.close()


async def test_keys_evicted_during_a_run_that_completes_are_said(
    evicting: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A server allowed to evict (REDIS_ALLOW_EVICTION=1) evicts keys while a run goes on,
    the run's own spared: the monitor's summary is followed by a warning that its counts
    may be wrong, since they cannot be known exact."""
    from monitor.monitor import Monitor  # noqa: PLC0415
    from monitor.views.plain import PlainView  # noqa: PLC0415
    from tests.roles import produce_now, send_all  # noqa: PLC0415

    admin = redis.Redis(port=evicting.port)
    admin.config_set("maxmemory-policy", "allkeys-lru")
    admin.mset({f"junk:{i}": "x" * 1000 for i in range(3000)})
    await asyncio.sleep(2.1)  # the junk is idle: LRU evicts it, not the run's keys touched since
    client = Redis.from_url(evicting.url, decode_responses=True)

    class Evicting(PlainView):
        def update(self, rep: Any) -> None:  # the first report: evict some junk
            if admin.get("maxmemory") is None:
                used = int(admin.info("memory")["used_memory"])
                admin.config_set("maxmemory", used - 500_000)
                admin.set("trigger", "x")
            super().update(rep)

    try:
        await produce_now(client, "evicted-after", 30)
        await send_all(client, "evicted-after")
        settings = MonitorSettings(run="evicted-after", report_period=0.05)
        rep = await Monitor(client, settings, Evicting(io.StringIO())).watch(asyncio.Event())
        assert rep is not None and rep.state == "complete" and rep.sent == 30
        assert "Redis evicted" in caplog.text and "counts may be wrong" in caplog.text
        assert int(admin.info("stats")["evicted_keys"]) > 0
    finally:
        admin.config_set("maxmemory", 0)
        admin.close()
        await client.aclose()

"""Crashes, shutdowns and restarts with the roles as real OS processes on a real Redis.

Millisecond means and a short claim-idle keep each scenario to a few seconds.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from common import keys as k
from common.keys import RunKeys
from tests.processes import finish, role_env, spawn
from tests.support import RedisServer, start_redis_server, sync_client, wait_until

FAST = [
    "--mean-time",
    "0.03",
    "--failure-rate",
    "0.2",
    "--concurrency",
    "4",
    "--claim-idle",
    "1",
    "--grace",
    "2",
]


def deliveries(r: redis.Redis, keys: RunKeys) -> Counter[int]:
    """How many non-duplicate successes each seq has in the results stream."""
    entries: Any = r.xrange(keys.results)
    return Counter(int(f["seq"]) for _, f in entries if f["ok"] == "1" and "dup" not in f)


def pending_of(r: redis.Redis, keys: RunKeys, consumer: str) -> list[str]:
    rows: Any = r.xpending_range(keys.outbox, k.GROUP, "-", "+", 1000, consumername=consumer)
    return [row["message_id"] for row in rows]


def outbox_entry(r: redis.Redis, keys: RunKeys, entry_id: str) -> list[Any]:
    entries: Any = r.xrange(keys.outbox, entry_id, entry_id)
    return list(entries)


def assert_exactly_once(r: redis.Redis, keys: RunKeys, total: int) -> None:
    counts = deliveries(r, keys)
    assert sorted(counts) == list(range(total)), "a seq is missing"
    assert set(counts.values()) == {1}, "a seq was counted twice"
    assert r.bitcount(keys.delivered) == total


def test_killed_and_stopped_senders_lose_nothing(redis_url: str, run_name: str) -> None:
    keys, total = RunKeys(run_name), 1200
    r = sync_client(redis_url)
    env = role_env(redis_url, run_name)
    monitor = spawn("monitor", ["--json", "--report-period", "0.5", "--keep-results"], env)
    assert finish(spawn("producer", ["--count", str(total)], env))[0] == 0
    senders = {n: spawn("sender", [*FAST, "--name", n], env) for n in ("s1", "s2", "s3")}
    wait_until(
        lambda: r.hlen(keys.senders) == 3,  # all three up, their signal handlers installed
        timeout=20,
        what="senders to register",
    )
    wait_until(
        lambda: len(pending_of(r, keys, "s1")) > 0 and deliveries(r, keys).total() > 50,
        timeout=20,
        what="senders to be busy",
    )

    orphans = pending_of(r, keys, "s1")
    senders["s1"].process.send_signal(signal.SIGKILL)
    orphan_seqs = {int(f["seq"]) for eid in orphans for _, f in outbox_entry(r, keys, eid)}
    killed_at = time.time()
    senders["s2"].process.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    code, _, err = finish(senders["s2"], timeout=10)
    assert code == 0, err
    assert time.monotonic() - stopped_at < 2 + 1  # grace + 1 s
    fresh = spawn("sender", [*FAST, "--name", "s4"], env)

    for proc in (senders["s3"], fresh):
        assert finish(proc)[0] == 0
    code, out, err = finish(monitor)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["sent"] == total
    assert summary["attempts"] == (
        summary["sent"] + summary["failed_attempts"] + summary["duplicates_suppressed"]
    )
    assert_exactly_once(r, keys, total)
    results: Any = r.xrange(keys.results)
    last = max(
        float(f["ts"]) for _, f in results if int(f["seq"]) in orphan_seqs and f["ok"] == "1"
    )
    print(
        f"\n[failover] messages={total} orphaned={len(orphans)} "
        f"kill->last orphan delivered={last - killed_at:.2f}s "
        f"duplicates_suppressed={summary['duplicates_suppressed']}"
    )


@pytest.fixture
def aof_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary")
    server = start_redis_server(binary, tmp_path, ["--appendonly", "yes"])
    yield server
    server.stop()


def test_redis_restart_with_appendonly_keeps_counts_exact(
    aof_server: RedisServer, run_name: str
) -> None:
    keys, total = RunKeys(run_name), 800
    r = sync_client(aof_server.url)
    env = role_env(aof_server.url, run_name)
    monitor = spawn("monitor", ["--json", "--report-period", "0.3", "--keep-results"], env)
    assert finish(spawn("producer", ["--count", str(total)], env))[0] == 0
    senders = [spawn("sender", [*FAST, "--name", f"s{i}"], env) for i in (1, 2)]
    # Both senders up (a role that first meets Redis down rightly exits 1), and progress.
    wait_until(lambda: r.hlen(keys.senders) == 2, timeout=20, what="both senders")
    wait_until(lambda: deliveries(r, keys).total() > 100, timeout=20, what="progress")
    aof_server.stop()
    time.sleep(0.5)
    aof_server.start()  # same port, same data dir, appendonly on
    for proc in senders:
        code, _, err = finish(proc)
        assert code == 0, err
        assert "Redis unavailable" in err and "Redis is back" in err
    code, out, err = finish(monitor)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["sent"] == total
    assert summary["attempts"] == r.xlen(keys.results)
    assert_exactly_once(r, keys, total)


def test_monitor_killed_twice_resumes_exact_totals(redis_url: str, run_name: str) -> None:
    keys, total = RunKeys(run_name), 600
    r = sync_client(redis_url)
    env = role_env(redis_url, run_name)
    assert finish(spawn("producer", ["--count", str(total)], env))[0] == 0
    senders = [spawn("sender", [*FAST, "--name", f"s{i}"], env) for i in (1, 2)]
    for threshold in (100, 250):
        saved = r.hget(keys.monitor, "last_id")
        monitor = spawn("monitor", ["--report-period", "0.1", "--keep-results"], env)
        wait_until(
            lambda t=threshold: deliveries(r, keys).total() > t,  # type: ignore[misc]
            timeout=20,
            what="progress",
        )
        wait_until(  # this monitor has saved a checkpoint of its own: killed after it
            lambda s=saved: r.hget(keys.monitor, "last_id") not in (None, "0-0", s),  # type: ignore[misc]
            timeout=20,
            what="a checkpoint",
        )
        monitor.process.send_signal(signal.SIGKILL)
        finish(monitor)
    final = spawn("monitor", ["--json", "--report-period", "0.1", "--keep-results"], env)
    for proc in senders:
        assert finish(proc)[0] == 0
    code, out, err = finish(final)
    assert code == 0, err
    summary = json.loads(out)
    results: Any = r.xrange(keys.results)
    assert summary["sent"] == total
    assert summary["attempts"] == len(results)
    assert summary["failed_attempts"] == sum(1 for _, f in results if f["ok"] == "0")
    assert "resuming from the monitor checkpoint" in err


def test_producer_killed_mid_enqueue_resumes_without_gaps(redis_url: str, run_name: str) -> None:
    keys, total = RunKeys(run_name), 3000
    r = sync_client(redis_url)
    env = role_env(redis_url, run_name, {"PRODUCER_BATCH_SIZE": "100"})
    sender = spawn(
        "sender", ["--mean-time", "0.0005", "--failure-rate", "0", "--concurrency", "2"], env
    )
    producer = spawn("producer", ["--count", str(total), "--max-backlog", "200"], env)
    wait_until(
        lambda: int(r.hget(keys.meta, "produced") or 0) >= 500, timeout=20, what="enqueueing"
    )
    producer.process.send_signal(signal.SIGKILL)
    finish(producer)
    produced = int(r.hget(keys.meta, "produced") or 0)
    assert 0 < produced < total
    code, _, err = finish(spawn("producer", ["--count", str(total), "--max-backlog", "200"], env))
    assert code == 0, err
    assert f"resuming at seq {produced}" in err
    assert finish(sender)[0] == 0
    assert_exactly_once(r, keys, total)


def test_slow_but_alive_sender_is_not_robbed(redis_url: str, run_name: str) -> None:
    keys = RunKeys(run_name)
    r = sync_client(redis_url)
    env = role_env(redis_url, run_name)
    assert finish(spawn("producer", ["--count", "3"], env))[0] == 0
    # Each attempt takes 4 s, eight times claim-idle: only the refreshes keep them.
    slow_args = [
        "--mean-time",
        "4",
        "--shape",
        "10000",
        "--failure-rate",
        "0",
        "--concurrency",
        "3",
        "--claim-idle",
        "0.5",
        "--name",
        "slow",
    ]
    slow = spawn("sender", slow_args, env)
    wait_until(lambda: len(pending_of(r, keys, "slow")) == 3, timeout=10, what="slow to read")
    fast = spawn(
        "sender",
        ["--mean-time", "0", "--failure-rate", "0", "--claim-idle", "0.5", "--name", "fast"],
        env,
    )
    wait_until(lambda: r.hexists(keys.senders, "fast"), timeout=10, what="fast to start")
    assert len(pending_of(r, keys, "slow")) == 3  # fast sweeps while slow still works
    assert finish(slow)[0] == 0 and finish(fast)[0] == 0
    results: Any = r.xrange(keys.results)
    assert Counter(f["sender"] for _, f in results) == {"slow": 3}
    assert_exactly_once(r, keys, 3)


def test_sigterm_hands_back_what_cannot_finish_in_grace(redis_url: str, run_name: str) -> None:
    keys = RunKeys(run_name)
    r = sync_client(redis_url)
    env = role_env(redis_url, run_name)
    assert finish(spawn("producer", ["--count", "4"], env))[0] == 0
    slow = spawn(
        "sender",
        [
            "--mean-time",
            "30",
            "--failure-rate",
            "0",
            "--concurrency",
            "4",
            "--grace",
            "0.3",
            "--name",
            "slow",
        ],
        env,
    )
    wait_until(lambda: len(pending_of(r, keys, "slow")) == 4, timeout=10, what="slow to read")
    slow.process.send_signal(signal.SIGTERM)
    code, _, err = finish(slow, timeout=5)
    assert code == 0, err
    assert "handed back 4" in err
    started = time.monotonic()
    # claim_idle is 10 s, yet the handed-back messages are taken over at the first sweep.
    helper = spawn("sender", ["--mean-time", "0", "--failure-rate", "0", "--name", "helper"], env)
    assert finish(helper)[0] == 0
    assert time.monotonic() - started < 8
    assert_exactly_once(r, keys, 4)


def test_monitor_sigint_prints_summary_so_far(redis_url: str, run_name: str) -> None:
    env = role_env(redis_url, run_name)
    assert finish(spawn("producer", ["--count", "10"], env))[0] == 0
    monitor = spawn("monitor", ["--json", "--report-period", "0.2", "--plain"], env)
    r = sync_client(redis_url)
    wait_until(
        lambda: bool(r.exists(RunKeys(run_name).monitor)),
        timeout=15,
        what="the monitor's first checkpoint",
    )
    monitor.process.send_signal(signal.SIGINT)
    code, out, err = finish(monitor, timeout=5)
    assert code == 0, err
    assert json.loads(out)["sent"] == 0
    assert "stopped" in err


def test_run_keys_vanishing_mid_run_exits_1(redis_url: str, run_name: str) -> None:
    keys = RunKeys(run_name)
    r = sync_client(redis_url)
    env = role_env(redis_url, run_name)
    assert finish(spawn("producer", ["--count", "1000"], env))[0] == 0
    sender = spawn("sender", ["--mean-time", "0.05", "--failure-rate", "0"], env)
    wait_until(lambda: deliveries(r, keys).total() > 3, timeout=10, what="progress")
    r.delete(*keys.all())
    code, _, err = finish(sender, timeout=15)
    assert code == 1, err
    assert "is gone from Redis" in err, err
    assert "Traceback" not in err, err

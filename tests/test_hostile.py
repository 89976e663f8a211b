"""Exactly-once against hostile input, resets and concurrent viewers (issue 11), on a real
redis-server, with the roles as OS processes where the behaviour involves processes.

Each test asserts the exact counts: delivered equals total, meta's ``delivered`` equals
``delivered_base`` + the bitmap's count, dead letters counted, every role's exit code, and
no traceback on stderr.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from common import keys as k
from common.heartbeat import LIVE, Heartbeat
from common.keys import RunKeys
from common.settings import ProducerSettings
from monitor.follow.stall import LagWatch, why_stalled
from producer import main as producer_main
from producer.main import produce
from tests.processes import finish, role_env, spawn
from tests.support import sync_client, wait_until

FAST_SENDER = ["--mean-time", "0.001", "--failure-rate", "0.2", "--concurrency", "8"]


def assert_clean(code: int, err: str, expected: int = 0) -> None:
    assert code == expected, err
    assert "Traceback" not in err, err


def assert_counted_once(r: redis.Redis, keys: RunKeys, total: int) -> None:
    meta: Any = r.hgetall(keys.meta)
    base = int(meta.get(k.META_DELIVERED_BASE, 0))
    assert int(meta[k.META_DELIVERED]) == total
    assert base + int(r.bitcount(keys.delivered)) == total
    assert r.xlen(keys.outbox) == 0


def dead_reasons(r: redis.Redis, keys: RunKeys) -> list[str]:
    entries: Any = r.xrange(keys.dead)
    return [fields["reason"] for _, fields in entries]


def inject(url: str, keys: RunKeys, entries: list[dict[bytes, bytes]]) -> None:
    raw = redis.Redis.from_url(url)  # bytes in, bytes out: any byte goes
    for fields in entries:
        raw.xadd(keys.outbox, fields)  # type: ignore[arg-type]
    raw.close()


def message(
    seq: bytes, created: bytes = b"1700000000.5", body: bytes = b"hi"
) -> dict[bytes, bytes]:
    return {b"seq": seq, b"to": b"+15551234567", b"body": body, b"created": created}


def test_poison_foreign_and_invalid_entries_are_dead_letters_and_the_run_completes(
    redis_url: str, run_name: str
) -> None:
    """A seq beyond any bit offset, a foreign seq just past the run, invalid UTF-8 in a
    value and in a field name, a created time of NaN, -inf, 10**30 and -1: each is one
    dead letter, the rest of its read is sent, the monitor counts exactly the run's
    messages."""
    keys, total = RunKeys(run_name), 300
    r = sync_client(redis_url)
    env = role_env(redis_url, run_name)
    assert finish(spawn("producer", ["--count", str(total)], env))[0] == 0
    poison = [
        message(str(10**12).encode()),  # no bit offset Redis allows
        message(str(total + 100).encode()),  # well formed, but not one of the run's
        message(b"7", body=b"caf\xe9 \xff\xfe"),  # invalid UTF-8 in a value
        {b"seq": b"8", b"t\xffo": b"+15551234567", b"body": b"x", b"created": b"1"},
        message(b"9", created=b"nan"),
        message(b"10", created=b"-inf"),
        message(b"11", created=str(10**30).encode()),  # finite, but no time of the run's
        message(b"12", created=b"-1"),
    ]
    inject(redis_url, keys, poison)
    monitor = spawn("monitor", ["--json", "--report-period", "0.2"], env)
    senders = [spawn("sender", [*FAST_SENDER, "--name", f"gw-{i}"], env) for i in (1, 2)]
    for proc in senders:
        assert_clean(*finish(proc)[::2])
    code, out, err = finish(monitor)
    assert_clean(code, err)
    summary = json.loads(out)
    assert summary["sent"] == summary["total"] == total
    assert summary["dead_letters"] == len(poison)
    assert summary["duplicates_suppressed"] == 0
    assert_counted_once(r, keys, total)
    reasons = dead_reasons(r, keys)
    assert len(reasons) == len(poison)
    assert sum("outside the run" in reason for reason in reasons) == 2
    assert sum("not UTF-8" in reason for reason in reasons) == 2
    assert sum("invalid created time" in reason for reason in reasons) == 2
    assert sum("before the run or to come" in reason for reason in reasons) == 2
    assert int(r.hget(keys.meta, k.META_DEAD) or 0) == len(poison)


def test_a_reset_mid_run_never_reaches_the_next_run_of_that_name(
    redis_url: str, run_name: str
) -> None:
    """`sms-sim reset` during a run: the roles of the old run exit 1 saying it is gone and
    write nothing back; a new run under the same name counts only its own messages."""
    keys = RunKeys(run_name)
    r = sync_client(redis_url)
    env = role_env(redis_url, run_name)
    assert finish(spawn("producer", ["--count", "3000"], env))[0] == 0
    slow = ["--mean-time", "0.01", "--failure-rate", "0.1", "--concurrency", "4"]
    sender = spawn("sender", slow, env)
    monitor = spawn("monitor", ["--report-period", "0.1"], env)
    wait_until(lambda: int(r.hget(keys.meta, k.META_DELIVERED) or 0) > 100, 20, "deliveries")
    reset = subprocess.run(
        [*spawn_argv("launcher"), "reset"], env=env, capture_output=True, text=True, check=False
    )
    assert reset.returncode == 0, reset.stderr
    for proc in (sender, monitor):
        code, _, err = finish(proc)
        assert_clean(code, err, expected=1)
        assert "is gone from Redis" in err
    # Nothing of the old incarnation came back after the reset.
    assert [key for key in keys.all() if r.exists(key)] == []

    new_monitor = spawn("monitor", ["--json", "--report-period", "0.2"], env)
    new_sender = spawn("sender", [*FAST_SENDER, "--name", "fresh"], env)
    assert finish(spawn("producer", ["--count", "500"], env))[0] == 0
    assert_clean(*finish(new_sender)[::2])
    code, out, err = finish(new_monitor)
    assert_clean(code, err)
    summary = json.loads(out)
    assert summary["sent"] == summary["total"] == 500
    assert [s["name"] for s in summary["senders"]] == ["fresh"]
    assert_counted_once(r, keys, 500)


def spawn_argv(module: str) -> list[str]:
    return [sys.executable, "-m", module]


def test_three_monitors_paused_killed_and_restarted_each_end_exact(
    redis_url: str, run_name: str
) -> None:
    """One monitor runs throughout, one is paused for 4 s, one is killed and started
    again: each ends with the run's exact totals and exits 0, and results stay trimmed."""
    keys, total = RunKeys(run_name), 30_000
    r = sync_client(redis_url)
    env = role_env(redis_url, run_name)
    watch = ["--json", "--report-period", "0.2"]
    steady, paused, killed = (spawn("monitor", watch, env) for _ in range(3))
    busy = ["--mean-time", "0.005", "--failure-rate", "0.3", "--concurrency", "16"]
    senders = [spawn("sender", [*busy, "--name", f"gw-{i}"], env) for i in range(3)]
    producer = spawn("producer", ["--count", str(total)], env)
    wait_until(lambda: int(r.hget(keys.meta, k.META_DELIVERED) or 0) > 2000, 30, "deliveries")
    paused.process.send_signal(signal.SIGSTOP)
    killed.process.kill()
    killed.process.wait()
    time.sleep(4)
    paused.process.send_signal(signal.SIGCONT)
    restarted = spawn("monitor", watch, env)
    assert finish(producer)[0] == 0
    for proc in senders:
        assert_clean(*finish(proc)[::2])
    summaries = []
    for proc in (steady, paused, restarted):
        code, out, err = finish(proc)
        assert_clean(code, err)
        summaries.append(json.loads(out))
    figures = {(s["sent"], s["failed_attempts"], s["attempts"]) for s in summaries}
    assert len(figures) == 1, summaries  # all three agree exactly
    sent, failed, attempts = figures.pop()
    assert sent == total and attempts == sent + failed
    assert attempts == sum(s["attempts"] for s in summaries[0]["senders"])
    assert_counted_once(r, keys, total)
    assert r.xlen(keys.results) < attempts // 2  # trimmed behind the leading monitor


def test_a_sender_block_below_a_millisecond_is_refused(redis_url: str, run_name: str) -> None:
    env = role_env(redis_url, run_name, {"SENDER_BLOCK": "0.0001"})
    code, _, err = finish(spawn("sender", ["--mean-time", "0", "--failure-rate", "0"], env))
    assert_clean(code, err, expected=2)
    assert "block" in err and err.count("error:") == 1


def test_a_one_millisecond_block_stops_on_the_first_sigterm(redis_url: str, run_name: str) -> None:
    env = role_env(redis_url, run_name, {"SENDER_BLOCK": "0.001"})
    assert finish(spawn("producer", ["--count", "3"], env))[0] == 0
    r = sync_client(redis_url)
    busy = ["--mean-time", "1000", "--failure-rate", "0", "--grace", "0", "--concurrency", "4"]
    sender = spawn("sender", [*busy, "--name", "idle"], env)  # a free slot: 1 ms reads
    wait_until(lambda: bool(r.hexists(RunKeys(run_name).senders, "idle")), 20, "the sender")
    sender.process.send_signal(signal.SIGTERM)
    code, _, err = finish(sender, timeout=5)
    assert_clean(code, err)
    assert "Redis unavailable" not in err


async def test_a_producer_at_its_backlog_cap_with_no_sender_says_so(
    real: Redis, run_name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(producer_main, "STALLED_SAY_EVERY", 0.2)
    stop = asyncio.Event()
    settings = ProducerSettings(run=run_name, count=100, max_backlog=10)
    filling = asyncio.create_task(produce(real, settings, stop))
    await asyncio.sleep(0.7)
    stop.set()
    assert await filling == 10  # the cap held
    said = [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()]
    assert said and all("no sender is working" in line for line in said)


def test_out_of_memory_ends_a_role_with_one_line(redis_url: str, run_name: str) -> None:
    env = role_env(redis_url, run_name, {"REDIS_GIVE_UP": "1"})
    assert finish(spawn("producer", ["--count", "50"], env))[0] == 0
    r = sync_client(redis_url)
    r.config_set("maxmemory", 1)
    try:
        code, _, err = finish(spawn("sender", FAST_SENDER, env))
    finally:
        r.config_set("maxmemory", 0)
    assert_clean(code, err, expected=1)
    assert "retrying" in err  # the outage was ridden out first, with one warning
    [line] = [line for line in err.splitlines() if "error:" in line]
    assert "Redis is out of memory" in line


async def test_the_monitor_says_why_progress_stopped(real: Redis) -> None:
    now = time.time()
    working = {"gw": Heartbeat("gw", status=LIVE, heartbeat=now)}
    assert await why_stalled(real, working) is None
    await real.config_set("maxmemory", 1)
    try:
        assert "Redis is out of memory" in str(await why_stalled(real, working))
    finally:
        await real.config_set("maxmemory", 0)
    troubled = {"gw": Heartbeat("gw", status=LIVE, heartbeat=now, error="Redis is loading")}
    assert "gw: Redis is loading" in str(await why_stalled(real, troubled))
    stale = {"gw": Heartbeat("gw", status=LIVE, heartbeat=now - 60)}
    assert "no sender is working" in str(await why_stalled(real, stale))
    assert "no sender has joined" in str(await why_stalled(real, {}))


def test_a_server_that_is_not_redis_or_refuses_us_is_one_line(
    redis_url: str, run_name: str
) -> None:
    r = sync_client(redis_url)
    user = f"u{run_name[-6:]}"
    r.acl_setuser(
        user, enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-evalsha", "-eval"]
    )
    host = redis_url.split("//")[1].split("/", maxsplit=1)[0]
    cases = [
        (f"redis://{user}:pw@{host}/0", 1, "may not run a command"),
        (f"redis://{user}:wrong@{host}/0", 2, "refused the credentials"),
        (f"redis://{host}/99", 2, "no such database"),
    ]
    try:
        with socket.socket() as http:  # a server that answers, but not in RESP
            http.bind(("127.0.0.1", 0))
            http.listen()
            cases.append((f"redis://127.0.0.1:{http.getsockname()[1]}/0", 1, "Redis protocol"))
            answer = threading.Thread(target=_answer_http, args=(http,), daemon=True)
            answer.start()
            for url, expected_code, expected in cases:
                env = role_env(url, run_name)
                code, _, err = finish(spawn("producer", ["--count", "5"], env), timeout=30)
                assert_clean(code, err, expected=expected_code)
                [line] = [line for line in err.splitlines() if "error:" in line]
                assert expected in line, line
                assert "wrong" not in line and ":pw@" not in line  # passwords masked
    finally:
        r.acl_deluser(user)


def _answer_http(sock: socket.socket) -> None:
    while True:
        conn, _ = sock.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")


def test_a_sender_behind_its_schedule_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    watch = LagWatch(behind=0.25)
    now = time.time()
    beats = {
        "fast": Heartbeat("fast", status=LIVE, heartbeat=now, late=0.004),
        "slow": Heartbeat("slow", status=LIVE, heartbeat=now, late=0.4),
    }
    watch.check(beats)
    watch.check(beats)
    said = [r.getMessage() for r in caplog.records if "behind its schedule" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("sender slow runs 400 ms behind")


def test_a_large_fleet_behind_its_schedule_is_said_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = time.time()
    beats = {
        f"gw-{i}": Heartbeat(f"gw-{i}", status=LIVE, heartbeat=now, late=0.3 + i / 100)
        for i in range(40)
    }
    LagWatch(behind=0.25).check(beats)
    said = [r.getMessage() for r in caplog.records if "behind its schedule" in r.getMessage()]
    assert said == [said[0]] and "gw-39 (the worst of 40 senders) runs 690 ms" in said[0]

"""`sms-sim run` over several processes (issue 21): worker processes, a worker that dies,
Ctrl-C to the whole process group, and the private redis-server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from common import keys as k
from common.keys import RunKeys
from common.model import SenderProfile
from launcher import private_redis
from launcher.cli import main as sim_main
from launcher.workers import spread
from sender.station import serve
from tests.commands import Runner
from tests.processes import clean_env, in_own_group, python_m, role_env
from tests.roles import sender_settings
from tests.support import sync_client, wait_until

FLEET = (
    "senders:\n"
    "  - {mean_time: 0.004, failure_rate: 0.2, concurrency: 4}\n"
    "  - {mean_time: 0.006, failure_rate: 0.1, concurrency: 4}\n"
    "  - {mean_time: 0.008, failure_rate: 0.3, concurrency: 4}\n"
    "  - {mean_time: 0.004, failure_rate: 0.0, concurrency: 4}\n"
)


def sim(args: list[str], env: dict[str, str], **kw: Any) -> subprocess.Popen[str]:
    """``sms-sim run ARGS`` as its own process (and process group)."""
    return in_own_group(python_m("launcher", ["run", *args]), env, **kw)


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process below ``pid``."""
    parents: dict[int, int] = {}
    lines: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            lines[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent:
                found.append((child, lines.get(child, "")))
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def delivered_once(url: str, run: str, total: int) -> None:
    r: redis.Redis = sync_client(url)
    keys = RunKeys(run)
    try:
        meta: Any = r.hgetall(keys.meta)
        assert int(meta[k.META_DELIVERED]) == total
    finally:
        r.delete(*keys.all())
        r.close()


def test_spread_balances_the_load_and_never_leaves_a_share_empty() -> None:
    profiles = [
        SenderProfile(mean_time=m, failure_rate=0.1, concurrency=c)
        for m, c in ((1.0, 10), (1.0, 10), (1.0, 1), (1.0, 1), (0.0, 4))
    ]
    fleet = [(sender_settings("r", name=f"s{i}"), p) for i, p in enumerate(profiles)]
    shares = spread(fleet, 2)
    assert sorted(len(s) for s in shares) == [2, 3]
    loads = sorted(sum(p.concurrency / max(p.mean_time, 1) for _, p in s) for s in shares)
    assert loads == [12, 14]  # a sender at mean 0 weighs its slots
    assert len(spread(fleet, 9)) == 5  # at most one process per sender
    assert [name for s in spread(fleet, 1) for name in (x.name for x, _ in s)] == [
        f"s{i}" for i in range(5)
    ]


def test_two_workers_share_the_fleet_and_count_every_message_once(
    redis_url: str, run_name: str, tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(FLEET, encoding="utf-8")
    env = role_env(redis_url, run_name)
    proc = sim([str(config), "--count", "3000", "--workers", "2", "--json", "--plain"], env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "4 senders in 2 process(es)" in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["sent"] == summary["total"] == 3000
    assert summary["duplicates_suppressed"] == 0
    assert all(s["sent"] > 0 for s in summary["senders"]) and len(summary["senders"]) == 4
    r: redis.Redis = sync_client(redis_url)
    try:
        consumers: Any = r.xinfo_consumers(RunKeys(run_name).outbox, k.GROUP)
        names = sorted(c["name"] for c in consumers)
        assert len(names) == 2 and names[1] == names[0] + "-w1"  # this process, worker 1
    finally:
        r.close()
    delivered_once(redis_url, run_name, 3000)


@pytest.mark.parametrize(("workers", "expected"), [("0", "workers"), ("-1", "workers")])
def test_a_worker_count_below_one_is_refused(workers: str, expected: str) -> None:
    proc = sim(["--workers", workers, "--count", "10"], clean_env())
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    [line] = [x for x in err.splitlines() if "error:" in x]
    assert expected in line


def test_more_workers_than_senders_is_capped_with_a_note(redis_url: str, run_name: str) -> None:
    env = role_env(redis_url, run_name)
    proc = sim(["--workers", "9", "--count", "50"], env)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "--workers 9: the fleet has 5 senders" in err
    assert "5 senders in 5 process(es)" in err
    delivered_once(redis_url, run_name, 50)


def test_a_worker_killed_mid_run_is_named_and_the_run_still_completes(
    redis_url: str, run_name: str, tmp_path: Path
) -> None:
    """SIGKILL a worker process: its messages are taken over (claim_idle 1 s), the run
    completes exactly, and sms-sim run exits 1 naming the worker."""
    config = tmp_path / "c.yaml"
    config.write_text(FLEET.replace("0.00", "0.02"), encoding="utf-8")
    env = role_env(redis_url, run_name, {"SENDER_CLAIM_IDLE": "1"})
    proc = sim([str(config), "--count", "2000", "--workers", "2", "--json", "--plain"], env)
    wait_until(lambda: _worker_holds(redis_url, run_name), 30, "the worker to hold messages")
    worker = _worker_of(proc.pid)
    assert worker is not None
    os.kill(worker, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    [line] = [x for x in err.splitlines() if "error:" in x]
    assert f"worker 1 (pid {worker}; senders" in line and "killed by SIGKILL" in line
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["sent"] == summary["total"] == 2000
    assert "took over" in err
    delivered_once(redis_url, run_name, 2000)


def _worker_holds(url: str, run: str) -> bool:
    """Worker 1 of the run's sms-sim (consumer ``NAME-w1``) holds messages."""
    r: redis.Redis = sync_client(url)
    try:
        consumers: Any = r.xinfo_consumers(RunKeys(run).outbox, k.GROUP)
    except redis.ResponseError:
        return False  # no group yet
    finally:
        r.close()
    return any(c["name"].endswith("-w1") and c["pending"] > 0 for c in consumers)


def _worker_of(pid: int) -> int | None:
    found = [p for p, line in descendants(pid) if "launcher.worker" in line]
    return found[0] if found else None


def test_ctrl_c_to_the_process_group_stops_every_process_and_loses_nothing(
    redis_url: str, run_name: str, tmp_path: Path
) -> None:
    """SIGINT to the whole group (what Ctrl-C does): sms-sim run tells its workers once,
    each finishes or hands back what it holds, all exit 0; a sender started afterwards
    delivers the rest, every message exactly once."""
    config = tmp_path / "c.yaml"
    config.write_text(FLEET.replace("0.00", "0.05"), encoding="utf-8")
    env = role_env(redis_url, run_name, {"MONITOR_KEEP_RESULTS": "1"})
    proc = sim([str(config), "--count", "3000", "--workers", "2", "--plain"], env)
    wait_until(lambda: _worker_holds(redis_url, run_name), 30, "the worker to hold messages")
    worker = _worker_of(proc.pid)
    assert worker is not None
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "exits now" not in err  # one stop, not a second signal
    assert not alive(worker)
    assert "stopped in" in err
    _finish_with_one_sender(redis_url, run_name, 3000)


def _finish_with_one_sender(url: str, run: str, total: int) -> None:
    import asyncio  # noqa: PLC0415

    from common.connection import connect  # noqa: PLC0415

    async def finish() -> None:
        client = connect(url)
        try:
            settings = sender_settings(run, name="after", claim_idle=0.1)
            await asyncio.wait_for(serve(client, settings, asyncio.Event()), 30)
        finally:
            await client.aclose()

    asyncio.run(finish())
    r: redis.Redis = sync_client(url)
    keys = RunKeys(run)
    try:
        meta: Any = r.hgetall(keys.meta)
        assert int(meta[k.META_DELIVERED]) == total
        entries: Any = r.xrange(keys.results)
        delivered = [f["seq"] for _, f in entries if f["ok"] == "1" and "dup" not in f]
        assert sorted(map(int, delivered)) == list(range(total))
    finally:
        r.delete(*keys.all())
        r.close()


def test_without_a_server_named_it_runs_on_a_private_redis_server_and_leaves_none(
    tmp_path: Path,
) -> None:
    env = {**clean_env(), "TMPDIR": str(tmp_path)}
    proc = sim(["--count", "40", "--time-scale", "10", "--json"], env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Redis private redis-server (unix socket, no persistence)" in err.splitlines()[0]
    assert json.loads(out.strip().splitlines()[-1])["sent"] == 40
    assert list(tmp_path.iterdir()) == []  # its directory and socket are gone


def test_a_killed_sms_sim_run_takes_its_redis_server_and_workers_with_it(
    tmp_path: Path,
) -> None:
    """SIGKILL leaves no handler to run: the private server's watchdog and the workers
    see their input end, and stop."""
    env = {**clean_env(), "TMPDIR": str(tmp_path)}
    proc = sim(["--count", "100000", "--workers", "2"], env)
    wait_until(lambda: _worker_of(proc.pid) is not None, 20, "a worker process")
    left = descendants(proc.pid)
    assert any("redis-server" in line for _, line in left)
    proc.kill()
    proc.communicate(timeout=10)
    wait_until(lambda: not any(alive(p) for p, _ in left), 20, "every child to end")


def test_without_a_redis_server_installed_it_runs_on_fakeredis_in_one_process(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("REDIS_URL", "SMS_RUN", "SMS_CONFIG", "SMS_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(private_redis, "server_binary", lambda: None)
    result = runner(sim_main, ["run", "--count", "30", "--workers", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert "the in-process fakeredis serves one process" in result.stderr
    assert "5 senders in 1 process(es), Redis embedded fakeredis (in-process)" in result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["sent"] == 30

"""The roles as separate OS processes against a real redis-server, as an operator runs them."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.processes import finish, role_env, spawn


def test_producer_two_senders_and_monitor(redis_url: str, run_name: str) -> None:
    env = role_env(redis_url, run_name)
    monitor = spawn("monitor", ["--json", "--report-period", "0.5"], env)
    senders = [
        spawn(
            "sender",
            [
                "--mean-time",
                "0.002",
                "--failure-rate",
                "0.4",
                "--concurrency",
                "8",
                "--name",
                f"gw-{i}",
                "--seed",
                str(i),
            ],
            env,
        )
        for i in (1, 2)
    ]
    producer = spawn("producer", ["--count", "2000", "--seed", "1"], env)
    assert finish(producer)[0] == 0
    for proc in senders:
        code, _, err = finish(proc)
        assert code == 0, err
    code, out, err = finish(monitor)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["run"] == run_name
    assert summary["sent"] == summary["total"] == 2000
    assert summary["attempts"] == summary["sent"] + summary["failed_attempts"]
    assert summary["duplicates_suppressed"] == 0
    assert summary["failed_attempts"] / summary["attempts"] == pytest.approx(0.4, abs=0.05)
    assert {s["name"] for s in summary["senders"]} == {"gw-1", "gw-2"}
    assert "sent=2000/2000" in err  # the plain report line on stderr (not a TTY)


def test_monitor_started_first_says_once_that_it_waits(redis_url: str, run_name: str) -> None:
    env = role_env(redis_url, run_name)
    monitor = spawn("monitor", ["--report-period", "0.2"], env)
    sender = spawn("sender", ["--mean-time", "0", "--failure-rate", "0"], env)
    subprocess.run(["sleep", "1"], check=True)
    producer = spawn("producer", ["--count", "50"], env)
    assert finish(producer)[0] == 0
    assert finish(sender)[0] == 0
    code, _, err = finish(monitor)
    assert code == 0
    assert err.count("waiting for run") == 1

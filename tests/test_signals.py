"""One stop request is one stop request, however and whenever it comes (issue 24): a
signal sent to a role's whole process group, or in its first instants, ends it with one
line and a documented code, never a traceback or a silent -15."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.processes import in_own_group, python_m, role_env


def started(module: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``python -m module`` in a process group of its own, as a shell starts it."""
    return in_own_group(python_m(module, ["--plain"] if module == "monitor" else []), env)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("module", ["monitor", "sender", "producer", "launcher"])
def test_a_signal_while_a_role_starts_ends_it_with_one_line(
    redis_url: str, run_name: str, module: str, sig: signal.Signals
) -> None:
    """Sent while the role imports (0.2 s): exit 128 + signal with one line; it used to be
    a KeyboardInterrupt traceback, or -15 with nothing said."""
    proc = started(module, role_env(redis_url, run_name))
    time.sleep(0.2)
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + sig, err
    assert err.strip().endswith("before it started: nothing was done"), err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("module", ["monitor", "sender"])
def test_a_signal_to_the_process_group_is_one_stop_request(
    redis_url: str, run_name: str, module: str
) -> None:
    """SIGTERM to the group of a role waiting for its run, sent twice within a few
    milliseconds (as a launcher in front of it forwards it): one graceful stop, exit 0."""
    proc = started(module, role_env(redis_url, run_name))
    deadline = time.monotonic() + 20
    assert proc.stderr is not None
    while "waiting for run" not in proc.stderr.readline():  # its handlers are in place
        assert time.monotonic() < deadline and proc.poll() is None
    os.killpg(proc.pid, signal.SIGTERM)
    time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "exits now" not in err and "Traceback" not in err


def test_a_deliberate_second_signal_still_ends_a_role_at_once(
    redis_url: str, run_name: str
) -> None:
    """Past the short window, a second Ctrl-C is the user's: the sender finishing its
    in-flight messages (grace 30 s) exits at once, 130, saying so."""
    from tests.processes import finish, spawn  # noqa: PLC0415

    env = role_env(redis_url, run_name)
    assert finish(spawn("producer", ["--count", "20"], env))[0] == 0
    flags = ["--mean-time", "20", "--concurrency", "4", "--grace", "30"]
    proc = in_own_group(python_m("sender", flags), env)
    assert proc.stderr is not None
    deadline = time.monotonic() + 20
    while "mean_time=20s" not in proc.stderr.readline():  # serving: messages in flight
        assert time.monotonic() < deadline and proc.poll() is None
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(1.0)  # well past the window in which a repeat is the same signal
    began = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert time.monotonic() - began < 3  # not the 30 s of grace
    assert "second signal: sms-sender exits now" in err

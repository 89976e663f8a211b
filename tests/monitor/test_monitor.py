"""The monitor's lifecycle (monitor/monitor.py) and its commands' output streams."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from common import keys as k
from common.keys import RunKeys
from common.run import RunState
from common.settings import MonitorSettings
from monitor.figures.report import Report, build
from monitor.monitor import Monitor
from monitor.views.live import render
from monitor.views.plain import PlainView
from tests.monitor.support import (
    ESC,
    NOW,
    recorded,
)
from tests.support import ROOT


class ExplodingView:
    def __init__(self) -> None:
        self.closed = False

    def update(self, rep: Report) -> None:
        raise RuntimeError("boom")

    def finish(self, rep: Report) -> None:
        raise AssertionError("not reached")

    def close(self) -> None:
        self.closed = True


async def test_monitor_closes_the_view_when_it_fails(fake: Redis, keys: RunKeys) -> None:
    await fake.hset(keys.meta, mapping={k.META_TOTAL: 5, k.META_CREATED: NOW})
    view = ExplodingView()
    monitor = Monitor(fake, MonitorSettings(run=keys.run, report_period=0.05), view)
    with pytest.raises(RuntimeError, match="boom"):
        await asyncio.wait_for(monitor.watch(asyncio.Event()), 5)
    assert view.closed


async def test_snapshot_masks_the_redis_password(fake: Redis, keys: RunKeys) -> None:
    settings = MonitorSettings(run=keys.run, redis_url="redis://ops:s3cret@db.example:6380/1")
    monitor = Monitor(fake, settings, PlainView(io.StringIO()))
    snap = await monitor.snapshot(RunState(10, 10, True, 0, 0))
    assert "s3cret" not in snap.url
    assert snap.url == "redis://ops:***@db.example:6380/1"
    assert "s3cret" not in recorded(render(build(snap)))


def test_json_is_the_only_thing_on_stdout(tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "num_messages: 20\nreport_period: 0.2\n"
        "senders:\n  - { mean_time: 0.001, failure_rate: 0.3 }\n"
        "  - { mean_time: 0.002, failure_rate: 0.1 }\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "run", str(config), "--json", "--run", "json-only"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["sent"] == 20
    assert ESC not in done.stderr  # stderr is a pipe here: plain lines
    assert any(line.startswith("run=json-only ") for line in done.stderr.splitlines())


async def test_a_run_completed_between_its_state_and_its_results_is_complete(
    fake: Redis, keys: RunKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The monitor reads the run's state, then its results. Stopped (by ``sms-sim run``,
    once its senders are done) right after the read that found the last results, it holds
    a state read before them: complete by its count of results, not by that state. The
    final report is complete (it said "stopped" with every message delivered: ~3 runs in
    470)."""
    from common import run as run_module  # noqa: PLC0415
    from monitor import monitor as module  # noqa: PLC0415
    from tests.roles import produce_now, send_all  # noqa: PLC0415

    await produce_now(fake, keys.run, 20)
    await send_all(fake, keys.run)
    settings = MonitorSettings(run=keys.run, report_period=0.05, keep_results=True)
    monitor = Monitor(fake, settings, PlainView(io.StringIO()))
    real = run_module.require_state
    stale = 0

    async def read_before_the_last_batch(client: Redis, rk: RunKeys, run_id: str) -> RunState:
        """The state as it was before the last batch was recorded, until the monitor has
        read every result (then the state is read after it, as it is)."""
        nonlocal stale
        state = await real(client, rk, run_id)
        if monitor.stats.sent >= state.total:
            return state
        stale += 1
        return RunState(state.total, state.produced, state.done, state.delivered - 1, 0)

    stop = asyncio.Event()
    read = monitor.reader.read

    async def then_stopped(block: int | None, fresh: bool = False) -> Any:
        """The read that finds the last results; ``sms-sim run`` stops the monitor then
        (its senders are done)."""
        done = await read(block, fresh=fresh)
        if monitor.stats.sent >= 20:
            stop.set()
        return done

    monkeypatch.setattr(module, "require_state", read_before_the_last_batch)
    monkeypatch.setattr(monitor.reader, "read", then_stopped)
    rep = await asyncio.wait_for(monitor.watch(stop), 10)
    assert stale >= 1
    assert rep is not None and rep.state == "complete" and rep.sent == 20

"""The monitor's lifecycle (monitor/monitor.py) and its commands' output streams."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path

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

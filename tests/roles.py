"""Running roles in-process for tests, with millisecond timings."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

from redis.asyncio import Redis

from common.keys import RunKeys
from common.run import read_state
from common.settings import MonitorSettings, ProducerSettings, SenderSettings
from monitor.figures.report import Report
from monitor.monitor import Monitor
from monitor.views.plain import PlainView
from producer.main import produce
from sender.station import serve
from sender.worker import Sender


class ScriptedRandom(random.Random):
    """``random()`` returns the scripted values in turn (then 0.99...); the rest is seeded."""

    def __init__(self, values: list[float]) -> None:
        super().__init__(0)
        self._values: Iterator[float] = iter(values)

    def random(self) -> float:
        return next(self._values, 0.999999)


def fails_then_succeeds(*failures: int) -> ScriptedRandom:
    """An rng for a failure_rate 0.5 sender: message i fails failures[i] times first."""
    script: list[float] = []
    for k in failures:
        script.extend([0.0] * k + [0.99])
    return ScriptedRandom(script)


async def run_id(client: Redis, run: str) -> str:
    """The incarnation id of a run that exists."""
    state = await read_state(client, RunKeys(run))
    assert state is not None
    return state.id


async def produce_now(client: Redis, run: str, count: int, **kw: Any) -> int:
    settings = ProducerSettings(run=run, count=count, **kw)
    return await produce(client, settings, asyncio.Event())


def sender_settings(run: str, **kw: Any) -> SenderSettings:
    defaults: dict[str, Any] = {
        "mean_time": 0.0,
        "failure_rate": 0.0,
        "claim_idle": 1.0,
        "grace": 1.0,
        "block": 0.05,
    }
    return SenderSettings(run=run, **{**defaults, **kw})


async def send_all(client: Redis, run: str, rng: random.Random | None = None, **kw: Any) -> Sender:
    """Run one sender until the run completes (10 s at most)."""
    sender = await asyncio.wait_for(
        serve(client, sender_settings(run, **kw), asyncio.Event(), rng=rng), 10
    )
    assert sender is not None
    return sender


async def watch(
    client: Redis, run: str, stop: asyncio.Event | None = None, **kw: Any
) -> Report | None:
    kw.setdefault("report_period", 0.05)
    kw.setdefault("keep_results", True)  # tests inspect the results stream afterwards
    settings = MonitorSettings(run=run, **kw)
    monitor = Monitor(client, settings, PlainView())
    return await asyncio.wait_for(monitor.watch(stop or asyncio.Event()), 10)

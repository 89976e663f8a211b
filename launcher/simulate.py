"""All roles in one process: the producer, one sender per configured profile, the monitor."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from common.connection import EmbeddedRedis, check_server, connect
from common.errors import UsageProblem
from common.keys import RunKeys
from common.run import read_state
from common.settings import (
    MonitorSettings,
    ProducerSettings,
    RoleSettings,
    SenderSettings,
    SimConfig,
)
from common.tasks import cancel_all
from monitor.main import Monitor
from monitor.summary import Snapshot
from monitor.views import View
from producer.main import Producer
from sender.worker import Sender

logger = logging.getLogger(__name__)


class LauncherSettings(RoleSettings):
    """``sms-sim run``: where (embedded or REDIS_URL), which run, seed, output."""

    seed: int | None = None
    json_output: bool = False
    plain: bool = False
    report: Path | None = None


def producer_settings(cfg: SimConfig, opts: LauncherSettings) -> ProducerSettings:
    return ProducerSettings(
        count=cfg.num_messages, run=opts.run, redis_url=opts.redis_url, seed=opts.seed
    )


def sender_settings(cfg: SimConfig, opts: LauncherSettings) -> list[SenderSettings]:
    """One sender per profile, named ``host-pid-N``, seeded ``seed + N`` when seeded."""
    prefix = f"{socket.gethostname()}-{os.getpid()}"
    return [
        SenderSettings(
            run=opts.run,
            redis_url=opts.redis_url,
            name=f"{prefix}-{i}",
            mean_time=p.mean_time,
            failure_rate=p.failure_rate,
            shape=p.shape or cfg.shape,
            concurrency=p.concurrency,
            max_attempts=p.max_attempts,
            seed=None if opts.seed is None else opts.seed + i,
        )
        for i, p in enumerate(cfg.senders, start=1)
    ]


def monitor_settings(cfg: SimConfig, opts: LauncherSettings) -> MonitorSettings:
    return MonitorSettings(
        run=opts.run,
        redis_url=opts.redis_url,
        report_period=cfg.report_period,
        json_output=opts.json_output,
        plain=opts.plain,
        report=opts.report,
    )


@asynccontextmanager
async def client_factory(url: str | None) -> AsyncIterator[Callable[[], Redis]]:
    """Make clients for the embedded server (no URL) or a checked real one; close them all."""
    embedded = EmbeddedRedis() if url is None else None
    made: list[Redis] = []

    def make() -> Redis:
        client = embedded.client() if embedded else connect(url)  # type: ignore[arg-type]
        made.append(client)
        return client

    try:
        await check_server(make(), url)
        yield make
    finally:
        for client in made:
            await client.aclose()


async def simulate(
    cfg: SimConfig, opts: LauncherSettings, view: View, stop: asyncio.Event
) -> Snapshot | None:
    """Run the whole simulation; return the monitor's final snapshot."""
    if not cfg.senders:
        raise UsageProblem("senders: the config lists no senders; sms-sim run needs at least one")
    async with client_factory(opts.redis_url) as make:
        await _refuse_finished_run(make(), RunKeys(opts.run))
        producer = Producer(make(), producer_settings(cfg, opts))
        await producer.open()
        monitor = Monitor(make(), monitor_settings(cfg, opts), view)
        roles: list[Coroutine[Any, Any, object]] = [
            producer.fill(stop),
            *(Sender(make(), s, stop).run() for s in sender_settings(cfg, opts)),
        ]
        watcher = asyncio.create_task(monitor.watch(stop))
        workers = [asyncio.create_task(role) for role in roles]
        await _supervise(watcher, workers, stop)
        return watcher.result()


async def _supervise(
    watcher: asyncio.Task[Snapshot | None], workers: list[asyncio.Task[object]], stop: asyncio.Event
) -> None:
    """Wait until every role is done; a failing role stops everything and its error
    propagates."""
    tasks: set[asyncio.Task[Any]] = {watcher, *workers}
    # Once the monitor has the final summary, senders need not wait out a blocking read.
    watcher.add_done_callback(lambda _: stop.set())
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        await cancel_all(tasks)


async def _refuse_finished_run(client: Redis, keys: RunKeys) -> None:
    state = await read_state(client, keys)
    if state is not None and state.complete:
        raise UsageProblem(
            f"run {keys.run!r} already completed on this Redis: pass --run NEW_NAME or "
            f"`sms-sim reset --run {keys.run}` first"
        )


async def reset(client: Redis, keys: RunKeys) -> int:
    """Delete every key of a run; return how many existed."""
    return int(await client.delete(*keys.all()))

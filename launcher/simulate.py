"""All roles on one machine: the producer, one sender per configured profile, the monitor.

The senders are spread over ``workers`` processes (``launcher.workers``): this one, with
the producer and the monitor, and ``workers - 1`` worker processes; the senders of each
process share its Redis round trips (``sender.station``). With no server named, the run
uses a private redis-server when one is installed, else the in-process fakeredis (one
process then: its data lives in this one).

Each role's settings come from the same ``load_settings`` its own command uses (flag >
environment > YAML file > default), so ``PRODUCER_COUNT`` or ``SENDER_CONCURRENCY``
mean here what they mean for ``sms-producer`` and ``sms-sender``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from redis.asyncio import Redis

from common.connection import clients
from common.errors import SimError, UsageProblem
from common.keys import RunKeys
from common.model import SenderProfile, SimConfig
from common.run import read_state
from common.settings import (
    MonitorSettings,
    ProducerSettings,
    RoleSettings,
    SenderSettings,
    load_settings,
    read_config_file,
)
from common.target import RedisTarget
from common.tasks import cancel_all
from launcher.limits import check_fleet
from launcher.private_redis import private_target
from launcher.workers import Share, Worker, spread, start_worker
from monitor.figures.report import Report
from monitor.monitor import Monitor
from monitor.views.view import View
from producer.main import Producer
from sender.profile import complete_profile, default_name
from sender.station import Station

logger = logging.getLogger(__name__)
MAX_WORKERS = 64
WORKER_START = 30.0  # seconds a worker process may take to start and connect


class LauncherSettings(RoleSettings):
    """``sms-sim run``'s own settings: the seed of every role (``SMS_SEED``), the processes
    its senders are spread over (``SMS_WORKERS``; default: the machine's cores)."""

    model_config = SettingsConfigDict(env_prefix="SMS_")

    seed: int | None = None
    workers: int | None = Field(default=None, ge=1, le=MAX_WORKERS)


class WorkersLost(SimError):
    """Worker processes died mid-run; the run completed without them (``report``)."""

    def __init__(self, lost: list[str], report: Report | None) -> None:
        super().__init__("; ".join(lost) + ": the other senders took its messages over")
        self.report = report


# The monitor's own settings (not RoleSettings'): each one that a flag of ``sms-sim run``
# sets (``--json``, ``--plain``, ``--report``, ``--metrics-port``, ``--csv``) goes to its
# monitor, so a new monitor flag of ``sms-sim run`` needs no edit here.
MONITOR_FLAGS = tuple(
    name for name in MonitorSettings.model_fields if name not in RoleSettings.model_fields
)


@dataclass(frozen=True)
class Plan:
    """Every role of one ``sms-sim run``, resolved before anything starts."""

    target: RedisTarget
    config: SimConfig
    producer: ProducerSettings
    monitor: MonitorSettings
    senders: list[tuple[SenderSettings, SenderProfile]]
    workers: int | None = None  # processes asked for the senders (None: one per core)
    name: str = ""  # this process's station (its senders are NAME-1, NAME-2, ...)

    @property
    def run(self) -> str:
        return self.producer.run


def plan(flags: dict[str, Any]) -> Plan:
    """The run's roles from the command's flags: ``config``, ``redis_url``, ``run``,
    ``seed`` for every role, ``count``, ``time_scale`` and ``partitions`` for the producer
    (the run's),
    ``json_output``, ``plain``,
    ``report`` for the monitor. Raises ``ConfigError``, ``UsageProblem``, ValidationError."""
    shared = {name: flags.get(name) for name in ("config", "redis_url", "run")}
    own = {"seed": flags.get("seed"), "workers": flags.get("workers")}
    base = load_settings(LauncherSettings, {**shared, **own})
    cfg = read_config_file(base.config) if base.config else SimConfig.example()
    if not cfg.senders:
        raise UsageProblem(f"{base.config}: senders: none listed; sms-sim run needs at least one")
    shared = {"run": base.run, "redis_url": base.redis_url}
    producer_flags = {**shared, "seed": base.seed, "count": flags.get("count")}
    producer_flags["time_scale"] = flags.get("time_scale")
    producer_flags["partitions"] = flags.get("partitions")
    monitor_flags = {**shared, **{k: flags.get(k) for k in MONITOR_FLAGS}}
    producer = load_settings(ProducerSettings, producer_flags, cfg)
    check_fleet(len(cfg.senders), producer.partitions)
    if producer.partitions > 1 and base.redis_url is None:
        raise UsageProblem(
            f"partitions: {producer.partitions} needs a Redis server (--redis-url): the "
            "embedded one holds a single partition"
        )
    sender_settings = load_settings(SenderSettings, shared, cfg)
    senders = _senders(sender_settings, cfg.senders, base.seed)
    return Plan(
        replace(
            RedisTarget.for_launcher(base.redis_url, base.redis_give_up),
            allow_eviction=base.redis_allow_eviction,
        ),
        cfg,
        producer,
        load_settings(MonitorSettings, monitor_flags, cfg),
        senders,
        base.workers,
        sender_settings.name or default_name(),
    )


def _processes(plan: Plan, target: RedisTarget) -> int:
    """Processes for the senders: as asked (default: the machine's cores), at most one
    per sender; one on the in-process fakeredis (its data lives in this process)."""
    senders = len(plan.senders)
    if plan.workers is not None and plan.workers > senders:
        logger.info(
            "--workers %d: the fleet has %d senders, so %d processes",
            plan.workers,
            senders,
            senders,
        )
    if target.embedded:
        if plan.workers is not None and plan.workers > 1:
            logger.info("--workers %d: the in-process fakeredis serves one process", plan.workers)
        return 1
    return min(plan.workers or os.cpu_count() or 1, senders)


def _senders(
    settings: SenderSettings, profiles: list[SenderProfile], seed: int | None
) -> list[tuple[SenderSettings, SenderProfile]]:
    """One sender per profile, named ``NAME-N`` (``host-pid-N`` by default), seeded
    ``seed + N`` when seeded (``--seed``, or ``SENDER_SEED``)."""
    prefix = settings.name or default_name()
    base_seed = seed if seed is not None else settings.seed
    fleet = []
    for i, profile in enumerate(profiles, start=1):
        own = settings.model_copy(
            update={
                "name": f"{prefix}-{i}",
                "seed": None if base_seed is None else base_seed + i,
            }
        )
        fleet.append((own, complete_profile(profile, settings)))
    return fleet


async def simulate(plan: Plan, view: View, stop: asyncio.Event) -> Report | None:
    """Run the whole simulation; return the monitor's final report. WorkersLost (after
    the run) when worker processes died meanwhile."""
    with _server(plan) as target:
        shares = spread(plan.senders, _processes(plan, target))
        logger.info(
            "run %r: %d messages, %d senders in %d process(es), Redis %s",
            plan.run,
            plan.producer.count,
            len(plan.senders),
            len(shares),
            target.display,
        )
        async with clients(target, run=plan.run) as make:
            await _refuse_finished_run(make(), RunKeys(plan.run))
            async with _workers(shares[1:], target, plan.name) as others:
                site = Site(target, make, shares[0], others)
                return await _run_roles(plan, site, view, stop)


@dataclass(frozen=True)
class Site:
    """Where this process runs its roles: the Redis, its own senders, the workers'."""

    target: RedisTarget
    make: Callable[[], Redis]  # a new client of the target
    share: Share  # this process's senders
    others: list[Worker]


async def _run_roles(plan: Plan, site: Site, view: View, stop: asyncio.Event) -> Report | None:
    """Open the run, let every sender join it, start its clock, and run this process's
    roles until the end.

    The run's time 0 (its ``created``) is the moment its whole fleet can send: the run is
    opened, every station (this process's and each worker's) joins it and the first
    batch of messages is made meanwhile, then ``created`` is reset to now and the senders
    and the producer start. So the fleet's start-up is no simulated time (at x100, 0.2 s
    of it were 20 simulated seconds). A run it resumes keeps its time 0."""
    make, others = site.make, site.others
    producer = Producer(make(), plan.producer)
    await producer.open()
    for worker in others:
        worker.go()
    station = await Station.create(make(), site.share, stop, name=plan.name)
    await producer.prepare()
    for worker in others:
        await worker.joined(WORKER_START)
    created = await producer.start_clock()
    for worker in others:
        worker.start(created)
    await producer.enqueue_first()
    monitor = Monitor(make(), plan.monitor, view, site.target)
    # The summary ends the output: the senders' end lines are not printed after it.
    own = [station.run(stop, created, summarised=True)] if station else []
    roles = [producer.fill(stop), *own]
    watch_stop = asyncio.Event()  # the monitor stops once every other role has left
    watcher = asyncio.create_task(monitor.watch(watch_stop))
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(role) for role in roles]
    waits = [asyncio.create_task(worker.wait()) for worker in others]
    teller = asyncio.create_task(_tell_on_stop(stop, others))
    try:
        await _supervise(watcher, [*tasks, *waits], stop, watch_stop)
    finally:
        teller.cancel()
    if lost := [why for wait in waits if (why := wait.result())]:
        raise WorkersLost(lost, watcher.result())
    return watcher.result()


@asynccontextmanager
async def _workers(
    shares: list[Share], target: RedisTarget, name: str
) -> AsyncIterator[list[Worker]]:
    """Worker processes for ``shares``, each connected and waiting for ``go``; ended
    (asked to stop, killed after the grace period) on the way out."""
    started: list[Worker] = []
    try:
        for i, share in enumerate(shares, start=1):
            started.append(await start_worker(i, share, target, f"{name}-w{i}"))
        for worker in started:
            await worker.ready(WORKER_START)
        yield started
    finally:
        grace = max((s.grace for share in shares for s, _ in share), default=0.0)
        await asyncio.gather(*(worker.end(grace + 5.0) for worker in started))


def _server(plan: Plan) -> AbstractContextManager[RedisTarget]:
    """The named server; else a private redis-server, or the embedded fakeredis."""
    if not plan.target.embedded:
        return nullcontext(plan.target)
    return private_target(plan.target.give_up)


async def _tell_on_stop(stop: asyncio.Event, workers: list[Worker]) -> None:
    """Once ``stop`` is set, ask every worker process to stop (once)."""
    await stop.wait()
    for worker in workers:
        worker.stop()


async def _supervise(
    watcher: asyncio.Task[Report | None],
    workers: list[asyncio.Task[object]],
    stop: asyncio.Event,
    watch_stop: asyncio.Event,
) -> None:
    """Wait until every role is done; a failing role stops everything and its error
    propagates. Stopped early (SIGINT), the senders finish or hand back what they hold
    first, then the monitor counts what they recorded: the summary holds all of it."""
    # Once the monitor has the final summary, senders need not wait out a blocking read.
    watcher.add_done_callback(lambda _: stop.set())
    try:
        await _workers_done(workers, watcher)
        watch_stop.set()
        await watcher
    finally:
        stop.set()
        watch_stop.set()
        await cancel_all([watcher, *workers])


async def _workers_done(workers: list[asyncio.Task[object]], watcher: asyncio.Task[Any]) -> None:
    """Until every worker has ended; the first failure of any role (the monitor too)."""
    pending: set[asyncio.Task[Any]] = {*workers, watcher}
    while pending - {watcher}:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]


async def _refuse_finished_run(client: Redis, keys: RunKeys) -> None:
    state = await read_state(client, keys)
    if state is not None and state.complete:
        raise UsageProblem(
            f"run {keys.run!r} already completed on this Redis: pass --run NEW_NAME or "
            f"`sms-sim reset --run {keys.run}` first"
        )


async def reset(client: Redis, keys: RunKeys) -> int:
    """Delete every key of a run (of all its partitions); return how many existed."""
    state = await read_state(client, keys)
    partitions = state.partitions if state is not None else 1
    deleted = 0
    for key in keys.all(partitions):  # one by one: in a cluster they live in several slots
        deleted += int(await client.delete(key))
    return deleted

"""All roles in one process: the producer, one sender per configured profile, the monitor.

Each role's settings come from the same ``load_settings`` its own command uses (flag >
environment > YAML file > default), so ``PRODUCER_COUNT`` or ``SENDER_CONCURRENCY``
mean here what they mean for ``sms-producer`` and ``sms-sender``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from pydantic_settings import SettingsConfigDict
from redis.asyncio import Redis

from common.connection import clients
from common.errors import UsageProblem
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
from monitor.main import Monitor
from monitor.summary import Snapshot
from monitor.views import View
from producer.main import Producer
from sender.profile import complete_profile, default_name
from sender.worker import serve

logger = logging.getLogger(__name__)


class LauncherSettings(RoleSettings):
    """``sms-sim run``'s own settings: the seed of every role (``SMS_SEED``)."""

    model_config = SettingsConfigDict(env_prefix="SMS_")

    seed: int | None = None


# The monitor's flags of ``sms-sim run`` (``--metrics-port`` and ``--csv``: monitor/outputs.py).
MONITOR_FLAGS = ("json_output", "plain", "report", "metrics_port", "csv")


@dataclass(frozen=True)
class Plan:
    """Every role of one ``sms-sim run``, resolved before anything starts."""

    target: RedisTarget
    config: SimConfig
    producer: ProducerSettings
    monitor: MonitorSettings
    senders: list[tuple[SenderSettings, SenderProfile]]

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
    base = load_settings(LauncherSettings, {**shared, "seed": flags.get("seed")})
    cfg = read_config_file(base.config) if base.config else SimConfig.example()
    if not cfg.senders:
        raise UsageProblem(f"{base.config}: senders: none listed; sms-sim run needs at least one")
    check_fleet(len(cfg.senders), real_server=base.redis_url is not None)
    shared = {"run": base.run, "redis_url": base.redis_url}
    producer_flags = {**shared, "seed": base.seed, "count": flags.get("count")}
    producer_flags["time_scale"] = flags.get("time_scale")
    producer_flags["partitions"] = flags.get("partitions")
    monitor_flags = {**shared, **{k: flags.get(k) for k in MONITOR_FLAGS}}
    producer = load_settings(ProducerSettings, producer_flags, cfg)
    if producer.partitions > 1 and base.redis_url is None:
        raise UsageProblem(
            f"partitions: {producer.partitions} needs a Redis server (--redis-url): the "
            "embedded one holds a single partition"
        )
    return Plan(
        RedisTarget.for_launcher(base.redis_url, base.redis_give_up),
        cfg,
        producer,
        load_settings(MonitorSettings, monitor_flags, cfg),
        _senders(load_settings(SenderSettings, shared, cfg), cfg.senders, base.seed),
    )


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


async def simulate(plan: Plan, view: View, stop: asyncio.Event) -> Snapshot | None:
    """Run the whole simulation; return the monitor's final snapshot."""
    async with clients(plan.target) as make:
        await _refuse_finished_run(make(), RunKeys(plan.run))
        producer = Producer(make(), plan.producer)
        await producer.open()
        monitor = Monitor(make(), plan.monitor, view, plan.target)
        roles: list[Coroutine[Any, Any, object]] = [
            producer.fill(stop),
            *(serve(make(), s, stop, profile) for s, profile in plan.senders),
        ]
        watch_stop = asyncio.Event()  # the monitor stops once every other role has left
        watcher = asyncio.create_task(monitor.watch(watch_stop))
        workers = [asyncio.create_task(role) for role in roles]
        await _supervise(watcher, workers, stop, watch_stop)
        return watcher.result()


async def _supervise(
    watcher: asyncio.Task[Snapshot | None],
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

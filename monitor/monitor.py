"""The monitor: follow the results stream, report every period, summarise at the end."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from redis.asyncio import Redis

from common import clock
from common import keys as k
from common.integrity import check_outboxes, evictions
from common.keys import RunKeys
from common.run import RunState, require_state, wait_for_run
from common.settings import MonitorSettings
from common.target import RedisTarget
from monitor.figures.forecaster import Forecaster
from monitor.figures.report import Report, build
from monitor.figures.snapshot import Snapshot
from monitor.figures.thresholds import judge, parse, reach
from monitor.follow import dead
from monitor.follow.partitions import Readers
from monitor.follow.reader import Read
from monitor.follow.stall import LagWatch, StallWatch
from monitor.tally.stats import Stats
from monitor.views import history
from monitor.views.html import write_report
from monitor.views.outputs import Tallied
from monitor.views.view import View, close_view

logger = logging.getLogger(__name__)

MAX_BLOCK_MS = 1000
# Seconds the monitor waits, once caught up, for results to gather before it reads again:
# one read (and one look at the run's state) per batch, not per handful of results.
FOLLOW_LINGER = 0.05
STALL_AFTER = 10.0  # seconds without a result before the monitor looks for why


class Monitor:
    def __init__(
        self,
        client: Redis,
        settings: MonitorSettings,
        view: View,
        target: RedisTarget | None = None,
    ) -> None:
        self.client = client
        self.target = target or RedisTarget(settings.redis_url)
        self.settings = settings
        self.view = view
        self.keys = RunKeys(settings.run)
        self.reader = Readers(client, self.keys, trim=not settings.keep_results)
        self.created = 0.0
        self.stall = StallWatch(after=max(2 * settings.report_period, STALL_AFTER))
        self.lag = LagWatch()
        # a worker process forecasts the fleet, unless all is one process (the embedded Redis)
        self.forecaster = Forecaster(in_thread=self.target.embedded)
        self.thresholds = parse(settings.thresholds)  # the drill's goals (cli.py checked them)
        # outputs that take the running totals as results are read (/metrics)
        self.tally = view.tally if isinstance(view, Tallied) else None

    @property
    def stats(self) -> Stats:
        return self.reader.stats

    async def watch(self, stop: asyncio.Event) -> Report | None:
        """Report until the run completes or ``stop`` is set: the final report; None if
        the run never appeared.

        The view is closed however this ends (a live display must give the terminal back).
        """
        try:
            return await self._watch(stop)
        finally:
            await self.reader.close()
            self.forecaster.close()
            close_view(self.view)

    async def _watch(self, stop: asyncio.Event) -> Report | None:
        state = await wait_for_run(self.client, self.keys, stop)
        if state is None:
            return None
        self.reader.attach(state)
        evicted_before, _ = await evictions(self.client)
        await self.reader.load_checkpoint()
        self.created = float(await self.client.hget(self.keys.run_meta, k.META_CREATED) or 0)
        self.view.update(build(await self.snapshot(state), forecaster=self.forecaster))
        state = await self._follow(state, stop)
        state = await self._drain(state)
        snap = await self.snapshot(state, final=True)
        if state.complete:  # its summary sets its completion beside the final fleet's forecast
            build(snap, final=True, forecaster=self.forecaster)
            await self.forecaster.wait()
        rep = build(snap, final=True, forecaster=self.forecaster)
        if self.thresholds:
            rep = replace(rep, thresholds=judge(self.thresholds, rep, reach(snap)))
        await self.reader.save_checkpoint()
        self.view.finish(rep)
        await self._say_evictions(evicted_before)
        self._write_report(rep)
        await history.keep(self.client, self.keys, self.reader.run_id, rep)
        return rep

    async def _say_evictions(self, before: int) -> None:
        """A server that evicts (allowed by REDIS_ALLOW_EVICTION=1) evicted keys during the
        run: its counts may be wrong, and the summary must not pass for exact."""
        evicted, policy = await evictions(self.client)
        if evicted > before:
            logger.warning(
                "Redis evicted %d key(s) during this run (maxmemory-policy %s): a run's keys "
                "may be among them, so its counts may be wrong (a message lost or counted "
                "twice); run on a server with maxmemory-policy noeviction",
                evicted - before,
                policy,
            )

    def _write_report(self, rep: Report) -> None:
        path = self.settings.report
        if path is None:
            return
        try:
            write_report(rep, path)
        except OSError as exc:
            logger.error("could not write the HTML report to %s: %s", path, exc)
        else:
            logger.info("HTML report written to %s", path)

    async def _follow(self, state: RunState, stop: asyncio.Event) -> RunState:
        loop = asyncio.get_running_loop()
        period = self.settings.report_period
        next_report = loop.time() + period
        while not stop.is_set():
            # The state is read before the results: every result behind what it counts is
            # in the stream already, so once caught up the totals are final.
            state = await require_state(self.client, self.keys, self.reader.run_id)
            wait = min(max(next_report - loop.time(), 0.001), MAX_BLOCK_MS / 1000)
            complete = self._complete(state)
            block = None if complete else max(int(wait * 1000), 1)
            read = await self.reader.read(block, fresh=complete)
            self._tally(read)
            if complete and read.caught_up:  # caught up after "complete"
                break
            if read.caught_up:  # let results gather
                await asyncio.sleep(min(FOLLOW_LINGER, max(next_report - loop.time(), 0)))
            if loop.time() >= next_report:
                snap = await self.snapshot(state)
                self.view.update(build(snap, forecaster=self.forecaster))
                if await self.stall.check(self.client, self.stats.attempts, snap.senders):
                    await check_outboxes(self.client, self.keys, state.partitions)
                self.lag.check(snap.senders, state.time_scale)
                await self.reader.save_checkpoint()
                next_report = max(next_report + period, loop.time())
        return state

    async def _drain(self, state: RunState) -> RunState:
        """Stopped before the run completed, or caught up with a run complete by the count
        of results but not by the state read before them (its last results were recorded
        in between): read the state again, then count what is recorded by now (a sender
        may have written its last outcomes meanwhile), so the summary holds all of it."""
        if state.complete and self._complete(state):
            return state
        state = await require_state(self.client, self.keys, self.reader.run_id)
        while (await self.reader.read(None, fresh=True)).more:
            pass
        return state

    def _tally(self, read: Read) -> None:
        """Hand the running totals to the outputs that take them, when a read counted some."""
        if self.tally is not None and (read.count or read.took_over):
            self.tally([reader.stats for reader in self.reader.readers])

    def _complete(self, state: RunState) -> bool:
        """Done when every message is delivered (as counted here), abandoned or
        undeliverable."""
        settled = self.stats.sent + state.abandoned + state.undeliverable
        return state.done and settled >= state.total

    async def snapshot(self, state: RunState, final: bool = False) -> Snapshot:
        """What the monitor knows now; ``final``: with the failures by reason (the dead
        streams read once, at the end)."""
        senders = await self.reader.senders()
        await clock.CLOCK.refresh(self.client)
        now = clock.now()
        url = self.target.display
        self.created = state.created or self.created  # sms-sim run sets it as its fleet starts
        found = (
            await dead.failures(self.client, self.keys, state.partitions, state.total)
            if final
            else None
        )
        return Snapshot(self.keys.run, state, self.stats, senders, self.created, now, url, found)

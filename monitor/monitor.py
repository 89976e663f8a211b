"""The monitor: follow the results stream, report every period, summarise at the end."""

from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import Redis

from common import keys as k
from common.keys import RunKeys
from common.run import RunState, require_state, wait_for_run
from common.settings import MonitorSettings
from common.target import RedisTarget
from monitor.figures.forecaster import Forecaster
from monitor.figures.report import Report, build
from monitor.figures.snapshot import Snapshot
from monitor.follow.partitions import Readers
from monitor.follow.stall import LagWatch, StallWatch
from monitor.tally.stats import Stats
from monitor.views import history
from monitor.views.html import write_report
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
        await self.reader.load_checkpoint()
        self.created = float(await self.client.hget(self.keys.run_meta, k.META_CREATED) or 0)
        self.view.update(build(await self.snapshot(state), forecaster=self.forecaster))
        state = await self._follow(state, stop)
        state = await self._drain(state)
        snap = await self.snapshot(state)
        if state.complete:  # its summary sets its completion beside the final fleet's forecast
            build(snap, final=True, forecaster=self.forecaster)
            await self.forecaster.wait()
        rep = build(snap, final=True, forecaster=self.forecaster)
        await self.reader.save_checkpoint()
        self.view.finish(rep)
        self._write_report(rep)
        await history.keep(self.client, self.keys, self.reader.run_id, rep)
        return rep

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
            if complete and read.caught_up:  # caught up after "complete"
                break
            if read.caught_up:  # let results gather
                await asyncio.sleep(min(FOLLOW_LINGER, max(next_report - loop.time(), 0)))
            if loop.time() >= next_report:
                snap = await self.snapshot(state)
                self.view.update(build(snap, forecaster=self.forecaster))
                await self.stall.check(self.client, self.stats.attempts, snap.senders)
                self.lag.check(snap.senders, state.time_scale)
                await self.reader.save_checkpoint()
                next_report = max(next_report + period, loop.time())
        return state

    async def _drain(self, state: RunState) -> RunState:
        """Stopped before the run completed: count what is recorded by now (a sender may
        have written its last outcomes meanwhile), so the summary holds all of it."""
        if self._complete(state):
            return state
        state = await require_state(self.client, self.keys, self.reader.run_id)
        while (await self.reader.read(None, fresh=True)).more:
            pass
        return state

    def _complete(self, state: RunState) -> bool:
        """Done when every message is delivered (as counted here), abandoned or
        undeliverable."""
        settled = self.stats.sent + state.abandoned + state.undeliverable
        return state.done and settled >= state.total

    async def snapshot(self, state: RunState) -> Snapshot:
        senders = await self.reader.senders()
        now = time.time()
        url = self.target.display
        self.created = state.created or self.created  # sms-sim run sets it as its fleet starts
        return Snapshot(self.keys.run, state, self.stats, senders, self.created, now, url)

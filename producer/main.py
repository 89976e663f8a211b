"""The producer: enqueue the run's messages in atomic batches, within the backlog cap."""

from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import Redis

from common import clock
from common.integrity import check_outboxes
from common.keys import RunKeys
from common.run import ensure_group
from common.settings import ProducerSettings
from producer.content import batch_payload, batch_rng
from producer.store import RunParams, RunWriter

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 5.0
GENERATE_SLICE = 250
BACKLOG_POLL = 0.02
STALLED_SAY_EVERY = 30.0  # seconds between "still waiting for room" lines
CHECK_EVERY = 5.0  # seconds between two looks at the outboxes while waiting for room


class Producer:
    """Creates (or resumes) a run, then fills its outbox in atomic batches."""

    def __init__(self, client: Redis, settings: ProducerSettings) -> None:
        self.settings = settings
        self.writer = RunWriter(client, RunKeys(settings.run))
        self.produced = 0
        self._first: tuple[int, str] | None = None  # a batch made before the run starts
        self._created: float | None = None  # the run's time 0, when this producer set it

    async def open(self) -> None:
        """Create the run's meta and consumer group, or join the existing run."""
        s = self.settings
        config = s.model_dump(mode="json", include={"count", "seed", "max_backlog", "batch_size"})
        params = RunParams(s.count, s.time_scale, s.invalid_fraction, s.account, s.partitions)
        self.produced = await self.writer.open_run(params, config)
        for part in self.writer.keys.parts(params.partitions):
            await ensure_group(self.writer.client, part)
        if self.produced:
            logger.info(
                "run %r: resuming at seq %d of %d",
                self.settings.run,
                self.produced,
                self.settings.count,
            )

    async def prepare(self) -> None:
        """Make the first batch now, so that it is enqueued as soon as the run starts."""
        n = min(_chunk_size(self.settings), self.settings.count - self.produced)
        if n > 0:
            self._first = (self.produced, await _make_batch(self.settings.seed, self.produced, n))

    async def start_clock(self) -> float | None:
        """``sms-sim run``: its fleet has joined, the run's time 0 is now (a run this
        producer created; None, and no change, for one it joined)."""
        created = await self.writer.start_clock()
        self._created = created
        return created

    async def enqueue_first(self) -> None:
        """The batch made by ``prepare``, enqueued as of the run's time 0 (when its clock
        was started): the alert's first messages are there when it starts."""
        if self._first is None or self._created is None:
            return  # fill enqueues it
        start, payload = self._first
        self._first = None
        self.produced = await self.writer.enqueue(start, self._created, payload)

    async def fill(self, stop: asyncio.Event) -> int:
        """Enqueue the remaining messages; stop after the current batch when ``stop`` is set.

        Marks the run done once every message is enqueued; returns how many are enqueued.
        """
        total, seed, cap = self.settings.count, self.settings.seed, self.settings.max_backlog
        chunk = _chunk_size(self.settings)
        started = last_log = time.monotonic()
        start = self.produced
        writing: asyncio.Task[int] | None = None  # the batch Redis is writing meanwhile
        try:
            while start < total and not stop.is_set():
                n = min(chunk, total - start)
                if self._first is not None and self._first[0] == start:
                    payload = self._first[1]  # made before the run started
                else:
                    payload = await _make_batch(seed, start, n)
                self._first = None
                if writing is not None:
                    self.produced, writing = await writing, None
                    if self.produced != start:  # another producer got ahead: follow it
                        start = self.produced
                        continue
                if not await _wait_for_room(self.writer, cap, n, stop):
                    break
                await clock.CLOCK.refresh(self.writer.client)
                writing = asyncio.create_task(self.writer.enqueue(start, clock.now(), payload))
                start += n
                if time.monotonic() - last_log >= PROGRESS_EVERY:
                    last_log = time.monotonic()
                    logger.info("enqueued %d / %d", start, total)
        finally:
            if writing is not None:
                self.produced = await writing
        if self.produced >= total:
            await self.writer.mark_done()
            logger.info(
                "run %r: all %d messages enqueued (%.2f s)",
                self.settings.run,
                total,
                time.monotonic() - started,
            )
        return self.produced


async def produce(client: Redis, settings: ProducerSettings, stop: asyncio.Event) -> int:
    """Open the run and enqueue its messages; return how many the run now holds."""
    producer = Producer(client, settings)
    await producer.open()
    return await producer.fill(stop)


async def _make_batch(seed: int | None, start: int, n: int) -> str:
    """The batch at ``start``, made in slices that yield to the event loop, so the
    previous batch is on its way to Redis meanwhile."""
    rng = batch_rng(seed, start)
    parts = []
    for offset in range(0, n, GENERATE_SLICE):
        parts.append(batch_payload(rng, min(GENERATE_SLICE, n - offset)))
        await asyncio.sleep(0)
    return "\n".join(parts)


def _chunk_size(settings: ProducerSettings) -> int:
    """Batches of at most a quarter of the backlog cap: a batch as large as the cap would
    wait for the outbox to run dry, and the senders would starve meanwhile."""
    if settings.max_backlog:
        return max(1, min(settings.batch_size, settings.max_backlog // 4))
    return settings.batch_size


async def _wait_for_room(writer: RunWriter, cap: int, n: int, stop: asyncio.Event) -> bool:
    """Wait until ``n`` more messages fit under the backlog cap; False if stopped first.
    Says every ``STALLED_SAY_EVERY`` seconds that it waits, and whether senders work."""
    if cap == 0:
        return True
    loop = asyncio.get_running_loop()
    since = say_at = checked_at = loop.time()
    while (backlog := await writer.backlog()) + n > cap:
        if loop.time() - checked_at >= CHECK_EVERY:  # no sender can work on a lost outbox
            checked_at = loop.time()
            await check_outboxes(writer.client, writer.keys, writer.partitions)
        if loop.time() - say_at >= STALLED_SAY_EVERY:
            say_at = loop.time()
            await _say_stalled(writer, backlog, loop.time() - since)
        try:
            await asyncio.wait_for(stop.wait(), BACKLOG_POLL)
            return False
        except TimeoutError:
            pass
    return True


async def _say_stalled(writer: RunWriter, backlog: int, waited: float) -> None:
    live = await writer.working_senders()
    who = f"{live} sender(s) working" if live else "no sender is working (start sms-sender)"
    logger.warning(
        "waiting %.0f s for room: %d messages undelivered, the backlog cap; %s",
        waited,
        backlog,
        who,
    )

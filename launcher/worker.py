"""One worker process of ``sms-sim run --workers N``: a share of the fleet's senders in one
station (``python -m launcher.worker``, started by ``launcher.workers``).

Its first line of standard input is its share (JSON: the Redis URL, the station's name,
each sender's settings and profile). Once connected it says ``ready`` on standard output
and waits for ``go`` (the run is open); then it joins the run (its station: the consumer
group, its senders) and says ``joined``, and waits for ``start CREATED`` (the run's time
0, set once every worker has joined: no process start-up counts as simulated time). It
serves the run until it completes, and stops as
``sms-sender`` does on SIGINT/SIGTERM, on a line ``stop``, or when its standard input
ends (``sms-sim run`` stopped or gone): its in-flight messages are finished or handed
back within the grace period. It runs in a session of its own, so a signal sent to the
terminal's process group reaches ``sms-sim run`` alone, which tells each worker once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Any

from common.cli import run_async
from common.connection import client_for
from common.errors import EXIT_RUNTIME
from common.logs import setup_logging
from common.model import SenderProfile
from common.settings import SenderSettings
from common.stop import install_stop_handlers
from common.target import RedisTarget
from sender.station import Station

logger = logging.getLogger(__name__)

STOP, READY, GO, JOINED, START = b"stop", b"ready", b"go", b"joined", b"start"
LINE_LIMIT = 1 << 24  # bytes of the share line (a thousand senders' profiles fit)


def share_payload(
    target: RedisTarget, name: str, senders: list[tuple[SenderSettings, SenderProfile]]
) -> bytes:
    """A worker's first line of input."""
    share = {
        "url": target.url,
        "give_up": target.give_up,
        "label": target.label,
        "evict": target.allow_eviction,
        "name": name,
        "senders": [
            {
                "settings": s.model_dump(mode="json", exclude={"profiles"}),
                "profile": p.model_dump(mode="json"),
            }
            for s, p in senders
        ],
    }
    return json.dumps(share).encode() + b"\n"


def read_share(line: bytes) -> tuple[RedisTarget, str, list[tuple[SenderSettings, SenderProfile]]]:
    share: dict[str, Any] = json.loads(line)
    senders = [
        (
            SenderSettings.model_validate(s["settings"]),
            SenderProfile.model_validate(s["profile"]),
        )
        for s in share["senders"]
    ]
    target = RedisTarget(
        share["url"], float(share["give_up"]), share.get("label"), bool(share.get("evict"))
    )
    return target, str(share["name"]), senders


async def _stdin() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _stop_on_input(reader: asyncio.StreamReader, stop: asyncio.Event, private: bool) -> None:
    """Set ``stop`` on a line ``stop`` or at the end of the input. The input ends without
    a word when ``sms-sim run`` is gone (killed): its private server goes with it, so
    there is nothing to hand back, and the worker ends at once."""
    while line := await reader.readline():
        if line.strip() == STOP:
            stop.set()
            return
    if private:
        logger.warning("sms-sim run is gone, and its Redis with it: stopping")
        os._exit(EXIT_RUNTIME)
    stop.set()


async def _main() -> None:
    reader = await _stdin()
    target, name, senders = read_share(await reader.readline())
    stop = asyncio.Event()
    install_stop_handlers(stop, name)
    run = senders[0][0].run if senders else None
    async with client_for(target, "sender", run) as client:
        _say(READY)
        if (await reader.readline()).strip() != GO:
            return  # stopped before the run opened
        station = await Station.create(client, senders, stop, name=name)
        _say(JOINED)
        word, _, created = (await reader.readline()).strip().partition(b" ")
        if station is None or word != START:
            return  # stopped before the run started
        private = target.label is not None
        watcher = asyncio.create_task(_stop_on_input(reader, stop, private))
        try:
            # sms-sim run's summary ends the output: no sender's end line after it
            await station.run(stop, float(created) if created else None, summarised=True)
        finally:
            watcher.cancel()


def _say(word: bytes) -> None:
    sys.stdout.buffer.write(word + b"\n")
    sys.stdout.flush()


def main() -> None:
    setup_logging()
    run_async("sms-sim worker", _main())


if __name__ == "__main__":
    main()

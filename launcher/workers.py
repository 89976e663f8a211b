"""``sms-sim run --workers N``: the fleet's senders spread over N processes.

This process serves the first share beside the producer and the monitor; each other
share is a worker process (``launcher.worker``) in a session of its own, its log lines
relayed to this process's standard error (through the live view). A worker that dies
mid-run does not stop the run: its messages are taken over by the other senders after
``claim_idle``, and ``sms-sim run`` exits 1 at the end, naming it.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import math
import os
import signal
import sys
from dataclasses import dataclass, field

from common.errors import RuntimeFailure
from common.model import SenderProfile
from common.settings import SenderSettings
from common.target import RedisTarget
from launcher.worker import GO, JOINED, READY, START, STOP, share_payload
from sender.worker import attempt_rate

logger = logging.getLogger(__name__)

Share = list[tuple[SenderSettings, SenderProfile]]
RELAY_CHUNK = 1 << 16  # bytes of a worker's output relayed at once


def spread(senders: Share, workers: int) -> list[Share]:
    """``workers`` shares of about equal load (attempts per second), none empty."""
    workers = max(1, min(workers, len(senders)))
    shares: list[Share] = [[] for _ in range(workers)]
    loads = [0.0] * workers
    for pair in sorted(senders, key=lambda pair: -_load(pair[1])):
        least = loads.index(min(loads))
        shares[least].append(pair)
        loads[least] += _load(pair[1])
    order = {id(pair): i for i, pair in enumerate(senders)}
    return [sorted(share, key=lambda pair: order[id(pair)]) for share in shares]


def _load(profile: SenderProfile) -> float:
    rate = attempt_rate(profile, None)
    return rate if math.isfinite(rate) else float(profile.concurrency)


@dataclass
class Worker:
    """A worker process serving a share of the fleet."""

    index: int
    names: list[str]
    process: asyncio.subprocess.Process
    told: bool = False
    relay: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        shown = ", ".join(self.names[:3]) + (", ..." if len(self.names) > 3 else "")
        return f"worker {self.index} (pid {self.process.pid}; senders {shown})"

    async def ready(self, within: float) -> None:
        """Until it has connected (RuntimeFailure if it exits or takes longer)."""
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), within)
        except TimeoutError:
            line = b""
        if line.strip() != READY:
            raise RuntimeFailure(f"{self.label} did not start (its error is above)")

    def go(self) -> None:
        """The run is open: join it."""
        self._tell(GO)

    async def joined(self, within: float) -> None:
        """Until it has joined the run (RuntimeFailure if it exits or takes longer)."""
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), within)
        except TimeoutError:
            line = b""
        if line.strip() != JOINED:
            raise RuntimeFailure(f"{self.label} did not join the run (its error is above)")

    def start(self, created: float | None) -> None:
        """Every sender has joined: the run's time 0 is ``created`` (None: as it was)."""
        self._tell(START if created is None else START + b" " + repr(created).encode())

    def stop(self) -> None:
        """Ask it to stop (once): it finishes or hands back what it holds."""
        if self.told or self.process.returncode is not None or self.process.stdin is None:
            return
        self.told = True
        self._tell(STOP)

    def _tell(self, word: bytes) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError, RuntimeError):
                self.process.stdin.write(word + b"\n")

    async def wait(self) -> str | None:
        """Until it exits; None when it exited 0, else what became of it."""
        code = await self.process.wait()
        if self.relay is not None:
            await self.relay
        if code == 0:
            return None
        if code < 0:
            return f"{self.label} was killed by {signal.Signals(-code).name}"
        return f"{self.label} exited with code {code}"

    async def end(self, patience: float) -> None:
        """Stopped, then killed if it has not exited within ``patience`` seconds."""
        self.stop()
        try:
            await asyncio.wait_for(self.process.wait(), patience)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        if self.relay is not None:
            await self.relay  # its last lines, then the end of its output


async def start_worker(index: int, share: Share, target: RedisTarget, name: str) -> Worker:
    """A worker process serving ``share`` on ``target`` as station ``name``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "launcher.worker",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "LOG_LEVEL": logging.getLevelName(logging.getLogger().level)},
    )
    assert process.stdin is not None
    process.stdin.write(share_payload(target, name, share))
    worker = Worker(index, [s.name or "" for s, _ in share], process)
    worker.relay = asyncio.create_task(_relay(process))
    return worker


async def _relay(process: asyncio.subprocess.Process) -> None:
    """The worker's log lines, onto this process's standard error (in chunks: a line of
    any length passes)."""
    assert process.stderr is not None
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while chunk := await process.stderr.read(RELAY_CHUNK):
        sys.stderr.write(text.decode(chunk))
        sys.stderr.flush()

"""Signal handling: handlers only set an asyncio.Event; a second signal exits at once.

A signal that comes twice within ``SAME_SIGNAL`` seconds counts once: a signal sent to a
whole process group reaches a process both directly and through the launcher in front of
it (``uv run``, ``timeout``), and must not end the graceful stop it started."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

logger = logging.getLogger(__name__)

SAME_SIGNAL = 0.5  # seconds within which a repeated signal is the same one


def install_stop_handlers(stop: asyncio.Event, what: str) -> None:
    """SIGINT/SIGTERM set ``stop``; a second one ends the process immediately."""
    loop = asyncio.get_running_loop()
    first: list[float] = []

    def handle(signum: int) -> None:
        if first and time.monotonic() - first[0] < SAME_SIGNAL:
            return  # the same signal, delivered twice
        if stop.is_set():
            logger.warning("second signal: %s exits now", what)
            os._exit(130 if signum == signal.SIGINT else 143)
        logger.info("%s stopping (signal %s)", what, signal.Signals(signum).name)
        first.append(time.monotonic())
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, handle, sig)

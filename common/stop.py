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
_first: list[float] = []  # when the first stop signal came (monotonic seconds)


def install_stop_handlers(stop: asyncio.Event, what: str) -> None:
    """SIGINT/SIGTERM set ``stop``; a second one ends the process immediately."""
    loop = asyncio.get_running_loop()
    first = _first
    first.clear()  # a new loop: no stop requested yet

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


def hand_over() -> None:
    """As a role's main coroutine ends, its event loop still running: when a stop signal
    came, the process is ending, and a copy of that signal still on its way (a process
    group's, forwarded by ``uv run``) must not kill it (-15) while it prints its summary.
    Left to the loop, closing it restores the defaults; a Python handler would be undone
    too, as the interpreter finalizes. Ignoring is kept to the end: what is left is
    milliseconds of output."""
    if not _first:
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
        signal.signal(sig, signal.SIG_IGN)

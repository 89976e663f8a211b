"""Signal handling: handlers only set an asyncio.Event; a second signal exits at once."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

logger = logging.getLogger(__name__)


def install_stop_handlers(stop: asyncio.Event, what: str) -> None:
    """SIGINT/SIGTERM set ``stop``; a second one ends the process immediately."""
    loop = asyncio.get_running_loop()

    def handle(signum: int) -> None:
        if stop.is_set():
            logger.warning("second signal: %s exits now", what)
            os._exit(130 if signum == signal.SIGINT else 143)
        logger.info("%s stopping (signal %s)", what, signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, handle, sig)

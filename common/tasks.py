"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any


async def cancel_all(tasks: Iterable[asyncio.Task[Any]], patience: float = 5.0) -> None:
    """Cancel ``tasks`` and wait until they end, cancelling again if one swallowed it.

    A cancellation that lands inside a client library can be consumed there (seen with
    redis-py's asyncio connections), so one ``cancel()`` is not always enough.
    """
    pending = {t for t in tasks if not t.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" warning


async def periodic(every: float, action: Callable[[], Awaitable[object]]) -> None:
    """Run ``action`` now and then every ``every`` seconds, until cancelled (an error in
    ``action`` ends the loop with that error)."""
    while True:
        await action()
        await asyncio.sleep(every)

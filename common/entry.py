"""The console scripts' entry points. Each catches a stop signal from its first instant:
until the role's own handlers are in place (``common.stop``, as its event loop starts),
nothing has been done, so SIGINT or SIGTERM ends it at once with one line and the
shell's code (130, 143), not a ``KeyboardInterrupt`` traceback or a silent -15 from
halfway through its imports. Only the standard library is imported before that."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def stop_early(prog: str) -> None:
    """SIGINT/SIGTERM end the process at once, with one line, until replaced."""

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        sys.stderr.write(f"{prog}: stopped ({name}) before it started: nothing was done\n")
        sys.stderr.flush()
        os._exit(128 + signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handle)


def sim() -> None:
    stop_early("sms-sim")
    from launcher.cli import main  # noqa: PLC0415 (after the handlers)

    main()


def producer() -> None:
    stop_early("sms-producer")
    from producer.cli import main  # noqa: PLC0415

    main()


def sender() -> None:
    stop_early("sms-sender")
    from sender.cli import main  # noqa: PLC0415

    main()


def monitor() -> None:
    stop_early("sms-monitor")
    from monitor.cli import main  # noqa: PLC0415

    main()

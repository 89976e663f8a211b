"""How figures read on screen: rates, short durations, finish times, percentages.

In a compressed run (a time scale other than 1) a rate or a stretch of the run's time
reads ``... simulated`` with its real counterpart beside it; with scale 1 it reads as
it always has.
"""

from __future__ import annotations

import math
import time

from common.format import duration

MISSING = "-"


def rate(value: float | None, scale: float = 1.0) -> str:
    """``48.2 msg/s``; ``unbounded`` for an infinite (zero-delay) prediction; ``-`` when
    there is none. Compressed: ``48.2 msg/s simulated (964.0/s real)``."""
    if value is None:
        return MISSING
    if math.isinf(value):
        return "unbounded"
    if scale == 1:
        return f"{value:.1f} msg/s"
    return f"{value:.1f} msg/s simulated ({value * scale:.1f}/s real)"


def span(value: float, scale: float = 1.0, mark: bool = False) -> str:
    """A stretch of the run's time: ``2m03s``; compressed ``2h03m00s simulated (6m09s
    real)``, and the scale too with ``mark`` (``(6m09s real, x20)``)."""
    if scale == 1:
        return duration(value)
    beside = f"{duration(value / scale)} real" + (f", x{scale:g}" if mark else "")
    return f"{duration(value)} simulated ({beside})"


def secs(value: float) -> str:
    """A short time: ``52.1 ms`` below a second, ``1.234 s`` above."""
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.3f} s"


def left(value: float | None, scale: float = 1.0) -> str:
    """Time left (``2m03s``), ``-`` when unknown."""
    return MISSING if value is None else span(value, scale)


def finish(now: float, value: float | None, scale: float = 1.0) -> str:
    """``in 2m03s (at 14:02:11)``, local time; ``-`` when unknown. Compressed: ``in
    2h03m00s simulated (6m09s real, at 14:02:11)``."""
    if value is None:
        return MISSING
    at = time.strftime("%H:%M:%S", time.localtime(now + value / scale))
    if scale == 1:
        return f"in {duration(value)} (at {at})"
    return f"in {duration(value)} simulated ({duration(value / scale)} real, at {at})"


def pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else MISSING


def maybe(value: float | None, fmt: str) -> str:
    return MISSING if value is None else format(value, fmt)


def ratio(value: float | None) -> str:
    """A ratio (0..1) as a percentage, ``-`` when unknown."""
    return MISSING if value is None else f"{100.0 * value:.1f}%"


def brief(value: float) -> str:
    """A time in at most 6 characters, for narrow columns: ``52.1ms``, ``100ms``, ``1.23s``."""
    if value < 0.9995:
        return f"{value * 1000:.3g}ms"
    return f"{value:.3g}s" if value < 999.5 else duration(value)

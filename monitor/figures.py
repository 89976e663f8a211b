"""How figures read on screen: rates, short durations, finish times, percentages."""

from __future__ import annotations

import math
import time

from common.format import duration

MISSING = "-"


def rate(value: float | None) -> str:
    """``48.2 msg/s``; ``unbounded`` for an infinite (zero-delay) prediction; ``-`` when
    there is none."""
    if value is None:
        return MISSING
    return "unbounded" if math.isinf(value) else f"{value:.1f} msg/s"


def secs(value: float) -> str:
    """A short time: ``52.1 ms`` below a second, ``1.234 s`` above."""
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.3f} s"


def left(value: float | None) -> str:
    """Time left (``2m03s``), ``-`` when unknown."""
    return MISSING if value is None else duration(value)


def finish(now: float, value: float | None) -> str:
    """``in 2m03s (at 14:02:11)``, local time; ``-`` when unknown."""
    if value is None:
        return MISSING
    at = time.strftime("%H:%M:%S", time.localtime(now + value))
    return f"in {duration(value)} (at {at})"


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

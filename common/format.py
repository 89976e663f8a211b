"""Small formatting helpers shared by the views."""

from __future__ import annotations

import math

CENTURY = 100 * 365.25 * 86400  # seconds


def duration(seconds: float) -> str:
    """``1h02m03s``, ``2m03s`` or ``3.4s``; ``never`` for an infinite time."""
    if not math.isfinite(seconds):
        return "never" if seconds > 0 else "-"
    if seconds >= CENTURY:
        return "over 100 years"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"

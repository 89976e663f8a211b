"""Small formatting helpers shared by the views."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """``1h02m03s``, ``2m03s`` or ``3.4s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"

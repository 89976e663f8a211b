"""Is a sender live, idle or gone? Judged from its heartbeat and its latest result.

A sender rewrites its heartbeat (JSON in the run's senders hash) every second.

- live: heartbeat at most ``FRESH`` seconds old, status "live", and work in flight or a
  result within the last ``RECENT_WORK`` seconds.
- idle: up, but nothing in flight and nothing sent lately (or the heartbeat is late).
- gone: status "stopped", or no heartbeat for more than ``GONE_AFTER`` seconds.
"""

from __future__ import annotations

from common.heartbeat import STOPPED, Heartbeat

FRESH = 3.0  # seconds: a heartbeat this recent counts as fresh (3 missed beats)
GONE_AFTER = 5.0  # seconds: no heartbeat for longer than this means the sender is gone
RECENT_WORK = 3.0  # seconds: a result this recent counts as "sending"

LIVE = "live"
IDLE = "idle"
GONE = "gone"


def sender_status(info: Heartbeat | None, last_result: float, now: float) -> str:
    """``live``, ``idle`` or ``gone`` at time ``now`` (epoch seconds)."""
    if info is None or info.status == STOPPED:
        return GONE
    age = now - info.heartbeat
    if age > GONE_AFTER:
        return GONE
    busy = info.inflight > 0 or now - last_result <= RECENT_WORK
    return LIVE if age <= FRESH and info.status == LIVE and busy else IDLE

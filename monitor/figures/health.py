"""Is a sender live, idle, in an outage, gone or done? Judged from its heartbeat and its
latest result; and when it was up (for the prediction over the run).

A sender rewrites its heartbeat (JSON in the run's senders hash) every second.

- live: heartbeat at most ``FRESH`` seconds old, status "live", and work in flight or a
  result within the last ``RECENT_WORK`` seconds.
- idle: up, but nothing in flight and nothing sent lately (or the heartbeat is late).
- outage: up, heartbeat at most ``FRESH`` seconds old, and its gateway is down (a
  scheduled outage window or a random outage), or all it holds waits out the timeouts of
  attempts begun in one, as its heartbeat says: never live meanwhile, work in flight or
  results just written notwithstanding.
- gone: status "stopped", or no heartbeat for more than ``GONE_AFTER`` seconds.
- done: the run is complete and the sender was still up at its end (within ``FRESH``).
"""

from __future__ import annotations

from common import heartbeat
from common.heartbeat import STOPPED, Heartbeat

FRESH = 3.0  # seconds: a heartbeat this recent counts as fresh (3 missed beats)
GONE_AFTER = 5.0  # seconds: no heartbeat for longer than this means the sender is gone
RECENT_WORK = 3.0  # seconds: a result this recent counts as "sending"
# real seconds: a sender whose attempts end this late after they were due has fallen
# behind its schedule (a freed slot catches up at most 1 s: past that the schedule slips)
BEHIND = 0.25

LIVE = "live"
IDLE = "idle"
OUTAGE = heartbeat.OUTAGE  # what the sender's heartbeat says then, too
GONE = "gone"
DONE = "done"
STATUSES = (LIVE, IDLE, OUTAGE, GONE, DONE)
UP = frozenset({LIVE, IDLE, OUTAGE})  # serving the run at this moment

Interval = tuple[float, float]


def left(info: Heartbeat, now: float) -> bool:
    """The sender said it stopped, or its heartbeat stopped."""
    return info.status == STOPPED or now - info.heartbeat > GONE_AFTER


def up_interval(info: Heartbeat, now: float, since: float = 0.0) -> Interval:
    """When the sender was up (epoch seconds): from when it began serving (``since`` when
    its heartbeat does not say) to its last heartbeat once it left, else to ``now``."""
    start = info.started or since
    end = info.heartbeat if left(info, now) else now
    return start, max(start, end)


def sender_status(
    info: Heartbeat | None, last_result: float, now: float, finished_at: float | None = None
) -> str:
    """``live``, ``idle``, ``outage`` or ``gone`` at time ``now`` (epoch seconds); ``done``
    or ``gone`` once the run finished at ``finished_at``."""
    if info is None:
        return GONE
    if finished_at is not None:
        return DONE if up_interval(info, now)[1] >= finished_at - FRESH else GONE
    if left(info, now):
        return GONE
    if now - info.heartbeat > FRESH:
        return IDLE
    if info.status == OUTAGE:
        return OUTAGE
    busy = info.inflight > 0 or now - last_result <= RECENT_WORK
    return LIVE if info.status == LIVE and busy else IDLE

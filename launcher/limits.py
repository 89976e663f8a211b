"""What one process can serve: ``sms-sim run`` says so up front, with what to do, instead
of failing midway (thousands of "Redis unavailable" lines when file descriptors run out).
"""

from __future__ import annotations

import logging
import resource

from common.errors import UsageProblem
from common.settings import MAX_GATEWAYS

logger = logging.getLogger(__name__)

MAX_SENDERS = MAX_GATEWAYS  # senders of one sms-sim run
# Per partition, a process's senders share a blocking read, a recording write and the
# account; heartbeats, keep-fresh and takeover come on top.
CONNECTIONS_PER_PARTITION = 4
SPARE_FDS = 64  # the producer, the monitor, the interpreter's own files


def check_fleet(senders: int, partitions: int = 1) -> None:
    """Refuse a fleet larger than one process serves; raise the open-files limit as far as
    the system allows when a real server needs more connections than it permits."""
    advice = (
        "give the profiles more `concurrency` (one sender with C slots sends C messages at "
        "once), or split the fleet over several processes (`sms-sim run --redis-url URL` "
        "with part of the senders, or `sms-sender` processes joining the same run)"
    )
    if senders > MAX_SENDERS:
        raise UsageProblem(
            f"{senders} senders is more than one process serves (at most {MAX_SENDERS}): {advice}"
        )
    needed = partitions * CONNECTIONS_PER_PARTITION + SPARE_FDS
    if open_files_limit(needed) < needed:
        raise UsageProblem(
            f"{partitions} partitions need about {needed} open files (Redis connections) but "
            f"this process may open {open_files_limit(needed)} (`ulimit -n`): raise it"
        )


def open_files_limit(wanted: int) -> int:
    """The soft open-files limit, raised towards ``wanted`` when the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
            logger.debug("raised the open-files limit to %d", target)
        except (ValueError, OSError):
            pass
    return wanted if soft == resource.RLIM_INFINITY else int(soft)

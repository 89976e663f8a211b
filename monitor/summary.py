"""The JSON summary of DESIGN.md (``--json``): the final report as one object.

Its fields are a contract; it formats the snapshot's ``Report`` like every other view.
"""

from __future__ import annotations

from typing import Any

from monitor.fleet import SenderRow
from monitor.snapshot import Snapshot

__all__ = ["Snapshot", "summary"]


def summary(snap: Snapshot) -> dict[str, Any]:
    rep = snap.report
    return {
        "run": rep.run,
        "total": rep.total,
        "sent": rep.sent,
        "failed_attempts": rep.failed,
        "attempts": rep.attempts,
        "duplicates_suppressed": rep.duplicates,
        "abandoned": rep.abandoned,
        "dead_letters": rep.dead_letters,
        "avg_attempt_time": round(rep.avg_attempt_time, 6),
        "avg_time_per_message": round(rep.avg_time_per_message, 6),
        "elapsed": round(rep.elapsed, 3),
        "throughput": round(rep.overall_rate, 3),
        "latency": {name: round(value, 6) for name, value in rep.latency.items()},
        "senders": [_sender(row) for row in rep.senders],
    }


def _sender(row: SenderRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "mean_time": row.mean_time,
        "failure_rate": row.failure_rate,
        "sent": row.sent,
        "failed_attempts": row.failed,
        "attempts": row.attempts,
        "avg_attempt_time": round(row.avg_attempt_time, 6),
    }

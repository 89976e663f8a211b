"""The JSON summary of DESIGN.md (``--json``): the final report as one object.

Its fields are a contract (new fields may be added, none removed); it formats the
snapshot's ``Report`` like every other view. Times in seconds, rates in messages per
second, both in the run's simulated time (``time_scale`` simulated seconds per real
second; ``elapsed_real`` is the wall time); ratios as fractions (0..1); an unbounded
prediction is null.
"""

from __future__ import annotations

import math
from typing import Any

from monitor.fleet import SenderRow
from monitor.quantiles import Percentiles
from monitor.snapshot import Snapshot

__all__ = ["Snapshot", "summary"]


def summary(snap: Snapshot) -> dict[str, Any]:
    rep = snap.report
    return {
        "run": rep.run,
        "state": rep.state(final=True),
        "total": rep.total,
        "sent": rep.sent,
        "failed_attempts": rep.failed,
        "attempts": rep.attempts,
        "duplicates_suppressed": rep.duplicates,
        "abandoned": rep.abandoned,
        "undeliverable": rep.undeliverable,
        "dead_letters": rep.dead_letters,
        "failure_ratio": _round(rep.failure_ratio),
        "avg_attempt_time": round(rep.avg_attempt_time, 6),
        "avg_time_per_message": round(rep.avg_time_per_message, 6),
        "time_scale": rep.scale,
        "elapsed": round(rep.elapsed, 3),
        "elapsed_real": round(rep.elapsed_real, 3),
        "throughput": round(rep.overall_rate, 3),
        "predicted_rate": _finite(rep.predicted_rate, 3),
        "predicted_completion": _finite(rep.predicted_completion, 3),
        "latency": _percentiles(rep.queue_wait),
        "delivery_time": _percentiles(rep.delivery_time),
        "attempt_time": _percentiles(rep.attempt_time),
        "senders": [_sender(row) for row in rep.senders],
    }


def _finite(value: float | None, digits: int) -> float | None:
    return None if value is None or math.isinf(value) else round(value, digits)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _percentiles(values: Percentiles | None) -> dict[str, float] | None:
    return None if values is None else {name: round(v, 6) for name, v in values.items()}


def _sender(row: SenderRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "status": row.status,
        "mean_time": row.mean_time,
        "failure_rate": row.failure_rate,
        "concurrency": row.concurrency,
        "predicted_rate": _finite(row.rate, 3),
        "sent": row.sent,
        "failed_attempts": row.failed,
        "attempts": row.attempts,
        "avg_attempt_time": round(row.avg_attempt_time, 6),
        "failure_ratio": _round(row.failure_ratio),
        "share": round(row.share, 6),
        "attempt_time": _percentiles(row.attempt_time),
        "error": row.error,
    }

"""The JSON summary of DESIGN.md (``--json``): the final report as one object.

Its fields are a contract (new fields may be added, none removed): every figure of the
catalogue under its JSON name (percentiles as their whole ladder: ``min``, ``p50``,
``p66``, ``p75``, ``p90``, ``p95``, ``p99``, ``p99_9``, ``max``), the run's name and time
scale, the real elapsed time, whether lateness distorted the run
(``lateness_distorted``), the failures by reason (``failures``: ``[{kind, reason,
count}]``, null when the dead stream could not be read), and one object per sender.
Times in seconds, rates in messages per second, both in the run's simulated time
(``time_scale`` simulated seconds per real second; ``elapsed_real`` is the wall time);
ratios as fractions (0..1); an unknown figure or an unbounded prediction is null.
"""

from __future__ import annotations

from typing import Any

from monitor.figures.catalogue import FIGURES, SENDER_FIGURES
from monitor.figures.fleet import SenderRow
from monitor.figures.report import Report
from monitor.figures.thresholds import Verdict, passed
from monitor.tally.failures import Failure
from monitor.views.formatting import json_value


def summary(rep: Report) -> dict[str, Any]:
    found: dict[str, Any] = {"run": rep.run, "time_scale": rep.scale}
    for figure in FIGURES:
        found[figure.json] = json_value(figure.kind, getattr(rep, figure.key))
    found["elapsed_real"] = round(rep.elapsed_real, 3)
    found["lateness_distorted"] = rep.distorted
    found["failures"] = failures(rep.failures)
    found["senders"] = [sender(row) for row in rep.senders]
    if rep.thresholds:
        found["thresholds"] = [verdict(v) for v in rep.thresholds]
        found["thresholds_passed"] = passed(rep.thresholds)
    return found


def failures(found: tuple[Failure, ...] | None) -> list[dict[str, Any]] | None:
    """The failures table: one object per kind (``abandoned``, ``undeliverable``, ``dead
    letter``) and reason, with its count; null when unknown."""
    if found is None:
        return None
    return [{"kind": f.kind, "reason": f.reason, "count": f.count} for f in found]


def verdict(v: Verdict) -> dict[str, Any]:
    """A threshold as judged: the figure, its condition and limit (in the figure's unit:
    seconds, a fraction, a count), the value the run gave (null: none), and whether it
    passed (null: not judged, the run did not complete)."""
    return {
        "figure": v.threshold.figure,
        "condition": v.threshold.condition,
        "limit": v.threshold.limit,
        "value": v.value,
        "passed": v.passed,
    }


def sender(row: SenderRow) -> dict[str, Any]:
    found: dict[str, Any] = {"name": row.name}
    for figure in SENDER_FIGURES:
        found[figure.json] = json_value(figure.kind, getattr(row, figure.key))
    return found

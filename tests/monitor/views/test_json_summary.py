"""The JSON summary (monitor/views/json_summary.py)."""

from __future__ import annotations

import json
import math

import pytest

from common.run import RunState
from monitor.views.json_summary import summary
from tests.monitor.support import (
    sample_report,
)

DESIGN_FIELDS = [
    "run",
    "total",
    "sent",
    "failed_attempts",
    "attempts",
    "duplicates_suppressed",
    "abandoned",
    "dead_letters",
    "avg_attempt_time",
    "avg_time_per_message",
    "elapsed",
    "throughput",
    "latency",
    "senders",
]


DESIGN_SENDER_FIELDS = [
    "name",
    "mean_time",
    "failure_rate",
    "sent",
    "failed_attempts",
    "attempts",
    "avg_attempt_time",
]


def test_json_summary_field_by_field() -> None:
    snap = sample_report(state=RunState(13, 13, True, 9, 4, dead_letters=4))
    data = json.loads(json.dumps(summary(snap)))
    assert set(DESIGN_FIELDS) <= set(data)
    assert data["run"] == "blast-1"
    assert data["total"] == 13
    assert data["sent"] == 9
    assert data["failed_attempts"] == 4
    assert data["attempts"] == 14  # 10 (gw-a) + 3 + 1 duplicate (gw-b)
    assert data["duplicates_suppressed"] == 1
    assert data["abandoned"] == 4
    assert data["dead_letters"] == 4
    assert math.isclose(data["avg_attempt_time"], (10 * 0.1 + 4 * 0.2) / 14, rel_tol=1e-5)
    assert math.isclose(data["avg_time_per_message"], (10 * 0.1 + 4 * 0.2) / 9, rel_tol=1e-5)
    assert data["elapsed"] == 19.0  # complete: created to the last result
    assert math.isclose(data["throughput"], 9 / 19, rel_tol=1e-3)
    ladder = {"min", "p50", "p66", "p75", "p90", "p95", "p99", "p99_9", "max"}
    assert set(data["latency"]) == ladder  # the whole ladder (issue 25)
    # six latencies of 0.5 s, three of 1.0 s; the histogram is within 1 %
    assert data["latency"]["p50"] == pytest.approx(0.5, rel=0.0101)
    assert data["latency"]["p99"] == pytest.approx(1.0, rel=0.0101)
    assert [s["name"] for s in data["senders"]] == ["gw-a", "gw-b", "gw-c"]
    gw_a = data["senders"][0]
    assert {key: gw_a[key] for key in DESIGN_SENDER_FIELDS} == {
        "name": "gw-a",
        "mean_time": 0.1,
        "failure_rate": 0.5,
        "sent": 6,
        "failed_attempts": 4,
        "attempts": 10,
        "avg_attempt_time": pytest.approx(0.1, rel=1e-5),
    }
    assert (gw_a["status"], gw_a["concurrency"], gw_a["error"]) == ("done", 1, "")
    assert gw_a["failure_ratio"] == pytest.approx(0.4)
    assert gw_a["share"] == pytest.approx(6 / 9, rel=1e-5)
    assert gw_a["attempt_time"]["p50"] == pytest.approx(0.1, rel=0.0101)
    assert data["senders"][2]["attempts"] == 0
    assert data["senders"][2]["failure_ratio"] is None
    # added fields: the state, the failure ratio as a fraction, the predicted rate over
    # the run, the delivery time from the run's start and the attempt time
    assert data["state"] == "complete"
    assert data["failure_ratio"] == pytest.approx(4 / 14, rel=1e-5)
    assert data["predicted_rate"] == pytest.approx(5 + 8 + 5, rel=0.01)
    assert set(data["delivery_time"]) == set(data["attempt_time"]) == ladder
    assert set(gw_a["attempt_time"]) == set(gw_a["lateness"]) == ladder
    assert data["latency"]["min"] == pytest.approx(0.5, rel=0.0101)
    assert data["latency"]["max"] == data["latency"]["p99_9"]

"""Sender statuses from heartbeats and results (monitor/figures/health.py)."""

from __future__ import annotations

import json

import pytest

from common.heartbeat import Heartbeat
from monitor.figures.fleet import fleet
from monitor.figures.health import (
    FRESH,
    GONE,
    GONE_AFTER,
    IDLE,
    LIVE,
    OUTAGE,
    RECENT_WORK,
    sender_status,
)
from tests.monitor.support import (
    NOW,
    info,
    sample_snapshot,
)


@pytest.mark.parametrize(
    ("beat_age", "status", "inflight", "result_age", "expected"),
    [
        (0.5, "live", 1, 100.0, LIVE),  # fresh, working
        (0.5, "live", 0, 1.0, LIVE),  # fresh, between messages but sent just now
        (FRESH, "live", 1, 100.0, LIVE),  # at the freshness limit
        (0.5, "live", 0, RECENT_WORK + 0.5, IDLE),  # fresh, nothing to do
        (FRESH + 0.5, "live", 1, 0.5, IDLE),  # heartbeat late, not yet gone
        (GONE_AFTER, "live", 1, 0.5, IDLE),  # at the limit
        (GONE_AFTER + 0.1, "live", 1, 0.5, GONE),  # heartbeat stopped
        (0.1, "stopped", 0, 0.5, GONE),  # left cleanly
        # in an outage: its slots wait out timeouts, it sent just now: still an outage
        (0.5, "outage", 4, 0.5, OUTAGE),
        (FRESH, "outage", 4, 0.5, OUTAGE),
        (FRESH + 0.5, "outage", 4, 0.5, IDLE),  # heartbeat late: up, not known to be down
    ],
)
def test_sender_status_from_heartbeat_and_last_result(
    beat_age: float, status: str, inflight: int, result_age: float, expected: str
) -> None:
    sender = info("gw", status=status, heartbeat=NOW - beat_age, inflight=inflight)
    assert sender_status(sender, NOW - result_age, NOW) == expected


def test_a_sender_seen_only_in_results_is_gone() -> None:
    assert sender_status(None, NOW, NOW) == GONE
    snap = sample_snapshot(senders={})
    assert {row.name: row.status for row in fleet(snap)} == {"gw-a": GONE, "gw-b": GONE}


def test_status_changes_as_the_clock_moves() -> None:
    sender = info("gw", heartbeat=NOW, inflight=1)
    assert [sender_status(sender, NOW, NOW + dt) for dt in (0, 4, 6)] == [LIVE, IDLE, GONE]


def test_heartbeat_json_is_parsed_and_garbage_is_survived() -> None:
    raw = json.dumps(
        {
            "mean_time": 0.05,
            "failure_rate": 0.5,
            "shape": 10,
            "concurrency": 3,
            "max_attempts": None,
            "status": "live",
            "heartbeat": NOW,
            "inflight": 2,
            "sent": 17,
        }
    )
    parsed = Heartbeat.parse("gw", raw)
    assert parsed == Heartbeat("gw", 0.05, 0.5, 3, "live", NOW, 10.0, 2, 17)
    assert Heartbeat.parse("gw", "{not json") == Heartbeat("gw")

"""Rates, ETA and the predictions beside them (monitor/figures/rates.py)."""

from __future__ import annotations

import math

from monitor.tally.stats import Stats
from monitor.views.plain import plain_line
from tests.monitor.support import (
    NOW,
    info,
    sample_report,
)


def test_predicted_rate_now_sums_the_senders_that_are_up() -> None:
    rep = sample_report()
    assert rep.predicted_now is not None and math.isclose(rep.predicted_now, 13.0)
    # over the whole window gw-c (gone since NOW - 0.5) counts for the time it was up
    assert math.isclose(rep.predicted_rate, 13.0 + 5 * 19.5 / 20)


def test_a_zero_delay_sender_makes_the_prediction_unbounded() -> None:
    snap = sample_report(senders={"gw-a": info("gw-a", mean_time=0.0)})
    assert snap.predicted_now == math.inf
    assert "pred_rate=unbounded" in plain_line(snap)
    assert "pred_now=unbounded" in plain_line(snap)


def test_eta_uses_the_recent_rate_and_the_predicted_finish_the_profiles() -> None:
    r = sample_report()
    assert r.remaining == 90  # 100 - 9 sent - 1 abandoned
    assert math.isclose(r.rate, 0.6)
    assert r.eta is not None and math.isclose(r.eta, 150.0)
    assert r.predicted_finish is not None and math.isclose(r.predicted_finish, 90 / 13)


def test_no_rate_yet_means_no_eta() -> None:
    snap = sample_report(now=NOW + 100, created=0.0)  # nothing delivered lately
    r = snap
    assert r.rate == 0.0 and r.eta is None
    assert "eta=-" in plain_line(snap)


def test_current_rate_covers_the_last_ten_seconds() -> None:
    stats = Stats()
    stamps = [NOW - 30 + i / 10 for i in range(200)]  # 10 msg/s for 20 s, then 1 msg/s
    stamps += [NOW - 10 + 0.5 + i for i in range(10)]
    for ts in stamps:
        stats.count("gw-a", 0.1, ts, True, False, 0.5)
    snap = sample_report(stats=stats, created=NOW - 30)
    assert math.isclose(snap.rate, 1.0)

"""The virtual model (common/virtual) against closed-form answers.

Constant delays are gamma delays of shape 10**6 (a coefficient of variation of 0.1 %),
so the answers are exact to that; the random ones (failures, numbers) are checked over
many seeded messages within stated tolerances.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from common.model import SimConfig
from common.virtual.forecast import Band, Effort, forecast
from common.virtual.run import simulate

CONSTANT = 1_000_000.0  # gamma shape: delays within 0.1 % of their mean (one sigma)
TOL = 5e-3  # relative: five sigmas of one delay


def config(*senders: dict[str, Any], **run: Any) -> SimConfig:
    base = {"shape": CONSTANT, "failure_rate": 0.0}
    return SimConfig.model_validate({**run, "senders": [{**base, **s} for s in senders]})


def test_one_slot_and_constant_delays_take_n_times_the_mean() -> None:
    done = simulate(config({"mean_time": 0.5}, num_messages=40), seed=1)
    assert done.completion == pytest.approx(20.0, rel=TOL)
    assert done.delivered[:3] == pytest.approx([0.5, 1.0, 1.5], rel=TOL)
    assert (done.sent, done.failed, done.by_sender) == (40, 0, (40,))


def test_slots_and_senders_share_the_work() -> None:
    fleet = config({"mean_time": 1.0, "concurrency": 3}, {"mean_time": 0.5}, num_messages=50)
    done = simulate(fleet, seed=1)
    # 3 slots at 1/s and one at 2/s: 5 messages a second, 10 s for 50
    assert done.completion == pytest.approx(10.0, rel=2e-3)
    assert done.by_sender == (30, 20)


def test_retries_are_geometric() -> None:
    """Failure rate p: 1/(1-p) attempts a message; on one slot, the time too."""
    done = simulate(config({"mean_time": 0.01, "failure_rate": 0.75}, num_messages=20_000), 7)
    attempts = done.sent + done.failed
    assert attempts / 20_000 == pytest.approx(4.0, rel=0.03)
    assert done.completion == pytest.approx(attempts * 0.01, rel=TOL)


def test_max_attempts_abandons_after_that_many_failures() -> None:
    done = simulate(
        config({"mean_time": 0.1, "failure_rate": 1.0, "max_attempts": 3}, num_messages=10), 1
    )
    assert (done.sent, done.failed, done.abandoned) == (0, 30, 10)
    assert done.completion == pytest.approx(3.0, rel=TOL)
    assert done.time_to(0.95) is None  # nothing is ever delivered


def test_a_binding_gateway_cap_spaces_the_starts() -> None:
    """max_rate r, burst 1, many slots: starts at k / r, the last ends a mean later."""
    fleet = config({"mean_time": 0.2, "concurrency": 100, "max_rate": 10}, num_messages=101)
    done = simulate(fleet, seed=1)
    assert done.completion == pytest.approx(100 / 10 + 0.2, rel=TOL)


def test_a_burst_lets_the_first_starts_through_at_once() -> None:
    fleet = config(
        {"mean_time": 0.2, "concurrency": 100, "max_rate": 10, "burst": 5}, num_messages=25
    )
    done = simulate(fleet, seed=1)
    # 5 at once at 0, then one every 0.1 s: the 25th starts at 2.0 s
    assert done.delivered[:5] == pytest.approx([0.2] * 5, rel=TOL)
    assert done.completion == pytest.approx(2.0 + 0.2, rel=TOL)


def test_the_account_cap_is_shared_first_come_first_served() -> None:
    """Two fast senders under an account of 20/s: 20 starts a second in all, and each
    sender gets tokens as its attempts ask for them (alternating: half each)."""
    fleet = config(
        {"mean_time": 0.01, "concurrency": 10},
        {"mean_time": 0.01, "concurrency": 10},
        account={"max_rate": 20},
        num_messages=201,
    )
    done = simulate(fleet, seed=1)
    assert done.completion == pytest.approx(200 / 20 + 0.01, rel=TOL)
    assert abs(done.by_sender[0] - done.by_sender[1]) <= 1


def test_an_outage_window_times_attempts_out() -> None:
    """1 s attempts; down over [5.5, 8.5), attempts starting there fail after the 2 s
    timeout: the 7th message fails at 8 and 10 (starting at 6 and 8), goes through at 11;
    8 messages: 12 s."""
    fleet = config(
        {"mean_time": 1.0, "timeout": 2.0, "outages": [{"at": 5.5, "for": 3}]}, num_messages=8
    )
    done = simulate(fleet, seed=1)
    assert done.completion == pytest.approx(12.0, rel=TOL)
    assert done.failed == 2
    assert done.delivered[5:7] == pytest.approx([6.0, 11.0], rel=TOL)


def test_backoff_waits_between_attempts_and_frees_the_slot() -> None:
    """One message, 5 s attempts that always fail, 3 attempts, 7 s backoffs: 29 s (the
    documented answer); a second message takes the slot while the first backs off."""
    profile = {
        "mean_time": 5.0,
        "failure_rate": 1.0,
        "max_attempts": 3,
        "retry_backoff": {"initial": 7, "factor": 1},
    }
    assert simulate(config(profile, num_messages=1), 1).completion == pytest.approx(29, rel=TOL)
    two = simulate(config(profile, num_messages=2), 1)
    # the second starts at 5 (the first backs off until 12), fails at 10, backs off to 17;
    # the first retries at 12 (ends 17, back to 24), the second at 17 (22, back to 29);
    # the first at 24 (abandoned at 29), the second at 29 (abandoned at 34)
    assert two.completion == pytest.approx(34, rel=TOL)
    assert (two.abandoned, two.failed) == (2, 6)


def test_backoff_grows_by_its_factor_up_to_its_max() -> None:
    profile = {
        "mean_time": 1.0,
        "failure_rate": 1.0,
        "max_attempts": 4,
        "retry_backoff": {"initial": 1, "factor": 3, "max": 5},
    }
    # attempts end at 1, 3 (after 1), 7 (after 3), 13 (after min(9, 5)): 1+1+1+3+1+5+1
    assert simulate(config(profile, num_messages=1), 1).completion == pytest.approx(13, rel=TOL)


def test_undeliverable_numbers_take_one_attempt_and_are_settled_apart() -> None:
    done = simulate(config({"mean_time": 0.001}, num_messages=20_000, invalid_fraction=0.1), 3)
    assert done.undeliverable / 20_000 == pytest.approx(0.1, abs=0.01)
    assert done.sent + done.undeliverable == 20_000
    assert done.failed == done.undeliverable


def test_random_outages_cost_their_share_of_time() -> None:
    """Up 90 %, down 10 % (mtbf 0.9, mttr 0.1: some 200 outages), 0.01 s attempts: an
    attempt in an outage takes the 0.01 s timeout and is retried, so failures are about a
    tenth of the attempts."""
    fleet = config(
        {"mean_time": 0.01, "timeout": 0.01, "mtbf": 0.9, "mttr": 0.1}, num_messages=20_000
    )
    done = simulate(fleet, seed=5)
    assert done.failed / (done.failed + done.sent) == pytest.approx(0.1, abs=0.02)


def test_a_sender_joining_later_takes_nothing_before_it_joins() -> None:
    fleet = config({"mean_time": 1.0}, {"mean_time": 1.0}, num_messages=20)
    done = simulate(fleet, seed=1, spans=[(0.0, math.inf), (10.0, math.inf)])
    assert done.completion == pytest.approx(15.0, rel=TOL)  # 10 alone, then 10 by two
    assert done.by_sender == (15, 5)


def test_the_same_seed_gives_the_same_forecast_and_bands_hold_the_runs() -> None:
    fleet = config({"mean_time": 0.1, "shape": 2, "failure_rate": 0.3}, num_messages=200)
    first = forecast(fleet, Effort(replications=30, seed=4))
    assert first == forecast(fleet, Effort(replications=30, seed=4, workers=1))
    band = first.completion
    assert band.low <= band.mean <= band.high
    assert first.replications == 30
    # 200 messages, 1/(1-0.3) attempts each, 0.1 s: about 28.6 s
    assert band.mean == pytest.approx(200 / 0.7 * 0.1, rel=0.03)


def test_a_band_is_the_percentiles_of_the_replications() -> None:
    band = Band.of([float(v) for v in range(1, 102)], 5, 95)
    assert band == Band(51.0, 6.0, 96.0)
    assert Band.of([1.0, math.nan], 5, 95) is None


def test_a_sender_that_leaves_takes_nothing_more_and_hands_its_backoffs_over() -> None:
    fleet = config({"mean_time": 1.0}, {"mean_time": 1.0}, num_messages=20)
    done = simulate(fleet, seed=1, spans=[(0.0, math.inf), (0.0, 4.5)])
    # the second takes its 5th message at 4, leaves at 4.5: the first takes the 10 left
    assert done.completion == pytest.approx(15.0, rel=TOL)
    assert done.by_sender == (15, 5)
    backoff = {"failure_rate": 1.0, "max_attempts": 2, "retry_backoff": {"initial": 1}}
    handed = config({"mean_time": 1.0}, {"mean_time": 1.0, **backoff}, num_messages=2)
    done = simulate(handed, seed=1, spans=[(0.0, math.inf), (0.0, 1.5)])
    # the second fails at 1, backs off to 2, after it left: the first sender (free since
    # 1) takes it and delivers it at 3
    assert (done.sent, done.abandoned, done.by_sender) == (2, 0, (2, 0))
    assert done.completion == pytest.approx(3.0, rel=TOL)


def test_a_band_from_few_runs_is_a_student_t_prediction_interval() -> None:
    """Four runs of 1, 2, 3, 4 s: mean 2.5, s 1.29; the 95th percentile of a fifth run
    is 2.5 + t(0.95, 3 dof) 2.353 x 1.29 x sqrt(1 + 1/4) = 5.90."""
    band = Band.of([1.0, 2.0, 3.0, 4.0], 5, 95)
    assert band is not None
    assert band.high == pytest.approx(5.896, rel=2e-3)
    assert band.low == pytest.approx(2.5 - 3.396, abs=0.02)

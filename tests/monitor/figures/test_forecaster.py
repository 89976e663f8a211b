"""The monitor's forecast of the fleet it sees (monitor/figures/forecaster.py): the fleet
from the heartbeats, the forecast off the event loop, and the predictions in the report."""

from __future__ import annotations

import asyncio
import math

import pytest
from redis.asyncio import Redis

from common.keys import RunKeys
from common.run import RunState
from monitor.figures.fleet import fleet
from monitor.figures.forecaster import SMALL, Forecaster, fleet_of
from monitor.figures.report import build
from monitor.views.json_summary import summary
from monitor.views.plain import final_text
from tests.monitor.support import NOW, info, sample_snapshot
from tests.roles import produce_now, send_all, watch


def profile(mean: float, fail: float, slots: int = 1) -> dict[str, object]:
    return {"mean_time": mean, "failure_rate": fail, "concurrency": slots, "shape": 10}


def beats() -> dict[str, object]:
    """gw-a up since the start; gw-b left 5 s in; gw-c of a profile no one can read."""
    return {
        "gw-a": info("gw-a", profile=profile(0.1, 0.5), started=NOW - 20),
        "gw-b": info(
            "gw-b",
            profile=profile(0.2, 0.2, 2),
            status="stopped",
            started=NOW - 20,
            heartbeat=NOW - 15,
        ),
        "gw-c": info("gw-c", profile={"mean_time": "soon"}, started=NOW - 20),
    }


def test_the_fleet_is_the_senders_with_a_profile_over_their_time_up() -> None:
    snap = sample_snapshot(senders=beats())
    seen = fleet_of(fleet(snap), snap.state, snap.clock)
    assert seen is not None
    assert seen.names == ("gw-a", "gw-b")  # gw-c's profile is unreadable: left out
    assert seen.spans[0] == (0.0, math.inf)  # still up: from here on
    assert seen.spans[1] == pytest.approx((0.0, 5.0))  # left 5 s in
    assert seen.config.num_messages == snap.state.total
    assert [p.concurrency for p in seen.config.senders or []] == [1, 2]


async def test_a_forecast_is_made_off_the_loop_and_kept_until_the_fleet_changes() -> None:
    snap = sample_snapshot(senders=beats())
    forecaster = Forecaster(budget=0.2, in_thread=True)
    try:
        seen = fleet_of(fleet(snap), snap.state, snap.clock)
        forecaster.update(seen)  # under way, in a thread
        await forecaster.wait()
        first = forecaster.update(seen)
        assert first is not None and first.replications >= 4
        assert forecaster.update(seen) is first  # the same fleet: no new forecast
        later = sample_snapshot(senders={"gw-a": beats()["gw-a"]})  # gw-b gone from view
        other = fleet_of(fleet(later), later.state, later.clock)
        assert forecaster.update(other) is None  # another fleet: a new forecast first
        await forecaster.wait()
        assert forecaster.update(other) not in (None, first)
    finally:
        forecaster.close()
        forecaster.close()  # twice is safe


async def test_a_monitored_run_ends_with_the_forecast_beside_it(fake: Redis, keys: RunKeys) -> None:
    """Two senders, 200 messages: the final report's predictions are the forecast's: its
    completion with a band, and whether the run fell within it."""
    await produce_now(fake, keys.run, 200)
    await asyncio.gather(
        send_all(fake, keys.run, name="a", mean_time=0.002, failure_rate=0.3, seed=1),
        send_all(fake, keys.run, name="b", mean_time=0.004, failure_rate=0.1, seed=2),
    )
    rep = await watch(fake, keys.run)
    assert rep is not None and rep.complete
    assert rep.predicted_low is not None and rep.predicted_high is not None
    assert rep.predicted_low <= rep.predicted_completion <= rep.predicted_high  # type: ignore[operator]
    assert rep.in_band in ("yes", "no")
    data = summary(rep)
    assert data["predicted_completion_low"] == pytest.approx(rep.predicted_low, abs=1e-3)
    assert data["completion_in_band"] == rep.in_band
    assert "completion within the predicted band" in final_text(rep)


def test_without_a_forecaster_the_report_keeps_the_fluid_estimate() -> None:
    rep = build(sample_snapshot(state=RunState(100, 100, True, 9, 1)))
    assert rep.predicted_completion is not None
    assert (rep.predicted_low, rep.predicted_high, rep.in_band) == (None, None, None)


async def test_a_forecast_in_a_worker_process_never_outlives_it() -> None:
    """Beside senders the forecast runs in a worker process: it answers, and one dropped
    (a new fleet, or the monitor closing) is terminated, not left behind."""
    big = sample_snapshot(senders=beats(), state=RunState(SMALL + 1, SMALL + 1, True, 0, 0))
    seen = fleet_of(fleet(big), big.state, big.clock)
    forecaster = Forecaster(budget=0.1)
    try:
        forecaster.update(seen, now=True)
        job = forecaster._job
        assert job is not None and job._process is not None
        process = job._process
        await forecaster.wait()
        assert forecaster.update(seen) is not None
        assert not process.is_alive()  # done and gone
        forecaster.update(fleet_of(fleet(sample_snapshot(senders=beats())), big.state, big.clock))
        other = sample_snapshot(senders={"gw-a": beats()["gw-a"]}, state=big.state)
        forecaster.update(fleet_of(fleet(other), other.state, other.clock), now=True)
        running = forecaster._job
        assert running is not None and running._process is not None
        worker = running._process
    finally:
        forecaster.close()
    assert not worker.is_alive()  # closed under way: terminated

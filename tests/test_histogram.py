"""The streaming latency/duration histogram: 1 % accuracy, bounded memory, merging, and
surviving a monitor restart through the checkpoint."""

from __future__ import annotations

import bisect
import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from common.histogram import LogHistogram, rank
from common.keys import RunKeys
from common.results import Result
from monitor.follow.reader import ResultsReader
from monitor.tally.stats import Stats
from tests.roles import produce_now, run_id

REL = 0.01
SLACK = 1e-9  # float rounding at a bucket boundary

values = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
quantiles = st.floats(min_value=0.0, max_value=1.0)


def exact(samples: list[float], q: float) -> float:
    """The sample of nearest rank: the smallest with at least a share q of the samples at
    or below it (the k-th smallest, k = ceil(q * n), at least 1)."""
    ordered = sorted(samples)
    need = round(q * len(ordered), 9)  # a share of the samples, as a count (floats aside)
    return next(v for v in ordered if bisect.bisect_right(ordered, v) >= need)


def filled(samples: list[float]) -> LogHistogram:
    hist = LogHistogram()
    for value in samples:
        hist.add(value)
    return hist


@settings(max_examples=200, deadline=None)
@given(st.lists(values, min_size=1, max_size=300), quantiles)
def test_quantiles_within_one_percent_of_the_exact_ones(samples: list[float], q: float) -> None:
    got = filled(samples).quantile(q)
    want = exact(samples, q)
    assert abs(got - want) <= (REL + SLACK) * want


@settings(max_examples=50, deadline=None)
@given(st.lists(values, min_size=1, max_size=200), st.lists(values, min_size=1, max_size=200))
def test_merging_equals_one_histogram_of_all_samples(a: list[float], b: list[float]) -> None:
    merged = filled(a)
    merged.merge(filled(b))
    whole = filled(a + b)
    assert merged.buckets == whole.buckets
    assert merged.count == len(a) + len(b)
    assert math.isclose(merged.total, whole.total, rel_tol=1e-9)
    for q in (0.0, 0.5, 0.95, 0.99, 1.0):
        assert merged.quantile(q) == whole.quantile(q)


@pytest.mark.parametrize(
    ("q", "n", "k"),
    [
        (0.5, 10, 5),  # the 5th of 10 (the rank q(n - 1) read the 5th too: floor(4.5) + 1)
        (0.95, 10, 10),  # q(n - 1) read the 9th: 95 % of 10 are not at or below it
        (0.95, 100, 95),  # 0.95 x 100 is 95.00000000000001 in floats: still the 95th
        (0.999, 1000, 999),
        (0.66, 3, 2),
        (0.0, 7, 1),  # min
        (1.0, 7, 7),  # max
        (0.5, 1, 1),
        (0.5, 0, 1),  # no samples: the first rank (the histogram says 0.0 then)
    ],
)
def test_the_one_percentile_rule_is_the_nearest_rank(q: float, n: int, k: int) -> None:
    assert rank(q, n) == k


def test_a_ladder_in_one_pass_equals_each_quantile_alone() -> None:
    rng = random.Random(5)
    hist = filled([0.0] * 30 + [rng.expovariate(3.0) for _ in range(2000)])
    shares = [0.0, 0.5, 0.66, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]
    alone = [hist.quantiles([q])[0] for q in shares]
    assert hist.quantiles(shares) == alone
    assert hist.quantiles(list(reversed(shares))) == list(reversed(alone))
    assert alone[0] == 0.0 and alone[-1] == max(hist._value(i) for i in hist.buckets)


def test_queue_wait_and_delivery_time_take_the_same_rank() -> None:
    """One rule everywhere (issue 25): a histogram's percentile (queue wait, attempt
    time, lateness) and the delivery time's (when that share of the deliveries had
    arrived) pick the same delivery. Ten deliveries one second apart, each having waited
    as long as since the start: both p95s are the 10th (10 s), not the 9th."""
    stats = Stats()
    start = 1000.0
    for i in range(1, 11):
        stats.count("gw", 0.1, start + i, True, False, float(i))
    wait = stats.latency.quantiles([0.5, 0.95, 0.99])
    delivery = stats.series.times_to([0.5, 0.95, 0.99], start)
    assert wait == pytest.approx([5.0, 10.0, 10.0], rel=REL)
    assert delivery == pytest.approx([5.0, 10.0, 10.0], abs=stats.series.width)


def test_percentiles_of_a_realistic_latency_sample() -> None:
    rng = random.Random(7)
    samples = [rng.gammavariate(10, 0.005) for _ in range(20_000)]
    hist = filled(samples)
    for q in (0.5, 0.95, 0.99):
        want = exact(samples, q)
        assert abs(hist.quantile(q) - want) <= REL * want
    assert math.isclose(hist.mean, sum(samples) / len(samples), rel_tol=1e-9)


def test_memory_grows_with_the_value_range_not_the_sample_count() -> None:
    rng = random.Random(1)
    hist = filled([10 ** rng.uniform(-3, 3) for _ in range(50_000)])
    gamma = (1 + REL) / (1 - REL)
    assert len(hist.buckets) <= math.ceil(math.log(1e6) / math.log(gamma)) + 2
    assert hist.count == 50_000


def test_zero_durations_and_an_empty_histogram() -> None:
    assert LogHistogram().quantile(0.5) == 0.0
    assert LogHistogram().mean == 0.0
    hist = filled([0.0, 0.0, 0.0, 2.0])
    assert hist.quantile(0.5) == 0.0
    assert abs(hist.quantile(1.0) - 2.0) <= REL * 2.0
    assert hist.zeros == 3


def test_state_round_trips_through_json() -> None:
    hist = filled([0.0, 0.01, 0.5, 3.0, 3.0])
    back = LogHistogram.from_dict(json.loads(json.dumps(hist.to_dict())))
    assert back.buckets == hist.buckets
    assert (back.count, back.zeros, back.total) == (hist.count, hist.zeros, hist.total)
    assert [back.quantile(q) for q in (0.5, 0.99)] == [hist.quantile(q) for q in (0.5, 0.99)]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(values, st.just(0.0)), max_size=300))
def test_adding_many_at_once_equals_adding_one_by_one(samples: list[float]) -> None:
    hist = LogHistogram()
    hist.add_many(samples)
    one_by_one = filled(samples)
    assert hist.buckets == one_by_one.buckets
    assert (hist.count, hist.zeros) == (one_by_one.count, one_by_one.zeros)
    assert math.isclose(hist.total, one_by_one.total, rel_tol=1e-9)


async def _open_run(client: Redis, keys: RunKeys) -> str:
    await produce_now(client, keys.run, 0)
    return await run_id(client, keys.run)


def _result(seq: int, latency: float) -> Result:
    return Result(seq, "gw", 1, True, latency / 2, 1000.0 + seq, latency)


async def test_a_restarted_monitor_keeps_its_percentiles(fake: Redis, keys: RunKeys) -> None:
    rng = random.Random(3)
    stats = Stats()
    for seq in range(500):
        stats.apply(_result(seq, rng.uniform(0.01, 2.0)))
    before = [stats.latency.quantile(q) for q in (0.5, 0.95, 0.99)]
    rid = await _open_run(fake, keys)
    first = ResultsReader(fake, keys, rid)
    first.stats, first.last_id = stats, "1700000000000-5"
    assert await first.save_checkpoint()

    second = ResultsReader(fake, keys, rid)
    await second.load_checkpoint()
    restored = second.stats

    assert second.last_id == "1700000000000-5"
    assert [restored.latency.quantile(q) for q in (0.5, 0.95, 0.99)] == before
    assert restored.latency.count == 500
    assert restored.senders["gw"].durations.buckets == stats.senders["gw"].durations.buckets
    assert restored.senders["gw"].last_ts == stats.senders["gw"].last_ts


async def test_a_checkpoint_without_sender_timestamps_still_loads(
    fake: Redis, keys: RunKeys
) -> None:
    stats = Stats()
    stats.apply(_result(0, 0.2))
    saved = stats.to_dict()
    del saved["senders"]["gw"]["ts"]  # written before per-sender timestamps existed
    rid = await _open_run(fake, keys)
    checkpoint = {"run_id": rid, "last_id": "5-0", "stats": json.dumps(saved)}
    await fake.hset(keys.monitor, mapping=checkpoint)  # type: ignore[arg-type]
    reader = ResultsReader(fake, keys, rid)
    await reader.load_checkpoint()
    restored = reader.stats
    assert restored.sent == 1
    assert restored.senders["gw"].last_ts == 0.0

"""Issues 14 and 25: the Prometheus endpoint, scraped for real and parsed with
prometheus_client's own parser; labels by profile and the senders' info; bucket bounds;
counters refreshed as results are read; a compressed run; the address option, a port in
use; the endpoint outliving the final report (``--metrics-hold``)."""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from common.errors import UsageProblem
from common.heartbeat import Heartbeat
from common.histogram import LogHistogram
from common.results import Result
from common.run import RunState
from common.settings import MonitorSettings
from launcher.cli import main as sim_app
from monitor.cli import main as monitor_app
from monitor.figures.health import STATUSES
from monitor.figures.report import Report, build
from monitor.figures.snapshot import Snapshot
from monitor.tally.stats import Stats
from monitor.views import metrics
from monitor.views.buckets import (
    GAMMA,
    MAX_BUCKETS,
    attempt_bounds,
    cumulative,
    edges,
    wait_bounds,
)
from monitor.views.metrics import MetricsExporter, profile_label
from monitor.views.outputs import Outputs
from tests.commands import Runner
from tests.metrics_sample import Sample as RunSample
from tests.metrics_sample import sample, scrape

DEAD_URL = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("REDIS_URL", "SMS_RUN", "SMS_CONFIG", "MONITOR_METRICS_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> RunSample:
    """One small run for the module's tests (on the embedded Redis: no REDIS_URL read)."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv("REDIS_URL", raising=False)
        env.delenv("SMS_RUN", raising=False)
        return asyncio.run(sample(tmp_path_factory.mktemp("sample"), run="blast"))


def samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    found = [
        s.value for s in samples(text) if s.name == name and labels.items() <= s.labels.items()
    ]
    assert len(found) == 1, (name, labels, found)
    return float(found[0])


def by_label(text: str, name: str, label: str = "profile") -> dict[str, float]:
    return {s.labels[label]: s.value for s in samples(text) if s.name == name}


def profiles_of(text: str) -> dict[str, str]:
    """Each sender's profile, as sms_sim_sender_info says."""
    return {
        s.labels["sender"]: s.labels["profile"]
        for s in samples(text)
        if s.name == "sms_sim_sender_info"
    }


def test_a_scrape_after_a_run_equals_its_summary(scraped: RunSample) -> None:
    text, summ = scraped.exposition, scraped.summary
    assert summ["state"] == "complete" and summ["sent"] == summ["total"] == 120
    profile_of = profiles_of(text)
    assert set(profile_of) == {s["name"] for s in summ["senders"]}
    assert set(profile_of.values()) == {"0.002s-40%-x1", "0.004s-10%-x2"}
    for metric, field in [
        ("sms_sim_messages_sent_total", "sent"),
        ("sms_sim_failed_attempts_total", "failed_attempts"),
        ("sms_sim_attempts_total", "attempts"),
    ]:
        found = by_label(text, metric)
        expected: dict[str, float] = {}
        for s in summ["senders"]:
            label = profile_of[s["name"]]
            expected[label] = expected.get(label, 0) + s[field]
        assert found == expected, metric
        assert sum(found.values()) == summ[field], metric
    assert sum(by_label(text, "sms_sim_duplicates_suppressed_total").values()) == 0
    assert value(text, "sms_sim_messages_abandoned_total", run="blast") == summ["abandoned"]
    assert value(text, "sms_sim_dead_letters_total", run="blast") == summ["dead_letters"]
    assert value(text, "sms_sim_run_messages", run="blast") == summ["total"]
    assert value(text, "sms_sim_messages_remaining", run="blast") == 0
    assert value(text, "sms_sim_run_complete", run="blast") == 1
    assert value(text, "sms_sim_time_scale", run="blast") == 1
    assert value(text, "sms_sim_elapsed_seconds") == pytest.approx(summ["elapsed"], abs=1e-3)
    predicted = value(text, "sms_sim_predicted_messages_per_second")
    assert predicted == pytest.approx(summ["predicted_rate"], abs=1e-3)
    statuses = [s for s in samples(text) if s.name == "sms_sim_senders"]
    assert sum(s.value for s in statuses if s.labels["status"] == "done") == len(profile_of)
    assert sum(s.value for s in statuses if s.labels["status"] == "live") == 0


def test_the_histograms_count_every_attempt_and_every_delivery(scraped: RunSample) -> None:
    text, summ = scraped.exposition, scraped.summary
    profile_of = profiles_of(text)
    for s in summ["senders"]:  # one sender per profile in the sample
        name = profile_of[s["name"]]
        count = value(text, "sms_sim_attempt_duration_seconds_count", profile=name)
        assert count == s["attempts"]
        total = value(text, "sms_sim_attempt_duration_seconds_sum", profile=name)
        assert total == pytest.approx(s["avg_attempt_time"] * s["attempts"], rel=1e-3)
        buckets = [
            (float(x.labels["le"]), x.value)
            for x in samples(text)
            if x.name == "sms_sim_attempt_duration_seconds_bucket" and x.labels["profile"] == name
        ]
        assert buckets == sorted(buckets)  # cumulative: bounds and counts never fall
        assert buckets[-1] == (math.inf, s["attempts"])
        # The bounds straddle the configured mean: some attempts below it, some above.
        below = max(n for le, n in buckets if le <= s["mean_time"])
        assert 0 < below < s["attempts"]
    assert value(text, "sms_sim_enqueue_to_delivered_seconds_count") == summ["sent"]
    p50 = summ["latency"]["p50"]
    waits = [
        (float(x.labels["le"]), x.value)
        for x in samples(text)
        if x.name == "sms_sim_enqueue_to_delivered_seconds_bucket"
    ]
    assert 0 < max(n for le, n in waits if le <= p50) <= summ["sent"] / 2 + 1


def test_every_sample_is_named_and_labelled_by_the_conventions(scraped: RunSample) -> None:
    families = list(text_string_to_metric_families(scraped.exposition))
    assert {s.name for f in families for s in f.samples} <= metrics.names()
    for family in families:
        assert family.name.startswith("sms_sim_")
        assert family.documentation, family.name
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples)
        else:
            assert not family.name.endswith("_total")
        for s in family.samples:
            assert s.labels["run"] == "blast"
            # Sender names (host-pid-index, new every run) only on the info series.
            assert "sender" not in s.labels or family.name == "sms_sim_sender_info"
    (by_status,) = [f for f in families if f.name == "sms_sim_senders"]
    for status in STATUSES:  # outage included
        assert status in by_status.documentation


def snapshot(
    stats: Stats, senders: dict[str, Heartbeat] | None = None, scale: float = 1.0
) -> Report:
    state = RunState(
        total=10, produced=10, done=True, delivered=stats.sent, abandoned=0, time_scale=scale
    )
    return build(Snapshot("r", state, stats, senders or {}, created=100.0, now=101.0))


def beat(name: str, mean: float = 0.05, fail: float = 0.5, **profile: Any) -> Heartbeat:
    whole = {"mean_time": mean, "failure_rate": fail, "concurrency": 1, **profile}
    return Heartbeat(name, mean, fail, 1, "live", 100.5, profile=whole)


def test_histograms_wait_for_their_bounds_then_keep_them() -> None:
    exporter = MetricsExporter()
    exporter.update(snapshot(Stats()))  # no sender known, nothing counted: no buckets yet
    assert not [s for s in samples(exporter.text()) if s.name.endswith("_bucket")]
    stats = Stats()
    stats.apply(Result(0, "gw", 1, True, 0.05, 100.5, 0.3))
    exporter.update(snapshot(stats))
    first = {s.labels["le"] for s in samples(exporter.text()) if s.name.endswith("_bucket")}
    assert "+Inf" in first
    stats.apply(Result(1, "gw", 1, True, 9.0, 100.7, 9.5))
    exporter.update(snapshot(stats))
    again = {s.labels["le"] for s in samples(exporter.text()) if s.name.endswith("_bucket")}
    assert again == first  # one series keeps one set of buckets


def test_bounds_are_edges_of_the_monitors_histograms_4_percent_apart() -> None:
    bounds = attempt_bounds([0.05, 0.2])
    assert bounds[0] <= 0.05 / 8 < bounds[1] and bounds[-2] < 0.2 * 8 <= bounds[-1]
    ratios = {round(b / a, 9) for a, b in itertools.pairwise(bounds)}
    assert ratios == {round(GAMMA**2, 9)} and GAMMA**2 < 1.0409
    index = math.log(bounds[0]) / math.log(GAMMA)  # GAMMA ** i: an edge of LogHistogram's
    assert index == pytest.approx(round(index), abs=1e-6) and round(index) % 2 == 0
    assert len(bounds) == 140
    assert attempt_bounds([0.0, None]) == attempt_bounds([])  # no positive mean: 1 ms scale
    # An attempt in an outage lasts the profile's timeout: the bounds reach twice it.
    assert attempt_bounds([0.05], timeouts=[30.0])[-1] >= 60.0
    waits = wait_bounds([0.05, 0.3])
    assert waits[0] <= 0.05 / 4 < waits[1] and waits[-2] < 4096.0 <= waits[-1]
    # Compressed x10: the real bounds reach 10 times lower (shown times 10), but not below
    # 1 ms of real time; every compression keeps the 4 % step.
    assert wait_bounds([0.05], scale=10)[0] <= 0.05 / 4 / 10 < wait_bounds([0.05])[0]
    for scale in (1, 10, 100, 1000):
        waits = wait_bounds([0.05], scale)
        assert 0.001 / GAMMA**2 < waits[0] <= 0.001 or scale < 100
        assert round(waits[1] / waits[0], 9) == round(GAMMA**2, 9), scale


def test_the_number_of_buckets_is_bounded() -> None:
    """Means 1 ms to 1000 s: the step doubles until the bounds fit."""
    bounds = attempt_bounds([0.001, 1000.0])
    assert len(bounds) <= MAX_BUCKETS
    assert bounds[0] <= 0.001 / 8 and bounds[-1] >= 8000
    assert edges(1.0, 2.0) == tuple(GAMMA**i for i in range(0, 37, 2))  # 1.0 ... 2.05


def test_cumulative_counts_are_exact_on_the_bounds() -> None:
    values = [0.0, 0.0011, 0.003, 0.003, 0.02, 0.07, 0.3, 5.0]
    hist = LogHistogram()
    hist.add_many(values)
    bounds: tuple[float, ...] = (0.001, 0.002, 0.01, 0.1, 1.0)
    assert cumulative(hist, bounds) == [sum(v <= b for v in values) for b in bounds]
    # On edges of the monitor's histogram every count is exact, right up to the bound.
    bounds = edges(0.01, 1.0)
    close = [b * f for b in bounds for f in (0.999, 1.001)]  # 0.1 % on either side
    hist = LogHistogram()
    hist.add_many(close)
    assert cumulative(hist, bounds) == [sum(v <= b for v in close) for b in bounds]


def test_profiles_are_bounded_and_the_info_names_each_sender() -> None:
    stats = Stats()
    for i, name in enumerate(["host-1-0", "host-1-1", "host-2-0"]):
        stats.apply(Result(i, name, 1, True, 0.05, 100.5, 0.3))
    senders = {
        "host-1-0": beat("host-1-0"),
        "host-1-1": beat("host-1-1", 0.1, 0.45),
        "host-2-0": beat("host-2-0"),  # the same gateway as host-1-0, another process
    }
    exporter = MetricsExporter()
    exporter.update(snapshot(stats, senders))
    text = exporter.text()
    assert by_label(text, "sms_sim_messages_sent_total") == {
        "0.05s-50%-x1": 2,
        "0.1s-45%-x1": 1,
    }
    info = [s for s in samples(text) if s.name == "sms_sim_sender_info"]
    assert {s.labels["sender"]: s.labels["profile"] for s in info} == {
        "host-1-0": "0.05s-50%-x1",
        "host-1-1": "0.1s-45%-x1",
        "host-2-0": "0.05s-50%-x1",
    }
    first = next(s for s in info if s.labels["sender"] == "host-1-1")
    assert (first.labels["mean_time"], first.labels["failure_rate"]) == ("0.1", "0.45")
    assert first.labels["slots"] == "1" and first.value == 1
    counted = by_label(text, "sms_sim_attempt_duration_seconds_count")
    assert counted == {"0.05s-50%-x1": 2, "0.1s-45%-x1": 1}


def test_a_profile_with_more_than_its_mean_rate_and_slots_gets_a_hash() -> None:
    plain = beat("a")
    outages = beat("b", outages=[{"at": 5.0, "for": 10.0}])
    default = beat("c", outages=[], timeout=30.0)  # the defaults, written out
    rows = {
        row.name: row for row in snapshot(Stats(), {"a": plain, "b": outages, "c": default}).senders
    }
    assert profile_label(rows["a"]) == profile_label(rows["c"]) == "0.05s-50%-x1"
    assert re.fullmatch(r"0\.05s-50%-x1-[0-9a-f]{6}", profile_label(rows["b"]))
    unknown = snapshot(Stats(), {"d": Heartbeat("d")}).senders[0]  # unreadable heartbeat
    assert profile_label(unknown) == "unknown"


def test_between_reports_each_read_refreshes_the_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue: the metrics changed only at each report, so rate() saw-toothed."""
    monkeypatch.setattr(metrics, "HISTOGRAMS_EVERY", 0.0)
    stats = Stats()
    stats.apply(Result(0, "gw-1", 1, True, 0.05, 100.5, 0.3))
    exporter = MetricsExporter()
    exporter.tally([stats])  # before any report: nothing to label the counts with yet
    assert exporter.text() == ""
    idle = {"gw-1": beat("gw-1"), "gw-idle": beat("gw-idle", 0.2)}  # no result yet
    exporter.update(snapshot(stats, idle))
    for seq in range(1, 5):
        stats.apply(Result(seq, "gw-1", 1, seq % 2 == 0, 0.05, 100.5 + seq, 0.3))
    stats.apply(Result(9, "gw-new", 1, True, 0.05, 100.9, 0.3))  # no report has shown it yet
    exporter.tally([stats])
    text = exporter.text()
    # gw-new waits for a report; gw-idle's profile keeps its series (at 0).
    assert by_label(text, "sms_sim_messages_sent_total") == {"0.05s-50%-x1": 3, "0.2s-50%-x1": 0}
    assert by_label(text, "sms_sim_failed_attempts_total") == {"0.05s-50%-x1": 2, "0.2s-50%-x1": 0}
    assert value(text, "sms_sim_enqueue_to_delivered_seconds_count") == 4  # as read, too
    exporter.update(snapshot(stats, {**idle, "gw-new": beat("gw-new", 0.1)}))
    text = exporter.text()
    sent = by_label(text, "sms_sim_messages_sent_total")
    assert sent == {"0.05s-50%-x1": 3, "0.1s-50%-x1": 1, "0.2s-50%-x1": 0}


def test_between_reports_the_histograms_refresh_at_most_every_quarter_second() -> None:
    stats = Stats()
    stats.apply(Result(0, "gw", 1, True, 0.05, 100.5, 0.3))
    exporter = MetricsExporter()
    exporter.update(snapshot(stats, {"gw": beat("gw")}))
    stats.apply(Result(1, "gw", 1, True, 0.05, 100.6, 0.3))
    exporter.tally([stats])  # right after a report: the counters, not the histograms
    text = exporter.text()
    assert by_label(text, "sms_sim_messages_sent_total") == {"0.05s-50%-x1": 2}
    assert value(text, "sms_sim_attempt_duration_seconds_count") == 1
    time.sleep(metrics.HISTOGRAMS_EVERY)
    exporter.tally([stats])
    assert value(exporter.text(), "sms_sim_attempt_duration_seconds_count") == 2


def test_a_partitioned_run_adds_its_parts_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "HISTOGRAMS_EVERY", 0.0)
    parts = [Stats(), Stats()]
    parts[0].apply(Result(0, "gw", 1, True, 0.05, 100.5, 0.3))
    parts[1].apply(Result(1, "gw", 1, True, 0.05, 100.6, 0.4))
    exporter = MetricsExporter()
    exporter.update(snapshot(Stats.merged(parts), {"gw": beat("gw")}))
    parts[1].apply(Result(2, "gw", 1, True, 0.05, 100.7, 0.5))
    exporter.tally(parts)
    text = exporter.text()
    assert by_label(text, "sms_sim_messages_sent_total") == {"0.05s-50%-x1": 3}
    assert value(text, "sms_sim_enqueue_to_delivered_seconds_count") == 3


def test_a_compressed_run_exports_simulated_seconds_and_its_scale() -> None:
    stats = Stats()
    stats.apply(Result(0, "gw", 1, True, 0.05, 100.5, 0.3))  # waited 0.3 real s
    exporter = MetricsExporter()
    exporter.update(snapshot(stats, {"gw": beat("gw")}, scale=5))
    text = exporter.text()
    assert value(text, "sms_sim_time_scale") == 5
    assert value(text, "sms_sim_enqueue_to_delivered_seconds_sum") == pytest.approx(1.5)
    waits = [
        (float(s.labels["le"]), s.value)
        for s in samples(text)
        if s.name == "sms_sim_enqueue_to_delivered_seconds_bucket"
    ]
    below = max(le for le, n in waits if n == 0)
    assert 1.5 / GAMMA**2 <= below < 1.5  # 1.5 simulated seconds, to within a bucket
    assert waits[0][0] <= 0.05 / 4  # a quarter of the mean, simulated


def test_completion_in_band_is_1_when_yes() -> None:
    from monitor.figures.catalogue import figure  # noqa: PLC0415

    band = figure("in_band")
    assert metrics._number(band, "yes") == 1 and metrics._number(band, "no") == 0


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_port_in_use_is_refused_with_one_line(busy_port: int) -> None:
    with pytest.raises(UsageProblem, match=f"port {busy_port} is in use"):
        MetricsExporter().serve(busy_port)


def test_the_commands_refuse_a_port_in_use_before_the_run(
    runner: Runner, busy_port: int, tmp_path: Path
) -> None:
    # Before Redis is even reached: the unreachable server would be exit 1.
    result = runner(monitor_app, ["--metrics-port", str(busy_port), "--redis-url", DEAD_URL])
    assert result.exit_code == 2, result.output
    assert f"metrics_port: port {busy_port} is in use" in result.error
    (tmp_path / "c.yaml").write_text("senders:\n  - {mean_time: 0, failure_rate: 0}\n")
    result = runner(sim_app, ["run", "c.yaml", "--plain", "--metrics-port", str(busy_port)])
    output = result.output
    assert result.exit_code == 2 and "is in use" in output and "sent" not in output, output
    result = runner(monitor_app, ["--metrics-port", "70000", "--redis-url", DEAD_URL])
    assert result.exit_code == 2 and "metrics_port" in result.output, result.output


def test_the_address_is_an_option(runner: Runner) -> None:
    exporter = MetricsExporter()
    port = exporter.serve(0, "127.0.0.1")
    try:
        assert exporter._server is not None
        assert exporter._server[0].server_address[0] == "127.0.0.1"
        assert scrape(port) == ""
    finally:
        exporter.close()
    args = ["--metrics-port", "0", "--metrics-addr", "192.0.2.1", "--redis-url", DEAD_URL]
    result = runner(monitor_app, args)  # TEST-NET-1: no address of this machine
    assert result.exit_code == 2, result.output
    assert "metrics_addr: cannot listen on 192.0.2.1" in result.error


def test_the_endpoint_serves_while_the_monitor_runs_and_stops_after() -> None:
    exporter = MetricsExporter()
    port = exporter.serve(0, "127.0.0.1")
    stats = Stats()
    stats.apply(Result(0, "gw-1", 1, True, 0.05, 100.5, 0.3))
    exporter.update(snapshot(stats, {"gw-1": beat("gw-1")}))
    assert value(scrape(port), "sms_sim_messages_sent_total", profile="0.05s-50%-x1") == 1
    exporter.close()
    with pytest.raises(OSError):
        scrape(port)


async def test_the_endpoint_outlives_the_final_report_by_the_hold() -> None:
    """Issue: /metrics closed right after the final report, so no scrape saw the end."""
    stats = Stats()
    stats.apply(Result(0, "gw", 1, True, 0.05, 100.5, 0.3))
    state = RunState(total=1, produced=1, done=True, delivered=1, abandoned=0)
    complete = build(Snapshot("r", state, stats, {"gw": beat("gw")}, 100.0, 101.0), final=True)
    assert complete.complete
    exporter = MetricsExporter()
    stop = asyncio.Event()
    held = Outputs(exporter, hold=0.3)
    began = time.monotonic()
    await held.linger(complete, stop)
    assert 0.3 <= time.monotonic() - began < 1.0
    # A signal ends it at once.
    held.hold = 30
    asyncio.get_running_loop().call_later(0.1, stop.set)
    began = time.monotonic()
    await held.linger(complete, stop)
    assert time.monotonic() - began < 1.0
    # No hold at all: a run stopped before completion, or never seen; no --metrics-port.
    began = time.monotonic()
    stopped = build(Snapshot("r", RunState(10, 5, False, 1, 0), stats), final=True)
    await held.linger(stopped, asyncio.Event())
    await held.linger(None, asyncio.Event())
    await Outputs(None, hold=30).linger(complete, asyncio.Event())
    assert time.monotonic() - began < 0.1


def test_the_hold_is_a_setting_of_its_own() -> None:
    assert MonitorSettings().metrics_hold == 30  # two scrapes at 15 s
    assert MonitorSettings().metrics_addr == "0.0.0.0"
    assert MonitorSettings(metrics_hold=0).metrics_hold == 0


def test_judged_thresholds_are_exported_once_the_run_ends() -> None:
    """A drill's goals reach Prometheus: 1 for each that passed, 0 for each that failed;
    none while the run goes on (not judged)."""
    from dataclasses import replace  # noqa: PLC0415

    from monitor.figures.thresholds import Verdict, parse  # noqa: PLC0415
    from tests.monitor.support import final_report  # noqa: PLC0415

    rep = final_report()
    good, bad = parse({"sent": ">= 1", "abandoned": "== 0"})
    exporter = MetricsExporter()
    exporter.finish(replace(rep, thresholds=(Verdict(good, 9, True), Verdict(bad, 1, False))))
    found = {
        s.labels["threshold"]: s.value
        for s in samples(exporter.text())
        if s.name == "sms_sim_threshold_passed"
    }
    assert found == {"sent >= 1": 1.0, "abandoned == 0": 0.0}
    exporter.finish(replace(rep, thresholds=(Verdict(good, 9, None),)))
    assert "sms_sim_threshold_passed{" not in exporter.text()

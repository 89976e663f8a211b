"""Issue 14 item 1: the Prometheus endpoint, scraped for real and parsed with
prometheus_client's own parser; its bucket bounds; a port in use."""

from __future__ import annotations

import asyncio
import itertools
import math
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from common.errors import UsageProblem
from common.histogram import LogHistogram
from common.results import Result
from common.run import RunState
from launcher.cli import main as sim_app
from monitor.cli import main as monitor_app
from monitor.figures.report import Report, build
from monitor.figures.snapshot import Snapshot
from monitor.tally.stats import Stats
from monitor.views import metrics
from monitor.views.buckets import attempt_bounds, cumulative, wait_bounds
from monitor.views.metrics import MetricsExporter
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


def per_sender(text: str, name: str) -> dict[str, float]:
    return {s.labels["sender"]: s.value for s in samples(text) if s.name == name}


def test_a_scrape_after_a_run_equals_its_summary(scraped: RunSample) -> None:
    text, summ = scraped.exposition, scraped.summary
    assert summ["state"] == "complete" and summ["sent"] == summ["total"] == 120
    by_name = {s["name"]: s for s in summ["senders"]}
    for metric, field in [
        ("sms_sim_messages_sent_total", "sent"),
        ("sms_sim_failed_attempts_total", "failed_attempts"),
        ("sms_sim_attempts_total", "attempts"),
    ]:
        found = per_sender(text, metric)
        assert found == {name: s[field] for name, s in by_name.items()}, metric
        assert sum(found.values()) == summ[field], metric
    assert sum(per_sender(text, "sms_sim_duplicates_suppressed_total").values()) == 0
    assert value(text, "sms_sim_messages_abandoned_total", run="blast") == summ["abandoned"]
    assert value(text, "sms_sim_dead_letters_total", run="blast") == summ["dead_letters"]
    assert value(text, "sms_sim_run_messages", run="blast") == summ["total"]
    assert value(text, "sms_sim_messages_remaining", run="blast") == 0
    assert value(text, "sms_sim_run_complete", run="blast") == 1
    assert value(text, "sms_sim_elapsed_seconds") == pytest.approx(summ["elapsed"], abs=1e-3)
    predicted = value(text, "sms_sim_predicted_messages_per_second")
    assert predicted == pytest.approx(summ["predicted_rate"], abs=1e-3)
    assert value(text, "sms_sim_senders", status="done") == len(by_name)
    assert value(text, "sms_sim_senders", status="live") == 0


def test_the_histograms_count_every_attempt_and_every_delivery(scraped: RunSample) -> None:
    text, summ = scraped.exposition, scraped.summary
    for s in summ["senders"]:
        name = s["name"]
        count = value(text, "sms_sim_attempt_duration_seconds_count", sender=name)
        assert count == s["attempts"]
        total = value(text, "sms_sim_attempt_duration_seconds_sum", sender=name)
        assert total == pytest.approx(s["avg_attempt_time"] * s["attempts"], rel=1e-3)
        buckets = [
            (float(x.labels["le"]), x.value)
            for x in samples(text)
            if x.name == "sms_sim_attempt_duration_seconds_bucket" and x.labels["sender"] == name
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


def snapshot(stats: Stats, senders: dict[str, Any] | None = None) -> Report:
    state = RunState(total=10, produced=10, done=True, delivered=stats.sent, abandoned=0)
    return build(Snapshot("r", state, stats, senders or {}, created=100.0, now=101.0))


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


def test_bounds_are_powers_of_two_around_the_configured_means() -> None:
    assert attempt_bounds([0.05, 0.3]) == tuple(2.0**k for k in range(-8, 3))
    assert attempt_bounds([0.0, None]) == attempt_bounds([])  # no positive mean: 1 ms scale
    waits = wait_bounds([0.05, 0.3])
    assert waits[0] == 2.0**-7 and waits[-1] == 4096.0
    assert all(b == 2 * a for a, b in itertools.pairwise(waits))


def test_cumulative_counts_match_the_values_away_from_the_bounds() -> None:
    values = [0.0, 0.0011, 0.003, 0.003, 0.02, 0.07, 0.3, 5.0]
    hist = LogHistogram()
    hist.add_many(values)
    bounds = (0.001, 0.002, 0.01, 0.1, 1.0)
    assert cumulative(hist, bounds) == [sum(v <= b for v in values) for b in bounds]


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


def test_the_endpoint_serves_while_the_monitor_runs_and_stops_after() -> None:
    exporter = MetricsExporter()
    port = exporter.serve(0, "127.0.0.1")
    stats = Stats()
    stats.apply(Result(0, "gw-1", 1, True, 0.05, 100.5, 0.3))
    exporter.update(snapshot(stats))
    assert value(scrape(port), "sms_sim_messages_sent_total", sender="gw-1") == 1
    exporter.close()
    with pytest.raises(OSError):
        scrape(port)

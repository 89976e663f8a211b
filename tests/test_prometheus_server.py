"""Issue 25: the monitor's metrics and the dashboard's queries, measured against a real
Prometheus (Debian's ``prometheus`` binary; CI installs it and sets
``SMS_REQUIRE_PROMETHEUS=1``, so there this fails instead of skipping).

One compressed run (time scale 5, a scheduled outage) is exported by two monitors at once
(two exporters fed the same reports, as two monitors of one run would be), scraped every
250 ms by a short-lived Prometheus: job ``one`` scrapes the first monitor, job ``both``
both of them. Every query of ``observe/grafana-dashboard.json`` (read from the file, so a
new panel is covered) is evaluated over the run, for each job: each returns data, and
the same with two monitors as with one (nothing doubled). Then what Prometheus holds is
compared with the monitor's own summary: the final counts and ``run_complete 1`` (the
end was scraped), the rate per simulated second against the prediction, and the
quantiles from the histograms' buckets against the monitor's percentiles.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from common.histogram import LogHistogram
from launcher.simulate import plan, simulate
from monitor.figures.report import Report
from monitor.views.json_summary import summary
from monitor.views.metrics import MetricsExporter
from monitor.views.outputs import Tee
from monitor.views.plain import PlainView
from tests.test_observe import DASHBOARD, grafana_free

PROMETHEUS = shutil.which("prometheus")
REQUIRE = os.environ.get("SMS_REQUIRE_PROMETHEUS") == "1"
RUN = "prom-x5"
SCALE = 5
SCRAPE = 0.25  # seconds between scrapes
RATE_INTERVAL = "1s"  # what Grafana's $__rate_interval is at that scrape interval
CONFIG = f"""\
num_messages: 400
report_period: 0.25
time_scale: {SCALE}
senders:
  - {{mean_time: 0.1, failure_rate: 0.3, concurrency: 2}}
  - {{mean_time: 0.2, failure_rate: 0.1, concurrency: 3}}
  - {{mean_time: 0.05, failure_rate: 0.5, timeout: 2, outages: [{{at: 1, for: 6}}]}}
"""
QUANTILE_ERROR = 0.05  # the bound; the buckets promise 4.1 %


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Prometheus:
    """A short-lived Prometheus on a free port, its storage in ``folder``."""

    def __init__(self, binary: str, folder: Path, targets: dict[str, list[int]]) -> None:
        jobs = [
            {
                "job_name": job,
                "static_configs": [{"targets": [f"127.0.0.1:{p}" for p in ports]}],
            }
            for job, ports in targets.items()
        ]
        config = {
            "global": {"scrape_interval": f"{int(SCRAPE * 1000)}ms", "scrape_timeout": "200ms"},
            "scrape_configs": jobs,
        }
        (folder / "prometheus.yml").write_text(json.dumps(config), encoding="utf-8")
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(folder / "prometheus.log").open("wb"),
        )
        self._wait_ready(folder)

    def _wait_ready(self, folder: Path, within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (folder / "prometheus.log").read_text(errors="replace")
                raise AssertionError(f"prometheus exited: {log}")
            try:
                with urllib.request.urlopen(self._url("/-/ready"), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("prometheus never became ready")

    def _url(self, path: str, **params: Any) -> str:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return f"http://127.0.0.1:{self.port}{path}{query}"

    def _api(self, path: str, **params: Any) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self._url(path, **params), timeout=10) as reply:
            body = json.load(reply)
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def query(self, expr: str, at: float) -> dict[str, float]:
        """Each series' value at ``at``, by its labels (as one sorted string)."""
        return {
            _key(s["metric"]): float(s["value"][1])
            for s in self._api("/api/v1/query", query=expr, time=at)
        }

    def query_range(self, expr: str, start: float, end: float) -> dict[str, list[float]]:
        """Each series' values from ``start`` to ``end``, every scrape interval."""
        found = self._api("/api/v1/query_range", query=expr, start=start, end=end, step=SCRAPE)
        return {_key(s["metric"]): [float(v) for _, v in s["values"]] for s in found}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _key(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


@dataclass(frozen=True)
class Measured:
    prometheus: Prometheus
    report: Report  # the monitor's final report
    summary: dict[str, Any]  # its JSON summary
    start: float  # epoch seconds: the run's first report
    end: float  # epoch seconds: both jobs have scraped the run complete


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Measured]:
    if PROMETHEUS is None:
        if REQUIRE:
            pytest.fail("SMS_REQUIRE_PROMETHEUS=1 but no prometheus binary is installed")
        pytest.skip("prometheus not installed (Debian: prometheus)")
    folder = tmp_path_factory.mktemp("prometheus")
    monitors = [MetricsExporter(), MetricsExporter()]
    ports = [m.serve(0, "127.0.0.1") for m in monitors]
    prometheus = Prometheus(PROMETHEUS, folder, {"one": ports[:1], "both": ports})
    try:
        _until(prometheus, "count(up == 1) == 3", "Prometheus never scraped the monitors")
        with pytest.MonkeyPatch.context() as env:
            for name in ("REDIS_URL", "SMS_RUN", "SMS_CONFIG", "SMS_WORKERS"):
                env.delenv(name, raising=False)
            start = time.time()
            rep = asyncio.run(_run(folder, monitors))
        # The monitors keep serving (as --metrics-hold does) until the end is scraped.
        end = _until_complete(prometheus)
        yield Measured(prometheus, rep, summary(rep), start, end)
    finally:
        prometheus.stop()
        for monitor in monitors:
            monitor.close()


async def _run(folder: Path, monitors: list[MetricsExporter]) -> Report:
    config = folder / "x5.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    flags = {"config": config, "run": RUN, "seed": 3, "redis_url": None, "workers": 1}
    view = Tee(PlainView(io.StringIO()), list(monitors))
    rep = await simulate(plan(flags), view, asyncio.Event())
    assert rep is not None and rep.complete
    return rep


def _until(prometheus: Prometheus, expr: str, failure: str, within: float = 15.0) -> float:
    """When ``expr`` first returns something (Prometheus 2.42 starts scraping its targets
    about 5 s after it starts: its target discovery sends updates every 5 s)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        now = time.time()
        if prometheus.query(expr, now):
            return now
        time.sleep(SCRAPE / 2)
    raise AssertionError(failure)


def _until_complete(prometheus: Prometheus) -> float:
    """When every scrape target of both jobs has said the run is complete."""
    expr = f'count(sms_sim_run_complete{{run="{RUN}"}} == 1) == 3'
    return _until(prometheus, expr, "Prometheus never scraped the run complete")


def queries() -> list[tuple[str, str]]:
    """Every query of the dashboard (panels and annotations), as (where, PromQL)."""
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found = [
        (f"{panel['title']} {t['refId']}", t["expr"])
        for panel in board["panels"]
        for t in panel["targets"]
    ]
    return found + [(f"annotation {a['name']}", a["expr"]) for a in board["annotations"]["list"]]


def for_job(expr: str, job: str, rate_interval: str = RATE_INTERVAL) -> str:
    """``expr`` as Grafana sends it for this run, reading only ``job``'s scrapes."""
    return grafana_free(
        expr.replace('run=~"$run"', f'run=~"$run", job="{job}"'), rate_interval, RUN
    )


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


@pytest.mark.parametrize(("where", "expr"), queries(), ids=[w for w, _ in queries()])
def test_every_query_returns_the_same_with_two_monitors_as_with_one(
    measured: Measured, where: str, expr: str
) -> None:
    p, start, end = measured.prometheus, measured.start, measured.end
    over_the_run = p.query_range(for_job(expr, "one"), start, end)
    assert over_the_run, f"{where}: no data over the run: {for_job(expr, 'one')}"
    assert any(math.isfinite(v) for values in over_the_run.values() for v in values), where
    # At the end, rates over the whole run (each job scrapes at moments of its own, so
    # over a short window they differ): the same with two monitors, never twice as much.
    whole = f"{math.ceil(end - start) + 2}s"
    one = p.query(for_job(expr, "one", whole), end)
    both = p.query(for_job(expr, "both", whole), end)
    assert one.keys() == both.keys(), where  # the same series: runs, profiles, statuses
    for key, mine in one.items():
        theirs = both[key]
        if "rate(" not in expr:  # a value held since the run's end was scraped
            assert theirs == mine or (math.isnan(theirs) and math.isnan(mine)), (where, key)
        else:
            # rate() extrapolates from each job's first and last scrapes in the window:
            # up to 10 % apart here (and the max of two monitors takes the higher).
            assert theirs == pytest.approx(mine, rel=0.2, nan_ok=True), (where, key)


def test_prometheus_saw_the_end_and_the_final_counts(measured: Measured) -> None:
    p, summ, end = measured.prometheus, measured.summary, measured.end
    assert summ["sent"] == summ["total"] == 400
    run = f'run="{RUN}"'

    def final(expr: str) -> float:
        (value,) = p.query(expr, end).values()
        return value

    assert final(f"max by (run) (sms_sim_run_complete{{{run}}})") == 1
    for metric, field in [
        ("messages_sent_total", "sent"),
        ("failed_attempts_total", "failed_attempts"),
        ("attempts_total", "attempts"),
    ]:  # two monitors count once
        expr = f"sum by (run) (max by (run, profile) (sms_sim_{metric}{{{run}}}))"
        assert final(expr) == summ[field], metric
    assert final(f"max by (run) (sms_sim_messages_remaining{{{run}}})") == 0
    assert final(f"max by (run) (sms_sim_time_scale{{{run}}})") == SCALE
    profiles = p.query(f"count by (profile) (sms_sim_sender_info{{{run}, job='one'}})", end)
    assert len(profiles) == 3  # one label per configured gateway, not per process


def test_the_rate_is_per_simulated_second_like_the_prediction(measured: Measured) -> None:
    """Issue: at x5 the dashboard's rate read 149/s against a predicted 45/s (a counter's
    rate() is per real second)."""
    p, rep = measured.prometheus, measured.report
    assert rep.finished_at is not None
    (observed_panel,) = [
        e
        for w, e in queries()
        if w.startswith("Delivery rate against") and "sms_sim_messages_sent_total" in e
    ]
    # Each rate window within the run: from its start plus one window to its last result.
    seen = p.query_range(for_job(observed_panel, "both"), rep.created + 1, rep.finished_at)
    (values,) = seen.values()
    observed = _mean(values)
    assert observed == pytest.approx(rep.overall_rate, rel=0.2), (observed, rep.overall_rate)
    assert observed == pytest.approx(rep.predicted_rate, rel=0.35), (observed, rep.predicted_rate)


def bracket(hist: LogHistogram, q: float, factor: float = 1.0) -> tuple[float, float]:
    """The two observations around rank q x n, where histogram_quantile looks (the
    monitor's own percentile takes rank q x (n - 1): in a sparse tail, another one),
    each as the monitor's histogram holds it (within 1 %), times ``factor``."""
    ordered = [0.0] * hist.zeros + sorted(
        hist._value(i) for i, n in hist.buckets.items() for _ in range(n)
    )
    rank = q * len(ordered)
    low = ordered[max(math.ceil(rank) - 1, 0)]
    high = ordered[min(math.ceil(rank), len(ordered) - 1)]
    return low * factor, high * factor


@pytest.mark.parametrize("distribution", ["attempt", "queue wait"])
def test_quantiles_from_the_buckets_match_the_monitor(
    measured: Measured, distribution: str
) -> None:
    """Over the whole run (the buckets' counts, not a rate window), histogram_quantile's
    p50, p95 and p99 are within 5 % of the run's observations at their rank (powers of two
    were up to 70 % off)."""
    rep = measured.report
    if distribution == "attempt":
        metric, by, hist, factor = (
            "attempt_duration_seconds_bucket",
            "run, profile, le",
            (LogHistogram()),
            1.0,
        )
        for row in rep.senders:
            hist.merge(row.attempt_times)
    else:
        metric, by = "enqueue_to_delivered_seconds_bucket", "run, le"
        hist, factor = rep.queue_wait_times, rep.scale  # real seconds, shown simulated
    buckets = f'sum by (run, le) (max by ({by}) (sms_sim_{metric}{{run="{RUN}"}}))'
    for q in (0.5, 0.95, 0.99):
        found = measured.prometheus.query(f"histogram_quantile({q}, {buckets})", measured.end)
        (value,) = found.values()
        low, high = bracket(hist, q, factor)
        assert low * (1 - QUANTILE_ERROR) <= value <= high * (1 + QUANTILE_ERROR), (q, value)

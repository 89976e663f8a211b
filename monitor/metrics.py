"""The Prometheus endpoint (``--metrics-port``): every report's figures as metrics.

Each report (``update``/``finish``, like a view) turns the snapshot's ``Report`` and the
per-sender stats into metric families, once; a scrape returns the latest of them (the
scrape runs in prometheus_client's HTTP thread and reads nothing the monitor changes).
The tables below are the one mapping from the report to the metrics: a new figure is one
line in one of them. Names follow Prometheus conventions (``sms_sim_`` prefix, counters
``_total``, seconds); every metric carries the ``run`` label.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from common.errors import UsageProblem
from common.histogram import LogHistogram
from monitor.buckets import attempt_bounds, cumulative, wait_bounds
from monitor.health import STATUSES
from monitor.report import LABELS, Report
from monitor.snapshot import Snapshot
from monitor.stats import SenderStats

logger = logging.getLogger(__name__)

PREFIX = "sms_sim_"
COUNTER, GAUGE = "counter", "gauge"
RUN, SENDER, STATUS = "run", "sender", "status"


@dataclass(frozen=True)
class RunMetric:
    """One figure of the run: ``value`` of the report (None: no sample this time)."""

    name: str  # after the prefix; a counter's without ``_total``
    kind: str  # COUNTER or GAUGE
    help: str
    value: Callable[[Report], float | None]


@dataclass(frozen=True)
class SenderMetric:
    """One counter per sender, from the monitor's per-sender stats."""

    name: str
    help: str
    value: Callable[[SenderStats], float]


def _help(figure: str, more: str = "") -> str:
    return LABELS[figure].text + (f": {more}" if more else "")


def _bool(value: bool) -> float:
    return 1.0 if value else 0.0


RUN_METRICS: tuple[RunMetric, ...] = (
    RunMetric(
        "messages_abandoned",
        COUNTER,
        _help("abandoned", "messages given up after max_attempts"),
        lambda r: r.abandoned,
    ),
    RunMetric(
        "dead_letters",
        COUNTER,
        _help("dead_letters", "outbox entries that could not be processed"),
        lambda r: r.dead_letters,
    ),
    RunMetric("run_messages", GAUGE, "Messages the run holds (total)", lambda r: r.total),
    RunMetric(
        "messages_remaining",
        GAUGE,
        "Messages neither delivered nor abandoned",
        lambda r: r.remaining,
    ),
    RunMetric(
        "predicted_messages_per_second",
        GAUGE,
        _help("predicted_rate", "each sender's predicted rate over the share of the run it was up"),
        lambda r: r.predicted_rate,
    ),
    RunMetric(
        "predicted_now_messages_per_second",
        GAUGE,
        _help("predicted_now", "absent once the run is complete"),
        lambda r: r.predicted_now,
    ),
    RunMetric(
        "elapsed_seconds",
        GAUGE,
        _help("elapsed", "since the run was created, to its last result once complete"),
        lambda r: r.elapsed,
    ),
    RunMetric(
        "run_complete", GAUGE, "1 once the run is complete, else 0", lambda r: _bool(r.complete)
    ),
)

SENDER_METRICS: tuple[SenderMetric, ...] = (
    SenderMetric("messages_sent", _help("sent", "each message counted once"), lambda s: s.sent),
    SenderMetric(
        "failed_attempts", _help("failed", "each failed retry counts"), lambda s: s.failed
    ),
    SenderMetric(
        "attempts",
        _help("attempts", "sent + failed attempts + duplicates suppressed"),
        lambda s: s.attempts,
    ),
    SenderMetric(
        "duplicates_suppressed",
        _help("duplicates", "second successes of a delivered message, not counted as sent"),
        lambda s: s.duplicates,
    ),
)

SENDERS_BY_STATUS = "senders"
ATTEMPT_TIME = "attempt_duration_seconds"
WAIT_TIME = "enqueue_to_delivered_seconds"


def names() -> set[str]:
    """Every metric name the endpoint exports, as a scrape shows it (``_total`` and all)."""
    found = {PREFIX + m.name + ("_total" if m.kind == COUNTER else "") for m in RUN_METRICS}
    found |= {PREFIX + m.name + "_total" for m in SENDER_METRICS}
    found.add(PREFIX + SENDERS_BY_STATUS)
    for hist in (ATTEMPT_TIME, WAIT_TIME):
        found |= {PREFIX + hist + suffix for suffix in ("_bucket", "_count", "_sum")}
    return found


@dataclass(frozen=True)
class Bounds:
    """The histograms' bucket bounds: fixed at the first report that knows a configured
    mean time (Prometheus needs the same buckets for the life of a series)."""

    attempt: tuple[float, ...]
    wait: tuple[float, ...]

    @classmethod
    def around(cls, means: Iterable[float | None]) -> Bounds:
        known = list(means)
        return cls(attempt_bounds(known), wait_bounds(known))


def families(snap: Snapshot, bounds: Bounds | None) -> list[Metric]:
    """Every metric of one report; the histograms without samples while ``bounds`` is
    None (no bucket bounds chosen yet)."""
    rep = snap.report
    found: list[Metric] = [_run_metric(m, rep) for m in RUN_METRICS]
    senders = sorted(snap.stats.senders.items())
    for metric in SENDER_METRICS:
        family = CounterMetricFamily(PREFIX + metric.name, metric.help, labels=[RUN, SENDER])
        for name, stats in senders:
            family.add_metric([rep.run, name], metric.value(stats))
        found.append(family)
    by_status = GaugeMetricFamily(
        PREFIX + SENDERS_BY_STATUS,
        "Senders by status (live, idle, gone, done)",
        labels=[RUN, STATUS],
    )
    for status in STATUSES:
        by_status.add_metric([rep.run, status], rep.statuses.get(status, 0))
    found.append(by_status)
    attempts = HistogramMetricFamily(
        PREFIX + ATTEMPT_TIME, _help("attempt_time", "failed or not"), labels=[RUN, SENDER]
    )
    wait = HistogramMetricFamily(PREFIX + WAIT_TIME, _help("queue_wait"), labels=[RUN])
    if bounds is not None:
        for name, stats in senders:
            attempts.add_metric([rep.run, name], *_buckets(stats.durations, bounds.attempt))
        wait.add_metric([rep.run], *_buckets(snap.stats.latency, bounds.wait))
    return [*found, attempts, wait]


def _run_metric(metric: RunMetric, rep: Report) -> Metric:
    value = metric.value(rep)
    family: CounterMetricFamily | GaugeMetricFamily
    if metric.kind == COUNTER:
        family = CounterMetricFamily(PREFIX + metric.name, metric.help, labels=[RUN])
    else:
        family = GaugeMetricFamily(PREFIX + metric.name, metric.help, labels=[RUN])
    if value is not None:
        family.add_metric([rep.run], value)
    return family


def _buckets(
    hist: LogHistogram, bounds: tuple[float, ...]
) -> tuple[list[tuple[str, float]], float]:
    counts = cumulative(hist, bounds)
    buckets = [(_le(b), float(n)) for b, n in zip(bounds, counts, strict=True)]
    return [*buckets, ("+Inf", float(hist.count))], hist.total


def _le(bound: float) -> str:
    """A bound as prometheus_client writes one (``0.25``, ``4.0``)."""
    return str(floatToGoString(bound))  # type: ignore[no-untyped-call]


class MetricsExporter:
    """A view that keeps the latest report's metrics for the endpoint to serve."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(self)
        self._latest: list[Metric] = []
        self._bounds: Bounds | None = None
        self._server: tuple[WSGIServer, Thread] | None = None

    def collect(self) -> Iterable[Metric]:
        return list(self._latest)

    def update(self, snap: Snapshot) -> None:
        self._latest = families(snap, self._bounds_for(snap))

    def finish(self, snap: Snapshot) -> None:
        self.update(snap)

    def _bounds_for(self, snap: Snapshot) -> Bounds | None:
        """Fixed at the first report that knows a sender's configured mean, or has
        counted an attempt (then from the means known, if any); None before."""
        if self._bounds is None:
            means = [row.mean_time for row in snap.report.senders if row.mean_time is not None]
            if means or snap.report.attempts:
                self._bounds = Bounds.around(means)
        return self._bounds

    def text(self) -> str:
        """The exposition a scrape gets."""
        return generate_latest(self.registry).decode()

    def serve(self, port: int, addr: str = "0.0.0.0") -> int:
        """Serve ``/metrics`` on ``port`` (0: any free one); return the port. A port in use
        (or not ours to take) is a UsageProblem: exit 2 before the run starts."""
        try:
            self._server = start_http_server(port, addr, registry=self.registry)
        except OSError as exc:
            reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used: {exc}"
            raise UsageProblem(f"metrics_port: port {port} {reason}") from None
        bound = int(self._server[0].server_port)
        logger.info("Prometheus metrics on http://%s:%d/metrics", addr, bound)
        return bound

    def close(self) -> None:
        if self._server is None:
            return
        server, thread = self._server
        server.shutdown()
        server.server_close()
        thread.join()
        self._server = None

"""The Prometheus endpoint (``--metrics-port``): every report's figures as metrics.

Each report (``update``/``finish``, like a view) turns the ``Report`` into metric
families, once; a scrape returns the latest of them (the scrape runs in
prometheus_client's HTTP thread and reads nothing the monitor changes). Every figure of
the catalogue (``monitor/figures/catalogue.py``) is one family, named there: counters and
gauges of the run, per-sender counters, percentiles as gauges with a ``percentile`` label (``50``,
``95``, ``99``: promtool keeps ``quantile`` for summaries),
and the two distributions as histograms. Names follow Prometheus conventions
(``sms_sim_`` prefix, counters ``_total``, seconds); every metric carries the ``run``
label.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from threading import Thread
from typing import Any
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
from monitor.figures.catalogue import COUNTER, FIGURES, HISTOGRAM, Figure, Kind
from monitor.figures.health import STATUSES
from monitor.figures.report import COMPLETE, Report
from monitor.tally.quantiles import QUANTILES, Percentiles
from monitor.views.buckets import attempt_bounds, cumulative, wait_bounds

logger = logging.getLogger(__name__)

PREFIX = "sms_sim_"
RUN, SENDER, STATUS, PERCENTILE = "run", "sender", "status", "percentile"
SENDERS_BY_STATUS = "senders"
Sample = tuple[list[str], Any]  # label values, the figure's value


def names() -> set[str]:
    """Every metric name the endpoint exports, as a scrape shows it (``_total`` and all)."""
    found = {PREFIX + SENDERS_BY_STATUS}
    for figure in FIGURES:
        name = PREFIX + figure.metric.name
        if figure.metric.type == HISTOGRAM:
            found |= {name + suffix for suffix in ("_bucket", "_count", "_sum")}
        else:
            found.add(name + ("_total" if figure.metric.type == COUNTER else ""))
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

    def of(self, figure: Figure) -> tuple[float, ...]:
        """An attempt's time is one sender's; any other distribution is the run's wait."""
        return self.attempt if figure.metric.per_sender else self.wait


def families(rep: Report, bounds: Bounds | None) -> list[Metric]:
    """Every metric of one report; the histograms without samples while ``bounds`` is
    None (no bucket bounds chosen yet)."""
    found = [_family(figure, rep, bounds) for figure in FIGURES]
    by_status = GaugeMetricFamily(
        PREFIX + SENDERS_BY_STATUS,
        "Senders by status (" + ", ".join(STATUSES) + ")",
        labels=[RUN, STATUS],
    )
    for status in STATUSES:
        by_status.add_metric([rep.run, status], rep.statuses.get(status, 0))
    return [*found, by_status]


def _samples(figure: Figure, rep: Report) -> list[Sample]:
    source = figure.metric.source or figure.key
    if figure.metric.per_sender:
        return [([rep.run, row.name], getattr(row, source)) for row in rep.senders]
    return [([rep.run], getattr(rep, source))]


def _help(figure: Figure) -> str:
    more = figure.metric.help
    return figure.label.text + (f": {more}" if more else "")


def _family(figure: Figure, rep: Report, bounds: Bounds | None) -> Metric:
    name, labels = PREFIX + figure.metric.name, [RUN, SENDER] if figure.metric.per_sender else [RUN]
    samples = _samples(figure, rep)
    if figure.metric.type == HISTOGRAM:
        hist = HistogramMetricFamily(name, _help(figure), labels=labels)
        for values, seen in samples if bounds is not None else []:
            hist.add_metric(values, *_buckets(seen, bounds.of(figure)))  # type: ignore[union-attr]
        return hist
    if figure.kind is Kind.PERCENTILES:
        return _quantiles(name, figure, labels, samples)
    kind: Callable[..., CounterMetricFamily | GaugeMetricFamily]
    kind = CounterMetricFamily if figure.metric.type == COUNTER else GaugeMetricFamily
    family = kind(name, _help(figure), labels=labels)
    for values, value in samples:
        if value is not None:
            family.add_metric(values, _number(figure, value))
    return family


def _number(figure: Figure, value: Any) -> float:
    if figure.kind is Kind.STATE:
        return 1.0 if value == COMPLETE else 0.0
    return float(value)


def _quantiles(name: str, figure: Figure, labels: list[str], samples: list[Sample]) -> Metric:
    family = GaugeMetricFamily(name, _help(figure), labels=[*labels, PERCENTILE])
    for values, found in samples:
        if isinstance(found, Percentiles):
            for q, value in zip(QUANTILES, found.values(), strict=True):
                family.add_metric([*values, str(q)], value)
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

    def update(self, rep: Report) -> None:
        self._latest = families(rep, self._bounds_for(rep))

    def finish(self, rep: Report) -> None:
        self.update(rep)

    def _bounds_for(self, rep: Report) -> Bounds | None:
        """Fixed at the first report that knows a sender's configured mean, or has
        counted an attempt (then from the means known, if any); None before."""
        if self._bounds is None:
            means = [row.mean_time for row in rep.senders if row.mean_time is not None]
            if means or rep.attempts:
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

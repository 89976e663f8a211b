"""The Prometheus endpoint (``--metrics-port``): the monitor's figures as metrics.

Every figure of the catalogue (``monitor/figures/catalogue.py``) is one family, named
there: counters and gauges of the run, per-profile counters, percentiles as gauges with
a ``percentile`` label (``50``, ``95``, ``99``: promtool keeps ``quantile`` for
summaries), and the two distributions as histograms. Beside them: the senders by profile
and status, one info series per sender, and the run's time scale. Names follow
Prometheus conventions (``sms_sim_`` prefix, counters ``_total``, seconds); every metric
carries the ``run`` label.

When the values change:

- each report (``update``/``finish``, like a view) refreshes every family;
- between reports, each batch of results the monitor reads (``tally``) refreshes the
  per-profile counters from its running totals, and the histograms at most every
  ``HISTOGRAMS_EVERY`` seconds: a scrape sees the counts as read, not as of the last
  report, so ``rate()`` does not saw-tooth with the report period.

A scrape runs in prometheus_client's HTTP thread and only reads the latest families (one
dict, replaced whole); they are computed on the event loop's thread.

**Profiles, not sender names.** A sender's name is host-pid-index, new in every run: the
per-sender figures are summed by profile (``profile``: its configured mean time, failure
rate in %, slots, e.g. ``0.05s-50%-x1``, and a short hash of whatever else its profile
sets), so a series lives as long as the fleet's configuration and two runs of one config
share them. ``sms_sim_sender_info`` maps each sender to its profile and configured
figures.

**Simulated time.** Times and rates are simulated (as every view shows them), the
histograms too (the queue wait's bounds and sum are the real ones times the scale). A
counter's ``rate()`` is per real second: divided by ``sms_sim_time_scale`` (simulated
seconds per real second) it is per simulated second (the dashboard's rate panels do so).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import math
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
from common.model import DEFAULT_SHAPE, SenderProfile
from monitor.figures.catalogue import COUNTER, FIGURES, HISTOGRAM, Figure, Kind
from monitor.figures.fleet import SenderRow
from monitor.figures.health import STATUSES
from monitor.figures.report import COMPLETE, Report
from monitor.tally.quantiles import QUANTILES, SHORT, Percentiles
from monitor.tally.stats import Stats
from monitor.views.buckets import attempt_bounds, cumulative, wait_bounds

logger = logging.getLogger(__name__)

PREFIX = "sms_sim_"
RUN, PROFILE, SENDER, STATUS, PERCENTILE = "run", "profile", "sender", "status", "percentile"
SENDERS_BY_STATUS = "senders"
SENDER_INFO = "sender_info"
TIME_SCALE = "time_scale"
THRESHOLD = "threshold_passed"  # a drill's goal, once judged: 1 passed, 0 failed
UNKNOWN_PROFILE = "unknown"  # a sender with no readable heartbeat
BY_PROFILE = "; by sender profile"
HISTOGRAMS_EVERY = 0.25  # seconds: between reports, the histograms are refreshed this often
Sample = tuple[list[str], Any]  # label values, the figure's value

PER_PROFILE = tuple(f for f in FIGURES if f.metric.per_sender)
WAIT = next(f for f in FIGURES if f.metric.type == HISTOGRAM and not f.metric.per_sender)
_SHOWN = frozenset({"mean_time", "failure_rate", "concurrency", "shape"})  # in the label
_DEFAULTS = SenderProfile(mean_time=1.0, failure_rate=0.0).model_dump(
    mode="json", by_alias=True, exclude_none=True
)


def names() -> set[str]:
    """Every metric name the endpoint exports, as a scrape shows it (``_total`` and all)."""
    found = {PREFIX + name for name in (SENDERS_BY_STATUS, SENDER_INFO, TIME_SCALE, THRESHOLD)}
    for figure in FIGURES:
        name = PREFIX + figure.metric.name
        if figure.metric.type == HISTOGRAM:
            found |= {name + suffix for suffix in ("_bucket", "_count", "_sum")}
        else:
            found.add(name + ("_total" if figure.metric.type == COUNTER else ""))
    return found


def _g(value: float) -> str:
    return f"{value:.6g}"


def profile_label(row: SenderRow) -> str:
    """The ``profile`` label of a sender: ``<mean>s-<failure %>%-x<slots>``, and a hash of
    the rest of its profile when that is not the default (a shape other than 10, caps,
    outages, a backoff...); ``unknown`` without a heartbeat."""
    if row.mean_time is None or row.failure_rate is None:
        return UNKNOWN_PROFILE
    label = f"{_g(row.mean_time)}s-{_g(row.failure_rate * 100)}%-x{row.concurrency}"
    rest = {k: v for k, v in row.profile.items() if k not in _SHOWN and _DEFAULTS.get(k) != v}
    if row.shape is not None and row.shape != DEFAULT_SHAPE:
        rest["shape"] = row.shape
    if rest:
        digest = hashlib.sha256(json.dumps(rest, sort_keys=True, default=str).encode())
        label += "-" + digest.hexdigest()[:6]
    return label


@dataclass(frozen=True)
class Bounds:
    """The histograms' bucket bounds, fixed at the first report that knows a configured
    mean time (Prometheus needs the same buckets for the life of a series). ``attempt``
    in simulated seconds; ``wait`` in the real seconds the monitor keeps, shown times
    ``scale``."""

    attempt: tuple[float, ...]
    wait: tuple[float, ...]
    scale: float = 1.0

    @classmethod
    def around(
        cls, means: Iterable[float | None], scale: float = 1.0, timeouts: Iterable[float] = ()
    ) -> Bounds:
        known = list(means)
        return cls(attempt_bounds(known, timeouts), wait_bounds(known, scale), scale)

    @classmethod
    def of_fleet(cls, rows: Iterable[SenderRow], scale: float) -> Bounds:
        rows = list(rows)
        timeouts = [
            float(row.profile.get("timeout", 0.0))
            for row in rows
            if row.profile.get("outages") or row.profile.get("mtbf")
        ]
        return cls.around([row.mean_time for row in rows], scale, timeouts)

    def of(self, figure: Figure) -> tuple[tuple[float, ...], float]:
        """The bounds a histogram is counted into, and the factor to what it shows: an
        attempt's time is one sender's (simulated already); any other distribution is
        the run's queue wait (real seconds, shown simulated)."""
        return (self.attempt, 1.0) if figure.metric.per_sender else (self.wait, self.scale)


@dataclass
class Seen:
    """What the per-profile figures read of one sender, or of one profile's senders
    together (the names are ``SenderRow``'s)."""

    sent: int = 0
    failed: int = 0
    attempts: int = 0
    duplicates: int = 0
    attempt_times: LogHistogram = field(default_factory=LogHistogram)

    def add(self, other: Any, histograms: bool = True) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.attempts += other.attempts
        self.duplicates += other.duplicates
        if histograms:
            self.attempt_times.merge(other.attempt_times)


def by_profile(
    seen: Iterable[tuple[str, Any]], profiles: Mapping[str, str], histograms: bool = True
) -> dict[str, Seen]:
    """Each profile's senders added up: ``seen`` (sender name, its row or stats), the
    senders ``profiles`` does not name left out."""
    found: dict[str, Seen] = {}
    for name, one in seen:
        label = profiles.get(name)
        if label is not None:
            found.setdefault(label, Seen()).add(one, histograms)
    return found


def families(
    rep: Report, bounds: Bounds | None, profiles: Mapping[str, str] | None = None
) -> list[Metric]:
    """Every metric of one report; the histograms without samples while ``bounds`` is
    None (no bucket bounds chosen yet). ``profiles``: each sender's profile label
    (default: ``profile_label`` of its row)."""
    if profiles is None:
        profiles = {row.name: profile_label(row) for row in rep.senders}
    grouped = by_profile(((row.name, row) for row in rep.senders), profiles)
    found = [
        profile_family(figure, rep.run, grouped, bounds)
        if figure.metric.per_sender
        else _family(figure, rep, bounds)
        for figure in FIGURES
    ]
    extra = [_by_status(rep, profiles), _info(rep, profiles), _scale(rep), _thresholds(rep)]
    return [*found, *extra]


def _by_status(rep: Report, profiles: Mapping[str, str]) -> Metric:
    family = GaugeMetricFamily(
        PREFIX + SENDERS_BY_STATUS,
        "Senders by profile and status (" + ", ".join(STATUSES) + ")",
        labels=[RUN, PROFILE, STATUS],
    )
    counts: dict[str, dict[str, int]] = {}
    for row in rep.senders:
        label = profiles.get(row.name, UNKNOWN_PROFILE)
        by_status = counts.setdefault(label, dict.fromkeys(STATUSES, 0))
        by_status[row.status] = by_status.get(row.status, 0) + 1
    for label, by_status in sorted(counts.items()):
        for status, n in by_status.items():
            family.add_metric([rep.run, label, status], n)
    return family


def _info(rep: Report, profiles: Mapping[str, str]) -> Metric:
    family = GaugeMetricFamily(
        PREFIX + SENDER_INFO,
        "Each sender (value 1): its profile, configured mean time (simulated s), failure "
        "rate and slots",
        labels=[RUN, SENDER, PROFILE, "mean_time", "failure_rate", "slots"],
    )
    for row in rep.senders:
        configured = [
            "" if row.mean_time is None else _g(row.mean_time),
            "" if row.failure_rate is None else _g(row.failure_rate),
            str(row.concurrency),
        ]
        label = profiles.get(row.name, UNKNOWN_PROFILE)
        family.add_metric([rep.run, row.name, label, *configured], 1)
    return family


def _scale(rep: Report) -> Metric:
    family = GaugeMetricFamily(
        PREFIX + TIME_SCALE,
        "Simulated seconds per real second: a counter's rate() over this is per simulated second",
        labels=[RUN],
    )
    family.add_metric([rep.run], rep.scale)
    return family


def _thresholds(rep: Report) -> Metric:
    """Each threshold of the run, once judged (the final report of a complete run)."""
    family = GaugeMetricFamily(
        PREFIX + THRESHOLD,
        "A threshold of the run (figure and condition), judged at its end: 1 passed, 0 failed",
        labels=[RUN, "threshold"],
    )
    for verdict in rep.thresholds:
        if verdict.passed is not None:
            family.add_metric([rep.run, str(verdict.threshold)], 1 if verdict.passed else 0)
    return family


def _help(figure: Figure) -> str:
    more = figure.metric.help
    return figure.label.text + (f": {more}" if more else "")


def profile_family(
    figure: Figure, run: str, grouped: Mapping[str, Seen], bounds: Bounds | None
) -> Metric:
    """A per-profile figure: one series per profile."""
    name, labels = PREFIX + figure.metric.name, [RUN, PROFILE]
    source = figure.metric.source or figure.key
    samples = [([run, label], getattr(seen, source)) for label, seen in sorted(grouped.items())]
    if figure.metric.type == HISTOGRAM:
        return _histogram(figure, name, labels, samples, bounds)
    family = CounterMetricFamily(name, _help(figure) + BY_PROFILE, labels=labels)
    for values, value in samples:
        family.add_metric(values, float(value))
    return family


def _histogram(
    figure: Figure, name: str, labels: list[str], samples: list[Sample], bounds: Bounds | None
) -> Metric:
    more = BY_PROFILE if PROFILE in labels else ""
    hist = HistogramMetricFamily(name, _help(figure) + more + " (simulated s)", labels=labels)
    if bounds is not None:
        counted, factor = bounds.of(figure)
        for values, seen in samples:
            hist.add_metric(values, *_buckets(seen, counted, factor))
    return hist


def _family(figure: Figure, rep: Report, bounds: Bounds | None) -> Metric:
    name, labels = PREFIX + figure.metric.name, [RUN]
    value = getattr(rep, figure.metric.source or figure.key)
    if figure.metric.type == HISTOGRAM:
        return _histogram(figure, name, labels, [([rep.run], value)], bounds)
    if figure.kind is Kind.PERCENTILES:
        return _quantiles(name, figure, labels, [([rep.run], value)])
    kind: Callable[..., CounterMetricFamily | GaugeMetricFamily]
    kind = CounterMetricFamily if figure.metric.type == COUNTER else GaugeMetricFamily
    family = kind(name, _help(figure), labels=labels)
    if value is not None:
        family.add_metric([rep.run], _number(figure, value))
    return family


def _number(figure: Figure, value: Any) -> float:
    if figure.kind is Kind.STATE:
        return 1.0 if value in (COMPLETE, "yes") else 0.0
    return float(value)


def _quantiles(name: str, figure: Figure, labels: list[str], samples: list[Sample]) -> Metric:
    family = GaugeMetricFamily(name, _help(figure), labels=[*labels, PERCENTILE])
    for values, found in samples:
        if isinstance(found, Percentiles):
            for q, value in zip(QUANTILES, found.values(SHORT), strict=True):  # p50/p95/p99
                family.add_metric([*values, str(q)], value)
    return family


def _buckets(
    hist: LogHistogram, bounds: tuple[float, ...], factor: float
) -> tuple[list[tuple[str, float]], float]:
    counts = cumulative(hist, bounds)
    buckets = [(_le(b * factor), float(n)) for b, n in zip(bounds, counts, strict=True)]
    return [*buckets, ("+Inf", float(hist.count))], hist.total * factor


def _le(bound: float) -> str:
    """A bound as prometheus_client writes one (``0.25``, ``4.0``)."""
    return str(floatToGoString(bound))  # type: ignore[no-untyped-call]


class MetricsExporter:
    """A view that keeps the latest metrics for the endpoint to serve: every family at
    each report, the per-profile counters (and histograms) at each ``tally``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(self)
        self._families: dict[str, Metric] = {}  # replaced whole: a scrape reads one
        self._bounds: Bounds | None = None
        self._profiles: dict[str, str] = {}  # sender -> profile label, kept once given
        self._run: str | None = None
        self._histograms_at = -math.inf  # monotonic time of the last histograms
        self._server: tuple[WSGIServer, Thread] | None = None

    def collect(self) -> Iterable[Metric]:
        return list(self._families.values())

    def update(self, rep: Report) -> None:
        for row in rep.senders:  # a sender keeps its first label: its series never shrink
            self._profiles.setdefault(row.name, profile_label(row))
        self._run = rep.run
        self._publish(families(rep, self._bounds_for(rep), self._profiles))
        self._histograms_at = time.monotonic()

    def finish(self, rep: Report) -> None:
        self.update(rep)

    def tally(self, parts: Sequence[Stats]) -> None:
        """The per-profile counters from the monitor's running totals (``parts``: each
        partition's), the histograms too when they are ``HISTOGRAMS_EVERY`` s old. Senders
        no report has shown yet wait for one (it gives their profile)."""
        if self._run is None:
            return
        now = time.monotonic()
        histograms = self._bounds is not None and now - self._histograms_at >= HISTOGRAMS_EVERY
        seen = (
            (name, Seen(s.sent, s.failed, s.attempts, s.duplicates, s.durations))
            for part in parts
            for name, s in part.senders.items()
        )
        grouped = by_profile(seen, self._profiles, histograms)
        for label in set(self._profiles.values()):  # one with no results yet keeps its 0
            grouped.setdefault(label, Seen())
        found = [
            profile_family(figure, self._run, grouped, self._bounds)
            for figure in PER_PROFILE
            if histograms or figure.metric.type != HISTOGRAM
        ]
        if histograms:
            found += [self._wait(self._run, parts)]
            self._histograms_at = now
        self._publish(found)

    def _wait(self, run: str, parts: Sequence[Stats]) -> Metric:
        """The run's queue-wait histogram from the running totals."""
        figure = WAIT
        latency = parts[0].latency if len(parts) == 1 else LogHistogram()
        if len(parts) > 1:
            for part in parts:
                latency.merge(part.latency)
        name = PREFIX + figure.metric.name
        return _histogram(figure, name, [RUN], [([run], latency)], self._bounds)

    def _publish(self, found: list[Metric]) -> None:
        self._families = {**self._families, **{family.name: family for family in found}}

    def _bounds_for(self, rep: Report) -> Bounds | None:
        """Fixed at the first report that knows a sender's configured mean, or has
        counted an attempt (then from the means known, if any); None before."""
        if self._bounds is None:
            known = [row for row in rep.senders if row.mean_time is not None]
            if known or rep.attempts:
                self._bounds = Bounds.of_fleet(known, rep.scale)
        return self._bounds

    def text(self) -> str:
        """The exposition a scrape gets."""
        return generate_latest(self.registry).decode()

    def serve(self, port: int, addr: str = "0.0.0.0") -> int:
        """Serve ``/metrics`` on ``addr``:``port`` (port 0: any free one); return the
        port. A port in use, or an address not of this machine, is a UsageProblem: exit 2
        before the run starts."""
        try:
            self._server = start_http_server(port, addr, registry=self.registry)
        except OSError as exc:
            raise _refused(exc, port, addr) from None
        bound = int(self._server[0].server_port)
        logger.info("Prometheus metrics on http://%s:%d/metrics", _host(addr), bound)
        return bound

    def close(self) -> None:
        if self._server is None:
            return
        server, thread = self._server
        server.shutdown()
        server.server_close()
        thread.join()
        self._server = None


def _refused(exc: OSError, port: int, addr: str) -> UsageProblem:
    if exc.errno == errno.EADDRINUSE:
        return UsageProblem(f"metrics_port: port {port} is in use")
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return UsageProblem(f"metrics_addr: cannot listen on {addr}: {exc.strerror or exc}")
    return UsageProblem(f"metrics_port: port {port} cannot be used: {exc}")


def _host(addr: str) -> str:
    return f"[{addr}]" if ":" in addr else addr

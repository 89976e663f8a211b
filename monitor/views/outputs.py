"""What the monitor writes besides its view: the Prometheus endpoint (``--metrics-port``)
and the per-period CSV file (``--csv``). Both are opened before the run starts (a port in
use or a path that cannot be written ends the command with one line, exit 2) and fed
every report, like a view, by ``Tee``; the endpoint also each batch of results read
(``tally``), and it outlives the final report by ``--metrics-hold`` seconds (``linger``)
so that Prometheus scrapes the run's end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from common.settings import MonitorSettings
from common.stop import install_stop_handlers
from monitor.figures.report import Report
from monitor.tally.stats import Stats
from monitor.views.csvfile import PeriodCsv
from monitor.views.metrics import MetricsExporter
from monitor.views.view import View, close_view

logger = logging.getLogger(__name__)


@runtime_checkable
class Tallied(Protocol):
    """A view that takes the monitor's running totals as it reads them, between reports
    (``parts``: each partition's totals)."""

    def tally(self, parts: Sequence[Stats]) -> None: ...


@dataclass
class Outputs:
    metrics: MetricsExporter | None = None
    csv: PeriodCsv | None = None
    metrics_port: int | None = None  # the port serving /metrics
    hold: float = 0.0  # seconds /metrics stays up after the final report

    @property
    def views(self) -> list[View]:
        return [v for v in (self.metrics, self.csv) if v is not None]

    def around(self, view: View) -> View:
        """``view``, and every output fed the same reports."""
        extras = self.views
        return Tee(view, extras) if extras else view

    async def linger(self, rep: Report | None, stop: asyncio.Event | None = None) -> None:
        """After a run's final report, keep serving it ``hold`` seconds so that Prometheus
        scrapes the end (the run complete, its final counts). Not when no endpoint is open,
        nor when the run did not complete (stopped, never seen: the operator wants out).
        ``stop`` ends it at once; by default a signal (SIGINT, SIGTERM) from now on does."""
        if self.metrics is None or self.hold <= 0 or rep is None or not rep.complete:
            return
        if stop is None:
            stop = asyncio.Event()
            install_stop_handlers(stop, "/metrics")
        logger.info(
            "keeping /metrics up %gs for Prometheus to scrape the end (--metrics-hold; "
            "Ctrl-C ends it)",
            self.hold,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self.hold)


@dataclass
class Tee:
    """The monitor's view plus the outputs. Closing it closes the view only: the outputs
    belong to ``open_outputs``, which closes them after the monitor's last report."""

    view: View
    extras: list[View] = field(default_factory=list)

    def update(self, rep: Report) -> None:
        self.view.update(rep)
        for extra in self.extras:
            extra.update(rep)

    def finish(self, rep: Report) -> None:
        self.view.finish(rep)
        for extra in self.extras:
            extra.finish(rep)

    def tally(self, parts: Sequence[Stats]) -> None:
        for extra in self.extras:
            if isinstance(extra, Tallied):
                extra.tally(parts)

    def close(self) -> None:
        close_view(self.view)


@contextlib.contextmanager
def open_outputs(settings: MonitorSettings) -> Iterator[Outputs]:
    """The outputs ``settings`` ask for, open; closed on exit."""
    with contextlib.ExitStack() as stack:
        outputs = Outputs()
        if settings.metrics_port is not None:
            outputs.metrics = MetricsExporter()
            outputs.metrics_port = outputs.metrics.serve(
                settings.metrics_port, settings.metrics_addr
            )
            outputs.hold = settings.metrics_hold
            stack.callback(outputs.metrics.close)
        if settings.csv is not None:
            outputs.csv = PeriodCsv(settings.csv)
            stack.callback(outputs.csv.close)
        yield outputs

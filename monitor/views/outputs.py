"""What the monitor writes besides its view: the Prometheus endpoint (``--metrics-port``)
and the per-period CSV file (``--csv``). Both are opened before the run starts (a port in
use or a path that cannot be written ends the command with one line, exit 2) and fed
every report, like a view, by ``Tee``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from common.settings import MonitorSettings
from monitor.figures.report import Report
from monitor.views.csvfile import PeriodCsv
from monitor.views.metrics import MetricsExporter
from monitor.views.view import View, close_view


@dataclass
class Outputs:
    metrics: MetricsExporter | None = None
    csv: PeriodCsv | None = None
    metrics_port: int | None = None  # the port serving /metrics

    @property
    def views(self) -> list[View]:
        return [v for v in (self.metrics, self.csv) if v is not None]

    def around(self, view: View) -> View:
        """``view``, and every output fed the same reports."""
        extras = self.views
        return Tee(view, extras) if extras else view


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

    def close(self) -> None:
        close_view(self.view)


@contextlib.contextmanager
def open_outputs(settings: MonitorSettings) -> Iterator[Outputs]:
    """The outputs ``settings`` ask for, open; closed on exit."""
    with contextlib.ExitStack() as stack:
        outputs = Outputs()
        if settings.metrics_port is not None:
            outputs.metrics = MetricsExporter()
            outputs.metrics_port = outputs.metrics.serve(settings.metrics_port)
            stack.callback(outputs.metrics.close)
        if settings.csv is not None:
            outputs.csv = PeriodCsv(settings.csv)
            stack.callback(outputs.csv.close)
        yield outputs

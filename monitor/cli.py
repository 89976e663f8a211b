"""sms-monitor: follow a run, report every period, print the final summary."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import typer

from common.cli import (
    config_option,
    given,
    option,
    redis_option,
    run_async,
    run_cli,
    run_option,
    settings_or_exit,
    version_option,
)
from common.connection import client_for
from common.settings import MonitorSettings
from common.stop import install_stop_handlers
from monitor.figures.report import Report
from monitor.goals import exit_on_thresholds, threshold_option, with_thresholds
from monitor.monitor import Monitor
from monitor.views.json_summary import summary
from monitor.views.outputs import open_outputs
from monitor.views.view import make_view

logger = logging.getLogger(__name__)
PROG = "sms-monitor"
app = typer.Typer(add_completion=False, help="Watch a run and report its progress.")
M = MonitorSettings


@app.command()
def monitor(
    ctx: typer.Context,
    version: bool = version_option(),
    config: Path | None = config_option("report_period"),
    report_period: float = option(M, "report_period", "Seconds between reports."),
    run: str = run_option(),
    redis_url: str | None = redis_option(),
    json_output: bool = option(M, "json_output", "Print the final summary as JSON.", "--json"),
    plain: bool = option(M, "plain", "One key=value line per report."),
    report: Path | None = option(M, "report", "Write an HTML report here at the end."),
    keep_results: bool = option(M, "keep_results", "Keep the results stream (no trimming)."),
    metrics_port: int | None = option(M, "metrics_port", "Serve Prometheus /metrics here."),
    metrics_addr: str = option(M, "metrics_addr", "Address /metrics listens on."),
    metrics_hold: float = option(
        M, "metrics_hold", "Seconds /metrics stays up after the final report (Ctrl-C ends it)."
    ),
    csv: Path | None = option(
        M, "csv", "Write one CSV row per report period here (with -senders and -failures files)."
    ),
    threshold: list[str] | None = threshold_option(),
) -> None:
    """Report sent, failed attempts, timings and per-sender figures until the run completes."""
    flags = given(ctx)
    settings = with_thresholds(PROG, settings_or_exit(PROG, MonitorSettings, flags), threshold)
    rep = run_async(PROG, _main(settings))
    if rep is not None and settings.json_output:
        print(json.dumps(summary(rep)))
    exit_on_thresholds(PROG, rep)


async def _main(settings: MonitorSettings) -> Report | None:
    stop = asyncio.Event()
    install_stop_handlers(stop, PROG)
    target = settings.target
    with open_outputs(settings) as outputs:  # a port in use: exit 2 before the run
        view = outputs.around(make_view(settings.plain))
        async with client_for(target, "monitor", settings.run) as client:
            rep = await Monitor(client, settings, view, target).watch(stop)
        await outputs.linger(rep)  # Prometheus scrapes the end
        return rep


def main(argv: list[str] | None = None) -> None:
    run_cli(app, PROG, argv)

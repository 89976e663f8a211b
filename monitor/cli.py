"""sms-monitor: follow a run, report every period, print the final summary."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from common.cli import run_async, settings_or_exit
from common.connection import server_client
from common.settings import MonitorSettings
from common.stop import install_stop_handlers
from monitor.live import LiveView
from monitor.main import Monitor
from monitor.summary import Snapshot, summary
from monitor.views import PlainView, View

logger = logging.getLogger(__name__)
PROG = "sms-monitor"
app = typer.Typer(add_completion=False, help="Watch a run and report its progress.")


@app.command()
def monitor(
    config: Annotated[Path | None, typer.Option(help="YAML config (report_period).")] = None,
    report_period: Annotated[
        float | None, typer.Option(help="Seconds between reports [default: 2].")
    ] = None,
    run: Annotated[str | None, typer.Option(help="Run name [default: default].")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Redis URL [env: REDIS_URL].")] = None,
    json_output: Annotated[
        bool | None, typer.Option("--json", help="Print the final summary as JSON on stdout.")
    ] = None,
    plain: Annotated[bool | None, typer.Option(help="One key=value line per report.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    keep_results: Annotated[
        bool | None, typer.Option(help="Keep the results stream (no trimming).")
    ] = None,
) -> None:
    """Report sent, failed attempts, timings and per-sender figures until the run completes."""
    flags = {
        "config": config,
        "report_period": report_period,
        "run": run,
        "redis_url": redis_url,
        "json_output": json_output,
        "plain": plain,
        "report": report,
        "keep_results": keep_results,
    }
    settings = settings_or_exit(PROG, MonitorSettings, flags)
    snap = run_async(PROG, _main(settings))
    if snap is not None and settings.json_output:
        print(json.dumps(summary(snap)))


def make_view(plain: bool, *, tty: bool | None = None) -> View:
    """The live dashboard when stderr is a terminal; plain key=value lines otherwise
    (docker logs, pipes, CI) or with --plain. ``tty`` overrides the detection."""
    if tty is None:
        tty = sys.stderr.isatty()
    return PlainView() if plain or not tty else LiveView()


async def _main(settings: MonitorSettings) -> Snapshot | None:
    stop = asyncio.Event()
    install_stop_handlers(stop, PROG)
    async with server_client(settings.server_url) as client:
        return await Monitor(client, settings, make_view(settings.plain)).watch(stop)


def main() -> None:
    app(prog_name=PROG)

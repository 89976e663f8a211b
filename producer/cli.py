"""sms-producer: enqueue a run's messages."""

from __future__ import annotations

import asyncio
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
from common.settings import ProducerSettings
from common.stop import install_stop_handlers
from producer.main import produce

logger = logging.getLogger(__name__)
PROG = "sms-producer"
app = typer.Typer(add_completion=False, help="Enqueue N SMS messages for a run.")
P = ProducerSettings


@app.command()
def producer(
    ctx: typer.Context,
    version: bool = version_option(),
    config: Path | None = config_option("num_messages"),
    count: int = option(P, "count", "Messages to enqueue."),
    run: str = run_option(),
    redis_url: str | None = redis_option(),
    seed: int | None = option(P, "seed", "Seed for reproducible content."),
    max_backlog: int = option(P, "max_backlog", "Most undelivered messages enqueued; 0 = no cap."),
    time_scale: float = option(P, "time_scale", "Simulated seconds per real second (run-wide)."),
    partitions: int = option(P, "partitions", "Partitions of the run (for a Redis Cluster)."),
) -> None:
    """Enqueue the run's messages in atomic batches; resume a run that stopped midway."""
    settings = settings_or_exit(PROG, ProducerSettings, given(ctx))
    produced = run_async(PROG, _main(settings))
    if produced < settings.count:
        logger.info(
            "stopped at %d / %d; run sms-producer again to resume", produced, settings.count
        )


async def _main(settings: ProducerSettings) -> int:
    stop = asyncio.Event()
    install_stop_handlers(stop, PROG)
    target = settings.target
    async with client_for(target, "producer", settings.run) as client:
        logger.info(
            "producing %d messages for run %r on %s", settings.count, settings.run, target.display
        )
        return await produce(client, settings, stop)


def main(argv: list[str] | None = None) -> None:
    run_cli(app, PROG, argv)

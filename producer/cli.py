"""sms-producer: enqueue a run's messages."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from common.cli import run_async, settings_or_exit
from common.connection import mask_url, server_client
from common.settings import ProducerSettings
from common.stop import install_stop_handlers
from producer.main import produce

logger = logging.getLogger(__name__)
PROG = "sms-producer"
app = typer.Typer(add_completion=False, help="Enqueue N SMS messages for a run.")


@app.command()
def producer(
    config: Annotated[Path | None, typer.Option(help="YAML config (num_messages).")] = None,
    count: Annotated[int | None, typer.Option(help="Messages to enqueue [default: 1000].")] = None,
    run: Annotated[str | None, typer.Option(help="Run name [default: default].")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Redis URL [env: REDIS_URL].")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible content.")] = None,
    max_backlog: Annotated[
        int | None, typer.Option(help="Most undelivered messages in the outbox; 0 = no cap.")
    ] = None,
) -> None:
    """Enqueue the run's messages in atomic batches; resume a run that stopped midway."""
    flags = {
        "config": config,
        "count": count,
        "run": run,
        "redis_url": redis_url,
        "seed": seed,
        "max_backlog": max_backlog,
    }
    settings = settings_or_exit(PROG, ProducerSettings, flags)
    produced = run_async(PROG, _main(settings))
    if produced < settings.count:
        logger.info(
            "stopped at %d / %d; run sms-producer again to resume", produced, settings.count
        )


async def _main(settings: ProducerSettings) -> int:
    stop = asyncio.Event()
    install_stop_handlers(stop, PROG)
    async with server_client(settings.server_url) as client:
        logger.info(
            "producing %d messages for run %r on %s",
            settings.count,
            settings.run,
            mask_url(settings.server_url),
        )
        return await produce(client, settings, stop)


def main() -> None:
    app(prog_name=PROG)
